/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flashinfer_c.h - the one public header of flashinfer-c.
 *
 * flashinfer-c runs FlashInfer's prebuilt CUDA kernels from native code with no
 * Python: it extracts the kernel modules and libtvm_ffi.so from the pinned
 * wheels into a cache, loads them, and calls their TVM-FFI "safe call" entry
 * points with DLPack tensors that describe the caller's device memory.
 *
 * Conventions (all of them, everywhere):
 *   - Every public symbol starts with `fic_` (types, functions) or `FIC_`
 *     (macros, enum values).
 *   - Every function that can fail returns an `fic_status` (FIC_OK is 0);
 *     the error accessors and fic_status_string() return strings and never fail. On failure a
 *     thread-local record holds the detail: fic_last_error_message(),
 *     fic_last_error_kind(), fic_last_error_backtrace(). The record is
 *     overwritten by the next failing call on the same thread and is left
 *     untouched by successful calls.
 *   - No CUDA header is needed: streams are `void *` (a cudaStream_t; NULL is
 *     the legacy default stream). The library does not link libcudart.
 *   - Strings returned by the library stay valid until the next call that
 *     fails on the same thread (error strings) or for the life of the process
 *     (status strings), unless documented otherwise.
 *
 * Thread safety: an fic_runtime may be used by many threads at once for
 * kernel calls, function look-ups and preloads. fic_runtime_open() may be
 * called concurrently from many threads and processes (they share the cache
 * safely). fic_runtime_close() must not race with calls on the same runtime.
 */
#ifndef FLASHINFER_C_H
#define FLASHINFER_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FIC_STATIC_DEFINE)
#define FIC_API
#elif defined(FIC_BUILDING_LIBRARY)
#define FIC_API __attribute__((visibility("default")))
#else
#define FIC_API
#endif

/* ------------------------------------------------------------------------ */
/* Status codes and the thread-local error record                           */
/* ------------------------------------------------------------------------ */

/* Every status: X(NAME, value, description). The one list the enum, the
 * names (fic_status_name) and the descriptions (fic_status_string) come from
 * (libuv's UV_ERRNO_MAP). Values are stable; new ones are added at the end. */
#define FIC_STATUS_MAP(X)                                                                                           \
  X(OK, 0, "success")                                                                                               \
  X(ERR_INVALID_ARGUMENT, 1, "invalid argument") /* NULL pointer, bad dtype/shape/stride/device, bad option */      \
  X(ERR_NO_MEMORY, 2, "out of host memory")      /* host allocation failed */                                       \
  X(ERR_IO, 3, "input/output error")             /* read/write/fsync/rename/mkdir failed */                         \
  X(ERR_DISK_FULL, 4, "disk full")               /* ENOSPC or EDQUOT while writing the cache */                     \
  X(ERR_PERMISSION, 5, "permission denied")      /* cache dir or file not writable/readable */                      \
  X(ERR_NOT_FOUND, 6, "not found")               /* a wheel, member, module or function does not exist */           \
  X(ERR_ZIP, 7, "malformed or unsupported zip archive")                                                             \
  X(ERR_UNSAFE_MEMBER, 8, "unsafe archive member") /* path traversal, symlink, absurd size in an archive */         \
  X(ERR_CHECKSUM, 9, "checksum mismatch")          /* SHA-256 or CRC-32 mismatch */                                 \
  X(ERR_NETWORK, 10, "network error")              /* download failed (HTTP error, timeout, DNS ...) */             \
  X(ERR_OFFLINE, 11, "download needed but offline mode is on")                                                      \
  X(ERR_LOCK_TIMEOUT, 12, "timed out waiting for the cache lock")                                                   \
  X(ERR_CACHE_CORRUPT, 13, "cache entry is corrupt") /* a published cache entry failed verification */              \
  X(ERR_DLOPEN, 14, "cannot load shared library")    /* dlopen of libtvm_ffi or a kernel module failed */           \
  X(ERR_SYMBOL, 15, "symbol not found")              /* an expected symbol is missing from a library */             \
  X(ERR_VERSION, 16, "incompatible tvm-ffi version") /* incompatible tvm-ffi runtime already loaded or found */     \
  X(ERR_CUDART_NOT_FOUND, 17, "CUDA runtime libcudart.so.13 not found")                                             \
  X(ERR_ABI, 18, "call does not match the kernel's signature") /* arity, argument kinds */                          \
  X(ERR_KERNEL, 19, "kernel raised an error")                  /* see fic_last_error_kind() */                      \
  X(ERR_CUDA, 20, "CUDA runtime error")                        /* a CUDA runtime call made by the library failed */ \
  X(ERR_CAPTURING, 21, "module load refused during CUDA graph capture")                                             \
  X(ERR_UNSUPPORTED, 22, "not supported") /* platform, GPU or configuration not supported */                        \
  X(ERR_INTERNAL, 23, "internal error")   /* a bug in flashinfer-c; please report it */

/* The enumerators are FIC_<NAME>: FIC_OK = 0, FIC_ERR_INVALID_ARGUMENT = 1, ... */
// clang-format off
typedef enum fic_status {
#define FIC_STATUS_ENUM_(name, value, text) FIC_##name = value,
  FIC_STATUS_MAP(FIC_STATUS_ENUM_)
#undef FIC_STATUS_ENUM_
  FIC_STATUS_COUNT /* one past the last status: not a status */
} fic_status;
// clang-format on

/* A short, static description of a status ("invalid argument"). Never NULL;
 * an unknown value gives "unknown status". */
FIC_API const char *fic_status_string(fic_status status);
/* The status's enumerator name ("FIC_ERR_KERNEL"), for logs. Never NULL; an
 * unknown value gives "FIC_UNKNOWN_STATUS". Thread-safe. (0.2.0) */
FIC_API const char *fic_status_name(fic_status status);

/* The status of the last failing call on this thread (FIC_OK if none). */
FIC_API fic_status fic_last_error_status(void);
/* A human-readable message for the last failure on this thread ("" if none). */
FIC_API const char *fic_last_error_message(void);
/* For FIC_ERR_KERNEL: the TVM-FFI error kind raised by the kernel wrapper
 * ("TypeError", "ValueError", "InternalError", ...); "" otherwise. */
FIC_API const char *fic_last_error_kind(void);
/* For FIC_ERR_KERNEL: the backtrace carried by the TVM-FFI error, most recent
 * call first ("" if none or not applicable). */
FIC_API const char *fic_last_error_backtrace(void);
/* For FIC_ERR_INVALID_ARGUMENT raised by argument validation: the name of the
 * offending argument ("q", "weight" ...); "" otherwise. */
FIC_API const char *fic_last_error_argument(void);
/* Forget the last error on this thread. */
FIC_API fic_status fic_clear_error(void);

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define FIC_VERSION_MAJOR 0
#define FIC_VERSION_MINOR 2
#define FIC_VERSION_PATCH 0
#define FIC_VERSION_NUMBER (FIC_VERSION_MAJOR * 10000 + FIC_VERSION_MINOR * 100 + FIC_VERSION_PATCH)

/* The library's version as a number (MAJOR*10000 + MINOR*100 + PATCH) and a
 * string such as "0.2.0". Either pointer may be NULL. */
FIC_API fic_status fic_version(unsigned *number, const char **string);

/* ------------------------------------------------------------------------ */
/* Tensors: a DLPack-compatible descriptor                                  */
/* ------------------------------------------------------------------------ */

/* DLPack device types and data type codes used by FlashInfer. */
enum { FIC_DEVICE_CPU = 1, FIC_DEVICE_CUDA = 2 };
enum {
  FIC_DTYPE_INT = 0,
  FIC_DTYPE_UINT = 1,
  FIC_DTYPE_FLOAT = 2,
  FIC_DTYPE_BFLOAT = 4,
  FIC_DTYPE_BOOL = 6,
  FIC_DTYPE_FLOAT8_E4M3FN = 10, /* 0.2.0 */
  FIC_DTYPE_FLOAT8_E5M2 = 12    /* 0.2.0 */
};

typedef struct fic_dtype {
  uint8_t code;   /* FIC_DTYPE_* (DLPack DLDataTypeCode) */
  uint8_t bits;   /* 16 for f16/bf16, 32 for f32 ... */
  uint16_t lanes; /* 1 */
} fic_dtype;

typedef struct fic_device {
  int32_t device_type; /* FIC_DEVICE_CUDA for kernels */
  int32_t device_id;   /* CUDA ordinal */
} fic_device;

/* Describes memory the caller owns. Layout-compatible with DLPack's DLTensor
 * (checked at build time), so a `DLTensor *` may be passed by casting it.
 * `shape` and `strides` are counted in elements; `strides` may be NULL for a
 * contiguous row-major tensor (the library fills them in before the call,
 * because FlashInfer reads strides unconditionally). `byte_offset` must be 0:
 * FlashInfer ignores it, so the library rejects a non-zero value rather than
 * let the kernel silently read the wrong bytes. */
typedef struct fic_tensor {
  void *data;
  fic_device device;
  int32_t ndim;
  fic_dtype dtype;
  const int64_t *shape;
  const int64_t *strides;
  uint64_t byte_offset;
} fic_tensor;

/* A dtype value usable in C and C++ expressions (C: a compound literal; C++
 * has none, so a braced temporary). */
#ifdef __cplusplus
#define FIC_DTYPE(code, bits, lanes) (fic_dtype{(uint8_t)(code), (uint8_t)(bits), (uint16_t)(lanes)})
#else
#define FIC_DTYPE(code, bits, lanes) ((fic_dtype){(uint8_t)(code), (uint8_t)(bits), (uint16_t)(lanes)})
#endif
#define FIC_F16 FIC_DTYPE(FIC_DTYPE_FLOAT, 16, 1)
#define FIC_BF16 FIC_DTYPE(FIC_DTYPE_BFLOAT, 16, 1)
#define FIC_F32 FIC_DTYPE(FIC_DTYPE_FLOAT, 32, 1)
#define FIC_I32 FIC_DTYPE(FIC_DTYPE_INT, 32, 1)
#define FIC_I64 FIC_DTYPE(FIC_DTYPE_INT, 64, 1)
#define FIC_U8 FIC_DTYPE(FIC_DTYPE_UINT, 8, 1)
/* fp8 (0.2.0): DLPack's kDLFloat8_e4m3fn and kDLFloat8_e5m2. */
#define FIC_F8_E4M3FN FIC_DTYPE(FIC_DTYPE_FLOAT8_E4M3FN, 8, 1)
#define FIC_F8_E5M2 FIC_DTYPE(FIC_DTYPE_FLOAT8_E5M2, 8, 1)

