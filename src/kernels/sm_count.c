/* SPDX-License-Identifier: Apache-2.0 */
/* SM counts for the gdn_prefill workspace check, queried once per device
 * through the CUDA runtime the loader already holds, then one relaxed load:
 * the hot path takes no lock and makes no CUDA call after the first use. */
#include <stdatomic.h>

#include "common/cuda_abi.h"
#include "kernels/kernels.h"
#include "loader/loader.h"

#define FIC_SM_CACHE_DEVICES 64

/* 0: not asked yet; -1: asked and failed; > 0: the count. */
static _Atomic int g_sm_count[FIC_SM_CACHE_DEVICES];

int fic__kernel_sm_count(int32_t device_id) {
  if (device_id < 0 || device_id >= FIC_SM_CACHE_DEVICES) return 0;
  int n = atomic_load_explicit(&g_sm_count[device_id], memory_order_relaxed);
  if (n != 0) return n > 0 ? n : 0;
  const fic_cudart_api *cuda = fic__cudart();
  if (!cuda || !cuda->DeviceGetAttribute) return 0; /* not loaded yet: ask again next time */
  int value = 0;
  int err = cuda->DeviceGetAttribute(&value, FIC_CUDA_ATTR_SM_COUNT, device_id);
  n = (err == 0 && value > 0) ? value : -1;
  /* Racing first calls store the same answer. */
  atomic_store_explicit(&g_sm_count[device_id], n, memory_order_relaxed);
  return n > 0 ? n : 0;
}
