/* SPDX-License-Identifier: Apache-2.0 */
/* Resolving a wheel through a Python package index, the way pip would.
 *
 *  - The index is the one the user's pip configuration names: PIP_INDEX_URL,
 *    else index-url in the pip configuration files (pip's own precedence).
 *    No registry host is written anywhere in this library.
 *  - The project page <index>/<normalized name>/ (PEP 503 HTML) is fetched,
 *    the anchor for the exact file name found, its href resolved against the
 *    page URL, and a "#sha256=" fragment checked against the pin.
 *  - With no index configured, `python3 -m pip download` fetches the file
 *    (pip knows its default index); the file is verified and moved in.
 */
#include "artifacts/pip_index.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/internal.h"
#include "common/error.h"

extern char **environ;

#define INDEX_PAGE_MAX ((size_t)64 << 20)
#define URL_MAX 8192

/* ---- small string helpers ------------------------------------------------ */

static int put(char *out, size_t size, size_t *pos, const char *s, size_t n) {
  if (*pos + n + 1 > size) return -1;
  memcpy(out + *pos, s, n);
  *pos += n;
  out[*pos] = '\0';
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decode n bytes of s into out (NUL-terminated). */
static void pct_decode(const char *s, size_t n, char *out, size_t size) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < size; i++) {
    if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
}

/* Decode the HTML character references an index page uses in attributes
 * and text (&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;). */
static void html_unescape(const char *s, size_t n, char *out, size_t size) {
  static const struct {
    const char *name;
    char c;
  } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < size; i++) {
    if (s[i] != '&') {
      out[o++] = s[i];
      continue;
    }
    int done = 0;
    for (size_t k = 0; k < sizeof named / sizeof named[0] && !done; k++) {
      size_t l = strlen(named[k].name);
      if (i + 1 + l <= n && strncmp(s + i + 1, named[k].name, l) == 0) {
        out[o++] = named[k].c;
        i += l;
        done = 1;
      }
    }
    if (!done && i + 2 < n && s[i + 1] == '#') {
      size_t j = i + 2;
      long v = 0;
      int base = 10, digits = 0;
      if (s[j] == 'x' || s[j] == 'X') {
        base = 16;
        j++;
      }
      for (; j < n && digits < 8; j++, digits++) {
        int h = hexval(s[j]);
        if (h < 0 || h >= base) break;
        v = v * base + h;
      }
      if (digits && j < n && s[j] == ';' && v > 0 && v < 128) {
        out[o++] = (char)v;
        i = j;
        done = 1;
      }
    }
    if (!done) out[o++] = '&';
  }
  out[o] = '\0';
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  size_t k = 0;
  while (s[k] && isspace((unsigned char)s[k])) k++;
  if (k) memmove(s, s + k, n - k + 1);
}

/* ---- URLs ---------------------------------------------------------------- */

/* FIC_ERR_INVALID_ARGUMENT "<what>: <url>", the URL's credentials hidden
 * (index URLs often carry a token as user:password@). */
static fic_status fail_url(const char *what, const char *url) {
  char shown[1024];
  fic__url_redact(url, shown, sizeof shown);
  return fic__fail(FIC_ERR_INVALID_ARGUMENT, "%s: %s", what, shown);
}

fic_status fic__url_encode_segment(const char *segment, char *out, size_t size) {
  static const char hx[] = "0123456789ABCDEF";
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)segment; *p; p++) {
    if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
      if (o + 2 > size) goto too_long;
      out[o++] = (char)*p;
    } else {
      if (o + 4 > size) goto too_long;
      out[o++] = '%';
      out[o++] = hx[*p >> 4];
      out[o++] = hx[*p & 15];
    }
  }
  if (!size) goto too_long;
  out[o] = '\0';
  return FIC_OK;
too_long:
  return fic__fail(FIC_ERR_INVALID_ARGUMENT, "URL segment too long: %s", segment);
}

/* Length of a URI scheme at the start of s ("https"), 0 if none. */
static size_t scheme_len(const char *s) {
  if (!isalpha((unsigned char)s[0])) return 0;
  size_t i = 1;
  while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') i++;
  return s[i] == ':' ? i : 0;
}