/* ------------------------------------------------------------------------ */
/* Runtime: artifacts, cache, loading                                       */
/* ------------------------------------------------------------------------ */

typedef struct fic_runtime fic_runtime;

/* Download progress: bytes received so far and the total (0 if unknown).
 * Return non-zero to abort the download (the call then fails with
 * FIC_ERR_NETWORK and nothing is published). */
typedef int (*fic_progress_fn)(void *user, const char *what, uint64_t done, uint64_t total);

/* Options for fic_runtime_open(). Initialise with fic_config_init(); every
 * NULL/0 field means "use the default", which reads the environment:
 *   FLASHINFER_C_CACHE_DIR        (alias FLASHINFER_RS_CACHE_DIR)
 *   FLASHINFER_C_JIT_CACHE_WHEEL  (alias FLASHINFER_RS_JIT_CACHE_WHEEL)
 *   FLASHINFER_C_TVMFFI_WHEEL     (alias FLASHINFER_RS_TVMFFI_WHEEL)
 *   FLASHINFER_C_OFFLINE=1        never download
 *   FLASHINFER_C_SEED_DIRS        ':'-separated read-only wheel directories
 * An explicit field always wins over the environment. */
typedef struct fic_config {
  size_t struct_size;          /* sizeof(fic_config): set by fic_config_init */
  const char *cache_dir;       /* root of the cache */
  const char *jit_cache_wheel; /* path of a local flashinfer_jit_cache wheel */
  const char *tvmffi_wheel;    /* path of a local apache_tvm_ffi wheel */
  const char *seed_dirs;       /* ':'-separated read-only directories holding wheels */
  const char *const *modules;  /* modules to prepare up front, NULL-terminated; see below */
  int offline;                 /* 1: never download; 0: use FLASHINFER_C_OFFLINE */
  int verify_wheel_sha256;     /* 1: check a wheel given by path against the pinned hash (default 0: a local wheel is
                                  trusted) */
  double lock_timeout_s;       /* how long to wait for another process's extraction (default 600) */
  fic_progress_fn progress;    /* optional download progress callback; kept (with progress_user) by the runtime
                                  for a module's first use: both must stay valid while it is open */
  void *progress_user;
} fic_config;
/* Modules: each module is extracted from the jit-cache wheel into the
 * cache the first time it is needed (fic_function_get(), a typed kernel,
 * fic_runtime_preload(), fic_runtime_module_path()), once across threads and
 * processes, and reused in O(1) afterwards; a runtime may use any number.
 * `modules` lists those to prepare up front at open; it is strict: a module the
 * wheel lacks fails with FIC_ERR_NOT_FOUND (list a wheel's modules with
 * fic_wheel_modules()). NULL (or an empty list): only libtvm_ffi.so at open.
 * (Until 0.2.x, NULL meant the default set norm, gdn_prefill_sm90, at most 32.) */

FIC_API fic_status fic_config_init(fic_config *config);

/* Prepare the artifacts (find or download the wheels, extract the modules
 * into the cache under a lock, or reuse a completed cache entry in O(1)),
 * load libtvm_ffi.so (or reuse one already in the process after a version
 * check) and return a runtime. Kernel modules are loaded lazily on first use
 * or by fic_runtime_preload(). `config` may be NULL for all defaults. */
FIC_API fic_status fic_runtime_open(const fic_config *config, fic_runtime **out);

/* Release the runtime. Kernel modules and libtvm_ffi stay loaded for the life
 * of the process (unloading a CUDA module with work in flight is unsafe).
 * NULL is accepted. */
FIC_API fic_status fic_runtime_close(fic_runtime *rt);

/* Load the named kernel modules now, extracting those the cache lacks
 * (NULL-terminated list; NULL = every module this runtime has prepared so
 * far: the configured ones and those already used), so that later calls,
 * including those made during CUDA graph capture, never trigger an extraction
 * or a load (either is refused during capture with FIC_ERR_CAPTURING).
 * FIC_ERR_NOT_FOUND names a module the wheel lacks. */
FIC_API fic_status fic_runtime_preload(fic_runtime *rt, const char *const *modules);

/* What fic_runtime_path() can report. (0.2.0: an enum; 0.1.0 took strings) */
typedef enum fic_path_kind {
  FIC_PATH_CACHE_ROOT = 0,      /* root of the cache */
  FIC_PATH_ARTIFACT_DIR = 1,    /* the cache entry in use: <root>/<artifact hash> */
  FIC_PATH_LIBTVM_FFI = 2,      /* the libtvm_ffi.so the process uses */
  FIC_PATH_LIBCUDART = 3,       /* libcudart.so.13 (found and loaded on this call if needed) */
  FIC_PATH_JIT_CACHE_WHEEL = 4, /* the jit-cache wheel used; "" when a warm start needed none */
  FIC_PATH_TVMFFI_WHEEL = 5,    /* the tvm-ffi wheel used; "" when a warm start needed none */
  FIC_PATH_COUNT                /* one past the last kind */
} fic_path_kind;

/* A path the runtime uses. The string lives as long as the runtime.
 * FIC_ERR_INVALID_ARGUMENT for a NULL pointer or a `what` out of range;
 * FIC_ERR_CUDART_NOT_FOUND for FIC_PATH_LIBCUDART without a libcudart.
 * Thread-safe. */
FIC_API fic_status fic_runtime_path(const fic_runtime *rt, fic_path_kind what, const char **out);
/* The extracted .so of module `module` ("norm"), extracting it first if the
 * cache lacks it (it is not loaded); FIC_ERR_NOT_FOUND if the wheel lacks it,
 * FIC_ERR_CHECKSUM if the jit-cache wheel changed since open. The string lives
 * as long as the runtime. Thread-safe. (0.2.0; extracts on demand since the
 * release after 0.2.x) */
FIC_API fic_status fic_runtime_module_path(const fic_runtime *rt, const char *module, const char **out);

/* ------------------------------------------------------------------------ */
/* The cache and wheels without a runtime (0.2.0)                           */
/* ------------------------------------------------------------------------ */
/* These never load a library: they only read (and, where said, write) files. */

/* Called once per module of a wheel; return non-zero to stop early. */
typedef int (*fic_module_fn)(void *user, const char *module, uint64_t size);

/* Call `fn` for every kernel module (<m> of flashinfer_jit_cache/jit_cache/<m>/<m>.so)
 * in the jit-cache wheel at `wheel_path`, in name order, with its
 * uncompressed size. Reads the zip's central directory only. Statuses:
 * FIC_ERR_INVALID_ARGUMENT (NULL path or fn), FIC_ERR_NOT_FOUND (no such
 * file), FIC_ERR_ZIP / FIC_ERR_UNSAFE_MEMBER (not a zip, or a hostile one).
 * A non-zero return from fn stops the walk; the call still returns FIC_OK.
 * Thread-safe. */
FIC_API fic_status fic_wheel_modules(const char *wheel_path, fic_module_fn fn, void *user);

/* Prepare the cache entry `config` selects exactly as fic_runtime_open()
 * does (which may find, download and extract the wheels), but load nothing;
 * then re-hash every file of the entry against its completion marker, and
 * every module present in the entry (however it got there) against its own.
 * FIC_ERR_CACHE_CORRUPT names the first file that differs; otherwise the
 * statuses of fic_runtime_open() for preparing. `artifact_dir` (may be NULL)
 * receives the entry's path, truncated to `size`. Thread-safe, also across
 * processes sharing the cache. */
FIC_API fic_status fic_cache_verify(const fic_config *config, char *artifact_dir, size_t size);

/* Remove every cache entry under the cache root other than the one `config`
 * selects, unless an extraction holds its lock, plus leftovers of
 * interrupted runs. Wheels are kept. dry_run = 1 writes, extracts, downloads
 * and loads nothing and reports what would be freed. `freed` and
 * `remaining` (either may be NULL) receive bytes freed (or that would be) and
 * bytes left. Fails, removing nothing, if the entry in use cannot be
 * identified (e.g. FIC_ERR_NOT_FOUND: a wheel given by path is missing);
 * FIC_ERR_IO / FIC_ERR_PERMISSION when the cache cannot be listed or an
 * entry removed. Safe against other processes (entries being extracted are
 * skipped), but a process that has not yet loaded a removed entry's
 * libraries fails to: run it when no flashinfer-c process is starting. */
FIC_API fic_status fic_cache_gc(const fic_config *config, int dry_run, uint64_t *freed, uint64_t *remaining);

/* Write a human-readable diagnosis (library and tvm-ffi versions, cudart path
 * and version, driver version, each GPU's compute capability, cache paths and
 * every path tried) into buf (NUL-terminated, truncated to size). `rt` may be
 * NULL to diagnose without opening a runtime. *needed (may be NULL) receives
 * the full length. */
FIC_API fic_status fic_diagnose(const fic_runtime *rt, char *buf, size_t size, size_t *needed);

/* ------------------------------------------------------------------------ */
/* Generic calls: any exported function of any module                       */
/* ------------------------------------------------------------------------ */

/* Argument/result kinds. The values are TVM-FFI type indices (stable since
 * tvm-ffi 0.1.0); only these may be passed. */
typedef enum fic_kind {
  FIC_KIND_NONE = 0,
  FIC_KIND_INT = 1,
  FIC_KIND_BOOL = 2,
  FIC_KIND_FLOAT = 3,
  FIC_KIND_DTYPE = 5,
  FIC_KIND_DEVICE = 6,
  FIC_KIND_TENSOR = 7,         /* a borrowed fic_tensor / DLTensor pointer */
  FIC_KIND_STRING = 8,         /* a borrowed NUL-terminated string (argument only) */
  FIC_KIND_SMALL_STRING = 11,  /* result only */
  FIC_KIND_OBJECT = 64,        /* result: any TVM-FFI object (String 65, Array 71 ...); argument (0.2.0): a borrowed
                                  String, Tensor or Array object, see fic_arg_object */
  FIC_KIND_TENSOR_OBJECT = 70, /* argument only (0.2.0): a borrowed fic_tensor passed as a TVM-FFI Tensor object */
  FIC_KIND_ARRAY = 71          /* result only (0.2.0): an Array object (a plan's); see fic_result_array_i64 */
} fic_kind;

/* One argument: 16 bytes, the layout of TVM-FFI's TVMFFIAny. Build it with
 * the fic_arg_* constructors below, which cannot fail. */
