/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz configuration from the environment and small cache files: hostile
 * values of every variable the artifact layer reads, the wheel-id memo and a
 * lock file's recorded pid.
 *
 * Input: NUL-separated fields, in this order (fields past the end are unset):
 *   0 FLASHINFER_C_CACHE_DIR   1 FLASHINFER_RS_CACHE_DIR  2 XDG_CACHE_HOME
 *   3 HOME                     4 (explicit fic_config.cache_dir)
 *   5 PIP_INDEX_URL            6 PIP_CONFIG_FILE          7 VIRTUAL_ENV
 *   8 XDG_CONFIG_HOME          9 XDG_CONFIG_DIRS          10 FLASHINFER_C_SEED_DIRS
 *   11 FLASHINFER_C_JIT_CACHE_WHEEL  12 FLASHINFER_C_TVMFFI_WHEEL
 *   13 (architecture for the pinned table)  14 (wheel-id memo file content)
 *   15 (lock file content)     16 (':'-separated module list)
 *
 * Oracles:
 *   - fic__cache_root agrees with an independent model of the documented
 *     precedence (explicit, FLASHINFER_C_, FLASHINFER_RS_, absolute
 *     XDG_CACHE_HOME + /flashinfer-c, HOME + /.cache/flashinfer-c; relative
 *     values against the working directory; trailing slashes dropped), and
 *     never overflows a small buffer;
 *   - fic__pip_index_url returns OK/NOT_FOUND/INVALID_ARGUMENT and
 *     PIP_INDEX_URL wins verbatim;
 *   - the pinned table answers exactly the four architecture spellings;
 *   - a memo is trusted only when well formed ("fic-wheel-id-v<n>\t<key
 *     fields>\t<sha>\n<realpath>\n"); otherwise the true SHA-256 comes back;
 *   - fic__artifacts_prepare (offline, cache under our root) never returns
 *     INTERNAL and a success verifies. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/cache_lock.h"
#include "artifacts/internal.h"
#include "artifacts/pinned.h"
#include "artifacts/pip_index.h"
#include "fuzz_common.h"

#define NFIELDS 17
static const char *const k_env[] = {"FLASHINFER_C_CACHE_DIR",
                                    "FLASHINFER_RS_CACHE_DIR",
                                    "XDG_CACHE_HOME",
                                    "HOME",
                                    NULL,
                                    "PIP_INDEX_URL",
                                    "PIP_CONFIG_FILE",
                                    "VIRTUAL_ENV",
                                    "XDG_CONFIG_HOME",
                                    "XDG_CONFIG_DIRS",
                                    "FLASHINFER_C_SEED_DIRS",
                                    "FLASHINFER_C_JIT_CACHE_WHEEL",
                                    "FLASHINFER_C_TVMFFI_WHEEL",
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL};

static char g_root[4096], g_memo_root[4096], g_wheel[4096], g_real[4096], g_sha[65], g_memo[8192], g_lock[4096];

static void init(void) {
  fz_clean_env();
  snprintf(g_root, sizeof g_root, "%s", fz_path("root"));
  snprintf(g_memo_root, sizeof g_memo_root, "%s", fz_path("memo-root"));
  snprintf(g_wheel, sizeof g_wheel, "%s", fz_path("w.whl"));
  snprintf(g_lock, sizeof g_lock, "%s", fz_path("x.lock"));
  fz_write_file(g_wheel, "not really a wheel\n", 19);
  FZ_CHECK(realpath(g_wheel, g_real) != NULL, "realpath");
  FZ_CHECK(fic__sha256_file(g_wheel, g_sha) == FIC_OK, "sha256 of the memo wheel");
  char key[65];
  FZ_CHECK(fic__sha256_buf(g_real, strlen(g_real), key) == FIC_OK, "sha256 of the realpath");
  snprintf(g_memo, sizeof g_memo, "%s/wheel-ids/%s", g_memo_root, key);
  char ids[4096];
  snprintf(ids, sizeof ids, "%s/wheel-ids", g_memo_root);
  fz_mkdirs(ids);
}

/* Model of the documented cache-root precedence; 0 if none applies. */
static int model_root(const char *explicit_dir, char *out, size_t size, int *too_long) {
  const char *v = NULL, *suffix = "";
  const char *e1 = getenv("FLASHINFER_C_CACHE_DIR"), *e2 = getenv("FLASHINFER_RS_CACHE_DIR");
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (explicit_dir && *explicit_dir)
    v = explicit_dir;
  else if (e1 && *e1)
    v = e1;
  else if (e2 && *e2)
    v = e2;
  else if (xdg && xdg[0] == '/')
    v = xdg, suffix = "/flashinfer-c";
  else if (home && *home)
    v = home, suffix = "/.cache/flashinfer-c";
  if (!v) return 0;
  char cwd[4096] = "";
  if (v[0] != '/') FZ_CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
  int n = v[0] == '/' ? snprintf(out, size, "%s%s", v, suffix) : snprintf(out, size, "%s/%s%s", cwd, v, suffix);
  *too_long = n < 0 || (size_t)n >= size;
  size_t len = strlen(out);
  while (len > 1 && out[len - 1] == '/') out[--len] = '\0';
  return 1;
}

static void check_cache_root(const char *explicit_dir) {
  static char out[FIC_PATH_MAX], want[FIC_PATH_MAX + 64];
  int too_long = 0;
  int have = model_root(explicit_dir, want, FIC_PATH_MAX, &too_long);
  fic_status s = fic__cache_root(explicit_dir, out, sizeof out);
  if (!have) {
    FZ_CHECK(s == FIC_ERR_NOT_FOUND, "cache_root with nothing set -> %s", fic_status_string(s));
    return;
  }
  if (too_long) {
    FZ_CHECK(s == FIC_ERR_INVALID_ARGUMENT, "over-long cache root -> %s", fic_status_string(s));
    return;
  }
  FZ_CHECK(s == FIC_OK, "cache_root -> %s: %s", fic_status_string(s), fic_last_error_message());
  FZ_CHECK(!strcmp(out, want), "cache_root is \"%s\", the documented precedence gives \"%s\"", out, want);
  /* A small buffer: a clean error, never an overflow or a truncated root. */
  size_t small = 1 + strlen(want) / 2;
  char *o2 = malloc(small);
  s = fic__cache_root(explicit_dir, o2, small);
  FZ_CHECK(s == FIC_ERR_INVALID_ARGUMENT || (s == FIC_OK && !strcmp(o2, want)), "small buffer -> %s",
           fic_status_string(s));
  free(o2);
}

static void check_memo(const char *content, size_t len) {
  fz_write_file(g_memo, content, len);
  char got[65];
  fic_status s = fic__wheel_sha256(g_memo_root, g_wheel, got);
  FZ_CHECK(s == FIC_OK, "wheel_sha256 -> %s: %s", fic_status_string(s), fic_last_error_message());
  if (!strcmp(got, g_sha)) return;
  /* A SHA-256 other than the file's may only come from a well-formed memo:
   * "fic-wheel-id-v<n>\t<key fields>\t<that sha>\n<realpath>\n". (The key
   * fields are the library's business; their format changed once already.) */
  char tail[8192];
  int n = snprintf(tail, sizeof tail, "\t%s\n%s\n", got, g_real);
  FZ_CHECK(n > 0 && len > (size_t)n && !strncmp(content, "fic-wheel-id-v", 14) &&
               !memcmp(content + len - (size_t)n, tail, (size_t)n) && !memchr(content, '\n', len - (size_t)n),
           "a malformed memo was trusted: sha %s", got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    init();
    ready = 1;
  }
  char *buf = malloc(size + 1);
  memcpy(buf, data, size);
  buf[size] = '\0';
  const char *field[NFIELDS] = {0};
  size_t flen[NFIELDS] = {0};
  int nf = 0;
  for (size_t start = 0; nf < NFIELDS && start <= size;) {
    const char *z = memchr(buf + start, '\0', size - start + 1);
    field[nf] = buf + start;
    flen[nf] = (size_t)(z - (buf + start));
    nf++;
    start = (size_t)(z - buf) + 1;
    if (start > size) break;
  }
  fz_clean_env();
  for (int i = 0; i < NFIELDS; i++) {
    if (!k_env[i]) continue;
    if (i < nf)
      setenv(k_env[i], field[i], 1);
    else
      unsetenv(k_env[i]);
  }
  const char *explicit_dir = nf > 4 ? field[4] : NULL;

  check_cache_root(explicit_dir);

  static char url[8192], origin[8192];
  fic_status s = fic__pip_index_url(url, sizeof url, origin, sizeof origin);
  FZ_CHECK(s == FIC_OK || s == FIC_ERR_NOT_FOUND || s == FIC_ERR_INVALID_ARGUMENT, "pip_index_url -> %s",
           fic_status_string(s));
  const char *piu = getenv("PIP_INDEX_URL");
  if (piu && *piu && strlen(piu) < sizeof url)
    FZ_CHECK(s == FIC_OK && !strcmp(url, piu) && !strcmp(origin, "PIP_INDEX_URL"), "PIP_INDEX_URL not used verbatim");

  if (nf > 13) {
    const char *arch = field[13];
    int known = !strcmp(arch, "x86_64") || !strcmp(arch, "aarch64") || !strcmp(arch, "amd64") || !strcmp(arch, "arm64");
    for (int k = 0; k < 2; k++) {
      const fic_pinned_wheel *w = NULL;
      s = fic__pinned_wheel((fic_wheel_kind)k, arch, &w);
      FZ_CHECK((s == FIC_OK) == known && (s == FIC_OK) == (w != NULL), "pinned(%d, \"%s\") -> %s", k, arch,
               fic_status_string(s));
      FZ_CHECK(known || s == FIC_ERR_UNSUPPORTED, "pinned for an unknown arch -> %s", fic_status_string(s));
    }
  }
  if (nf > 14) check_memo(field[14], flen[14]);
  if (nf > 15) {
    fz_write_file(g_lock, field[15], flen[15]);
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%s", field[15]);
    long want = flen[15] ? strtol(tmp, NULL, 10) : 0;
    FZ_CHECK(fic__lock_holder(g_lock) == want, "lock holder %ld, file says %ld", fic__lock_holder(g_lock), want);
  }

  /* The whole preparation, offline, with the cache under our root. */
  const char *mods[40] = {"fic_test", NULL};
  char *modbuf = NULL;
  if (nf > 16) {
    modbuf = strdup(field[16]);
    int m = 0;
    char *save = NULL;
    for (char *t = strtok_r(modbuf, ":", &save); t && m < 39; t = strtok_r(NULL, ":", &save)) mods[m++] = t;
    mods[m] = NULL;
  }
  fz_rmtree(g_root);
  fic_config c;
  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.cache_dir = g_root;
  c.modules = mods;
  c.offline = 1;
  c.lock_timeout_s = 5;
  fic_artifacts *a = calloc(1, sizeof *a);
  s = fic__artifacts_prepare(&c, a);
  FZ_CHECK(s != FIC_ERR_INTERNAL, "prepare -> INTERNAL: %s", fic_last_error_message());
  if (s == FIC_OK) {
    FZ_CHECK(!strncmp(a->artifact_dir, g_root, strlen(g_root)), "entry %s outside the root", a->artifact_dir);
    FZ_CHECK(fic__artifacts_verify(a) == FIC_OK, "fresh entry fails verification");
  }
  free(a);
  free(modbuf);
  free(buf);
  return 0;
}