/* RFC 3986 5.2.4 on `path` (in place). */
static void remove_dot_segments(char *path) {
  char buf[URL_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  char *in = buf;
  size_t o = 0;
  while (*in) {
    if (strncmp(in, "../", 3) == 0) {
      in += 3;
    } else if (strncmp(in, "./", 2) == 0) {
      in += 2;
    } else if (strncmp(in, "/./", 3) == 0) {
      in += 2;
    } else if (strcmp(in, "/.") == 0) {
      in[1] = '\0';
    } else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
      if (in[3] == '/') {
        in += 3; /* "/../x" -> "/x" */
      } else {
        in += 2; /* "/.." -> "/" */
        in[0] = '/';
      }
      while (o > 0 && path[o - 1] != '/') o--;
      if (o > 0) o--;
    } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
      in += strlen(in);
    } else {
      size_t n = in[0] == '/' ? 1 + strcspn(in + 1, "/") : strcspn(in, "/");
      memmove(path + o, in, n);
      o += n;
      in += n;
    }
  }
  path[o] = '\0';
}

fic_status fic__url_join(const char *base, const char *ref, char *out, size_t size) {
  char buf[URL_MAX];
  size_t bs = scheme_len(base);
  if (!bs || strncmp(base + bs, "://", 3) != 0) return fail_url("not an absolute URL", base);
  const char *auth = base + bs + 3;
  size_t alen = strcspn(auth, "/?#");
  const char *bpath = auth + alen;
  size_t bplen = strcspn(bpath, "?#");

  /* Split ref into path and "?query" (the fragment was stripped by the caller,
   * but be safe). */
  size_t rlen = strcspn(ref, "#");
  int n;
  if (scheme_len(ref)) {
    n = snprintf(buf, sizeof buf, "%.*s", (int)rlen, ref);
  } else if (ref[0] == '/' && ref[1] == '/') {
    n = snprintf(buf, sizeof buf, "%.*s:%.*s", (int)bs, base, (int)rlen, ref);
  } else if (ref[0] == '/') {
    n = snprintf(buf, sizeof buf, "%.*s%.*s", (int)(bpath - base), base, (int)rlen, ref);
  } else if (rlen == 0) {
    n = snprintf(buf, sizeof buf, "%.*s", (int)(bpath - base + bplen), base);
  } else if (ref[0] == '?') {
    n = snprintf(buf, sizeof buf, "%.*s%.*s", (int)(bpath - base + bplen), base, (int)rlen, ref);
  } else {
    /* Merge: the base path up to its last '/', then ref. */
    size_t dir = bplen;
    while (dir > 0 && bpath[dir - 1] != '/') dir--;
    if (dir == 0)
      n = snprintf(buf, sizeof buf, "%.*s/%.*s", (int)(bpath - base), base, (int)rlen, ref);
    else
      n = snprintf(buf, sizeof buf, "%.*s%.*s", (int)(bpath - base + dir), base, (int)rlen, ref);
  }
  if (n < 0 || (size_t)n >= sizeof buf) return fail_url("URL too long", ref);

  /* Normalise the path of the result and escape what must be escaped. */
  size_t rs = scheme_len(buf);
  if (!rs || strncmp(buf + rs, "://", 3) != 0) return fail_url("bad URL", buf);
  char *rauth = buf + rs + 3;
  char *rpath = rauth + strcspn(rauth, "/?#");
  size_t rplen = strcspn(rpath, "?#");
  char path[URL_MAX], tail[URL_MAX];
  snprintf(tail, sizeof tail, "%s", rpath + rplen);
  snprintf(path, sizeof path, "%.*s", (int)rplen, rpath);
  remove_dot_segments(path);

  static const char hx[] = "0123456789ABCDEF";
  size_t pos = 0;
  if (put(out, size, &pos, buf, (size_t)(rpath - buf)) != 0) goto too_long;
  if (path[0] != '/' && put(out, size, &pos, "/", 1) != 0) goto too_long;
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    if (*p == '+' || *p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '<' || *p == '>') {
      char e[3] = {'%', hx[*p >> 4], hx[*p & 15]};
      if (put(out, size, &pos, e, 3) != 0) goto too_long;
    } else if (put(out, size, &pos, (const char *)p, 1) != 0) {
      goto too_long;
    }
  }
  if (put(out, size, &pos, tail, strlen(tail)) != 0) goto too_long;
  return FIC_OK;
too_long:
  return fail_url("URL too long", buf);
}

