/* fic__artifacts_prepare: from a config to a complete cache entry.
 *
 *   1. Identify both wheels without touching them: a pinned wheel by its
 *      pinned SHA-256, a wheel given by path by its memoised SHA-256.
 *   2. Artifact hash = SHA-256 of a canonical text (format version, both
 *      wheels' SHA-256 and file name, sorted module list).
 *   3. Warm: <root>/<hash>/COMPLETE parses and every file has its recorded
 *      size -> done (a few stats and one small read; no lock, no wheel).
 *   4. Cold: take <root>/<hash>.lock, check again, quarantine a corrupt
 *      entry, remove stale temp dirs of this hash, locate or download the
 *      wheels, extract into <root>/.tmp-<hash>-<pid>-<random>, fsync, rename
 *      into place, write COMPLETE, release.
 *
 * Every wheel is opened once: it is identified (hashed) on that descriptor
 * and extracted from it. The cache root and every entry directory must be
 * owned by this user or root and not writable by others (fic__check_trusted_dir);
 * the warm check follows no symlink.
 *
 * fic__artifacts_lookup runs steps 1-3 only and writes nothing (no wheel-id
 * memo, no lock file, no extraction): fic_cache_gc uses it to find the entry
 * in use. The default module set is lenient (select_modules_and_check).
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

/* The one definition of the default module set (fic_config.modules == NULL):
 * lenient, see drop_absent_defaults. */
static const char *const default_modules[] = {"norm", "gdn_prefill_sm90", NULL};

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
  size_t num_modules;
  char modules[FIC_MAX_MODULES][FIC_MODULE_NAME_MAX]; /* caller's order, without duplicates */
  wheel_ref wheels[2];                                /* [FIC_WHEEL_JIT_CACHE], [FIC_WHEEL_TVMFFI] */
  size_t num_files;                                   /* 1 + num_modules; file 0 is libtvm_ffi.so */
  char relpaths[FIC_MARKER_MAX_FILES][FIC_RELPATH_MAX];
  fic_marker marker; /* expected wheels; after extraction also sizes and hashes */
  char why[512];     /* why an entry was found corrupt */
  int lookup_only;   /* fic__artifacts_lookup: find the entry; write, lock and extract nothing */
} prep;

/* ---- set-up: modules, wheels, hash ---------------------------------------- */

