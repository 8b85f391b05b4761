/* SPDX-License-Identifier: Apache-2.0 */
/* FlashInfer 0.6.3 module names (see module_names.h).
 *
 * Each family's name is written as a template that reads like the Python
 * f-string it mirrors (flashinfer/jit/attention/modules.py, jit/xqa.py):
 * `{key}` stands for a parameter, everything else is literal. One small
 * engine renders a template from a parameter struct and matches a name
 * against it, so naming and parsing cannot drift apart. No parameter value
 * contains '_' (dtype tokens, decimal integers, True/False), so a value ends
 * at the next '_' or at the end of the name. */
#include "kernels/module_names.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernels/validate.h"

/* ---- dtype tokens: flashinfer/jit/utils.py filename_safe_dtype_map ---- */

static const struct {
  const char *token;
  fic_dtype dtype;
} k_dtype_tokens[] = {
    {"f16", {FIC_DTYPE_FLOAT, 16, 1}},
    {"bf16", {FIC_DTYPE_BFLOAT, 16, 1}},
    {"e4m3", {10, 8, 1}},
    {"e5m2", {12, 8, 1}},
    {"i8", {FIC_DTYPE_INT, 8, 1}},
    {"u8", {FIC_DTYPE_UINT, 8, 1}},
    {"i32", {FIC_DTYPE_INT, 32, 1}},
    {"u32", {FIC_DTYPE_UINT, 32, 1}},
    {"i64", {FIC_DTYPE_INT, 64, 1}},
    {"u64", {FIC_DTYPE_UINT, 64, 1}},
};
#define DTYPE_TOKEN_COUNT (sizeof k_dtype_tokens / sizeof k_dtype_tokens[0])

const char *fic__dtype_token(fic_dtype d) {
  for (size_t i = 0; i < DTYPE_TOKEN_COUNT; i++)
    if (fic__dtype_eq(k_dtype_tokens[i].dtype, d)) return k_dtype_tokens[i].token;
  return NULL;
}

static bool dtype_from_token(const char *s, size_t n, fic_dtype *out) {
  for (size_t i = 0; i < DTYPE_TOKEN_COUNT; i++)
    if (strlen(k_dtype_tokens[i].token) == n && memcmp(k_dtype_tokens[i].token, s, n) == 0) {
      *out = k_dtype_tokens[i].dtype;
      return true;
    }
  return false;
}

static bool dtype_is_float(fic_dtype d) {
  const char *t = fic__dtype_token(d);
  return t && (t[0] == 'f' || t[0] == 'b' || t[0] == 'e');
}

static bool dtype_is_fp8(fic_dtype d) {
  const char *t = fic__dtype_token(d);
  return t && t[0] == 'e';
}

/* Format why a parameter set cannot be built into `why`; returns `why`. */
static const char *explain(char *why, size_t n, const char *fmt, ...) FIC_PRINTF(3, 4);
static const char *explain(char *why, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, n, fmt, ap);
  va_end(ap);
  return why;
}

/* ---- the template engine ---- */

typedef enum field_kind {
  FK_DTYPE,   /* fic_dtype, printed as its token */
  FK_INT,     /* int32_t, decimal */
  FK_PYBOOL,  /* bool, Python str(): True / False */
  FK_LOWBOOL, /* bool, str().lower(): true / false */
} field_kind;

typedef struct field_spec {
  const char *key;
  field_kind kind;
  size_t offset;
  const char *label; /* the parameter's name in messages */
} field_spec;

typedef struct field_table {
  const field_spec *fields;
  size_t count;
} field_table;

typedef struct name_writer {
  char buf[FIC__MODULE_NAME_CAP];
  size_t len;
  bool ok; /* false once something did not fit or had no token */
} name_writer;

