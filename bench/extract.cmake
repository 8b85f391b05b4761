# SPDX-License-Identifier: Apache-2.0
# bench_extract: cold/warm extraction from a synthetic 2 GB ZIP64 wheel vs
# `unzip -p`, peak RSS. Included by bench/CMakeLists.txt (it globs *.cmake).
add_executable(bench_extract ${CMAKE_CURRENT_LIST_DIR}/bench_extract.c)
target_include_directories(bench_extract PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(bench_extract PRIVATE _GNU_SOURCE
                           FIC_BENCH_MAKE_WHEEL="${CMAKE_CURRENT_LIST_DIR}/make_big_wheel.py")
target_compile_options(bench_extract PRIVATE ${FIC_WARNINGS})
target_link_libraries(bench_extract PRIVATE flashinfer-c-static PkgConfig::LIBZIP PkgConfig::LIBCURL
                                            PkgConfig::LIBCRYPTO Threads::Threads ${CMAKE_DL_LIBS})
