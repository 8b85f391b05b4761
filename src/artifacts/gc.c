/* SPDX-License-Identifier: Apache-2.0 */
/* Cache garbage collection: remove artifact entries other than the one to
 * keep, unless an extraction holds their lock; stale temp directories whose
 * lock is free; quarantined (.corrupt-*) entries; leftovers of an
 * interrupted GC; orphan lock files; temp files of interrupted wheel-id memo
 * writes; directories of killed `pip download` runs. Wheels and wheel-ids
 * are kept.
 *
 * Note: a process that already loaded an entry's libraries keeps them (an
 * unlinked mapped file stays valid); a process that only read the marker and
 * has not loaded yet would fail to dlopen, so run the GC when no
 * flashinfer-c process is starting. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/cache_lock.h"
#include "artifacts/internal.h"
#include "common/error.h"

typedef enum { GC_OTHER, GC_ENTRY, GC_TMP, GC_JUNK, GC_LOCK } gc_kind;

static gc_kind classify(const char *name, char hash[65]) {
  size_t len = strlen(name);
  if (len == 64 && fic__is_sha256_hex(name, 64)) {
    memcpy(hash, name, 64);
    hash[64] = '\0';
    return GC_ENTRY;
  }
  if (len == 69 && !strcmp(name + 64, ".lock") && fic__is_sha256_hex(name, 64)) {
    memcpy(hash, name, 64);
    hash[64] = '\0';
    return GC_LOCK;
  }
  if (len > 70 && !strncmp(name, ".tmp-", 5) && fic__is_sha256_hex(name + 5, 64) && name[69] == '-') {
    memcpy(hash, name + 5, 64);
    hash[64] = '\0';
    return GC_TMP;
  }
  if (!strncmp(name, ".corrupt-", 9) || !strncmp(name, ".gc-", 4)) return GC_JUNK;
  return GC_OTHER;
}

static int same_inode(const char *a, const struct stat *b) {
  struct stat st;
  return stat(a, &st) == 0 && st.st_dev == b->st_dev && st.st_ino == b->st_ino;
}

/* Is the process whose pid is the decimal number at `s` (ended by `end_ch`)
 * possibly alive? A name without a pid counts as alive (left alone). */
static int writer_alive(const char *s, char end_ch) {
  char *end = NULL;
  long pid = strtol(s, &end, 10);
  if (end == s || *end != end_ch || pid <= 0) return 1;
  return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* For a dry run: is an extraction holding `lock`? Probed with a shared
 * flock on a read-only descriptor, which neither creates the lock file nor
 * writes our pid into it (fic__lock_try does both). */
static int dry_run_busy(const char *lock) {
  int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  int busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);
  return busy;
}

/* Temp files of interrupted wheel-id memo writes (<memo>.tmp-<pid>-<rnd>)
 * whose writer is gone. They are tiny, so they are not counted as freed. */
static void gc_memo_temps(const char *root, int dry_run) {
  char dir[FIC_PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s/wheel-ids", root) >= (int)sizeof dir) return;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *t = strstr(de->d_name, ".tmp-");
    if (!t || writer_alive(t + 5, '-')) continue; /* its writer may still be at work */
    if (!dry_run) (void)unlinkat(dirfd(d), de->d_name, 0);
  }
  closedir(d);
}

/* Directories of killed `pip download` runs (wheels/<dest>.pip-<pid>-<rnd>)
 * whose process is gone. Returns the bytes they hold. */
static uint64_t gc_pip_temps(const char *root, int dry_run) {
  char dir[FIC_PATH_MAX], path[FIC_PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s/wheels", root) >= (int)sizeof dir) return 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  uint64_t freed = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *t = strstr(de->d_name, ".pip-");
    if (!t || writer_alive(t + 5, '-')) continue;
    if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
    freed += fic__tree_size(path);
    if (!dry_run) fic__rmtree(path);
  }
  closedir(d);
  return freed;
}

/* The names in `root` the GC may act on (a snapshot: we rename inside the
 * directory we list). *names is NULL when root does not exist. */
