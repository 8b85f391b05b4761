/* SPDX-License-Identifier: Apache-2.0 */
/* Wheel identity without re-hashing: the SHA-256 of a wheel given by path is
 * memoised in <root>/wheel-ids/<sha256(realpath)>, one line
 *     fic-wheel-id-v2 \t <dev> \t <ino> \t <size> \t <mtime_ns> \t <ctime_ns> \t <sha256> \n <realpath> \n
 * and reused while (dev, inode, size, mtime_ns, ctime_ns) are unchanged. A warm start
 * therefore costs a stat, a realpath and one small read per wheel. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/cache_lock.h"
#include "artifacts/internal.h"
#include "common/error.h"

#define MEMO_MAGIC "fic-wheel-id-v2" /* v2: the inode change time joined the key */

static int same_file_state(const struct stat *a, const struct stat *b) {
  /* ctime too: a same-size rewrite with its mtime restored still moves ctime,
   * which user space cannot set. */
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int memo_prefix(char *out, size_t size, const struct stat *st) {
  int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  int64_t ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  int n = snprintf(out, size, MEMO_MAGIC "\t%" PRIuMAX "\t%" PRIuMAX "\t%" PRIdMAX "\t%" PRId64 "\t%" PRId64 "\t",
                   (uintmax_t)st->st_dev, (uintmax_t)st->st_ino, (intmax_t)st->st_size, mtime_ns, ctime_ns);
  return n > 0 && (size_t)n < size ? n : -1;
}

/* Strict: exactly prefix + 64 hex + '\n' + realpath + '\n'. */
static int memo_lookup(const char *memo, const char *prefix, size_t plen, const char *real, char out_hex[65]) {
  char *data = NULL;
  size_t len = 0;
  size_t rlen = strlen(real);
  if (fic__read_small_file(memo, 2 * FIC_PATH_MAX, &data, &len) != 0) return 0;
  int ok = len == plen + 64 + 1 + rlen + 1 && !memcmp(data, prefix, plen) && fic__is_sha256_hex(data + plen, 64) &&
           data[plen + 64] == '\n' && !memcmp(data + plen + 65, real, rlen) && data[len - 1] == '\n';
  if (ok) {
    memcpy(out_hex, data + plen, 64);
    out_hex[64] = '\0';
  }
  free(data);
  return ok;
}

fic_status fic__wheel_sha256(const char *root, const char *path, char out_hex[65]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fic__fail_errno("cannot find wheel", path);
  fic_status s = fic__wheel_sha256_fd(root, path, fd, out_hex);
  close(fd);
  return s;
}

fic_status fic__wheel_sha256_fd(const char *root, const char *path, int fd, char out_hex[65]) {
  struct stat st, st2, now;
  char real[FIC_PATH_MAX], key[65], memo_dir[FIC_PATH_MAX], memo[FIC_PATH_MAX], prefix[256];
  if (fstat(fd, &st) != 0) return fic__fail_errno("cannot stat wheel", path);
  if (!S_ISREG(st.st_mode)) return fic__fail(FIC_ERR_NOT_FOUND, "wheel %s is not a regular file", path);
  if (!realpath(path, real)) return fic__fail_errno("cannot resolve wheel path", path);
  FIC_CHECK(fic__sha256_buf(real, strlen(real), key));
  int have_memo = 0;
  if (root && *root) {
    int n1 = snprintf(memo_dir, sizeof memo_dir, "%s/wheel-ids", root);
    int n2 = snprintf(memo, sizeof memo, "%s/wheel-ids/%s", root, key);
    have_memo = n1 > 0 && (size_t)n1 < sizeof memo_dir && n2 > 0 && (size_t)n2 < sizeof memo;
  }
  int plen = memo_prefix(prefix, sizeof prefix, &st);
  if (plen < 0) return fic__fail(FIC_ERR_INTERNAL, "wheel-id prefix overflow");

  if (have_memo && memo_lookup(memo, prefix, (size_t)plen, real, out_hex)) return FIC_OK;

  /* Miss: hash under a per-wheel lock so that many processes starting cold
   * at once hash a multi-GB wheel once, not once each. Best effort. */
  int lock_fd = -1;
  if (have_memo) {
    char lock_path[FIC_PATH_MAX];
    fic_error_divert saved;
    fic__error_divert_begin(&saved, NULL, 0);
    int locked = fic__mkdir_p(memo_dir, 0755) == FIC_OK &&
                 fic__pathf(lock_path, sizeof lock_path, "%s.lock", memo) == FIC_OK &&
                 fic__lock_acquire(lock_path, 600, &lock_fd) == FIC_OK;
    fic__error_divert_end(&saved);
    if (locked && memo_lookup(memo, prefix, (size_t)plen, real, out_hex)) {
      fic__lock_release(lock_fd);
      return FIC_OK;
    }
  }

  if (fic__sha256_fd(fd, path, out_hex) != FIC_OK) {
    fic__lock_release(lock_fd);
    return fic__fail_context("hashing wheel %s", path);
  }
  fic__test_count_wheel_hash();

  /* Memoise only if the file did not change while we read it. */
  /* ... and the path still names it (the memo is looked up by path). */
  if (have_memo && fstat(fd, &st2) == 0 && same_file_state(&st, &st2) && stat(path, &now) == 0 &&
      same_file_state(&st, &now)) {
    size_t cap = (size_t)plen + 66 + strlen(real) + 2;
    char *text = malloc(cap);
    if (text) {
      int n = snprintf(text, cap, "%s%s\n%s\n", prefix, out_hex, real);
      /* Best effort: an unwritable root only means hashing again next time. */
      fic_error_divert saved;
      fic__error_divert_begin(&saved, NULL, 0);
      if (n > 0 && (size_t)n < cap && fic__mkdir_p(memo_dir, 0755) == FIC_OK)
        (void)fic__write_file_atomic(memo, text, (size_t)n);
      fic__error_divert_end(&saved);
      free(text);
    }
  }
  fic__lock_release(lock_fd);
  return FIC_OK;
}
