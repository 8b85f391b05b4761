/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step: flags and the configuration checks made before any GPU work. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return DS_EXIT_CONFIG;
}

void ds_usage(const char *prog) {
  printf(
      "usage: %s [--layers N] [--batch B] [--context L] [--steps S] [--page-size P]\n"
      "          [--fill prefill|random] [--greedy] [--eager] [--seed S] [--small] [--check]\n"
      "          [--json FILE] [--jit-cache-wheel W] [--tvmffi-wheel T] [--cache-dir D]\n"
      "          [--q-heads N] [--kv-heads N] [--head-dim N] [--pages N] [--no-pdl]\n"
      "          [--gemm lt|ex] [--host-profile]\n"
      "A Llama-3-8B-shaped decoder on flashinfer-c and cuBLAS: prefill, then S decode steps\n"
      "(CUDA graph unless --eager). --check: small shape, float64 reference, eager == graph.\n"
      "--gemm: cublasLtMatmul with algorithms fixed at start-up (lt, default) or cublasGemmEx (ex).\n"
      "--host-profile: measure (as --json does) and break the eager step's host time down per call.\n"
      "Exit: 0 ok, 1 a check failed, 2 bad configuration or missing module, 3 no CUDA device.\n"
      "See examples/decode_step/README.md.\n",
      prog);
}

/* A whole decimal integer in [lo, hi]. */
static int parse_int(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out, char *err, size_t n) {
  if (!s) return fail(err, n, "%s needs a value", flag);
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end) return fail(err, n, "%s: '%s' is not an integer", flag, s);
  if (v < lo || v > hi) return fail(err, n, "%s %lld is out of range [%" PRId64 ", %" PRId64 "]", flag, v, lo, hi);
  *out = v;
  return 0;
}

int ds_parse(int argc, char **argv, ds_config *c, int *done, char *err, size_t n) {
  memset(c, 0, sizeof *c);
  c->layers = 2, c->batch = 8, c->context = 1024, c->steps = 16, c->page_size = 16, c->seed = 1234;
  c->gemm_lt = 1;
  *done = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t x = 0;
    int st = 0, used = 1;
#define INT_FLAG(name, lo, hi, field)                                  \
  if (!strcmp(a, name)) {                                              \
    if ((st = parse_int(name, v, lo, hi, &x, err, n)) != 0) return st; \
    field = x;                                                         \
    i++;                                                               \
    continue;                                                          \
  }
    /* Wide ranges here; ds_config_finish gives the precise reasons. */
    INT_FLAG("--layers", INT32_MIN, INT32_MAX, c->layers)
    INT_FLAG("--batch", INT32_MIN, INT32_MAX, c->batch)
    INT_FLAG("--context", INT32_MIN, INT32_MAX, c->context)
    INT_FLAG("--steps", INT32_MIN, INT32_MAX, c->steps)
    INT_FLAG("--page-size", INT32_MIN, INT32_MAX, c->page_size)
    INT_FLAG("--seed", 0, UINT32_MAX, c->seed)
    INT_FLAG("--q-heads", 1, 1024, c->q_heads)
    INT_FLAG("--kv-heads", 1, 1024, c->kv_heads)
    INT_FLAG("--head-dim", 1, 4096, c->head_dim)
    INT_FLAG("--pages", 1, INT32_MAX, c->pages)
#undef INT_FLAG
    (void)st;
    if (!strcmp(a, "--fill")) {
      if (!v || (strcmp(v, "random") && strcmp(v, "prefill")))
        return fail(err, n, "--fill takes 'prefill' or 'random'");
      c->fill_random = !strcmp(v, "random");
    } else if (!strcmp(a, "--gemm")) {
      if (!v || (strcmp(v, "lt") && strcmp(v, "ex"))) return fail(err, n, "--gemm takes 'lt' or 'ex'");
      c->gemm_lt = !strcmp(v, "lt");
    } else if (!strcmp(a, "--json")) {
      if (!v) return fail(err, n, "--json needs a file name");
      c->json = v;
    } else if (!strcmp(a, "--jit-cache-wheel")) {
      if (!v) return fail(err, n, "--jit-cache-wheel needs a path");
      c->jit_wheel = v;
    } else if (!strcmp(a, "--tvmffi-wheel")) {
      if (!v) return fail(err, n, "--tvmffi-wheel needs a path");
      c->tvmffi_wheel = v;
    } else if (!strcmp(a, "--cache-dir")) {
      if (!v) return fail(err, n, "--cache-dir needs a path");
      c->cache_dir = v;
    } else {
      used = 0;
      if (!strcmp(a, "--greedy"))
        c->greedy = 1;
      else if (!strcmp(a, "--eager"))
        c->eager = 1;
      else if (!strcmp(a, "--small"))
        c->small = 1;
      else if (!strcmp(a, "--check"))
        c->check = 1;
      else if (!strcmp(a, "--no-pdl"))
        c->no_pdl = 1;
      else if (!strcmp(a, "--host-profile"))
        c->host_profile = 1;
      else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        ds_usage(argv[0]);
        *done = 1;
        return 0;
      } else
        return fail(err, n, "unknown option '%s' (see --help)", a);
    }
    i += used;
  }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--batch")) c->given_batch = 1;
    if (!strcmp(argv[i], "--context")) c->given_context = 1;
    if (!strcmp(argv[i], "--steps")) c->given_steps = 1;
  }
  return 0;
}

