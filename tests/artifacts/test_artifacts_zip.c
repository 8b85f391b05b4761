/* SPDX-License-Identifier: Apache-2.0 */
/* The zip reader: the real tvm-ffi wheel, ZIP64, listing, hostile archives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "art_support.h"
#include "artifacts/internal.h"
#include "artifacts/zip_reader.h"

#define FIC_TEST_MEMBER "flashinfer_jit_cache/jit_cache/fic_test/fic_test.so"

typedef struct mem_sink {
  uint64_t bytes;
  unsigned char head[4];
  fic_sha256 sha;
  fic_status fail_with; /* sink error to inject */
} mem_sink;

static fic_status sink(void *user, const void *data, size_t len) {
  mem_sink *m = user;
  if (m->fail_with) return fic__fail(m->fail_with, "injected sink failure");
  for (size_t i = 0; i < len && m->bytes + i < 4; i++) m->head[m->bytes + i] = ((const unsigned char *)data)[i];
  m->bytes += len;
  return fic__sha256_update(&m->sha, data, len);
}

/* Open, find, extract `member` of `wheel` into memory; returns the status of
 * the first failing step and fills *m. */
static fic_status extract_mem(const char *wheel, const char *member, mem_sink *m, char sha[65]) {
  fic_zip *z = NULL;
  fic_zip_member zm;
  memset(m, 0, sizeof *m);
  fic_status s = fic__zip_open(wheel, &z);
  if (s != FIC_OK) return s;
  s = fic__zip_find(z, member, &zm);
  if (s == FIC_OK) {
    void *buf = malloc(FIC_IO_BUFFER);
    assert_non_null(buf);
    assert_int_equal(fic__sha256_begin(&m->sha), FIC_OK);
    s = fic__zip_extract(z, &zm, buf, FIC_IO_BUFFER, sink, m);
    if (s == FIC_OK) {
      assert_int_equal(zm.size, m->bytes);
      assert_int_equal(fic__sha256_end(&m->sha, sha), FIC_OK);
    } else {
      fic__sha256_abort(&m->sha);
    }
    free(buf);
  }
  fic__zip_close(z);
  return s;
}

static void test_real_tvmffi_wheel(void **state) {
  (void)state;
  mem_sink m;
  char sha[65], want[65];
  FIC_ASSERT_OK(extract_mem(fic_test_env("FIC_TEST_TVMFFI_WHEEL"), FIC_TVMFFI_MEMBER, &m, sha));
  assert_int_equal(m.bytes, 1069368);
  assert_memory_equal(m.head,
                      "\x7f"
                      "ELF",
                      4);
  /* Same bytes as the copy unpacked by scripts/setup.sh (with unzip). */
  FIC_ASSERT_OK(fic__sha256_file(fic_test_env("FIC_TEST_TVMFFI_LIB"), want));
  assert_string_equal(sha, want);

  /* The index is sorted and complete: 225 entries in this wheel. */
  fic_zip *z = NULL;
  FIC_ASSERT_OK(fic__zip_open(fic_test_env("FIC_TEST_TVMFFI_WHEEL"), &z));
  assert_true(fic__zip_count(z) > 100);
  for (size_t i = 1; i < fic__zip_count(z); i++)
    assert_true(strcmp(fic__zip_sorted_name(z, i - 1, NULL), fic__zip_sorted_name(z, i, NULL)) <= 0);
  fic_zip_member zm;
  FIC_ASSERT_STATUS(fic__zip_find(z, "tvm_ffi/lib/nope.so", &zm), FIC_ERR_NOT_FOUND);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "tvm_ffi/lib/nope.so");
  /* Exact match only: a suffix or prefix of a real name is not found. */
  FIC_ASSERT_STATUS(fic__zip_find(z, "lib/libtvm_ffi.so", &zm), FIC_ERR_NOT_FOUND);
  FIC_ASSERT_STATUS(fic__zip_find(z, "tvm_ffi/lib/libtvm_ffi.s", &zm), FIC_ERR_NOT_FOUND);
  fic__zip_close(z);
}

typedef struct listed {
  int n;
  char names[16][64];
  uint64_t sizes[16];
  int stop_after;
} listed;

static int visit(void *user, const char *module, uint64_t size) {
  listed *l = user;
  if (l->n < 16) {
    snprintf(l->names[l->n], 64, "%s", module);
    l->sizes[l->n] = size;
  }
  l->n++;
  return l->stop_after && l->n >= l->stop_after;
}