static fic_status check_module_name(const char *m) {
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

static fic_status setup_modules(prep *p) {
  const char *const *list = p->cfg->modules ? p->cfg->modules : default_modules;
  for (size_t i = 0; list[i]; i++) {
    FIC_CHECK(check_module_name(list[i]));
    int dup = 0;
    for (size_t j = 0; j < p->num_modules; j++) dup |= !strcmp(p->modules[j], list[i]);
    if (dup) continue;
    if (p->num_modules == FIC_MAX_MODULES)
      return fic__fail_arg("modules", "more than %d modules requested", FIC_MAX_MODULES);
    snprintf(p->modules[p->num_modules++], FIC_MODULE_NAME_MAX, "%s", list[i]);
  }
  if (p->num_modules == 0) return fic__fail_arg("modules", "the module list is empty");
  return FIC_OK;
}

/* Member paths of the files of the entry: libtvm_ffi.so, then the modules. */
static void setup_relpaths(prep *p) {
  p->num_files = 1 + p->num_modules;
  snprintf(p->relpaths[0], FIC_RELPATH_MAX, "%s", FIC_TVMFFI_MEMBER);
  for (size_t i = 0; i < p->num_modules; i++)
    snprintf(p->relpaths[1 + i], FIC_RELPATH_MAX, FIC_JIT_MEMBER_FMT, p->modules[i], p->modules[i]);
}

static int zip_has_member(const fic_zip *z, const char *name) {
  for (size_t i = 0, n = fic__zip_count(z); i < n; i++)
    if (strcmp(fic__zip_sorted_name(z, i, NULL), name) == 0) return 1;
  return 0;
}

/* The default set is lenient: from a jit-cache wheel given by path, take the
 * default modules it holds (a wheel built from sources may hold only norm).
 * A pinned wheel holds them all. An explicit list stays strict (extract). */
static fic_status drop_absent_defaults(prep *p) {
  const wheel_ref *j = &p->wheels[FIC_WHEEL_JIT_CACHE];
  if (p->cfg->modules || !j->by_path) return FIC_OK;
  int fd = fcntl(j->fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return fic__fail_errno("cannot duplicate the descriptor of", j->path);
  fic_zip *z = NULL;
  FIC_CHECK(fic__zip_open_fd(fd, j->path, &z));
  size_t kept = 0;
  for (size_t i = 0; i < p->num_modules; i++) {
    char member[FIC_RELPATH_MAX];
    snprintf(member, sizeof member, FIC_JIT_MEMBER_FMT, p->modules[i], p->modules[i]);
    if (!zip_has_member(z, member)) continue;
    if (kept != i) memcpy(p->modules[kept], p->modules[i], sizeof p->modules[i]);
    kept++;
  }
  fic__zip_close(z);
  p->num_modules = kept;
  setup_relpaths(p);
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

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static fic_status compute_hash(prep *p) {
  char text[FIC_MAX_MODULES * (FIC_MODULE_NAME_MAX + 8) + 2 * (FIC_WHEEL_NAME_MAX + 96) + 64];
  const char *sorted[FIC_MAX_MODULES];
  for (size_t i = 0; i < p->num_modules; i++) sorted[i] = p->modules[i];
  qsort(sorted, p->num_modules, sizeof *sorted, cmp_str);
  size_t off = 0;
  int n = snprintf(text, sizeof text, "%s\nwheel\tjit_cache\t%s\t%s\nwheel\ttvmffi\t%s\t%s\n", FIC_CACHE_FORMAT,
                   p->wheels[0].sha, p->wheels[0].filename, p->wheels[1].sha, p->wheels[1].filename);
  if (n < 0 || (size_t)n >= sizeof text) return fic__fail(FIC_ERR_INTERNAL, "artifact key overflow");
  off = (size_t)n;
  for (size_t i = 0; i < p->num_modules; i++) {
    n = snprintf(text + off, sizeof text - off, "module\t%s\n", sorted[i]);
    if (n < 0 || (size_t)n >= sizeof text - off) return fic__fail(FIC_ERR_INTERNAL, "artifact key overflow");
    off += (size_t)n;
  }
  FIC_CHECK(fic__sha256_buf(text, off, p->hash));
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
  FIC_CHECK(setup_modules(p));
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
  setup_relpaths(p);
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

/* check_entry, choosing the module set first. The default set from a wheel
 * given by path is checked whole, so a warm start with a complete wheel never
 * reads the wheel; only when that entry is not there is the set narrowed to
 * the modules the wheel holds (drop_absent_defaults) and checked again. */
static fic_status select_modules_and_check(prep *p, int *state) {
  FIC_CHECK(check_entry(p, state));
  if (*state == ENTRY_OK || p->cfg->modules || !p->wheels[FIC_WHEEL_JIT_CACHE].by_path) return FIC_OK;
  size_t before = p->num_modules;
  FIC_CHECK(drop_absent_defaults(p));
  if (p->num_modules == before) return FIC_OK;
  FIC_CHECK(compute_hash(p));
  return check_entry(p, state);
}

/* ---- cold path helpers ---------------------------------------------------- */

static fic_status quarantine(prep *p) {
  char dest[FIC_PATH_MAX], rnd[17];
  fic__random_hex(rnd);
  FIC_CHECK(fic__pathf(dest, sizeof dest, "%s/.corrupt-%s-%lld-%ld-%.8s", p->root, p->hash, (long long)time(NULL),
                       (long)getpid(), rnd));
  if (rename(p->entry, dest) != 0) return fic__fail_errno("cannot move corrupt cache entry aside", p->entry);
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

/* Open both wheels (through the descriptors they were identified on) and
 * find every member, before anything is created. */
static fic_status open_members(prep *p, fic_zip *zips[2], fic_zip_member *members) {
  for (int k = 0; k < 2; k++) {
    int fd = fcntl(p->wheels[k].fd, F_DUPFD_CLOEXEC, 0);
    fic_status s = fd >= 0 ? fic__zip_open_fd(fd, p->wheels[k].path, &zips[k])
                           : fic__fail_errno("cannot duplicate the descriptor of", p->wheels[k].path);
    if (s != FIC_OK) return fic__fail_context("%s wheel", p->wheels[k].label);
  }
  for (size_t i = 0; i < p->num_files; i++) {
    fic_zip *z = zips[i == 0 ? FIC_WHEEL_TVMFFI : FIC_WHEEL_JIT_CACHE];
    fic_status s = fic__zip_find(z, p->relpaths[i], &members[i]);
    if (s == FIC_ERR_NOT_FOUND && i > 0)
      return fic__fail(FIC_ERR_NOT_FOUND,
                       "module %s is not in %s (no member %s); list the wheel's modules with "
                       "`flashinfer-c list %s` (fic_wheel_modules) and choose among them with --modules "
                       "(fic_config.modules), or leave the module list unset for the default modules the wheel holds",
                       p->modules[i - 1], p->wheels[0].path, p->relpaths[i], p->wheels[0].path);
    FIC_CHECK(s);
  }
  return FIC_OK;
}

/* A fresh <root>/.tmp-<hash>-<pid>-<random> directory into `tmp`. */
static fic_status make_temp_dir(const prep *p, char *tmp, size_t size) {
  for (int attempt = 0;; attempt++) {
    char rnd[17];
    fic__random_hex(rnd);
    FIC_CHECK(fic__pathf(tmp, size, "%s/.tmp-%s-%ld-%s", p->root, p->hash, (long)getpid(), rnd));
    if (mkdir(tmp, 0755) == 0) return FIC_OK;
    if (errno != EEXIST || attempt == 16) {
      fic_status s = fic__fail_errno("cannot create temporary directory", tmp);
      tmp[0] = '\0';
      return s;
    }
  }
}

/* Every member into `tmp`, recorded in p->marker, and made durable. */
static fic_status extract_all(prep *p, fic_zip *zips[2], const fic_zip_member *members, const char *tmp, void *buf) {
  long sleep_ms = fic__test_hook_extract_sleep_ms();
  int inject = fic__test_hook_write_errno();
  p->marker.num_files = p->num_files;
  for (size_t i = 0; i < p->num_files; i++) {
    int k = i == 0 ? FIC_WHEEL_TVMFFI : FIC_WHEEL_JIT_CACHE;
    FIC_CHECK(extract_one(zips[k], &members[i], tmp, p->relpaths[i], p->wheels[k].path, buf, i == 0 ? inject : 0,
                          &p->marker.files[i]));
    if (sleep_ms > 0) fic__sleep_ms(sleep_ms);
  }
  for (size_t i = 0; i < p->num_files; i++) FIC_CHECK(fsync_parents(tmp, p->relpaths[i]));
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

static fic_status extract(prep *p) {
  fic_zip *zips[2] = {NULL, NULL};
  fic_zip_member members[FIC_MARKER_MAX_FILES];
  char tmp[FIC_PATH_MAX] = "";
  void *buf = NULL;
  fic_status s = open_members(p, zips, members);
  if (s != FIC_OK) goto out;
  buf = malloc(FIC_IO_BUFFER);
  if (!buf) {
    s = fic__fail(FIC_ERR_NO_MEMORY, "out of memory for the extraction buffer");
    goto out;
  }
  fic__test_hook_log_extraction();
  s = make_temp_dir(p, tmp, sizeof tmp);
  if (s == FIC_OK) s = extract_all(p, zips, members, tmp, buf);
  if (s == FIC_OK) s = publish(p, tmp);
out:
  if (tmp[0]) fic__rmtree(tmp);
  free(buf);
  fic__zip_close(zips[0]);
  fic__zip_close(zips[1]);
  return s;
}

/* ---- the entry point ------------------------------------------------------ */

static void fill_out(const prep *p, fic_artifacts *out, int hit) {
  snprintf(out->cache_root, sizeof out->cache_root, "%s", p->root);
  snprintf(out->artifact_dir, sizeof out->artifact_dir, "%s", p->entry);
  snprintf(out->jit_cache_wheel, sizeof out->jit_cache_wheel, "%s", p->wheels[FIC_WHEEL_JIT_CACHE].path);
  snprintf(out->tvmffi_wheel, sizeof out->tvmffi_wheel, "%s", p->wheels[FIC_WHEEL_TVMFFI].path);
  snprintf(out->libtvm_ffi, sizeof out->libtvm_ffi, "%s/%s", p->entry, p->relpaths[0]);
  out->num_modules = p->num_modules;
  for (size_t i = 0; i < p->num_modules; i++) {
    snprintf(out->module_names[i], sizeof out->module_names[i], "%s", p->modules[i]);
    snprintf(out->module_paths[i], sizeof out->module_paths[i], "%s/%s", p->entry, p->relpaths[1 + i]);
    const fic_marker_file *f = fic__marker_find(&p->marker, p->relpaths[1 + i]);
    snprintf(out->module_sha256[i], sizeof out->module_sha256[i], "%s", f ? f->sha256 : "");
  }
  out->cache_hit = hit;
}

/* Under the entry lock (*lock_fd), find both wheels locally; download the
 * missing ones without the lock, then lock again and look once more. Returns
 * with the lock held and both wheels open, or with the entry found complete
 * meanwhile (*state == ENTRY_OK). */
static fic_status lock_and_locate(prep *p, int *lock_fd, int *state) {
  for (int round = 0;; round++) {
    fic_status s = fic__lock_acquire(p->lock_path, p->cfg->lock_timeout_s, lock_fd);
    if (s == FIC_ERR_PERMISSION) return fic__fail_context("cache directory %s is not writable", p->root);
    FIC_CHECK(s);
    FIC_CHECK(check_entry(p, state)); /* someone may have finished while we waited */
    if (*state == ENTRY_OK) return FIC_OK;
    int need[2] = {0, 0};
    for (int k = 0; k < 2; k++)
      if (!p->wheels[k].by_path) FIC_CHECK(locate_local(p, &p->wheels[k], &need[k]));
    if (!need[0] && !need[1]) return FIC_OK;
    if (round > 0) return fic__fail(FIC_ERR_INTERNAL, "downloaded wheels disappeared from %s/wheels", p->root);
    /* Download without holding the entry lock, then take it again. */
    fic__lock_release(*lock_fd);
    *lock_fd = -1;
    for (int k = 0; k < 2; k++)
      if (need[k]) FIC_CHECK(download_pinned(p, &p->wheels[k]));
  }
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
  if (state == ENTRY_CORRUPT) FIC_CHECK(quarantine(p));
  clean_stale_temps(p);
  FIC_CHECK(extract(p));
  fill_out(p, out, 0);
  return FIC_OK;
}

/* A zeroed prep with no wheel open yet (so that prep_free may run at once). */
static prep *prep_new(int lookup_only) {
  prep *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->wheels[0].fd = p->wheels[1].fd = -1;
  p->lookup_only = lookup_only;
  return p;
}

static void prep_free(prep *p) {
  for (int k = 0; k < 2; k++)
    if (p->wheels[k].fd >= 0) close(p->wheels[k].fd);
  free(p);
}

fic_status fic__artifacts_lookup(const fic_config *cfg, fic_artifacts *out, int *found) {
  if (!cfg || !out || !found) return fic__fail_arg("config", "config, out and found must not be NULL");
  memset(out, 0, sizeof *out);
  *found = 0;
  prep *p = prep_new(1);
  if (!p) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory looking up artifacts");
  int state = ENTRY_MISSING;
  fic_status s = setup(p, cfg);
  if (s == FIC_OK) s = select_modules_and_check(p, &state);
  if (s == FIC_OK) snprintf(out->cache_root, sizeof out->cache_root, "%s", p->root);
  if (s == FIC_OK && state == ENTRY_OK) {
    fill_out(p, out, 1);
    *found = 1;
  }
  prep_free(p);
  return s;
}

fic_status fic__artifacts_prepare(const fic_config *cfg, fic_artifacts *out) {
  if (!cfg) return fic__fail_arg("config", "config must not be NULL");
  if (!out) return fic__fail_arg("out", "out must not be NULL");
  memset(out, 0, sizeof *out);
  prep *p = prep_new(0);
  if (!p) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory preparing artifacts");
  int lock_fd = -1, state = ENTRY_MISSING;
  fic_status s = setup(p, cfg);
  if (s == FIC_OK) s = select_modules_and_check(p, &state);
  if (s == FIC_OK && state == ENTRY_OK)
    fill_out(p, out, 1);
  else if (s == FIC_OK)
    s = prepare_cold(p, out, &lock_fd);
  fic__lock_release(lock_fd);
  prep_free(p);
  return s;
}
