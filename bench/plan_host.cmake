# SPDX-License-Identifier: Apache-2.0
# bench_plan_host: the typed attention plan/run's host cost against the
# generic and raw calls, without a GPU (do-nothing stand-in modules, the
# stress tests' fake libcudart). Included by bench/CMakeLists.txt. Its
# default paths are this build tree's fixtures (tests/modules and
# tests/stress add the dependencies on them).
add_executable(bench_plan_host ${CMAKE_CURRENT_LIST_DIR}/bench_plan_host.c ${CMAKE_CURRENT_LIST_DIR}/bench_host.c)
file(GLOB fic_bench_tvmffi_wheel "${FIC_TVMFFI_ROOT}/../wheels/apache_tvm_ffi-0.1.3-*.whl")
target_compile_definitions(
  bench_plan_host
  PRIVATE
    FIC_BENCH_ATTN_MOCK_WHEEL="${PROJECT_BINARY_DIR}/tests/data/attn-mock/flashinfer_jit_cache-0.0.0+attnmock-py3-none-any.whl"
    FIC_BENCH_FAKE_CUDART="${PROJECT_BINARY_DIR}/tests/stress/fake-cudart/libfic_fake_cudart.so"
    FIC_BENCH_TVMFFI_WHEEL="${fic_bench_tvmffi_wheel}")
target_compile_options(bench_plan_host PRIVATE ${FIC_WARNINGS})
target_link_libraries(bench_plan_host PRIVATE flashinfer-c ${CMAKE_DL_LIBS} m)