fic_status fic__pip_project_url(const char *index_url, const char *project, char *out, size_t size) {
  if (!index_url || !*index_url || !project || !*project)
    return fic__fail(FIC_ERR_INVALID_ARGUMENT, "no index URL or project name");
  /* PEP 503 normalisation: lower case, runs of -_. become one '-'. */
  char norm[256];
  size_t o = 0;
  for (const char *p = project; *p && o + 1 < sizeof norm; p++) {
    if (*p == '-' || *p == '_' || *p == '.') {
      if (o == 0 || norm[o - 1] != '-') norm[o++] = '-';
    } else {
      norm[o++] = (char)tolower((unsigned char)*p);
    }
  }
  norm[o] = '\0';
  size_t n = strlen(index_url);
  while (n > 0 && index_url[n - 1] == '/') n--;
  if ((size_t)snprintf(out, size, "%.*s/%s/", (int)n, index_url, norm) >= size)
    return fail_url("index URL too long", index_url);
  return FIC_OK;
}

/* ---- pip configuration --------------------------------------------------- */

/* The settings read from pip's configuration, and their names there and in
 * the environment. */
enum { PK_INDEX_URL, PK_CERT, PK_CLIENT_CERT, PK_TRUSTED_HOST, PK_COUNT };
static const char *const pip_key_names[PK_COUNT] = {"index-url", "cert", "client-cert", "trusted-host"};
static const char *const pip_env_names[PK_COUNT] = {"PIP_INDEX_URL", "PIP_CERT", "PIP_CLIENT_CERT", "PIP_TRUSTED_HOST"};

/* What the files say so far, per setting and section: [download] (the
 * command we mimic) beats [global] whatever the files' order, and within a
 * section a later file overrides an earlier one (pip merges dicts in load
 * order). A value pip would take but that cannot be a usable URL, path or
 * host list is kept as refused, with the reason: reported if it wins. */
typedef struct pip_conf_state {
  char value[2][PK_COUNT][URL_MAX]; /* [0] = [global], [1] = [download] */
  char origin[2][PK_COUNT][FIC_PATH_MAX];
  const char *refused[2][PK_COUNT]; /* why the value is unusable, or NULL */
} pip_conf_state;

/* What read_line saw besides the text. */
enum { LINE_READ = 1, LINE_CUT = 2, LINE_NUL = 4 };

/* One line of a config file, ended by "\n", "\r\n" or a lone "\r" (pip
 * reads with universal newlines). A longer line is cut to `size` (LINE_CUT);
 * a NUL byte, which pip keeps in the text, is stored as 0x01 (LINE_NUL) so
 * that the rest of the line is still parsed. Counts the bytes read against
 * *budget. Returns 0 at the end of the file, else LINE_READ | flags. */
static int read_line(FILE *f, char *line, size_t size, long *budget) {
  size_t n = 0;
  int c = EOF, flags = 0;
  while (*budget > 0 && (c = getc(f)) != EOF) {
    --*budget;
    flags |= LINE_READ;
    if (c == '\n') break;
    if (c == '\r') {
      int next = getc(f);
      if (next != '\n' && next != EOF) ungetc(next, f);
      break;
    }
    if (c == '\0') {
      flags |= LINE_NUL;
      c = 0x01;
    }
    if (n + 1 < size)
      line[n++] = (char)c;
    else
      flags |= LINE_CUT;
  }
  line[n] = '\0';
  return flags;
}

/* Open a config file for reading: only a regular file (PIP_CONFIG_FILE may
 * name /dev/zero or a FIFO with no writer, which would never end; O_NONBLOCK
 * keeps the open of a FIFO from blocking, fstat then refuses it). */
static FILE *open_conf(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return NULL;
  struct stat st;
  FILE *f = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
  if (!f) close(fd);
  return f;
}

/* The option a "key = value" line opened, which deeper-indented lines
 * continue (configparser), whether or not it is one of ours. */
typedef struct conf_option {
  int open;      /* an option line was seen in this section */
  size_t indent; /* of that line (or of the last non-continuation line) */
  int sec, k;    /* its slot in pip_conf_state; k < 0 when not ours */
} conf_option;

/* Point `o` at the slot a "key = value" line of `section` fills (o->k < 0
 * when none) and record where it came from. */
static void conf_slot(pip_conf_state *c, const char *path, const char *section, char *key, conf_option *o) {
  for (char *q = key; *q; q++) *q = *q == '_' ? '-' : (char)tolower((unsigned char)*q);
  o->sec = strcmp(section, "download") == 0 ? 1 : strcmp(section, "global") == 0 ? 0 : -1;
  o->k = -1;
  for (int k = 0; o->sec >= 0 && k < PK_COUNT; k++) {
    if (strcmp(key, pip_key_names[k]) != 0) continue;
    snprintf(c->origin[o->sec][k], FIC_PATH_MAX, "%s [%s] %s", path, section, pip_key_names[k]);
    o->k = k;
  }
}

