/* SPDX-License-Identifier: Apache-2.0 */
/* The public header alone, as a C11 translation unit under -pedantic: every
 * macro and inline function is used so that each is compiled. */
#include "flashinfer_c.h"

int header_compile_c(void);
int header_compile_c(void) {
  fic_dtype d[] = {FIC_F16, FIC_BF16, FIC_F32, FIC_I32, FIC_I64, FIC_U8, FIC_F8_E4M3FN, FIC_F8_E5M2};
  fic_tensor t = {0, {FIC_DEVICE_CUDA, 0}, 0, FIC_F16, 0, 0, 0};
  fic_arg a[] = {fic_arg_none(),           fic_arg_int(1),
                 fic_arg_bool(1),          fic_arg_float(1.0),
                 fic_arg_tensor(&t),       fic_arg_opt_tensor(0),
                 fic_arg_string("s"),      fic_arg_dtype(d[0]),
                 fic_arg_device(t.device), fic_arg_tensor_object(&t),
                 fic_arg_tensor_object(0)};
  fic_result r = {FIC_KIND_NONE, 0, {0}};
  fic_arg o = fic_arg_object(&r);
  fic_path_kind k = FIC_PATH_CACHE_ROOT;
  return (int)(sizeof a / sizeof a[0]) + r.small_len + o.kind + (int)k + FIC_STATUS_COUNT + d[6].code;
}
