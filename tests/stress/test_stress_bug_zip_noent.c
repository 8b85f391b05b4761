/* SPDX-License-Identifier: Apache-2.0 */
/* Regression for fuzz finding zip-noent (since fixed in zip_reader.c):
 * a wheel whose central directory record escapes its local-header offset as
 * 0xFFFFFFFF (ZIP64) without a ZIP64 extra field makes libzip 1.7.3 answer
 * ZIP_ER_NOENT, which src/artifacts/zip_reader.c (fail_zip_error) mapped to
 * FIC_ERR_NOT_FOUND "<path>: No such file" for a file that exists. A
 * malformed archive must be FIC_ERR_ZIP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/zip_reader.h"
#include "stress_support.h"

static uint32_t crc32_of(const unsigned char *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

static size_t put16(unsigned char *b, size_t o, unsigned v) {
  b[o] = (unsigned char)v;
  b[o + 1] = (unsigned char)(v >> 8);
  return o + 2;
}

static size_t put32(unsigned char *b, size_t o, uint32_t v) {
  o = put16(b, o, v & 0xFFFF);
  return put16(b, o, v >> 16);
}

/* Two stored members; the second central record's offset is 0xFFFFFFFF. */
static size_t make_archive(unsigned char *b) {
  const char *names[2] = {ST_TVM_REL, ST_MOD_MEMBER};
  const unsigned char data[2] = {'t', 'm'};
  uint32_t offs[2];
  size_t o = 0;
  for (int i = 0; i < 2; i++) {
    offs[i] = (uint32_t)o;
    o = put32(b, o, 0x04034B50);
    o = put16(b, o, 20);
    o = put16(b, o, 0);
    o = put16(b, o, 0); /* stored */
    o = put16(b, o, 0);
    o = put16(b, o, 0x21);
    o = put32(b, o, crc32_of(&data[i], 1));
    o = put32(b, o, 1);
    o = put32(b, o, 1);
    o = put16(b, o, (unsigned)strlen(names[i]));
    o = put16(b, o, 0);
    memcpy(b + o, names[i], strlen(names[i]));
    o += strlen(names[i]);
    b[o++] = data[i];
  }
  size_t cd = o;
  for (int i = 0; i < 2; i++) {
    o = put32(b, o, 0x02014B50);
    o = put16(b, o, 0x031E);
    o = put16(b, o, 20);
    o = put16(b, o, 0);
    o = put16(b, o, 0);
    o = put16(b, o, 0);
    o = put16(b, o, 0x21);
    o = put32(b, o, crc32_of(&data[i], 1));
    o = put32(b, o, 1);
    o = put32(b, o, 1);
    o = put16(b, o, (unsigned)strlen(names[i]));
    o = put16(b, o, 0);
    o = put16(b, o, 0);
    o = put16(b, o, 0);
    o = put16(b, o, 0);
    o = put32(b, o, 0100755u << 16);
    o = put32(b, o, i == 1 ? 0xFFFFFFFFu : offs[i]);
    memcpy(b + o, names[i], strlen(names[i]));
    o += strlen(names[i]);
  }
  size_t cd_size = o - cd;
  o = put32(b, o, 0x06054B50);
  o = put16(b, o, 0);
  o = put16(b, o, 0);
  o = put16(b, o, 2);
  o = put16(b, o, 2);
  o = put32(b, o, (uint32_t)cd_size);
  o = put32(b, o, (uint32_t)cd);
  return put16(b, o, 0);
}

static void test_malformed_archive_is_a_zip_error(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("bug-zip-noent");
  char path[4200];
  snprintf(path, sizeof path, "%s/flashinfer_jit_cache-0.0.0-py3-none-any.whl", dir);
  unsigned char buf[1024];
  size_t len = make_archive(buf);
  st_write(path, buf, len);
  fic_zip *z = NULL;
  fic_status s = fic__zip_open(path, &z);
  print_message("fic__zip_open: %s: %s\n", fic_status_string(s), fic_last_error_message());
  fic__zip_close(z);
  fic_runtime *rt = NULL;
  fic_config cfg;
  char root[4300];
  snprintf(root, sizeof root, "%s/cache", dir);
  st_cfg(&cfg, root, path, NULL);
  fic_status s2 = fic_runtime_open(&cfg, &rt);
  print_message("fic_runtime_open: %s: %s\n", fic_status_string(s2), fic_last_error_message());
  fic_test_rmtree(dir);
  free(dir);
  assert_int_equal(s, FIC_ERR_ZIP);
  assert_int_equal(s2, FIC_ERR_ZIP);
}

int main(void) {
  st_clean_env();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_malformed_archive_is_a_zip_error)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