/* Why a line read with `flags` cannot give a value verbatim, or NULL. */
static const char *line_problem(int flags) {
  if (flags & LINE_NUL) return "the value holds a NUL byte";
  if (flags & LINE_CUT) return "the value's line is longer than 8191 bytes";
  return NULL;
}

/* The first line of slot o's value, `text`, read with `flags`: taken
 * verbatim, or refused. */
static void conf_set(pip_conf_state *c, const conf_option *o, const char *text, int flags) {
  c->refused[o->sec][o->k] = line_problem(flags);
  snprintf(c->value[o->sec][o->k], URL_MAX, "%s", text);
}

/* An indented line that continues slot o. configparser joins the lines with
 * '\n': pip splits trusted-host on white space (a list, joined here with
 * spaces), but index-url, cert and client-cert are one string, so a second
 * line would be part of the URL or path. As before, the value may stand
 * alone on the line after "key =" (requests strips the leading '\n'). */
static void conf_continue(pip_conf_state *c, const conf_option *o, const char *text, int flags) {
  char *value = c->value[o->sec][o->k];
  size_t n = strlen(value);
  if (!n) {
    conf_set(c, o, text, flags);
  } else if (c->refused[o->sec][o->k]) {
    /* stays refused */
  } else if (o->k != PK_TRUSTED_HOST) {
    c->refused[o->sec][o->k] = "the value continues on a second line (pip would take the line break into it)";
  } else if (line_problem(flags)) {
    c->refused[o->sec][o->k] = line_problem(flags);
  } else if ((size_t)snprintf(value + n, URL_MAX - n, " %s", text) >= URL_MAX - n) {
    c->refused[o->sec][o->k] = "the value is longer than 8191 bytes";
  }
}

/* The name of a "[section]" line: from the first '[' to the last ']' (pip's
 * configparser), not trimmed; "" for an unnamed or cut header, which no
 * setting of ours is in. */
static void conf_section(const char *line, int flags, char *section, size_t size) {
  const char *end = strrchr(line, ']');
  size_t n = end ? (size_t)(end - line - 1) : 0;
  if ((flags & LINE_CUT) || n == 0 || n >= size) n = 0;
  memcpy(section, line + 1, n);
  section[n] = '\0';
}

/* Read one pip.conf (its first MiB) into `c`, as pip's configparser reads
 * it: comments and empty lines skipped; a line indented deeper than the
 * option line before it continues that option, whatever the option; other
 * lines are "[section]" or "key = value" (or ':'). */
static void read_pip_conf(const char *path, pip_conf_state *c) {
  FILE *f = open_conf(path);
  if (!f) return;
  long budget = 1L << 20;
  char line[URL_MAX], section[128] = "";
  conf_option opt = {0, 0, -1, -1};
  int flags;
  while ((flags = read_line(f, line, sizeof line, &budget)) != 0) {
    size_t indent = 0;
    while (isspace((unsigned char)line[indent])) indent++;
    trim(line);
    if (!line[0] || line[0] == '#' || line[0] == ';') continue;
    if (opt.open && indent > opt.indent) {
      if (opt.k >= 0) conf_continue(c, &opt, line, flags);
      continue;
    }
    opt.indent = indent;
    if (line[0] == '[' && (strrchr(line, ']') || (flags & LINE_CUT))) {
      conf_section(line, flags, section, sizeof section);
      opt.open = 0;
      continue;
    }
    size_t k = strcspn(line, "=:"), klen = k;
    if (!line[k] || k == 0) continue; /* configparser: a parsing error */
    while (klen && isspace((unsigned char)line[klen - 1])) klen--;
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(klen < sizeof key ? klen : 0), line); /* longer: none of ours */
    opt.open = 1;
    conf_slot(c, path, section, key, &opt);
    if (opt.k < 0) continue;
    trim(line + k + 1);
    conf_set(c, &opt, line + k + 1, flags);
  }
  fclose(f);
}

static int add_path(char paths[][FIC_PATH_MAX], int n, int max, const char *a, const char *b) {
  if (n >= max || !a || !*a) return n;
  if ((size_t)snprintf(paths[n], FIC_PATH_MAX, "%s%s", a, b ? b : "") >= FIC_PATH_MAX) return n;
  return n + 1;
}

