/* SPDX-License-Identifier: Apache-2.0 */
/* flock-based cache locks with a timeout and the holder's pid; see cache_lock.h. */
#include "artifacts/cache_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"

static void record_pid(int fd) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
  /* Best effort: the pid only improves messages. */
  if (ftruncate(fd, 0) == 0 && n > 0) {
    ssize_t w = pwrite(fd, buf, (size_t)n, 0);
    (void)w;
  }
}

/* Does `path` still name the inode open as `fd`? */
static int still_linked(const char *path, int fd) {
  struct stat a, b;
  if (fstat(fd, &a) != 0 || stat(path, &b) != 0) return 0;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static fic_status open_lock(const char *lock_path, int *fd) {
  *fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (*fd < 0) return fic__fail_errno("cannot open lock file", lock_path);
  return FIC_OK;
}

long fic__lock_holder(const char *lock_path) {
  char buf[32];
  int fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return strtol(buf, NULL, 10);
}

fic_status fic__lock_try(const char *lock_path, int *fd_out, int *busy) {
  *fd_out = -1;
  *busy = 0;
  for (int attempt = 0; attempt < 100; attempt++) {
    int fd;
    FIC_CHECK(open_lock(lock_path, &fd));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      close(fd);
      if (err == EINTR) continue;
      if (err == EWOULDBLOCK) {
        *busy = 1;
        return FIC_OK;
      }
      errno = err;
      return fic__fail_errno("cannot lock", lock_path);
    }
    if (!still_linked(lock_path, fd)) { /* unlinked by a GC between our open and flock */
      close(fd);
      continue;
    }
    record_pid(fd);
    *fd_out = fd;
    return FIC_OK;
  }
  return fic__fail(FIC_ERR_IO, "lock file %s keeps being replaced", lock_path);
}

/* The polling loop of fic__lock_acquire: 0, ETIMEDOUT or an errno. */
static int acquire_polling(const char *lock_path, double timeout_s, int *fd_out) {
  *fd_out = -1;
  if (!(timeout_s > 0)) timeout_s = 600;
  const double deadline = fic__now_s() + timeout_s;
  long delay_ms = 1;
  int fd = -1;
  for (;;) {
    if (fd < 0) {
      fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (fd < 0) return errno;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      if (still_linked(lock_path, fd)) {
        record_pid(fd);
        *fd_out = fd;
        return 0;
      }
      close(fd); /* a GC removed it: lock the new file */
      fd = -1;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      int err = errno;
      close(fd);
      return err;
    }
    double left = deadline - fic__now_s();
    if (left <= 0) {
      close(fd);
      return ETIMEDOUT;
    }
    long ms = delay_ms;
    if ((double)ms > left * 1000.0) ms = (long)(left * 1000.0) + 1;
    fic__sleep_ms(ms);
    if (delay_ms < 50) delay_ms *= 2;
  }
}

fic_status fic__lock_acquire(const char *lock_path, double timeout_s, int *fd_out) {
  if (!(timeout_s > 0)) timeout_s = 600;
  int err = acquire_polling(lock_path, timeout_s, fd_out);
  if (!err) return FIC_OK;
  if (err == ETIMEDOUT) {
    long pid = fic__lock_holder(lock_path);
    if (pid > 0)
      return fic__fail(FIC_ERR_LOCK_TIMEOUT,
                       "timed out after %.1f s waiting for the cache lock %s, held by pid %ld (extracting; raise "
                       "fic_config.lock_timeout_s or check that process)",
                       timeout_s, lock_path, pid);
    return fic__fail(FIC_ERR_LOCK_TIMEOUT, "timed out after %.1f s waiting for the cache lock %s (holder unknown)",
                     timeout_s, lock_path);
  }
  errno = err;
  return fic__fail_errno("cannot lock", lock_path);
}

void fic__lock_release(int fd) {
  if (fd < 0) return;
  if (ftruncate(fd, 0) != 0) { /* forget our pid; harmless if it fails */
  }
  close(fd); /* closing the last descriptor releases the flock */
}

void fic__lock_release_unlink(const char *lock_path, int fd) {
  if (fd < 0) return;
  if (still_linked(lock_path, fd)) unlink(lock_path);
  close(fd);
}
