/* SPDX-License-Identifier: Apache-2.0 */
/* sampling.so and topk.so through the typed API, with no GPU.
 *  - Validation: every bad argument comes back as FIC_ERR_INVALID_ARGUMENT
 *    naming it, before any module is touched; a call that passes reaches the
 *    module look-up in a runtime holding only the test module and fails with
 *    FIC_ERR_NOT_FOUND, which proves the checks accept it.
 *  - The Philox generator's (seed, offset) sequence, FlashInfer's
 *    get_seed_and_offset worked by hand; the softmax workspace size.
 *  - With the real modules (FIC_ATTN_WHEEL; skipped without): the exports
 *    resolve, the arity table guards the generic path, the wrappers' own
 *    errors come back decoded, and valid calls without a GPU fail cleanly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_util.h"

#define A_PROBS 0x7f0000100000u
#define A_OUT 0x7f0000200000u
#define A_IDX 0x7f0000300000u
#define A_ARR 0x7f0000400000u
#define A_BUF 0x7f0001000000u
#define A_STATES 0x7f0002000000u
#define A_WS 0x7f0003000000u

static int setup(void **state) {
  static const char *const modules[] = {"fic_test", NULL};
  *state = kt_open(fic_test_env("FIC_TEST_JIT_WHEEL"), modules);
  return 0;
}

static fic_runtime *RT(void **state) { return ((kt_runtime *)*state)->rt; }

/* ------------------------------------------------------------ generator */

static void test_philox_sequence(void **state) {
  (void)state;
  fic_philox g;
  uint64_t seed = 0, off = 0;
  FIC_ASSERT_OK(fic_philox_init(&g, 42));
  /* get_seed_and_offset: offset += (inc + 3) // 4 * 4; the advanced offset is returned. */
  const uint64_t inc[] = {1, 4, 5, 0, 32 * 7, 3};
  const uint64_t want[] = {4, 8, 16, 16, 240, 244};
  for (int i = 0; i < 6; i++) {
    FIC_ASSERT_OK(fic_philox_next(&g, inc[i], &seed, &off));
    assert_int_equal(seed, 42);
    assert_int_equal(off, want[i]);
  }
  assert_int_equal(g.offset, 244);
  KT_EXPECT_ARG(fic_philox_init(NULL, 1), "gen", NULL);
  KT_EXPECT_ARG(fic_philox_next(NULL, 1, &seed, &off), "gen", NULL);
  KT_EXPECT_ARG(fic_philox_next(&g, 1, NULL, &off), "seed", NULL);
  KT_EXPECT_ARG(fic_philox_next(&g, UINT64_MAX, &seed, &off), "increment", NULL);
  assert_int_equal(g.offset, 244); /* a refused call changes nothing */
}

static void test_softmax_workspace_size(void **state) {
  (void)state;
  size_t b = 1;
  FIC_ASSERT_OK(fic_softmax_workspace_size(4, 1000, &b));
  assert_int_equal(b, 0);
  FIC_ASSERT_OK(fic_softmax_workspace_size(2, 32000, &b));
  assert_int_equal(b, 2 * 4 * 8);
  FIC_ASSERT_OK(fic_softmax_workspace_size(129, 32000, &b));
  assert_int_equal(b, 0);
  FIC_ASSERT_OK(fic_softmax_workspace_size(128, 24576, &b));
  assert_int_equal(b, 128 * 3 * 8);
  KT_EXPECT_ARG(fic_softmax_workspace_size(-1, 5, &b), "batch", NULL);
  KT_EXPECT_ARG(fic_softmax_workspace_size(1, 5, NULL), "bytes", NULL);
}

/* ------------------------------------------------------------ sampling */

typedef struct smp_fx {
  kt_desc probs, out, idx, karr, parr, buf, states;
  fic_sampling_params p;
} smp_fx;

static smp_fx smp_make(int64_t batch, int64_t vocab) {
  smp_fx f;
  f.probs = kt_cuda(A_PROBS, FIC_F32, 2, batch, vocab, 0, 0);
  f.out = kt_cuda(A_OUT, FIC_I32, 1, batch, 0, 0, 0);
  f.idx = kt_cuda(A_IDX, FIC_I32, 1, batch, 0, 0, 0);
  f.karr = kt_cuda(A_ARR, FIC_I32, 1, batch, 0, 0, 0);
  f.parr = kt_cuda(A_ARR, FIC_F32, 1, batch, 0, 0, 0);
  f.buf = kt_cuda(A_BUF, FIC_F32, 2, batch, vocab, 0, 0);
  f.states = kt_cuda(A_STATES, FIC_U8, 1, 1 << 20, 0, 0, 0);
  fic_sampling_params_init(&f.p);
  f.p.top_k = 10, f.p.top_p = 0.9, f.p.min_p = 0.1;
  return f;
}

