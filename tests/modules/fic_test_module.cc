/* SPDX-License-Identifier: Apache-2.0 */
// A stand-in for a FlashInfer kernel module, for machines without a GPU.
//
// Written against the REAL tvm-ffi 0.1.3 C++ headers and exported with the
// same macro FlashInfer uses (TVM_FFI_DLL_EXPORT_TYPED_FUNC), so every
// argument goes through the real conversion code and every failure raises a
// real TVM-FFI error object through the real libtvm_ffi.so. Like a kernel
// module, it does not link libtvm_ffi.so: the symbols come from the copy the
// host loaded RTLD_GLOBAL.
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/shape.h>
#include <tvm/ffi/container/tensor.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/extra/c_env_api.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/optional.h>
#include <tvm/ffi/string.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace ffi = tvm::ffi;
using ffi::Optional;
using ffi::TensorView;

namespace {

int64_t echo_int(int64_t x) { return x; }
double echo_float(double x) { return x; }
bool echo_bool(bool x) { return x; }
ffi::String echo_string(ffi::String s) { return s; }
DLDataType echo_dtype(DLDataType d) { return d; }
DLDevice echo_device(DLDevice d) { return d; }
int64_t add_int(int64_t a, int64_t b) { return a + b; }
void noop() {}

bool is_f32(const TensorView &t) { return t.dtype().code == kDLFloat && t.dtype().bits == 32 && t.dtype().lanes == 1; }

// out[i] = (negate ? -1 : 1) * alpha * in[i] + offset, over float32 CPU
// tensors of any shape (honouring strides), checked the way FlashInfer checks.
void scale_into(TensorView out, TensorView in, double alpha, bool negate, int64_t offset) {
  TVM_FFI_ICHECK_EQ(out.ndim(), in.ndim()) << "out and in must have the same rank";
  TVM_FFI_ICHECK(is_f32(out) && is_f32(in)) << "float32 tensors required";
  TVM_FFI_ICHECK_EQ(in.device().device_type, kDLCPU);
  int64_t n = 1;
  for (int i = 0; i < in.ndim(); ++i) {
    TVM_FFI_ICHECK_EQ(out.size(i), in.size(i));
    n *= in.size(i);
  }
  const float *src = static_cast<const float *>(in.data_ptr());
  float *dst = static_cast<float *>(out.data_ptr());
  const double sign = negate ? -1.0 : 1.0;
  // Walk the logical index with strides, so non-contiguous views work.
  std::vector<int64_t> idx(in.ndim(), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t so = 0, si = 0;
    for (int i = 0; i < in.ndim(); ++i) {
      so += idx[i] * out.stride(i);
      si += idx[i] * in.stride(i);
    }
    dst[so] = static_cast<float>(sign * alpha * src[si] + static_cast<double>(offset));
    for (int i = in.ndim() - 1; i >= 0; --i) {
      if (++idx[i] < in.size(i)) break;
      idx[i] = 0;
    }
  }
}

double tensor_sum(TensorView x) {
  TVM_FFI_ICHECK(is_f32(x)) << "float32 tensor required";
  TVM_FFI_ICHECK(x.IsContiguous()) << "contiguous tensor required";
  const float *p = static_cast<const float *>(x.data_ptr());
  double s = 0;
  for (int64_t i = 0; i < x.numel(); ++i) s += p[i];
  return s;
}

// -1 for None, else the rank: exercises Optional<TensorView>.
int64_t opt_ndim(Optional<TensorView> t) { return t.has_value() ? t.value().ndim() : -1; }

// The stream the TVM-FFI environment holds for (CUDA, device_id) on this thread.
int64_t current_stream(int64_t device_id) {
  return reinterpret_cast<int64_t>(TVMFFIEnvGetStream(kDLCUDA, static_cast<int32_t>(device_id)));
}

// Same, seen by a kernel that receives a tensor (stream chosen from its device).
int64_t stream_of(TensorView t) {
  return reinterpret_cast<int64_t>(TVMFFIEnvGetStream(t.device().device_type, t.device().device_id));
}

void raise_value_error(ffi::String msg) { TVM_FFI_THROW(ValueError) << msg; }
void raise_std_exception() { throw std::runtime_error("plain std::runtime_error from the module"); }

// Like FlashInfer's check: InternalError "Check failed: ..." for a mismatch.
void check_same_len(TensorView a, TensorView b) { TVM_FFI_ICHECK_EQ(a.size(0), b.size(0)) << "lengths differ"; }

ffi::Array<int64_t> make_array(int64_t n) {
  ffi::Array<int64_t> a;
  for (int64_t i = 0; i < n; ++i) a.push_back(i * i);
  return a;
}

ffi::String long_string(int64_t n) { return ffi::String(std::string(static_cast<size_t>(n), 'x')); }

// Like an attention plan: an Array<int64_t> of n ints (10 * i + 1) ...
ffi::Array<int64_t> make_plan(int64_t n) {
  ffi::Array<int64_t> a;
  for (int64_t i = 0; i < n; ++i) a.push_back(10 * i + 1);
  return a;
}
// ... which its run takes back (the conversion checks every element is an int).
int64_t sum_plan(ffi::Array<int64_t> plan) {
  int64_t s = 0;
  for (int64_t x : plan) s += x;
  return s;
}
// An Array that is not Array<int64_t>: its cells are strings.
ffi::Array<ffi::String> make_string_array(int64_t n) {
  ffi::Array<ffi::String> a;
  for (int64_t i = 0; i < n; ++i) a.push_back(ffi::String(std::string(static_cast<size_t>(i + 1), 's')));
  return a;
}
// An object of a kind the call path refuses to pass (Shape, 69).
ffi::Shape make_shape(int64_t n) { return ffi::Shape(std::vector<int64_t>(static_cast<size_t>(n), 2)); }
int64_t string_size(ffi::String s) { return static_cast<int64_t>(s.size()); }

// FlashInfer's optional parameters (alibi slopes, masks, fp8 scales) are
// Optional<ffi::Tensor>: None or a Tensor object; a DLTensor* is a TypeError.
// -1 for None, else the element count.
int64_t opt_tensor_numel(Optional<ffi::Tensor> t) { return t.has_value() ? t.value().numel() : -1; }
// The sum of a float32 Tensor object's elements, honouring strides, plus the
// number of references the call holds on it (the caller's view counts none).
ffi::Array<int64_t> tensor_object_info(ffi::Tensor t) {
  TVM_FFI_ICHECK(t.dtype().code == kDLFloat && t.dtype().bits == 32) << "float32 tensor required";
  const float *p = static_cast<const float *>(t.data_ptr());
  double s = 0;
  std::vector<int64_t> idx(t.ndim(), 0);
  for (int64_t k = 0; k < t.numel(); ++k) {
    int64_t off = 0;
    for (int i = 0; i < t.ndim(); ++i) off += idx[i] * t.stride(i);
    s += p[off];
    for (int i = t.ndim() - 1; i >= 0; --i) {
      if (++idx[i] < t.size(i)) break;
      idx[i] = 0;
    }
  }
  return ffi::Array<int64_t>{static_cast<int64_t>(s), static_cast<int64_t>(t.use_count())};
}

// A plan reads its indptrs on the host: an int32 CPU tensor, summed.
int64_t host_sum_i32(TensorView t) {
  TVM_FFI_ICHECK_EQ(t.device().device_type, kDLCPU) << "host tensor required";
  TVM_FFI_ICHECK(t.dtype().code == kDLInt && t.dtype().bits == 32) << "int32 tensor required";
  TVM_FFI_ICHECK(t.IsContiguous());
  const int32_t *p = static_cast<const int32_t *>(t.data_ptr());
  int64_t s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += p[i];
  return s;
}
// A plan with a host indptr and a device buffer: {host sum, the env stream
// the device tensor's device has for this call} (the device memory is never read).
ffi::Array<int64_t> host_sum_and_stream(TensorView host, TensorView dev) {
  TVM_FFI_ICHECK_EQ(dev.device().device_type, kDLCUDA) << "dev must be a CUDA tensor";
  int64_t stream = reinterpret_cast<int64_t>(TVMFFIEnvGetStream(kDLCUDA, dev.device().device_id));
  return ffi::Array<int64_t>{host_sum_i32(host), stream};
}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(echo_int, echo_int);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(echo_float, echo_float);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(echo_bool, echo_bool);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(echo_string, echo_string);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(echo_dtype, echo_dtype);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(echo_device, echo_device);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(add_int, add_int);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(noop, noop);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(scale_into, scale_into);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(tensor_sum, tensor_sum);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(opt_ndim, opt_ndim);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(current_stream, current_stream);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(stream_of, stream_of);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(raise_value_error, raise_value_error);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(raise_std_exception, raise_std_exception);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(check_same_len, check_same_len);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(make_array, make_array);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(long_string, long_string);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(make_plan, make_plan);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(sum_plan, sum_plan);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(make_string_array, make_string_array);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(make_shape, make_shape);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(string_size, string_size);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(opt_tensor_numel, opt_tensor_numel);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(tensor_object_info, tensor_object_info);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(host_sum_i32, host_sum_i32);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(host_sum_and_stream, host_sum_and_stream);
