/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile-input-aware zip access through libzip; see zip_reader.h. */
#include "artifacts/zip_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "artifacts/artifacts.h"
#include "common/error.h"

typedef struct zip_entry_ref {
  const char *name; /* owned by libzip, valid while the archive is open */
  uint64_t index;
} zip_entry_ref;

struct fic_zip {
  zip_t *za;
  uint64_t archive_size;
  size_t count;
  zip_entry_ref *sorted;
  char path[FIC_PATH_MAX];
};

int fic__zip_name_is_safe(const char *name, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  if (!name || !*name) return (*why = "empty name", 0);
  if (name[0] == '/') return (*why = "absolute path", 0);
  if (((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')) && name[1] == ':')
    return (*why = "drive-letter path", 0);
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    if (*p == '\\') return (*why = "backslash in path", 0);
    if (*p < 0x20 || *p == 0x7f) return (*why = "control character in path", 0);
  }
  for (const char *c = name; c;) {
    const char *slash = strchr(c, '/');
    size_t len = slash ? (size_t)(slash - c) : strlen(c);
    if (len == 2 && c[0] == '.' && c[1] == '.') return (*why = "'..' path component", 0);
    c = slash ? slash + 1 : NULL;
  }
  return 1;
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const zip_entry_ref *)a)->name, ((const zip_entry_ref *)b)->name);
}

/* Map a libzip error on a member or the archive to a status + message. */
static fic_status fail_zip_error(zip_error_t *ze, const char *path, const char *member) {
  int zcode = zip_error_code_zip(ze);
  int sys = zip_error_code_system(ze);
  const char *msg = zip_error_strerror(ze);
  fic_status st;
  switch (zcode) {
    case ZIP_ER_CRC:
      st = FIC_ERR_CHECKSUM;
      break;
    case ZIP_ER_MEMORY:
      st = FIC_ERR_NO_MEMORY;
      break;
    case ZIP_ER_NOENT:
      /* The archive exists (we opened it): libzip says "no such file" for a
       * central directory that points nowhere, e.g. a ZIP64 escape with no
       * ZIP64 extra field. That is a malformed archive. */
      st = FIC_ERR_ZIP;
      break;
    case ZIP_ER_OPEN:
    case ZIP_ER_READ:
    case ZIP_ER_SEEK:
      /* A system error while reading: a short read of a truncated file has no errno. */
      st = (zip_error_system_type(ze) == ZIP_ET_SYS && sys) ? fic__status_from_errno(sys) : FIC_ERR_ZIP;
      if (st == FIC_ERR_NOT_FOUND) st = FIC_ERR_IO;
      break;
    default:
      st = FIC_ERR_ZIP;
      break;
  }
  if (member)
    return fic__fail(st, "%s: member %s: %s%s", path, member, msg,
                     st == FIC_ERR_CHECKSUM ? " (CRC-32 of the extracted data does not match the archive)" : "");
  return fic__fail(st, "%s: %s", path, msg);
}

fic_status fic__zip_open(const char *path, fic_zip **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fic__fail_errno("cannot open wheel", path);
  return fic__zip_open_fd(fd, path, out);
}