typedef struct fic_arg {
  int32_t kind;
  uint32_t reserved; /* 0 */
  union {
    int64_t i;
    double f;
    const void *p;
    const char *s;
    fic_dtype dtype;
    fic_device device;
  } v;
} fic_arg;

static inline fic_arg fic_arg_none(void) {
  fic_arg a = {FIC_KIND_NONE, 0, {0}};
  return a;
}
static inline fic_arg fic_arg_int(int64_t x) {
  fic_arg a = {FIC_KIND_INT, 0, {0}};
  a.v.i = x;
  return a;
}
static inline fic_arg fic_arg_bool(int x) {
  fic_arg a = {FIC_KIND_BOOL, 0, {0}};
  a.v.i = x ? 1 : 0;
  return a;
}
static inline fic_arg fic_arg_float(double x) {
  fic_arg a = {FIC_KIND_FLOAT, 0, {0}};
  a.v.f = x;
  return a;
}
static inline fic_arg fic_arg_tensor(const fic_tensor *t) {
  fic_arg a = {FIC_KIND_TENSOR, 0, {0}};
  a.v.p = t;
  return a;
}
/* A NULL tensor passes None: for Optional<TensorView> parameters
 * (Optional<ffi::Tensor> takes fic_arg_tensor_object). */
static inline fic_arg fic_arg_opt_tensor(const fic_tensor *t) { return t ? fic_arg_tensor(t) : fic_arg_none(); }
/* (0.2.0) For parameters typed `Optional<ffi::Tensor>` or `ffi::Tensor`,
 * which refuse a plain tensor pointer (FIC_KIND_TENSOR) with a TypeError:
 * the call wraps `t` in a TVM-FFI Tensor object that borrows its memory and
 * releases it once after the call, on every path (one small allocation per
 * such argument, inside libtvm_ffi). NULL passes None. At most 16 per call. */
static inline fic_arg fic_arg_tensor_object(const fic_tensor *t) {
  fic_arg a = {t ? FIC_KIND_TENSOR_OBJECT : FIC_KIND_NONE, 0, {0}};
  a.v.p = t;
  return a;
}
static inline fic_arg fic_arg_string(const char *s) {
  fic_arg a = {FIC_KIND_STRING, 0, {0}};
  a.v.s = s;
  return a;
}
static inline fic_arg fic_arg_dtype(fic_dtype d) {
  fic_arg a = {FIC_KIND_DTYPE, 0, {0}};
  a.v.dtype = d;
  return a;
}
static inline fic_arg fic_arg_device(fic_device d) {
  fic_arg a = {FIC_KIND_DEVICE, 0, {0}};
  a.v.device = d;
  return a;
}

/* What a call returned. Owns at most one object reference: release it with
 * fic_result_release() exactly once (a no-op for plain values). */
typedef struct fic_result {
  int32_t kind;       /* FIC_KIND_NONE, _INT, _BOOL, _FLOAT, _DTYPE, _DEVICE, _SMALL_STRING, or >= 64 */
  uint32_t small_len; /* FIC_KIND_SMALL_STRING: the string's length in v.small; 0 otherwise */
  union {
    int64_t i;
    double f;
    void *obj;
    char small[8];
    fic_dtype dtype;
    fic_device device;
  } v;
} fic_result;

/* (0.2.0) Borrow the object a result holds (a plan's Array<int64_t>, a
 * String, a Tensor) as an argument; the result keeps its reference and must
 * outlive the call. The call reads the object's type index and refuses any
 * kind but String (65), Tensor (70) and Array (71); a result that holds no
 * object gives an argument the call refuses. */
static inline fic_arg fic_arg_object(const fic_result *r) {
  fic_arg a = {FIC_KIND_OBJECT, 0, {0}};
  if (r && r->kind >= FIC_KIND_OBJECT) a.v.p = r->v.obj;
  return a;
}

/* A resolved exported function; owned by the runtime, valid until it closes. */
typedef struct fic_function fic_function;

/* Look up `__tvm_ffi_<name>` in module `module` (loading it if needed, which
 * is refused with FIC_ERR_CAPTURING while `stream` is capturing a CUDA
 * graph). The result is cached: later look-ups take no lock. */
FIC_API fic_status fic_function_get(fic_runtime *rt, const char *module, const char *name, void *stream,
                                    fic_function **out);

/* Call a function. For the duration of the call the TVM-FFI environment
 * stream of CUDA device `device_id` is `stream` on this thread; the previous
 * stream is restored on every path. device_id = -1 takes the device of the
 * first CUDA tensor argument (and leaves the streams alone if there is
 * none: host (CPU) tensors never select a device). `result` may be NULL if
 * the function returns nothing; otherwise it is overwritten (not released)
 * and must be released by the caller. FIC_ERR_INVALID_ARGUMENT naming
 * "args[i]" for a malformed tensor, an object argument holding no object or
 * an object other than String/Tensor/Array (0.2.0), or more than 16
 * tensor-object arguments (0.2.0). */
FIC_API fic_status fic_function_call(const fic_function *fn, const fic_arg *args, int32_t num_args, int32_t device_id,
                                     void *stream, fic_result *result);

/* If the result is a string (small or object), point *data and *size at it. The
 * bytes live as long as the result. */
FIC_API fic_status fic_result_string(const fic_result *result, const char **data, size_t *size);
/* Release the object a result holds, if any, and reset it to None. NULL ok. */
FIC_API fic_status fic_result_release(fic_result *result);
/* (0.2.0) Read an Array<int64_t> result (an attention plan's) without
 * releasing it. *count receives the number of elements; with out == NULL
 * nothing else happens. Otherwise the elements are copied to out[0..count).
 * FIC_ERR_INVALID_ARGUMENT, writing nothing to `out`: result or count NULL,
 * the result is not an Array (argument "result"), an element is not an
 * integer (its index in the message), or capacity < *count (argument
 * "capacity"; *count still holds the size needed). Thread-safe for
 * distinct results, and for one result read concurrently. */
FIC_API fic_status fic_result_array_i64(const fic_result *result, int64_t *out, size_t capacity, size_t *count);
/* (0.2.0) Build a new Array<int64_t> holding values[0..n) (e.g. a plan's
 * ints cached by the caller), through libtvm_ffi's "ffi.Array". `out` owns
 * it: release it with fic_result_release(). values may be NULL when n is 0.
 * FIC_ERR_INVALID_ARGUMENT (NULL rt/out, NULL values with n > 0, n >
 * INT32_MAX), FIC_ERR_NO_MEMORY, FIC_ERR_INTERNAL (libtvm_ffi failed).
 * Allocates; not for the per-call path. Thread-safe. */
FIC_API fic_status fic_array_i64_new(fic_runtime *rt, const int64_t *values, size_t n, fic_result *out);

/* ------------------------------------------------------------------------ */
/* Kernels of FlashInfer 0.6.3 (norm.so and gdn_prefill_sm90.so)            */
/* ------------------------------------------------------------------------ */
/* Each validates its arguments before the call (non-NULL, ndim, shapes,
 * dtypes, contiguity, same CUDA device) and names the offending argument in
 * the error; then the FlashInfer wrapper runs its own checks, whose failures
 * come back as FIC_ERR_KERNEL with the decoded kind and message. All
 * tensors must be CUDA tensors on one device; the kernel is enqueued on
 * `stream` and the call returns without synchronising. */

/* out[b,h] = input[b,h] / rms(input[b,:]) * weight[h]; input/out [batch, hidden]
 * or [batch, heads, head_dim] (per-head form, weight [head_dim]); f16/bf16. */
FIC_API fic_status fic_rmsnorm(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input,
                               const fic_tensor *weight, double eps, int enable_pdl, void *stream);
/* As rmsnorm with weight replaced by (1 + weight). */
FIC_API fic_status fic_gemma_rmsnorm(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input,
                                     const fic_tensor *weight, double eps, int enable_pdl, void *stream);
/* In place: residual += input; input = rmsnorm(residual) * weight. */
FIC_API fic_status fic_fused_add_rmsnorm(fic_runtime *rt, const fic_tensor *input, const fic_tensor *residual,
                                         const fic_tensor *weight, double eps, int enable_pdl, void *stream);
/* In place: residual += input; input = rmsnorm(residual) * (1 + weight). */
FIC_API fic_status fic_gemma_fused_add_rmsnorm(fic_runtime *rt, const fic_tensor *input, const fic_tensor *residual,
                                               const fic_tensor *weight, double eps, int enable_pdl, void *stream);
/* out (fp8 e4m3) = clamp(rmsnorm(input) * weight / scale). */
FIC_API fic_status fic_rmsnorm_quant(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input,
                                     const fic_tensor *weight, double scale, double eps, int enable_pdl, void *stream);
/* residual += input; output (fp8 e4m3) = rmsnorm(residual) * weight / scale. */
FIC_API fic_status fic_fused_add_rmsnorm_quant(fic_runtime *rt, const fic_tensor *output, const fic_tensor *input,
                                               const fic_tensor *residual, const fic_tensor *weight, double scale,
                                               double eps, int enable_pdl, void *stream);
/* out = (input - mean) / sqrt(var + eps) * gamma + beta; input/out [batch,
 * hidden] bf16, gamma/beta [hidden] f32 (as FlashInfer 0.6.3 requires). */
FIC_API fic_status fic_layernorm(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input,
                                 const fic_tensor *gamma, const fic_tensor *beta, double eps, void *stream);

/* Gated delta rule prefill (FlashInfer 0.6.3, SM90 only: on another GPU the
 * wrapper's error comes back as FIC_ERR_KERNEL). Its parameters travel in a
 * struct versioned by `struct_size` (docs/architecture.md, "Conventions"):
 * FlashInfer 0.6.8 adds three parameters, and later fields will be appended.
 * Shapes, with T the total number of tokens, N sequences, H = max(q heads,
 * v heads), D the head size (128: the kernel's state layout is fixed at
 * 128x128, so other sizes are refused). Heads: GQA (Hq >= Hv: Hk == Hv, Hq
 * multiple of Hv) or GVA (Hq == Hk, Hv multiple of Hq). N * H must be at most
 * 131072: the kernel addresses the states with 32-bit element offsets. */
