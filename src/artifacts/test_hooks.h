/* SPDX-License-Identifier: Apache-2.0 */
/* Test-only hooks of the artifact layer. They exist only in builds with
 * FIC_TEST_HOOKS defined (the flashinfer-c-testhooks library the tests link);
 * in the shipped library every hook is a constant and no FIC_TEST_HOOK_*
 * name is compiled in (a CTest check greps the shared library for them). */
#ifndef FIC_ARTIFACTS_TEST_HOOKS_H
#define FIC_ARTIFACTS_TEST_HOOKS_H

#include <stdint.h>

#ifdef FIC_TEST_HOOKS
/* FIC_TEST_HOOK_EXTRACT_SLEEP_MS: sleep that long after each extracted member
 * (to widen race windows / let a test kill us mid-extraction). */
long fic__test_hook_extract_sleep_ms(void);
/* FIC_TEST_HOOK_LOCATED_SLEEP_MS: sleep that long after the wheels were
 * located and identified, before extraction opens them (wheel-swap tests). */
long fic__test_hook_located_sleep_ms(void);
/* FIC_TEST_HOOK_WRITE_ERRNO: fail the first extraction write with that errno. */
int fic__test_hook_write_errno(void);
/* FIC_TEST_HOOK_EXTRACT_LOG: append "<pid>\n" to that file each time an
 * extraction starts (under the lock). */
void fic__test_hook_log_extraction(void);
/* Extractions (of an entry or of one module) this process started. */
uint64_t fic__test_extraction_count(void);
/* Count of full wheel hashes this process computed (wheel-id memo misses).
 * For tests: a warm start must not change it. */
void fic__test_count_wheel_hash(void);
uint64_t fic__test_wheel_hash_count(void);
#else
#define fic__test_hook_extract_sleep_ms() 0L
#define fic__test_hook_located_sleep_ms() 0L
#define fic__test_hook_write_errno() 0
#define fic__test_hook_log_extraction() ((void)0)
#define fic__test_count_wheel_hash() ((void)0)
#endif

#endif
