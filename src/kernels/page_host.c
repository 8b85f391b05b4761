/* SPDX-License-Identifier: Apache-2.0 */
/* Host helpers for paged KV caches, standing in for what FlashInfer 0.6.3
 * computes with a Triton kernel (flashinfer/triton/page.py,
 * get_batch_indices_positions_kernel) and with torch (page.py,
 * get_seq_lens). Both check everything first and write nothing on failure. */
#include <stdint.h>

#include "common/error.h"
#include "flashinfer_c.h"

/* indptr [n+1] starts at 0 (when start_at_zero) and never decreases. */
static fic_status check_indptr(const int32_t *indptr, int32_t n, const char *name, int start_at_zero) {
  if (start_at_zero && indptr[0] != 0) return fic__fail_arg(name, "%s[0] must be 0, got %d", name, (int)indptr[0]);
  for (int32_t b = 0; b < n; b++)
    if (indptr[b + 1] < indptr[b])
      return fic__fail_arg(name, "%s must never decrease, but %s[%d] = %d > %s[%d] = %d", name, name, (int)b,
                           (int)indptr[b], name, (int)b + 1, (int)indptr[b + 1]);
  return FIC_OK;
}

static fic_status check_batch_inputs(const int32_t *append_indptr, const int32_t *seq_lens, int32_t batch_size,
                                     int64_t nnz) {
  if (batch_size < 0) return fic__fail_arg("batch_size", "batch_size must be >= 0, got %d", (int)batch_size);
  if (!append_indptr) return fic__fail_arg("append_indptr", "append_indptr must not be NULL");
  if (batch_size > 0 && !seq_lens) return fic__fail_arg("seq_lens", "seq_lens must not be NULL");
  FIC_CHECK(check_indptr(append_indptr, batch_size, "append_indptr", 1));
  if (nnz != append_indptr[batch_size])
    return fic__fail_arg("nnz", "nnz must equal append_indptr[batch_size] (%d), got %lld",
                         (int)append_indptr[batch_size], (long long)nnz);
  for (int32_t b = 0; b < batch_size; b++) {
    int32_t appended = append_indptr[b + 1] - append_indptr[b];
    if (seq_lens[b] < appended)
      return fic__fail_arg("seq_lens",
                           "seq_lens[%d] (%d) must be at least the %d entries appended to request %d: it is the "
                           "length after the append",
                           (int)b, (int)seq_lens[b], (int)appended, (int)b);
  }
  return FIC_OK;
}

fic_status fic_batch_indices_positions(const int32_t *append_indptr, const int32_t *seq_lens, int32_t batch_size,
                                       int32_t *batch_indices, int32_t *positions, int64_t nnz) {
  FIC_CHECK(check_batch_inputs(append_indptr, seq_lens, batch_size, nnz));
  if (nnz > 0 && !batch_indices) return fic__fail_arg("batch_indices", "batch_indices must not be NULL");
  if (nnz > 0 && !positions) return fic__fail_arg("positions", "positions must not be NULL");
  for (int32_t b = 0; b < batch_size; b++) {
    int64_t end = append_indptr[b + 1];
    for (int64_t i = append_indptr[b]; i < end; i++) {
      batch_indices[i] = b;
      positions[i] = (int32_t)(i + seq_lens[b] - end); /* in [0, seq_lens[b]) by the checks */
    }
  }
  return FIC_OK;
}

static fic_status check_seq_lens_inputs(const int32_t *kv_indptr, const int32_t *kv_last_page_len, int32_t page_size,
                                        int32_t batch_size, const int32_t *seq_lens) {
  if (batch_size < 0) return fic__fail_arg("batch_size", "batch_size must be >= 0, got %d", (int)batch_size);
  if (page_size <= 0) return fic__fail_arg("page_size", "page_size must be > 0, got %d", (int)page_size);
  if (!kv_indptr) return fic__fail_arg("kv_indptr", "kv_indptr must not be NULL");
  if (batch_size == 0) return FIC_OK;
  if (!kv_last_page_len) return fic__fail_arg("kv_last_page_len", "kv_last_page_len must not be NULL");
  if (!seq_lens) return fic__fail_arg("seq_lens", "seq_lens must not be NULL");
  return check_indptr(kv_indptr, batch_size, "kv_indptr", 0);
}

fic_status fic_paged_kv_seq_lens(const int32_t *kv_indptr, const int32_t *kv_last_page_len, int32_t page_size,
                                 int32_t batch_size, int32_t *seq_lens) {
  FIC_CHECK(check_seq_lens_inputs(kv_indptr, kv_last_page_len, page_size, batch_size, seq_lens));
  for (int32_t b = 0; b < batch_size; b++) {
    int64_t pages = (int64_t)kv_indptr[b + 1] - kv_indptr[b], last = kv_last_page_len[b];
    int64_t max_last = pages > 0 ? page_size : 0;
    if (last < 0 || last > max_last)
      return fic__fail_arg("kv_last_page_len",
                           "kv_last_page_len[%d] must be in [0, %lld] (request %d has %lld pages), got %lld", (int)b,
                           (long long)max_last, (int)b, (long long)pages, (long long)last);
    if ((pages > 1 ? pages - 1 : 0) * page_size + last > INT32_MAX)
      return fic__fail_arg("kv_indptr", "request %d holds more than %d entries", (int)b, INT32_MAX);
  }
  for (int32_t b = 0; b < batch_size; b++) {
    int64_t pages = (int64_t)kv_indptr[b + 1] - kv_indptr[b];
    seq_lens[b] = (int32_t)((pages > 1 ? pages - 1 : 0) * page_size + kv_last_page_len[b]);
  }
  return FIC_OK;
}
