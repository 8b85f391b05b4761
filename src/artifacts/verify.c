/* Deep verification of a cache entry: re-hash every file against COMPLETE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifacts/artifacts.h"
#include "artifacts/internal.h"
#include "artifacts/marker.h"
#include "common/error.h"

fic_status fic__artifacts_verify(const fic_artifacts *a) {
  if (!a || !a->artifact_dir[0]) return fic__fail_arg("artifacts", "no prepared artifacts to verify");
  fic_marker *m = malloc(sizeof *m);
  if (!m) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory verifying %s", a->artifact_dir);
  char why[512] = "";
  int err = fic__marker_read(a->artifact_dir, m, why, sizeof why);
  fic_status s = FIC_OK;
  if (err == ENOENT || err == EBADMSG) {
    s = fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: %s", a->artifact_dir,
                  err == ENOENT ? "no " FIC_MARKER_NAME " marker" : why);
  } else if (err) {
    errno = err;
    s = fic__fail_errno("cannot read the marker of", a->artifact_dir);
  }
  for (size_t i = 0; s == FIC_OK && i < m->num_files; i++) {
    const fic_marker_file *f = &m->files[i];
    char path[FIC_PATH_MAX], hex[65];
    struct stat st;
    s = fic__pathf(path, sizeof path, "%s/%s", a->artifact_dir, f->relpath);
    if (s != FIC_OK) break;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
      s = fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: %s is missing or not a regular file", a->artifact_dir,
                    f->relpath);
      break;
    }
    if ((uint64_t)st.st_size != f->size) {
      s = fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: %s has %lld bytes, the marker says %llu", a->artifact_dir,
                    f->relpath, (long long)st.st_size, (unsigned long long)f->size);
      break;
    }
    s = fic__sha256_file(path, hex);
    if (s != FIC_OK) break;
    if (strcmp(hex, f->sha256) != 0)
      s = fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: %s has SHA-256 %s, the marker says %s", a->artifact_dir,
                    f->relpath, hex, f->sha256);
  }
  /* Everything the caller will load must be covered by the marker. */
  for (size_t i = 0; s == FIC_OK && i <= a->num_modules; i++) {
    const char *p = i == 0 ? a->libtvm_ffi : a->module_paths[i - 1];
    size_t dl = strlen(a->artifact_dir);
    if (!p[0]) continue;
    if (strncmp(p, a->artifact_dir, dl) != 0 || p[dl] != '/' || !fic__marker_find(m, p + dl + 1))
      s = fic__fail(FIC_ERR_CACHE_CORRUPT, "%s is not covered by the marker of %s", p, a->artifact_dir);
  }
  free(m);
  return s;
}
