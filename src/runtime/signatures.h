/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FIC_RUNTIME_SIGNATURES_H
#define FIC_RUNTIME_SIGNATURES_H
#include <stdint.h>
/* Known parameter count of module.name in the pinned build, or -1. */
int32_t fic__signature_arity(const char *module, const char *name);
#endif