/* pip's configuration files, lowest priority first, as pip loads them
 * (configuration.py: global, user, site, then PIP_CONFIG_FILE): every
 * XDG_CONFIG_DIRS entry in order, then /etc; ~/.pip, then the XDG user file
 * (skipped when PIP_CONFIG_FILE names an existing file); the virtualenv's;
 * PIP_CONFIG_FILE. Returns the count, or -1 when PIP_CONFIG_FILE is
 * /dev/null (pip then reads no file at all). */
static int pip_conf_files(char paths[][FIC_PATH_MAX], int max) {
  const char *cfg = fic__env("PIP_CONFIG_FILE");
  if (cfg && strcmp(cfg, "/dev/null") == 0) return -1;
  int n = 0;
  const char *dirs = fic__env("XDG_CONFIG_DIRS");
  char list[FIC_PATH_MAX], *save = NULL;
  snprintf(list, sizeof list, "%s", dirs ? dirs : "/etc/xdg");
  for (char *d = strtok_r(list, ":", &save); d; d = strtok_r(NULL, ":", &save))
    n = add_path(paths, n, max, d, "/pip/pip.conf");
  n = add_path(paths, n, max, "/etc/pip.conf", NULL);
  struct stat sb;
  if (!(cfg && stat(cfg, &sb) == 0)) {
    const char *xdg = fic__env("XDG_CONFIG_HOME"), *home = fic__env("HOME");
    n = add_path(paths, n, max, home, "/.pip/pip.conf");
    n = xdg ? add_path(paths, n, max, xdg, "/pip/pip.conf") : add_path(paths, n, max, home, "/.config/pip/pip.conf");
  }
  n = add_path(paths, n, max, fic__env("VIRTUAL_ENV"), "/pip.conf");
  return add_path(paths, n, max, cfg, NULL);
}

/* Copy the winning value of setting k into out/origin: the environment
 * variable, else [download], else [global]. A refused or too long winner
 * fails, naming where it came from (never the value: it may hold a token). */
static fic_status pick(const pip_conf_state *c, int k, char *out, size_t size, char *origin, size_t origin_size) {
  const char *v = fic__env(pip_env_names[k]), *from = pip_env_names[k], *refused = NULL;
  for (int sec = 1; !v && sec >= 0; sec--) {
    if (!c->value[sec][k][0] && !c->refused[sec][k]) continue;
    v = c->value[sec][k];
    from = c->origin[sec][k];
    refused = c->refused[sec][k];
  }
  if (!v) return FIC_OK;
  if (refused) return fic__fail(FIC_ERR_INVALID_ARGUMENT, "pip configuration %s: %s", from, refused);
  if ((size_t)snprintf(out, size, "%s", v) >= size) {
    out[0] = '\0';
    return fic__fail(FIC_ERR_INVALID_ARGUMENT, "pip configuration %s: the value is longer than %zu bytes", from,
                     size - 1);
  }
  if (origin && origin_size) snprintf(origin, origin_size, "%s", from);
  return FIC_OK;
}

static fic_status pick_all(const pip_conf_state *c, fic_pip_settings *out) {
  FIC_CHECK(pick(c, PK_INDEX_URL, out->index_url, sizeof out->index_url, out->index_origin, sizeof out->index_origin));
  FIC_CHECK(pick(c, PK_CERT, out->cert, sizeof out->cert, NULL, 0));
  FIC_CHECK(pick(c, PK_CLIENT_CERT, out->client_cert, sizeof out->client_cert, NULL, 0));
  FIC_CHECK(pick(c, PK_TRUSTED_HOST, out->trusted_hosts, sizeof out->trusted_hosts, NULL, 0));
  return FIC_OK;
}

fic_status fic__pip_settings(fic_pip_settings *out) {
  memset(out, 0, sizeof *out);
  enum { MAXP = 20 };
  char(*paths)[FIC_PATH_MAX] = malloc(sizeof(char[MAXP][FIC_PATH_MAX]));
  pip_conf_state *c = calloc(1, sizeof *c);
  if (!paths || !c) {
    free(paths);
    free(c);
    return fic__fail(FIC_ERR_NO_MEMORY, "out of memory reading the pip configuration");
  }
  int n = pip_conf_files(paths, MAXP);
  for (int i = 0; i < n; i++) read_pip_conf(paths[i], c);
  fic_status st = pick_all(c, out);
  if (st != FIC_OK) memset(out, 0, sizeof *out); /* nothing half-filled */
  free(paths);
  free(c);
  return st;
}

