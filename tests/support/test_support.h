/* SPDX-License-Identifier: Apache-2.0 */
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

/* Honest counts. CTest reports a binary that exits 0 as Passed even when
 * every case skipped; fic_add_test sets SKIP_RETURN_CODE 77, and these two
 * wrappers make a binary whose every case skipped exit 77. Every test file
 * includes this header, so cmocka's skip() and cmocka_run_group_tests() are
 * redefined here, once, rather than in each file. */
void fic_test_note_skip(void);
int fic_test_run_group(const char *name, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
                       CMFixtureFunction teardown);
#undef skip
#define skip() (fic_test_note_skip(), _skip(__FILE__, __LINE__))
#undef cmocka_run_group_tests
#define cmocka_run_group_tests(group, setup, teardown) \
  fic_test_run_group(#group, (group), sizeof(group) / sizeof((group)[0]), (setup), (teardown))

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
