/* SPDX-License-Identifier: Apache-2.0 */
/* Array<int64_t> objects, as every FlashInfer attention plan returns and
 * every run takes back: read one (fic_result_array_i64) and build one
 * (fic_array_i64_new). The layout read here is in common/tvm_ffi_abi.h. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "ffi/call.h"

#define STACK_CELLS 32 /* plans hold 9 to 15 ints: no allocation for them */

/* The cells and size of an Array result, or FIC_ERR_INVALID_ARGUMENT. */
static fic_status array_cells(const fic_result *result, const fic_any **cells, size_t *size) {
  if (result->kind != FIC_TI_ARRAY || !result->v.obj)
    return fic__fail_arg("result", "result holds kind %d, not an Array (%d)", (int)result->kind, FIC_TI_ARRAY);
  const char *base = (const char *)result->v.obj;
  int64_t n;
  memcpy(cells, base + FIC_ARRAY_DATA_OFFSET, sizeof *cells);
  memcpy(&n, base + FIC_ARRAY_SIZE_OFFSET, sizeof n);
  if (n < 0 || (n > 0 && !*cells)) return fic__fail(FIC_ERR_INTERNAL, "an Array object has size %lld", (long long)n);
  *size = (size_t)n;
  return FIC_OK;
}

fic_status fic_result_array_i64(const fic_result *result, int64_t *out, size_t capacity, size_t *count) {
  if (!result) return fic__fail_arg("result", "result is NULL");
  if (!count) return fic__fail_arg("count", "count is NULL");
  const fic_any *cells = NULL;
  size_t n = 0;
  FIC_CHECK(array_cells(result, &cells, &n));
  for (size_t i = 0; i < n; ++i)
    if (cells[i].type_index != FIC_TI_INT)
      return fic__fail_arg("result", "result[%zu] has type index %d, not an integer (1)", i, (int)cells[i].type_index);
  *count = n;
  if (!out) return FIC_OK;
  if (capacity < n) return fic__fail_arg("capacity", "capacity is %zu but the Array holds %zu integers", capacity, n);
  for (size_t i = 0; i < n; ++i) out[i] = cells[i].v.v_int64;
  return FIC_OK;
}

/* "ffi.Array"(args...) -> a new Array of the arguments, owned by `out`. */
static fic_status call_ffi_array(const fic_tvm_api *api, fic_any *args, int32_t n, fic_any *out) {
  static const char k_name[] = "ffi.Array";
  const fic_byte_array name = {k_name, sizeof k_name - 1};
  void *fn = NULL;
  if (api->FunctionGetGlobal(&name, &fn) != 0 || !fn) {
    fic__drop_raised_error(api);
    return fic__fail(FIC_ERR_INTERNAL, "libtvm_ffi has no global function ffi.Array");
  }
  memset(out, 0, sizeof *out); /* the callee releases what `out` held: it must be None */
  int rc = api->FunctionCall(fn, args, n, out);
  api->ObjectDecRef(fn);
  if (rc == 0 && out->type_index == FIC_TI_ARRAY) return FIC_OK;
  if (rc == 0) {
    fic__object_release_api(api, out);
    return fic__fail(FIC_ERR_INTERNAL, "ffi.Array returned a value that is not an Array");
  }
  fic__drop_raised_error(api);
  memset(out, 0, sizeof *out);
  return fic__fail(FIC_ERR_INTERNAL, "ffi.Array failed (code %d)", rc);
}

fic_status fic_array_i64_new(fic_runtime *rt, const int64_t *values, size_t n, fic_result *out) {
  if (!rt) return fic__fail_arg("rt", "rt is NULL");
  if (!out) return fic__fail_arg("out", "out is NULL");
  if (n > 0 && !values) return fic__fail_arg("values", "values is NULL but n is %zu", n);
  if (n > INT32_MAX) return fic__fail_arg("n", "n is %zu; at most %d", n, INT32_MAX);
  fic_any stack_cells[STACK_CELLS];
  fic_any *cells = n <= STACK_CELLS ? stack_cells : malloc(n * sizeof *cells);
  if (!cells) return fic__fail(FIC_ERR_NO_MEMORY, "cannot allocate %zu argument cells", n);
  for (size_t i = 0; i < n; ++i) {
    memset(&cells[i], 0, sizeof cells[i]);
    cells[i].type_index = FIC_TI_INT;
    cells[i].v.v_int64 = values[i];
  }
  fic_any made;
  fic_status st = call_ffi_array(rt->tvm, cells, (int32_t)n, &made);
  if (cells != stack_cells) free(cells);
  if (st == FIC_OK) memcpy(out, &made, sizeof *out);
  return st;
}