/* Point the params at the fixture (pointers refreshed after copies). */
static fic_sampling_params *P(smp_fx *f, int idx, int karr, int parr) {
  f->p.probs = kt_t(&f->probs), f->p.output = kt_t(&f->out);
  f->p.indices = idx ? kt_t(&f->idx) : NULL;
  f->p.top_k_arr = karr ? kt_t(&f->karr) : NULL;
  f->p.top_p_arr = parr ? kt_t(&f->parr) : NULL;
  f->p.min_p_arr = NULL;
  f->p.renorm_buffer = kt_t(&f->buf), f->p.row_states = kt_t(&f->states);
  return &f->p;
}

typedef fic_status (*smp_fn)(fic_runtime *, const fic_sampling_params *, void *);
static const smp_fn k_all[] = {fic_sampling_from_probs,       fic_sampling_from_logits,
                               fic_top_p_sampling_from_probs, fic_top_k_sampling_from_probs,
                               fic_min_p_sampling_from_probs, fic_top_k_top_p_sampling_from_probs};

static void test_sampling_accepts(void **state) {
  fic_runtime *rt = RT(state);
  for (int i = 0; i < 6; i++) {
    smp_fx f = smp_make(4, 1000);
    KT_EXPECT_STATUS(k_all[i](rt, P(&f, 0, 0, 0), NULL), FIC_ERR_NOT_FOUND);
    f.out.t.dtype = FIC_I64, f.idx.t.dtype = FIC_I64, f.idx.shape[0] = f.out.shape[0] = 9;
    if (i != 5) KT_EXPECT_STATUS(k_all[i](rt, P(&f, 1, 0, 0), NULL), FIC_ERR_NOT_FOUND);
    f = smp_make(0, 1000); /* an empty batch does nothing */
    FIC_ASSERT_OK(k_all[i](rt, P(&f, 0, 0, 0), NULL));
  }
  smp_fx f = smp_make(4, 1000);
  f.p.filter_order = FIC_FILTER_JOINT;
  KT_EXPECT_STATUS(fic_top_k_top_p_sampling_from_probs(rt, P(&f, 0, 1, 1), NULL), FIC_ERR_NOT_FOUND);
}

static void test_sampling_rows_and_output(void **state) {
  fic_runtime *rt = RT(state);
  for (int i = 0; i < 6; i++) {
    const char *rows = i == 1 ? "logits" : "probs";
    smp_fx f = smp_make(4, 1000);
    f.probs.t.dtype = FIC_F16; /* the kernels would read fp16 bits as float32 */
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 0, 0, 0), NULL), rows, "float32");
    f = smp_make(4, 1000), f.probs.t.dtype = FIC_BF16;
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 0, 0, 0), NULL), rows, "without checking");
    f = smp_make(4, 1000), f.probs.t.ndim = 3, f.probs.shape[2] = 1;
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 0, 0, 0), NULL), rows, "2-D");
    f = smp_make(4, 1000), f.probs.t.data = (void *)(A_PROBS + 4);
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 0, 0, 0), NULL), rows, "aligned");
    f = smp_make(4, 1000), f.out.shape[0] = 5;
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 0, 0, 0), NULL), "output", "rows of probs");
    f = smp_make(4, 1000), f.out.t.dtype = FIC_F32;
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 0, 0, 0), NULL), "output", "int32 or int64");
    f = smp_make(4, 1000), f.idx.t.dtype = FIC_I64;
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 1, 0, 0), NULL), "indices", "int32");
    f = smp_make(4, 1000), f.idx.shape[0] = 3;
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 1, 0, 0), NULL), "indices", "length of output");
    f = smp_make(4, 1000), f.p.deterministic = 2;
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 0, 0, 0), NULL), "deterministic", NULL);
    f = smp_make(4, 1000), f.p.struct_size = 12;
    KT_EXPECT_ARG(k_all[i](rt, P(&f, 0, 0, 0), NULL), "params", "struct_size");
    KT_EXPECT_ARG(k_all[i](NULL, P(&f, 0, 0, 0), NULL), "rt", NULL);
    KT_EXPECT_ARG(k_all[i](rt, NULL, NULL), "params", NULL);
  }
  KT_EXPECT_ARG(fic_sampling_params_init(NULL), "params", NULL);
}

