/* SPDX-License-Identifier: Apache-2.0 */
/* The CUDA runtime values flashinfer-c passes or reads, declared in our own
 * words (no CUDA headers: the library builds without a toolkit). Values are
 * those of cuda_runtime_api.h, stable across CUDA releases. One home for
 * them: the loader, diagnose, the kernels and the CLI all use these. */
#ifndef FIC_COMMON_CUDA_ABI_H
#define FIC_COMMON_CUDA_ABI_H

/* cudaError_t */
enum { FIC_CUDA_SUCCESS = 0 };
/* cudaDeviceAttr */
enum { FIC_CUDA_ATTR_SM_COUNT = 16, FIC_CUDA_ATTR_CC_MAJOR = 75, FIC_CUDA_ATTR_CC_MINOR = 76 };
/* cudaEventDisableTiming */
enum { FIC_CUDA_EVENT_DISABLE_TIMING = 2 };
/* cudaMemcpyKind */
enum { FIC_CUDA_MEMCPY_HOST_TO_DEVICE = 1 };
/* cudaStreamCaptureStatus */
enum { FIC_CUDA_CAPTURE_STATUS_NONE = 0 };

#endif