typedef struct fic_gdn_prefill_params {
  size_t struct_size;             /* sizeof(fic_gdn_prefill_params): set by fic_gdn_prefill_params_init */
  const fic_tensor *output;       /* [T, H, D] f16/bf16 */
  const fic_tensor *output_state; /* [N, H, D, D] f32 */
  const fic_tensor *q;            /* [T, Hq, D], dtype of output */
  const fic_tensor *k;            /* [T, Hk, D] */
  const fic_tensor *v;            /* [T, Hv, D] */
  const fic_tensor *cu_seqlens;   /* [N+1] i64 */
  const fic_tensor *input_state;  /* [N, H, D, D] f32; default NULL (zero initial state) */
  const fic_tensor *alpha;        /* [T, H] f32; default NULL */
  const fic_tensor *beta;         /* [T, H] f32; default NULL */
  double scale;                   /* default 0: 1/sqrt(D) */
  const fic_tensor *workspace;    /* u8, at least fic_gdn_prefill_workspace_size() bytes */
  /* FlashInfer 0.6.8 adds state_checkpoints ([C, H, D, D] f32), checkpoint_cu_starts
   * ([N+1] i64) and checkpoint_every_n_tokens (int64): they will be appended
   * here, defaulting to NULL, NULL and 0, when the pinned build moves. */
} fic_gdn_prefill_params;

/* Zero `params`, set struct_size and every default. */
FIC_API fic_status fic_gdn_prefill_params_init(fic_gdn_prefill_params *params);
/* Run gdn_prefill on `stream`. struct_size may be that of an older release
 * (fields beyond it take their defaults); 0, a larger one or one that splits a
 * field is FIC_ERR_INVALID_ARGUMENT. */
FIC_API fic_status fic_gdn_prefill(fic_runtime *rt, const fic_gdn_prefill_params *params, void *stream);
/* The workspace size gdn_prefill needs on a GPU with `sm_count` SMs. */
FIC_API fic_status fic_gdn_prefill_workspace_size(int32_t sm_count, size_t *bytes);

/* ------------------------------------------------------------------------ */
/* Paged KV cache: page.so (0.2.0)                                          */
/* ------------------------------------------------------------------------ */

/* The layout of a paged KV cache's pages (FlashInfer's TensorLayout): NHD
 * pages are [page_size, num_heads, head_dim], HND pages [num_heads,
 * page_size, head_dim]. Shared by the attention calls. (0.2.0) */
typedef enum fic_kv_layout { FIC_KV_LAYOUT_NHD = 0, FIC_KV_LAYOUT_HND = 1 } fic_kv_layout;

/* append_paged_kv_cache: write appended entry i of request batch_indices[i]
 * at position positions[i] of that request, i.e. at page
 * kv_indices[kv_indptr[b] + positions[i] / page_size], slot
 * positions[i] % page_size. With nnz appended entries, B requests, P pages,
 * H heads and head size D (64, 128, 256 or 512):
 *   append_key/value   [nnz, H, D], last dimension contiguous, dtype of the caches
 *   paged_k/v_cache    [P, page_size, H, D] (NHD) or [P, H, page_size, D] (HND),
 *                      f16, bf16, fp8 e4m3fn or e5m2, identical shapes and strides,
 *                      last dimension contiguous
 *   batch_indices, positions [nnz] int32; kv_indices [pages used] int32;
 *   kv_indptr [B+1] int32; kv_last_page_len [B] int32 (all contiguous).
 * The page table must already include the appended entries (see
 * fic_batch_indices_positions). Index values live on the GPU and are not
 * checked: out-of-range ones write out of bounds. (0.2.0) */
typedef struct fic_append_paged_kv_cache_params {
  size_t struct_size; /* sizeof(fic_append_paged_kv_cache_params): set by _init */
  const fic_tensor *append_key;
  const fic_tensor *append_value;
  const fic_tensor *batch_indices;
  const fic_tensor *positions;
  const fic_tensor *paged_k_cache;
  const fic_tensor *paged_v_cache;
  const fic_tensor *kv_indices;
  const fic_tensor *kv_indptr;
  const fic_tensor *kv_last_page_len;
  int64_t kv_layout; /* fic_kv_layout; default FIC_KV_LAYOUT_NHD */
} fic_append_paged_kv_cache_params;

/* Zero `params`, set struct_size and the defaults (FIC_ERR_INVALID_ARGUMENT
 * for NULL). Thread-safe. (0.2.0) */
FIC_API fic_status fic_append_paged_kv_cache_params_init(fic_append_paged_kv_cache_params *params);
/* Enqueue the append on `stream` (nnz == 0: validates, then does nothing).
 * Statuses: FIC_ERR_INVALID_ARGUMENT naming the field (or `params` for a bad
 * struct_size, `kv_layout` outside the enum); FIC_ERR_NOT_FOUND, _DLOPEN,
 * _CAPTURING when module `page` is not prepared / does not load / would load
 * during capture; FIC_ERR_KERNEL for the wrapper's own errors. Thread-safe.
 * (0.2.0) */
FIC_API fic_status fic_append_paged_kv_cache(fic_runtime *rt, const fic_append_paged_kv_cache_params *params,
                                             void *stream);

/* append_paged_mla_kv_cache (DeepSeek MLA): as above with one head and two
 * caches: append_ckv [nnz, 512], append_kpe [nnz, 64], ckv_cache [P,
 * page_size, 512], kpe_cache [P, page_size, 64], one dtype (f16, bf16, e4m3fn
 * or e5m2), last dimensions contiguous; index tensors as above. (0.2.0) */
typedef struct fic_append_paged_mla_kv_cache_params {
  size_t struct_size; /* sizeof(fic_append_paged_mla_kv_cache_params): set by _init */
  const fic_tensor *append_ckv;
  const fic_tensor *append_kpe;
  const fic_tensor *batch_indices;
  const fic_tensor *positions;
  const fic_tensor *ckv_cache;
  const fic_tensor *kpe_cache;
  const fic_tensor *kv_indices;
  const fic_tensor *kv_indptr;
  const fic_tensor *kv_last_page_len;
} fic_append_paged_mla_kv_cache_params;

/* As fic_append_paged_kv_cache_params_init / fic_append_paged_kv_cache, with
 * the same statuses. Thread-safe. (0.2.0) */
FIC_API fic_status fic_append_paged_mla_kv_cache_params_init(fic_append_paged_mla_kv_cache_params *params);
FIC_API fic_status fic_append_paged_mla_kv_cache(fic_runtime *rt, const fic_append_paged_mla_kv_cache_params *params,
                                                 void *stream);

/* Host helpers (no runtime, no GPU; the caller copies the results to the
 * device). FlashInfer computes these with a Triton kernel that is in no
 * module. Both return FIC_ERR_INVALID_ARGUMENT naming the offending argument
 * and write nothing when a check fails. Thread-safe. (0.2.0) */

/* For B = batch_size requests whose appended entries are append_indptr[b] ..
 * append_indptr[b+1]-1 and whose KV length after the append is seq_lens[b]:
 *   batch_indices[i] = b,  positions[i] = i + seq_lens[b] - append_indptr[b+1].
 * append_indptr [B+1] must start at 0 and never decrease, seq_lens[b] must be
 * at least the request's appended count, nnz must equal append_indptr[B].
 * Nothing is written unless every check passes. */
FIC_API fic_status fic_batch_indices_positions(const int32_t *append_indptr, const int32_t *seq_lens,
                                               int32_t batch_size, int32_t *batch_indices, int32_t *positions,
                                               int64_t nnz);
/* seq_lens[b] = max(kv_indptr[b+1] - kv_indptr[b] - 1, 0) * page_size + kv_last_page_len[b].
 * kv_indptr [B+1] must never decrease, 0 <= kv_last_page_len[b] <= page_size
 * (0 for a request with no pages), results must fit int32. */
FIC_API fic_status fic_paged_kv_seq_lens(const int32_t *kv_indptr, const int32_t *kv_last_page_len, int32_t page_size,
                                         int32_t batch_size, int32_t *seq_lens);

/* ------------------------------------------------------------------------ */
/* Sampling and top-k: sampling.so, topk.so (0.2.0)                         */
/* ------------------------------------------------------------------------ */
/* Rows are [batch, vocab] float32 probabilities or logits, contiguous, on
 * one CUDA device. The kernels read them as float32 WITHOUT checking the
 * dtype, so anything else is refused here (FIC_ERR_INVALID_ARGUMENT naming
 * it); top_k_renorm_probs, top_k_mask_logits and radix_topk also take f16
 * and bf16. Sampled ids are int32 or int64 [batch_out]; `indices` (optional,
 * the output's dtype, [batch_out]) picks the probability row of each output
 * row, otherwise batch_out == batch. Per-row parameter arrays are [batch]
 * (the probability rows): top_p/min_p/temperature float32; top_k int32 for
 * the renorm/mask calls and the output's dtype for the sampling calls (the
 * kernel reads it as the id type). When an array is given the scalar is
 * ignored; array values live on the GPU and are not checked. Scalars are
 * checked: top_k in [1, vocab], top_p in (0, 1], min_p in [0, 1],
 * temperature > 0, all finite (FlashInfer checks none of them; its results
 * for such values are unspecified).
 * Randomness: Philox-4x32-10 (curand) keyed by (seed, offset); row r uses
 * subsequence r (sampling_from_logits: one per element). Equal (seed, offset, inputs, deterministic) give equal
 * results. Use fic_philox_next() to draw (seed, offset) the way FlashInfer's
 * Python does. Common statuses: FIC_ERR_INVALID_ARGUMENT naming the field;
 * FIC_ERR_NOT_FOUND, _DLOPEN, _CAPTURING for module `sampling`/`topk`;
 * FIC_ERR_KERNEL for the wrapper's own errors (and CUDA launch errors it
 * reports). An empty batch does nothing. All calls are thread-safe and
 * enqueue on `stream` without synchronising. (0.2.0) */

/* A Philox stream position, as torch's CUDA generator keeps it. */
typedef struct fic_philox {
  uint64_t seed;
  uint64_t offset;
} fic_philox;

/* Set seed and offset 0. FIC_ERR_INVALID_ARGUMENT for NULL. (0.2.0) */
FIC_API fic_status fic_philox_init(fic_philox *gen, uint64_t seed);
/* FlashInfer's get_seed_and_offset(increment): offset += round_up(increment,
 * 4), then *seed = gen->seed, *offset = the new offset (FlashInfer passes the
 * advanced value). Increments FlashInfer's Python uses: sampling_from_probs
 * and min_p: batch_out; sampling_from_logits: batch_out * vocab; top_p,
 * top_k and top_k_top_p: batch_out * 32; chain_speculative_sampling:
 * batch * (num_speculative + 1). The offset wraps modulo 2^64. Not
 * thread-safe on one generator (the caller serialises). (0.2.0) */