/* The sorted name index of an open archive; every name is checked first. */
static fic_status build_index(fic_zip *z, const char *path) {
  zip_int64_t n = zip_get_num_entries(z->za, 0);
  if (n < 0) return fic__fail(FIC_ERR_ZIP, "%s: cannot count entries", path);
  z->count = (size_t)n;
  z->sorted = calloc(z->count ? z->count : 1, sizeof *z->sorted);
  if (!z->sorted) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory indexing %s", path);
  for (size_t i = 0; i < z->count; i++) {
    const char *name = zip_get_name(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
    if (!name) return fail_zip_error(zip_get_error(z->za), path, NULL);
    const char *why = NULL;
    if (!fic__zip_name_is_safe(name, &why))
      return fic__fail(FIC_ERR_UNSAFE_MEMBER, "%s: refusing archive with unsafe member name \"%s\" (%s)", path, name,
                       why);
    z->sorted[i].name = name;
    z->sorted[i].index = i;
  }
  qsort(z->sorted, z->count, sizeof *z->sorted, cmp_entry);
  return FIC_OK;
}

fic_status fic__zip_open_fd(int fd, const char *path, fic_zip **out) {
  *out = NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return fic__fail_errno("cannot stat wheel", path);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return fic__fail(FIC_ERR_ZIP, "%s is not a regular file", path);
  }
  fic_zip *z = calloc(1, sizeof *z);
  if (!z) {
    close(fd);
    return fic__fail(FIC_ERR_NO_MEMORY, "out of memory opening %s", path);
  }
  snprintf(z->path, sizeof z->path, "%s", path);
  z->archive_size = (uint64_t)st.st_size;

  /* libzip gets its own duplicate of the descriptor (whatever the libzip
   * version does with a descriptor on failure, ours is closed exactly once). */
  zip_error_t ze;
  zip_error_init(&ze);
  int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  close(fd);
  FILE *fp = dfd >= 0 ? fdopen(dfd, "rb") : NULL;
  if (!fp) {
    int err = errno;
    if (dfd >= 0) close(dfd);
    free(z);
    errno = err;
    return fic__fail_errno("cannot open wheel", path);
  }
  zip_source_t *src = zip_source_filep_create(fp, 0, -1, &ze);
  if (!src) fclose(fp);
  z->za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
  if (!z->za) {
    if (src) zip_source_free(src); /* closes fp */
    fic_status s;
    if (zip_error_code_zip(&ze) == ZIP_ER_NOZIP)
      s = fic__fail(FIC_ERR_ZIP,
                    "%s is not a zip archive (no end-of-central-directory record; truncated or not a wheel)", path);
    else
      s = fail_zip_error(&ze, path, NULL);
    zip_error_fini(&ze);
    free(z);
    return s;
  }
  zip_error_fini(&ze);
  fic_status s = build_index(z, path);
  if (s != FIC_OK) {
    fic__zip_close(z);
    return s;
  }
  *out = z;
  return FIC_OK;
}

void fic__zip_close(fic_zip *z) {
  if (!z) return;
  if (z->za) zip_discard(z->za);
  free(z->sorted);
  free(z);
}

size_t fic__zip_count(const fic_zip *z) { return z->count; }

const char *fic__zip_sorted_name(const fic_zip *z, size_t i, uint64_t *index) {
  if (i >= z->count) return NULL;
  if (index) *index = z->sorted[i].index;
  return z->sorted[i].name;
}

fic_status fic__zip_find(fic_zip *z, const char *name, fic_zip_member *out) {
  zip_entry_ref key = {name, 0};
  zip_entry_ref *hit = bsearch(&key, z->sorted, z->count, sizeof *z->sorted, cmp_entry);
  if (!hit) return fic__fail(FIC_ERR_NOT_FOUND, "%s has no member %s", z->path, name);
  if ((hit > z->sorted && !strcmp(hit[-1].name, name)) ||
      (hit + 1 < z->sorted + z->count && !strcmp(hit[1].name, name)))
    return fic__fail(FIC_ERR_ZIP, "%s: member %s appears more than once", z->path, name);

  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z->za, hit->index, 0, &st) != 0) return fail_zip_error(zip_get_error(z->za), z->path, name);
  const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
  if ((st.valid & need) != need) return fic__fail(FIC_ERR_ZIP, "%s: member %s has incomplete metadata", z->path, name);

  zip_uint8_t opsys = 0;
  zip_uint32_t attr = 0;
  if (zip_file_get_external_attributes(z->za, hit->index, 0, &opsys, &attr) != 0)
    return fail_zip_error(zip_get_error(z->za), z->path, name);
  if (opsys == ZIP_OPSYS_UNIX) {
    unsigned mode = attr >> 16;
    unsigned type = mode & 0170000u;
    if (type == 0120000u)
      return fic__fail(FIC_ERR_UNSAFE_MEMBER, "%s: member %s is a symbolic link; refusing to extract it", z->path,
                       name);
    if (type != 0 && type != 0100000u)
      return fic__fail(FIC_ERR_UNSAFE_MEMBER, "%s: member %s is not a regular file (mode %06o)", z->path, name, mode);
  } else if (attr & 0x10u) {
    return fic__fail(FIC_ERR_UNSAFE_MEMBER, "%s: member %s is a directory", z->path, name);
  }

  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
    return fic__fail(FIC_ERR_ZIP, "%s: member %s is encrypted; encrypted wheels are not supported", z->path, name);
  if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
    return fic__fail(FIC_ERR_ZIP, "%s: member %s uses compression method %d; only store and deflate are supported",
                     z->path, name, (int)st.comp_method);
  if (st.size > FIC_ZIP_MAX_MEMBER)
    return fic__fail(FIC_ERR_UNSAFE_MEMBER,
                     "%s: member %s declares %llu bytes, over the %llu-byte limit for one member", z->path, name,
                     (unsigned long long)st.size, (unsigned long long)FIC_ZIP_MAX_MEMBER);
  if (st.comp_size > z->archive_size)
    return fic__fail(FIC_ERR_ZIP, "%s: member %s declares %llu compressed bytes but the archive has only %llu", z->path,
                     name, (unsigned long long)st.comp_size, (unsigned long long)z->archive_size);
  if (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size)
    return fic__fail(FIC_ERR_ZIP, "%s: stored member %s declares size %llu but compressed size %llu", z->path, name,
                     (unsigned long long)st.size, (unsigned long long)st.comp_size);
  if (st.comp_method == ZIP_CM_DEFLATE && st.size > st.comp_size * FIC_ZIP_MAX_RATIO + 4096)
    return fic__fail(FIC_ERR_UNSAFE_MEMBER,
                     "%s: member %s declares %llu bytes from %llu compressed bytes (ratio over %u: a zip bomb?)",
                     z->path, name, (unsigned long long)st.size, (unsigned long long)st.comp_size, FIC_ZIP_MAX_RATIO);
  out->index = hit->index;
  out->size = st.size;
  out->comp_size = st.comp_size;
  return FIC_OK;
}