static void test_listing(void **state) {
  (void)state;
  listed l;
  memset(&l, 0, sizeof l);
  FIC_ASSERT_OK(fic__wheel_list_modules(art_wheel("listing.whl"), visit, &l));
  /* Sorted; only exact flashinfer_jit_cache/jit_cache/<m>/<m>.so. */
  assert_int_equal(l.n, 3);
  assert_string_equal(l.names[0], "gdn_prefill_sm90");
  assert_int_equal(l.sizes[0], 1234);
  assert_string_equal(l.names[1], "norm");
  assert_int_equal(l.sizes[1], 40);
  assert_string_equal(l.names[2], "sampling");
  assert_int_equal(l.sizes[2], 7);

  memset(&l, 0, sizeof l);
  l.stop_after = 1;
  FIC_ASSERT_OK(fic__wheel_list_modules(art_wheel("listing.whl"), visit, &l));
  assert_int_equal(l.n, 1);

  memset(&l, 0, sizeof l);
  FIC_ASSERT_OK(fic__wheel_list_modules(fic_test_env("FIC_TEST_JIT_WHEEL"), visit, &l));
  assert_int_equal(l.n, 1);
  assert_string_equal(l.names[0], "fic_test");
  assert_int_equal(l.sizes[0], art_file_size(fic_test_env("FIC_TEST_MODULE")));

  memset(&l, 0, sizeof l);
  FIC_ASSERT_OK(fic__wheel_list_modules(fic_test_env("FIC_TEST_TVMFFI_WHEEL"), visit, &l));
  assert_int_equal(l.n, 0);

  FIC_ASSERT_STATUS(fic__wheel_list_modules(art_wheel("traversal.whl"), visit, &l), FIC_ERR_UNSAFE_MEMBER);
  FIC_ASSERT_STATUS(fic__wheel_list_modules(art_wheel("notzip.whl"), visit, &l), FIC_ERR_ZIP);
  FIC_ASSERT_STATUS(fic__wheel_list_modules(NULL, visit, &l), FIC_ERR_INVALID_ARGUMENT);
}

static int has_zip64_eocd(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  static unsigned char buf[1 << 16];
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  long off = size > (long)sizeof buf ? size - (long)sizeof buf : 0;
  fseek(f, off, SEEK_SET);
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  for (size_t i = 0; i + 4 <= n; i++)
    if (!memcmp(buf + i, "PK\x06\x06", 4)) return 1;
  return 0;
}

static void test_zip64_and_stored(void **state) {
  (void)state;
  char want[65], got[65];
  mem_sink m;
  FIC_ASSERT_OK(fic__sha256_file(fic_test_env("FIC_TEST_MODULE"), want));
  const char *wheels[] = {art_wheel("zip64full.whl"), art_wheel("stored.whl"), art_wheel("good.whl")};
  assert_true(has_zip64_eocd(wheels[0])); /* ZIP64 end record + ZIP64 extra fields everywhere */
  assert_false(has_zip64_eocd(wheels[2]));
  for (int i = 0; i < 3; i++) {
    FIC_ASSERT_OK(extract_mem(wheels[i], FIC_TEST_MEMBER, &m, got));
    assert_string_equal(got, want);
    FIC_ASSERT_OK(extract_mem(wheels[i], FIC_TVMFFI_MEMBER, &m, got));
    assert_string_equal(got, want);
  }

  /* make_wheel.py --zip64 (ZIP64 local headers) as the other layers use it. */
  char *dir = fic_test_mkdtemp("art-z64");
  char out[4096];
  snprintf(out, sizeof out, "%s/z64.whl", dir);
  assert_int_equal(
      fic_test_sh("'%s' '%s' '%s' %s='%s' --zip64", fic_test_env("FIC_TEST_PYTHON"),
                  fic_test_env("FIC_TEST_MAKE_WHEEL"), out, FIC_TEST_MEMBER, fic_test_env("FIC_TEST_MODULE")),
      0);
  FIC_ASSERT_OK(extract_mem(out, FIC_TEST_MEMBER, &m, got));
  assert_string_equal(got, want);
  fic_test_rmtree(dir);
  free(dir);
}

