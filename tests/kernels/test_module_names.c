/* SPDX-License-Identifier: Apache-2.0 */
/* FlashInfer 0.6.3 module names (src/kernels/module_names.c, module_pick.c).
 *
 * The main test parses every one of the 724 names of the jit-cache wheel
 * (tests/data/jit-cache-0.6.3-modules.txt, named by FIC_TEST_MODULE_LIST)
 * and renders it again from the parsed parameters: every name of a family
 * the library names must come back to the letter, each family must hold the
 * count FlashInfer's AOT grid gives it, and every name no parser claims is
 * printed and counted, so nothing is dropped silently. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/module_names.h"
#include "kernels/validate.h"
#include "runtime/signatures.h"
#include "test_support.h"

#define LIST_TOTAL 724
#define F16 \
  { FIC_DTYPE_FLOAT, 16, 1 }
#define BF16 \
  { FIC_DTYPE_BFLOAT, 16, 1 }
#define E4M3 \
  { 10, 8, 1 }
#define I32 \
  { FIC_DTYPE_INT, 32, 1 }

static char g_names[LIST_TOTAL + 1][FIC__MODULE_NAME_CAP];
static const char *g_ptrs[LIST_TOTAL + 1];
static size_t g_count;

/* Read the list once (lines starting with '#' are comments). */
static int load_list(void **state) {
  (void)state;
  const char *path = fic_test_env("FIC_TEST_MODULE_LIST");
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[1024];
  while (fgets(line, sizeof line, f) && g_count <= LIST_TOTAL) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0') continue;
    snprintf(g_names[g_count], sizeof g_names[0], "%s", line);
    g_ptrs[g_count] = g_names[g_count];
    g_count++;
  }
  fclose(f);
  return 0;
}

/* Round-trip bins: attention family x backend, then XQA, XQA MLA, fixed. */
enum { BIN_XQA = FIC__ATTN_FAMILY_COUNT * 2, BIN_XQA_MLA, BIN_FIXED, BIN_COUNT };

static int round_trip_one(const char *name, char *again) {
  fic__attn_params a;
  fic__xqa_params x;
  fic__fixed_module m;
  if (fic__attn_module_parse(name, &a) == FIC_OK) {
    FIC_ASSERT_OK(fic__attn_module_name(&a, again, FIC__MODULE_NAME_CAP));
    return (int)a.family * 2 + (int)a.backend;
  }
  if (fic__xqa_module_parse(name, &x) == FIC_OK) {
    FIC_ASSERT_OK(fic__xqa_module_name(&x, again, FIC__MODULE_NAME_CAP));
    return x.mla ? BIN_XQA_MLA : BIN_XQA;
  }
  if (fic__fixed_module_parse(name, &m) == FIC_OK) {
    FIC_ASSERT_OK(fic__fixed_module_name(m, again, FIC__MODULE_NAME_CAP));
    return BIN_FIXED;
  }
  return -1;
}

