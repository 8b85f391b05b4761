/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the stress and fault-injection tests (tests/stress). */
#ifndef FIC_STRESS_SUPPORT_H
#define FIC_STRESS_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "test_support.h"

#define ST_TVM_REL "tvm_ffi/lib/libtvm_ffi.so"
#define ST_MOD_MEMBER "flashinfer_jit_cache/jit_cache/fic_test/fic_test.so" /* in the wheel */
#define ST_MOD_REL "modules/fic_test/fic_test.so"                           /* in the entry */

/* Unset FLASHINFER_C_*, FLASHINFER_RS_* and FIC_TEST_HOOK_* (no leakage
 * from the developer's environment). */
void st_clean_env(void);
/* fic_config_init + cache_dir, wheels, modules {"fic_test"}, offline, lock
 * timeout 60 s. NULL wheels mean the fixture wheels from the environment. */
void st_cfg(fic_config *c, const char *root, const char *jit, const char *tvm);
/* The fixture wheels. */
const char *st_jit_wheel(void);
const char *st_tvm_wheel(void);
/* Reference bytes of the two extracted members, unpacked once per process
 * by Python's zipfile (an implementation independent of ours):
 * <dir>/tvm_ffi/lib/libtvm_ffi.so and <dir>/flashinfer_jit_cache/... */
const char *st_ref_dir(void);
/* Remove what st_ref_dir() unpacked. */
void st_cleanup(void);
/* Unpack `member` of `wheel` to `dest` with Python's zipfile. */
void st_unzip_member(const char *wheel, const char *member, const char *dest);
/* Do two files have the same bytes? 0 when equal, else a reason in `why`. */
int st_cmp_files(const char *a, const char *b, char *why, size_t why_size);
/* Does entry `dir` hold libtvm_ffi.so and fic_test.so identical to the
 * references in `ref` (st_ref_dir() if NULL)? 0 if so, else a reason. */
int st_entry_matches(const char *dir, const char *ref, char *why, size_t why_size);
/* Names in `dir` (not . or ..) that are 64 lowercase hex digits. */
int st_count_entries(const char *dir);
/* Names in `dir` that start with `prefix`. */
int st_count_prefix(const char *dir, const char *prefix);
/* Files or directories anywhere under `dir` whose name contains ".tmp-". */
int st_count_tmp_recursive(const char *dir);
/* The one entry (64-hex directory) of `root` into `out`; 0 if not exactly one. */
int st_the_entry(const char *root, char *out, size_t size);
/* Wait for `pid` at most `timeout_s`; SIGKILL it past that. Returns the
 * exit code, 128+signal, or -1 when it had to be killed. */
int st_wait(pid_t pid, double timeout_s);
/* Monotonic seconds. */
double st_now(void);
/* A pid that is certainly dead (a reaped child). */
pid_t st_dead_pid(void);
/* Write a whole file (fails the test on error). */
void st_write(const char *path, const void *data, size_t len);
/* Run `fn(arg)` in a forked child, return st_wait(child, timeout_s). */
int st_in_child(int (*fn)(void *), void *arg, double timeout_s);
/* Is `hay` containing `needle`? Fails the test with both if not. */
#define ST_ASSERT_CONTAINS(hay, needle)                                                     \
  do {                                                                                      \
    const char *h_ = (hay), *n_ = (needle);                                                 \
    if (!h_ || !strstr(h_, n_)) fail_msg("expected \"%s\" in: %s", n_, h_ ? h_ : "(null)"); \
  } while (0)

#endif
