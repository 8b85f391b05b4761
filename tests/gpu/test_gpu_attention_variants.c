/* SPDX-License-Identifier: Apache-2.0 */
/* Batch decode and FA2 batch prefill over every variant module the
 * attention test wheel may hold (tools/kernel-modules / jit_on_device.py):
 * head dims 64 and 256, sliding window, logits soft cap, f16 q/kv, e4m3 KV
 * (q bf16), custom masks; against the float64 reference on fresh random
 * data (seed printed; rerun with FIC_TEST_SEED=<seed>), with the LSE
 * (base 2) every time. Batch 1 to 128, lengths 1 to 8192 (random, with a
 * couple of long sequences), GQA groups 1, 4, 7 (tensor-core decode), 8,
 * NHD and HND, page sizes 1 and 16 with partial last pages, paged and
 * ragged prefill; FA3 (forced) at head dims 64/256, with a window and with a
 * soft cap, and at DeepSeek's head_dim_qk 192 / head_dim_vo 128 (ragged
 * only: FlashInfer 0.6.3's FA3 paged run dispatches head_dim_qk ==
 * head_dim_vo only, BatchPrefillWithPagedKVCacheDispatched in
 * include/flashinfer/attention/hopper/prefill_sm90.cuh returns
 * cudaErrorNotSupported otherwise; its sparse mainloop static_asserts equal
 * dims and batch_prefill_sm90.cu checks K and V share page and token
 * strides). Each case is its own cmocka test, skipped (with the
 * module's name and what the wheel has instead) when the wheel lacks its
 * module.
 *
 * The semantics checked (tests/gpu/attn_batch.c builds the data, the
 * reference is src/checks/reference.c):
 *  - window_left w (DefaultAttention's LogitsMask, attention/variants.cuh):
 *    query row i of qo_len over kv_len keys sees key j iff
 *    j + qo_len + w >= kv_len + i (aligned to the end of the kv sequence;
 *    decode: qo_len = 1, so the last w + 1 keys). Prefill windows are
 *    tested causal only: with split kv, PrefillPlan sizes each sequence's
 *    chunks from min(window_left + cta_tile_q, kv_len) (scheduler.cuh),
 *    which covers a query tile's keys only when they also end at the
 *    diagonal; a non-causal windowed prefill may then miss keys (FlashInfer's
 *    behaviour, not checked here);
 *  - soft cap c: logits = c * tanh(sm_scale * q.k / c) (the variant scales
 *    by sm_scale / c before tanh and folds c into the log2 softmax scale);
 *  - e4m3 KV: FlashInfer's Python wrappers fold k_scale into sm_scale
 *    (decode.py, prefill.py: sm_scale *= k_scale) and multiply the output
 *    by v_scale after the kernel; the run has no scale arguments, so the
 *    caller does the same: these cases pass sm_scale = k_scale / sqrt(d)
 *    with k_scale = 0.5 and leave v_scale to the caller (1 here);
 *  - custom mask: bit (i * kv_len + j) of sequence b's bytes from
 *    mask_indptr[b], little bit order (segment_packbits(bitorder="little")). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_batch.h"

/* ---- the runtime: any module of the wheel, extracted on first use ---- */

static kt_runtime *g_k;

static fic_runtime *variants_rt(void) {
  gpu_require();
  if (g_k) return g_k->rt;
  const char *wheel = kt_attn_wheel();
  if (!wheel) {
    print_message("SKIPPED: no wheel with the attention modules (see above)\n");
    skip();
  }
  g_k = kt_try_open(wheel, NULL);
  if (!g_k) {
    print_message("SKIPPED: cannot open a runtime over %s (see above)\n", wheel);
    skip();
  }
  return g_k->rt;
}

static int teardown_rt(void **state) {
  (void)state;
  if (g_k) kt_close(g_k);
  g_k = NULL;
  return 0;
}

/* ---- one case ---- */

static void run_variant(void **state) {
  const attn_case *c = *state;
  fic_runtime *rt = variants_rt();
  ref_rng r;
  ref_rng_seed(&r, gpu_seed(c->name));
  kv_batch b;
  kv_batch_new(&b, c, &r);
  gpu_ws w;
  gpu_ws_new(rt, &w);
  fic_attention_plan *plan = NULL;
  fic_status st = at_plan(rt, w.ws, &b, 0, NULL, &plan);
  if (st == FIC_ERR_NOT_FOUND || (st == FIC_ERR_UNSUPPORTED && c->backend == FIC_ATTENTION_BACKEND_FA3)) {
    char why[1024];
    snprintf(why, sizeof why, "%s", fic_last_error_message());
    gpu_ws_free(&w);
    kv_batch_free(&b);
    print_message("SKIPPED: %s: %s: %s\n", c->name,
                  st == FIC_ERR_NOT_FOUND ? "the wheel lacks its module" : "FA3 needs an SM 9.0 GPU", why);
    skip();
  }
  FIC_ASSERT_OK(st);
  print_message("%s: batch %lld, heads %lld/%lld, head dims %lld/%lld, page %lld, %s, %lld rows, %lld pages\n", c->name,
                (long long)c->batch, (long long)c->hq, (long long)c->hkv, (long long)b.dim, (long long)b.dim_vo,
                (long long)c->page, c->layout ? "HND" : "NHD", (long long)b.rows, (long long)b.pages);
  at_descs d = at_make_descs(&b);
  FIC_ASSERT_OK(at_run(plan, &b, &d, NULL));
  CK(cudaDeviceSynchronize());
  at_check(&b, b.dout, b.dlse, "eager");
  FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  gpu_ws_free(&w);
  kv_batch_free(&b);
}