static void test_every_listed_name_round_trips(void **state) {
  (void)state;
  /* The AOT grid (reference §1.1, §1.4): 48 of each FA2 family and of FA3
   * batch prefill, 36 batch attention, 4+4 sink, 2+2 MLA, 384+4 XQA, and
   * the 11 fixed names; the other 37 (GEMM, MoE, comm, ...) are not named. */
  static const int expected[BIN_COUNT] = {[FIC__ATTN_SINGLE_DECODE * 2] = 48,
                                          [FIC__ATTN_BATCH_DECODE * 2] = 48,
                                          [FIC__ATTN_SINGLE_PREFILL * 2] = 48,
                                          [FIC__ATTN_BATCH_PREFILL * 2] = 48,
                                          [FIC__ATTN_BATCH_PREFILL * 2 + 1] = 48,
                                          [FIC__ATTN_BATCH_ATTENTION * 2] = 36,
                                          [FIC__ATTN_PREFILL_SINK * 2] = 4,
                                          [FIC__ATTN_PREFILL_SINK * 2 + 1] = 4,
                                          [FIC__ATTN_BATCH_MLA * 2] = 2,
                                          [FIC__ATTN_BATCH_MLA * 2 + 1] = 2,
                                          [BIN_XQA] = 384,
                                          [BIN_XQA_MLA] = 4,
                                          [BIN_FIXED] = 11};
  int got[BIN_COUNT] = {0}, unclaimed = 0, mismatched = 0;
  assert_int_equal(g_count, LIST_TOTAL);
  for (size_t i = 0; i < g_count; i++) {
    char again[FIC__MODULE_NAME_CAP] = "";
    int bin = round_trip_one(g_names[i], again);
    if (bin < 0) {
      print_message("not named by the library: %s\n", g_names[i]);
      unclaimed++;
    } else if (strcmp(again, g_names[i]) != 0) {
      print_message("MISMATCH: %s\n      -> %s\n", g_names[i], again);
      mismatched++;
    } else {
      got[bin]++;
    }
  }
  int claimed = 0;
  for (int b = 0; b < BIN_COUNT; b++) {
    const char *label = b < BIN_XQA        ? fic__attn_family_label((fic__attn_family)(b / 2))
                        : b == BIN_XQA     ? "xqa"
                        : b == BIN_XQA_MLA ? "xqa mla"
                                           : "fixed names";
    if (got[b] || expected[b])
      print_message("round trip %-22s %s: %3d (expected %d)\n", label, b < BIN_XQA && b % 2 ? "fa3" : "   ", got[b],
                    expected[b]);
    claimed += got[b];
  }
  print_message("round trip total %d, not named %d, mismatched %d, of %zu\n", claimed, unclaimed, mismatched, g_count);
  assert_int_equal(mismatched, 0);
  assert_memory_equal(got, expected, sizeof got);
  assert_int_equal(unclaimed, LIST_TOTAL - 687);
  assert_int_equal(claimed + unclaimed + mismatched, LIST_TOTAL);
}

static fic__attn_params decode_bf16_128(void) {
  return (fic__attn_params){.family = FIC__ATTN_BATCH_DECODE,
                            .dtype_q = BF16,
                            .dtype_kv = BF16,
                            .dtype_o = BF16,
                            .dtype_idx = I32,
                            .head_dim_qk = 128,
                            .head_dim_vo = 128};
}

static bool same_params(const fic__attn_params *a, const fic__attn_params *b) {
  return a->family == b->family && a->backend == b->backend && fic__dtype_eq(a->dtype_q, b->dtype_q) &&
         fic__dtype_eq(a->dtype_kv, b->dtype_kv) && fic__dtype_eq(a->dtype_o, b->dtype_o) &&
         fic__dtype_eq(a->dtype_idx, b->dtype_idx) && a->head_dim_qk == b->head_dim_qk &&
         a->head_dim_vo == b->head_dim_vo && a->pos_encoding == b->pos_encoding &&
         a->use_sliding_window == b->use_sliding_window && a->use_logits_soft_cap == b->use_logits_soft_cap &&
         a->use_fp16_qk_reduction == b->use_fp16_qk_reduction && a->use_profiler == b->use_profiler;
}

/* The other direction, over a grid wider than the wheel's (JIT-only sets
 * too): every parameter set that gets a name parses back to itself, and a
 * name is never shared by two sets. */