FIC_API fic_status fic_philox_next(fic_philox *gen, uint64_t increment, uint64_t *seed, uint64_t *offset);

/* softmax: output = softmax(logits / temperature) per row, both f32 [batch,
 * vocab]. temperature_arr (f32 [batch], may be NULL) or the scalar
 * `temperature` (> 0). workspace: a 1-D u8 device tensor, 16-byte aligned,
 * of at least fic_softmax_workspace_size() bytes (FlashInfer's Python uses 1
 * MiB). (0.2.0) */
FIC_API fic_status fic_softmax(fic_runtime *rt, const fic_tensor *workspace, const fic_tensor *logits,
                               const fic_tensor *output, const fic_tensor *temperature_arr, double temperature,
                               int enable_pdl, void *stream);
/* Bytes of workspace fic_softmax needs: batch * ceil(vocab / 8192) * 8 when
 * batch <= 128 and vocab >= 24576 (the split-vocabulary path), else 0.
 * FIC_ERR_INVALID_ARGUMENT for a negative size or NULL bytes. (0.2.0) */
FIC_API fic_status fic_softmax_workspace_size(int64_t batch, int64_t vocab, size_t *bytes);

/* The order of the two filters of fic_top_k_top_p_sampling_from_probs. */
typedef enum fic_filter_order {
  FIC_FILTER_TOP_K_FIRST = 0, /* FlashInfer's default: top_k_renorm_probs into renorm_buffer, then top-p sampling */
  FIC_FILTER_JOINT = 1        /* one kernel: both filters on the original probabilities */
} fic_filter_order;

/* One struct for the six sampling calls; each reads only its fields. */
typedef struct fic_sampling_params {
  size_t struct_size;              /* set by fic_sampling_params_init */
  const fic_tensor *probs;         /* f32 [batch, vocab]: logits for fic_sampling_from_logits */
  const fic_tensor *output;        /* int32/int64 [batch_out] sampled ids */
  const fic_tensor *indices;       /* default NULL; [batch_out], output's dtype: probability row per output row */
  const fic_tensor *top_k_arr;     /* default NULL; [batch]: output's dtype (sampling), int32 (top-k-first renorm) */
  int64_t top_k;                   /* scalar k in [1, vocab] (when top_k_arr is NULL) */
  const fic_tensor *top_p_arr;     /* default NULL; f32 [batch] */
  double top_p;                    /* scalar p in (0, 1]; default 1 */
  const fic_tensor *min_p_arr;     /* default NULL; f32 [batch] */
  double min_p;                    /* scalar min_p in [0, 1]; default 0 */
  int64_t deterministic;           /* default 1, as FlashInfer */
  uint64_t philox_seed;            /* default 0 */
  uint64_t philox_offset;          /* default 0 */
  int64_t filter_order;            /* fic_filter_order; default FIC_FILTER_TOP_K_FIRST */
  const fic_tensor *renorm_buffer; /* top-k-first: f32 [batch, vocab] scratch for the renormalised probs */
  const fic_tensor *row_states;    /* top-k-first: see fic_top_k_renorm_probs */
} fic_sampling_params;

FIC_API fic_status fic_sampling_params_init(fic_sampling_params *params);
/* Sample one id per row from probs (not necessarily normalised). (0.2.0) */
FIC_API fic_status fic_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream);
/* Sample from softmax(logits) (Gumbel-max); probs holds the logits. (0.2.0) */
FIC_API fic_status fic_sampling_from_logits(fic_runtime *rt, const fic_sampling_params *params, void *stream);
/* Sample from the smallest set of largest probabilities whose mass >= top_p. (0.2.0) */
FIC_API fic_status fic_top_p_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream);
/* Sample from the top_k largest probabilities. (0.2.0) */
FIC_API fic_status fic_top_k_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream);
/* Sample from the tokens with prob >= min_p * max(prob). (0.2.0) */
FIC_API fic_status fic_min_p_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream);
/* Top-k then top-p: filter_order FIC_FILTER_TOP_K_FIRST (default, as
 * FlashInfer's Python) runs top_k_renorm_probs(probs -> renorm_buffer) then
 * top_p_sampling_from_probs(renorm_buffer) with top_k_arr int32 and needs
 * renorm_buffer and row_states; FIC_FILTER_JOINT runs the fused kernel
 * (top_k_arr in the output's dtype; the two buffers are ignored). (0.2.0) */
FIC_API fic_status fic_top_k_top_p_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params,
                                                       void *stream);

/* renorm_probs = probs restricted to the smallest top set of mass >= p,
 * renormalised; f32 [batch, vocab]. (0.2.0) */
FIC_API fic_status fic_top_p_renorm_probs(fic_runtime *rt, const fic_tensor *probs, const fic_tensor *renorm_probs,
                                          const fic_tensor *top_p_arr, double top_p, void *stream);
/* Bytes of row_states the top-k calls need: FlashInfer's Python passes 1 MiB
 * (enough for 339 groups of CTAs, more than any GPU's SMs). (0.2.0) */
#define FIC_TOPK_ROW_STATES_BYTES ((size_t)1 << 20)
/* renorm_probs = probs restricted to the k largest of each row,
 * renormalised; probs/renorm_probs f32, f16 or bf16 (same dtype) [batch,
 * vocab]; top_k_arr int32 [batch] or NULL. row_states: a 1-D u8 device
 * tensor of at least FIC_TOPK_ROW_STATES_BYTES, zero-filled by the caller
 * before its first use (cudaMemset), as FlashInfer's Python does once; the
 * kernels clear their histograms and arrival counters at the end of each
 * call, so the buffer serves every later call without re-zeroing, but not
 * two calls in flight at once. (0.2.0) */
FIC_API fic_status fic_top_k_renorm_probs(fic_runtime *rt, const fic_tensor *probs, const fic_tensor *renorm_probs,
                                          const fic_tensor *top_k_arr, int64_t top_k, const fic_tensor *row_states,
                                          void *stream);
/* mask_logits = logits with all but the k largest of each row set to -inf;
 * dtypes and row_states as fic_top_k_renorm_probs. (0.2.0) */
FIC_API fic_status fic_top_k_mask_logits(fic_runtime *rt, const fic_tensor *logits, const fic_tensor *mask_logits,
                                         const fic_tensor *top_k_arr, int64_t top_k, const fic_tensor *row_states,
                                         void *stream);

/* Chain speculative sampling: draft_probs f32 [B, n, vocab], draft_token_ids
 * int32 [B, n], target_probs f32 [B, n + 1, vocab]; outputs int32:
 * output_token_ids [B, n + 1] (-1 after the first rejection),
 * output_accepted_token_num [B] and output_emitted_draft_token_num [B]
 * (the kernel ADDS to the accepted counts: zero them first). (0.2.0) */
typedef struct fic_chain_speculative_sampling_params {
  size_t struct_size; /* set by fic_chain_speculative_sampling_params_init */
  const fic_tensor *draft_probs;
  const fic_tensor *draft_token_ids;
  const fic_tensor *target_probs;
  const fic_tensor *output_token_ids;
  const fic_tensor *output_accepted_token_num;
  const fic_tensor *output_emitted_draft_token_num;
  int64_t deterministic; /* default 1 */
  uint64_t philox_seed;
  uint64_t philox_offset;
} fic_chain_speculative_sampling_params;

FIC_API fic_status fic_chain_speculative_sampling_params_init(fic_chain_speculative_sampling_params *params);
FIC_API fic_status fic_chain_speculative_sampling(fic_runtime *rt, const fic_chain_speculative_sampling_params *params,
                                                  void *stream);

/* topk.so. radix_topk: the top_k largest of each row of input (f32, f16,
 * bf16 [rows, len]) into output_indices int32 [rows, top_k] and
 * output_values (input's dtype) [rows, top_k], in no particular order.
 * row_states: as fic_top_k_renorm_probs; required here (optional upstream,
 * but the multi-CTA path for long rows uses it unchecked, and FlashInfer's
 * Python always passes one). 1 <= top_k <= len. (0.2.0) */
FIC_API fic_status fic_radix_topk(fic_runtime *rt, const fic_tensor *input, const fic_tensor *output_indices,
                                  const fic_tensor *output_values, const fic_tensor *row_states, int64_t top_k,
                                  void *stream);
/* For sparse attention: top_k of each input row [rows, max_len] (its first
 * lengths[r] entries) mapped through the page table: output_page_table int32
 * [rows, top_k] = src_page_table[row_to_batch[r] (or r), index].
 * src_page_table int32 [batch, max_len] (row stride may exceed max_len);
 * row_to_batch int32 [rows] or NULL; lengths int32 [rows]. (0.2.0) */
typedef struct fic_radix_topk_page_table_params {
  size_t struct_size; /* set by fic_radix_topk_page_table_params_init */
  const fic_tensor *input;
  const fic_tensor *output_page_table;
  const fic_tensor *src_page_table;
  const fic_tensor *row_to_batch; /* default NULL */
  const fic_tensor *lengths;
  const fic_tensor *row_states; /* required, as fic_radix_topk */
  int64_t top_k;                /* in [1, input.shape[1]] */
} fic_radix_topk_page_table_params;

FIC_API fic_status fic_radix_topk_page_table_params_init(fic_radix_topk_page_table_params *params);
FIC_API fic_status fic_radix_topk_page_table_transform(fic_runtime *rt, const fic_radix_topk_page_table_params *params,
                                                       void *stream);
/* As above for ragged rows: output_indices int32 [rows, top_k] = offsets[r]
 * + index; offsets and lengths int32 [rows]. (0.2.0) */
FIC_API fic_status fic_radix_topk_ragged_transform(fic_runtime *rt, const fic_tensor *input,
                                                   const fic_tensor *output_indices, const fic_tensor *offsets,
                                                   const fic_tensor *lengths, const fic_tensor *row_states,
                                                   int64_t top_k, void *stream);
/* *out = 1 when CUDA device `device_id` has the shared memory per SM that
 * FlashInfer's filtered top-k needs, else 0 (also 0 when no GPU or driver
 * answers: FlashInfer's function then returns false). Needs module `topk`.
 * (0.2.0) */
FIC_API fic_status fic_can_implement_filtered_topk(fic_runtime *rt, int32_t device_id, int *out);

