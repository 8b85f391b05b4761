/* SPDX-License-Identifier: Apache-2.0 */
// The public header alone, as C++17 under -pedantic: every macro and inline
// function is used so that each is compiled.
#include "flashinfer_c.h"

int header_compile_cxx();
int header_compile_cxx() {
  fic_dtype d[] = {FIC_F16, FIC_BF16, FIC_F32, FIC_I32, FIC_I64, FIC_U8, FIC_F8_E4M3FN, FIC_F8_E5M2};
  fic_tensor t = {nullptr, {FIC_DEVICE_CUDA, 0}, 0, FIC_F16, nullptr, nullptr, 0};
  fic_arg a[] = {fic_arg_none(),
                 fic_arg_int(1),
                 fic_arg_bool(1),
                 fic_arg_float(1.0),
                 fic_arg_tensor(&t),
                 fic_arg_opt_tensor(nullptr),
                 fic_arg_string("s"),
                 fic_arg_dtype(d[0]),
                 fic_arg_device(t.device),
                 fic_arg_tensor_object(&t),
                 fic_arg_tensor_object(nullptr)};
  fic_result r = {FIC_KIND_NONE, 0, {0}};
  fic_arg o = fic_arg_object(&r);
  fic_path_kind k = FIC_PATH_CACHE_ROOT;
  fic_status s = FIC_ERR_KERNEL;
  return static_cast<int>(sizeof a / sizeof a[0]) + static_cast<int>(r.small_len) + static_cast<int>(o.kind) +
         static_cast<int>(k) + static_cast<int>(s) + d[6].code;
}
