/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers of the libFuzzer harnesses (tests/fuzz). Every harness
 * works in one private scratch directory (on /dev/shm when writable, so the
 * library's fsyncs cost nothing) and aborts with a message when an oracle
 * fails, which libFuzzer reports as a crash and saves the input. */
#ifndef FIC_FUZZ_COMMON_H
#define FIC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "flashinfer_c.h"

/* The harness's scratch directory (created on first use, removed at exit). */
const char *fz_tmpdir(void);
/* <fz_tmpdir()>/<name> in a static rotating buffer (8 slots). */
const char *fz_path(const char *name);
/* Write `size` bytes to `path` (truncating); aborts on failure. */
void fz_write_file(const char *path, const void *data, size_t size);
/* Read a whole file (malloc'ed, NUL-terminated); NULL if missing. */
char *fz_read_file(const char *path, size_t *size);
/* rm -rf without following symlinks; missing is fine. */
void fz_rmtree(const char *path);
/* mkdir -p; aborts on failure. */
void fz_mkdirs(const char *path);
/* Number of directory entries (not . or ..) of `dir`, -1 if it cannot be opened. */
int fz_count_entries(const char *dir);
/* Unset every FLASHINFER_C_*, FLASHINFER_RS_*, FIC_TEST_HOOK_* and PIP_* variable. */
void fz_clean_env(void);
/* Is `s` (len bytes) 64 lowercase hex digits? */
int fz_is_hex64(const char *s, size_t len);

/* Is finding `id` listed in $FIC_FUZZ_KNOWN (comma-separated)? Long
 * campaigns set it to keep fuzzing past bugs already reported (see
 * docs/reliability.md); CTest runs leave it unset: every oracle is strict. */
int fz_known(const char *id);

/* An oracle failed: print and abort (libFuzzer saves the input). */
void fz_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
#define FZ_CHECK(cond, ...)                                \
  do {                                                     \
    if (!(cond)) fz_fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

/* A status any parser may return for bad input; anything else (INTERNAL,
 * CACHE_CORRUPT from a fresh cache, ...) is a finding. */
int fz_status_in(fic_status s, const fic_status *allowed, size_t n);

#endif