/* ------------------------------------------------------------------------ */
/* Cascade: merging attention states, cascade.so (0.2.0)                    */
/* ------------------------------------------------------------------------ */
/* An attention state is (v, s): v [seq, H, D] f16/bf16, the attention output
 * over a subset of the keys, and s [seq, H] f32, the log-sum-exp of that
 * subset's scores in base 2 (FlashInfer's LSE). Merging two states gives the
 * state over the union: s = log2(2^s_a + 2^s_b), v = (2^s_a v_a + 2^s_b v_b)
 * / 2^s. D is 64, 128, 256 or 512; all tensors contiguous on one device. */

/* Statuses of the three: FIC_ERR_INVALID_ARGUMENT naming the tensor;
 * FIC_ERR_NOT_FOUND, _DLOPEN, _CAPTURING for module `cascade`; FIC_ERR_KERNEL
 * for the wrapper's own errors. An empty sequence does nothing. Thread-safe. */

/* v_merged/s_merged = merge of (v_a, s_a) and (v_b, s_b). (0.2.0) */
FIC_API fic_status fic_merge_state(fic_runtime *rt, const fic_tensor *v_a, const fic_tensor *s_a, const fic_tensor *v_b,
                                   const fic_tensor *s_b, const fic_tensor *v_merged, const fic_tensor *s_merged,
                                   void *stream);
/* (v, s) = merge of (v, s) and (v_other, s_other), for the positions where
 * mask ([seq] uint8 or bool, may be NULL for all) is non-zero. (0.2.0) */
FIC_API fic_status fic_merge_state_in_place(fic_runtime *rt, const fic_tensor *v, const fic_tensor *s,
                                            const fic_tensor *v_other, const fic_tensor *s_other,
                                            const fic_tensor *mask, void *stream);
/* Merge num_states >= 1 states per position: v [seq, num_states, H, D], s
 * [seq, num_states, H] into v_merged [seq, H, D], s_merged [seq, H]. (0.2.0) */
FIC_API fic_status fic_merge_states(fic_runtime *rt, const fic_tensor *v, const fic_tensor *s,
                                    const fic_tensor *v_merged, const fic_tensor *s_merged, void *stream);

/* ------------------------------------------------------------------------ */
/* RoPE, gated activations, bit packing: rope.so, *_and_mul.so,              */
/* quantization.so (0.2.0)                                                   */
/* ------------------------------------------------------------------------ */
/* Common statuses of every call in this section: FIC_ERR_INVALID_ARGUMENT
 * naming the argument or field (`params` for a bad struct_size);
 * FIC_ERR_NOT_FOUND, _DLOPEN, _CAPTURING when the module (rope, silu_and_mul,
 * gelu_and_mul, gelu_tanh_and_mul, quantization) is not prepared / does not
 * load / would load during capture; FIC_ERR_KERNEL for the wrapper's own
 * errors (kind and message decoded). All tensors are CUDA tensors on one
 * device; the kernel is enqueued on `stream`. Thread-safe. */

/* Where the rotated pairs sit in the first rotary_dim elements of a head.
 * NEOX (FlashInfer's default, interleave=False): element i pairs with
 * i + rotary_dim/2. INTERLEAVED (GPT-J, interleave=True): 2i with 2i+1. */
typedef enum fic_rope_layout { FIC_ROPE_LAYOUT_NEOX = 0, FIC_ROPE_LAYOUT_INTERLEAVED = 1 } fic_rope_layout;

/* RoPE on q [nnz, Hq, D] and k [nnz, Hk, D] (f16/bf16, one dtype, last
 * dimension contiguous, rows 16-byte aligned: pointers 16-byte aligned and
 * outer strides multiples of 8 elements; D 64, 128, 256 or 512), written to
 * q_rope / k_rope (same shapes and dtype; pass q and k for in place). Pair j
 * of a head at position p is rotated by p * f_j (f32 math on the GPU):
 *   f_j = rope_theta^(-2j / rotary_dim) / rope_scale,
 * Llama 3.1 (fic_apply_llama31_rope*): with w = f_j * rope_scale and
 * s = clamp(old_context_length * w / (2 pi (high - low)) - 1 / (high/low - 1), 0, 1),
 *   f_j = (1 - s) * w / rope_scale + s * w.
 * Elements past rotary_dim are copied unchanged. rotary_dim (0: D) must be
 * even, at most D, and a multiple of the kernel's vector (v = max(8, D/32)
 * elements): NEOX needs rotary_dim % (2v) == 0, INTERLEAVED rotary_dim % v == 0.
 * Positions: fic_apply_rope* take indptr [B+1] and offsets [B] (one dtype,
 * int32 or int64; the tokens of request b are indptr[b] .. indptr[b+1]-1 at
 * positions offsets[b], offsets[b]+1, ...); the _pos_ids calls take pos_ids
 * [nnz] int32 or int64. Index values live on the GPU and are not checked.
 * The tensor fields a call does not use must be NULL. (0.2.0) */
typedef struct fic_rope_params {
  size_t struct_size; /* sizeof(fic_rope_params): set by the _init functions */
  const fic_tensor *q;
  const fic_tensor *k;
  const fic_tensor *q_rope;  /* may be q (in place) */
  const fic_tensor *k_rope;  /* may be k (in place) */
  const fic_tensor *indptr;  /* fic_apply_rope, fic_apply_llama31_rope */
  const fic_tensor *offsets; /* fic_apply_rope, fic_apply_llama31_rope */
  const fic_tensor *pos_ids; /* the _pos_ids calls */
  int64_t rotary_dim;        /* default 0: D */
  int64_t layout;            /* fic_rope_layout; default FIC_ROPE_LAYOUT_NEOX */
  double rope_scale;         /* default 1 (Llama 3.1: 8); finite, non-zero */
  double rope_theta;         /* default 1e4 (Llama 3.1: 5e5); finite, > 0 */
  double low_freq_factor;    /* Llama 3.1 only: default 1; > 0 */
  double high_freq_factor;   /* Llama 3.1 only: default 4; > low_freq_factor */
  double old_context_length; /* Llama 3.1 only: default 8192; > 0 */
} fic_rope_params;

/* Zero `params`, set struct_size and FlashInfer's defaults: plain RoPE
 * (scale 1, theta 1e4) or Llama 3.1 (scale 8, theta 5e5; low 1, high 4,
 * old context 8192 in both). FIC_ERR_INVALID_ARGUMENT for NULL. Thread-safe.
 * (0.2.0) */
FIC_API fic_status fic_rope_params_init(fic_rope_params *params);
FIC_API fic_status fic_llama31_rope_params_init(fic_rope_params *params);
/* The four RoPE variants (statuses above; nnz == 0 or no request: validates,
 * then does nothing). (0.2.0) */
FIC_API fic_status fic_apply_rope(fic_runtime *rt, const fic_rope_params *params, void *stream);
FIC_API fic_status fic_apply_rope_pos_ids(fic_runtime *rt, const fic_rope_params *params, void *stream);
FIC_API fic_status fic_apply_llama31_rope(fic_runtime *rt, const fic_rope_params *params, void *stream);
FIC_API fic_status fic_apply_llama31_rope_pos_ids(fic_runtime *rt, const fic_rope_params *params, void *stream);
/* RoPE with precomputed cos/sin: cos_sin_cache f32 [max_pos, rotary_dim],
 * contiguous, 16-byte aligned, cos in the first half of each row and sin in
 * the second; pair j of position p uses cos_sin_cache[p][j] and
 * cos_sin_cache[p][rotary_dim/2 + j]. q, k, q_rope, k_rope, pos_ids and the
 * rotary_dim rules as above (rotary_dim = cos_sin_cache.shape[1]). Position
 * values must be below max_pos (not checked: they live on the GPU). The
 * interleaved kernel loads up to 8 floats past the row it reads (it uses
 * only the first half of what it loads): leave 32 bytes after the cache.
 * (0.2.0) */
FIC_API fic_status fic_apply_rope_pos_ids_cos_sin_cache(fic_runtime *rt, const fic_tensor *q, const fic_tensor *k,
                                                        const fic_tensor *q_rope, const fic_tensor *k_rope,
                                                        const fic_tensor *cos_sin_cache, const fic_tensor *pos_ids,
                                                        fic_rope_layout layout, void *stream);

/* Gated activations: out[..., i] = act(input[..., i]) * input[..., d + i] for
 * input [..., 2d] and out [..., d] (1-D to 4-D, same leading dimensions,
 * f16/bf16, one dtype, contiguous, 16-byte aligned). d * itemsize must be a
 * multiple of 16 (FlashInfer's Python checks 2d * itemsize, but the kernel
 * also loads the second half and stores out rows in 16-byte vectors).
 * act: silu(x) = x / (1 + e^-x); gelu(x) = x/2 (1 + erf(x / sqrt 2));
 * gelu_tanh(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). enable_pdl
 * (0/1): programmatic dependent launch (SM 9.0+). An empty input does
 * nothing. (0.2.0) */
FIC_API fic_status fic_silu_and_mul(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, int enable_pdl,
                                    void *stream);
FIC_API fic_status fic_gelu_and_mul(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, int enable_pdl,
                                    void *stream);
FIC_API fic_status fic_gelu_tanh_and_mul(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input,
                                         int enable_pdl, void *stream);

/* Bit order of fic_packbits: BIG puts element 8i in bit 7 of byte i
 * (numpy's default), LITTLE in bit 0. */
typedef enum fic_bitorder { FIC_BITORDER_BIG = 0, FIC_BITORDER_LITTLE = 1 } fic_bitorder;

/* Pack x [n] (bool or uint8 holding 0/1, contiguous) into y [ceil(n/8)]
 * uint8 (contiguous), 8 elements a byte, the last byte zero-padded. n == 0
 * does nothing. (0.2.0) */
FIC_API fic_status fic_packbits(fic_runtime *rt, const fic_tensor *x, fic_bitorder bitorder, const fic_tensor *y,
                                void *stream);
/* Pack B segments: segment b is x[input_indptr[b] .. input_indptr[b+1]-1],
 * packed into y[output_indptr[b] ..] (ceil(length/8) bytes each). x bool or
 * uint8 [n]; input_indptr, output_indptr int32 [B+1]; y uint8; all 1-D and
 * contiguous. Index values live on the GPU and are not checked (y must hold
 * output_indptr[B] bytes). B == 0 does nothing. FlashInfer 0.6.3's wrapper
 * ignores the kernel's launch status: a failed launch is not reported. (0.2.0) */
