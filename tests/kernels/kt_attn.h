/* SPDX-License-Identifier: Apache-2.0 */
/* Hand-made attention objects for the CPU tests of plans and runs
 * (test_kernel_attention.c, test_kernel_mla.c): a runtime with no modules
 * and a workspace over it with no buffers, enough for the checks that run
 * before any module call. */
#ifndef FIC_TEST_KT_ATTN_H
#define FIC_TEST_KT_ATTN_H

#include "kernels/attention.h"

/* calloc'ed, no modules; free() it. */
fic_runtime *kt_fake_runtime(void);
/* calloc'ed over `rt` with its lock initialised; kt_fake_ws_free it. */
fic_attention_workspace *kt_fake_ws(fic_runtime *rt);
void kt_fake_ws_free(fic_attention_workspace *ws);

#endif