/* ---- the cases ---- */

#define NHD FIC_KV_LAYOUT_NHD
#define HND FIC_KV_LAYOUT_HND

/* Whole-sequence prefill (every key a query row): 1024 rows and keys (eight
 * of FA3 192/128's 128 x 128 tiles) and 333 (a partial last tile). */
static const int64_t k_full_prefill[] = {1024, 333};

static const attn_case k_cases[] = {
    /* decode: head dims 64 / 256 */
    {"decode hd64 g4 p16 NHD batch 128", 128, 32, 8, 16, NHD, 200, 0, 0, 0, .dim = 64, .long_kv = 8192},
    {"decode hd64 g7 p16 HND tensor cores", 17, 28, 4, 16, HND, 700, 0, 0, 0, .dim = 64},
    {"decode hd256 g8 p1 HND", 9, 16, 2, 1, HND, 300, 0, 0, 0, .dim = 256, .long_kv = 2000},
    {"decode hd256 g1 p16 NHD batch 1", 1, 4, 4, 16, NHD, 5000, 0, 0, 0, .dim = 256},
    {"decode hd256 g4 p16 NHD use_tensor_cores", 6, 16, 4, 16, NHD, 900, 0, 0, 1, .dim = 256},
    /* decode: sliding window */
    {"decode swa 37 g4 p16 NHD", 33, 32, 8, 16, NHD, 600, 0, 0, 0, .windowed = 1, .window_left = 37, .long_kv = 4096},
    {"decode swa 0 g1 p1 HND", 7, 8, 8, 1, HND, 100, 0, 0, 0, .windowed = 1, .window_left = 0},
    {"decode swa 5 g7 p1 NHD tensor cores", 12, 28, 4, 1, NHD, 300, 0, 0, 0, .windowed = 1, .window_left = 5},
    /* decode: soft cap (1.5: strongly nonlinear on N(0, 1) scores) */
    {"decode soft cap g1 p16 HND", 20, 8, 8, 16, HND, 400, 0, 0, 0, .soft_cap = 1.5},
    {"decode soft cap g8 p16 NHD", 64, 64, 8, 16, NHD, 150, 0, 0, 0, .soft_cap = 1.5, .long_kv = 8192},
    {"decode soft cap g7 p16 HND tensor cores", 5, 28, 4, 16, HND, 500, 0, 0, 0, .soft_cap = 1.5},
    /* decode: f16 q/kv */
    {"decode f16 g4 p16 NHD", 64, 32, 8, 16, NHD, 500, 0, 0, 0, .q_type = AT_F16, .kv_type = AT_F16},
    {"decode f16 g1 p1 HND", 3, 16, 16, 1, HND, 900, 0, 0, 0, .q_type = AT_F16, .kv_type = AT_F16},
    {"decode f16 g7 p16 NHD tensor cores", 4, 28, 4, 16, NHD, 300, 0, 0, 0, .q_type = AT_F16, .kv_type = AT_F16},
    /* decode: e4m3 KV, k_scale folded into sm_scale */
    {"decode e4m3 g4 p16 NHD k_scale 0.5", 40, 16, 4, 16, NHD, 600, 0, 0, 0, .kv_type = AT_E4M3, .k_scale = 0.5,
     .long_kv = 8192},
    {"decode e4m3 g1 p1 HND", 5, 8, 8, 1, HND, 700, 0, 0, 0, .kv_type = AT_E4M3},
    {"decode e4m3 g8 p16 HND", 16, 64, 8, 16, HND, 300, 0, 0, 0, .kv_type = AT_E4M3},
    {"decode e4m3 g7 p16 NHD tensor cores", 9, 28, 4, 16, NHD, 400, 0, 0, 0, .kv_type = AT_E4M3, .k_scale = 0.5},
    /* prefill: head dims 64 / 256 */
    {"prefill hd64 paged causal g4 p16 NHD", 8, 16, 4, 16, NHD, 500, 32, 1, 0, .dim = 64, .long_kv = 4096},
    {"prefill hd64 ragged g7 HND", 3, 28, 4, 0, HND, 400, 64, 0, 0, .dim = 64},
    {"prefill hd256 ragged causal g8 HND", 4, 16, 2, 0, HND, 700, 100, 1, 0, .dim = 256},
    {"prefill hd256 paged g1 p1 NHD", 3, 8, 8, 1, NHD, 300, 40, 0, 0, .dim = 256},
    /* prefill: sliding window */
    {"prefill swa 100 paged causal g4 p16 NHD", 6, 32, 8, 16, NHD, 1500, 200, 1, 0, .windowed = 1, .window_left = 100},
    {"prefill swa 31 ragged causal g7 HND", 3, 28, 4, 0, HND, 600, 80, 1, 0, .windowed = 1, .window_left = 31},
    {"prefill swa 0 paged causal g1 p1 HND", 4, 8, 8, 1, HND, 200, 50, 1, 0, .windowed = 1, .window_left = 0},
    /* prefill: soft cap */
    {"prefill soft cap paged causal g4 p16 HND", 5, 32, 8, 16, HND, 800, 100, 1, 0, .soft_cap = 1.5},
    {"prefill soft cap ragged g1 NHD", 3, 8, 8, 0, NHD, 300, 60, 0, 0, .soft_cap = 1.5},
    /* prefill: e4m3 KV (paged only: ragged K/V are q's dtype in FA2) */
    {"prefill e4m3 paged causal g4 p16 NHD k_scale 0.5", 5, 32, 8, 16, NHD, 900, 120, 1, 0, .kv_type = AT_E4M3,
     .k_scale = 0.5},
    {"prefill e4m3 paged g8 p1 HND", 3, 32, 4, 1, HND, 400, 50, 0, 0, .kv_type = AT_E4M3},
    /* prefill: f16 */
    {"prefill f16 paged causal g4 p16 NHD", 4, 32, 8, 16, NHD, 500, 64, 1, 0, .q_type = AT_F16, .kv_type = AT_F16},
    /* prefill: custom masks (the bf16/hd128 module: the mask mode is a run-time argument) */
    {"prefill custom mask paged g4 p16 NHD", 6, 32, 8, 16, NHD, 700, 90, 0, 0, .custom_mask = 1},
    {"prefill custom mask ragged g7 HND", 4, 28, 4, 0, HND, 300, 120, 0, 0, .custom_mask = 1},
    {"prefill custom mask paged g1 p1 HND batch 1", 1, 8, 8, 1, HND, 257, 33, 0, 0, .custom_mask = 1},
    /* FA3 (`_sm90`, forced; SM 9.0 only, skipped elsewhere): head dims 64 / 256, window, soft cap */
    {"fa3 prefill hd64 paged causal g4 p16 NHD", 6, 32, 8, 16, NHD, 900, 150, 1, 0, .dim = 64,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill hd64 ragged g4 NHD", 3, 16, 4, 0, NHD, 500, 129, 0, 0, .dim = 64,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill hd256 paged g8 p16 HND", 4, 16, 2, 16, HND, 700, 100, 0, 0, .dim = 256,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill hd256 ragged causal g4 NHD", 3, 16, 4, 0, NHD, 600, 200, 1, 0, .dim = 256,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill swa 100 paged causal g4 p16 NHD", 6, 32, 8, 16, NHD, 1500, 200, 1, 0, .windowed = 1,
     .window_left = 100, .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill swa 31 ragged causal g4 NHD", 3, 32, 8, 0, NHD, 600, 80, 1, 0, .windowed = 1, .window_left = 31,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill soft cap paged causal g4 p16 HND", 5, 32, 8, 16, HND, 800, 100, 1, 0, .soft_cap = 1.5,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill soft cap ragged g4 NHD", 3, 32, 8, 0, NHD, 300, 60, 0, 0, .soft_cap = 1.5,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    /* FA3 head_dim_qk 192 / head_dim_vo 128 (DeepSeek prefill; ragged NHD only, see above): q and K 192, V and
     * out 128, sm_scale 1 / sqrt(192) */
    {"fa3 prefill 192/128 ragged causal g4 NHD", 4, 32, 8, 0, NHD, 900, 300, 1, 0, .dim = 192, .dim_vo = 128,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill 192/128 ragged g1 NHD", 3, 16, 16, 0, NHD, 500, 129, 0, 0, .dim = 192, .dim_vo = 128,
     .backend = FIC_ATTENTION_BACKEND_FA3},
    {"fa3 prefill 192/128 ragged causal g1 NHD qo = kv", 2, 16, 16, 0, NHD, 1024, 1024, 1, 0, .dim = 192, .dim_vo = 128,
     .kv_lens = k_full_prefill, .qo_lens = k_full_prefill, .backend = FIC_ATTENTION_BACKEND_FA3},
};

int main(void) {
  enum { N = sizeof k_cases / sizeof k_cases[0] };
  struct CMUnitTest tests[N];
  for (size_t i = 0; i < N; i++) {
    memset(&tests[i], 0, sizeof tests[i]);
    tests[i].name = k_cases[i].name;
    tests[i].test_func = run_variant;
    tests[i].initial_state = (void *)&k_cases[i];
  }
  return fic_test_run_group("attention_variants", tests, N, NULL, teardown_rt);
}
