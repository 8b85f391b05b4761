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
  int fd;             /* a wheel given by path stays open from hashing to extraction, so a file
                         renamed over it meanwhile cannot be extracted under the old hash; -1 */
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
    fic_status s = check_module_name(list[i]);
    if (s != FIC_OK) return s;
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
  if (p->cfg->modules || j->fd < 0) return FIC_OK;
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
    fic_status s = fic__pathf(w->path, sizeof w->path, "%s", path);
    if (s != FIC_OK) return fic__fail_context("%s", w->origin);
    const char *base = base_name(path);
    if (!*base || strlen(base) >= FIC_WHEEL_NAME_MAX || !fic__marker_valid_wheel_name(base, strlen(base)))
      return fic__fail(FIC_ERR_INVALID_ARGUMENT,
                       "%s=%s does not name a wheel file (empty, too long, or with control characters or '\\')",
                       w->origin, path);
    snprintf(w->filename, sizeof w->filename, "%s", base);
    w->fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (w->fd < 0) {
      fic__fail_errno("cannot open wheel", w->path);
      return fic__fail_context("%s wheel from %s", w->label, w->origin);
    }
    if (fstat(w->fd, &w->hashed) != 0) return fic__fail_errno("cannot stat wheel", w->path);
    /* No memo in lookup mode: a miss would write one. */
    s = fic__wheel_sha256_fd(p->lookup_only ? NULL : p->root, w->path, w->fd, w->sha);
    if (s != FIC_OK) return fic__fail_context("%s wheel from %s", w->label, w->origin);
    if (p->cfg->verify_wheel_sha256) {
      const fic_pinned_wheel *pin = NULL;
      s = fic__pinned_wheel(w->kind, NULL, &pin);
      if (s != FIC_OK) return fic__fail_context("verifying %s against the pinned hash", w->path);
      if (strcmp(pin->sha256, w->sha) != 0)
        return fic__fail(FIC_ERR_CHECKSUM,
                         "%s wheel %s (from %s) has SHA-256 %s, but the pinned %s has %s (verify_wheel_sha256 is on)",
                         w->label, w->path, w->origin, w->sha, pin->filename, pin->sha256);
    }
    return FIC_OK;
  }
  fic_status s = fic__pinned_wheel(w->kind, NULL, &w->pin);
  if (s != FIC_OK)
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
  fic_status s = fic__sha256_buf(text, off, p->hash);
  if (s != FIC_OK) return s;
  s = fic__pathf(p->entry, sizeof p->entry, "%s/%s", p->root, p->hash);
  if (s == FIC_OK) s = fic__pathf(p->lock_path, sizeof p->lock_path, "%s/%s.lock", p->root, p->hash);
  return s;
}

static fic_status setup(prep *p, const fic_config *cfg) {
  p->cfg = cfg;
  fic_status s = fic__cache_root(cfg->cache_dir, p->root, sizeof p->root);
  if (s != FIC_OK) return s;
  s = setup_modules(p);
  if (s != FIC_OK) return s;
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
    s = identify_wheel(p, &p->wheels[k]);
    if (s != FIC_OK) return s;
    memcpy(p->marker.wheel_sha256[k], p->wheels[k].sha, 65);
    snprintf(p->marker.wheel_name[k], FIC_WHEEL_NAME_MAX, "%s", p->wheels[k].filename);
  }
  setup_relpaths(p);
  return compute_hash(p);
}

/* ---- the warm check ------------------------------------------------------- */

enum { ENTRY_OK = 0, ENTRY_MISSING = 1, ENTRY_CORRUPT = 2 };

/* Records nothing for the normal outcomes; a hard error (e.g. EACCES) is
 * returned as -1 with the error recorded. */
