/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the wheel (zip) reader: open + sorted listing + member look-up +
 * streaming extraction + module listing, on arbitrary bytes given as a file.
 *
 * Oracles: no sanitizer report; every name the reader accepts at open is a
 * safe relative path and the listing is sorted; a member that passes
 * fic__zip_find declares at most FIC_ZIP_MAX_MEMBER bytes; extraction never
 * hands the sink a chunk larger than the buffer or a byte past the declared
 * size, and a successful extraction delivers exactly the declared size;
 * failures carry one of the statuses the reader documents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/artifacts.h"
#include "artifacts/zip_reader.h"
#include "fuzz_common.h"

#define MAX_EXTRACT_MEMBERS 8
#define MAX_EXTRACT_BYTES (32u << 20) /* per input: a deflate bomb within the ratio limit is legal */

typedef struct sink_state {
  uint64_t declared, total, budget;
  size_t buf_size;
} sink_state;

static fic_status count_sink(void *user, const void *data, size_t len) {
  sink_state *s = user;
  FZ_CHECK(data != NULL, "sink got NULL data");
  FZ_CHECK(len > 0 && len <= s->buf_size, "sink got a chunk of %zu bytes (buffer %zu)", len, s->buf_size);
  FZ_CHECK(s->total + len <= s->declared, "sink got byte %llu of a member declaring %llu",
           (unsigned long long)(s->total + len), (unsigned long long)s->declared);
  s->total += len;
  if (s->total > s->budget) return FIC_ERR_IO; /* a sink failure must come back as is */
  return FIC_OK;
}

static int visit(void *user, const char *module, uint64_t size) {
  (void)size;
  int *n = user;
  size_t len = strlen(module);
  FZ_CHECK(len > 0 && len < FIC_MODULE_NAME_MAX, "module name of %zu bytes", len);
  FZ_CHECK(!strchr(module, '/'), "module name with a slash: %s", module);
  return ++*n >= 10000;
}

static const fic_status open_ok[] = {FIC_ERR_ZIP, FIC_ERR_UNSAFE_MEMBER, FIC_ERR_IO, FIC_ERR_NO_MEMORY};
static const fic_status find_ok[] = {FIC_ERR_ZIP, FIC_ERR_UNSAFE_MEMBER, FIC_ERR_NOT_FOUND, FIC_ERR_NO_MEMORY,
                                     FIC_ERR_IO};
static const fic_status extract_ok[] = {FIC_ERR_ZIP, FIC_ERR_UNSAFE_MEMBER, FIC_ERR_CHECKSUM, FIC_ERR_NO_MEMORY,
                                        FIC_ERR_IO};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static void *buf;
  if (!buf) buf = malloc(256u * 1024u);
  const char *path = fz_path("in.whl");
  fz_write_file(path, data, size);

  fic_zip *z = NULL;
  fic_status s = fic__zip_open(path, &z);
  if (s != FIC_OK) {
    FZ_CHECK(z == NULL, "failed open left a handle");
    FZ_CHECK(fz_status_in(s, open_ok, sizeof open_ok / sizeof open_ok[0]), "zip_open -> %s", fic_status_string(s));
  } else {
    size_t n = fic__zip_count(z);
    const char *prev = NULL;
    int extracted = 0;
    uint64_t budget = MAX_EXTRACT_BYTES;
    for (size_t i = 0; i < n; i++) {
      uint64_t index = 0;
      const char *name = fic__zip_sorted_name(z, i, &index);
      FZ_CHECK(name != NULL, "no name for sorted entry %zu of %zu", i, n);
      FZ_CHECK(fic__zip_name_is_safe(name, NULL), "open accepted the unsafe name \"%s\"", name);
      FZ_CHECK(!prev || strcmp(prev, name) <= 0, "listing not sorted: \"%s\" before \"%s\"", prev, name);
      prev = name;
      if (i >= 64 && extracted >= MAX_EXTRACT_MEMBERS) continue;
      fic_zip_member m;
      s = fic__zip_find(z, name, &m);
      if (s != FIC_OK) {
        FZ_CHECK(fz_status_in(s, find_ok, sizeof find_ok / sizeof find_ok[0]), "zip_find(%s) -> %s", name,
                 fic_status_string(s));
        continue;
      }
      FZ_CHECK(m.size <= FIC_ZIP_MAX_MEMBER, "member %s declares %llu bytes", name, (unsigned long long)m.size);
      if (extracted >= MAX_EXTRACT_MEMBERS || budget == 0) continue;
      extracted++;
      /* Small buffers for small members exercise the chunking edge cases. */
      size_t bs = m.size < 4096 ? 1 + (size_t)(m.size % 7) : 256u * 1024u;
      sink_state st = {m.size, 0, budget, bs};
      s = fic__zip_extract(z, &m, buf, bs, count_sink, &st);
      if (s == FIC_OK) {
        FZ_CHECK(st.total == m.size, "extraction of %s delivered %llu of %llu bytes", name,
                 (unsigned long long)st.total, (unsigned long long)m.size);
      } else {
        FZ_CHECK(fz_status_in(s, extract_ok, sizeof extract_ok / sizeof extract_ok[0]), "zip_extract(%s) -> %s", name,
                 fic_status_string(s));
      }
      budget = st.total >= budget ? 0 : budget - st.total;
    }
    FZ_CHECK(fic__zip_sorted_name(z, n, NULL) == NULL, "name past the end");
    fic_zip_member m;
    s = fic__zip_find(z, "flashinfer_jit_cache/jit_cache/\x01/\x01.so", &m);
    FZ_CHECK(s == FIC_ERR_NOT_FOUND, "find of an absent member -> %s", fic_status_string(s));
    fic__zip_close(z);
  }
  int modules = 0;
  s = fic__wheel_list_modules(path, visit, &modules);
  FZ_CHECK(s == FIC_OK || fz_status_in(s, open_ok, sizeof open_ok / sizeof open_ok[0]), "list_modules -> %s",
           fic_status_string(s));
  return 0;
}
