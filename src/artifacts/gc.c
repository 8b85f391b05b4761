/* Cache garbage collection: remove artifact entries other than the one to
 * keep, unless an extraction holds their lock; stale temp directories whose
 * lock is free; quarantined (.corrupt-*) entries; leftovers of an
 * interrupted GC; orphan lock files; temp files of interrupted wheel-id memo
 * writes. Wheels and wheel-ids are kept.
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
    if (!t) continue;
    char *end = NULL;
    long pid = strtol(t + 5, &end, 10);
    if (end == t + 5 || *end != '-' || pid <= 0) continue;
    if (kill((pid_t)pid, 0) == 0 || errno == EPERM) continue; /* its writer may still be at work */
    if (!dry_run) (void)unlinkat(dirfd(d), de->d_name, 0);
  }
  closedir(d);
}

fic_status fic__cache_gc(const char *root, const char *keep_dir, int dry_run, uint64_t *freed, uint64_t *remaining) {
  if (!root || !*root) return fic__fail_arg("root", "no cache root given");
  uint64_t freed_bytes = 0;
  struct stat keep_st;
  int have_keep = keep_dir && *keep_dir && stat(keep_dir, &keep_st) == 0;

  /* Snapshot the names first: we rename inside the directory we list. */
  DIR *d = opendir(root);
  if (!d) {
    if (errno == ENOENT) {
      if (freed) *freed = 0;
      if (remaining) *remaining = 0;
      return FIC_OK;
    }
    return fic__fail_errno("cannot open cache directory", root);
  }
  size_t n = 0, cap = 64;
  char **names = malloc(cap * sizeof *names);
  struct dirent *de;
  fic_status s = names ? FIC_OK : fic__fail(FIC_ERR_NO_MEMORY, "out of memory listing %s", root);
  while (s == FIC_OK && (de = readdir(d)) != NULL) {
    char hash[65];
    if (classify(de->d_name, hash) == GC_OTHER) continue;
    if (n == cap) {
      char **grown = realloc(names, 2 * cap * sizeof *names);
      if (!grown) {
        s = fic__fail(FIC_ERR_NO_MEMORY, "out of memory listing %s", root);
        break;
      }
      names = grown;
      cap *= 2;
    }
    if (!(names[n] = strdup(de->d_name))) {
      s = fic__fail(FIC_ERR_NO_MEMORY, "out of memory listing %s", root);
      break;
    }
    n++;
  }
  closedir(d);

  for (size_t i = 0; s == FIC_OK && i < n; i++) {
    char hash[65], path[FIC_PATH_MAX], lock[FIC_PATH_MAX];
    gc_kind kind = classify(names[i], hash);
    s = fic__pathf(path, sizeof path, "%s/%s", root, names[i]);
    if (s == FIC_OK) s = fic__pathf(lock, sizeof lock, "%s/%s.lock", root, hash);
    if (s != FIC_OK) break;
    if (kind == GC_JUNK) {
      freed_bytes += fic__tree_size(path);
      if (!dry_run) fic__rmtree(path);
      continue;
    }
    if (kind == GC_ENTRY && have_keep && same_inode(path, &keep_st)) continue;
    if (kind == GC_LOCK) {
      struct stat st;
      char entry[FIC_PATH_MAX];
      snprintf(entry, sizeof entry, "%s/%s", root, hash);
      if (dry_run || stat(entry, &st) == 0) continue; /* the entry's own lock: handled with it */
    }
    if (dry_run) {
      if (!dry_run_busy(lock)) freed_bytes += fic__tree_size(path); /* a lock's own kind went on above */
      continue;
    }
    int fd = -1, busy = 0;
    s = fic__lock_try(lock, &fd, &busy);
    if (s != FIC_OK) break;
    if (busy) continue; /* an extraction is running: leave it alone */
    if (kind == GC_LOCK) {
      struct stat st;
      char entry[FIC_PATH_MAX];
      snprintf(entry, sizeof entry, "%s/%s", root, hash);
      if (stat(entry, &st) != 0)
        fic__lock_release_unlink(lock, fd); /* orphan */
      else
        fic__lock_release(fd);
      continue;
    }
    uint64_t size = fic__tree_size(path);
    if (kind == GC_ENTRY) {
      /* Take it out of sight in one rename, then delete at leisure. */
      char gone[FIC_PATH_MAX], rnd[17];
      fic__random_hex(rnd);
      snprintf(gone, sizeof gone, "%s/.gc-%s-%ld-%s", root, hash, (long)getpid(), rnd);
      if (rename(path, gone) != 0) {
        s = fic__fail_errno("cannot remove cache entry", path);
        fic__lock_release(fd);
        break;
      }
      fic__rmtree(gone);
      fic__lock_release_unlink(lock, fd);
    } else {
      fic__rmtree(path);
      fic__lock_release(fd);
    }
    freed_bytes += size;
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  if (s != FIC_OK) return s;
  gc_memo_temps(root, dry_run);
  uint64_t total = fic__tree_size(root);
  if (freed) *freed = freed_bytes;
  if (remaining) *remaining = dry_run ? (total >= freed_bytes ? total - freed_bytes : 0) : total;
  return FIC_OK;
}
