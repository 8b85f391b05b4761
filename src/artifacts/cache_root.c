/* SPDX-License-Identifier: Apache-2.0 */
/* Where the cache lives: fic_config.cache_dir, FLASHINFER_C_CACHE_DIR,
 * $XDG_CACHE_HOME/flashinfer-c or ~/.cache/flashinfer-c. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "artifacts/internal.h"
#include "common/env.h"
#include "common/error.h"

static fic_status set_root(char *out, size_t size, const char *dir, const char *suffix) {
  char cwd[FIC_PATH_MAX];
  fic_status s;
  if (dir[0] == '/') {
    s = fic__pathf(out, size, "%s%s", dir, suffix);
  } else {
    if (!getcwd(cwd, sizeof cwd)) return fic__fail_errno("getcwd for relative cache directory", dir);
    s = fic__pathf(out, size, "%s/%s%s", cwd, dir, suffix);
  }
  if (s != FIC_OK) return fic__fail(s, "cache directory path too long: %s%s", dir, suffix);
  size_t n = strlen(out);
  while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
  return FIC_OK;
}

fic_status fic__cache_root(const char *explicit_dir, char *out, size_t size) {
  if (!out || !size) return fic__fail_arg("out", "no output buffer for the cache root");
  if (explicit_dir && *explicit_dir) return set_root(out, size, explicit_dir, "");
  const char *v = fic__env2("FLASHINFER_C_CACHE_DIR", "FLASHINFER_RS_CACHE_DIR", NULL);
  if (v) return set_root(out, size, v, "");
  v = fic__env("XDG_CACHE_HOME");
  /* The XDG spec says a relative value is invalid and must be ignored. */
  if (v && v[0] == '/') return set_root(out, size, v, "/flashinfer-c");
  v = fic__env("HOME");
  if (v) return set_root(out, size, v, "/.cache/flashinfer-c");
  return fic__fail(FIC_ERR_NOT_FOUND,
                   "cannot determine the cache directory: set fic_config.cache_dir, FLASHINFER_C_CACHE_DIR, "
                   "XDG_CACHE_HOME (absolute) or HOME");
}