static int check_entry(prep *p) {
  struct stat st;
  p->why[0] = '\0';
  if (stat(p->entry, &st) != 0) {
    if (errno == ENOENT) return ENTRY_MISSING;
    fic__fail_errno("cannot stat cache entry", p->entry);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(p->why, sizeof p->why, "not a directory");
    return ENTRY_CORRUPT;
  }
  fic_marker *m = malloc(sizeof *m);
  if (!m) {
    fic__fail(FIC_ERR_NO_MEMORY, "out of memory reading the cache marker");
    return -1;
  }
  int err = fic__marker_read(p->entry, m, p->why, sizeof p->why);
  int result = ENTRY_OK;
  if (err == ENOENT) {
    snprintf(p->why, sizeof p->why, "no %s marker (an interrupted extraction)", FIC_MARKER_NAME);
    result = ENTRY_CORRUPT;
  } else if (err == EBADMSG) {
    result = ENTRY_CORRUPT;
  } else if (err) {
    errno = err;
    fic__fail_errno("cannot read the marker of cache entry", p->entry);
    result = -1;
  }
  for (int k = 0; result == ENTRY_OK && k < 2; k++) {
    if (strcmp(m->wheel_sha256[k], p->marker.wheel_sha256[k]) || strcmp(m->wheel_name[k], p->marker.wheel_name[k])) {
      snprintf(p->why, sizeof p->why, "marker names wheel %s (%.12s...), expected %s (%.12s...)", m->wheel_name[k],
               m->wheel_sha256[k], p->marker.wheel_name[k], p->marker.wheel_sha256[k]);
      result = ENTRY_CORRUPT;
    }
  }
  if (result == ENTRY_OK && m->num_files != p->num_files) {
    snprintf(p->why, sizeof p->why, "marker lists %zu files, expected %zu", m->num_files, p->num_files);
    result = ENTRY_CORRUPT;
  }
  for (size_t i = 0; result == ENTRY_OK && i < p->num_files; i++) {
    const fic_marker_file *f = fic__marker_find(m, p->relpaths[i]);
    char path[FIC_PATH_MAX];
    if (!f) {
      snprintf(p->why, sizeof p->why, "marker does not list %s", p->relpaths[i]);
      result = ENTRY_CORRUPT;
    } else if (snprintf(path, sizeof path, "%s/%s", p->entry, f->relpath) >= (int)sizeof path) {
      snprintf(p->why, sizeof p->why, "path too long");
      result = ENTRY_CORRUPT;
    } else if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
      snprintf(p->why, sizeof p->why, "%s is missing or not a regular file", f->relpath);
      result = ENTRY_CORRUPT;
    } else if ((uint64_t)st.st_size != f->size) {
      snprintf(p->why, sizeof p->why, "%s has %lld bytes, the marker says %llu", f->relpath, (long long)st.st_size,
               (unsigned long long)f->size);
      result = ENTRY_CORRUPT;
    }
  }
  if (result == ENTRY_OK) p->marker = *m; /* its file hashes identify the modules (fill_out) */
  free(m);
  return result;
}

/* check_entry, choosing the module set first. The default set from a wheel
 * given by path is checked whole, so a warm start with a complete wheel never
 * reads the wheel; only when that entry is not there is the set narrowed to
 * the modules the wheel holds (drop_absent_defaults) and checked again. */
static int select_modules_and_check(prep *p) {
  int state = check_entry(p);
  if (state == ENTRY_OK || state < 0 || p->cfg->modules || p->wheels[FIC_WHEEL_JIT_CACHE].fd < 0) return state;
  size_t before = p->num_modules;
  if (drop_absent_defaults(p) != FIC_OK || compute_hash(p) != FIC_OK) return -1;
  return p->num_modules == before ? state : check_entry(p);
}

/* ---- cold path helpers ---------------------------------------------------- */

static fic_status quarantine(prep *p) {
  char dest[FIC_PATH_MAX], rnd[17];
  fic__random_hex(rnd);
  fic_status s = fic__pathf(dest, sizeof dest, "%s/.corrupt-%s-%lld-%ld-%.8s", p->root, p->hash, (long long)time(NULL),
                            (long)getpid(), rnd);
  if (s != FIC_OK) return s;
  if (rename(p->entry, dest) != 0) return fic__fail_errno("cannot move corrupt cache entry aside", p->entry);
  /* Leave the reason next to the evidence (best effort; the library does
   * not print). */
  char note[FIC_PATH_MAX + 32], text[1024];
  struct stat st;
  int n =
      snprintf(text, sizeof text, "quarantined %lld by pid %ld: %s\n", (long long)time(NULL), (long)getpid(), p->why);
  if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode) && n > 0 &&
      snprintf(note, sizeof note, "%s/QUARANTINE-REASON", dest) < (int)sizeof note)
    (void)fic__write_file_atomic_q(note, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
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
  const char *v = getenv("FLASHINFER_C_OFFLINE");
  return v && *v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 && strcasecmp(v, "no") != 0;
}

/* Find a pinned wheel locally: <root>/wheels, then the seed directories.
 * Sets w->path, or leaves it "" (*need_download = 1) when a download is
 * needed; offline mode turns that into FIC_ERR_OFFLINE naming every place. */
