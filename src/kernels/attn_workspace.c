/* SPDX-License-Identifier: Apache-2.0 */
/* The attention workspace: the caller's three buffers and the ordering of
 * plans on the page-locked one.
 *
 * Why the event: FlashInfer's plan writes its schedule into the page-locked
 * host buffer on the CPU, then enqueues cudaMemcpyAsync(int buffer <- host
 * buffer) on the stream and returns without waiting
 * (include/flashinfer/attention/scheduler.cuh, DecodePlan / PrefillPlan).
 * A second plan that rewrote the host buffer before that copy ran would hand
 * the first plan's runs the second plan's schedule. So each plan records an
 * event after its copy, and the next plan waits for it on the host first:
 * free when the copy has run, a short wait when it has not. */
#include <stdlib.h>
#include <string.h>

#include "common/cuda_abi.h"
#include "kernels/attention.h"
#include "kernels/validate.h"
#include "loader/loader.h"

fic_status fic_attention_workspace_sizes(size_t *float_bytes, size_t *int_bytes, size_t *host_bytes) {
  if (float_bytes) *float_bytes = FIC_ATTN_FLOAT_WORKSPACE_BYTES;
  if (int_bytes) *int_bytes = FIC_ATTN_INT_WORKSPACE_BYTES;
  if (host_bytes) *host_bytes = FIC_ATTN_HOST_WORKSPACE_BYTES;
  return FIC_OK;
}

fic_status fic_attention_workspace_desc_init(fic_attention_workspace_desc *desc) {
  FIC_CHECK(fic__params_reset(desc, sizeof *desc, "desc"));
  return FIC_OK;
}

_Static_assert(sizeof(fic_attention_workspace_desc) % 8 == 0, "8-byte fields");

static fic_status check_buffer(const char *name, const void *data, size_t bytes) {
  if (!data) return fic__fail_arg(name, "desc->%s must not be NULL", name);
  if (bytes == 0 || bytes > (size_t)INT64_MAX)
    return fic__fail_arg(name, "desc->%s's size must be in [1, 2^63), got %zu bytes", name, bytes);
  if ((uintptr_t)data % FIC_ATTN_WORKSPACE_ALIGN != 0)
    return fic__fail_arg(name, "desc->%s must be %d-byte aligned (FlashInfer's allocator aligns from the base), got %p",
                         name, FIC_ATTN_WORKSPACE_ALIGN, data);
  return FIC_OK;
}

static fic_status check_desc(const fic_attention_workspace_desc *d) {
  FIC_CHECK(check_buffer("float_buffer", d->float_buffer, d->float_bytes));
  FIC_CHECK(check_buffer("int_buffer", d->int_buffer, d->int_bytes));
  FIC_CHECK(check_buffer("host_buffer", d->host_buffer, d->host_bytes));
  if (d->host_bytes < d->int_bytes)
    return fic__fail_arg("host_buffer",
                         "desc->host_bytes (%zu) must be at least desc->int_bytes (%zu): FlashInfer writes the "
                         "page-locked buffer at the int buffer's offsets",
                         d->host_bytes, d->int_bytes);
  if (d->device_id < 0 || d->device_id > INT32_MAX)
    return fic__fail_arg("device_id", "desc->device_id must be a CUDA ordinal, got %lld", (long long)d->device_id);
  return FIC_OK;
}

static void make_buffer(fic__attn_buffer *b, void *data, size_t bytes, int32_t device_type, int32_t device_id) {
  memset(b, 0, sizeof *b);
  b->shape[0] = (int64_t)bytes;
  b->strides[0] = 1;
  b->t.data = data;
  b->t.device.device_type = device_type;
  b->t.device.device_id = device_type == FIC_DEVICE_CPU ? 0 : device_id;
  b->t.ndim = 1;
  b->t.dtype = FIC_U8;
  b->t.shape = b->shape;
  b->t.strides = b->strides;
}

static void use_cudart_events(fic_attention_workspace *ws, const fic_cudart_api *cuda) {
  ws->ev.create = cuda->EventCreateWithFlags;
  ws->ev.record = cuda->EventRecord;
  ws->ev.synchronize = cuda->EventSynchronize;
  ws->ev.destroy = cuda->EventDestroy;
  ws->ev.error_string = cuda->GetErrorString;
  ws->ev.memcpy_async = cuda->MemcpyAsync;
}

fic_status fic_attention_workspace_create(fic_runtime *rt, const fic_attention_workspace_desc *desc,
                                          fic_attention_workspace **out) {
  if (!out) return fic__fail_arg("out", "out must not be NULL");
  *out = NULL;
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_attention_workspace_desc d;
  FIC_CHECK(fic_attention_workspace_desc_init(&d));
  FIC_CHECK(fic__load_params(desc, &d, sizeof d, "desc", "fic_attention_workspace_desc_init"));
  FIC_CHECK(check_desc(&d));
  const fic_cudart_api *cuda = NULL;
  FIC_CHECK(fic__cudart_load(&cuda)); /* the event calls; no GPU is touched yet */
  fic_attention_workspace *ws = calloc(1, sizeof *ws);
  if (!ws) return fic__fail(FIC_ERR_NO_MEMORY, "allocating an attention workspace");
  if (pthread_mutex_init(&ws->lock, NULL) != 0) {
    free(ws);
    return fic__fail(FIC_ERR_NO_MEMORY, "initialising a mutex");
  }
  ws->rt = rt;
  ws->desc = d;
  make_buffer(&ws->float_buf, d.float_buffer, d.float_bytes, FIC_DEVICE_CUDA, (int32_t)d.device_id);
  make_buffer(&ws->int_buf, d.int_buffer, d.int_bytes, FIC_DEVICE_CUDA, (int32_t)d.device_id);
  make_buffer(&ws->host_buf, d.host_buffer, d.host_bytes, FIC_DEVICE_CPU, 0);
  use_cudart_events(ws, cuda);
  *out = ws;
  return FIC_OK;
}

