/* SPDX-License-Identifier: Apache-2.0 */
/* The REAL gdn_prefill_sm90.so of FlashInfer 0.6.3, with no GPU needed: the
 * export resolves and the launcher's own checks, which all run before it
 * touches CUDA, come back decoded. Reached through the generic API (our
 * validation would refuse these calls first). Skipped when the configured
 * wheel has no gdn_prefill_sm90 module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_util.h"

static int setup(void **state) {
  static const char *const modules[] = {"gdn_prefill_sm90", NULL};
  const char *wheel = kt_norm_wheel();
  kt_runtime *k = wheel ? kt_try_open(wheel, modules) : NULL;
  /* A module built on another machine may need a newer glibc than this
   * host has: that is the artifact's limit, not a library failure. */
  fic_function *fn = NULL;
  if (k && fic_function_get(k->rt, "gdn_prefill_sm90", "gdn_prefill", NULL, &fn) == FIC_ERR_DLOPEN) {
    fprintf(stderr, "gdn_prefill_sm90.so does not load on this host: %s\n", fic_last_error_message());
    kt_close(k);
    k = NULL;
  }
  *state = k;
  return 0;
}

static fic_runtime *need_rt(void **state) { return kt_need_rt(state, "no loadable gdn_prefill_sm90.so"); }

/* One problem: T tokens, N sequences, heads hq/hk/hv, head size 128. */
typedef struct gdn_args {
  kt_desc out, state, q, k, v, cu, ws;
} gdn_args;

static gdn_args make(int64_t T, int64_t N, int64_t hq, int64_t hk, int64_t hv, int64_t ho) {
  gdn_args a;
  a.out = kt_cuda(0x7f1000000000u, FIC_BF16, 3, T, ho, 128, 0);
  a.state = kt_cuda(0x7f1100000000u, FIC_F32, 4, N, ho, 128, 128);
  a.q = kt_cuda(0x7f1200000000u, FIC_BF16, 3, T, hq, 128, 0);
  a.k = kt_cuda(0x7f1300000000u, FIC_BF16, 3, T, hk, 128, 0);
  a.v = kt_cuda(0x7f1400000000u, FIC_BF16, 3, T, hv, 128, 0);
  a.cu = kt_cuda(0x7f1500000000u, FIC_I64, 1, N + 1, 0, 0, 0);
  a.ws = kt_cuda(0x7f1900000000u, FIC_U8, 1, 132 * 128, 0, 0, 0);
  /* FlashInfer reads strides: give contiguous ones explicitly. */
  kt_desc *all[] = {&a.out, &a.state, &a.q, &a.k, &a.v, &a.cu, &a.ws};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    kt_desc *d = all[i];
    int64_t s = 1;
    for (int j = d->t.ndim - 1; j >= 0; j--) d->strides[j] = s, s *= d->shape[j];
    d->explicit_strides = 1;
  }
  return a;
}

static fic_status call(fic_runtime *rt, gdn_args *a) {
  fic_function *fn = NULL;
  FIC_ASSERT_OK(fic_function_get(rt, "gdn_prefill_sm90", "gdn_prefill", NULL, &fn));
  fic_arg args[11] = {fic_arg_tensor(kt_t(&a->out)),
                      fic_arg_tensor(kt_t(&a->state)),
                      fic_arg_tensor(kt_t(&a->q)),
                      fic_arg_tensor(kt_t(&a->k)),
                      fic_arg_tensor(kt_t(&a->v)),
                      fic_arg_tensor(kt_t(&a->cu)),
                      fic_arg_none(),
                      fic_arg_none(),
                      fic_arg_none(),
                      fic_arg_float(0.0),
                      fic_arg_tensor(kt_t(&a->ws))};
  return fic_function_call(fn, args, 11, -1, NULL, NULL);
}

/* The wrappers raise InternalError for their own checks. */
#define EXPECT_KERNEL(call, substr) KT_EXPECT_KERNEL((call), "InternalError", (substr))

static void test_launcher_checks(void **state) {
  fic_runtime *rt = need_rt(state);
  gdn_args a = make(64, 2, 4, 2, 1, 4); /* GQA with k heads != v heads */
  EXPECT_KERNEL(call(rt, &a), "Check failed: num_k_heads == num_v_heads (2 vs. 1)");
  a = make(64, 2, 4, 2, 2, 2); /* output heads != max(q, v) heads */
  EXPECT_KERNEL(call(rt, &a), "Check failed: num_o_heads == num_sab_heads (2 vs. 4)");
  a = make(64, 2, 2, 2, 4, 4);
  a.k.shape[0] = 63; /* token counts differ */
  EXPECT_KERNEL(call(rt, &a), "Check failed: packed_seq == k.size(0) (64 vs. 63)");
  a = make(64, 2, 2, 2, 4, 4);
  a.cu.t.dtype = FIC_I32;
  EXPECT_KERNEL(call(rt, &a), "cu_seqlens.dtype() == dl_int64");
  a = make(64, 2, 2, 2, 4, 4);
  a.state.shape[0] = 3;
  EXPECT_KERNEL(call(rt, &a), "Check failed: num_seqs == output_state.size(0) (2 vs. 3)");
  /* The typed API names the argument instead. */
  a = make(64, 2, 4, 2, 1, 4);
  KT_EXPECT_ARG(kt_gdn_prefill(rt, kt_t(&a.out), kt_t(&a.state), kt_t(&a.q), kt_t(&a.k), kt_t(&a.v), kt_t(&a.cu), NULL,
                               NULL, NULL, 0.0, kt_t(&a.ws), NULL),
                "k", "GQA");
}

/* Without a GPU, a valid typed call passes our checks and the launcher's,
 * then fails in its CUDA queries: an error, not a crash. Skipped where a GPU
 * is present (the fake pointers would be launched on). */
static void test_valid_call_without_gpu(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_skip_if_gpu(rt);
  gdn_args a = make(64, 2, 2, 2, 4, 4);
  fic_status s = kt_gdn_prefill(rt, kt_t(&a.out), kt_t(&a.state), kt_t(&a.q), kt_t(&a.k), kt_t(&a.v), kt_t(&a.cu), NULL,
                                NULL, NULL, 0.0, kt_t(&a.ws), NULL);
  print_message("no-GPU call: %s: %s\n", fic_status_string(s), fic_last_error_message());
  assert_true(s == FIC_ERR_KERNEL || s == FIC_ERR_CUDA);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_launcher_checks),
      cmocka_unit_test(test_valid_call_without_gpu),
  };
  return cmocka_run_group_tests(tests, setup, kt_teardown);
}
