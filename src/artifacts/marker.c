/* SPDX-License-Identifier: Apache-2.0 */
/* The COMPLETE marker: formatting, strict parsing, atomic writing. */
#include "artifacts/marker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/internal.h"
#include "artifacts/pinned.h"
#include "artifacts/zip_reader.h"
#include "common/error.h"

static const char *const wheel_kinds[2] = {"jit_cache", "tvmffi"};

int fic__marker_valid_wheel_name(const char *s, size_t len) {
  if (len == 0 || len >= FIC_WHEEL_NAME_MAX) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return 0;
  }
  return !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

static int valid_relpath(const char *s, size_t len) {
  if (len == 0 || len >= FIC_RELPATH_MAX || memchr(s, '\0', len)) return 0;
  char tmp[FIC_RELPATH_MAX];
  memcpy(tmp, s, len);
  tmp[len] = '\0';
  if (!fic__zip_name_is_safe(tmp, NULL) || tmp[len - 1] == '/' || strstr(tmp, "//")) return 0;
  if (!strcmp(tmp, FIC_MARKER_NAME)) return 0;
  return 1;
}

fic_status fic__marker_format(const fic_marker *m, char *buf, size_t size, size_t *len) {
  size_t off = 0;
#define EMIT(...)                                                                      \
  do {                                                                                 \
    int n_ = snprintf(buf + off, size - off, __VA_ARGS__);                             \
    if (n_ < 0 || (size_t)n_ >= size - off)                                            \
      return fic__fail(FIC_ERR_INTERNAL, "cache marker does not fit %zu bytes", size); \
    off += (size_t)n_;                                                                 \
  } while (0)
  if (m->num_files == 0 || m->num_files > FIC_MARKER_MAX_FILES)
    return fic__fail(FIC_ERR_INTERNAL, "cache marker with %zu files", m->num_files);
  EMIT("%s\n", FIC_CACHE_FORMAT);
  for (int k = 0; k < 2; k++) {
    if (!fic__is_sha256_hex(m->wheel_sha256[k], strlen(m->wheel_sha256[k])) ||
        !fic__marker_valid_wheel_name(m->wheel_name[k], strlen(m->wheel_name[k])))
      return fic__fail(FIC_ERR_INTERNAL, "invalid wheel record for the cache marker");
    EMIT("wheel\t%s\t%s\t%s\n", wheel_kinds[k], m->wheel_sha256[k], m->wheel_name[k]);
  }
  for (size_t i = 0; i < m->num_files; i++) {
    const fic_marker_file *f = &m->files[i];
    if (!valid_relpath(f->relpath, strlen(f->relpath)) || !fic__is_sha256_hex(f->sha256, strlen(f->sha256)))
      return fic__fail(FIC_ERR_INTERNAL, "invalid file record for the cache marker");
    EMIT("file\t%s\t%" PRIu64 "\t%s\n", f->relpath, f->size, f->sha256);
  }
  EMIT("end\n");
#undef EMIT
  *len = off;
  return FIC_OK;
}

static int why_set(char *why, size_t why_size, const char *fmt, ...) FIC_PRINTF(3, 4);
static int why_set(char *why, size_t why_size, const char *fmt, ...) {
  if (why && why_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
  }
  return EBADMSG;
}

/* Split line [s, s+len) on tabs into exactly `want` fields. */
static int split_fields(const char *s, size_t len, const char **f, size_t *flen, int want) {
  int k = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '\t') {
      if (k == want) return 0;
      f[k] = s + start;
      flen[k] = i - start;
      k++;
      start = i + 1;
    }
  }
  return k == want;
}

static int parse_u64(const char *s, size_t len, uint64_t *out) {
  if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return 0;
    v = v * 10 + d;
  }
  *out = v;
  return 1;
}