static void put_text(name_writer *w, const char *s, size_t n) {
  if (!w->ok || w->len + n >= sizeof w->buf) {
    w->ok = false;
    return;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

static const field_spec *find_field(const field_table *t, const char *key, size_t n) {
  for (size_t i = 0; i < t->count; i++)
    if (strlen(t->fields[i].key) == n && memcmp(t->fields[i].key, key, n) == 0) return &t->fields[i];
  return NULL;
}

static void put_value(name_writer *w, const field_spec *f, const void *params) {
  const char *at = (const char *)params + f->offset;
  char num[16];
  const char *text = NULL;
  switch (f->kind) {
    case FK_DTYPE: {
      fic_dtype d;
      memcpy(&d, at, sizeof d);
      text = fic__dtype_token(d);
      break;
    }
    case FK_INT: {
      int32_t v;
      memcpy(&v, at, sizeof v);
      snprintf(num, sizeof num, "%d", (int)v);
      text = num;
      break;
    }
    case FK_PYBOOL:
      text = *(const bool *)at ? "True" : "False";
      break;
    case FK_LOWBOOL:
      text = *(const bool *)at ? "true" : "false";
      break;
  }
  if (!text)
    w->ok = false;
  else
    put_text(w, text, strlen(text));
}

/* Render `tmpl` (+ `suffix`) for `params` into `w`. */
static void render(name_writer *w, const char *tmpl, const char *suffix, const field_table *t, const void *params) {
  w->len = 0;
  w->buf[0] = '\0';
  w->ok = true;
  for (const char *p = tmpl; *p;) {
    const char *close = *p == '{' ? strchr(p, '}') : NULL;
    if (!close) {
      put_text(w, p++, 1);
      continue;
    }
    const field_spec *f = find_field(t, p + 1, (size_t)(close - p - 1));
    if (f)
      put_value(w, f, params);
    else
      w->ok = false; /* a template names an unknown key: a bug here */
    p = close + 1;
  }
  put_text(w, suffix, strlen(suffix));
}

/* Parse one value [s, s+n) of kind f->kind into params. Integers are plain
 * decimal without leading zeros, so that re-rendering gives the same text. */
static bool parse_value(const field_spec *f, const char *s, size_t n, void *params) {
  char *at = (char *)params + f->offset;
  switch (f->kind) {
    case FK_DTYPE: {
      fic_dtype d;
      if (!dtype_from_token(s, n, &d)) return false;
      memcpy(at, &d, sizeof d);
      return true;
    }
    case FK_INT: {
      if (n == 0 || n > 9 || (s[0] == '0' && n > 1)) return false;
      int32_t v = 0;
      for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
      }
      memcpy(at, &v, sizeof v);
      return true;
    }
    case FK_PYBOOL:
    case FK_LOWBOOL: {
      const char *t = f->kind == FK_PYBOOL ? "True" : "true", *fa = f->kind == FK_PYBOOL ? "False" : "false";
      bool is_t = n == strlen(t) && memcmp(s, t, n) == 0, is_f = n == strlen(fa) && memcmp(s, fa, n) == 0;
      if (!is_t && !is_f) return false;
      *(bool *)at = is_t;
      return true;
    }
  }
  return false;
}

/* Match the first `len` characters of `name` against `tmpl`, filling the
 * fields it names into `params`. */
static bool match(const char *tmpl, const field_table *t, const char *name, size_t len, void *params) {
  const char *s = name, *end = name + len;
  for (const char *p = tmpl; *p;) {
    const char *close = *p == '{' ? strchr(p, '}') : NULL;
    if (!close) {
      if (s == end || *s != *p) return false;
      s++, p++;
      continue;
    }
    const field_spec *f = find_field(t, p + 1, (size_t)(close - p - 1));
    const char *v = s;
    while (s < end && *s != '_') s++;
    if (!f || !parse_value(f, v, (size_t)(s - v), params)) return false;
    p = close + 1;
  }
  return s == end;
}

static size_t kind_size(field_kind k) { return k == FK_DTYPE ? sizeof(fic_dtype) : k == FK_INT ? sizeof(int32_t) : 1; }

static bool template_has_key(const char *tmpl, const char *key) {
  size_t n = strlen(key);
  for (const char *at = strchr(tmpl, '{'); at; at = strchr(at + 1, '{'))
    if (strncmp(at + 1, key, n) == 0 && at[n + 1] == '}') return true;
  return false;
}

/* Whether `tmpl` encodes the member at `offset` (under any of its keys). */
static bool template_uses_offset(const char *tmpl, const field_table *t, size_t offset) {
  for (size_t i = 0; i < t->count; i++)
    if (t->fields[i].offset == offset && template_has_key(tmpl, t->fields[i].key)) return true;
  return false;
}

/* The first field `tmpl` does not encode whose value is not zero (a name
 * cannot carry it, so it must keep its default), or NULL. */
static const field_spec *unencoded_nonzero(const char *tmpl, const field_table *t, const void *params) {
  static const unsigned char zero[sizeof(fic_dtype)] = {0};
  for (size_t i = 0; i < t->count; i++) {
    const field_spec *f = &t->fields[i];
    if (template_uses_offset(tmpl, t, f->offset)) continue;
    if (memcmp((const char *)params + f->offset, zero, kind_size(f->kind)) != 0) return f;
  }
  return NULL;
}

/* Copy the rendered name to the caller's buffer, or explain why not. */
static fic_status emit(const name_writer *w, char *buf, size_t cap) {
  if (!buf) return fic__fail_arg("buf", "module name buffer is NULL");
  if (!w->ok) return fic__fail(FIC_ERR_INTERNAL, "module name could not be rendered");
  if (w->len >= cap)
    return fic__fail_arg("cap", "module name buffer of %zu bytes is too small for %zu characters", cap, w->len);
  memcpy(buf, w->buf, w->len + 1);
  return FIC_OK;
}

/* ---- attention ---- */

#define AF(key, kind, member, label) \
  { key, kind, offsetof(fic__attn_params, member), label }
static const field_spec k_attn_fields[] = {
    AF("q", FK_DTYPE, dtype_q, "dtype_q"),
    AF("kv", FK_DTYPE, dtype_kv, "dtype_kv"),
    AF("o", FK_DTYPE, dtype_o, "dtype_o"),
    AF("idx", FK_DTYPE, dtype_idx, "dtype_idx"),
    AF("qk", FK_INT, head_dim_qk, "head_dim_qk"),
    AF("vo", FK_INT, head_dim_vo, "head_dim_vo"),
    AF("pe", FK_INT, pos_encoding, "pos_encoding"),
    AF("swa", FK_PYBOOL, use_sliding_window, "use_sliding_window"),
    AF("cap", FK_PYBOOL, use_logits_soft_cap, "use_logits_soft_cap"),
    AF("cap_l", FK_LOWBOOL, use_logits_soft_cap, "use_logits_soft_cap"),
    AF("f16qk", FK_PYBOOL, use_fp16_qk_reduction, "use_fp16_qk_reduction"),
    AF("prof", FK_PYBOOL, use_profiler, "use_profiler"),
    AF("prof_l", FK_LOWBOOL, use_profiler, "use_profiler"),
};
#undef AF
static const field_table k_attn_table = {k_attn_fields, sizeof k_attn_fields / sizeof k_attn_fields[0]};

/* get_*_uri in flashinfer/jit/attention/modules.py; an FA3 module's name is
 * the FA2 one + "_sm90" (so the attention-sink one ends in "__sm90"). */
static const struct {
  const char *tmpl;
  bool has_fa3;
  bool prefill; /* FA2 prefill asserts: no fp8 q, no fp8 o */
  const char *label;
} k_attn_families[FIC__ATTN_FAMILY_COUNT] = {
    [FIC__ATTN_SINGLE_DECODE] = {"single_decode_with_kv_cache_dtype_q_{q}_dtype_kv_{kv}_dtype_o_{o}_head_dim_qk_{qk}_"
                                 "head_dim_vo_{vo}_posenc_{pe}_use_swa_{swa}_use_logits_cap_{cap}",
                                 false, false, "single decode"},
    [FIC__ATTN_BATCH_DECODE] = {"batch_decode_with_kv_cache_dtype_q_{q}_dtype_kv_{kv}_dtype_o_{o}_dtype_idx_{idx}_"
                                "head_dim_qk_{qk}_head_dim_vo_{vo}_posenc_{pe}_use_swa_{swa}_use_logits_cap_{cap}",
                                false, false, "batch decode"},
    [FIC__ATTN_SINGLE_PREFILL] = {"single_prefill_with_kv_cache_dtype_q_{q}_dtype_kv_{kv}_dtype_o_{o}_head_dim_qk_{qk}_"
                                  "head_dim_vo_{vo}_posenc_{pe}_use_swa_{swa}_use_logits_cap_{cap}_f16qk_{f16qk}",
                                  true, true, "single prefill"},
    [FIC__ATTN_BATCH_PREFILL] = {"batch_prefill_with_kv_cache_dtype_q_{q}_dtype_kv_{kv}_dtype_o_{o}_dtype_idx_{idx}_"
                                 "head_dim_qk_{qk}_head_dim_vo_{vo}_posenc_{pe}_use_swa_{swa}_use_logits_cap_{cap}_"
                                 "f16qk_{f16qk}",
                                 true, true, "batch prefill"},
    [FIC__ATTN_BATCH_ATTENTION] =
        {"batch_attention_with_kv_cache_dtype_q_{q}_dtype_kv_{kv}_dtype_o_{o}_dtype_idx_{idx}_"
         "head_dim_qk_{qk}_head_dim_vo_{vo}_posenc_{pe}_use_logits_soft_cap_{cap_l}_"
         "use_profiler_{prof_l}",
         false, false, "batch attention"},
    [FIC__ATTN_PREFILL_SINK] = {"batch_prefill_with_attention_sink_kv_cache_dtype_q_{q}_dtype_kv_{kv}_dtype_o_{o}_"
                                "dtype_idx_{idx}_head_dim_qk_{qk}_head_dim_vo_{vo}_use_swa_{swa}_",
                                true, false, "attention-sink prefill"},
    [FIC__ATTN_BATCH_MLA] = {"batch_mla_attention_dtype_q_{q}_dtype_kv_{kv}_dtype_o_{o}_dtype_idx_{idx}_"
                             "head_dim_ckv_{qk}_head_dim_kpe_{vo}_profiler_{prof}",
                             true, false, "MLA"},
};
static const char k_fa3_suffix[] = "_sm90";

const char *fic__attn_family_label(fic__attn_family family) {
  return (unsigned)family < FIC__ATTN_FAMILY_COUNT ? k_attn_families[family].label : "unknown";
}

/* Why FlashInfer cannot build `p` (written into `why`), or NULL. */
static const char *attn_dtype_problem(const fic__attn_params *p, char *why, size_t n) {
  static const char *const names[] = {"dtype_q", "dtype_kv", "dtype_o"};
  const fic_dtype dts[] = {p->dtype_q, p->dtype_kv, p->dtype_o};
  char dn[48];
  for (int i = 0; i < 3; i++)
    if (!dtype_is_float(dts[i]))
      return explain(why, n, "%s must be float16, bfloat16, float8_e4m3fn or float8_e5m2, got %s", names[i],
                     fic__dtype_name(dts[i], dn, sizeof dn));
  bool has_idx = template_has_key(k_attn_families[p->family].tmpl, "idx");
  if (has_idx && !fic__dtype_eq(p->dtype_idx, FIC_I64) && !fic__dtype_eq(p->dtype_idx, FIC_I32))
    return explain(why, n, "dtype_idx must be int32 or int64, got %s", fic__dtype_name(p->dtype_idx, dn, sizeof dn));
  return NULL;
}

static const char *attn_backend_problem(const fic__attn_params *p, char *why, size_t n) {
  const char *fam = k_attn_families[p->family].label;
  if (p->backend != FIC__BACKEND_FA2 && p->backend != FIC__BACKEND_FA3)
    return explain(why, n, "backend must be FA2 or FA3, got %d", (int)p->backend);
  if (k_attn_families[p->family].prefill && dtype_is_fp8(p->dtype_o))
    return explain(why, n, "%s has no fp8 output (dtype_o)", fam);
  if (p->backend == FIC__BACKEND_FA2) {
    if (k_attn_families[p->family].prefill && dtype_is_fp8(p->dtype_q))
      return explain(why, n, "%s FA2 has no fp8 queries (fp8 q needs FA3)", fam);
    return NULL;
  }
  if (!k_attn_families[p->family].has_fa3) return explain(why, n, "%s has no FA3 (sm90) modules", fam);
  if (!fic__dtype_eq(p->dtype_q, p->dtype_kv)) return explain(why, n, "%s FA3 has no mixed q/kv dtypes", fam);
  if (p->pos_encoding != 0 || p->use_fp16_qk_reduction)
    return explain(why, n, "%s FA3 has no pos_encoding or fp16 QK reduction", fam);
  return NULL;
}

static const char *attn_problem(const fic__attn_params *p, char *why, size_t n) {
  if ((unsigned)p->family >= FIC__ATTN_FAMILY_COUNT)
    return explain(why, n, "unknown attention family %d", (int)p->family);
  const char *tmpl = k_attn_families[p->family].tmpl;
  const field_spec *extra = unencoded_nonzero(tmpl, &k_attn_table, p);
  if (extra)
    return explain(why, n, "%s modules have no %s variant; leave it zero", k_attn_families[p->family].label,
                   extra->label);
  if (p->head_dim_qk <= 0 || p->head_dim_qk > 1024 || p->head_dim_vo <= 0 || p->head_dim_vo > 1024)
    return explain(why, n, "head dims must be in [1, 1024], got %d/%d", (int)p->head_dim_qk, (int)p->head_dim_vo);
  if (p->pos_encoding < 0 || p->pos_encoding > 2)
    return explain(why, n, "pos_encoding must be 0, 1 or 2, got %d", (int)p->pos_encoding);
  const char *bad = attn_dtype_problem(p, why, n);
  return bad ? bad : attn_backend_problem(p, why, n);
}

static void attn_render(name_writer *w, const fic__attn_params *p) {
  render(w, k_attn_families[p->family].tmpl, p->backend == FIC__BACKEND_FA3 ? k_fa3_suffix : "", &k_attn_table, p);
}

bool fic__attn_module_name_quiet(const fic__attn_params *p, char *buf, size_t cap) {
  char why[160];
  name_writer w;
  if (!p || !buf || attn_problem(p, why, sizeof why)) return false;
  attn_render(&w, p);
  if (!w.ok || w.len >= cap) return false;
  memcpy(buf, w.buf, w.len + 1);
  return true;
}

fic_status fic__attn_module_name(const fic__attn_params *p, char *buf, size_t cap) {
  char why[160];
  if (!p) return fic__fail_arg("params", "attention parameters are NULL");
  if (attn_problem(p, why, sizeof why)) return fic__fail_arg("params", "%s", why);
  name_writer w;
  attn_render(&w, p);
  return emit(&w, buf, cap);
}

static bool attn_match_backend(const char *name, size_t len, fic__attn_backend backend, fic__attn_params *out) {
  for (int f = 0; f < FIC__ATTN_FAMILY_COUNT; f++) {
    fic__attn_params p = {.family = (fic__attn_family)f, .backend = backend};
    char why[160];
    if (backend == FIC__BACKEND_FA3 && !k_attn_families[f].has_fa3) continue;
    if (!match(k_attn_families[f].tmpl, &k_attn_table, name, len, &p) || attn_problem(&p, why, sizeof why)) continue;
    *out = p;
    return true;
  }
  return false;
}

bool fic__attn_module_match(const char *name, fic__attn_params *out) {
  if (!name || !out) return false;
  size_t len = strlen(name), sl = sizeof k_fa3_suffix - 1;
  if (attn_match_backend(name, len, FIC__BACKEND_FA2, out)) return true;
  return len > sl && strcmp(name + len - sl, k_fa3_suffix) == 0 &&
         attn_match_backend(name, len - sl, FIC__BACKEND_FA3, out);
}

fic_status fic__attn_module_parse(const char *name, fic__attn_params *out) {
  if (!name) return fic__fail_arg("name", "module name is NULL");
  if (!out) return fic__fail_arg("out", "output parameters are NULL");
  if (!fic__attn_module_match(name, out))
    return fic__fail_arg("name", "'%.*s' is not a FlashInfer 0.6.3 attention module name", FIC__MODULE_NAME_CAP, name);
  return FIC_OK;
}

/* ---- XQA ---- */

#define XF(key, kind, member) \
  { key, kind, offsetof(fic__xqa_params, member), #member }
static const field_spec k_xqa_fields[] = {
    XF("in", FK_DTYPE, dtype_input),
    XF("kv", FK_DTYPE, dtype_kv_cache),
    XF("out", FK_DTYPE, dtype_output),
    XF("page", FK_INT, page_size),
    XF("hd", FK_INT, head_dim),
    XF("ratio", FK_INT, head_group_ratio),
    XF("swa", FK_PYBOOL, use_sliding_window),
    XF("spec", FK_PYBOOL, use_spec_dec),
    XF("qlen", FK_INT, spec_q_seq_len),
};
#undef XF
static const field_table k_xqa_table = {k_xqa_fields, sizeof k_xqa_fields / sizeof k_xqa_fields[0]};

/* flashinfer/jit/xqa.py gen_xqa_module and gen_xqa_module_mla. */
static const char k_xqa_tmpl[] =
    "xqa_input_{in}_kv_cache_{kv}_output_{out}_page_size_{page}_head_dim_{hd}_"
    "head_group_ratio_{ratio}_use_sliding_window_{swa}_use_spec_dec_{spec}_"
    "spec_q_seq_len_{qlen}";
static const char k_xqa_mla_tmpl[] =
    "xqa_mla_input_{in}_kv_cache_{kv}_page_size_{page}_head_dim_{hd}_"
    "head_group_ratio_{ratio}_use_sliding_window_{swa}";

static bool is_16bit_float(fic_dtype d) {
  const char *t = fic__dtype_token(d);
  return t && (strcmp(t, "f16") == 0 || strcmp(t, "bf16") == 0);
}

/* The checks gen_xqa_module / gen_xqa_module_mla make, as one message. */
static const char *xqa_problem(const fic__xqa_params *p, char *why, size_t n) {
  const field_spec *extra = unencoded_nonzero(p->mla ? k_xqa_mla_tmpl : k_xqa_tmpl, &k_xqa_table, p);
  if (extra) return explain(why, n, "XQA MLA modules have no %s variant; leave it zero", extra->label);
  if (p->page_size != 16 && p->page_size != 32 && p->page_size != 64 && p->page_size != 128)
    return explain(why, n, "page_size must be 16, 32, 64 or 128, got %d", (int)p->page_size);
  if (p->mla) {
    bool fp8 = dtype_is_fp8(p->dtype_input) && fic__dtype_eq(p->dtype_input, p->dtype_kv_cache) &&
               fic__dtype_eq(p->dtype_input, (fic_dtype)FIC_DT_F8E4M3FN);
    if (!fp8 || p->head_dim != 576 || p->head_group_ratio != 128 || p->use_sliding_window)
      return explain(why, n, "XQA MLA needs e4m3 input and cache, head_dim 576, group 128, no sliding window");
    return NULL;
  }
  const char *kv = fic__dtype_token(p->dtype_kv_cache), *out = fic__dtype_token(p->dtype_output);
  if (!is_16bit_float(p->dtype_input) || !kv ||
      !(is_16bit_float(p->dtype_kv_cache) || !strcmp(kv, "e4m3") || !strcmp(kv, "i8")))
    return explain(why, n, "XQA needs f16/bf16 input and an f16/bf16/e4m3/int8 cache");
  if (!out || !(is_16bit_float(p->dtype_output) || !strcmp(out, "e4m3")))
    return explain(why, n, "XQA output must be f16, bf16 or e4m3");
  if (p->head_dim < 16 || p->head_dim > 256 || p->head_dim % 16 || p->head_group_ratio < 1)
    return explain(why, n, "XQA head_dim must be a multiple of 16 in [16, 256] and head_group_ratio >= 1");
  if (p->spec_q_seq_len < 1 || p->use_spec_dec != (p->spec_q_seq_len > 1))
    return explain(why, n, "XQA spec_q_seq_len must be >= 1 and use_spec_dec true exactly when it is > 1");
  return NULL;
}

fic_status fic__xqa_module_name(const fic__xqa_params *p, char *buf, size_t cap) {
  char why[160];
  if (!p) return fic__fail_arg("params", "XQA parameters are NULL");
  if (xqa_problem(p, why, sizeof why)) return fic__fail_arg("params", "%s", why);
  name_writer w;
  render(&w, p->mla ? k_xqa_mla_tmpl : k_xqa_tmpl, "", &k_xqa_table, p);
  return emit(&w, buf, cap);
}

fic_status fic__xqa_module_parse(const char *name, fic__xqa_params *out) {
  if (!name) return fic__fail_arg("name", "module name is NULL");
  if (!out) return fic__fail_arg("out", "output parameters are NULL");
  for (int mla = 0; mla < 2; mla++) {
    fic__xqa_params p = {.mla = mla};
    char why[160];
    if (match(mla ? k_xqa_mla_tmpl : k_xqa_tmpl, &k_xqa_table, name, strlen(name), &p) &&
        !xqa_problem(&p, why, sizeof why)) {
      *out = p;
      return FIC_OK;
    }
  }
  return fic__fail_arg("name", "'%.*s' is not a FlashInfer 0.6.3 XQA module name", FIC__MODULE_NAME_CAP, name);
}

/* ---- fixed names (flashinfer/jit/{page,cascade,...}.py gen_jit_spec) ---- */

static const char *const k_fixed_names[FIC__MOD_FIXED_COUNT] = {
    [FIC__MOD_PAGE] = "page",
    [FIC__MOD_CASCADE] = "cascade",
    [FIC__MOD_SAMPLING] = "sampling",
    [FIC__MOD_TOPK] = "topk",
    [FIC__MOD_ROPE] = "rope",
    [FIC__MOD_SILU_AND_MUL] = "silu_and_mul",
    [FIC__MOD_GELU_AND_MUL] = "gelu_and_mul",
    [FIC__MOD_GELU_TANH_AND_MUL] = "gelu_tanh_and_mul",
    [FIC__MOD_QUANTIZATION] = "quantization",
    [FIC__MOD_NORM] = "norm",
    [FIC__MOD_GDN_PREFILL_SM90] = "gdn_prefill_sm90",
};

fic_status fic__fixed_module_name(fic__fixed_module m, char *buf, size_t cap) {
  if ((unsigned)m >= FIC__MOD_FIXED_COUNT) return fic__fail_arg("module", "unknown module %d", (int)m);
  name_writer w;
  render(&w, k_fixed_names[m], "", &(field_table){NULL, 0}, NULL);
  return emit(&w, buf, cap);
}

fic_status fic__fixed_module_parse(const char *name, fic__fixed_module *out) {
  if (!name) return fic__fail_arg("name", "module name is NULL");
  if (!out) return fic__fail_arg("out", "output module is NULL");
  for (int m = 0; m < FIC__MOD_FIXED_COUNT; m++)
    if (strcmp(name, k_fixed_names[m]) == 0) {
      *out = (fic__fixed_module)m;
      return FIC_OK;
    }
  return fic__fail_arg("name", "'%.*s' is not a FlashInfer 0.6.3 module name without parameters", FIC__MODULE_NAME_CAP,
                       name);
}
