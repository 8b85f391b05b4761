#ifndef FIC_CLI_H
#define FIC_CLI_H
#include "flashinfer_c.h"
/* Verbs. Each returns the process exit code. */
int fic_cli_selftest(const fic_config *base, int argc, char **argv);
/* Print "flashinfer-c: <what>: <status>: <message>" for the last error. */
int fic_cli_report(const char *what, fic_status st);
/* A progress bar on stderr for downloads. */
int fic_cli_progress(void *user, const char *what, uint64_t done, uint64_t total);
#endif