fic_status fic__pip_index_url(char *out, size_t size, char *origin, size_t origin_size) {
  fic_pip_settings *ps = malloc(sizeof *ps);
  if (!ps) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory reading the pip configuration");
  fic_status st = fic__pip_settings(ps);
  if (st == FIC_OK && !ps->index_url[0])
    st = fic__fail(FIC_ERR_NOT_FOUND, "no Python package index configured (PIP_INDEX_URL or index-url in pip.conf)");
  if (st == FIC_OK && (size_t)snprintf(out, size, "%s", ps->index_url) >= size)
    st = fic__fail(FIC_ERR_INVALID_ARGUMENT, "index-url too long");
  if (st == FIC_OK && origin && origin_size) snprintf(origin, origin_size, "%s", ps->index_origin);
  if (st != FIC_OK && size) out[0] = '\0';
  free(ps);
  return st;
}

/* ---- index pages --------------------------------------------------------- */

static const char *find_ci(const char *s, const char *end, const char *needle) {
  size_t n = strlen(needle);
  for (; s + n <= end; s++)
    if (strncasecmp(s, needle, n) == 0) return s;
  return NULL;
}

fic_status fic__index_find_link(const char *html, size_t len, const char *page_url, const char *filename,
                                const char *sha256_hex, char *out, size_t size) {
  const char *p = html, *end = html + len;
  char shown[1024];
  fic__url_redact(page_url, shown, sizeof shown);
  while ((p = find_ci(p, end, "<a")) != NULL) {
    p += 2;
    if (p < end && !isspace((unsigned char)*p) && *p != '>') continue;
    /* Attributes up to '>', honouring quotes. */
    const char *href = NULL;
    size_t href_len = 0;
    while (p < end && *p != '>') {
      while (p < end && (isspace((unsigned char)*p) || *p == '/')) p++;
      const char *name = p;
      while (p < end && !isspace((unsigned char)*p) && *p != '=' && *p != '>') p++;
      size_t name_len = (size_t)(p - name);
      while (p < end && isspace((unsigned char)*p)) p++;
      const char *val = NULL;
      size_t val_len = 0;
      if (p < end && *p == '=') {
        p++;
        while (p < end && isspace((unsigned char)*p)) p++;
        if (p < end && (*p == '"' || *p == '\'')) {
          char q = *p++;
          val = p;
          while (p < end && *p != q) p++;
          val_len = (size_t)(p - val);
          if (p < end) p++;
        } else {
          val = p;
          while (p < end && !isspace((unsigned char)*p) && *p != '>') p++;
          val_len = (size_t)(p - val);
        }
      }
      if (name_len == 4 && strncasecmp(name, "href", 4) == 0 && val) {
        href = val;
        href_len = val_len;
      }
      if (name_len == 0 && !val && p < end && *p != '>') p++; /* stray byte */
    }
    if (p >= end) break;
    p++; /* '>' */
    const char *text = p;
    const char *close = find_ci(p, end, "</a");
    size_t text_len = (size_t)((close ? close : end) - text);
    if (!href) continue;

    char h[URL_MAX], t[1024], seg[1024];
    html_unescape(href, href_len, h, sizeof h);
    html_unescape(text, text_len < 4096 ? text_len : 4096, t, sizeof t);
    trim(h);
    trim(t);
    char *frag = strchr(h, '#');
    if (frag) *frag++ = '\0';
    size_t plen = strcspn(h, "?");
    size_t s0 = plen;
    while (s0 > 0 && h[s0 - 1] != '/') s0--;
    pct_decode(h + s0, plen - s0, seg, sizeof seg);
    if (strcmp(t, filename) != 0 && strcmp(seg, filename) != 0) continue;

    if (frag && strncasecmp(frag, "sha256=", 7) == 0 && sha256_hex && strcasecmp(frag + 7, sha256_hex) != 0)
      return fic__fail(FIC_ERR_CHECKSUM, "the index page %s lists %s with sha256 %s, but the pinned sha256 is %s",
                       shown, filename, frag + 7, sha256_hex);
    return fic__url_join(page_url, h, out, size);
  }
  return fic__fail(FIC_ERR_NOT_FOUND, "no link to %s on the index page %s", filename, shown);
}

fic_status fic__index_resolve(const char *page_url, const fic_tls_opts *tls, const char *filename,
                              const char *sha256_hex, char *out, size_t size) {
  char *body = NULL;
  size_t len = 0;
  char eff[URL_MAX];
  FIC_CHECK(fic__http_get(page_url, tls, INDEX_PAGE_MAX, &body, &len, eff, sizeof eff));
  fic_status st = fic__index_find_link(body, len, eff, filename, sha256_hex, out, size);
  free(body);
  return st;
}