static void test_sampling_scalars(void **state) {
  fic_runtime *rt = RT(state);
  smp_fx f = smp_make(4, 1000);
  const int64_t bad_k[] = {0, -1, 1001};
  for (int i = 0; i < 3; i++) {
    f.p.top_k = bad_k[i];
    KT_EXPECT_ARG(fic_top_k_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "top_k", "[1, 1000]");
    KT_EXPECT_ARG(fic_top_k_top_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "top_k", "[1, 1000]");
  }
  f.p.top_k = 1000; /* k == vocab is fine */
  KT_EXPECT_STATUS(fic_top_k_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), FIC_ERR_NOT_FOUND);
  const double bad_p[] = {0.0, -0.5, 1.5, NAN, INFINITY};
  for (int i = 0; i < 5; i++) {
    f = smp_make(4, 1000), f.p.top_p = bad_p[i];
    KT_EXPECT_ARG(fic_top_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "top_p", "(0, 1]");
    KT_EXPECT_ARG(fic_top_k_top_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "top_p", "(0, 1]");
    /* With a per-row array the scalar is not used, hence not checked. */
    KT_EXPECT_STATUS(fic_top_p_sampling_from_probs(rt, P(&f, 0, 0, 1), NULL), FIC_ERR_NOT_FOUND);
  }
  const double bad_min_p[] = {-0.1, 1.01, NAN};
  for (int i = 0; i < 3; i++) {
    f = smp_make(4, 1000), f.p.min_p = bad_min_p[i];
    KT_EXPECT_ARG(fic_min_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "min_p", "[0, 1]");
  }
  f = smp_make(4, 1000), f.p.min_p = 0.0;
  KT_EXPECT_STATUS(fic_min_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), FIC_ERR_NOT_FOUND);
  f = smp_make(4, 1000), f.p.filter_order = 2;
  KT_EXPECT_ARG(fic_top_k_top_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "filter_order", "JOINT");
}

static void test_sampling_arrays(void **state) {
  fic_runtime *rt = RT(state);
  smp_fx f = smp_make(4, 1000);
  f.out.t.dtype = FIC_I64; /* the top-k sampling kernel reads top_k_arr as the id type */
  KT_EXPECT_ARG(fic_top_k_sampling_from_probs(rt, P(&f, 0, 1, 0), NULL), "top_k_arr", "int64");
  f.karr.t.dtype = FIC_I64;
  KT_EXPECT_STATUS(fic_top_k_sampling_from_probs(rt, P(&f, 0, 1, 0), NULL), FIC_ERR_NOT_FOUND);
  /* top-k first passes top_k_arr to the renorm kernel, which reads int32. */
  KT_EXPECT_ARG(fic_top_k_top_p_sampling_from_probs(rt, P(&f, 0, 1, 0), NULL), "top_k_arr", "int32");
  f = smp_make(4, 1000), f.karr.shape[0] = 3;
  KT_EXPECT_ARG(fic_top_k_sampling_from_probs(rt, P(&f, 0, 1, 0), NULL), "top_k_arr", "rows of probs");
  f = smp_make(4, 1000), f.parr.t.dtype = FIC_F16;
  KT_EXPECT_ARG(fic_top_p_sampling_from_probs(rt, P(&f, 0, 0, 1), NULL), "top_p_arr", "float32");
  f = smp_make(4, 1000), f.parr.t.ndim = 2, f.parr.shape[1] = 1;
  KT_EXPECT_ARG(fic_top_p_sampling_from_probs(rt, P(&f, 0, 0, 1), NULL), "top_p_arr", "1-D");
  /* With indices, more output rows than array entries would read past the array. */
  f = smp_make(4, 1000), f.out.shape[0] = f.idx.shape[0] = 6;
  KT_EXPECT_ARG(fic_top_p_sampling_from_probs(rt, P(&f, 1, 0, 1), NULL), "top_p_arr", "output has 6 rows");
  f = smp_make(4, 1000), f.p.min_p_arr = NULL;
  f.parr.t.dtype = FIC_BF16;
  P(&f, 0, 0, 0), f.p.min_p_arr = kt_t(&f.parr);
  KT_EXPECT_ARG(fic_min_p_sampling_from_probs(rt, &f.p, NULL), "min_p_arr", "float32");
}

