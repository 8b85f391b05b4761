/* SPDX-License-Identifier: Apache-2.0 */
/* Choosing an attention module from a wheel's module list, and saying what
 * the list has instead when the call's parameters match no module
 * (fic__attn_pick_module in module_names.h).
 *
 * The backend rule follows Python's determine_attention_backend
 * (flashinfer/utils.py): FA3 on SM 9.0 unless pos_encoding, fp16 QK
 * reduction or (our addition) mixed q/kv dtypes rule it out; the AOT build
 * makes no mixed-dtype FA3 module (aot.py gen_fa3), so where Python would
 * JIT-compile one we use FA2. FA3 modules hold sm_90a code only, so no other
 * GPU may use them. */
#include <stdio.h>
#include <string.h>

#include "kernels/module_names.h"
#include "kernels/validate.h"

/* How much of `want` a module `have` shares: the tiers the message offers. */
typedef enum nearness {
  NEAR_OTHER_FAMILY = -1,
  NEAR_FAMILY = 0,     /* same family only */
  NEAR_HEAD_DIMS = 1,  /* same head dims, other dtypes */
  NEAR_DTYPES = 2,     /* same dtypes, other head dims */
  NEAR_EVERYTHING = 3, /* same dtypes and head dims, other flags or backend */
} nearness;

#define LIST_BUDGET 1200 /* characters of alternatives in one message */

typedef struct alt_list {
  char text[LIST_BUDGET];
  size_t len;
  bool truncated;
} alt_list;

static nearness nearness_of(const fic__attn_params *want, const fic__attn_params *have) {
  if (have->family != want->family) return NEAR_OTHER_FAMILY;
  bool dt = fic__dtype_eq(want->dtype_q, have->dtype_q) && fic__dtype_eq(want->dtype_kv, have->dtype_kv) &&
            fic__dtype_eq(want->dtype_o, have->dtype_o) && fic__dtype_eq(want->dtype_idx, have->dtype_idx);
  bool hd = want->head_dim_qk == have->head_dim_qk && want->head_dim_vo == have->head_dim_vo;
  return dt && hd ? NEAR_EVERYTHING : dt ? NEAR_DTYPES : hd ? NEAR_HEAD_DIMS : NEAR_FAMILY;
}

/* "bf16", or "none" for the zero dtype of a family without that parameter. */
static const char *dtype_word(fic_dtype d) {
  const char *t = fic__dtype_token(d);
  return t ? t : "none";
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

/* The part of `have` that differs from the request at tier `level`. */
static void describe(const fic__attn_params *have, nearness level, char *buf, size_t n) {
  switch (level) {
    case NEAR_EVERYTHING:
      snprintf(buf, n, "pos_encoding %d, sliding window %s, soft cap %s%s%s", (int)have->pos_encoding,
               yes_no(have->use_sliding_window), yes_no(have->use_logits_soft_cap),
               have->use_fp16_qk_reduction ? ", fp16 QK reduction" : "", have->use_profiler ? ", profiler" : "");
      return;
    case NEAR_DTYPES:
      snprintf(buf, n, "head dims %d/%d", (int)have->head_dim_qk, (int)have->head_dim_vo);
      return;
    case NEAR_HEAD_DIMS:
      snprintf(buf, n, "q/kv/o/idx %s/%s/%s/%s", dtype_word(have->dtype_q), dtype_word(have->dtype_kv),
               dtype_word(have->dtype_o), dtype_word(have->dtype_idx));
      return;
    default:
      snprintf(buf, n, "q/kv/o %s/%s/%s head dims %d/%d", dtype_word(have->dtype_q), dtype_word(have->dtype_kv),
               dtype_word(have->dtype_o), (int)have->head_dim_qk, (int)have->head_dim_vo);
      return;
  }
}

/* Entries are stored as "a; b; " so that one can be found whole. */
static bool alt_contains(const alt_list *l, const char *item) {
  size_t n = strlen(item);
  for (const char *at = strstr(l->text, item); at; at = strstr(at + 1, item)) {
    bool starts = at == l->text || (at >= l->text + 2 && at[-2] == ';' && at[-1] == ' ');
    if (starts && strncmp(at + n, "; ", 2) == 0) return true;
  }
  return false;
}

static void alt_add(alt_list *l, const char *item) {
  size_t n = strlen(item);
  if (alt_contains(l, item)) return;
  if (l->len + n + 3 > sizeof l->text) {
    l->truncated = true;
    return;
  }
  memcpy(l->text + l->len, item, n);
  memcpy(l->text + l->len + n, "; ", 3);
  l->len += n + 2;
}

static nearness best_nearness(const char *const *names, size_t count, const fic__attn_params *want) {
  nearness best = NEAR_OTHER_FAMILY;
  for (size_t i = 0; i < count; i++) {
    fic__attn_params have;
    if (!fic__attn_module_match(names[i], &have)) continue;
    nearness k = nearness_of(want, &have);
    if (k > best) best = k;
  }
  return best;
}

/* The alternatives at tier `level`: FA2 modules first, then FA3 ones that
 * add something; off SM 9.0 those are marked, since they cannot run there. */
static void collect(const char *const *names, size_t count, const fic__attn_params *want, nearness level, bool sm90,
                    alt_list *out) {
  for (int backend = FIC__BACKEND_FA2; backend <= FIC__BACKEND_FA3; backend++)
    for (size_t i = 0; i < count; i++) {
      fic__attn_params have;
      char item[160];
      if (!fic__attn_module_match(names[i], &have) || (int)have.backend != backend || nearness_of(want, &have) != level)
        continue;
      describe(&have, level, item, sizeof item);
      if (backend == FIC__BACKEND_FA3 && alt_contains(out, item)) continue;
      if (backend == FIC__BACKEND_FA3 && !sm90) strncat(item, " (FA3, SM 9.0 only)", sizeof item - strlen(item) - 1);
      alt_add(out, item);
    }
  if (out->len >= 2) out->text[out->len - 2] = '\0'; /* drop the last "; " */
}

static const char *tier_phrase(nearness level) {
  switch (level) {
    case NEAR_EVERYTHING:
      return "with the same dtypes and head dims it has";
    case NEAR_DTYPES:
      return "with the same dtypes it has";
    case NEAR_HEAD_DIMS:
      return "with the same head dims it has";
    default:
      return "it has";
  }
}

/* FIC_ERR_NOT_FOUND naming the request and the nearest modules listed. */
static fic_status report_nearest(const char *const *names, size_t count, const fic__attn_params *want, int sm_major,
                                 int sm_minor) {
  const char *fam = fic__attn_family_label(want->family);
  char asked[256];
  snprintf(asked, sizeof asked,
           "q/kv/o/idx %s/%s/%s/%s, head dims %d/%d, pos_encoding %d, sliding window %s, soft cap %s%s on SM %d.%d",
           dtype_word(want->dtype_q), dtype_word(want->dtype_kv), dtype_word(want->dtype_o),
           dtype_word(want->dtype_idx), (int)want->head_dim_qk, (int)want->head_dim_vo, (int)want->pos_encoding,
           yes_no(want->use_sliding_window), yes_no(want->use_logits_soft_cap),
           want->use_fp16_qk_reduction ? ", fp16 QK reduction" : "", sm_major, sm_minor);
  nearness level = best_nearness(names, count, want);
  if (level == NEAR_OTHER_FAMILY)
    return fic__fail(FIC_ERR_NOT_FOUND, "no %s module for %s: the wheel has no %s modules at all", fam, asked, fam);
  alt_list alts = {.len = 0};
  collect(names, count, want, level, sm_major == 9 && sm_minor == 0, &alts);
  return fic__fail(FIC_ERR_NOT_FOUND, "no %s module for %s; %s %s modules for: %s%s", fam, asked, tier_phrase(level),
                   fam, alts.text, alts.truncated ? "; ..." : "");
}

static bool listed(const char *const *names, size_t count, const char *name) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(names[i], name) == 0) return true;
  return false;
}