FIC_API fic_status fic_segment_packbits(fic_runtime *rt, const fic_tensor *x, const fic_tensor *input_indptr,
                                        const fic_tensor *output_indptr, fic_bitorder bitorder, const fic_tensor *y,
                                        void *stream);

/* ------------------------------------------------------------------------ */
/* Paged-KV attention: batch decode and batch prefill (0.2.0)               */
/* ------------------------------------------------------------------------ */
/* FlashInfer's plan/run split: a plan (host scheduling over the sequence
 * lengths, then an asynchronous copy of the schedule into the int workspace)
 * is made once per batch shape and reused by every layer's run. Modules are
 * chosen from the call's dtypes, head dims, window and soft cap exactly as
 * FlashInfer's AOT build names them. Decode uses batch_decode_* (or the FA2
 * prefill module on tensor cores); prefill uses FA3 (`..._sm90`, SM 9.0
 * only) where FlashInfer would and the wheel has the module, FA2 otherwise
 * (fic_attention_backend, `backend` in the prefill plan parameters); MLA
 * (fic_batch_mla_*) likewise picks FA3 on SM 9.0. See docs/api.md, "Attention". */

/* KV cache layouts: fic_kv_layout (above, with the page calls); ragged K/V
 * are NHD [tokens, kv_heads, head_dim] or HND [kv_heads, tokens, head_dim]. */

/* enable_pdl values of the run parameters. */
enum { FIC_PDL_AUTO = -1, FIC_PDL_OFF = 0, FIC_PDL_ON = 1 };

/* FlashInfer's workspace sizes: float (device) 128 MiB, int (device) 8 MiB,
 * page-locked host 8 MiB. Any pointer may be NULL. Always FIC_OK. */
FIC_API fic_status fic_attention_workspace_sizes(size_t *float_bytes, size_t *int_bytes, size_t *host_bytes);

/* The caller's memory for plans and runs. The library never allocates or
 * frees it; it must outlive the workspace object. */
typedef struct fic_attention_workspace_desc {
  size_t struct_size; /* sizeof: set by fic_attention_workspace_desc_init */
  void *float_buffer; /* device memory, 16-byte aligned */
  size_t float_bytes; /* > 0; FlashInfer uses 128 MiB (too small: the plan fails, FIC_ERR_KERNEL) */
  void *int_buffer;   /* device memory, 16-byte aligned */
  size_t int_bytes;   /* > 0; FlashInfer uses 8 MiB */
  void *host_buffer;  /* page-locked host memory (cudaHostAlloc), >= int_bytes */
  size_t host_bytes;  /* FlashInfer writes it at the int buffer's offsets */
  int64_t device_id;  /* the CUDA device of both device buffers */
} fic_attention_workspace_desc;

FIC_API fic_status fic_attention_workspace_desc_init(fic_attention_workspace_desc *desc);

/* A workspace: the three buffers, plus a CUDA event recorded after each plan
 * on the plan's stream. The next plan on the workspace waits for that event
 * on the host (it returns at once when the previous plan's copy out of the
 * page-locked buffer has run), so the host never rewrites the buffer under
 * a pending copy. A plan also invalidates every earlier plan on the same
 * workspace (their schedule in the int buffer is overwritten): running one
 * is FIC_ERR_INVALID_ARGUMENT naming "plan". Plans on one workspace are
 * serialised by its lock; runs of its current plan may come from any thread,
 * but the caller orders them (one stream at a time: the float buffer holds
 * the run's partial results). */
typedef struct fic_attention_workspace fic_attention_workspace;

FIC_API fic_status fic_attention_workspace_create(fic_runtime *rt, const fic_attention_workspace_desc *desc,
                                                  fic_attention_workspace **out);
/* Waits for the last plan's copy, destroys the event; the caller's buffers
 * are untouched. Plans made on it can no longer run (destroying them is
 * still fine). NULL is accepted. */
FIC_API fic_status fic_attention_workspace_destroy(fic_attention_workspace *ws);

typedef struct fic_attention_plan fic_attention_plan;

/* Batch decode: one query token per sequence over a paged KV cache. */
typedef struct fic_batch_decode_plan_params {
  size_t struct_size;        /* set by fic_batch_decode_plan_params_init */
  const int32_t *kv_indptr;  /* HOST [batch_size + 1], in pages, 0 = kv_indptr[0] <= ... */
  int64_t batch_size;        /* >= 1 */
  int64_t num_qo_heads;      /* a multiple of num_kv_heads */
  int64_t num_kv_heads;      /* >= 1 */
  int64_t head_dim;          /* 64, 128 or 256 (a module must exist for it) */
  int64_t page_size;         /* >= 1 */
  fic_dtype q_dtype;         /* f16 or bf16; with kv_dtype, one 8-byte slot */
  fic_dtype kv_dtype;        /* f16, bf16 or fp8 e4m3fn/e5m2 */
  fic_dtype o_dtype;         /* default {0}: q_dtype; with `reserved0`, one 8-byte slot */
  uint32_t reserved0;        /* 0 */
  int64_t kv_layout;         /* fic_kv_layout; default NHD */
  int64_t window_left;       /* default -1 (no sliding window) */
  double logits_soft_cap;    /* default 0 (none) */
  int64_t enable_cuda_graph; /* default 0; 1: fixed-size schedule, see docs */
  int64_t use_tensor_cores;  /* default 0: CUDA cores for group sizes 1,2,3,4,8, tensor cores otherwise; 1: always */
} fic_batch_decode_plan_params;

typedef struct fic_batch_decode_run_params {
  size_t struct_size;                 /* set by fic_batch_decode_run_params_init */
  const fic_tensor *q;                /* [batch, qo_heads, head_dim] */
  const fic_tensor *k_cache;          /* 4-D, see fic_kv_layout; dtype kv_dtype */
  const fic_tensor *v_cache;          /* as k_cache, same strides */
  const fic_tensor *kv_indptr;        /* device int32 [batch + 1]: the plan's kv_indptr */
  const fic_tensor *kv_indices;       /* device int32 [kv_indptr[batch]] page ids */
  const fic_tensor *kv_last_page_len; /* device int32 [batch], each in [1, page_size] */
  const fic_tensor *out;              /* [batch, qo_heads, head_dim], o_dtype */
  const fic_tensor *lse;              /* default NULL; f32 [batch, qo_heads], base-2 log-sum-exp */
  double sm_scale;                    /* default 0: 1/sqrt(head_dim) */
  double rope_scale;                  /* default 1 (posenc modules only) */
  double rope_theta;                  /* default 1e4 (posenc modules only) */
  int64_t enable_pdl;                 /* default FIC_PDL_AUTO: on for compute capability >= 9 */
  /* (0.2.0) Ignored (checked when given: device int32
   * [batch + 1]): a tensor-core plan keeps arange(batch + 1) in the int
   * workspace's last bytes itself. Kept for source compatibility. */
  const fic_tensor *qo_indptr;
} fic_batch_decode_run_params;

FIC_API fic_status fic_batch_decode_plan_params_init(fic_batch_decode_plan_params *params);
FIC_API fic_status fic_batch_decode_run_params_init(fic_batch_decode_run_params *params);
/* Plan a batch decode on `ws` (host work, then an async copy on `stream`;
 * not during CUDA graph capture). *out owns the plan: destroy it with
 * fic_attention_plan_destroy. FIC_ERR_INVALID_ARGUMENT names the field;
 * FIC_ERR_NOT_FOUND: no module for these dtypes/head dims/flags (the message
 * names the nearest ones); FIC_ERR_KERNEL: FlashInfer's plan failed (e.g.
 * workspace overflow); FIC_ERR_CUDA: the workspace's event failed.
 * Thread-safe (plans on one workspace are serialised). */
FIC_API fic_status fic_batch_decode_plan(fic_runtime *rt, fic_attention_workspace *ws,
                                         const fic_batch_decode_plan_params *params, void *stream,
                                         fic_attention_plan **out);
/* Enqueue the decode on `stream`. Checks the tensors against the plan and
 * names the first field that differs (FIC_ERR_INVALID_ARGUMENT; also for a
 * plan superseded by a later plan on its workspace). Capturable; takes no
 * lock: the caller orders runs on streams (one stream per workspace at a
 * time). */
FIC_API fic_status fic_batch_decode_run(const fic_attention_plan *plan, const fic_batch_decode_run_params *params,
                                        void *stream);

/* Which FlashInfer prefill implementation a plan uses (0.2.0).
 * AUTO (the default) follows FlashInfer's determine_attention_backend: FA3
 * (the `..._sm90` module, sm_90a code only) on a compute capability 9.0
 * device when the parameters allow it (q and kv of one dtype, head dims
 * 64/64, 128/128, 192/128 (ragged only) or 256/256; ragged K/V in NHD; paged KV with
 * `kv_last_page_len` given) and the wheel has that module; FA2 otherwise.
 * FA2 and FA3 force one: FA3 where the parameters rule it out is
 * FIC_ERR_INVALID_ARGUMENT naming the field, on another GPU
 * FIC_ERR_UNSUPPORTED, without its module in the wheel FIC_ERR_NOT_FOUND
 * naming the module. */
typedef enum fic_attention_backend {
  FIC_ATTENTION_BACKEND_AUTO = 0,
  FIC_ATTENTION_BACKEND_FA2 = 1,
  FIC_ATTENTION_BACKEND_FA3 = 2
} fic_attention_backend;

/* Batch prefill over a paged KV cache (ragged = 0) or ragged K/V (ragged = 1). */
typedef struct fic_batch_prefill_plan_params {
  size_t struct_size;        /* set by fic_batch_prefill_plan_params_init */
  const int32_t *qo_indptr;  /* HOST [batch_size + 1], in query tokens */
  const int32_t *kv_indptr;  /* HOST [batch_size + 1], in pages (paged) or tokens (ragged) */
  int64_t batch_size;        /* >= 1 */
  int64_t num_qo_heads;      /* a multiple of num_kv_heads */
  int64_t num_kv_heads;      /* >= 1 */
  int64_t head_dim_qk;       /* 64, 128 or 256 (FA3 also 192 with head_dim_vo 128) */
  int64_t head_dim_vo;       /* default 0: head_dim_qk */
  int64_t page_size;         /* paged: >= 1; ragged: ignored (1) */
  int64_t ragged;            /* default 0 (paged KV) */
  fic_dtype q_dtype;         /* f16 or bf16; with kv_dtype, one 8-byte slot */
  fic_dtype kv_dtype;        /* f16, bf16 or fp8 e4m3fn/e5m2 */
  fic_dtype o_dtype;         /* default {0}: q_dtype */
  uint32_t reserved0;        /* 0 */
  int64_t kv_layout;         /* fic_kv_layout; default NHD */
  int64_t causal;            /* default 0 */
  int64_t window_left;       /* default -1 */
  double logits_soft_cap;    /* default 0 */
  int64_t enable_cuda_graph; /* default 0 */
  int64_t total_num_rows;    /* default 0: qo_indptr[batch_size]; with CUDA graphs, the q buffer's row count */
  /* Appended in 0.2.0 (FA3): */
  int64_t backend;                 /* fic_attention_backend; default FIC_ATTENTION_BACKEND_AUTO */
  const int32_t *kv_last_page_len; /* paged: HOST [batch_size], each in [1, page_size] (0 for a sequence without
                                      pages); default NULL. FA3 needs it (its plan takes exact KV lengths) */
} fic_batch_prefill_plan_params;

