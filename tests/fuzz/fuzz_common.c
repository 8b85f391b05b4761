/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers of the libFuzzer harnesses; see fuzz_common.h. */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static char g_dir[4096];

static void remove_dir(void) {
  if (g_dir[0]) fz_rmtree(g_dir);
}

const char *fz_tmpdir(void) {
  if (g_dir[0]) return g_dir;
  const char *bases[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
  for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
    if (!bases[i] || !*bases[i] || access(bases[i], W_OK) != 0) continue;
    snprintf(g_dir, sizeof g_dir, "%s/fic-fuzz-XXXXXX", bases[i]);
    if (mkdtemp(g_dir)) {
      atexit(remove_dir);
      return g_dir;
    }
  }
  fprintf(stderr, "fuzz: cannot create a scratch directory\n");
  abort();
}

const char *fz_path(const char *name) {
  static char bufs[8][4096];
  static int next;
  char *b = bufs[next++ % 8];
  snprintf(b, sizeof bufs[0], "%s/%s", fz_tmpdir(), name);
  return b;
}

void fz_write_file(const char *path, const void *data, size_t size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "fuzz: cannot create %s: %s\n", path, strerror(errno));
    abort();
  }
  const char *p = data;
  while (size) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
      abort();
    }
    p += n;
    size -= (size_t)n;
  }
  close(fd);
}

char *fz_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap + 1);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      char *g = realloc(buf, 2 * cap + 1);
      if (!g) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = g;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) return NULL;
  buf[len] = '\0';
  if (size) *size = len;
  return buf;
}

static void rmtree_at(int parent, const char *name) {
  struct stat st;
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      DIR *d = fdopendir(fd);
      if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
          if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) rmtree_at(dirfd(d), de->d_name);
        closedir(d);
      } else {
        close(fd);
      }
    }
    unlinkat(parent, name, AT_REMOVEDIR);
  } else {
    unlinkat(parent, name, 0);
  }
}

void fz_rmtree(const char *path) { rmtree_at(AT_FDCWD, path); }

void fz_mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz: mkdir %s: %s\n", buf, strerror(errno));
        abort();
      }
      *p = c;
      if (!c) break;
    }
  }
}

int fz_count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
  closedir(d);
  return n;
}

void fz_clean_env(void) {
  static const char *const prefixes[] = {"FLASHINFER_C_", "FLASHINFER_RS_", "FIC_TEST_HOOK_", "PIP_"};
  for (int again = 1; again;) {
    again = 0;
    for (char **e = environ; *e && !again; e++) {
      for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(*e, prefixes[i], strlen(prefixes[i])) != 0) continue;
        char name[512];
        size_t n = strcspn(*e, "=");
        if (n >= sizeof name) continue;
        memcpy(name, *e, n);
        name[n] = '\0';
        unsetenv(name);
        again = 1;
        break;
      }
    }
  }
}

int fz_is_hex64(const char *s, size_t len) {
  if (len != 64) return 0;
  for (size_t i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

void fz_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "\n==fuzz oracle failed== %s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n  last error: %s: %s\n", fic_status_string(fic_last_error_status()), fic_last_error_message());
  va_end(ap);
  abort();
}

int fz_status_in(fic_status s, const fic_status *allowed, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (allowed[i] == s) return 1;
  return 0;
}

int fz_known(const char *id) {
  const char *k = getenv("FIC_FUZZ_KNOWN");
  size_t n = strlen(id);
  for (const char *p = k; p && *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && !strncmp(p, id, n)) return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}