static void test_every_nameable_parameter_set_round_trips(void **state) {
  (void)state;
  static const fic_dtype dts[] = {F16, BF16, E4M3, {12, 8, 1}};
  static const fic_dtype idxs[] = {{0, 0, 0}, I32, {FIC_DTYPE_INT, 64, 1}};
  static const int dims[][2] = {{64, 64}, {192, 128}};
  int named = 0, refused = 0;
  for (int combo = 0; combo < FIC__ATTN_FAMILY_COUNT * 2 * 4 * 4 * 4 * 3 * 2 * 2 * 16; combo++) {
    int c = combo;
    fic__attn_params p = {.family = (fic__attn_family)(c % FIC__ATTN_FAMILY_COUNT)};
    c /= FIC__ATTN_FAMILY_COUNT;
    p.backend = (fic__attn_backend)(c % 2), c /= 2;
    p.dtype_q = dts[c % 4], c /= 4;
    p.dtype_kv = dts[c % 4], c /= 4;
    p.dtype_o = dts[c % 4], c /= 4;
    p.dtype_idx = idxs[c % 3], c /= 3;
    p.head_dim_qk = dims[c % 2][0], p.head_dim_vo = dims[c % 2][1], c /= 2;
    p.pos_encoding = c % 2, c /= 2;
    p.use_sliding_window = c & 1, p.use_logits_soft_cap = c & 2, p.use_fp16_qk_reduction = c & 4;
    p.use_profiler = c & 8;
    char name[FIC__MODULE_NAME_CAP];
    if (!fic__attn_module_name_quiet(&p, name, sizeof name)) {
      refused++;
      continue;
    }
    fic__attn_params back;
    FIC_ASSERT_OK(fic__attn_module_parse(name, &back));
    if (!same_params(&p, &back)) fail_msg("%s parses to other parameters", name);
    named++;
  }
  print_message("parameter grid: %d named and parsed back, %d refused\n", named, refused);
  assert_true(named > 1000 && refused > 1000);
}

static void test_known_names(void **state) {
  (void)state;
  char buf[FIC__MODULE_NAME_CAP];
  fic__attn_params p = decode_bf16_128();
  FIC_ASSERT_OK(fic__attn_module_name(&p, buf, sizeof buf));
  assert_string_equal(buf,
                      "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_"
                      "head_dim_qk_128_head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False");
  p.family = FIC__ATTN_PREFILL_SINK, p.backend = FIC__BACKEND_FA3, p.use_sliding_window = true;
  FIC_ASSERT_OK(fic__attn_module_name(&p, buf, sizeof buf));
  assert_string_equal(buf,
                      "batch_prefill_with_attention_sink_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_"
                      "dtype_idx_i32_head_dim_qk_128_head_dim_vo_128_use_swa_True__sm90");
  p = decode_bf16_128();
  p.family = FIC__ATTN_BATCH_ATTENTION, p.use_logits_soft_cap = true;
  FIC_ASSERT_OK(fic__attn_module_name(&p, buf, sizeof buf));
  assert_non_null(strstr(buf, "_posenc_0_use_logits_soft_cap_true_use_profiler_false"));
  fic__fixed_module m;
  FIC_ASSERT_OK(fic__fixed_module_parse("gelu_tanh_and_mul", &m));
  assert_int_equal(m, FIC__MOD_GELU_TANH_AND_MUL);
  FIC_ASSERT_OK(fic__fixed_module_name(FIC__MOD_GDN_PREFILL_SM90, buf, sizeof buf));
  assert_string_equal(buf, "gdn_prefill_sm90");
}

/* Each case must fail with INVALID_ARGUMENT and leave the buffer alone. */
static void expect_bad(const fic__attn_params *p, const char *why) {
  char buf[FIC__MODULE_NAME_CAP] = "untouched";
  fic_status st = fic__attn_module_name(p, buf, sizeof buf);
  if (st != FIC_ERR_INVALID_ARGUMENT) fail_msg("%s: got %s (%s)", why, fic_status_string(st), buf);
  assert_string_equal(buf, "untouched");
  if (!strstr(fic_last_error_message(), why)) fail_msg("message '%s' lacks '%s'", fic_last_error_message(), why);
}

