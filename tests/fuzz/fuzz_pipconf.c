/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the pip configuration parser: the input is the file PIP_CONFIG_FILE
 * names; the user and site files are redirected to empty directories.
 *
 * Oracles: statuses are OK, NOT_FOUND (no index-url) or INVALID_ARGUMENT
 * (too long); an index URL found in our file is a substring of the input,
 * the whole value of one line (F24), with no leading or trailing white
 * space and no '\n'; the origin names the file and section it came from; a
 * smaller output buffer gives the same URL or "too long", never a different
 * or unterminated one. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/pip_index.h"
#include "fuzz_common.h"

#define URL_MAX 8192

static char g_conf[4096];

static void init(void) {
  fz_clean_env();
  snprintf(g_conf, sizeof g_conf, "%s", fz_path("pip.conf"));
  const char *home = fz_path("home");
  fz_mkdirs(home);
  setenv("HOME", home, 1);
  const char *xdg = fz_path("xdg");
  fz_mkdirs(xdg);
  setenv("XDG_CONFIG_DIRS", xdg, 1);
  unsetenv("XDG_CONFIG_HOME");
  unsetenv("VIRTUAL_ENV");
  setenv("PIP_CONFIG_FILE", g_conf, 1);
}

static int blank(uint8_t c) { return c != '\n' && c != '\r' && isspace(c); }

/* Does `v` (n bytes) occur in the file as the whole value of one line: after
 * '=' or ':' or at the start of a line (a continuation), and before the end
 * of the line, white space aside? pip's configparser takes a value from
 * whole lines; a piece of one, or pieces of several, is a different URL. */
static int whole_value(const uint8_t *data, size_t size, const char *v, size_t n) {
  for (const uint8_t *p = data; (p = memmem(p, size - (size_t)(p - data), v, n)) != NULL; p++) {
    const uint8_t *b = p, *e = p + n, *end = data + size;
    while (b > data && blank(b[-1])) b--;
    while (e < end && blank(*e)) e++;
    int starts = b == data || b[-1] == '=' || b[-1] == ':' || b[-1] == '\n' || b[-1] == '\r';
    if (starts && (e == end || *e == '\n' || *e == '\r')) return 1;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    init();
    ready = 1;
  }
  fz_write_file(g_conf, data, size);
  static char out[URL_MAX], origin[4096 + 64];
  fic_status s = fic__pip_index_url(out, sizeof out, origin, sizeof origin);
  FZ_CHECK(s == FIC_OK || s == FIC_ERR_NOT_FOUND || s == FIC_ERR_INVALID_ARGUMENT, "pip_index_url -> %s",
           fic_status_string(s));
  if (s != FIC_OK) return 0;
  size_t n = strlen(out);
  FZ_CHECK(n > 0, "empty index URL accepted");
  FZ_CHECK(!isspace((unsigned char)out[0]) && !isspace((unsigned char)out[n - 1]), "untrimmed index URL \"%s\"", out);
  /* A lone '\r' inside a line stays in the value (pip's universal newlines
   * would split there; see docs/reliability.md, finding pipconf-cr). */
  FZ_CHECK(!strchr(out, '\n'), "index URL with a line break");
  if (!strncmp(origin, g_conf, strlen(g_conf))) {
    FZ_CHECK(memmem(data, size, out, n) != NULL, "index URL \"%s\" is not in the file", out);
    FZ_CHECK(whole_value(data, size, out, n), "index URL \"%s\" is not the whole value of one line", out);
    FZ_CHECK(strstr(origin, "[download]") || strstr(origin, "[global]"), "origin without a section: %s", origin);
  }
  size_t small = 1 + (size % 61);
  char *o2 = malloc(small);
  fic_status s2 = fic__pip_index_url(o2, small, NULL, 0);
  FZ_CHECK((s2 == FIC_OK && !strcmp(o2, out)) || (s2 == FIC_ERR_INVALID_ARGUMENT && n + 1 > small),
           "a %zu-byte buffer gives %s instead of \"%s\"", small, fic_status_string(s2), out);
  free(o2);
  return 0;
}