static void test_top_k_first_buffers(void **state) {
  fic_runtime *rt = RT(state);
  smp_fx f = smp_make(4, 1000);
  P(&f, 0, 0, 0), f.p.renorm_buffer = NULL;
  KT_EXPECT_ARG(fic_top_k_top_p_sampling_from_probs(rt, &f.p, NULL), "renorm_buffer", "NULL");
  f = smp_make(4, 1000), f.buf.shape[1] = 999;
  KT_EXPECT_ARG(fic_top_k_top_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "renorm_buffer", "shape of probs");
  f = smp_make(4, 1000), f.states.shape[0] = 4096;
  KT_EXPECT_ARG(fic_top_k_top_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "row_states", "at least");
  f = smp_make(4, 1000), f.states.t.dtype = FIC_I32;
  KT_EXPECT_ARG(fic_top_k_top_p_sampling_from_probs(rt, P(&f, 0, 0, 0), NULL), "row_states", "uint8");
  /* The joint kernel needs neither. */
  f = smp_make(4, 1000), f.p.filter_order = FIC_FILTER_JOINT;
  P(&f, 0, 0, 0), f.p.renorm_buffer = NULL, f.p.row_states = NULL;
  KT_EXPECT_STATUS(fic_top_k_top_p_sampling_from_probs(rt, &f.p, NULL), FIC_ERR_NOT_FOUND);
}

/* ------------------------------------------------------------ softmax, renorm, mask */

static void test_softmax(void **state) {
  fic_runtime *rt = RT(state);
  kt_desc ws = kt_cuda(A_WS, FIC_U8, 1, 1 << 20, 0, 0, 0), lg = kt_cuda(A_PROBS, FIC_F32, 2, 2, 32000, 0, 0);
  kt_desc out = kt_cuda(A_OUT, FIC_F32, 2, 2, 32000, 0, 0), temp = kt_cuda(A_ARR, FIC_F32, 1, 2, 0, 0, 0);
  KT_EXPECT_STATUS(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), NULL, 0.7, 0, NULL), FIC_ERR_NOT_FOUND);
  KT_EXPECT_STATUS(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), kt_t(&temp), NAN, 0, NULL), FIC_ERR_NOT_FOUND);
  const double bad_t[] = {0.0, -1.0, NAN, INFINITY};
  for (int i = 0; i < 4; i++)
    KT_EXPECT_ARG(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), NULL, bad_t[i], 0, NULL), "temperature", "> 0");
  lg.t.dtype = FIC_F16;
  KT_EXPECT_ARG(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), NULL, 1, 0, NULL), "logits", "float32");
  lg.t.dtype = FIC_F32, out.t.dtype = FIC_BF16;
  KT_EXPECT_ARG(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), NULL, 1, 0, NULL), "output", "float32");
  out.t.dtype = FIC_F32, out.shape[1] = 100;
  KT_EXPECT_ARG(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), NULL, 1, 0, NULL), "output", "shape of logits");
  out.shape[1] = 32000, ws.shape[0] = 63; /* needs 2 rows * 4 slices * 8 bytes */
  KT_EXPECT_ARG(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), NULL, 1, 0, NULL), "workspace", "needs 64");
  ws.shape[0] = 64;
  KT_EXPECT_STATUS(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), NULL, 1, 0, NULL), FIC_ERR_NOT_FOUND);
  temp.shape[0] = 3;
  KT_EXPECT_ARG(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), kt_t(&temp), 1, 0, NULL), "temperature_arr",
                "rows of logits");
}