static fic_status list_names(const char *root, char ***names, size_t *count) {
  *names = NULL;
  *count = 0;
  DIR *d = opendir(root);
  if (!d) return errno == ENOENT ? FIC_OK : fic__fail_errno("cannot open cache directory", root);
  size_t cap = 0;
  fic_status s = FIC_OK;
  struct dirent *de;
  while (s == FIC_OK && (de = readdir(d)) != NULL) {
    char hash[65];
    if (classify(de->d_name, hash) == GC_OTHER) continue;
    if (*count == cap) {
      char **grown = realloc(*names, (cap ? 2 * cap : 64) * sizeof **names);
      if (!grown) {
        s = fic__fail(FIC_ERR_NO_MEMORY, "out of memory listing %s", root);
        break;
      }
      *names = grown;
      cap = cap ? 2 * cap : 64;
    }
    if (!((*names)[*count] = strdup(de->d_name))) {
      s = fic__fail(FIC_ERR_NO_MEMORY, "out of memory listing %s", root);
      break;
    }
    ++*count;
  }
  closedir(d);
  return s;
}

/* Does <root>/<hash> exist? */
static int entry_exists(const char *root, const char *hash) {
  char entry[FIC_PATH_MAX];
  struct stat st;
  return snprintf(entry, sizeof entry, "%s/%s", root, hash) < (int)sizeof entry && lstat(entry, &st) == 0;
}

/* Remove an entry or a stale temp dir whose lock we hold (`fd`). */
static fic_status remove_locked(const char *root, const char *hash, gc_kind kind, const char *path, const char *lock,
                                int fd) {
  if (kind != GC_ENTRY) {
    fic__rmtree(path);
    fic__lock_release(fd);
    return FIC_OK;
  }
  /* Take it out of sight in one rename, then delete at leisure. */
  char gone[FIC_PATH_MAX], rnd[17];
  fic__random_hex(rnd);
  snprintf(gone, sizeof gone, "%s/.gc-%s-%ld-%s", root, hash, (long)getpid(), rnd);
  if (rename(path, gone) != 0) {
    fic_status s = fic__fail_errno("cannot remove cache entry", path);
    fic__lock_release(fd);
    return s;
  }
  fic__rmtree(gone);
  fic__lock_release_unlink(lock, fd);
  return FIC_OK;
}

/* One name of the root: remove it unless it is kept or in use. */
static fic_status gc_one(const char *root, const char *name, const struct stat *keep, int dry_run, uint64_t *freed) {
  char hash[65], path[FIC_PATH_MAX], lock[FIC_PATH_MAX];
  gc_kind kind = classify(name, hash);
  FIC_CHECK(fic__pathf(path, sizeof path, "%s/%s", root, name));
  if (kind == GC_JUNK) {
    *freed += fic__tree_size(path);
    if (!dry_run) fic__rmtree(path);
    return FIC_OK;
  }
  FIC_CHECK(fic__pathf(lock, sizeof lock, "%s/%s.lock", root, hash));
  if (kind == GC_ENTRY && keep && same_inode(path, keep)) return FIC_OK;
  if (kind == GC_LOCK && (dry_run || entry_exists(root, hash))) return FIC_OK; /* handled with its entry */
  if (dry_run) { /* take no lock: that would create the lock file */
    if (!dry_run_busy(lock)) *freed += fic__tree_size(path);
    return FIC_OK;
  }
  int fd = -1, busy = 0;
  FIC_CHECK(fic__lock_try(lock, &fd, &busy));
  if (busy) return FIC_OK; /* an extraction is running: leave it alone */
  if (kind == GC_LOCK) {
    if (!entry_exists(root, hash))
      fic__lock_release_unlink(lock, fd); /* orphan */
    else
      fic__lock_release(fd);
    return FIC_OK;
  }
  uint64_t size = fic__tree_size(path);
  FIC_CHECK(remove_locked(root, hash, kind, path, lock, fd));
  *freed += size;
  return FIC_OK;
}

fic_status fic__cache_gc(const char *root, const char *keep_dir, int dry_run, uint64_t *freed, uint64_t *remaining) {
  if (!root || !*root) return fic__fail_arg("root", "no cache root given");
  uint64_t freed_bytes = 0;
  struct stat keep_st;
  int have_keep = keep_dir && *keep_dir && stat(keep_dir, &keep_st) == 0;
  char **names = NULL;
  size_t n = 0;
  fic_status s = list_names(root, &names, &n);
  for (size_t i = 0; s == FIC_OK && i < n; i++)
    s = gc_one(root, names[i], have_keep ? &keep_st : NULL, dry_run, &freed_bytes);
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  FIC_CHECK(s);
  freed_bytes += gc_pip_temps(root, dry_run);
  gc_memo_temps(root, dry_run);
  uint64_t total = fic__tree_size(root);
  if (freed) *freed = freed_bytes;
  if (remaining) *remaining = dry_run ? (total >= freed_bytes ? total - freed_bytes : 0) : total;
  return FIC_OK;
}