/* ---- pip download fallback ----------------------------------------------- */

static void rm_dir_flat(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char p[FIC_PATH_MAX];
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p) unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* The last `max` bytes of a text file, one line. */
static void file_tail(const char *path, char *out, size_t max) {
  out[0] = '\0';
  FILE *f = fopen(path, "re");
  if (!f) return;
  if (fseek(f, 0, SEEK_END) == 0) {
    long sz = ftell(f);
    long from = sz > (long)max - 1 ? sz - (long)max + 1 : 0;
    if (fseek(f, from, SEEK_SET) == 0) {
      size_t n = fread(out, 1, max - 1, f);
      out[n] = '\0';
      for (size_t i = 0; i < n; i++)
        if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
      trim(out);
    }
  }
  fclose(f);
}

/* "cp310" -> "3.10"; the last platform tag of the file name
 * ("manylinux_2_28_x86_64"). */
static void wheel_tags(const char *filename, char *pyver, size_t pv_size, char *plat, size_t pl_size) {
  snprintf(pyver, pv_size, "3.10");
  plat[0] = '\0';
  char name[512];
  snprintf(name, sizeof name, "%s", filename);
  size_t n = strlen(name);
  if (n > 4 && strcmp(name + n - 4, ".whl") == 0) name[n - 4] = '\0';
  char *parts[8];
  int np = 0;
  char *save = NULL;
  for (char *t = strtok_r(name, "-", &save); t && np < 8; t = strtok_r(NULL, "-", &save)) parts[np++] = t;
  if (np < 5) return;
  const char *py = parts[np - 3];
  if (strncmp(py, "cp", 2) == 0 && isdigit((unsigned char)py[2]) && isdigit((unsigned char)py[3]))
    snprintf(pyver, pv_size, "%c.%s", py[2], py + 3);
  const char *pl = strrchr(parts[np - 1], '.');
  snprintf(plat, pl_size, "%s", pl ? pl + 1 : parts[np - 1]);
}

/* The `python -m pip download` command line for `w` into directory `dir`. */
typedef struct pip_cmd {
  char pyver[16], plat[128], req[256];
  char *argv[16];
} pip_cmd;

static void pip_command(pip_cmd *c, const char *python, const fic_pinned_wheel *w, char *dir) {
  wheel_tags(w->filename, c->pyver, sizeof c->pyver, c->plat, sizeof c->plat);
  if (!c->plat[0]) snprintf(c->plat, sizeof c->plat, "manylinux_2_28_%s", w->arch);
  snprintf(c->req, sizeof c->req, "%s==%s", w->project, w->version);
  char *const argv[] = {(char *)python,
                        "-m",
                        "pip",
                        "download",
                        "--no-deps",
                        "--only-binary=:all:",
                        "--platform",
                        c->plat,
                        "--python-version",
                        c->pyver,
                        "--disable-pip-version-check",
                        "--no-input",
                        "-d",
                        dir,
                        c->req,
                        NULL};
  memcpy(c->argv, argv, sizeof argv);
}

/* Run pip with stdout and stderr to `log`; *exit_code is its exit status,
 * 0 also when SIGCHLD is ignored by the application (no status to read). */
static fic_status run_pip(const char *python, pip_cmd *c, const char *log, const char *filename, int *exit_code) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int err = posix_spawnp(&pid, python, &fa, NULL, c->argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  char tail[512] = "";
  if (!err) {
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    int no_status = r < 0 && errno == ECHILD; /* SIGCHLD ignored by the application */
    *exit_code = no_status ? 0 : r == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (*exit_code == 0) return FIC_OK;
    file_tail(log, tail, sizeof tail);
    if (*exit_code != 127 || tail[0]) /* 127 and silence: exec failed in the child */
      return fic__fail(FIC_ERR_NETWORK, "\"%s -m pip download %s\" failed (exit %d): %s", python, c->req, *exit_code,
                       tail[0] ? tail : "(no output)");
  }
  return fic__fail(FIC_ERR_NOT_FOUND,
                   "no Python package index is configured (PIP_INDEX_URL or index-url in pip.conf) and "
                   "\"%s -m pip\" cannot be run%s%s; set PIP_INDEX_URL or pass the %s wheel by path",
                   python, err ? ": " : "", err ? strerror(err) : "", filename);
}