static void test_hostile_names(void **state) {
  (void)state;
  static const struct {
    const char *wheel, *needle;
  } cases[] = {
      {"traversal.whl", "../../evil.so"},
      {"traversal_inner.whl", "'..' path component"},
      {"absolute.whl", "absolute path"},
      {"backslash.whl", "backslash"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fic_zip *z = (fic_zip *)0x1;
    FIC_ASSERT_STATUS(fic__zip_open(art_wheel(cases[i].wheel), &z), FIC_ERR_UNSAFE_MEMBER);
    assert_null(z);
    ART_ASSERT_CONTAINS(fic_last_error_message(), cases[i].needle);
  }
  static const char *const bad[] = {"", "/abs", "a/../b", "..", "../x", "a/..", "a\\b", "C:/x", "a\001b"};
  static const char *const good[] = {"a", "a/b.so", "a..b/c", "..a/b", "a/b..", "./a", "tvm_ffi/lib/libtvm_ffi.so"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(fic__zip_name_is_safe(bad[i], NULL));
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(fic__zip_name_is_safe(good[i], NULL));
}

static void test_hostile_members(void **state) {
  (void)state;
  int fds = art_count_fds();
  static const struct {
    const char *wheel;
    fic_status want;
    fic_status alt; /* also accepted (FIC_OK: none) */
    const char *needle;
  } cases[] = {
      {"symlink.whl", FIC_ERR_UNSAFE_MEMBER, FIC_OK, "symbolic link"},
      {"fifo.whl", FIC_ERR_UNSAFE_MEMBER, FIC_OK, "not a regular file"},
      {"huge.whl", FIC_ERR_UNSAFE_MEMBER, FIC_OK, "5368709120 bytes, over the"},
      {"ratio.whl", FIC_ERR_UNSAFE_MEMBER, FIC_OK, "zip bomb"},
      {"longer.whl", FIC_ERR_UNSAFE_MEMBER, FIC_OK, "inflates past its declared size of 1000 bytes"},
      {"shorter.whl", FIC_ERR_ZIP, FIC_OK, "of its declared"},
      {"badcrc.whl", FIC_ERR_CHECKSUM, FIC_OK, "CRC"},
      {"badcrc_stored.whl", FIC_ERR_CHECKSUM, FIC_OK, "CRC"},
      {"baddata.whl", FIC_ERR_ZIP, FIC_ERR_CHECKSUM, FIC_TVMFFI_MEMBER},
      {"encrypted.whl", FIC_ERR_ZIP, FIC_OK, "encrypted"},
      {"stored_mismatch.whl", FIC_ERR_ZIP, FIC_OK, "stored member"},
      {"duplicate.whl", FIC_ERR_ZIP, FIC_OK, "more than once"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mem_sink m;
    char sha[65];
    fic_status s = extract_mem(art_wheel(cases[i].wheel), FIC_TVMFFI_MEMBER, &m, sha);
    if (s != cases[i].want && (cases[i].alt == FIC_OK || s != cases[i].alt))
      fail_msg("%s -> %s (want %s): %s", cases[i].wheel, fic_status_string(s), fic_status_string(cases[i].want),
               fic_last_error_message());
    ART_ASSERT_CONTAINS(fic_last_error_message(), cases[i].needle);
    if (!strcmp(cases[i].wheel, "longer.whl")) assert_true(m.bytes <= 1000); /* never past the declared size */
    /* The other member of the same archive is still fine. */
    if (strcmp(cases[i].wheel, "duplicate.whl"))
      FIC_ASSERT_OK(extract_mem(art_wheel(cases[i].wheel), FIC_TEST_MEMBER, &m, sha));
  }
  assert_int_equal(art_count_fds(), fds); /* no descriptor leaked on any failure path */
}

static void test_not_zip(void **state) {
  (void)state;
  fic_zip *z = NULL;
  FIC_ASSERT_STATUS(fic__zip_open(art_wheel("truncated.whl"), &z), FIC_ERR_ZIP);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "truncated.whl");
  FIC_ASSERT_STATUS(fic__zip_open(art_wheel("notzip.whl"), &z), FIC_ERR_ZIP);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "not a zip archive");
  FIC_ASSERT_STATUS(fic__zip_open(art_wheel("empty.whl"), &z), FIC_ERR_ZIP);
  FIC_ASSERT_STATUS(fic__zip_open(art_wheel("does-not-exist.whl"), &z), FIC_ERR_NOT_FOUND);
  int fds = art_count_fds();
  FIC_ASSERT_STATUS(fic__zip_open(art_wheels_dir(), &z), FIC_ERR_ZIP);
  assert_null(z);
  for (int i = 0; i < 20; i++) {
    FIC_ASSERT_STATUS(fic__zip_open(art_wheel("notzip.whl"), &z), FIC_ERR_ZIP);
    FIC_ASSERT_STATUS(fic__zip_open(art_wheel("traversal.whl"), &z), FIC_ERR_UNSAFE_MEMBER);
  }
  assert_int_equal(art_count_fds(), fds);
}

static void test_sink_error_propagates(void **state) {
  (void)state;
  fic_zip *z = NULL;
  fic_zip_member zm;
  FIC_ASSERT_OK(fic__zip_open(art_wheel("good.whl"), &z));
  FIC_ASSERT_OK(fic__zip_find(z, FIC_TVMFFI_MEMBER, &zm));
  mem_sink m;
  memset(&m, 0, sizeof m);
  m.fail_with = FIC_ERR_DISK_FULL;
  char buf[4096];
  FIC_ASSERT_STATUS(fic__zip_extract(z, &zm, buf, sizeof buf, sink, &m), FIC_ERR_DISK_FULL);
  /* The archive stays usable after a failed extraction. */
  m.fail_with = FIC_OK;
  assert_int_equal(fic__sha256_begin(&m.sha), FIC_OK);
  FIC_ASSERT_OK(fic__zip_extract(z, &zm, buf, sizeof buf, sink, &m));
  fic__sha256_abort(&m.sha);
  assert_int_equal(m.bytes, zm.size);
  fic__zip_close(z);
}

int main(void) {
  art_clean_env();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_tvmffi_wheel),     cmocka_unit_test(test_listing),
      cmocka_unit_test(test_zip64_and_stored),      cmocka_unit_test(test_hostile_names),
      cmocka_unit_test(test_hostile_members),       cmocka_unit_test(test_not_zip),
      cmocka_unit_test(test_sink_error_propagates),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fic_test_rmtree(art_wheels_dir());
  return rc;
}
