/* SPDX-License-Identifier: Apache-2.0 */
/* The pinned wheels of flashinfer-c v1 (facts only), and fetching one of them.
 *
 * base_urls lines are tried in order. A plain line is a URL prefix: the
 * percent-encoded file name ('+' -> %2B) is appended. A line starting with
 * "index:" is an index page (PEP 503 style HTML: FlashInfer's wheel index)
 * in which the anchor for the file name is looked up. base_urls == NULL means
 * "the Python package index of the user's pip configuration" (pip_index.c):
 * no registry host appears in this library. */
#include "artifacts/pinned.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "artifacts/artifacts.h"
#include "artifacts/pip_index.h"
#include "common/error.h"

#define JIT_SOURCES                                                         \
  "https://github.com/flashinfer-ai/flashinfer/releases/download/v0.6.3/\n" \
  "index:https://flashinfer.ai/whl/cu130/flashinfer-jit-cache/"

static const fic_pinned_wheel pinned_wheels[] = {
    {FIC_WHEEL_JIT_CACHE, "x86_64", "flashinfer-jit-cache", "0.6.3+cu130",
     "flashinfer_jit_cache-0.6.3+cu130-cp39-abi3-manylinux_2_28_x86_64.whl",
     "e5b0560aa02befa2964c76b8f9302959ed9fb2f558765b974753d68c4f8b4e1e", JIT_SOURCES},
    {FIC_WHEEL_JIT_CACHE, "aarch64", "flashinfer-jit-cache", "0.6.3+cu130",
     "flashinfer_jit_cache-0.6.3+cu130-cp39-abi3-manylinux_2_28_aarch64.whl",
     "458fcf5a854334062503ce28bd6521c16029d2248246532421e824e8273b8a81", JIT_SOURCES},
    {FIC_WHEEL_TVMFFI, "x86_64", "apache-tvm-ffi", "0.1.3",
     "apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
     "48ad3df2224f1b0943344895c6cba2f3f0a53bc67ddafdd3e9d7a34f56100aa9", NULL},
    {FIC_WHEEL_TVMFFI, "aarch64", "apache-tvm-ffi", "0.1.3",
     "apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_24_aarch64.manylinux_2_28_aarch64.whl",
     "ff65bf8a96dbbd2725937ff1502e52571e7a90d81d355a21a303328dd06449cc", NULL},
};

fic_status fic__pinned_wheel(fic_wheel_kind kind, const char *arch, const fic_pinned_wheel **out) {
  if (!out) return fic__fail_arg("out", "NULL output pointer");
  *out = NULL;
  if (kind != FIC_WHEEL_JIT_CACHE && kind != FIC_WHEEL_TVMFFI)
    return fic__fail_arg("kind", "unknown wheel kind %d", (int)kind);
  struct utsname u;
  if (!arch) {
    if (uname(&u) != 0) return fic__fail(FIC_ERR_INTERNAL, "uname failed: %s", strerror(errno));
    arch = u.machine;
  }
  if (strcmp(arch, "arm64") == 0) arch = "aarch64";
  if (strcmp(arch, "amd64") == 0) arch = "x86_64";
  for (size_t i = 0; i < sizeof pinned_wheels / sizeof pinned_wheels[0]; i++) {
    if (pinned_wheels[i].kind == kind && strcmp(pinned_wheels[i].arch, arch) == 0) {
      *out = &pinned_wheels[i];
      return FIC_OK;
    }
  }
  return fic__fail(FIC_ERR_UNSUPPORTED, "no pinned %s wheel for the %s architecture (x86_64 and aarch64 only)",
                   kind == FIC_WHEEL_JIT_CACHE ? "flashinfer-jit-cache" : "apache-tvm-ffi", arch);
}

/* Failures of one source that another source might not have. */
static int source_specific(fic_status st) {
  return st == FIC_ERR_NETWORK || st == FIC_ERR_NOT_FOUND || st == FIC_ERR_CHECKSUM;
}

fic_status fic__fetch_pinned(const fic_pinned_wheel *w, const char *dest, fic_progress_fn progress, void *user) {
  if (!w || !w->filename || !w->sha256) return fic__fail_arg("w", "no pinned wheel");
  if (!dest || !*dest) return fic__fail_arg("dest", "no destination path");
  int aborted = 0;
  if (!w->base_urls) {
    fic_status st = fic__fetch_from_pip(w, dest, progress, user, &aborted);
    return st == FIC_OK ? st : fic__fail_context("cannot fetch %s", w->filename);
  }

  char summary[3072] = "";
  size_t used = 0;
  fic_status last = FIC_ERR_NOT_FOUND;
  int tried = 0;
  const char *p = w->base_urls;
  while (*p) {
    size_t n = strcspn(p, "\n");
    char line[2048], url[8192];
    if (n >= sizeof line) return fic__fail(FIC_ERR_INTERNAL, "pinned source URL too long");
    memcpy(line, p, n);
    line[n] = '\0';
    p += n + (p[n] == '\n');
    if (!line[0]) continue;
    tried++;

    fic_status st;
    if (strncmp(line, "index:", 6) == 0) {
      st = fic__index_resolve(line + 6, NULL, w->filename, w->sha256, url, sizeof url);
    } else {
      char seg[1024];
      st = fic__url_encode_segment(w->filename, seg, sizeof seg);
      if (st == FIC_OK && (size_t)snprintf(url, sizeof url, "%s%s", line, seg) >= sizeof url)
        st = fic__fail(FIC_ERR_INTERNAL, "URL too long");
    }
    if (st == FIC_OK) st = fic__download_ex(url, NULL, dest, w->sha256, w->filename, progress, user, &aborted);
    if (st == FIC_OK) return FIC_OK;
    if (aborted || !source_specific(st)) return st; /* stopped by the caller, disk full, ... */
    last = st;
    int k =
        snprintf(summary + used, sizeof summary - used, "%s[%d] %s", used ? "; " : "", tried, fic_last_error_message());
    if (k > 0) used = used + (size_t)k < sizeof summary ? used + (size_t)k : sizeof summary - 1;
  }
  return fic__fail(last, "cannot download %s from any of its %d source%s: %s", w->filename, tried,
                   tried == 1 ? "" : "s", summary);
}
