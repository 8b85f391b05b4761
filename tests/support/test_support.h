/* Shared helpers for the cmocka tests. */
#ifndef FIC_TEST_SUPPORT_H
#define FIC_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

#include "flashinfer_c.h"

/* An environment variable the test harness sets; fails the test if unset. */
const char *fic_test_env(const char *name);
/* A fresh empty directory under $TMPDIR (removed by fic_test_rmtree). */
char *fic_test_mkdtemp(const char *tag);
/* Unset every FLASHINFER_C_*, FLASHINFER_RS_* and FIC_TEST_HOOK_* variable,
 * so a test starts from the defaults whatever the caller's environment. */
void fic_test_clean_env(void);
/* rm -rf. */
void fic_test_rmtree(const char *path);
/* Run a shell command; returns its exit status. */
int fic_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Assert a status with the error message in the failure output. */
#define FIC_ASSERT_OK(expr)                                                                                     \
  do {                                                                                                          \
    fic_status fic_s_ = (expr);                                                                                 \
    if (fic_s_ != FIC_OK) fail_msg("%s -> %s: %s", #expr, fic_status_string(fic_s_), fic_last_error_message()); \
  } while (0)
#define FIC_ASSERT_STATUS(expr, want)                                                               \
  do {                                                                                              \
    fic_status fic_s_ = (expr);                                                                     \
    if (fic_s_ != (want))                                                                           \
      fail_msg("%s -> %s (want %s): %s", #expr, fic_status_string(fic_s_), fic_status_string(want), \
               fic_last_error_message());                                                           \
  } while (0)

#endif