static fic_status event_failed(fic_attention_workspace *ws, const char *what, int rc) {
  ws->broken = 1;
  return fic__fail(FIC_ERR_CUDA,
                   "%s failed (%s) ordering the attention workspace's page-locked buffer; synchronise the stream and "
                   "destroy the workspace",
                   what, ws->ev.error_string ? ws->ev.error_string(rc) : "?");
}

/* Caller holds ws->lock. */
static fic_status wait_pending(fic_attention_workspace *ws) {
  if (ws->broken)
    return fic__fail(FIC_ERR_CUDA, "an earlier CUDA event call on this attention workspace failed; destroy it");
  if (!ws->event_pending) return FIC_OK;
  int rc = ws->ev.synchronize(ws->event);
  if (rc != FIC_CUDA_SUCCESS) return event_failed(ws, "cudaEventSynchronize", rc);
  ws->event_pending = 0;
  return FIC_OK;
}

fic_status fic__attn_ws_plan_begin(fic_attention_workspace *ws) {
  pthread_mutex_lock(&ws->lock);
  fic_status st = wait_pending(ws);
  if (st != FIC_OK) pthread_mutex_unlock(&ws->lock);
  return st;
}

/* Caller holds ws->lock. */
static fic_status record(fic_attention_workspace *ws, void *stream) {
  if (!ws->event) {
    int rc = ws->ev.create(&ws->event, FIC_CUDA_EVENT_DISABLE_TIMING);
    if (rc != FIC_CUDA_SUCCESS) {
      ws->event = NULL;
      return event_failed(ws, "cudaEventCreateWithFlags", rc);
    }
  }
  int rc = ws->ev.record(ws->event, stream);
  if (rc != FIC_CUDA_SUCCESS) return event_failed(ws, "cudaEventRecord", rc);
  ws->event_pending = 1;
  return FIC_OK;
}

fic_status fic__attn_ws_plan_end(fic_attention_workspace *ws, void *stream, int succeeded, uint64_t *generation) {
  fic_status st = succeeded ? record(ws, stream) : FIC_OK;
  /* Even a failed plan may have rewritten the int buffer: earlier plans are stale. */
  *generation = atomic_fetch_add_explicit(&ws->generation, 1, memory_order_acq_rel) + 1;
  pthread_mutex_unlock(&ws->lock);
  return st;
}

fic__attn_pick *fic__attn_pick_find(fic_attention_workspace *ws, const fic__attn_pick_key *key) {
  for (fic__attn_pick *p = atomic_load_explicit(&ws->picks, memory_order_acquire); p; p = p->next)
    if (memcmp(&p->key, key, sizeof *key) == 0) return p;
  return NULL;
}

fic__attn_pick *fic__attn_pick_add(fic_attention_workspace *ws, const fic__attn_pick_key *key,
                                   fic__attn_backend backend, const char *module) {
  if (atomic_fetch_add_explicit(&ws->num_picks, 1, memory_order_relaxed) >= FIC__ATTN_MAX_PICKS) {
    atomic_fetch_sub_explicit(&ws->num_picks, 1, memory_order_relaxed);
    return NULL;
  }
  fic__attn_pick *p = calloc(1, sizeof *p);
  size_t len = strlen(module);
  if (!p || len >= sizeof p->module) {
    free(p);
    atomic_fetch_sub_explicit(&ws->num_picks, 1, memory_order_relaxed);
    return NULL;
  }
  memcpy(&p->key, key, sizeof *key);
  p->backend = backend;
  memcpy(p->module, module, len + 1);
  /* Racing plans of one key may both push: the list's first match wins, the other is only memory. */
  fic__attn_pick *head = atomic_load_explicit(&ws->picks, memory_order_relaxed);
  do {
    p->next = head;
  } while (!atomic_compare_exchange_weak_explicit(&ws->picks, &head, p, memory_order_release, memory_order_relaxed));
  return p;
}

void fic__attn_workspace_set_event_ops(fic_attention_workspace *ws, const fic__event_ops *ops) { ws->ev = *ops; }

fic_status fic_attention_workspace_destroy(fic_attention_workspace *ws) {
  if (!ws) return FIC_OK;
  pthread_mutex_lock(&ws->lock);
  /* The host buffer is the caller's to free once we return: the copy must be done. */
  fic_status st = ws->broken ? FIC_OK : wait_pending(ws);
  if (ws->event) ws->ev.destroy(ws->event);
  pthread_mutex_unlock(&ws->lock);
  pthread_mutex_destroy(&ws->lock);
  for (fic__attn_pick *p = atomic_load_explicit(&ws->picks, memory_order_acquire), *next; p; p = next) {
    next = p->next;
    free(p);
  }
  free(ws);
  return st;
}
