/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the artifact tests. */
#ifndef FIC_ART_SUPPORT_H
#define FIC_ART_SUPPORT_H

#include <stdint.h>

#include "artifacts/artifacts.h"
#include "test_support.h"

/* Unset every FLASHINFER_C_*, FLASHINFER_RS_* and FIC_TEST_HOOK_* variable
 * (so the developer's environment never leaks into a test). */
void art_clean_env(void);
/* A group's set-up and tear-down: a clean environment and a fresh temporary
 * cache root named after `name`; then a clean environment again and the root
 * removed, freed and set to NULL. */
char *art_root_new(const char *name);
void art_root_free(char **root);
/* A zeroed config with struct_size, cache_dir, wheels and modules set;
 * lock_timeout_s 120. modules may be NULL ({"fic_test"}). */
void art_cfg(fic_config *c, const char *root, const char *jit, const char *tvm, const char *const *modules);
/* The directory of crafted wheels (make_hostile.py), generated once per process. */
const char *art_wheels_dir(void);
/* <art_wheels_dir()>/<name> in a static rotating buffer. */
const char *art_wheel(const char *name);
/* Entries of `dir` (not . or ..) whose name starts with `prefix`. */
int art_count_prefix(const char *dir, const char *prefix);
/* Size of a file, -1 if missing. */
long long art_file_size(const char *path);
/* Copy a file (fails the test on error). */
void art_copy(const char *src, const char *dst);
/* Open file descriptors of this process. */
int art_count_fds(void);
/* Lines in a file (0 if missing). */
int art_count_lines(const char *path);
/* Assert that `hay` contains `needle`. */
#define ART_ASSERT_CONTAINS(hay, needle)                                                    \
  do {                                                                                      \
    const char *h_ = (hay), *n_ = (needle);                                                 \
    if (!h_ || !strstr(h_, n_)) fail_msg("expected \"%s\" in: %s", n_, h_ ? h_ : "(null)"); \
  } while (0)

#endif