static void test_impossible_attention_parameters(void **state) {
  (void)state;
  fic__attn_params p = decode_bf16_128();
  p.backend = FIC__BACKEND_FA3;
  expect_bad(&p, "batch decode has no FA3");
  p = decode_bf16_128(), p.use_fp16_qk_reduction = true;
  expect_bad(&p, "no use_fp16_qk_reduction variant");
  p = decode_bf16_128(), p.family = FIC__ATTN_SINGLE_DECODE;
  expect_bad(&p, "no dtype_idx variant"); /* single_* names carry no index dtype */
  p = decode_bf16_128(), p.family = FIC__ATTN_BATCH_PREFILL, p.dtype_q = (fic_dtype)E4M3;
  expect_bad(&p, "FA2 has no fp8 queries");
  p.backend = FIC__BACKEND_FA3, p.dtype_kv = (fic_dtype)E4M3;
  FIC_ASSERT_OK(fic__attn_module_name(&p, (char[FIC__MODULE_NAME_CAP]){0}, FIC__MODULE_NAME_CAP));
  p.dtype_kv = (fic_dtype)BF16;
  expect_bad(&p, "FA3 has no mixed q/kv");
  p = decode_bf16_128(), p.family = FIC__ATTN_BATCH_PREFILL, p.backend = FIC__BACKEND_FA3, p.pos_encoding = 1;
  expect_bad(&p, "FA3 has no pos_encoding");
  p = decode_bf16_128(), p.family = FIC__ATTN_BATCH_PREFILL, p.dtype_o = (fic_dtype)E4M3;
  expect_bad(&p, "no fp8 output");
  p = decode_bf16_128(), p.dtype_q = FIC_F32;
  expect_bad(&p, "dtype_q must be float16");
  p = decode_bf16_128(), p.dtype_idx = FIC_U8;
  expect_bad(&p, "dtype_idx must be int32 or int64");
  p = decode_bf16_128(), p.head_dim_vo = 0;
  expect_bad(&p, "head dims must be in [1, 1024]");
  p = decode_bf16_128(), p.pos_encoding = 3;
  expect_bad(&p, "pos_encoding must be 0, 1 or 2");
  p = decode_bf16_128(), p.family = FIC__ATTN_FAMILY_COUNT;
  expect_bad(&p, "unknown attention family");
  p = decode_bf16_128(), p.family = FIC__ATTN_BATCH_ATTENTION, p.use_sliding_window = true;
  expect_bad(&p, "batch attention modules have no use_sliding_window variant");
}