fic_status fic__zip_extract(fic_zip *z, const fic_zip_member *m, void *buf, size_t buf_size, fic_zip_sink sink,
                            void *user) {
  const char *name = zip_get_name(z->za, m->index, ZIP_FL_ENC_RAW);
  if (!name) name = "?";
  zip_file_t *f = zip_fopen_index(z->za, m->index, 0);
  if (!f) return fail_zip_error(zip_get_error(z->za), z->path, name);
  uint64_t total = 0;
  fic_status s = FIC_OK;
  for (;;) {
    /* Ask for one byte more than remains, so an over-long member is caught
     * without ever handing the extra bytes to the sink. */
    uint64_t remaining = m->size - total;
    size_t want = remaining + 1 < buf_size ? (size_t)remaining + 1 : buf_size;
    zip_int64_t n = zip_fread(f, buf, want);
    if (n < 0) {
      zip_error_t *ze = zip_file_get_error(f);
      if (zip_error_code_zip(ze) == ZIP_ER_INCONS && total < m->size)
        s = fic__fail(FIC_ERR_ZIP, "%s: member %s ends after %llu of its declared %llu bytes", z->path, name,
                      (unsigned long long)total, (unsigned long long)m->size);
      else
        s = fail_zip_error(ze, z->path, name);
      break;
    }
    if (n == 0) break;
    if ((uint64_t)n > remaining) {
      s = fic__fail(FIC_ERR_UNSAFE_MEMBER, "%s: member %s inflates past its declared size of %llu bytes", z->path, name,
                    (unsigned long long)m->size);
      break;
    }
    s = sink(user, buf, (size_t)n);
    if (s != FIC_OK) break;
    total += (uint64_t)n;
  }
  if (s == FIC_OK && total != m->size)
    s = fic__fail(FIC_ERR_ZIP, "%s: member %s ends after %llu of its declared %llu bytes", z->path, name,
                  (unsigned long long)total, (unsigned long long)m->size);
  zip_fclose(f);
  return s;
}

fic_status fic__wheel_list_modules(const char *wheel_path, fic_module_fn fn, void *user) {
  static const char prefix[] = "flashinfer_jit_cache/jit_cache/";
  if (!wheel_path || !fn) return fic__fail_arg(!wheel_path ? "wheel_path" : "fn", "must not be NULL");
  fic_zip *z = NULL;
  FIC_CHECK(fic__zip_open(wheel_path, &z));
  const size_t plen = sizeof prefix - 1;
  for (size_t i = 0; i < z->count; i++) {
    const char *name = z->sorted[i].name;
    if (strncmp(name, prefix, plen) != 0) continue;
    const char *m = name + plen;
    const char *slash = strchr(m, '/');
    if (!slash || slash == m) continue;
    size_t mlen = (size_t)(slash - m);
    const char *file = slash + 1;
    /* exactly <m>/<m>.so */
    if (strlen(file) != mlen + 3 || strncmp(file, m, mlen) != 0 || strcmp(file + mlen, ".so") != 0) continue;
    if (mlen >= FIC_MODULE_NAME_MAX) continue;
    char module[FIC_MODULE_NAME_MAX];
    memcpy(module, m, mlen);
    module[mlen] = '\0';
    zip_stat_t st;
    zip_stat_init(&st);
    uint64_t size = 0;
    if (zip_stat_index(z->za, z->sorted[i].index, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE)) size = st.size;
    if (fn(user, module, size) != 0) break;
  }
  fic__zip_close(z);
  return FIC_OK;
}
