/* SPDX-License-Identifier: Apache-2.0 */
/* Whether a CUDA graph captured from one plan's run may be replayed after a
 * re-plan with new sequence lengths (fic_attention_plan_graph_compatible).
 *
 * What the captured launch keeps: the plan's Array, decoded on the host by
 * the run (DecodePlanInfo / PrefillPlanInfo, include/flashinfer/attention/
 * scheduler.cuh): padded batch size, split_kv, cta_tile_q, and the offsets
 * of the schedule's arrays in the int and float workspaces; and the tensors
 * passed to the run. What it reads when replayed: the schedule in the int
 * workspace, which the newest plan wrote. With enable_cuda_graph,
 * DecodePlan pads to max_grid_size / num_kv_heads (split kv) or batch_size
 * and PrefillPlan always splits kv, pads to max(2 * SMs / num_kv_heads,
 * tiles of total_num_rows) and picks cta_tile_q from total_num_rows and the
 * batch size: the Array then depends only on the shape class, not on the
 * lengths. Comparing the Arrays themselves checks exactly that. */
#include <string.h>

#include "kernels/attention.h"
#include "kernels/validate.h"

#define INFO_CAP 32 /* plans hold 10 (decode) or 15 (prefill) integers */

static fic_status read_info(const fic_attention_plan *pl, int64_t *out, size_t *n) {
  fic_result r;
  memset(&r, 0, sizeof r);
  r.kind = pl->info.type_index;
  r.v.obj = pl->info.v.v_obj;
  return fic_result_array_i64(&r, out, INFO_CAP, n);
}

static fic_status differs(const char *what, long long was, long long now) {
  return fic__fail_arg("current",
                       "current cannot replay the graph captured from `captured`'s run: %s is %lld, was %lld; plan "
                       "with the captured shape (same workspace, batch size, total_num_rows, heads, head dims, page "
                       "size, flags and enable_cuda_graph = 1) or capture again",
                       what, now, was);
}

static fic_status same_ints(const fic_attention_plan *a, const fic_attention_plan *b) {
  const struct {
    const char *name;
    int64_t x, y;
  } f[] = {{"kind", a->kind, b->kind},
           {"batch_size", a->batch, b->batch},
           {"num_qo_heads", a->qo_heads, b->qo_heads},
           {"num_kv_heads", a->kv_heads, b->kv_heads},
           {"head_dim_qk", a->head_dim_qk, b->head_dim_qk},
           {"head_dim_vo", a->head_dim_vo, b->head_dim_vo},
           {"page_size", a->page_size, b->page_size},
           {"kv_layout", a->kv_layout, b->kv_layout},
           {"window_left", a->window_left, b->window_left},
           {"causal", a->causal, b->causal},
           {"total_num_rows", a->total_rows, b->total_rows}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (f[i].x != f[i].y) return differs(f[i].name, (long long)f[i].x, (long long)f[i].y);
  if (a->soft_cap != b->soft_cap)
    return fic__fail_arg("current", "current's logits_soft_cap is %g, the captured plan's %g", b->soft_cap,
                         a->soft_cap);
  if (!fic__dtype_eq(a->q_dtype, b->q_dtype) || !fic__dtype_eq(a->kv_dtype, b->kv_dtype) ||
      !fic__dtype_eq(a->o_dtype, b->o_dtype))
    return fic__fail_arg("current", "current's q/kv/o dtypes differ from the captured plan's");
  if (strcmp(a->module, b->module) != 0)
    return fic__fail_arg("current", "current uses module %s, the captured plan %s", b->module, a->module);
  return FIC_OK;
}

static fic_status same_info(const fic_attention_plan *a, const fic_attention_plan *b) {
  int64_t x[INFO_CAP], y[INFO_CAP];
  size_t nx = 0, ny = 0;
  FIC_CHECK(read_info(a, x, &nx));
  FIC_CHECK(read_info(b, y, &ny));
  if (nx != ny) return differs("the plan Array's length", (long long)nx, (long long)ny);
  for (size_t i = 0; i < nx; i++)
    if (x[i] != y[i])
      return fic__fail_arg("current",
                           "current's schedule layout differs from the captured plan's (plan Array element %zu is "
                           "%lld, was %lld): FlashInfer chose another padded batch size, tile or split for these "
                           "lengths; capture again",
                           i, (long long)y[i], (long long)x[i]);
  return FIC_OK;
}

fic_status fic_attention_plan_graph_compatible(const fic_attention_plan *captured, const fic_attention_plan *current) {
  if (!captured) return fic__fail_arg("captured", "captured must not be NULL");
  if (!current) return fic__fail_arg("current", "current must not be NULL");
  if (current->ws != captured->ws)
    return fic__fail_arg("current", "current was planned on another workspace than the captured plan");
  uint64_t now = atomic_load_explicit(&current->ws->generation, memory_order_acquire);
  if (now != current->generation)
    return fic__fail_arg("current",
                         "current was superseded by a later plan on its workspace: the int workspace "
                         "holds that plan's schedule");
  if (!captured->cuda_graph || !current->cuda_graph)
    return fic__fail_arg(captured->cuda_graph ? "current" : "captured",
                         "%s was planned with enable_cuda_graph = 0: its schedule layout depends on the lengths",
                         captured->cuda_graph ? "current" : "captured");
  FIC_CHECK(same_ints(captured, current));
  return same_info(captured, current);
}