static void test_renorm_and_mask(void **state) {
  fic_runtime *rt = RT(state);
  kt_desc in = kt_cuda(A_PROBS, FIC_F32, 2, 4, 1000, 0, 0), out = kt_cuda(A_OUT, FIC_F32, 2, 4, 1000, 0, 0);
  kt_desc st = kt_cuda(A_STATES, FIC_U8, 1, 1 << 20, 0, 0, 0), karr = kt_cuda(A_ARR, FIC_I32, 1, 4, 0, 0, 0);
  KT_EXPECT_STATUS(fic_top_p_renorm_probs(rt, kt_t(&in), kt_t(&out), NULL, 0.5, NULL), FIC_ERR_NOT_FOUND);
  KT_EXPECT_ARG(fic_top_p_renorm_probs(rt, kt_t(&in), kt_t(&out), NULL, 0.0, NULL), "top_p", "(0, 1]");
  const fic_dtype floats[] = {FIC_F32, FIC_F16, FIC_BF16};
  for (int d = 0; d < 3; d++) {
    in.t.dtype = out.t.dtype = floats[d];
    KT_EXPECT_STATUS(fic_top_k_renorm_probs(rt, kt_t(&in), kt_t(&out), NULL, 5, kt_t(&st), NULL), FIC_ERR_NOT_FOUND);
    KT_EXPECT_STATUS(fic_top_k_mask_logits(rt, kt_t(&in), kt_t(&out), kt_t(&karr), 0, kt_t(&st), NULL),
                     FIC_ERR_NOT_FOUND);
  }
  in.t.dtype = FIC_F16; /* top-p renorm reads float32 only */
  KT_EXPECT_ARG(fic_top_p_renorm_probs(rt, kt_t(&in), kt_t(&out), NULL, 0.5, NULL), "probs", "float32");
  out.t.dtype = FIC_F32;
  KT_EXPECT_ARG(fic_top_k_renorm_probs(rt, kt_t(&in), kt_t(&out), NULL, 5, kt_t(&st), NULL), "renorm_probs",
                "dtype of probs");
  KT_EXPECT_ARG(fic_top_k_mask_logits(rt, kt_t(&in), kt_t(&out), NULL, 5, kt_t(&st), NULL), "mask_logits",
                "dtype of logits");
  in.t.dtype = FIC_I32, out.t.dtype = FIC_I32;
  KT_EXPECT_ARG(fic_top_k_mask_logits(rt, kt_t(&in), kt_t(&out), NULL, 5, kt_t(&st), NULL), "logits", "bfloat16");
  in.t.dtype = out.t.dtype = FIC_F32;
  KT_EXPECT_ARG(fic_top_k_renorm_probs(rt, kt_t(&in), kt_t(&out), NULL, 0, kt_t(&st), NULL), "top_k", NULL);
  KT_EXPECT_ARG(fic_top_k_mask_logits(rt, kt_t(&in), kt_t(&out), NULL, 1001, kt_t(&st), NULL), "top_k", NULL);
  karr.t.dtype = FIC_I64;
  KT_EXPECT_ARG(fic_top_k_renorm_probs(rt, kt_t(&in), kt_t(&out), kt_t(&karr), 0, kt_t(&st), NULL), "top_k_arr",
                "int32");
  KT_EXPECT_ARG(fic_top_k_renorm_probs(rt, kt_t(&in), kt_t(&out), NULL, 5, NULL, NULL), "row_states", "NULL");
  st.shape[0] = 1000;
  KT_EXPECT_ARG(fic_top_k_mask_logits(rt, kt_t(&in), kt_t(&out), NULL, 5, kt_t(&st), NULL), "row_states", "bytes");
}

/* ------------------------------------------------------------ speculative sampling */

typedef struct spec_fx {
  kt_desc draft, ids, target, out, acc, emit;
  fic_chain_speculative_sampling_params p;
} spec_fx;

static spec_fx spec_make(int64_t b, int64_t n, int64_t v) {
  spec_fx f;
  f.draft = kt_cuda(A_PROBS, FIC_F32, 3, b, n, v, 0);
  f.ids = kt_cuda(A_IDX, FIC_I32, 2, b, n, 0, 0);
  f.target = kt_cuda(A_BUF, FIC_F32, 3, b, n + 1, v, 0);
  f.out = kt_cuda(A_OUT, FIC_I32, 2, b, n + 1, 0, 0);
  f.acc = kt_cuda(A_ARR, FIC_I32, 1, b, 0, 0, 0);
  f.emit = kt_cuda(A_WS, FIC_I32, 1, b, 0, 0, 0);
  fic_chain_speculative_sampling_params_init(&f.p);
  return f;
}

static fic_status spec(fic_runtime *rt, spec_fx *f) {
  f->p.draft_probs = kt_t(&f->draft), f->p.draft_token_ids = kt_t(&f->ids), f->p.target_probs = kt_t(&f->target);
  f->p.output_token_ids = kt_t(&f->out), f->p.output_accepted_token_num = kt_t(&f->acc);
  f->p.output_emitted_draft_token_num = kt_t(&f->emit);
  return fic_chain_speculative_sampling(rt, &f->p, NULL);
}