static void test_buffers_and_nulls(void **state) {
  (void)state;
  fic__attn_params p = decode_bf16_128();
  char small[64] = "untouched";
  FIC_ASSERT_STATUS(fic__attn_module_name(&p, small, sizeof small), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(small, "untouched");
  assert_string_equal(fic_last_error_argument(), "cap");
  FIC_ASSERT_STATUS(fic__attn_module_name(NULL, small, sizeof small), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__attn_module_name(&p, NULL, 256), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__attn_module_parse(NULL, &p), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__attn_module_parse("norm", NULL), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__fixed_module_name(FIC__MOD_FIXED_COUNT, small, sizeof small), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__fixed_module_name(FIC__MOD_SILU_AND_MUL, small, 4), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(small, "untouched");
}

/* Near-misses of real names must not parse, and must leave *out alone. */
static void test_parser_rejects_near_misses(void **state) {
  (void)state;
  static const char *const bad[] = {
      "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_"
      "vo_128_posenc_0_use_swa_false_use_logits_cap_False", /* lower-case bool */
      "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_0128_head_dim_"
      "vo_128_posenc_0_use_swa_False_use_logits_cap_False", /* leading zero */
      "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_"
      "vo_128_posenc_0_use_swa_False_use_logits_cap_False_sm90", /* no FA3 decode */
      "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_"
      "vo_128_posenc_0_use_swa_False_use_logits_cap_False_", /* trailing '_' */
      "batch_decode_with_kv_cache_dtype_q_f32_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_"
      "vo_128_posenc_0_use_swa_False_use_logits_cap_False", /* unknown token */
      "batch_prefill_with_kv_cache_dtype_q_e4m3_dtype_kv_e4m3_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_"
      "vo_128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False", /* fp8 q on FA2 */
      "",
      "norm",
      "batch_decode_with_kv_cache",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fic__attn_params p = {.head_dim_qk = -7};
    if (fic__attn_module_parse(bad[i], &p) != FIC_ERR_INVALID_ARGUMENT) fail_msg("parsed: '%s'", bad[i]);
    assert_int_equal(p.head_dim_qk, -7);
  }
  fic__xqa_params x;
  FIC_ASSERT_STATUS(fic__xqa_module_parse("xqa_mla_input_e4m3_kv_cache_e4m3_page_size_64_head_dim_512_head_group_"
                                          "ratio_128_use_sliding_window_False",
                                          &x),
                    FIC_ERR_INVALID_ARGUMENT);
  fic__fixed_module m;
  FIC_ASSERT_STATUS(fic__fixed_module_parse("norms", &m), FIC_ERR_INVALID_ARGUMENT);
}

static void test_impossible_xqa_parameters(void **state) {
  (void)state;
  char buf[FIC__MODULE_NAME_CAP];
  fic__xqa_params x = {.dtype_input = BF16,
                       .dtype_kv_cache = E4M3,
                       .dtype_output = BF16,
                       .page_size = 64,
                       .head_dim = 128,
                       .head_group_ratio = 8,
                       .spec_q_seq_len = 1};
  FIC_ASSERT_OK(fic__xqa_module_name(&x, buf, sizeof buf));
  assert_string_equal(buf,
                      "xqa_input_bf16_kv_cache_e4m3_output_bf16_page_size_64_head_dim_128_head_group_ratio_8_"
                      "use_sliding_window_False_use_spec_dec_False_spec_q_seq_len_1");
  fic__xqa_params bad = x;
  bad.page_size = 48;
  FIC_ASSERT_STATUS(fic__xqa_module_name(&bad, buf, sizeof buf), FIC_ERR_INVALID_ARGUMENT);
  bad = x, bad.head_dim = 72;
  FIC_ASSERT_STATUS(fic__xqa_module_name(&bad, buf, sizeof buf), FIC_ERR_INVALID_ARGUMENT);
  bad = x, bad.spec_q_seq_len = 4; /* use_spec_dec must follow */
  FIC_ASSERT_STATUS(fic__xqa_module_name(&bad, buf, sizeof buf), FIC_ERR_INVALID_ARGUMENT);
  bad.use_spec_dec = true;
  FIC_ASSERT_OK(fic__xqa_module_name(&bad, buf, sizeof buf));
  bad = x, bad.mla = true; /* MLA: fp8 input, no output dtype in the name */
  FIC_ASSERT_STATUS(fic__xqa_module_name(&bad, buf, sizeof buf), FIC_ERR_INVALID_ARGUMENT);
  bad = x, bad.dtype_input = (fic_dtype)E4M3;
  FIC_ASSERT_STATUS(fic__xqa_module_name(&bad, buf, sizeof buf), FIC_ERR_INVALID_ARGUMENT);
}

static fic__attn_params prefill(fic_dtype q, fic_dtype kv, int hqk, int hvo) {
  return (fic__attn_params){.family = FIC__ATTN_BATCH_PREFILL,
                            .backend = FIC__BACKEND_FA3, /* ignored by the picker */
                            .dtype_q = q,
                            .dtype_kv = kv,
                            .dtype_o = q.bits == 8 ? (fic_dtype)BF16 : q,
                            .dtype_idx = I32,
                            .head_dim_qk = hqk,
                            .head_dim_vo = hvo};
}

static void expect_pick(const fic__attn_params *want, int major, int minor, fic__attn_backend backend) {
  char name[FIC__MODULE_NAME_CAP];
  fic__attn_params got;
  FIC_ASSERT_OK(fic__attn_pick_module(g_ptrs, g_count, want, major, minor, &got, name, sizeof name));
  assert_int_equal(got.backend, backend);
  size_t n = strlen(name);
  assert_int_equal(n > 5 && strcmp(name + n - 5, "_sm90") == 0, backend == FIC__BACKEND_FA3);
}

static void test_pick_backend(void **state) {
  (void)state;
  fic__attn_params bf16 = prefill(FIC_BF16, FIC_BF16, 128, 128), mixed = prefill(FIC_BF16, (fic_dtype)E4M3, 128, 128);
  expect_pick(&bf16, 9, 0, FIC__BACKEND_FA3);
  expect_pick(&bf16, 8, 0, FIC__BACKEND_FA2);
  expect_pick(&bf16, 10, 0, FIC__BACKEND_FA2); /* sm_90a code runs on 9.0 only */
  expect_pick(&mixed, 9, 0, FIC__BACKEND_FA2); /* no mixed-dtype FA3 module */
  bf16.use_fp16_qk_reduction = true;           /* FA3 has none; FA2 has no AOT module either */
  char name[FIC__MODULE_NAME_CAP] = "untouched";
  fic__attn_params got;
  FIC_ASSERT_STATUS(fic__attn_pick_module(g_ptrs, g_count, &bf16, 9, 0, &got, name, sizeof name), FIC_ERR_NOT_FOUND);
  assert_string_equal(name, "untouched");
  fic__attn_params dec = decode_bf16_128();
  expect_pick(&dec, 9, 0, FIC__BACKEND_FA2); /* decode has FA2 modules only */
}

/* The four MLA modules of the wheel, named from parameters as
 * fic_batch_mla_plan names them (q = kv = o, i32 indices, ckv 512 in the
 * head_dim_qk slot, kpe 64 in head_dim_vo, no profiler), each in the list;
 * the pick takes `_sm90` on SM 9.0 only. */
static void test_mla_names(void **state) {
  (void)state;
  static const fic_dtype dts[] = {F16, BF16};
  static const char *const tok[] = {"f16", "bf16"};
  for (int d = 0; d < 2; d++)
    for (int fa3 = 0; fa3 < 2; fa3++) {
      fic__attn_params p = {.family = FIC__ATTN_BATCH_MLA, .backend = fa3 ? FIC__BACKEND_FA3 : FIC__BACKEND_FA2};
      p.dtype_q = p.dtype_kv = p.dtype_o = dts[d], p.dtype_idx = (fic_dtype)I32;
      p.head_dim_qk = 512, p.head_dim_vo = 64;
      char name[FIC__MODULE_NAME_CAP], want[FIC__MODULE_NAME_CAP];
      FIC_ASSERT_OK(fic__attn_module_name(&p, name, sizeof name));
      snprintf(want, sizeof want,
               "batch_mla_attention_dtype_q_%s_dtype_kv_%s_dtype_o_%s_dtype_idx_i32_head_dim_ckv_512_head_dim_kpe_64_"
               "profiler_False%s",
               tok[d], tok[d], tok[d], fa3 ? "_sm90" : "");
      assert_string_equal(name, want);
      int listed = 0;
      for (size_t i = 0; i < g_count; i++) listed |= strcmp(g_ptrs[i], name) == 0;
      if (!listed) fail_msg("%s is not in the wheel's list", name);
      fic__attn_params back;
      FIC_ASSERT_OK(fic__attn_module_parse(name, &back));
      assert_true(same_params(&p, &back));
      if (fa3) expect_pick(&p, 9, 0, FIC__BACKEND_FA3);
      if (fa3) expect_pick(&p, 8, 9, FIC__BACKEND_FA2);
    }
  fic__attn_params mixed = {.family = FIC__ATTN_BATCH_MLA, .backend = FIC__BACKEND_FA3};
  mixed.dtype_q = mixed.dtype_o = (fic_dtype)BF16, mixed.dtype_kv = (fic_dtype)F16, mixed.dtype_idx = (fic_dtype)I32;
  mixed.head_dim_qk = 512, mixed.head_dim_vo = 64;
  char name[FIC__MODULE_NAME_CAP];
  assert_false(fic__attn_module_name_quiet(&mixed, name, sizeof name)); /* FA3 has no mixed q/kv */
}

static const char *pick_error(const fic__attn_params *want, size_t count, int major, int minor) {
  char name[FIC__MODULE_NAME_CAP];
  fic__attn_params got;
  FIC_ASSERT_STATUS(fic__attn_pick_module(g_ptrs, count, want, major, minor, &got, name, sizeof name),
                    FIC_ERR_NOT_FOUND);
  print_message("nearest-module message: %s\n", fic_last_error_message());
  return fic_last_error_message();
}

static void expect_in(const char *msg, const char *part) {
  if (!strstr(msg, part)) fail_msg("message lacks '%s': %s", part, msg);
}

static void test_nearest_module_message(void **state) {
  (void)state;
  fic__attn_params p = prefill(FIC_BF16, FIC_BF16, 128, 128);
  p.pos_encoding = 1; /* RoPE in the kernel: never prebuilt */
  const char *msg = pick_error(&p, g_count, 8, 0);
  expect_in(msg, "no batch prefill module for q/kv/o/idx bf16/bf16/bf16/i32, head dims 128/128, pos_encoding 1");
  expect_in(msg, "with the same dtypes and head dims it has batch prefill modules for: ");
  expect_in(msg, "pos_encoding 0, sliding window no, soft cap no; pos_encoding 0, sliding window no, soft cap yes");
  assert_null(strstr(msg, "FA3")); /* the FA3 modules add no other flags */
  p = prefill(FIC_F16, FIC_F16, 96, 96);
  msg = pick_error(&p, g_count, 9, 0);
  expect_in(msg,
            "with the same dtypes it has batch prefill modules for: head dims 64/64; head dims 128/128; "
            "head dims 256/256; head dims 192/128");
  p = prefill((fic_dtype)E4M3, (fic_dtype)E4M3, 128, 128); /* fp8 q: FA3 only */
  msg = pick_error(&p, g_count, 8, 0);
  expect_in(msg, "on SM 8.0; with the same dtypes and head dims it has");
  expect_in(msg, "pos_encoding 0, sliding window no, soft cap no (FA3, SM 9.0 only)");
  p = prefill(FIC_F16, (fic_dtype){12, 8, 1}, 64, 64); /* e5m2 KV is not prebuilt */
  msg = pick_error(&p, g_count, 8, 0);
  expect_in(msg,
            "with the same head dims it has batch prefill modules for: q/kv/o/idx f16/f16/f16/i32; "
            "q/kv/o/idx f16/e4m3/f16/i32;");
  msg = pick_error(&p, 2, 8, 0); /* the first two names: no batch prefill at all */
  expect_in(msg, "the wheel has no batch prefill modules at all");
}

static void test_pick_bad_arguments(void **state) {
  (void)state;
  char name[FIC__MODULE_NAME_CAP];
  fic__attn_params got, p = prefill(FIC_BF16, FIC_BF16, 128, 128);
  const char *with_null[] = {"norm", NULL};
  FIC_ASSERT_STATUS(fic__attn_pick_module(with_null, 2, &p, 9, 0, &got, name, sizeof name), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__attn_pick_module(NULL, 3, &p, 9, 0, &got, name, sizeof name), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__attn_pick_module(g_ptrs, g_count, NULL, 9, 0, &got, name, sizeof name),
                    FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__attn_pick_module(g_ptrs, g_count, &p, 9, 0, &got, name, 16), FIC_ERR_INVALID_ARGUMENT);
  p.dtype_q = FIC_F32; /* no backend can build it: the naming error, not NOT_FOUND */
  FIC_ASSERT_STATUS(fic__attn_pick_module(g_ptrs, g_count, &p, 9, 0, &got, name, sizeof name),
                    FIC_ERR_INVALID_ARGUMENT);
  expect_in(fic_last_error_message(), "dtype_q must be float16");
}

/* Every FA3 batch prefill module of the wheel: its 16-bit ones are exactly
 * those the typed API's FA3 rule accepts (q = kv = o f16/bf16, head dims
 * 64/64, 128/128, 192/128, 256/256, both swa and cap bits), and the arity
 * table gives each its plan and run counts (fp8 q: other runs). */
static void test_fa3_prefill_names(void **state) {
  (void)state;
  int sixteen = 0, fp8 = 0;
  for (size_t i = 0; i < g_count; i++) {
    fic__attn_params p;
    if (!fic__attn_module_match(g_names[i], &p) || p.family != FIC__ATTN_BATCH_PREFILL || p.backend != FIC__BACKEND_FA3)
      continue;
    int is_fp8 = fic__dtype_eq(p.dtype_q, (fic_dtype)E4M3);
    fic__fa3_query q = {.q = p.dtype_q,
                        .kv = p.dtype_kv,
                        .o = p.dtype_o,
                        .head_dim_qk = p.head_dim_qk,
                        .head_dim_vo = p.head_dim_vo,
                        .ragged = 0,
                        .kv_layout = FIC_KV_LAYOUT_NHD,
                        .kv_last_page_len = (const int32_t *)g_names};
    const char *field = NULL, *why = fic__fa3_unfit(&q, &field);
    q.ragged = 1, q.kv_last_page_len = NULL;
    const char *why_ragged = fic__fa3_unfit(&q, &field);
    if (is_fp8) {
      fp8++;
      assert_non_null(why); /* fp8 queries are not in the typed API */
    } else {
      sixteen++;
      /* 192/128 runs ragged only (the paged FA3 mainloop needs qk == vo) */
      int paged_ok = p.head_dim_qk == p.head_dim_vo;
      if (why_ragged || (paged_ok && why))
        fail_msg("%s: the FA3 rule refuses it: %s", g_names[i], why_ragged ? why_ragged : why);
      if (!paged_ok && !why) fail_msg("%s: the FA3 rule accepts paged 192/128", g_names[i]);
    }
    assert_int_equal(fic__signature_arity(g_names[i], "plan"), 16);
    assert_int_equal(fic__signature_arity(g_names[i], "paged_run"), is_fp8 ? 23 : 24);
    assert_int_equal(fic__signature_arity(g_names[i], "ragged_run"), is_fp8 ? 21 : 22);
  }
  assert_int_equal(sixteen, 32);
  assert_int_equal(fp8, 16);
  /* Conversely, every 16-bit parameter set the rule accepts has a module. */
  static const fic_dtype halfs[2] = {F16, BF16};
  static const int32_t dims[4][2] = {{64, 64}, {128, 128}, {192, 128}, {256, 256}};
  for (int d = 0; d < 2; d++)
    for (int h = 0; h < 4; h++)
      for (int bits = 0; bits < 4; bits++) {
        fic__attn_params p = {.family = FIC__ATTN_BATCH_PREFILL,
                              .backend = FIC__BACKEND_FA3,
                              .dtype_q = halfs[d],
                              .dtype_kv = halfs[d],
                              .dtype_o = halfs[d],
                              .dtype_idx = I32,
                              .head_dim_qk = dims[h][0],
                              .head_dim_vo = dims[h][1],
                              .use_sliding_window = bits & 1,
                              .use_logits_soft_cap = bits >> 1};
        char name[FIC__MODULE_NAME_CAP];
        FIC_ASSERT_OK(fic__attn_module_name(&p, name, sizeof name));
        int found = 0;
        for (size_t i = 0; i < g_count && !found; i++) found = strcmp(g_names[i], name) == 0;
        if (!found) fail_msg("no module %s in the wheel's list", name);
      }
  /* And the rule refuses what has none. */
  fic__fa3_query q = {.q = BF16, .kv = BF16, .o = BF16, .head_dim_qk = 128, .head_dim_vo = 64, .ragged = 1};
  const char *field = NULL;
  assert_non_null(fic__fa3_unfit(&q, &field));
  assert_string_equal(field, "head_dim_qk");
  q.head_dim_vo = 128, q.kv = (fic_dtype)E4M3;
  assert_non_null(fic__fa3_unfit(&q, &field));
  assert_string_equal(field, "kv_dtype");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_listed_name_round_trips),
      cmocka_unit_test(test_fa3_prefill_names),
      cmocka_unit_test(test_every_nameable_parameter_set_round_trips),
      cmocka_unit_test(test_known_names),
      cmocka_unit_test(test_impossible_attention_parameters),
      cmocka_unit_test(test_buffers_and_nulls),
      cmocka_unit_test(test_parser_rejects_near_misses),
      cmocka_unit_test(test_impossible_xqa_parameters),
      cmocka_unit_test(test_pick_backend),
      cmocka_unit_test(test_mla_names),
      cmocka_unit_test(test_nearest_module_message),
      cmocka_unit_test(test_pick_bad_arguments),
  };
  return cmocka_run_group_tests(tests, load_list, NULL);
}
