/* SPDX-License-Identifier: Apache-2.0 */
/* Exports of the modules whose name has no parameters (page, cascade, ...):
 * the name comes from module_names.c's table, rendered only on the first
 * call per runtime; later calls are the slot's one acquire load. */
#include "kernels/kernels.h"
#include "kernels/module_names.h"

fic_status fic__fixed_kernel_function(fic_runtime *rt, int slot, int m, const char *name, void *stream,
                                      const struct fic_function **out) {
  const struct fic_function *fn = atomic_load_explicit(&rt->kernel_slots[slot], memory_order_acquire);
  if (fn) {
    *out = fn;
    return FIC_OK;
  }
  char module[FIC__MODULE_NAME_CAP];
  FIC_CHECK(fic__fixed_module_name((fic__fixed_module)m, module, sizeof module));
  return fic__kernel_function(rt, slot, module, name, stream, out);
}
