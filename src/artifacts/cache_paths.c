/* The cache root and the small file-system helpers of the artifact layer.
 * Everything here is reentrant: no static mutable state. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/internal.h"
#include "common/error.h"

const char *fic__env2(const char *name, const char *alias, const char **which) {
  const char *v = getenv(name);
  if (v && *v) {
    if (which) *which = name;
    return v;
  }
  if (alias) {
    v = getenv(alias);
    if (v && *v) {
      if (which) *which = alias;
      return v;
    }
  }
  return NULL;
}

fic_status fic__pathf(char *out, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, size, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= size) {
    if (size) out[0] = '\0';
    return fic__fail(FIC_ERR_INVALID_ARGUMENT, "path too long (limit %zu bytes)", size);
  }
  return FIC_OK;
}

static fic_status set_root(char *out, size_t size, const char *dir, const char *suffix) {
  char cwd[FIC_PATH_MAX];
  fic_status s;
  if (dir[0] == '/') {
    s = fic__pathf(out, size, "%s%s", dir, suffix);
  } else {
    if (!getcwd(cwd, sizeof cwd)) return fic__fail_errno("getcwd for relative cache directory", dir);
    s = fic__pathf(out, size, "%s/%s%s", cwd, dir, suffix);
  }
  if (s != FIC_OK) return fic__fail(s, "cache directory path too long: %s%s", dir, suffix);
  size_t n = strlen(out);
  while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
  return FIC_OK;
}

fic_status fic__cache_root(const char *explicit_dir, char *out, size_t size) {
  if (!out || !size) return fic__fail_arg("out", "no output buffer for the cache root");
  if (explicit_dir && *explicit_dir) return set_root(out, size, explicit_dir, "");
  const char *v = fic__env2("FLASHINFER_C_CACHE_DIR", "FLASHINFER_RS_CACHE_DIR", NULL);
  if (v) return set_root(out, size, v, "");
  v = getenv("XDG_CACHE_HOME");
  /* The XDG spec says a relative value is invalid and must be ignored. */
  if (v && v[0] == '/') return set_root(out, size, v, "/flashinfer-c");
  v = getenv("HOME");
  if (v && *v) return set_root(out, size, v, "/.cache/flashinfer-c");
  return fic__fail(FIC_ERR_NOT_FOUND,
                   "cannot determine the cache directory: set fic_config.cache_dir, FLASHINFER_C_CACHE_DIR, "
                   "XDG_CACHE_HOME (absolute) or HOME");
}

int fic__mkdir_p_q(const char *path, mode_t mode, char *failed, size_t failed_size) {
  char buf[FIC_PATH_MAX];
  int n = snprintf(buf, sizeof buf, "%s", path);
  if (n < 0 || (size_t)n >= sizeof buf) return ENAMETOOLONG;
  size_t len = (size_t)n;
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, mode) != 0) {
      int err = errno;
      struct stat st;
      if (err != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (failed && failed_size) snprintf(failed, failed_size, "%s", buf);
        return err == EEXIST ? ENOTDIR : err;
      }
    }
    buf[i] = saved;
  }
  return 0;
}

fic_status fic__mkdir_p(const char *path, mode_t mode) {
  char failed[FIC_PATH_MAX];
  snprintf(failed, sizeof failed, "%s", path);
  int err = fic__mkdir_p_q(path, mode, failed, sizeof failed);
  if (!err) return FIC_OK;
  errno = err;
  return fic__fail_errno("cannot create directory", failed);
}

fic_status fic__fsync_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fic__fail_errno("cannot open directory", path);
  if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    int err = errno;
    close(fd);
    errno = err;
    return fic__fail_errno("fsync of directory", path);
  }
  close(fd);
  return FIC_OK;
}

int fic__write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ENOSPC;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int fic__write_file_atomic_q(const char *path, const void *data, size_t len) {
  char tmp[FIC_PATH_MAX], dir[FIC_PATH_MAX], rnd[17];
  fic__random_hex(rnd);
  int n = snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%s", path, (long)getpid(), rnd);
  if (n < 0 || (size_t)n >= sizeof tmp) return ENAMETOOLONG;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return errno;
  int err = fic__write_all(fd, data, len);
  if (!err && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && !err) err = errno;
  if (!err && rename(tmp, path) != 0) err = errno;
  if (err) {
    unlink(tmp);
    return err;
  }
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errno;
  err = (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS) ? errno : 0;
  close(dfd);
  return err;
}

fic_status fic__write_file_atomic(const char *path, const void *data, size_t len) {
  int err = fic__write_file_atomic_q(path, data, len);
  if (!err) return FIC_OK;
  errno = err;
  return fic__fail_errno("cannot write", path);
}

int fic__read_small_file_q(const char *path, size_t max, char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno;
  char *buf = malloc(max + 1);
  if (!buf) {
    close(fd);
    return ENOMEM;
  }
  size_t got = 0;
  while (got <= max) {
    ssize_t n = read(fd, buf + got, max + 1 - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      free(buf);
      close(fd);
      return err;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (got > max) {
    free(buf);
    return EFBIG;
  }
  buf[got] = '\0';
  *data = buf;
  *len = got;
  return 0;
}

fic_status fic__read_small_file(const char *path, size_t max, char **data, size_t *len) {
  int err = fic__read_small_file_q(path, max, data, len);
  if (!err) return FIC_OK;
  if (err == EFBIG) return fic__fail(FIC_ERR_CACHE_CORRUPT, "%s is larger than %zu bytes", path, max);
  errno = err;
  return fic__fail_errno("cannot read", path);
}

static int rmtree_at(int parent, const char *name, int depth) {
  struct stat st;
  if (depth > 128) return ELOOP;
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : errno;
  if (!S_ISDIR(st.st_mode)) return (unlinkat(parent, name, 0) == 0 || errno == ENOENT) ? 0 : errno;
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return e;
  }
  int err = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    int e = rmtree_at(dirfd(d), de->d_name, depth + 1);
    if (e && !err) err = e;
  }
  closedir(d);
  if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT && !err) err = errno;
  return err;
}

int fic__rmtree(const char *path) {
  int saved = errno;
  int err = rmtree_at(AT_FDCWD, path, 0);
  errno = saved;
  return err;
}

static uint64_t tree_size_at(int parent, const char *name, int depth) {
  struct stat st;
  if (depth > 128 || fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return 0;
  }
  uint64_t total = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    total += tree_size_at(dirfd(d), de->d_name, depth + 1);
  }
  closedir(d);
  return total;
}

uint64_t fic__tree_size(const char *path) { return tree_size_at(AT_FDCWD, path, 0); }

void fic__random_hex(char out[17]) {
  unsigned char b[8];
  ssize_t n = getrandom(b, sizeof b, GRND_NONBLOCK);
  if (n != (ssize_t)sizeof b) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^ (uintptr_t)out;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(x >> (8 * i));
  }
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[16] = '\0';
}

int fic__is_sha256_hex(const char *s, size_t len) {
  if (len != 64) return 0;
  for (size_t i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

long fic__test_hook_long(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return 0;
  char *end;
  long x = strtol(v, &end, 10);
  return *end ? 0 : x;
}