typedef struct fic_batch_prefill_run_params {
  size_t struct_size;                 /* set by fic_batch_prefill_run_params_init */
  const fic_tensor *q;                /* [total_num_rows, qo_heads, head_dim_qk] */
  const fic_tensor *k;                /* paged: k cache (4-D); ragged: [tokens, kv_heads, head_dim_qk] (NHD) */
  const fic_tensor *v;                /* as k, head_dim_vo */
  const fic_tensor *qo_indptr;        /* device int32 [batch + 1]: the plan's qo_indptr */
  const fic_tensor *kv_indptr;        /* device int32 [batch + 1]: the plan's kv_indptr */
  const fic_tensor *kv_indices;       /* paged only: device int32 page ids */
  const fic_tensor *kv_last_page_len; /* paged only: device int32 [batch] */
  const fic_tensor *out;              /* [total_num_rows, qo_heads, head_dim_vo] */
  const fic_tensor *lse;              /* default NULL; f32 [total_num_rows, qo_heads], base 2 */
  double sm_scale;                    /* default 0: 1/sqrt(head_dim_qk) */
  double rope_scale;                  /* default 1 */
  double rope_theta;                  /* default 1e4 */
  int64_t enable_pdl;                 /* default FIC_PDL_AUTO */
  /* (0.2.0, appended) A custom mask (FlashInfer's MaskMode::kCustom):
   * both NULL (default) or both given, on a plan made with causal = 0.
   * Sequence b's mask is qo_len x kv_len booleans, row-major, true = the
   * key is visible, packed 8 a byte in little bit order (element e of the
   * segment in bit e % 8 of byte e / 8; fic_segment_packbits with
   * FIC_BITORDER_LITTLE); each sequence starts on a byte. A row that sees
   * no key has an undefined output. */
  const fic_tensor *custom_mask; /* device uint8 [>= sum over b of ceil(qo_len * kv_len / 8)], contiguous */
  const fic_tensor *mask_indptr; /* device int32 [batch + 1]: byte offset of each sequence's mask */
} fic_batch_prefill_run_params;

/* As the decode plan/run: paged or ragged KV; causal or not; FA2 or FA3
 * (see fic_attention_backend). The run's tensors and scalars are the same for
 * both backends. */
FIC_API fic_status fic_batch_prefill_plan_params_init(fic_batch_prefill_plan_params *params);
FIC_API fic_status fic_batch_prefill_run_params_init(fic_batch_prefill_run_params *params);
FIC_API fic_status fic_batch_prefill_plan(fic_runtime *rt, fic_attention_workspace *ws,
                                          const fic_batch_prefill_plan_params *params, void *stream,
                                          fic_attention_plan **out);
FIC_API fic_status fic_batch_prefill_run(const fic_attention_plan *plan, const fic_batch_prefill_run_params *params,
                                         void *stream);

/* The backend a plan runs: FIC_ATTENTION_BACKEND_FA2 or FIC_ATTENTION_BACKEND_FA3
 * (decode plans: FA2, also on tensor cores). FIC_ERR_INVALID_ARGUMENT for a
 * NULL pointer. Thread-safe. (0.2.0) */
FIC_API fic_status fic_attention_plan_backend(const fic_attention_plan *plan, fic_attention_backend *out);

/* (0.2.0) CUDA graphs with new sequence lengths. A captured run keeps
 * the plan's schedule offsets (its Array: padded batch size, split-kv flag,
 * tile size, offsets into both workspaces) and reads the schedule itself
 * from the int workspace when replayed. With enable_cuda_graph = 1 FlashInfer
 * fixes the Array for a shape class, so a new plan on the same workspace
 * with new lengths (decode: same batch size; prefill: same batch size and
 * total_num_rows) writes a schedule the captured launch reads correctly.
 * Call this after such a re-plan and before replaying: FIC_OK when replaying
 * the graph captured from `captured`'s run is valid with `current`'s
 * schedule; FIC_ERR_INVALID_ARGUMENT naming the first thing that differs
 * otherwise (argument "current"): not the workspace's latest plan, another
 * workspace, kind, module, batch size, heads, head dims, page size, layout,
 * window, soft cap, causal, dtypes, total_num_rows, enable_cuda_graph = 0
 * on either, or a different Array. `captured` may be superseded (it usually
 * is). The graph still reads the tensors captured with it: the caller
 * rewrites indptrs, indices, last-page lengths and q in those buffers, and
 * the captured kv_indices must hold current's kv_indptr[batch] entries. */
FIC_API fic_status fic_attention_plan_graph_compatible(const fic_attention_plan *captured,
                                                       const fic_attention_plan *current);

/* Release the plan's Array and the plan. NULL is accepted. Must not race
 * with a run of the same plan; the runtime must still be open (the
 * workspace need not exist any more). */
FIC_API fic_status fic_attention_plan_destroy(fic_attention_plan *plan);

/* DeepSeek multi-head latent attention (MLA) over a paged latent cache
 * (batch_mla_attention_* modules; FlashInfer's BatchMLAPagedAttentionWrapper
 * with the weight-absorption trick): for query row i of sequence b and head h,
 *   score_j = sm_scale * (q_nope[i,h] . ckv[j] + q_pe[i,h] . kpe[j])
 *   out[i,h] = softmax_j(score) . ckv,  lse[i,h] = log2(sum_j exp(score_j))
 * over the kv_len[b] tokens of b's pages (token t of b: page
 * kv_indices[kv_indptr[b] + t / page_size], slot t % page_size). Causal:
 * row i sees token j iff j + qo_len <= kv_len + i (aligned to the end).
 * Decode is qo_indptr = 0, 1, ..., batch_size. (0.2.0) */
typedef struct fic_batch_mla_plan_params {
  size_t struct_size;       /* set by fic_batch_mla_plan_params_init */
  const int32_t *qo_indptr; /* HOST [batch_size + 1], in query tokens */
  const int32_t *kv_indptr; /* HOST [batch_size + 1], in pages */
  const int32_t *kv_len;    /* HOST [batch_size], tokens per sequence, <= its pages * page_size */
  int64_t batch_size;       /* >= 1 */
  int64_t num_heads;        /* query heads (the latent cache has one) */
  int64_t head_dim_ckv;     /* default 512 (the compressed KV; DeepSeek's kv_lora_rank) */
  int64_t head_dim_kpe;     /* default 64 (the RoPE part) */
  int64_t page_size;        /* >= 1 */
  int64_t causal;           /* default 0 */
  double sm_scale;          /* > 0, no default: DeepSeek uses 1/sqrt(128 + 64), the head dim before absorption */
  fic_dtype q_dtype;        /* f16 or bf16; with kv_dtype, one 8-byte slot */
  fic_dtype kv_dtype;       /* f16 or bf16, = q_dtype */
  fic_dtype o_dtype;        /* default {0}: q_dtype; with `reserved0`, one 8-byte slot */
  uint32_t reserved0;       /* 0 */
  int64_t backend;          /* fic_attention_backend; default AUTO */
  int64_t total_num_rows;   /* default 0: qo_indptr[batch_size]; with CUDA graphs, the q buffer's row count */
} fic_batch_mla_plan_params;

typedef struct fic_batch_mla_run_params {
  size_t struct_size;           /* set by fic_batch_mla_run_params_init */
  const fic_tensor *q_nope;     /* [total_num_rows, num_heads, head_dim_ckv], q_dtype */
  const fic_tensor *q_pe;       /* [total_num_rows, num_heads, head_dim_kpe], q_dtype */
  const fic_tensor *ckv_cache;  /* [pages, page_size, head_dim_ckv], kv_dtype */
  const fic_tensor *kpe_cache;  /* [pages, page_size, head_dim_kpe], kv_dtype */
  const fic_tensor *kv_indices; /* device int32, >= kv_indptr[batch_size] page ids */
  const fic_tensor *out;        /* [total_num_rows, num_heads, head_dim_ckv], o_dtype */
  const fic_tensor *lse;        /* default NULL; f32 [total_num_rows, num_heads], contiguous */
  double sm_scale;              /* default 0: the plan's sm_scale */
  int64_t lse_base_e;           /* default 0: base-2 LSE (as every FlashInfer LSE); 1: natural log */
} fic_batch_mla_run_params;

/* Zero `params`, set struct_size and the defaults (FIC_ERR_INVALID_ARGUMENT
 * for NULL). Thread-safe. (0.2.0) */
FIC_API fic_status fic_batch_mla_plan_params_init(fic_batch_mla_plan_params *params);
FIC_API fic_status fic_batch_mla_run_params_init(fic_batch_mla_run_params *params);
/* Plan an MLA batch on `ws`, as fic_batch_decode_plan (same statuses,
 * ordering and plan object; FIC_ERR_INVALID_ARGUMENT also for a backend the
 * device cannot run). */
FIC_API fic_status fic_batch_mla_plan(fic_runtime *rt, fic_attention_workspace *ws,
                                      const fic_batch_mla_plan_params *params, void *stream, fic_attention_plan **out);
/* Enqueue the MLA run on `stream`, checked against its plan as
 * fic_batch_decode_run. Tensors need only their last dimension contiguous
 * (q_nope/q_pe may be views of one [rows, heads, 576] tensor, the caches of
 * one [pages, page_size, 576] tensor), with 16-byte aligned rows. */
FIC_API fic_status fic_batch_mla_run(const fic_attention_plan *plan, const fic_batch_mla_run_params *params,
                                     void *stream);

#ifdef __cplusplus
}
#endif
#endif /* FLASHINFER_C_H */
