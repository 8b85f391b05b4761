/* SPDX-License-Identifier: Apache-2.0 */
/* What the tool says about paths and modules: where each prepared module is,
 * and, for a module the wheel lacks, how to get it and what that costs. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* The modules the kernels of `run` need, and what building one costs
 * (measured with tools/kernel-modules/build.sh). */
typedef struct cli_module_info {
  const char *module;
  const char *kernels;
  const char *build_cost;
} cli_module_info;

static const cli_module_info k_modules[] = {
    {"norm", "gemma_rmsnorm and the other norms", "about 20 s on 2 cores"},
    {"gdn_prefill_sm90", "gdn_prefill", "about 74 CPU-minutes: 5-6 min on 16 cores"},
};

void cli_print_paths(const fic_runtime *rt, int with_cudart) {
  static const struct {
    fic_path_kind kind;
    const char *name;
  } paths[] = {{FIC_PATH_CACHE_ROOT, "cache_root"},           {FIC_PATH_ARTIFACT_DIR, "artifact_dir"},
               {FIC_PATH_JIT_CACHE_WHEEL, "jit_cache_wheel"}, {FIC_PATH_TVMFFI_WHEEL, "tvmffi_wheel"},
               {FIC_PATH_LIBTVM_FFI, "libtvm_ffi"},           {FIC_PATH_LIBCUDART, "libcudart"}};
  size_t n = sizeof paths / sizeof paths[0] - (with_cudart ? 0 : 1);
  for (size_t i = 0; i < n; i++) {
    const char *p = NULL;
    fic_status s = fic_runtime_path(rt, paths[i].kind, &p);
    printf("  %-23s %s\n", paths[i].name, s != FIC_OK ? fic_last_error_message() : *p ? p : "(not needed)");
  }
}

int cli_has_module(const fic_runtime *rt, const char *module) {
  const char *p = NULL;
  fic_status before = fic_last_error_status();
  int has = fic_runtime_module_path(rt, module, &p) == FIC_OK;
  if (!has && before == FIC_OK) fic_clear_error();
  return has;
}

/* One line for a module `run` needs that could not be prepared: absent from
 * the wheel (FIC_ERR_NOT_FOUND), or the wheel itself unavailable (offline,
 * no route to its host, ...), with how to get it and what building it costs. */
static void print_missing(const cli_module_info *m, fic_status st) {
  if (st == FIC_ERR_NOT_FOUND)
    printf("  missing module %s (needed by %s): not in the jit-cache wheel; ", m->module, m->kernels);
  else
    printf("  missing module %s (needed by %s): the jit-cache wheel is not available (%s: %s); ", m->module, m->kernels,
           fic_status_name(st), fic_last_error_message());
  printf(
      "get it with the pinned wheel (`flashinfer-c fetch` online, FLASHINFER_C_JIT_CACHE_WHEEL unset) or build "
      "it with `tools/kernel-modules/build.sh --modules %s` (%s)\n",
      m->module, m->build_cost);
}

int cli_print_modules(const fic_runtime *rt, const fic_config *cfg) {
  const char *p = NULL;
  if (cfg->modules) { /* explicit: the runtime would not have opened without every one */
    for (const char *const *m = cfg->modules; *m; m++)
      if (fic_runtime_module_path(rt, *m, &p) == FIC_OK) printf("  module %-16s %s\n", *m, p);
    return 0;
  }
  int missing = 0, unavailable = 0;
  for (size_t i = 0; i < sizeof k_modules / sizeof k_modules[0]; i++) {
    fic_status before = fic_last_error_status();
    fic_status st = fic_runtime_module_path(rt, k_modules[i].module, &p);
    if (st == FIC_OK) {
      printf("  module %-16s %s\n", k_modules[i].module, p);
      continue;
    }
    print_missing(&k_modules[i], st);
    if (before == FIC_OK) fic_clear_error();
    missing++;
    unavailable |= st != FIC_ERR_NOT_FOUND;
  }
  return unavailable ? -1 : missing;
}