int64_t ds_seq_context(const ds_config *c, int64_t i) {
  if (!c->check) return c->context;
  int64_t l = c->context - 7 * i;
  return l < 1 ? 1 : l;
}

int ds_config_finish(ds_config *c, char *err, size_t n) {
  if (c->check) {
    /* --check: the small shape, a real prefill, greedy; a batch of prompts of
     * different lengths, short enough for the float64 host reference. */
    c->small = 1, c->fill_random = 0, c->greedy = 1;
    if (!c->given_batch) c->batch = 3;
    if (!c->given_context) c->context = 100;
    if (!c->given_steps) c->steps = 8;
  }
  if (c->small) {
    c->hidden = 512, c->mlp = 1024, c->vocab = 1000;
    if (!c->q_heads) c->q_heads = 4;
    if (!c->kv_heads) c->kv_heads = 1;
  } else {
    c->hidden = 4096, c->mlp = 14336, c->vocab = 128256;
    if (!c->q_heads) c->q_heads = 32;
    if (!c->kv_heads) c->kv_heads = 8;
  }
  if (!c->head_dim) c->head_dim = 128;
  c->eps = 1e-5, c->rope_theta = 500000.0, c->rope_scale = 8.0;
  c->rope_low = 1.0, c->rope_high = 4.0, c->rope_old_ctx = 8192.0;

  if (c->layers < 1 || c->layers > 128) return fail(err, n, "--layers %d is out of range [1, 128]", c->layers);
  if (c->batch < 1 || c->batch > 4096) return fail(err, n, "--batch %d is out of range [1, 4096]", c->batch);
  if (c->context < 1 || c->context > 131072)
    return fail(err, n, "--context %d is out of range [1, 131072]", c->context);
  if (c->steps < 1 || c->steps > 4096) return fail(err, n, "--steps %d is out of range [1, 4096]", c->steps);
  if (c->check && c->steps < 3)
    return fail(err, n, "--check needs --steps >= 3 (it checks the logits of the first 3 decode steps)");
  if (c->page_size < 1 || c->page_size > 1024)
    return fail(err, n, "--page-size %d is out of range [1, 1024]", c->page_size);
  if (c->check && c->batch > 16) return fail(err, n, "--check takes --batch <= 16 (float64 host reference)");
  if (c->check && c->context > 512) return fail(err, n, "--check takes --context <= 512 (float64 host reference)");

  /* Heads: what the kernels can run. */
  if (c->q_heads % c->kv_heads != 0)
    return fail(err, n,
                "num_q_heads %" PRId64 " is not a multiple of num_kv_heads %" PRId64
                ": FlashInfer's grouped-query attention kernels need whole groups",
                c->q_heads, c->kv_heads);
  if (c->head_dim != 64 && c->head_dim != 128 && c->head_dim != 256)
    return fail(err, n,
                "head_dim %" PRId64 " has no attention module (FlashInfer's bf16 decode/prefill modules: 64, 128, 256)",
                c->head_dim);
  int64_t group = c->q_heads / c->kv_heads;
  c->tensor_core_decode = !(group == 1 || group == 2 || group == 3 || group == 4 || group == 8);
  if (c->kv_heads * (c->head_dim / 8) > 1024)
    return fail(err, n,
                "num_kv_heads %" PRId64 " x head_dim %" PRId64
                " is too many for append_paged_kv_cache "
                "(one thread per 8 elements of a token, at most 1024)",
                c->kv_heads, c->head_dim);

  /* The KV cache: every sequence's prompt plus its decode steps. */
  int64_t total = (int64_t)c->context + c->steps;
  c->pages_per_seq = (total + c->page_size - 1) / c->page_size;
  int64_t need = c->pages_per_seq * c->batch;
  if (need > INT32_MAX) return fail(err, n, "the KV cache needs %" PRId64 " pages: more than int32 page ids", need);
  c->num_pages = c->pages ? c->pages : need;
  if (c->num_pages < need)
    return fail(err, n,
                "KV cache too small: %" PRId64
                " pages of %d tokens cannot hold %d sequences of %d prompt + %d "
                "decode tokens (%" PRId64 " pages each, %" PRId64 " in all)",
                c->num_pages, c->page_size, c->batch, c->context, c->steps, c->pages_per_seq, need);
  int64_t chunk = DS_PREFILL_TOKENS / c->context;
  c->seqs_per_chunk = chunk < 1 ? 1 : chunk;
  return 0;
}

#define DS_ATTN_SUFFIX "_posenc_0_use_swa_False_use_logits_cap_False"

int ds_modules(const ds_config *c, char buf[DS_MAX_MODULES][DS_MODULE_NAME], const char *names[DS_MAX_MODULES + 1]) {
  int k = 0;
  long long d = (long long)c->head_dim;
  /* the attention modules first: a wheel without them is the likely mistake */
  if (!c->tensor_core_decode)
    snprintf(buf[k++], DS_MODULE_NAME,
             "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_%lld_"
             "head_dim_vo_%lld" DS_ATTN_SUFFIX,
             d, d);
  if (!c->fill_random || c->tensor_core_decode)
    snprintf(buf[k++], DS_MODULE_NAME,
             "batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_%lld_"
             "head_dim_vo_%lld" DS_ATTN_SUFFIX "_f16qk_False",
             d, d);
  const char *fixed[] = {"norm", "rope", "page", "silu_and_mul", "sampling"};
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) snprintf(buf[k++], DS_MODULE_NAME, "%s", fixed[i]);
  for (int i = 0; i < k; i++) names[i] = buf[i];
  names[k] = NULL;
  return k;
}