static void test_speculative(void **state) {
  fic_runtime *rt = RT(state);
  spec_fx f = spec_make(3, 4, 100);
  KT_EXPECT_STATUS(spec(rt, &f), FIC_ERR_NOT_FOUND);
  f.draft.t.dtype = FIC_F16;
  KT_EXPECT_ARG(spec(rt, &f), "draft_probs", "float32");
  f = spec_make(3, 4, 100), f.target.t.dtype = FIC_BF16;
  KT_EXPECT_ARG(spec(rt, &f), "target_probs", "float32");
  f = spec_make(3, 4, 100), f.target.shape[1] = 4;
  KT_EXPECT_ARG(spec(rt, &f), "target_probs", "draft tokens + 1");
  f = spec_make(3, 4, 100), f.target.shape[2] = 99;
  KT_EXPECT_ARG(spec(rt, &f), "target_probs", "vocabulary");
  f = spec_make(3, 4, 100), f.ids.t.dtype = FIC_I64;
  KT_EXPECT_ARG(spec(rt, &f), "draft_token_ids", "int32");
  f = spec_make(3, 4, 100), f.out.shape[1] = 4;
  KT_EXPECT_ARG(spec(rt, &f), "output_token_ids", "draft tokens");
  f = spec_make(3, 4, 100), f.acc.shape[0] = 2;
  KT_EXPECT_ARG(spec(rt, &f), "output_accepted_token_num", "batch");
  f = spec_make(3, 4, 100), f.emit.t.dtype = FIC_I64;
  KT_EXPECT_ARG(spec(rt, &f), "output_emitted_draft_token_num", "int32");
  f = spec_make(3, 4, 100), f.p.deterministic = -1;
  KT_EXPECT_ARG(spec(rt, &f), "deterministic", NULL);
  KT_EXPECT_ARG(fic_chain_speculative_sampling(rt, NULL, NULL), "params", NULL);
  KT_EXPECT_ARG(fic_chain_speculative_sampling_params_init(NULL), "params", NULL);
}

/* ------------------------------------------------------------ top-k */

static void test_radix_topk(void **state) {
  fic_runtime *rt = RT(state);
  kt_desc in = kt_cuda(A_PROBS, FIC_BF16, 2, 4, 4096, 0, 0), idx = kt_cuda(A_IDX, FIC_I32, 2, 4, 64, 0, 0);
  kt_desc val = kt_cuda(A_OUT, FIC_BF16, 2, 4, 64, 0, 0), st = kt_cuda(A_STATES, FIC_U8, 1, 1 << 20, 0, 0, 0);
  KT_EXPECT_STATUS(fic_radix_topk(rt, kt_t(&in), kt_t(&idx), kt_t(&val), kt_t(&st), 64, NULL), FIC_ERR_NOT_FOUND);
  KT_EXPECT_ARG(fic_radix_topk(rt, kt_t(&in), kt_t(&idx), kt_t(&val), kt_t(&st), 4097, NULL), "top_k", NULL);
  KT_EXPECT_ARG(fic_radix_topk(rt, kt_t(&in), kt_t(&idx), kt_t(&val), kt_t(&st), 63, NULL), "output_indices", "top_k");
  KT_EXPECT_ARG(fic_radix_topk(rt, kt_t(&in), kt_t(&idx), kt_t(&val), NULL, 64, NULL), "row_states", NULL);
  val.t.dtype = FIC_F32;
  KT_EXPECT_ARG(fic_radix_topk(rt, kt_t(&in), kt_t(&idx), kt_t(&val), kt_t(&st), 64, NULL), "output_values",
                "dtype of input");
  val.t.dtype = FIC_BF16, idx.t.dtype = FIC_I64;
  KT_EXPECT_ARG(fic_radix_topk(rt, kt_t(&in), kt_t(&idx), kt_t(&val), kt_t(&st), 64, NULL), "output_indices", "int32");
  idx.t.dtype = FIC_I32;
  kt_desc off = kt_cuda(A_ARR, FIC_I32, 1, 4, 0, 0, 0), len = kt_cuda(A_WS, FIC_I32, 1, 4, 0, 0, 0);
  KT_EXPECT_STATUS(
      fic_radix_topk_ragged_transform(rt, kt_t(&in), kt_t(&idx), kt_t(&off), kt_t(&len), kt_t(&st), 64, NULL),
      FIC_ERR_NOT_FOUND);
  len.shape[0] = 5;
  KT_EXPECT_ARG(fic_radix_topk_ragged_transform(rt, kt_t(&in), kt_t(&idx), kt_t(&off), kt_t(&len), kt_t(&st), 64, NULL),
                "lengths", "rows of input");
}