static fic_status locate_local(prep *p, wheel_ref *w, int *need_download) {
  *need_download = 0;
  char cand[FIC_PATH_MAX], places[3072] = "";
  add_place(places, sizeof places, "%s (unset)", w->cfg_field);
  add_place(places, sizeof places, "%s (unset)", w->env_name);
  add_place(places, sizeof places, "%s (unset)", w->env_alias);

  fic_status s = fic__pathf(cand, sizeof cand, "%s/wheels/%s-%s", p->root, w->sha, w->filename);
  if (s != FIC_OK) return s;
  if (is_regular(cand)) { /* named by its SHA-256: verified when it was stored */
    snprintf(w->path, sizeof w->path, "%s", cand);
    return FIC_OK;
  }
  add_place(places, sizeof places, "%s", cand);

  const char *seed_origin = "fic_config.seed_dirs";
  const char *seeds = p->cfg->seed_dirs && *p->cfg->seed_dirs ? p->cfg->seed_dirs : NULL;
  if (!seeds) {
    seeds = getenv("FLASHINFER_C_SEED_DIRS");
    seed_origin = "FLASHINFER_C_SEED_DIRS";
    if (seeds && !*seeds) seeds = NULL;
  }
  if (!seeds)
    add_place(places, sizeof places, "no seed directories (fic_config.seed_dirs, FLASHINFER_C_SEED_DIRS unset)");
  for (const char *d = seeds; d && *d;) {
    const char *colon = strchr(d, ':');
    size_t len = colon ? (size_t)(colon - d) : strlen(d);
    if (len > 0 && len < FIC_PATH_MAX - FIC_WHEEL_NAME_MAX - 100) {
      char dir[FIC_PATH_MAX];
      memcpy(dir, d, len);
      dir[len] = '\0';
      for (int f = 0; f < 3; f++) {
        if (f == 0)
          snprintf(cand, sizeof cand, "%s/%s", dir, w->filename);
        else if (f == 1)
          snprintf(cand, sizeof cand, "%s/%s-%s", dir, w->sha, w->filename);
        else
          snprintf(cand, sizeof cand, "%s/wheels/%s-%s", dir, w->sha, w->filename);
        if (!is_regular(cand)) {
          add_place(places, sizeof places, "%s", cand);
          continue;
        }
        char sha[65];
        s = fic__wheel_sha256(p->root, cand, sha); /* hashed once, then memoised */
        if (s != FIC_OK) return fic__fail_context("seed wheel from %s", seed_origin);
        if (strcmp(sha, w->sha) != 0)
          return fic__fail(FIC_ERR_CHECKSUM, "seed wheel %s (from %s) has SHA-256 %s, but the pinned %s has %s", cand,
                           seed_origin, sha, w->filename, w->sha);
        snprintf(w->path, sizeof w->path, "%s", cand);
        return FIC_OK;
      }
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
 * serialise there and the later ones find it published. */
static fic_status download_pinned(prep *p, wheel_ref *w) {
  char wheels_dir[FIC_PATH_MAX], dest[FIC_PATH_MAX];
  fic_status s = fic__pathf(wheels_dir, sizeof wheels_dir, "%s/wheels", p->root);
  if (s == FIC_OK) s = fic__pathf(dest, sizeof dest, "%s/%s-%s", wheels_dir, w->sha, w->filename);
  if (s == FIC_OK) s = fic__mkdir_p(wheels_dir, 0755);
  if (s != FIC_OK) return s;
  if (!is_regular(dest)) {
    s = fic__fetch_pinned(w->pin, dest, p->cfg->progress, p->cfg->progress_user);
    if (s == FIC_OK && !is_regular(dest))
      s = fic__fail(FIC_ERR_INTERNAL, "download of %s reported success but %s does not exist", w->filename, dest);
    if (s != FIC_OK) return fic__fail_context("downloading the %s wheel", w->label);
  }
  snprintf(w->path, sizeof w->path, "%s", dest);
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

static void hook_log_extraction(void) {
  const char *log = getenv("FIC_TEST_HOOK_EXTRACT_LOG");
  if (!log || !*log) return;
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[32];
  int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
  if (n > 0) (void)fic__write_all(fd, line, (size_t)n);
  close(fd);
}

/* fsync <tmp>/<relpath's directories>, deepest first. */
static fic_status fsync_parents(const char *tmp, const char *relpath) {
  char dir[FIC_PATH_MAX];
  fic_status s = fic__pathf(dir, sizeof dir, "%s/%s", tmp, relpath);
  if (s != FIC_OK) return s;
  size_t base = strlen(tmp);
  for (;;) {
    char *slash = strrchr(dir, '/');
    if (!slash || (size_t)(slash - dir) <= base) break;
    *slash = '\0';
    s = fic__fsync_dir(dir);
    if (s != FIC_OK) return s;
  }
  return FIC_OK;
}

static fic_status extract_one(fic_zip *z, const fic_zip_member *m, const char *tmp, const char *relpath,
                              const char *wheel, void *buf, int inject_errno, fic_marker_file *rec) {
  char path[FIC_PATH_MAX], dir[FIC_PATH_MAX];
  fic_status s = fic__pathf(path, sizeof path, "%s/%s", tmp, relpath);
  if (s != FIC_OK) return s;
  snprintf(dir, sizeof dir, "%s", path);
  *strrchr(dir, '/') = '\0';
  s = fic__mkdir_p(dir, 0755);
  if (s != FIC_OK) return s;
  sink_ctx c = {.fd = -1, .path = path, .sha = {NULL}, .inject_errno = inject_errno};
  c.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0755);
  if (c.fd < 0) return fic__fail_errno("cannot create", path);
  s = fic__sha256_begin(&c.sha);
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

static fic_status extract(prep *p) {
  fic_status s;
  fic_zip *zips[2] = {NULL, NULL};
  fic_zip_member members[FIC_MARKER_MAX_FILES];
  char tmp[FIC_PATH_MAX] = "";
  void *buf = NULL;

  /* Open and check everything before creating anything. */
  for (int k = 0; k < 2; k++) {
    if (p->wheels[k].fd >= 0) {
      int fd = fcntl(p->wheels[k].fd, F_DUPFD_CLOEXEC, 0);
      s = fd >= 0 ? fic__zip_open_fd(fd, p->wheels[k].path, &zips[k])
                  : fic__fail_errno("cannot duplicate the descriptor of", p->wheels[k].path);
    } else {
      s = fic__zip_open(p->wheels[k].path, &zips[k]);
    }
    if (s != FIC_OK) {
      fic__fail_context("%s wheel", p->wheels[k].label);
      goto out;
    }
  }
  for (size_t i = 0; i < p->num_files; i++) {
    fic_zip *z = zips[i == 0 ? FIC_WHEEL_TVMFFI : FIC_WHEEL_JIT_CACHE];
    s = fic__zip_find(z, p->relpaths[i], &members[i]);
    if (s != FIC_OK) {
      if (s == FIC_ERR_NOT_FOUND && i > 0)
        fic__fail(FIC_ERR_NOT_FOUND,
                  "module %s is not in %s (no member %s); list the wheel's modules with "
                  "`flashinfer-c list %s` (fic_wheel_modules) and choose among them with --modules "
                  "(fic_config.modules), or leave the module list unset for the default modules the wheel holds",
                  p->modules[i - 1], p->wheels[0].path, p->relpaths[i], p->wheels[0].path);
      goto out;
    }
  }
  buf = malloc(FIC_IO_BUFFER);
  if (!buf) {
    s = fic__fail(FIC_ERR_NO_MEMORY, "out of memory for the extraction buffer");
    goto out;
  }

  hook_log_extraction();
  for (int attempt = 0;; attempt++) {
    char rnd[17];
    fic__random_hex(rnd);
    s = fic__pathf(tmp, sizeof tmp, "%s/.tmp-%s-%ld-%s", p->root, p->hash, (long)getpid(), rnd);
    if (s != FIC_OK) goto out;
    if (mkdir(tmp, 0755) == 0) break;
    if (errno != EEXIST || attempt == 16) {
      s = fic__fail_errno("cannot create temporary directory", tmp);
      tmp[0] = '\0';
      goto out;
    }
  }

  long sleep_hook = fic__test_hook_long("FIC_TEST_HOOK_EXTRACT_SLEEP_MS");
  int inject = (int)fic__test_hook_long("FIC_TEST_HOOK_WRITE_ERRNO");
  p->marker.num_files = p->num_files;
  for (size_t i = 0; i < p->num_files; i++) {
    int k = i == 0 ? FIC_WHEEL_TVMFFI : FIC_WHEEL_JIT_CACHE;
    s = extract_one(zips[k], &members[i], tmp, p->relpaths[i], p->wheels[k].path, buf, i == 0 ? inject : 0,
                    &p->marker.files[i]);
    if (s != FIC_OK) goto out;
    if (sleep_hook > 0) fic__sleep_ms(sleep_hook);
  }
  for (size_t i = 0; i < p->num_files; i++) {
    s = fsync_parents(tmp, p->relpaths[i]);
    if (s != FIC_OK) goto out;
  }
  s = fic__fsync_dir(tmp);
  if (s != FIC_OK) goto out;
  s = check_wheels_unchanged(p);
  if (s != FIC_OK) goto out;
  if (rename(tmp, p->entry) != 0) {
    s = fic__fail_errno("cannot publish cache entry (rename)", p->entry);
    goto out;
  }
  tmp[0] = '\0'; /* published: no longer ours to remove */
  s = fic__fsync_dir(p->root);
  if (s == FIC_OK) s = fic__marker_write(p->entry, &p->marker);
  if (s != FIC_OK) {
    /* We hold the lock: take the unmarked entry down again so nothing
     * half-published stays behind (the next run would quarantine it anyway). */
    fic__rmtree(p->entry);
    fic__fail_context("finishing cache entry %s", p->entry);
  }

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

fic_status fic__artifacts_lookup(const fic_config *cfg, fic_artifacts *out, int *found) {
  if (!cfg || !out || !found) return fic__fail_arg("config", "config, out and found must not be NULL");
  memset(out, 0, sizeof *out);
  *found = 0;
  prep *p = calloc(1, sizeof *p);
  if (!p) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory looking up artifacts");
  p->wheels[0].fd = p->wheels[1].fd = -1;
  p->lookup_only = 1;
  fic_status s = setup(p, cfg);
  int state = s == FIC_OK ? select_modules_and_check(p) : ENTRY_MISSING;
  if (state < 0) s = fic_last_error_status();
  if (s == FIC_OK) snprintf(out->cache_root, sizeof out->cache_root, "%s", p->root);
  if (s == FIC_OK && state == ENTRY_OK) {
    fill_out(p, out, 1);
    *found = 1;
  }
  for (int k = 0; k < 2; k++)
    if (p->wheels[k].fd >= 0) close(p->wheels[k].fd);
  free(p);
  return s;
}

fic_status fic__artifacts_prepare(const fic_config *cfg, fic_artifacts *out) {
  if (!cfg) return fic__fail_arg("config", "config must not be NULL");
  if (!out) return fic__fail_arg("out", "out must not be NULL");
  memset(out, 0, sizeof *out);
  prep *p = calloc(1, sizeof *p);
  if (!p) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory preparing artifacts");
  p->wheels[0].fd = p->wheels[1].fd = -1; /* before anything can fail: `done` closes them */
  int lock_fd = -1;
  fic_status s = setup(p, cfg);
  if (s != FIC_OK) goto done;

  int state = select_modules_and_check(p);
  if (state < 0) {
    s = fic_last_error_status();
    goto done;
  }
  if (state == ENTRY_OK) {
    fill_out(p, out, 1);
    goto done;
  }

  /* Cold (or corrupt): under the lock. */
  s = fic__mkdir_p(p->root, 0755);
  if (s != FIC_OK) {
    fic__fail_context("cache directory %s", p->root);
    goto done;
  }
  for (int round = 0;; round++) {
    s = fic__lock_acquire(p->lock_path, cfg->lock_timeout_s, &lock_fd);
    if (s != FIC_OK) {
      if (s == FIC_ERR_PERMISSION) fic__fail_context("cache directory %s is not writable", p->root);
      goto done;
    }
    state = check_entry(p); /* someone may have finished while we waited */
    if (state < 0) {
      s = fic_last_error_status();
      goto done;
    }
    if (state == ENTRY_OK) {
      fill_out(p, out, 1);
      goto done;
    }
    int need[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
      if (p->wheels[k].by_path) continue;
      s = locate_local(p, &p->wheels[k], &need[k]);
      if (s != FIC_OK) goto done;
    }
    if (!need[0] && !need[1]) break;
    if (round > 0) {
      s = fic__fail(FIC_ERR_INTERNAL, "downloaded wheels disappeared from %s/wheels", p->root);
      goto done;
    }
    /* Download without holding the entry lock, then take it again. */
    fic__lock_release(lock_fd);
    lock_fd = -1;
    for (int k = 0; k < 2; k++) {
      if (!need[k]) continue;
      s = download_pinned(p, &p->wheels[k]);
      if (s != FIC_OK) goto done;
    }
  }
  if (state == ENTRY_CORRUPT) {
    s = quarantine(p);
    if (s != FIC_OK) goto done;
  }
  clean_stale_temps(p);
  s = extract(p);
  if (s == FIC_OK) fill_out(p, out, 0);

done:
  fic__lock_release(lock_fd);
  for (int k = 0; k < 2; k++)
    if (p->wheels[k].fd >= 0) close(p->wheels[k].fd);
  free(p);
  return s;
}
