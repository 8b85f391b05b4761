/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the COMPLETE marker: the strict parser on its own, and the warm-start
 * check of a real cache entry whose marker is replaced by the input.
 *
 * Before anything, each 64-character run of 'J', 'T', 'M' or 'L' in the input
 * is replaced by the SHA-256 of the harness's jit-cache wheel, tvm-ffi wheel,
 * module file or libtvm_ffi file (made at start-up), so that seeds can spell a
 * marker that matches the real entry and the fuzzer can explore every branch
 * of the warm check from there.
 *
 * Oracles:
 *   - parse is the exact inverse of format: a marker that parses formats back
 *     to the very same bytes (the format is canonical: one spelling per value);
 *   - fic__marker_read of the same bytes on disk agrees with the parser;
 *   - fic__artifacts_prepare over an entry carrying the input as its marker
 *     always succeeds (a bad marker is recovered from, never an error); when
 *     it reports a cache hit the input must be a valid marker naming the
 *     expected wheels and files with their true sizes; otherwise the entry
 *     was rebuilt and deep verification passes. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "artifacts/artifacts.h"
#include "artifacts/internal.h"
#include "artifacts/marker.h"
#include "fuzz_common.h"

static char g_root[4096], g_jit[4096], g_tvm[4096], g_entry[4096], g_marker[4096];
static const char *const g_modules[] = {"m", NULL};
static fic_config g_cfg;
static char g_subst[4][65]; /* J T M L */

static void make_wheel(const char *path, const char *member, const char *content) {
  int err = 0;
  zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  FZ_CHECK(za != NULL, "zip_open(%s) for writing: %d", path, err);
  zip_source_t *src = zip_source_buffer(za, content, strlen(content), 0);
  FZ_CHECK(src && zip_file_add(za, member, src, ZIP_FL_ENC_UTF_8) >= 0, "zip_file_add");
  FZ_CHECK(zip_close(za) == 0, "zip_close");
}

static fic_artifacts *prepare(fic_status *s) {
  fic_artifacts *a = calloc(1, sizeof *a);
  *s = fic__artifacts_prepare(&g_cfg, a);
  return a;
}

static void init(void) {
  fz_clean_env();
  snprintf(g_root, sizeof g_root, "%s", fz_path("root"));
  snprintf(g_jit, sizeof g_jit, "%s", fz_path("flashinfer_jit_cache-0.0.0-py3-none-any.whl"));
  snprintf(g_tvm, sizeof g_tvm, "%s", fz_path("apache_tvm_ffi-0.0.0-py3-none-any.whl"));
  make_wheel(g_jit, "flashinfer_jit_cache/jit_cache/m/m.so", "module bytes\n");
  make_wheel(g_tvm, FIC_TVMFFI_MEMBER, "libtvm_ffi bytes\n");
  memset(&g_cfg, 0, sizeof g_cfg);
  g_cfg.struct_size = sizeof g_cfg;
  g_cfg.cache_dir = g_root;
  g_cfg.jit_cache_wheel = g_jit;
  g_cfg.tvmffi_wheel = g_tvm;
  g_cfg.modules = g_modules;
  g_cfg.offline = 1;
  g_cfg.lock_timeout_s = 5;
  fic_status s;
  fic_artifacts *a = prepare(&s);
  FZ_CHECK(s == FIC_OK && !a->cache_hit, "initial extraction -> %s", fic_status_string(s));
  snprintf(g_entry, sizeof g_entry, "%s", a->artifact_dir);
  snprintf(g_marker, sizeof g_marker, "%s/%s", g_entry, FIC_MARKER_NAME);
  char p[8192];
  FZ_CHECK(fic__sha256_file(g_jit, g_subst[0]) == FIC_OK, "sha256");
  FZ_CHECK(fic__sha256_file(g_tvm, g_subst[1]) == FIC_OK, "sha256");
  snprintf(p, sizeof p, "%s/modules/m/m.so", g_entry);
  FZ_CHECK(fic__sha256_file(p, g_subst[2]) == FIC_OK, "sha256");
  snprintf(p, sizeof p, "%s/%s", g_entry, FIC_TVMFFI_MEMBER);
  FZ_CHECK(fic__sha256_file(p, g_subst[3]) == FIC_OK, "sha256");
  free(a);
}