int fic__marker_parse(const char *text, size_t len, fic_marker *out, char *why, size_t why_size) {
  memset(out, 0, sizeof *out);
  if (len == 0) return why_set(why, why_size, "empty marker");
  if (len > FIC_MARKER_MAX_BYTES) return why_set(why, why_size, "marker larger than %u bytes", FIC_MARKER_MAX_BYTES);
  if (memchr(text, '\0', len)) return why_set(why, why_size, "NUL byte in marker");
  if (text[len - 1] != '\n') return why_set(why, why_size, "marker does not end with a newline (truncated?)");
  size_t pos = 0;
  int line_no = 0, state = 0; /* 0 header, 1-2 wheels, 3 files, 4 after end */
  while (pos < len) {
    const char *line = text + pos;
    const char *nl = memchr(line, '\n', len - pos);
    size_t ll = (size_t)(nl - line);
    pos += ll + 1;
    line_no++;
    const char *f[5];
    size_t fl[5];
    if (state == 4) return why_set(why, why_size, "line %d: data after the end line", line_no);
    if (state == 0) {
      if (ll != strlen(FIC_CACHE_FORMAT) || memcmp(line, FIC_CACHE_FORMAT, ll) != 0)
        return why_set(why, why_size, "line 1: not a %s marker", FIC_CACHE_FORMAT);
      state = 1;
      continue;
    }
    if (state == 1 || state == 2) {
      int k = state - 1;
      if (!split_fields(line, ll, f, fl, 4) || fl[0] != 5 || memcmp(f[0], "wheel", 5) != 0 ||
          fl[1] != strlen(wheel_kinds[k]) || memcmp(f[1], wheel_kinds[k], fl[1]) != 0)
        return why_set(why, why_size, "line %d: expected the %s wheel record", line_no, wheel_kinds[k]);
      if (!fic__is_sha256_hex(f[2], fl[2])) return why_set(why, why_size, "line %d: bad wheel sha256", line_no);
      if (!fic__marker_valid_wheel_name(f[3], fl[3]))
        return why_set(why, why_size, "line %d: bad wheel file name", line_no);
      memcpy(out->wheel_sha256[k], f[2], 64);
      out->wheel_sha256[k][64] = '\0';
      memcpy(out->wheel_name[k], f[3], fl[3]);
      out->wheel_name[k][fl[3]] = '\0';
      state++;
      continue;
    }
    /* state 3: file lines, then "end" */
    if (ll == 3 && memcmp(line, "end", 3) == 0) {
      if (out->num_files == 0) return why_set(why, why_size, "line %d: no file records", line_no);
      state = 4;
      continue;
    }
    if (!split_fields(line, ll, f, fl, 4) || fl[0] != 4 || memcmp(f[0], "file", 4) != 0)
      return why_set(why, why_size, "line %d: expected a file record or the end line", line_no);
    if (out->num_files == FIC_MARKER_MAX_FILES) return why_set(why, why_size, "line %d: too many files", line_no);
    fic_marker_file *mf = &out->files[out->num_files];
    if (!valid_relpath(f[1], fl[1])) return why_set(why, why_size, "line %d: bad relative path", line_no);
    memcpy(mf->relpath, f[1], fl[1]);
    mf->relpath[fl[1]] = '\0';
    if (!parse_u64(f[2], fl[2], &mf->size)) return why_set(why, why_size, "line %d: bad size", line_no);
    if (!fic__is_sha256_hex(f[3], fl[3])) return why_set(why, why_size, "line %d: bad file sha256", line_no);
    memcpy(mf->sha256, f[3], 64);
    mf->sha256[64] = '\0';
    for (size_t i = 0; i < out->num_files; i++)
      if (!strcmp(out->files[i].relpath, mf->relpath))
        return why_set(why, why_size, "line %d: duplicate path %s", line_no, mf->relpath);
    out->num_files++;
  }
  if (state != 4) return why_set(why, why_size, "marker has no end line (truncated?)");
  return 0;
}

int fic__marker_read(const char *dir, fic_marker *out, char *why, size_t why_size) {
  char path[FIC_PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/%s", dir, FIC_MARKER_NAME);
  if (n < 0 || (size_t)n >= sizeof path) return ENAMETOOLONG;
  char *data = NULL;
  size_t len = 0;
  int err = fic__read_small_file(path, FIC_MARKER_MAX_BYTES, &data, &len);
  if (err == EFBIG) return why_set(why, why_size, "marker larger than %u bytes", FIC_MARKER_MAX_BYTES);
  if (err) {
    if (why && why_size) snprintf(why, why_size, "cannot read %s: %s", path, strerror(err));
    return err;
  }
  err = fic__marker_parse(data, len, out, why, why_size);
  free(data);
  return err;
}

fic_status fic__marker_write(const char *dir, const fic_marker *m) {
  char path[FIC_PATH_MAX];
  char *buf = malloc(FIC_MARKER_MAX_BYTES);
  if (!buf) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory writing the cache marker");
  size_t len = 0;
  fic_status s = fic__marker_format(m, buf, FIC_MARKER_MAX_BYTES, &len);
  if (s == FIC_OK) s = fic__pathf(path, sizeof path, "%s/%s", dir, FIC_MARKER_NAME);
  if (s == FIC_OK) s = fic__write_file_atomic(path, buf, len);
  free(buf);
  return s;
}

const fic_marker_file *fic__marker_find(const fic_marker *m, const char *relpath) {
  for (size_t i = 0; i < m->num_files; i++)
    if (!strcmp(m->files[i].relpath, relpath)) return &m->files[i];
  return NULL;
}
