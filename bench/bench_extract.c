/* SPDX-License-Identifier: Apache-2.0 */
/* Extraction benchmark on a synthetic ~2.2 GB ZIP64 wheel (not a test).
 *
 * usage: bench_extract WORKDIR [WHEEL]
 *   WORKDIR   scratch directory (the wheel is created there once if WHEEL is
 *             not given, with bench/make_big_wheel.py; $PYTHON or python3)
 * Prints:
 *   - first-sight wheel identity (SHA-256 of the whole wheel, memoised after)
 *   - the zip reader alone: open + extract norm.so and gdn_prefill_sm90.so to
 *     a discarding sink, vs `unzip -p` of the same two members to /dev/null
 *   - cold prepare (extract 3 members with fsync, publish, marker)
 *   - warm prepare (median of 50)
 *   - peak RSS (getrusage ru_maxrss)
 * The page cache is warm (the wheel was just written or read); say so when
 * reporting the numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "artifacts/artifacts.h"
#include "artifacts/internal.h"
#include "artifacts/zip_reader.h"

#ifndef FIC_BENCH_MAKE_WHEEL
#define FIC_BENCH_MAKE_WHEEL "bench/make_big_wheel.py"
#endif

static const char *const members[2] = {"flashinfer_jit_cache/jit_cache/norm/norm.so",
                                       "flashinfer_jit_cache/jit_cache/gdn_prefill_sm90/gdn_prefill_sm90.so"};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static fic_status discard(void *user, const void *data, size_t len) {
  (void)data;
  *(uint64_t *)user += len;
  return FIC_OK;
}

static long max_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static int die(const char *what, fic_status s) {
  fprintf(stderr, "bench_extract: %s: %s: %s\n", what, fic_status_string(s), fic_last_error_message());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s WORKDIR [WHEEL]\n", argv[0]);
    return 2;
  }
  char wheel[4096], root[4096], cmd[8192];
  snprintf(wheel, sizeof wheel, "%s/big-zip64.whl", argv[1]);
  if (argc > 2) snprintf(wheel, sizeof wheel, "%s", argv[2]);
  snprintf(root, sizeof root, "%s/cache-%ld", argv[1], (long)time(NULL));
  struct stat st;
  if (stat(wheel, &st) != 0) {
    const char *py = getenv("PYTHON");
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", py && *py ? py : "python3", FIC_BENCH_MAKE_WHEEL, wheel);
    fprintf(stderr, "bench_extract: creating %s ...\n", wheel);
    double t = now();
    if (system(cmd) != 0 || stat(wheel, &st) != 0) {
      fprintf(stderr, "bench_extract: %s failed\n", cmd);
      return 1;
    }
    fprintf(stderr, "bench_extract: created in %.1f s\n", now() - t);
  }
  printf("wheel: %s (%.2f GB, %lld bytes)\n", wheel, (double)st.st_size / 1e9, (long long)st.st_size);
  printf("rss at start: %ld KiB\n", max_rss_kib());

  /* 1. First-sight identity (full SHA-256; memoised afterwards). */
  char sha[65];
  double t = now();
  fic_status s = fic__wheel_sha256(root, wheel, sha);
  if (s != FIC_OK) return die("hash", s);
  double t_hash = now() - t;
  t = now();
  s = fic__wheel_sha256(root, wheel, sha);
  double t_memo = now() - t;
  printf("wheel sha256 first sight: %.3f s (%.0f MB/s); memoised: %.1f us\n", t_hash, (double)st.st_size / 1e6 / t_hash,
         t_memo * 1e6);

  /* 2. The zip reader alone vs unzip -p, same two members, output discarded. */
  double best_ours = 1e9, best_unzip = 1e9;
  uint64_t bytes = 0;
  void *buf = malloc(FIC_IO_BUFFER);
  for (int round = 0; round < 3; round++) {
    t = now();
    fic_zip *z = NULL;
    if ((s = fic__zip_open(wheel, &z)) != FIC_OK) return die("zip open", s);
    bytes = 0;
    for (int i = 0; i < 2; i++) {
      fic_zip_member m;
      if ((s = fic__zip_find(z, members[i], &m)) != FIC_OK) return die("zip find", s);
      if ((s = fic__zip_extract(z, &m, buf, FIC_IO_BUFFER, discard, &bytes)) != FIC_OK) return die("extract", s);
    }
    fic__zip_close(z);
    double d = now() - t;
    if (d < best_ours) best_ours = d;
    snprintf(cmd, sizeof cmd, "unzip -p '%s' '%s' '%s' > /dev/null", wheel, members[0], members[1]);
    t = now();
    if (system(cmd) != 0) fprintf(stderr, "bench_extract: unzip failed\n");
    d = now() - t;
    if (d < best_unzip) best_unzip = d;
  }
  free(buf);
  printf("extract 2 members (%.1f MiB): ours %.1f ms, unzip -p %.1f ms (best of 3, output discarded)\n",
         (double)bytes / (1 << 20), best_ours * 1e3, best_unzip * 1e3);

  /* 3. Cold prepare: the same file serves as both wheels. */
  static const char *const mods[] = {"norm", "gdn_prefill_sm90", NULL};
  fic_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.struct_size = sizeof cfg;
  cfg.cache_dir = root;
  cfg.jit_cache_wheel = wheel;
  cfg.tvmffi_wheel = wheel;
  cfg.modules = mods;
  fic_artifacts *a = calloc(1, sizeof *a);
  t = now();
  if ((s = fic__artifacts_prepare(&cfg, a)) != FIC_OK) return die("cold prepare", s);
  double t_cold = now() - t;
  printf("cold prepare (3 members, fsync, publish, marker; wheel id memoised): %.1f ms, cache_hit=%d\n", t_cold * 1e3,
         a->cache_hit);

  /* 4. Warm prepare. */
  double warm[50];
  for (int i = 0; i < 50; i++) {
    t = now();
    if ((s = fic__artifacts_prepare(&cfg, a)) != FIC_OK || !a->cache_hit) return die("warm prepare", s);
    warm[i] = now() - t;
  }
  qsort(warm, 50, sizeof warm[0], cmp_d);
  printf("warm prepare: median %.1f us, max %.1f us (50 runs)\n", warm[25] * 1e6, warm[49] * 1e6);
  printf("peak RSS: %ld KiB\n", max_rss_kib());
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "bench_extract: cleanup of %s failed\n", root);
  free(a);
  return 0;
}