/* Replace 64-character runs of J, T, M, L by the corresponding SHA-256. */
static void substitute(char *text, size_t size) {
  static const char keys[4] = {'J', 'T', 'M', 'L'};
  for (size_t i = 0; i + 64 <= size; i++) {
    for (int k = 0; k < 4; k++) {
      if (text[i] != keys[k]) continue;
      size_t n = 0;
      while (n < 64 && text[i + n] == keys[k]) n++;
      if (n == 64) {
        memcpy(text + i, g_subst[k], 64);
        i += 63;
      }
      break;
    }
  }
}

/* Remove quarantined entries (the recovery path renames bad ones aside). */
static void clean_quarantine(void) {
  if (fz_count_entries(g_root) <= 3) return; /* entry, lock, wheel-ids */
  DIR *d = opendir(g_root);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    if (strncmp(de->d_name, ".corrupt-", 9) != 0) continue;
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", g_root, de->d_name);
    fz_rmtree(p);
  }
  if (d) closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  static fic_marker *m, *m2;
  static char *fmt;
  if (!ready) {
    init();
    m = malloc(sizeof *m);
    m2 = malloc(sizeof *m2);
    fmt = malloc(FIC_MARKER_MAX_BYTES);
    ready = 1;
  }
  /* An exact-size copy: the parser must not read past `size` (no NUL). */
  char *text = malloc(size ? size : 1);
  memcpy(text, data, size);
  substitute(text, size);
  char why[512] = "";
  int err = fic__marker_parse(text, size, m, why, sizeof why);
  if (err == 0) {
    size_t len = 0;
    fic_status s = fic__marker_format(m, fmt, FIC_MARKER_MAX_BYTES, &len);
    FZ_CHECK(s == FIC_OK, "a parsed marker does not format: %s", fic_last_error_message());
    FZ_CHECK(len == size && !memcmp(fmt, text, size), "format(parse(x)) != x (%zu vs %zu bytes)", len, size);
    for (size_t i = 0; i < m->num_files; i++)
      FZ_CHECK(fic__marker_find(m, m->files[i].relpath) == &m->files[i], "find(%s) misses", m->files[i].relpath);
  } else {
    FZ_CHECK(why[0] != '\0', "parse failed (%d) without a reason", err);
  }

  /* The same bytes as the marker of a real entry. */
  fz_write_file(g_marker, text, size);
  char why2[512] = "";
  int err2 = fic__marker_read(g_entry, m2, why2, sizeof why2);
  FZ_CHECK((err == 0) == (err2 == 0), "marker_read (%d: %s) disagrees with marker_parse (%d: %s)", err2, why2, err,
           why);
  fic_status s;
  fic_artifacts *a = prepare(&s);
  FZ_CHECK(s == FIC_OK, "prepare over a fuzzed marker -> %s: %s", fic_status_string(s), fic_last_error_message());
  FZ_CHECK(!strcmp(a->artifact_dir, g_entry), "entry moved: %s", a->artifact_dir);
  if (a->cache_hit) {
    FZ_CHECK(err == 0, "warm start accepted a marker that does not parse (%s)", why);
    FZ_CHECK(m->num_files == 1, "warm start accepted a marker listing %zu files", m->num_files);
    FZ_CHECK(!strcmp(m->wheel_sha256[0], g_subst[0]) && !strcmp(m->wheel_sha256[1], g_subst[1]),
             "warm start accepted a marker naming other wheels");
    const fic_marker_file *f = fic__marker_find(m, FIC_TVMFFI_MEMBER);
    FZ_CHECK(f && f->size == strlen("libtvm_ffi bytes\n"), "warm start accepted a wrong libtvm_ffi record");
  } else {
    fic_status v = fic__artifacts_verify(a);
    FZ_CHECK(v == FIC_OK, "rebuilt entry fails verification: %s", fic_last_error_message());
  }
  free(a);
  free(text);
  clean_quarantine();
  return 0;
}