static void test_page_table_transform(void **state) {
  fic_runtime *rt = RT(state);
  kt_desc in = kt_cuda(A_PROBS, FIC_F16, 2, 4, 2048, 0, 0), out = kt_cuda(A_IDX, FIC_I32, 2, 4, 32, 0, 0);
  kt_desc src = kt_cuda(A_OUT, FIC_I32, 2, 2, 2048, 0, 0), r2b = kt_cuda(A_ARR, FIC_I32, 1, 4, 0, 0, 0);
  kt_desc len = kt_cuda(A_WS, FIC_I32, 1, 4, 0, 0, 0), st = kt_cuda(A_STATES, FIC_U8, 1, 1 << 20, 0, 0, 0);
  fic_radix_topk_page_table_params p;
  FIC_ASSERT_OK(fic_radix_topk_page_table_params_init(&p));
  p.input = kt_t(&in), p.output_page_table = kt_t(&out), p.src_page_table = kt_t(&src);
  p.row_to_batch = kt_t(&r2b), p.lengths = kt_t(&len), p.row_states = kt_t(&st), p.top_k = 32;
  KT_EXPECT_STATUS(fic_radix_topk_page_table_transform(rt, &p, NULL), FIC_ERR_NOT_FOUND);
  p.row_to_batch = NULL; /* then src_page_table needs a row per input row */
  KT_EXPECT_ARG(fic_radix_topk_page_table_transform(rt, &p, NULL), "src_page_table", "without row_to_batch");
  p.row_to_batch = kt_t(&r2b), src.shape[1] = 1024;
  KT_EXPECT_ARG(fic_radix_topk_page_table_transform(rt, &p, NULL), "src_page_table", "at least");
  src.shape[1] = 2048, p.top_k = 0;
  KT_EXPECT_ARG(fic_radix_topk_page_table_transform(rt, &p, NULL), "top_k", NULL);
  p.top_k = 32, p.struct_size = 0;
  KT_EXPECT_ARG(fic_radix_topk_page_table_transform(rt, &p, NULL), "params", NULL);
  int ok = 7;
  KT_EXPECT_ARG(fic_can_implement_filtered_topk(rt, 0, NULL), "out", NULL);
  KT_EXPECT_ARG(fic_can_implement_filtered_topk(rt, -1, &ok), "device_id", NULL);
  KT_EXPECT_STATUS(fic_can_implement_filtered_topk(rt, 0, &ok), FIC_ERR_NOT_FOUND);
  assert_int_equal(ok, 7);
}

/* ------------------------------------------------------------ the real modules */

static int setup_real(void **state) {
  static const char *const modules[] = {"sampling", "topk", NULL};
  const char *wheel = kt_attn_wheel();
  *state = wheel ? kt_try_open(wheel, modules) : NULL;
  return 0;
}

static fic_runtime *need_real(void **state) {
  return kt_need_rt(state, "no wheel with the real sampling/topk modules");
}

#define EXPECT_KERNEL(call, kind, substr) KT_EXPECT_KERNEL((call), (kind), (substr))

static const struct {
  const char *module, *name;
  int arity;
} k_exports[] = {
    {"sampling", "softmax", 6},
    {"sampling", "sampling_from_probs", 6},
    {"sampling", "sampling_from_logits", 6},
    {"sampling", "top_p_sampling_from_probs", 8},
    {"sampling", "top_k_sampling_from_probs", 8},
    {"sampling", "min_p_sampling_from_probs", 8},
    {"sampling", "top_k_top_p_sampling_from_probs", 10},
    {"sampling", "top_p_renorm_probs", 4},
    {"sampling", "top_k_renorm_probs", 5},
    {"sampling", "top_k_mask_logits", 5},
    {"sampling", "chain_speculative_sampling", 9},
    {"topk", "radix_topk", 5},
    {"topk", "radix_topk_page_table_transform", 7},
    {"topk", "radix_topk_ragged_transform", 6},
    {"topk", "can_implement_filtered_topk", 0},
};

static void test_real_exports_and_arity(void **state) {
  fic_runtime *rt = need_real(state);
  fic_arg args[11];
  for (int i = 0; i < 11; i++) args[i] = fic_arg_none();
  for (size_t i = 0; i < sizeof k_exports / sizeof k_exports[0]; i++) {
    fic_function *f = kt_fn(rt, k_exports[i].module, k_exports[i].name);
    KT_EXPECT_STATUS(fic_function_call(f, args, k_exports[i].arity + 1, -1, NULL, NULL), FIC_ERR_ABI);
    char want[16];
    snprintf(want, sizeof want, "%d", k_exports[i].arity);
    assert_non_null(strstr(fic_last_error_message(), want));
  }
}

/* The wrappers' own checks, reached through the generic path (our
 * validation would refuse these calls first). */
