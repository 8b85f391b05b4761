/* SPDX-License-Identifier: Apache-2.0 */
/* SM counts (the gdn_prefill workspace check) and compute capabilities
 * (attention: PDL, the FA3 backend), each queried once per device
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

/* Compute capabilities (major * 10 + minor), cached the same way. */
static _Atomic int g_cc[FIC_SM_CACHE_DEVICES];
#ifdef FIC_TEST_HOOKS
static _Atomic int g_cc_override = -1;
void fic__test_set_compute_capability(int cc) { atomic_store(&g_cc_override, cc); }
#endif

int fic__kernel_compute_capability(int32_t device_id) {
#ifdef FIC_TEST_HOOKS
  int forced = atomic_load(&g_cc_override);
  if (forced >= 0) return forced;
#endif
  if (device_id < 0 || device_id >= FIC_SM_CACHE_DEVICES) return 0;
  int cc = atomic_load_explicit(&g_cc[device_id], memory_order_relaxed);
  if (cc != 0) return cc > 0 ? cc : 0;
  const fic_cudart_api *cuda = fic__cudart();
  if (!cuda || !cuda->DeviceGetAttribute) return 0; /* not loaded yet: ask again next time */
  int major = 0, minor = 0;
  int ok = cuda->DeviceGetAttribute(&major, FIC_CUDA_ATTR_CC_MAJOR, device_id) == 0 &&
           cuda->DeviceGetAttribute(&minor, FIC_CUDA_ATTR_CC_MINOR, device_id) == 0 && major > 0;
  cc = ok ? major * 10 + minor : -1;
  atomic_store_explicit(&g_cc[device_id], cc, memory_order_relaxed);
  return cc > 0 ? cc : 0;
}
