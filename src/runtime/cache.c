/* SPDX-License-Identifier: Apache-2.0 */
/* The cache and wheels without a runtime: verify, gc, list modules. None of
 * these loads a library, so a tampered file is found before anything runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/artifacts.h"
#include "common/error.h"
#include "runtime/runtime.h"

fic_status fic_wheel_modules(const char *wheel_path, fic_module_fn fn, void *user) {
  if (!wheel_path) return fic__fail_arg("wheel_path", "wheel_path is NULL");
  if (!fn) return fic__fail_arg("fn", "fn is NULL");
  return fic__wheel_list_modules(wheel_path, fn, user);
}

fic_status fic_cache_verify(const fic_config *config, char *artifact_dir, size_t size) {
  if (artifact_dir && size) artifact_dir[0] = '\0';
  fic_config cfg;
  FIC_CHECK(fic__config_copy(config, &cfg));
  fic_artifacts *art = calloc(1, sizeof *art);
  if (!art) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory verifying the cache");
  fic_status st = fic__artifacts_prepare(&cfg, art);
  if (st == FIC_OK && artifact_dir && size) snprintf(artifact_dir, size, "%s", art->artifact_dir);
  if (st == FIC_OK) st = fic__artifacts_verify(art);
  free(art);
  return st;
}

fic_status fic_cache_gc(const fic_config *config, int dry_run, uint64_t *freed, uint64_t *remaining) {
  fic_config cfg;
  FIC_CHECK(fic__config_copy(config, &cfg));
  cfg.offline = 1; /* identifying the entry in use never downloads */
  fic_artifacts *art = calloc(1, sizeof *art);
  if (!art) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory collecting the cache");
  int found = 0;
  fic_status st = fic__artifacts_lookup(&cfg, art, &found);
  if (st != FIC_OK)
    fic__fail_context("gc: cannot identify the cache entry the configuration uses (nothing was removed)");
  else
    st = fic__cache_gc(art->cache_root, found ? art->artifact_dir : NULL, dry_run, freed, remaining);
  free(art);
  return st;
}