static void test_real_wrapper_errors(void **state) {
  fic_runtime *rt = need_real(state);
  smp_fx f = smp_make(4, 1000);
  f.parr.t.ndim = 2, f.parr.shape[1] = 1;
  fic_arg a[8] = {fic_arg_tensor(kt_t(&f.probs)),
                  fic_arg_tensor(kt_t(&f.out)),
                  fic_arg_none(),
                  fic_arg_tensor(kt_t(&f.parr)),
                  fic_arg_float(0),
                  fic_arg_bool(1),
                  fic_arg_int(1),
                  fic_arg_int(4)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "sampling", "top_p_sampling_from_probs"), a, 8, -1, NULL, NULL),
                "ValueError", "Expected a 1D tensor or scalar");
  f = smp_make(4, 1000), f.parr.shape[0] = 3;
  a[3] = fic_arg_tensor(kt_t(&f.parr)), a[0] = fic_arg_tensor(kt_t(&f.probs)), a[1] = fic_arg_tensor(kt_t(&f.out));
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "sampling", "top_p_sampling_from_probs"), a, 8, -1, NULL, NULL),
                "ValueError", "batch size mismatch");
  spec_fx s = spec_make(3, 4, 100);
  s.target.shape[1] = 4;
  fic_arg sa[9] = {fic_arg_tensor(kt_t(&s.draft)),
                   fic_arg_tensor(kt_t(&s.ids)),
                   fic_arg_tensor(kt_t(&s.target)),
                   fic_arg_tensor(kt_t(&s.out)),
                   fic_arg_tensor(kt_t(&s.acc)),
                   fic_arg_tensor(kt_t(&s.emit)),
                   fic_arg_bool(1),
                   fic_arg_int(0),
                   fic_arg_int(0)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "sampling", "chain_speculative_sampling"), sa, 9, -1, NULL, NULL),
                "InternalError", "num_speculate_tokens + 1");
}

/* A valid typed call passes our checks and the wrapper's, then fails where
 * it first needs CUDA (the device guard): an error, not a crash. Skipped
 * where a GPU is present (the fake pointers would be launched on). */
static void test_real_valid_call_without_gpu(void **state) {
  fic_runtime *rt = need_real(state);
  kt_skip_if_gpu(rt);
  for (int i = 0; i < 6; i++) {
    smp_fx f = smp_make(4, 1000);
    fic_status s = k_all[i](rt, P(&f, 0, 0, 0), NULL);
    print_message("no-GPU sampling call %d: %s: %s: %s\n", i, fic_status_string(s), fic_last_error_kind(),
                  fic_last_error_message());
    assert_int_equal(s, FIC_ERR_KERNEL);
    /* Without a driver the wrapper's device guard raises (cudaSetDevice). */
    assert_non_null(strstr(fic_last_error_message(), "CUDA"));
  }
  kt_desc in = kt_cuda(A_PROBS, FIC_F32, 2, 4, 1000, 0, 0), out = kt_cuda(A_OUT, FIC_F32, 2, 4, 1000, 0, 0);
  kt_desc st = kt_cuda(A_STATES, FIC_U8, 1, 1 << 20, 0, 0, 0);
  KT_EXPECT_STATUS(fic_top_k_mask_logits(rt, kt_t(&in), kt_t(&out), NULL, 5, kt_t(&st), NULL), FIC_ERR_KERNEL);
  spec_fx s = spec_make(3, 4, 100);
  KT_EXPECT_STATUS(spec(rt, &s), FIC_ERR_KERNEL);
  /* FlashInfer's function answers false when cudaGetDevice fails. */
  int ok = 7;
  FIC_ASSERT_OK(fic_can_implement_filtered_topk(rt, 0, &ok));
  assert_int_equal(ok, 0);
}

int main(void) {
  const struct CMUnitTest validation[] = {
      cmocka_unit_test(test_philox_sequence),     cmocka_unit_test(test_softmax_workspace_size),
      cmocka_unit_test(test_sampling_accepts),    cmocka_unit_test(test_sampling_rows_and_output),
      cmocka_unit_test(test_sampling_scalars),    cmocka_unit_test(test_sampling_arrays),
      cmocka_unit_test(test_top_k_first_buffers), cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_renorm_and_mask),     cmocka_unit_test(test_speculative),
      cmocka_unit_test(test_radix_topk),          cmocka_unit_test(test_page_table_transform),
  };
  const struct CMUnitTest real[] = {
      cmocka_unit_test(test_real_exports_and_arity),
      cmocka_unit_test(test_real_wrapper_errors),
      cmocka_unit_test(test_real_valid_call_without_gpu),
  };
  return kt_groups_status(cmocka_run_group_tests(validation, setup, kt_teardown),
                          cmocka_run_group_tests(real, setup_real, kt_teardown));
}