/* Check what pip left in `file` and move it to `dest`. */
static fic_status publish_pip_file(const fic_pinned_wheel *w, const char *file, const char *dest, const char *python,
                                   const char *req, uint64_t *size) {
  struct stat sb;
  if (stat(file, &sb) != 0)
    return fic__fail(FIC_ERR_NOT_FOUND, "\"%s -m pip download %s\" did not produce %s", python, req, w->filename);
  char got[65];
  FIC_CHECK(fic__sha256_file(file, got));
  if (strcasecmp(got, w->sha256) != 0)
    return fic__fail(FIC_ERR_CHECKSUM, "SHA-256 mismatch for %s fetched by pip: expected %s, got %s", w->filename,
                     w->sha256, got);
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  if (rename(file, dest) != 0) return fic__fail_errno("cannot move the downloaded wheel to", dest);
  *size = (uint64_t)sb.st_size;
  return fic__fsync_parent(dest);
}

/* With the download lock of `dest` held: pip into <dest>.pip-<pid>-XXXXXX
 * (the pid lets the cache GC remove the directory of a killed run), then
 * verify and move the wheel. */
static fic_status pip_download_locked(const fic_pinned_wheel *w, const char *dest, fic_progress_fn progress,
                                      void *user) {
  const char *python = fic__env("FLASHINFER_C_PYTHON");
  if (!python) python = "python3";
  char tmp[FIC_PATH_MAX], log[FIC_PATH_MAX], file[FIC_PATH_MAX];
  FIC_CHECK(fic__pathf(tmp, sizeof tmp, "%s.pip-%ld-XXXXXX", dest, (long)getpid()));
  if (!mkdtemp(tmp)) return fic__fail_errno("cannot create a temporary directory", tmp);
  pip_cmd cmd;
  pip_command(&cmd, python, w, tmp);
  int code = 0;
  uint64_t size = 0;
  fic_status st = fic__pathf(log, sizeof log, "%s/pip.log", tmp);
  if (st == FIC_OK) st = fic__pathf(file, sizeof file, "%s/%s", tmp, w->filename);
  if (st == FIC_OK && progress) (void)progress(user, w->filename, 0, 0);
  if (st == FIC_OK) st = run_pip(python, &cmd, log, w->filename, &code);
  if (st == FIC_OK) st = publish_pip_file(w, file, dest, python, cmd.req, &size);
  if (st == FIC_OK && progress) (void)progress(user, w->filename, size, size);
  rm_dir_flat(tmp);
  return st;
}

/* `pip download`, serialised like fic__download: under the download lock of
 * `dest`, so that N processes starting cold run pip once and the others find
 * the wheel published. */
static fic_status pip_download(const fic_pinned_wheel *w, const char *dest, fic_progress_fn progress, void *user) {
  if (!w->project || !w->version)
    return fic__fail(FIC_ERR_INTERNAL, "pinned wheel %s has no project name or version", w->filename);
  FIC_CHECK(fic__mkdir_parent(dest, 0755));
  int lock = -1;
  FIC_CHECK(fic__download_lock(dest, &lock));
  fic_status st = FIC_OK;
  if (!fic__download_published(dest, w->sha256)) st = pip_download_locked(w, dest, progress, user);
  fic__download_unlock(dest, lock);
  return st;
}

fic_status fic__fetch_from_pip(const fic_pinned_wheel *w, const char *dest, fic_progress_fn progress, void *user,
                               int *aborted) {
  if (aborted) *aborted = 0;
  fic_pip_settings *ps = malloc(sizeof *ps);
  if (!ps) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory reading the pip configuration");
  char page[URL_MAX], url[URL_MAX];
  fic_status st = fic__pip_settings(ps);
  fic_tls_opts tls = {ps->cert, ps->client_cert, ps->trusted_hosts};
  if (st == FIC_OK && !ps->index_url[0]) {
    st = pip_download(w, dest, progress, user); /* pip knows its default index */
  } else if (st == FIC_OK) {
    st = fic__pip_project_url(ps->index_url, w->project, page, sizeof page);
    if (st == FIC_OK && fic__index_resolve(page, &tls, w->filename, w->sha256, url, sizeof url) != FIC_OK)
      st = fic__fail_context("resolving %s through the index from %s", w->filename, ps->index_origin);
    if (st == FIC_OK) st = fic__download_ex(url, &tls, dest, w->sha256, w->filename, progress, user, aborted);
  }
  free(ps);
  return st;
}
