# SPDX-License-Identifier: Apache-2.0
# GPU benchmarks (issue #5): bench_gpu. Included by bench/CMakeLists.txt.
# Needs nvcc (for the tiny helper kernels in bench_gpu_kernels.cu); without it
# the target is skipped with a message. The library itself still does not
# link libcudart: only this benchmark does, and it links the SHARED
# libcudart.so.13 so that it and the library (which dlopens libcudart.so.13)
# share one CUDA runtime and its streams.
set(FIC_BENCH_CUDA_ARCHITECTURES "90a" CACHE STRING "CUDA architectures for bench_gpu's helper kernels")

if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  find_program(FIC_BENCH_NVCC nvcc HINTS /usr/local/cuda/bin /usr/local/cuda-13.0/bin)
  if(FIC_BENCH_NVCC)
    set(ENV{CUDACXX} "${FIC_BENCH_NVCC}")
  endif()
endif()
include(CheckLanguage)
check_language(CUDA)

if(NOT CMAKE_CUDA_COMPILER)
  message(STATUS "bench_gpu: no CUDA compiler found (set CUDACXX); the GPU benchmark is not built")
else()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES ${FIC_BENCH_CUDA_ARCHITECTURES})
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)

  # The helper kernels: an object library, so that directory-wide options
  # meant for the C compiler (FIC_SANITIZE's -fsanitize=...) never reach nvcc.
  add_library(bench_gpu_kernels OBJECT bench_gpu_kernels.cu)
  set_target_properties(bench_gpu_kernels PROPERTIES
    COMPILE_OPTIONS ""
    CUDA_RUNTIME_LIBRARY Shared
    CUDA_ARCHITECTURES "${FIC_BENCH_CUDA_ARCHITECTURES}")

  # The GPU benchmarks: each one C program plus bench_util.c, bench_host.c and the helper
  # kernels. BUILD_RPATH finds libflashinfer-c next to the build folder
  # wherever it is carried, and libcudart.so.13 where it was at build time
  # (the run scripts also search for it when it is elsewhere).
  function(fic_add_gpu_bench name)
    add_executable(${name} ${name}.c bench_util.c bench_host.c $<TARGET_OBJECTS:bench_gpu_kernels>)
    target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(${name} PRIVATE flashinfer-c CUDA::cudart ${CMAKE_DL_LIBS} m)
    target_compile_options(${name} PRIVATE ${FIC_WARNINGS})
    target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
    set_target_properties(${name} PROPERTIES BUILD_RPATH "\$ORIGIN/..;${CUDAToolkit_LIBRARY_DIR}")
  endfunction()
  fic_add_gpu_bench(bench_gpu)        # norm and gdn_prefill (issues #5, #12)
  fic_add_gpu_bench(bench_attention)  # paged-KV attention (issue #13)
  fic_add_gpu_bench(bench_layer)      # RoPE, activations, sampling (issue #14)
endif()
