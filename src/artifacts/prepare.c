/* SPDX-License-Identifier: Apache-2.0 */
/* fic__artifacts_prepare: from a config to a complete cache entry.
 *
 *   1. Identify both wheels without touching them: a pinned wheel by its
 *      pinned SHA-256, a wheel given by path by its memoised SHA-256.
 *   2. Artifact hash = SHA-256 of a canonical text (layout version, both
 *      wheels' SHA-256 and file name). No module list: modules are added to
 *      the entry one by one, on demand.
 *   3. Warm: <root>/<hash>/COMPLETE parses and libtvm_ffi.so has its recorded
 *      size -> done (a few stats and one small read; no lock, no wheel).
 *   4. Cold: take <root>/<hash>.lock, check again, quarantine a corrupt
 *      entry, remove stale temp dirs of this hash, locate or download the
 *      tvm-ffi wheel, extract into <root>/.tmp-<hash>-<pid>-<random>, fsync,
 *      rename into place, write COMPLETE, release.
 *
 * Modules (fic__artifacts_module), each the first time it is needed:
 *   warm: <entry>/modules/<m>/COMPLETE names our wheels and <m>.so, which has
 *   its recorded size (one small read, a few stats). Cold: under the entry
 *   lock, check again, quarantine a corrupt module, re-identify the jit-cache
 *   wheel (the one hashed at open must still be there), extract <m>.so into
 *   <entry>/modules/.tmp-m-<pid>-<random>/ with its own COMPLETE, fsync, and
 *   publish both with one rename to modules/<m>.
 *
 * Every wheel is opened once: it is identified (hashed) on that descriptor
 * and extracted from it. The cache root and every entry directory must be
 * owned by this user or root and not writable by others (fic__check_trusted_dir);
 * the warm check follows no symlink.
 *
 * fic__artifacts_lookup runs steps 1-3 only and writes nothing (no wheel-id
 * memo, no lock file, no extraction): fic_cache_gc uses it to find the entry
 * in use.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/cache_lock.h"
#include "artifacts/internal.h"
#include "artifacts/marker.h"
#include "artifacts/pinned.h"
#include "artifacts/zip_reader.h"
#include "common/clock.h"
#include "common/error.h"

/* The key's first line: the layout (entry + modules/<m>/ with their own
 * markers). The marker format itself (FIC_CACHE_FORMAT) is unchanged. */
#define FIC_CACHE_LAYOUT "fic-cache-v2"

typedef struct wheel_ref {
  fic_wheel_kind kind;
  const char *label;     /* for messages */
  const char *cfg_field; /* "fic_config.jit_cache_wheel" */
  const char *env_name, *env_alias;
  const fic_pinned_wheel *pin; /* set when the wheel is not given by path */
  int by_path;
  const char *origin;      /* where the path came from (cfg field or env var name) */
  char path[FIC_PATH_MAX]; /* the wheel file; "" until located */
  char sha[65];
  char filename[FIC_WHEEL_NAME_MAX];
  struct stat hashed; /* its state when identified (check_wheels_unchanged) */
  int fd;             /* every wheel stays open from hashing to extraction, so a file renamed over
                         its path meanwhile cannot be extracted under the old hash; -1 */
} wheel_ref;

typedef struct prep {
  const fic_config *cfg;
  char root[FIC_PATH_MAX];
  char hash[65];
  char entry[FIC_PATH_MAX];
  char lock_path[FIC_PATH_MAX];
  wheel_ref wheels[2]; /* [FIC_WHEEL_JIT_CACHE], [FIC_WHEEL_TVMFFI] */
  size_t num_files;    /* files of the entry itself: 1, libtvm_ffi.so */
  char relpaths[1][FIC_RELPATH_MAX];
  fic_marker marker;          /* expected wheels; after extraction also sizes and hashes */
  fic_marker modmark;         /* the marker of the module being checked or extracted */
  const char *module;         /* the module being prepared (lock_and_locate), NULL for the entry */
  char why[512];              /* why an entry was found corrupt */
  char bad_dir[FIC_PATH_MAX]; /* the corrupt module directory, or modules/ itself when that is not one */
  int lookup_only;            /* fic__artifacts_lookup: find the entry; write, lock and extract nothing */
  /* Kept by fic__artifacts_open for on-demand modules: the caller's config
   * may be gone by then, so p->cfg points at this copy. */
  fic_config own_cfg;
  char *own_seed_dirs;
} prep;

struct fic__artifact_state {
  prep p;
};

/* ---- set-up: modules, wheels, hash ---------------------------------------- */

fic_status fic__artifacts_check_module_name(const char *m) {
  size_t len = m ? strlen(m) : 0;
  if (len == 0 || len >= FIC_MODULE_NAME_MAX)
    return fic__fail_arg("modules", "module name \"%s\" is empty or longer than %d bytes", m ? m : "",
                         FIC_MODULE_NAME_MAX - 1);
  if (m[0] == '.') return fic__fail_arg("modules", "module name \"%s\" starts with '.'", m);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)m[i];
    if (!(isalnum(c) || c == '_' || c == '-' || c == '.' || c == '+'))
      return fic__fail_arg("modules", "module name \"%s\" has the character '%c' (allowed: letters, digits, _ - . +)",
                           m, c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (strstr(m, "..")) return fic__fail_arg("modules", "module name \"%s\" contains \"..\"", m);
  return FIC_OK;
}

