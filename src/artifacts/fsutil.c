/* SPDX-License-Identifier: Apache-2.0 */
/* File-system helpers of the artifact layer (see fsutil.h). */
#include "artifacts/fsutil.h"

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

#include "common/error.h"

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

fic_status fic__mkdir_p(const char *path, mode_t mode) {
  char buf[FIC_PATH_MAX];
  FIC_CHECK(fic__pathf(buf, sizeof buf, "%s", path));
  size_t len = strlen(buf);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, mode) != 0) {
      int err = errno;
      struct stat st;
      if (err != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = err == EEXIST ? ENOTDIR : err;
        return fic__fail_errno("cannot create directory", buf);
      }
    }
    buf[i] = saved;
  }
  return FIC_OK;
}

/* The directory holding `path` into `dir`: "." for "name", "/" for "/name". */
static fic_status parent_of(const char *path, char *dir, size_t size) {
  const char *slash = strrchr(path, '/');
  if (!slash) return fic__pathf(dir, size, ".");
  if (slash == path) return fic__pathf(dir, size, "/");
  return fic__pathf(dir, size, "%.*s", (int)(slash - path), path);
}

fic_status fic__mkdir_parent(const char *path, mode_t mode) {
  char dir[FIC_PATH_MAX];
  FIC_CHECK(parent_of(path, dir, sizeof dir));
  return fic__mkdir_p(dir, mode);
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

fic_status fic__fsync_parent(const char *path) {
  char dir[FIC_PATH_MAX];
  FIC_CHECK(parent_of(path, dir, sizeof dir));
  return fic__fsync_dir(dir);
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

fic_status fic__write_file_atomic(const char *path, const void *data, size_t len) {
  char tmp[FIC_PATH_MAX], rnd[17];
  fic__random_hex(rnd);
  FIC_CHECK(fic__pathf(tmp, sizeof tmp, "%s.tmp-%ld-%s", path, (long)getpid(), rnd));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return fic__fail_errno("cannot write", path);
  int err = fic__write_all(fd, data, len);
  if (!err && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && !err) err = errno;
  if (!err && rename(tmp, path) != 0) err = errno;
  if (err) {
    unlink(tmp);
    errno = err;
    return fic__fail_errno("cannot write", path);
  }
  return fic__fsync_parent(path);
}

int fic__read_small_file(const char *path, size_t max, char **data, size_t *len) {
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
  int err = 0;
  while (got <= max) {
    ssize_t n = read(fd, buf + got, max + 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (!err && got > max) err = EFBIG;
  if (err) {
    free(buf);
    return err;
  }
  buf[got] = '\0';
  *data = buf;
  *len = got;
  return 0;
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

static const char hex_digits[] = "0123456789abcdef";

void fic__random_hex(char out[17]) {
  unsigned char b[8];
  ssize_t n = getrandom(b, sizeof b, GRND_NONBLOCK);
  if (n != (ssize_t)sizeof b) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^ (uintptr_t)out;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(x >> (8 * i));
  }
  for (int i = 0; i < 8; i++) {
    out[2 * i] = hex_digits[b[i] >> 4];
    out[2 * i + 1] = hex_digits[b[i] & 15];
  }
  out[16] = '\0';
}

int fic__is_sha256_hex(const char *s, size_t len) {
  if (!s || len != 64) return 0;
  for (size_t i = 0; i < 64; i++)
    if (!strchr(hex_digits, s[i]) || !s[i]) return 0;
  return 1;
}

int fic__sha256_normalize(const char *in, char out[65]) {
  if (!in || strlen(in) != 64) return 0;
  for (size_t i = 0; i < 64; i++) {
    char c = in[i] >= 'A' && in[i] <= 'F' ? (char)(in[i] - 'A' + 'a') : in[i];
    if (!strchr(hex_digits, c) || !c) return 0;
    out[i] = c;
  }
  out[64] = '\0';
  return 1;
}

fic_status fic__check_trusted_dir(const struct stat *st, const char *path) {
  uid_t me = geteuid();
  if (st->st_uid != me && st->st_uid != 0)
    return fic__fail(FIC_ERR_PERMISSION,
                     "cache directory %s is owned by uid %ld, not by this user (uid %ld) or root: another user "
                     "could plant libraries there that this process would load. Use a cache directory of your own "
                     "(share wheels through read-only seed directories instead)",
                     path, (long)st->st_uid, (long)me);
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
    return fic__fail(FIC_ERR_PERMISSION,
                     "cache directory %s (owner uid %ld) is writable by %s without the sticky bit (mode %04o): "
                     "another user could replace what it holds. Remove that write permission (chmod go-w)",
                     path, (long)st->st_uid, (st->st_mode & S_IWOTH) ? "everyone" : "its group",
                     (unsigned)(st->st_mode & 07777));
  return FIC_OK;
}