static fic_status take(const fic__attn_params *p, const char *found, fic__attn_params *chosen, char *name, size_t cap) {
  size_t n = strlen(found);
  if (n >= cap) return fic__fail_arg("cap", "module name buffer of %zu bytes is too small for %zu characters", cap, n);
  memcpy(name, found, n + 1);
  *chosen = *p;
  return FIC_OK;
}

static fic_status check_pick_args(const char *const *names, size_t count, const fic__attn_params *want,
                                  const fic__attn_params *chosen, const char *name) {
  if (!want) return fic__fail_arg("want", "attention parameters are NULL");
  if (!chosen || !name) return fic__fail_arg(chosen ? "name" : "chosen", "output pointer is NULL");
  if (count && !names) return fic__fail_arg("names", "module list is NULL but count is %zu", count);
  for (size_t i = 0; i < count; i++)
    if (!names[i]) return fic__fail_arg("names", "module list entry %zu is NULL", i);
  return FIC_OK;
}

fic_status fic__attn_pick_module(const char *const *names, size_t count, const fic__attn_params *want, int sm_major,
                                 int sm_minor, fic__attn_params *chosen, char *name, size_t cap) {
  FIC_CHECK(check_pick_args(names, count, want, chosen, name));
  fic__attn_params fa3 = *want, fa2 = *want;
  fa3.backend = FIC__BACKEND_FA3;
  fa2.backend = FIC__BACKEND_FA2;
  char fa3_name[FIC__MODULE_NAME_CAP], fa2_name[FIC__MODULE_NAME_CAP];
  bool fa3_ok = fic__attn_module_name_quiet(&fa3, fa3_name, sizeof fa3_name);
  bool fa2_ok = fic__attn_module_name_quiet(&fa2, fa2_name, sizeof fa2_name);
  if (sm_major == 9 && sm_minor == 0 && fa3_ok && listed(names, count, fa3_name))
    return take(&fa3, fa3_name, chosen, name, cap);
  if (fa2_ok && listed(names, count, fa2_name)) return take(&fa2, fa2_name, chosen, name, cap);
  if (!fa2_ok && !fa3_ok) return fic__attn_module_name(&fa2, fa2_name, sizeof fa2_name); /* records why */
  return report_nearest(names, count, &fa2, sm_major, sm_minor);
}