/* The names of fic_config.modules (strict: each is extracted at open). */
static fic_status check_modules(const prep *p) {
  for (const char *const *m = p->cfg->modules; m && *m; m++) FIC_CHECK(fic__artifacts_check_module_name(*m));
  return FIC_OK;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Open the wheel at `path` and identify it on that descriptor, which stays
 * open until extraction: what is hashed is exactly what is extracted, even
 * if another file is renamed over `path` meanwhile (a rewrite in place is
 * caught by check_wheels_unchanged). */
static fic_status open_wheel(prep *p, wheel_ref *w, const char *path, char sha[65]) {
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  FIC_CHECK(fic__pathf(w->path, sizeof w->path, "%s", path));
  w->fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
  if (w->fd < 0) return fic__fail_errno("cannot open wheel", w->path);
  if (fstat(w->fd, &w->hashed) != 0) return fic__fail_errno("cannot stat wheel", w->path);
  /* No memo in lookup mode: a miss would write one. */
  return fic__wheel_sha256_fd(p->lookup_only ? NULL : p->root, w->path, w->fd, sha);
}

/* A copy of a pinned wheel found at `path` (the cache's wheels/, a seed
 * directory, a fresh download): open it and check that it is the pinned one. */
static fic_status open_pinned(prep *p, wheel_ref *w, const char *path, const char *origin) {
  char sha[65];
  if (open_wheel(p, w, path, sha) != FIC_OK) return fic__fail_context("%s wheel from %s", w->label, origin);
  if (strcmp(sha, w->sha) != 0)
    return fic__fail(FIC_ERR_CHECKSUM, "%s wheel %s (from %s) has SHA-256 %s, but the pinned %s has %s", w->label, path,
                     origin, sha, w->filename, w->sha);
  return FIC_OK;
}

static fic_status identify_wheel(prep *p, wheel_ref *w) {
  const char *cfg_path = w->kind == FIC_WHEEL_JIT_CACHE ? p->cfg->jit_cache_wheel : p->cfg->tvmffi_wheel;
  const char *path = NULL;
  if (cfg_path && *cfg_path) {
    path = cfg_path;
    w->origin = w->cfg_field;
  } else {
    path = fic__env2(w->env_name, w->env_alias, &w->origin);
  }
  if (path) {
    w->by_path = 1;
    const char *base = base_name(path);
    if (!*base || strlen(base) >= FIC_WHEEL_NAME_MAX || !fic__marker_valid_wheel_name(base, strlen(base)))
      return fic__fail(FIC_ERR_INVALID_ARGUMENT,
                       "%s=%s does not name a wheel file (empty, too long, or with control characters or '\\')",
                       w->origin, path);
    snprintf(w->filename, sizeof w->filename, "%s", base);
    if (open_wheel(p, w, path, w->sha) != FIC_OK) return fic__fail_context("%s wheel from %s", w->label, w->origin);
    if (p->cfg->verify_wheel_sha256) {
      const fic_pinned_wheel *pin = NULL;
      if (fic__pinned_wheel(w->kind, NULL, &pin) != FIC_OK)
        return fic__fail_context("verifying %s against the pinned hash", w->path);
      if (strcmp(pin->sha256, w->sha) != 0)
        return fic__fail(FIC_ERR_CHECKSUM,
                         "%s wheel %s (from %s) has SHA-256 %s, but the pinned %s has %s (verify_wheel_sha256 is on)",
                         w->label, w->path, w->origin, w->sha, pin->filename, pin->sha256);
    }
    return FIC_OK;
  }
  if (fic__pinned_wheel(w->kind, NULL, &w->pin) != FIC_OK)
    return fic__fail_context("no %s wheel given (%s, %s) and no pinned one", w->label, w->cfg_field, w->env_name);
  if (!fic__is_sha256_hex(w->pin->sha256, strlen(w->pin->sha256)) || !w->pin->filename ||
      strlen(w->pin->filename) >= FIC_WHEEL_NAME_MAX || strchr(w->pin->filename, '/'))
    return fic__fail(FIC_ERR_INTERNAL, "malformed pinned %s wheel entry", w->label);
  snprintf(w->sha, sizeof w->sha, "%s", w->pin->sha256);
  snprintf(w->filename, sizeof w->filename, "%s", w->pin->filename);
  w->path[0] = '\0';
  return FIC_OK;
}

static fic_status compute_hash(prep *p) {
  char text[2 * (FIC_WHEEL_NAME_MAX + 96) + 64];
  int n = snprintf(text, sizeof text, "%s\nwheel\tjit_cache\t%s\t%s\nwheel\ttvmffi\t%s\t%s\n", FIC_CACHE_LAYOUT,
                   p->wheels[0].sha, p->wheels[0].filename, p->wheels[1].sha, p->wheels[1].filename);
  if (n < 0 || (size_t)n >= sizeof text) return fic__fail(FIC_ERR_INTERNAL, "artifact key overflow");
  FIC_CHECK(fic__sha256_buf(text, (size_t)n, p->hash));
  FIC_CHECK(fic__pathf(p->entry, sizeof p->entry, "%s/%s", p->root, p->hash));
  return fic__pathf(p->lock_path, sizeof p->lock_path, "%s/%s.lock", p->root, p->hash);
}

/* The cache root, when it exists, must be one that no other user can write
 * into (fic__check_trusted_dir). One that does not exist yet is created by
 * this process on the cold path. The root may be reached through a symlink
 * (~/.cache often is one): what is checked is the directory itself. */
static fic_status check_root(const prep *p) {
  int fd = open(p->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? FIC_OK : fic__fail_errno("cannot open cache directory", p->root);
  struct stat st;
  fic_status s = fstat(fd, &st) == 0 ? fic__check_trusted_dir(&st, p->root)
                                     : fic__fail_errno("cannot stat cache directory", p->root);
  close(fd);
  return s;
}

static fic_status setup(prep *p, const fic_config *cfg) {
  p->cfg = cfg;
  FIC_CHECK(fic__cache_root(cfg->cache_dir, p->root, sizeof p->root));
  FIC_CHECK(check_root(p));
  FIC_CHECK(check_modules(p));
  wheel_ref *j = &p->wheels[FIC_WHEEL_JIT_CACHE], *t = &p->wheels[FIC_WHEEL_TVMFFI];
  j->kind = FIC_WHEEL_JIT_CACHE;
  j->label = "flashinfer_jit_cache";
  j->cfg_field = "fic_config.jit_cache_wheel";
  j->env_name = "FLASHINFER_C_JIT_CACHE_WHEEL";
  j->env_alias = "FLASHINFER_RS_JIT_CACHE_WHEEL";
  t->kind = FIC_WHEEL_TVMFFI;
  t->label = "apache_tvm_ffi";
  t->cfg_field = "fic_config.tvmffi_wheel";
  t->env_name = "FLASHINFER_C_TVMFFI_WHEEL";
  t->env_alias = "FLASHINFER_RS_TVMFFI_WHEEL";
  for (int k = 0; k < 2; k++) {
    FIC_CHECK(identify_wheel(p, &p->wheels[k]));
    memcpy(p->marker.wheel_sha256[k], p->wheels[k].sha, 65);
    snprintf(p->marker.wheel_name[k], FIC_WHEEL_NAME_MAX, "%s", p->wheels[k].filename);
  }
  p->num_files = 1;
  snprintf(p->relpaths[0], FIC_RELPATH_MAX, "%s", FIC_TVMFFI_MEMBER);
  return compute_hash(p);
}

/* ---- the warm check ------------------------------------------------------- */

enum { ENTRY_OK = 0, ENTRY_MISSING = 1, ENTRY_CORRUPT = 2 };

/* Open `name` under `dir_fd` as a directory without following a symlink,
 * and check who owns it. Returns the descriptor; -1 with errno set when it
 * cannot be opened (ELOOP: a symlink, ENOTDIR: not a directory), or -2 with
 * the error recorded when another user could write into it. */
static int open_trusted_dir(int dir_fd, const char *name, const char *shown) {
  int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  if (fic__check_trusted_dir(&st, shown) != FIC_OK) {
    close(fd);
    return -2;
  }
  return fd;
}

/* lstat of <entry>/<relpath> that follows no symlink on the way: every
 * directory is opened with O_NOFOLLOW and checked like the entry. 0, an
 * errno, or -2 with the error recorded (a directory another user can write). */
static int stat_in_entry(int entry_fd, const char *entry, const char *relpath, struct stat *st) {
  char rel[FIC_RELPATH_MAX], shown[FIC_PATH_MAX];
  snprintf(rel, sizeof rel, "%s", relpath);
  int dir = dup(entry_fd);
  if (dir < 0) return errno;
  char *name = rel;
  for (char *slash; (slash = strchr(name, '/')) != NULL; name = slash + 1) {
    *slash = '\0';
    snprintf(shown, sizeof shown, "%s/%s", entry, rel);
    int next = open_trusted_dir(dir, name, shown);
    int err = errno;
    close(dir);
    if (next < 0) return next == -2 ? -2 : err;
    dir = next;
    *slash = '/';
  }
  int err = fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
  close(dir);
  return err;
}

/* Does every file the marker `m` lists for this entry exist, as a regular
 * file of the recorded size? *state = ENTRY_OK or ENTRY_CORRUPT (p->why
 * says why); an error only for a directory another user can write into. */
static fic_status check_entry_files(prep *p, int entry_fd, const fic_marker *m, int *state) {
  *state = ENTRY_CORRUPT;
  if (m->num_files != p->num_files) {
    snprintf(p->why, sizeof p->why, "marker lists %zu files, expected %zu", m->num_files, p->num_files);
    return FIC_OK;
  }
  for (size_t i = 0; i < p->num_files; i++) {
    const fic_marker_file *f = fic__marker_find(m, p->relpaths[i]);
    struct stat st;
    if (!f) {
      snprintf(p->why, sizeof p->why, "marker does not list %s", p->relpaths[i]);
      return FIC_OK;
    }
    int err = stat_in_entry(entry_fd, p->entry, f->relpath, &st);
    if (err == -2) return FIC_ERR_PERMISSION; /* recorded by fic__check_trusted_dir */
    if (err || !S_ISREG(st.st_mode)) {
      snprintf(p->why, sizeof p->why, "%s is missing, not a regular file, or reached through a symbolic link",
               f->relpath);
      return FIC_OK;
    }
    if ((uint64_t)st.st_size != f->size) {
      snprintf(p->why, sizeof p->why, "%s has %lld bytes, the marker says %llu", f->relpath, (long long)st.st_size,
               (unsigned long long)f->size);
      return FIC_OK;
    }
  }
  *state = ENTRY_OK;
  return FIC_OK;
}

/* The marker of the entry: *state = ENTRY_OK with *m filled, or
 * ENTRY_CORRUPT; an error when it cannot be read (EACCES, EIO). */
static fic_status read_entry_marker(prep *p, fic_marker *m, int *state) {
  *state = ENTRY_CORRUPT;
  int err = fic__marker_read(p->entry, m, p->why, sizeof p->why);
  if (err == ENOENT) {
    snprintf(p->why, sizeof p->why, "no %s marker (an interrupted extraction)", FIC_MARKER_NAME);
    return FIC_OK;
  }
  if (err == EBADMSG) return FIC_OK;
  if (err) {
    errno = err;
    return fic__fail_errno("cannot read the marker of cache entry", p->entry);
  }
  for (int k = 0; k < 2; k++) {
    if (strcmp(m->wheel_sha256[k], p->marker.wheel_sha256[k]) || strcmp(m->wheel_name[k], p->marker.wheel_name[k])) {
      snprintf(p->why, sizeof p->why, "marker names wheel %s (%.12s...), expected %s (%.12s...)", m->wheel_name[k],
               m->wheel_sha256[k], p->marker.wheel_name[k], p->marker.wheel_sha256[k]);
      return FIC_OK;
    }
  }
  *state = ENTRY_OK;
  return FIC_OK;
}

/* The warm check: *state = ENTRY_OK, ENTRY_MISSING or ENTRY_CORRUPT,
 * recording nothing. Errors are the hard cases: EACCES, or an entry another
 * user can write into. A symlink at the entry or inside it makes it corrupt:
 * it is quarantined and extracted again, never followed. */
static fic_status check_entry(prep *p, int *state) {
  p->why[0] = '\0';
  *state = ENTRY_CORRUPT;
  int entry_fd = open_trusted_dir(AT_FDCWD, p->entry, p->entry);
  if (entry_fd == -2) return FIC_ERR_PERMISSION; /* recorded by fic__check_trusted_dir */
  if (entry_fd < 0) {
    if (errno == ENOENT) *state = ENTRY_MISSING;
    if (errno == ELOOP || errno == ENOTDIR) snprintf(p->why, sizeof p->why, "not a directory (a file or a symlink)");
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) return FIC_OK;
    return fic__fail_errno("cannot open cache entry", p->entry);
  }
  fic_marker *m = malloc(sizeof *m);
  fic_status s = m ? read_entry_marker(p, m, state) : fic__fail(FIC_ERR_NO_MEMORY, "out of memory reading a marker");
  if (s == FIC_OK && *state == ENTRY_OK) s = check_entry_files(p, entry_fd, m, state);
  if (s == FIC_OK && *state == ENTRY_OK) p->marker = *m; /* its file hashes identify the modules (fill_out) */
  free(m);
  close(entry_fd);
  return s;
}

/* ---- cold path helpers ---------------------------------------------------- */

/* Move the corrupt entry or module directory `src` to
 * <root>/.corrupt-<hash>-<time>-<pid>-<r> (removed by the GC). */
static fic_status quarantine(prep *p, const char *src) {
  char dest[FIC_PATH_MAX], rnd[17];
  fic__random_hex(rnd);
  FIC_CHECK(fic__pathf(dest, sizeof dest, "%s/.corrupt-%s-%lld-%ld-%.8s", p->root, p->hash, (long long)time(NULL),
                       (long)getpid(), rnd));
  if (rename(src, dest) != 0) return fic__fail_errno("cannot move corrupt cache entry aside", src);
  /* Leave the reason next to the evidence (best effort; the library does
   * not print). */
  char note[FIC_PATH_MAX + 32], text[1024];
  struct stat st;
  int n =
      snprintf(text, sizeof text, "quarantined %lld by pid %ld: %s\n", (long long)time(NULL), (long)getpid(), p->why);
  fic_error_divert saved;
  fic__error_divert_begin(&saved, NULL, 0);
  if (lstat(dest, &st) == 0 && S_ISDIR(st.st_mode) && n > 0 &&
      fic__pathf(note, sizeof note, "%s/QUARANTINE-REASON", dest) == FIC_OK)
    (void)fic__write_file_atomic(note, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
  fic__error_divert_end(&saved);
  return FIC_OK;
}

/* Remove <root>/.tmp-<hash>-*: only called with the entry lock held, so any
 * such directory belongs to a dead (or failed) extraction. */
static void clean_stale_temps(prep *p) {
  char prefix[96];
  snprintf(prefix, sizeof prefix, ".tmp-%s-", p->hash);
  DIR *d = opendir(p->root);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
    char path[FIC_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", p->root, de->d_name) < (int)sizeof path) fic__rmtree(path);
  }
  closedir(d);
}

static int is_regular(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Append "; <text>" to a bounded message buffer. */
static void add_place(char *buf, size_t size, const char *fmt, ...) FIC_PRINTF(3, 4);
static void add_place(char *buf, size_t size, const char *fmt, ...) {
  size_t len = strlen(buf);
  if (len + 3 >= size) return;
  if (len) {
    memcpy(buf + len, "; ", 3);
    len += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + len, size - len, fmt, ap);
  va_end(ap);
}

static int offline_mode(const fic_config *cfg) {
  if (cfg->offline) return 1;
  const char *v = fic__env("FLASHINFER_C_OFFLINE");
  return v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 && strcasecmp(v, "no") != 0;
}

/* The seed directories (fic_config.seed_dirs, else FLASHINFER_C_SEED_DIRS)
 * and which of the two named them; NULL when none. */
static const char *seed_dirs(const prep *p, const char **origin) {
  *origin = "fic_config.seed_dirs";
  if (p->cfg->seed_dirs && *p->cfg->seed_dirs) return p->cfg->seed_dirs;
  *origin = "FLASHINFER_C_SEED_DIRS";
  return fic__env("FLASHINFER_C_SEED_DIRS");
}

/* Look for the pinned wheel in one seed directory `dir` (as <file name>,
 * <sha>-<file name> or wheels/<sha>-<file name>). *found = 1 and the wheel
 * open when it is there; every place looked at is added to `places`. */
static fic_status locate_in_seed(prep *p, wheel_ref *w, const char *dir, const char *origin, char *places,
                                 size_t places_size, int *found) {
  char cand[FIC_PATH_MAX];
  *found = 0;
  for (int f = 0; f < 3; f++) {
    if (f == 0)
      snprintf(cand, sizeof cand, "%s/%s", dir, w->filename);
    else if (f == 1)
      snprintf(cand, sizeof cand, "%s/%s-%s", dir, w->sha, w->filename);
    else
      snprintf(cand, sizeof cand, "%s/wheels/%s-%s", dir, w->sha, w->filename);
    if (!is_regular(cand)) {
      add_place(places, places_size, "%s", cand);
      continue;
    }
    *found = 1;
    return open_pinned(p, w, cand, origin); /* hashed once, then memoised */
  }
  return FIC_OK;
}

/* Find a pinned wheel locally: <root>/wheels, then the seed directories.
 * Opens it (w->fd, w->path), or leaves w->path "" (*need_download = 1) when
 * a download is needed; offline mode turns that into FIC_ERR_OFFLINE naming
 * every place. */
static fic_status locate_local(prep *p, wheel_ref *w, int *need_download) {
  *need_download = 0;
  char cand[FIC_PATH_MAX], places[3072] = "";
  add_place(places, sizeof places, "%s (unset)", w->cfg_field);
  add_place(places, sizeof places, "%s (unset)", w->env_name);
  add_place(places, sizeof places, "%s (unset)", w->env_alias);

  FIC_CHECK(fic__pathf(cand, sizeof cand, "%s/wheels/%s-%s", p->root, w->sha, w->filename));
  if (is_regular(cand)) return open_pinned(p, w, cand, "the cache's wheels directory");
  add_place(places, sizeof places, "%s", cand);

  const char *origin;
  const char *seeds = seed_dirs(p, &origin);
  if (!seeds)
    add_place(places, sizeof places, "no seed directories (fic_config.seed_dirs, FLASHINFER_C_SEED_DIRS unset)");
  for (const char *d = seeds; d && *d;) {
    const char *colon = strchr(d, ':');
    size_t len = colon ? (size_t)(colon - d) : strlen(d);
    if (len > 0 && len < FIC_PATH_MAX - FIC_WHEEL_NAME_MAX - 100) {
      char dir[FIC_PATH_MAX];
      int found = 0;
      snprintf(dir, sizeof dir, "%.*s", (int)len, d);
      FIC_CHECK(locate_in_seed(p, w, dir, origin, places, sizeof places, &found));
      if (found) return FIC_OK;
    }
    d = colon ? colon + 1 : NULL;
  }

  if (offline_mode(p->cfg))
    return fic__fail(FIC_ERR_OFFLINE,
                     "offline mode (%s) and the %s wheel %s (sha256 %s) is missing; looked in: %s. Give its path in "
                     "%s, put it in a seed directory, or turn offline mode off to download it",
                     p->cfg->offline ? "fic_config.offline" : "FLASHINFER_C_OFFLINE", w->label, w->filename, w->sha,
                     places, w->env_name);

  *need_download = 1;
  return FIC_OK;
}

/* Download into <root>/wheels/<sha>-<filename>. Called WITHOUT the entry
 * lock (a multi-GB download must not hold up other users of the cache);
 * download.c locks the .part, so concurrent downloaders of one wheel
 * serialise there and the later ones find it published. The wheel is opened
 * and identified again under the lock (locate_local). */
static fic_status download_pinned(prep *p, wheel_ref *w) {
  char wheels_dir[FIC_PATH_MAX], dest[FIC_PATH_MAX];
  FIC_CHECK(fic__pathf(wheels_dir, sizeof wheels_dir, "%s/wheels", p->root));
  FIC_CHECK(fic__pathf(dest, sizeof dest, "%s/%s-%s", wheels_dir, w->sha, w->filename));
  FIC_CHECK(fic__mkdir_p(wheels_dir, 0755));
  if (is_regular(dest)) return FIC_OK;
  fic_status s = fic__fetch_pinned(w->pin, dest, p->cfg->progress, p->cfg->progress_user);
  if (s == FIC_OK && !is_regular(dest))
    s = fic__fail(FIC_ERR_INTERNAL, "download of %s reported success but %s does not exist", w->filename, dest);
  if (s != FIC_OK) return fic__fail_context("downloading the %s wheel", w->label);
  return FIC_OK;
}

/* ---- extraction ----------------------------------------------------------- */

typedef struct sink_ctx {
  int fd;
  const char *path;
  fic_sha256 sha;
  int inject_errno; /* test hook */
} sink_ctx;

static fic_status sink_write(void *user, const void *data, size_t len) {
  sink_ctx *c = user;
  int err = c->inject_errno ? c->inject_errno : fic__write_all(c->fd, data, len);
  c->inject_errno = 0;
  if (err) {
    errno = err;
    return fic__fail_errno("cannot write", c->path);
  }
  return fic__sha256_update(&c->sha, data, len);
}

/* fsync <tmp>/<relpath's directories>, deepest first. */
static fic_status fsync_parents(const char *tmp, const char *relpath) {
  char dir[FIC_PATH_MAX];
  FIC_CHECK(fic__pathf(dir, sizeof dir, "%s/%s", tmp, relpath));
  size_t base = strlen(tmp);
  for (;;) {
    char *slash = strrchr(dir, '/');
    if (!slash || (size_t)(slash - dir) <= base) break;
    *slash = '\0';
    FIC_CHECK(fic__fsync_dir(dir));
  }
  return FIC_OK;
}

static fic_status extract_one(fic_zip *z, const fic_zip_member *m, const char *tmp, const char *relpath,
                              const char *wheel, void *buf, int inject_errno, fic_marker_file *rec) {
  char path[FIC_PATH_MAX];
  FIC_CHECK(fic__pathf(path, sizeof path, "%s/%s", tmp, relpath));
  FIC_CHECK(fic__mkdir_parent(path, 0755));
  sink_ctx c = {.fd = -1, .path = path, .sha = {NULL}, .inject_errno = inject_errno};
  c.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0755);
  if (c.fd < 0) return fic__fail_errno("cannot create", path);
  fic_status s = fic__sha256_begin(&c.sha);
  if (s == FIC_OK) s = fic__zip_extract(z, m, buf, FIC_IO_BUFFER, sink_write, &c);
  if (s == FIC_OK && fsync(c.fd) != 0) s = fic__fail_errno("fsync of", path);
  if (close(c.fd) != 0 && s == FIC_OK) s = fic__fail_errno("cannot close", path);
  if (s == FIC_OK) {
    s = fic__sha256_end(&c.sha, rec->sha256);
  } else {
    fic__sha256_abort(&c.sha);
    return fic__fail_context("extracting %s from %s", relpath, wheel);
  }
  snprintf(rec->relpath, sizeof rec->relpath, "%s", relpath);
  rec->size = m->size;
  return s;
}

/* A wheel rewritten in place (same inode) after it was hashed would put new
 * bytes under the old hash: compare its state now with the state hashed. */
static fic_status check_wheels_unchanged(const prep *p) {
  for (int k = 0; k < 2; k++) {
    const wheel_ref *w = &p->wheels[k];
    struct stat now;
    if (w->fd < 0) continue;
    if (fstat(w->fd, &now) != 0) return fic__fail_errno("cannot stat wheel", w->path);
    /* ctime also moves when the file is unlinked (a new build renamed over
     * it), which leaves our bytes intact: compare it only while linked. */
    int ctime_moved = now.st_nlink > 0 && (now.st_ctim.tv_sec != w->hashed.st_ctim.tv_sec ||
                                           now.st_ctim.tv_nsec != w->hashed.st_ctim.tv_nsec);
    if (now.st_size != w->hashed.st_size || now.st_mtim.tv_sec != w->hashed.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != w->hashed.st_mtim.tv_nsec || ctime_moved)
      return fic__fail(FIC_ERR_CHECKSUM,
                       "%s wheel %s changed while it was being extracted (its SHA-256 %.16s... no longer holds); "
                       "nothing was published: run again",
                       w->label, w->path, w->sha);
  }
  return FIC_OK;
}

/* Open wheel `k` (through the descriptor it was identified on) as a zip. */
static fic_status open_zip(prep *p, int k, fic_zip **z) {
  int fd = fcntl(p->wheels[k].fd, F_DUPFD_CLOEXEC, 0);
  fic_status s = fd >= 0 ? fic__zip_open_fd(fd, p->wheels[k].path, z)
                         : fic__fail_errno("cannot duplicate the descriptor of", p->wheels[k].path);
  if (s != FIC_OK) return fic__fail_context("%s wheel", p->wheels[k].label);
  return FIC_OK;
}

/* A fresh <parent>/.tmp-<stem>-<pid>-<random> directory into `tmp`. */
static fic_status make_temp_dir(const char *parent, const char *stem, char *tmp, size_t size) {
  for (int attempt = 0;; attempt++) {
    char rnd[17];
    fic__random_hex(rnd);
    FIC_CHECK(fic__pathf(tmp, size, "%s/.tmp-%s-%ld-%s", parent, stem, (long)getpid(), rnd));
    if (mkdir(tmp, 0755) == 0) return FIC_OK;
    if (errno != EEXIST || attempt == 16) {
      fic_status s = fic__fail_errno("cannot create temporary directory", tmp);
      tmp[0] = '\0';
      return s;
    }
  }
}

/* libtvm_ffi.so into `tmp`, recorded in p->marker, and made durable. */
static fic_status extract_all(prep *p, fic_zip *z, const fic_zip_member *member, const char *tmp, void *buf) {
  long sleep_ms = fic__test_hook_extract_sleep_ms();
  p->marker.num_files = p->num_files;
  FIC_CHECK(extract_one(z, member, tmp, p->relpaths[0], p->wheels[FIC_WHEEL_TVMFFI].path, buf,
                        fic__test_hook_write_errno(), &p->marker.files[0]));
  if (sleep_ms > 0) fic__sleep_ms(sleep_ms);
  FIC_CHECK(fsync_parents(tmp, p->relpaths[0]));
  return fic__fsync_dir(tmp);
}

/* Rename the finished `tmp` into place and write the marker. On return
 * `tmp` is "" once it is no longer ours to remove. */
static fic_status publish(prep *p, char *tmp) {
  FIC_CHECK(check_wheels_unchanged(p));
  if (rename(tmp, p->entry) != 0) return fic__fail_errno("cannot publish cache entry (rename)", p->entry);
  tmp[0] = '\0';
  fic_status s = fic__fsync_dir(p->root);
  if (s == FIC_OK) s = fic__marker_write(p->entry, &p->marker);
  if (s != FIC_OK) {
    /* We hold the lock: take the unmarked entry down again so nothing
     * half-published stays behind (the next run would quarantine it anyway). */
    fic__rmtree(p->entry);
    fic__fail_context("finishing cache entry %s", p->entry);
  }
  return s;
}

/* The entry: libtvm_ffi.so from the tvm-ffi wheel (modules come later). */
static fic_status extract(prep *p) {
  fic_zip *z = NULL;
  fic_zip_member member;
  char tmp[FIC_PATH_MAX] = "";
  void *buf = NULL;
  fic_status s = open_zip(p, FIC_WHEEL_TVMFFI, &z);
  if (s == FIC_OK) s = fic__zip_find(z, p->relpaths[0], &member); /* before anything is created */
  if (s != FIC_OK) goto out;
  buf = malloc(FIC_IO_BUFFER);
  if (!buf) {
    s = fic__fail(FIC_ERR_NO_MEMORY, "out of memory for the extraction buffer");
    goto out;
  }
  fic__test_hook_log_extraction();
  s = make_temp_dir(p->root, p->hash, tmp, sizeof tmp);
  if (s == FIC_OK) s = extract_all(p, z, &member, tmp, buf);
  if (s == FIC_OK) s = publish(p, tmp);
out:
  if (tmp[0]) fic__rmtree(tmp);
  free(buf);
  fic__zip_close(z);
  return s;
}

/* ---- modules, one by one -------------------------------------------------- */

/* Open <entry>/modules/<name> trusted, following no symlink: a descriptor,
 * -1 with errno (ENOENT: not there), or -2 with the error recorded.
 * *at_modules = 1 when modules/ itself failed. */
static int open_module_dir(const prep *p, const char *name, int *at_modules) {
  *at_modules = 0;
  char shown[FIC_PATH_MAX];
  int entry_fd = open_trusted_dir(AT_FDCWD, p->entry, p->entry);
  if (entry_fd < 0) return entry_fd;
  snprintf(shown, sizeof shown, "%s/%s", p->entry, FIC_MODULES_DIR);
  int mods_fd = open_trusted_dir(entry_fd, FIC_MODULES_DIR, shown);
  int err = errno;
  close(entry_fd);
  if (mods_fd < 0) {
    *at_modules = 1;
    errno = err;
    return mods_fd;
  }
  snprintf(shown, sizeof shown, "%s/%s/%s", p->entry, FIC_MODULES_DIR, name);
  int fd = open_trusted_dir(mods_fd, name, shown);
  err = errno;
  close(mods_fd);
  errno = err;
  return fd;
}

/* Does the module's own marker (p->modmark once read) name our wheels and
 * exactly <name>.so, a regular file of the recorded size? */
static void check_module_marker(prep *p, const char *name, const char *dir, int dir_fd, int *state) {
  char file[FIC_MODULE_NAME_MAX + 4];
  snprintf(file, sizeof file, "%s.so", name);
  int err = fic__marker_read(dir, &p->modmark, p->why, sizeof p->why);
  if (err) {
    char detail[sizeof p->why];
    snprintf(detail, sizeof detail, "%s", err == EBADMSG ? p->why : "no readable " FIC_MARKER_NAME " marker");
    snprintf(p->why, sizeof p->why, "module %s: %.400s", name, detail);
    return;
  }
  for (int k = 0; k < 2; k++)
    if (strcmp(p->modmark.wheel_sha256[k], p->marker.wheel_sha256[k]) ||
        strcmp(p->modmark.wheel_name[k], p->marker.wheel_name[k])) {
      snprintf(p->why, sizeof p->why, "module %s: marker names wheel %s, expected %s", name, p->modmark.wheel_name[k],
               p->marker.wheel_name[k]);
      return;
    }
  const fic_marker_file *f = &p->modmark.files[0];
  struct stat st;
  if (p->modmark.num_files != 1 || strcmp(f->relpath, file) != 0) {
    snprintf(p->why, sizeof p->why, "module %s: marker does not list exactly %s", name, file);
    return;
  }
  if (fstatat(dir_fd, file, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size) {
    snprintf(p->why, sizeof p->why, "module %s: %s is missing, not a regular file, or not of the recorded size", name,
             file);
    return;
  }
  *state = ENTRY_OK;
}

/* The warm check of one module: ENTRY_OK (p->modmark filled), ENTRY_MISSING
 * or ENTRY_CORRUPT (p->why says why), recording nothing; errors only for a
 * directory another user can write into, or one that cannot be read. */
static fic_status check_module(prep *p, const char *name, int *state) {
  char dir[FIC_PATH_MAX];
  p->why[0] = '\0';
  *state = ENTRY_CORRUPT;
  FIC_CHECK(fic__pathf(dir, sizeof dir, "%s/%s/%s", p->entry, FIC_MODULES_DIR, name));
  int at_modules = 0;
  int fd = open_module_dir(p, name, &at_modules);
  if (fd == -2) return FIC_ERR_PERMISSION; /* recorded by fic__check_trusted_dir */
  /* A symlink at modules/ is quarantined whole: renaming modules/<name>
   * through it would follow it. */
  snprintf(p->bad_dir, sizeof p->bad_dir, "%s", dir);
  if (at_modules) snprintf(p->bad_dir, sizeof p->bad_dir, "%s/%s", p->entry, FIC_MODULES_DIR);
  if (fd < 0) {
    if (errno == ENOENT) *state = ENTRY_MISSING;
    if (errno == ELOOP || errno == ENOTDIR)
      snprintf(p->why, sizeof p->why, "module %s: %s is not a directory (a file or a symlink)", name, p->bad_dir);
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) return FIC_OK;
    return fic__fail_errno("cannot open module directory", dir);
  }
  check_module_marker(p, name, dir, fd, state);
  close(fd);
  return FIC_OK;
}

/* What lock_and_locate checks again under the lock: the entry, or (p->module
 * set) the module, after the entry it lives in, which the runtime holds open
 * and which must still be complete. */
static fic_status check_target(prep *p, int *state) {
  FIC_CHECK(check_entry(p, state));
  if (!p->module) return FIC_OK;
  if (*state != ENTRY_OK)
    return fic__fail(FIC_ERR_NOT_FOUND,
                     "cache entry %s was removed or damaged after it was opened (%s); module %s cannot be added to "
                     "it: open the runtime again",
                     p->entry, p->why[0] ? p->why : "it is gone", p->module);
  return check_module(p, p->module, state);
}

/* A wheel given by path that was closed after open: open it again and check
 * it is the file that was identified (same device, inode, size, mtime and
 * ctime), else hash it whole: other content under the key's SHA-256 would
 * put another build in this entry. */
static fic_status reidentify_by_path(prep *p, wheel_ref *w) {
  struct stat was = w->hashed;
  int fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fic__fail_errno("cannot open wheel", w->path);
  w->fd = fd;
  if (fstat(fd, &w->hashed) != 0) return fic__fail_errno("cannot stat wheel", w->path);
  const struct stat *now = &w->hashed;
  if (now->st_dev == was.st_dev && now->st_ino == was.st_ino && now->st_size == was.st_size &&
      now->st_mtim.tv_sec == was.st_mtim.tv_sec && now->st_mtim.tv_nsec == was.st_mtim.tv_nsec &&
      now->st_ctim.tv_sec == was.st_ctim.tv_sec && now->st_ctim.tv_nsec == was.st_ctim.tv_nsec)
    return FIC_OK;
  char sha[65];
  fic__test_count_wheel_hash();
  FIC_CHECK(fic__sha256_fd(fd, w->path, sha));
  if (strcmp(sha, w->sha) != 0) {
    w->hashed = was; /* a later attempt must hash it again, not trust what it found now */
    return fic__fail(FIC_ERR_CHECKSUM,
                     "%s wheel %s changed after the runtime was opened (SHA-256 now %.16s..., the cache entry is for "
                     "%.16s...); nothing was extracted: open the runtime again",
                     w->label, w->path, sha, w->sha);
  }
  return FIC_OK;
}

/* The wheels the target needs: the tvm-ffi wheel for the entry, the
 * jit-cache wheel for a module. */
static int wheel_needed(const prep *p, int k) { return k == (p->module ? FIC_WHEEL_JIT_CACHE : FIC_WHEEL_TVMFFI); }

/* Under the entry lock (*lock_fd), find the wheel the target needs locally;
 * download a missing one without the lock, then lock again and look once
 * more. Returns with the lock held and the wheel open, or with the target
 * found complete meanwhile (*state == ENTRY_OK). */
static fic_status lock_and_locate(prep *p, int *lock_fd, int *state) {
  for (int round = 0;; round++) {
    fic_status s = fic__lock_acquire(p->lock_path, p->cfg->lock_timeout_s, lock_fd);
    if (s == FIC_ERR_PERMISSION) return fic__fail_context("cache directory %s is not writable", p->root);
    FIC_CHECK(s);
    FIC_CHECK(check_target(p, state)); /* someone may have finished while we waited */
    if (*state == ENTRY_OK) return FIC_OK;
    int need[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
      wheel_ref *w = &p->wheels[k];
      if (!wheel_needed(p, k)) continue;
      if (!w->by_path)
        FIC_CHECK(locate_local(p, w, &need[k]));
      else if (w->fd < 0)
        FIC_CHECK(reidentify_by_path(p, w));
    }
    if (!need[0] && !need[1]) return FIC_OK;
    if (round > 0) return fic__fail(FIC_ERR_INTERNAL, "downloaded wheels disappeared from %s/wheels", p->root);
    /* Download without holding the entry lock, then take it again. */
    fic__lock_release(*lock_fd);
    *lock_fd = -1;
    for (int k = 0; k < 2; k++)
      if (need[k]) FIC_CHECK(download_pinned(p, &p->wheels[k]));
  }
}

/* Remove <entry>/modules/.tmp-*: called with the entry lock held, which every
 * module extraction of this entry takes, so any such directory is debris. */
static void clean_module_temps(const char *mods) {
  DIR *d = opendir(mods);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char path[FIC_PATH_MAX];
    if (strncmp(de->d_name, ".tmp-", 5) == 0 &&
        snprintf(path, sizeof path, "%s/%s", mods, de->d_name) < (int)sizeof path)
      fic__rmtree(path);
  }
  closedir(d);
}

static fic_status find_module_member(prep *p, fic_zip *z, const char *name, fic_zip_member *member) {
  char relpath[FIC_RELPATH_MAX];
  const char *wheel = p->wheels[FIC_WHEEL_JIT_CACHE].path;
  FIC_CHECK(fic__pathf(relpath, sizeof relpath, FIC_JIT_MEMBER_FMT, name, name));
  fic_status s = fic__zip_find(z, relpath, member);
  if (s == FIC_ERR_NOT_FOUND)
    return fic__fail(FIC_ERR_NOT_FOUND,
                     "module %s is not in %s (no member %s); list the wheel's modules with `flashinfer-c list %s` "
                     "(fic_wheel_modules)",
                     name, wheel, relpath, wheel);
  return s;
}

/* <name>.so and its marker into the temp directory `tmp`, made durable. */
static fic_status extract_module_files(prep *p, fic_zip *z, const fic_zip_member *member, const char *name,
                                       const char *tmp, void *buf) {
  char file[FIC_MODULE_NAME_MAX + 4];
  snprintf(file, sizeof file, "%s.so", name);
  fic_marker *mk = &p->modmark;
  memset(mk, 0, sizeof *mk);
  memcpy(mk->wheel_sha256, p->marker.wheel_sha256, sizeof mk->wheel_sha256);
  memcpy(mk->wheel_name, p->marker.wheel_name, sizeof mk->wheel_name);
  mk->num_files = 1;
  FIC_CHECK(extract_one(z, member, tmp, file, p->wheels[FIC_WHEEL_JIT_CACHE].path, buf, fic__test_hook_write_errno(),
                        &mk->files[0]));
  long sleep_ms = fic__test_hook_extract_sleep_ms();
  if (sleep_ms > 0) fic__sleep_ms(sleep_ms);
  FIC_CHECK(fic__marker_write(tmp, mk));
  return fic__fsync_dir(tmp);
}

/* Module `name` from the jit-cache wheel into <entry>/modules/<name>,
 * published with its marker by one rename (we hold the entry lock). */
static fic_status extract_module(prep *p, const char *name) {
  char mods[FIC_PATH_MAX], dest[FIC_PATH_MAX], tmp[FIC_PATH_MAX] = "";
  fic_zip *z = NULL;
  fic_zip_member member;
  void *buf = NULL;
  fic_status s = fic__pathf(mods, sizeof mods, "%s/%s", p->entry, FIC_MODULES_DIR);
  if (s == FIC_OK) s = fic__pathf(dest, sizeof dest, "%s/%s", mods, name);
  if (s == FIC_OK) s = open_zip(p, FIC_WHEEL_JIT_CACHE, &z);
  if (s == FIC_OK) s = find_module_member(p, z, name, &member); /* before anything is created */
  if (s != FIC_OK) goto out;
  if (!(buf = malloc(FIC_IO_BUFFER))) {
    s = fic__fail(FIC_ERR_NO_MEMORY, "out of memory for the extraction buffer");
    goto out;
  }
  fic__test_hook_log_extraction();
  clean_module_temps(mods);
  s = fic__mkdir_p(mods, 0755);
  if (s == FIC_OK) s = make_temp_dir(mods, "m", tmp, sizeof tmp);
  if (s == FIC_OK) s = extract_module_files(p, z, &member, name, tmp, buf);
  if (s == FIC_OK) s = check_wheels_unchanged(p);
  if (s == FIC_OK && rename(tmp, dest) != 0) s = fic__fail_errno("cannot publish module (rename)", dest);
  if (s == FIC_OK) {
    tmp[0] = '\0';
    s = fic__fsync_dir(mods);
  }
  if (s != FIC_OK) fic__fail_context("extracting module %s into %s", name, p->entry);
out:
  if (tmp[0]) fic__rmtree(tmp);
  free(buf);
  fic__zip_close(z);
  return s;
}

/* The module's cold path: under the entry lock, check again, quarantine a
 * corrupt copy, extract. *extracted = 1 when we did. */
static fic_status module_cold(prep *p, const char *name, int *extracted) {
  int lock_fd = -1, state = ENTRY_MISSING;
  char dir[FIC_PATH_MAX];
  p->module = name;
  fic_status s = fic__pathf(dir, sizeof dir, "%s/%s/%s", p->entry, FIC_MODULES_DIR, name);
  if (s == FIC_OK) s = lock_and_locate(p, &lock_fd, &state);
  if (s == FIC_OK && state != ENTRY_OK) {
    long sleep_ms = fic__test_hook_located_sleep_ms();
    if (sleep_ms > 0) fic__sleep_ms(sleep_ms);
    if (state == ENTRY_CORRUPT) s = quarantine(p, p->bad_dir);
    if (s == FIC_OK) s = extract_module(p, name);
    if (s == FIC_OK) s = check_module(p, name, &state); /* fills p->modmark */
    if (s == FIC_OK && state != ENTRY_OK)
      s = fic__fail(FIC_ERR_IO, "module %s was extracted into %s but does not check: %s", name, dir, p->why);
    *extracted = s == FIC_OK;
  }
  fic__lock_release(lock_fd);
  p->module = NULL;
  return s;
}

static void close_wheels(prep *p) {
  for (int k = 0; k < 2; k++)
    if (p->wheels[k].fd >= 0) {
      close(p->wheels[k].fd);
      p->wheels[k].fd = -1;
    }
}

/* Warm check, else the cold path; then fill `out`. */
static fic_status prepare_module(prep *p, const char *name, fic_artifact_module *out) {
  int state = ENTRY_MISSING, extracted = 0;
  FIC_CHECK(fic__artifacts_check_module_name(name));
  FIC_CHECK(check_module(p, name, &state));
  if (state != ENTRY_OK) {
    fic_status s = module_cold(p, name, &extracted);
    close_wheels(p); /* a wheel is not held open between extractions */
    FIC_CHECK(s);
  }
  if (out) {
    FIC_CHECK(fic__pathf(out->path, sizeof out->path, "%s/%s/%s/%s.so", p->entry, FIC_MODULES_DIR, name, name));
    snprintf(out->sha256, sizeof out->sha256, "%s", p->modmark.files[0].sha256);
    out->extracted = extracted;
  }
  return FIC_OK;
}

/* ---- the entry point ------------------------------------------------------ */

static void fill_out(const prep *p, fic_artifacts *out, int hit) {
  snprintf(out->cache_root, sizeof out->cache_root, "%s", p->root);
  snprintf(out->artifact_dir, sizeof out->artifact_dir, "%s", p->entry);
  snprintf(out->jit_cache_wheel, sizeof out->jit_cache_wheel, "%s", p->wheels[FIC_WHEEL_JIT_CACHE].path);
  snprintf(out->tvmffi_wheel, sizeof out->tvmffi_wheel, "%s", p->wheels[FIC_WHEEL_TVMFFI].path);
  snprintf(out->libtvm_ffi, sizeof out->libtvm_ffi, "%s/%s", p->entry, p->relpaths[0]);
  out->cache_hit = hit;
}

/* The cold path: under the lock, quarantine a corrupt entry and extract a
 * new one (or find that another process just did). */
static fic_status prepare_cold(prep *p, fic_artifacts *out, int *lock_fd) {
  if (fic__mkdir_p(p->root, 0755) != FIC_OK) return fic__fail_context("cache directory %s", p->root);
  int state = ENTRY_MISSING;
  FIC_CHECK(lock_and_locate(p, lock_fd, &state));
  if (state == ENTRY_OK) {
    fill_out(p, out, 1);
    return FIC_OK;
  }
  long sleep_ms = fic__test_hook_located_sleep_ms();
  if (sleep_ms > 0) fic__sleep_ms(sleep_ms);
  if (state == ENTRY_CORRUPT) FIC_CHECK(quarantine(p, p->entry));
  clean_stale_temps(p);
  FIC_CHECK(extract(p));
  fill_out(p, out, 0);
  return FIC_OK;
}

/* A zeroed prep with no wheel open yet (so that prep_free may run at once). */
static prep *prep_new(int lookup_only) {
  fic__artifact_state *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  prep *p = &st->p;
  p->wheels[0].fd = p->wheels[1].fd = -1;
  p->lookup_only = lookup_only;
  return p;
}

static void prep_free(prep *p) {
  if (!p) return;
  close_wheels(p);
  free(p->own_seed_dirs);
  free((fic__artifact_state *)p); /* p is the first member */
}

fic_status fic__artifacts_lookup(const fic_config *cfg, fic_artifacts *out, int *found) {
  if (!cfg || !out || !found) return fic__fail_arg("config", "config, out and found must not be NULL");
  memset(out, 0, sizeof *out);
  *found = 0;
  prep *p = prep_new(1);
  if (!p) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory looking up artifacts");
  int state = ENTRY_MISSING;
  fic_status s = setup(p, cfg);
  if (s == FIC_OK) s = check_entry(p, &state);
  if (s == FIC_OK) snprintf(out->cache_root, sizeof out->cache_root, "%s", p->root);
  if (s == FIC_OK && state == ENTRY_OK) {
    fill_out(p, out, 1);
    *found = 1;
  }
  prep_free(p);
  return s;
}

/* Keep what fic__artifacts_module needs once the caller's config is gone. */
static fic_status keep_config(prep *p) {
  const fic_config *cfg = p->cfg;
  if (cfg->seed_dirs && !(p->own_seed_dirs = strdup(cfg->seed_dirs)))
    return fic__fail(FIC_ERR_NO_MEMORY, "out of memory keeping the configuration");
  memset(&p->own_cfg, 0, sizeof p->own_cfg); /* not fic_config_init: that is the runtime layer's */
  p->own_cfg.struct_size = sizeof p->own_cfg;
  p->own_cfg.cache_dir = p->root;
  p->own_cfg.seed_dirs = p->own_seed_dirs;
  p->own_cfg.offline = cfg->offline;
  p->own_cfg.verify_wheel_sha256 = cfg->verify_wheel_sha256;
  p->own_cfg.lock_timeout_s = cfg->lock_timeout_s;
  /* A module's first use may download the pinned jit-cache wheel: the
   * callback (documented to stay valid while the runtime is open) reports it. */
  p->own_cfg.progress = cfg->progress;
  p->own_cfg.progress_user = cfg->progress_user;
  p->cfg = &p->own_cfg;
  return FIC_OK;
}

static fic_status open_entry(prep *p, const fic_config *cfg, fic_artifacts *out) {
  int lock_fd = -1, state = ENTRY_MISSING;
  FIC_CHECK(setup(p, cfg));
  FIC_CHECK(check_entry(p, &state));
  if (state == ENTRY_OK) {
    fill_out(p, out, 1);
  } else {
    fic_status s = prepare_cold(p, out, &lock_fd);
    fic__lock_release(lock_fd); /* each module takes it again */
    FIC_CHECK(s);
  }
  for (const char *const *m = cfg->modules; m && *m; m++) FIC_CHECK(prepare_module(p, *m, NULL));
  close_wheels(p);
  return keep_config(p);
}

fic_status fic__artifacts_open(const fic_config *cfg, fic_artifacts *out) {
  if (!cfg) return fic__fail_arg("config", "config must not be NULL");
  if (!out) return fic__fail_arg("out", "out must not be NULL");
  memset(out, 0, sizeof *out);
  prep *p = prep_new(0);
  if (!p) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory preparing artifacts");
  fic_status s = open_entry(p, cfg, out);
  if (s != FIC_OK) {
    prep_free(p);
    return s;
  }
  out->state = (fic__artifact_state *)p;
  return FIC_OK;
}

void fic__artifacts_close(fic_artifacts *a) {
  if (!a || !a->state) return;
  prep_free(&a->state->p);
  a->state = NULL;
}

fic_status fic__artifacts_prepare(const fic_config *cfg, fic_artifacts *out) {
  FIC_CHECK(fic__artifacts_open(cfg, out));
  fic__artifacts_close(out);
  return FIC_OK;
}

fic_status fic__artifacts_module(fic_artifacts *a, const char *name, fic_artifact_module *out) {
  if (!a || !a->state) return fic__fail(FIC_ERR_INTERNAL, "module %s requested without open artifacts", name);
  if (!out) return fic__fail_arg("out", "out must not be NULL");
  memset(out, 0, sizeof *out);
  return prepare_module(&a->state->p, name, out);
}
