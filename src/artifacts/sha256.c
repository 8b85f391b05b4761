/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 through OpenSSL's EVP interface (libcrypto), streaming. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "artifacts/internal.h"
#include "common/error.h"

fic_status fic__sha256_begin(fic_sha256 *h) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return fic__fail(FIC_ERR_NO_MEMORY, "EVP_MD_CTX_new failed");
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(ctx);
    return fic__fail(FIC_ERR_INTERNAL, "EVP_DigestInit_ex(SHA-256) failed");
  }
  h->ctx = ctx;
  return FIC_OK;
}

fic_status fic__sha256_update(fic_sha256 *h, const void *data, size_t len) {
  if (len && EVP_DigestUpdate((EVP_MD_CTX *)h->ctx, data, len) != 1)
    return fic__fail(FIC_ERR_INTERNAL, "EVP_DigestUpdate failed");
  return FIC_OK;
}

fic_status fic__sha256_end(fic_sha256 *h, char out_hex[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)h->ctx, md, &n);
  EVP_MD_CTX_free((EVP_MD_CTX *)h->ctx);
  h->ctx = NULL;
  if (ok != 1 || n != 32) return fic__fail(FIC_ERR_INTERNAL, "EVP_DigestFinal_ex failed");
  static const char hex[] = "0123456789abcdef";
  for (unsigned i = 0; i < 32; i++) {
    out_hex[2 * i] = hex[md[i] >> 4];
    out_hex[2 * i + 1] = hex[md[i] & 15];
  }
  out_hex[64] = '\0';
  return FIC_OK;
}

void fic__sha256_abort(fic_sha256 *h) {
  if (h && h->ctx) EVP_MD_CTX_free((EVP_MD_CTX *)h->ctx);
  if (h) h->ctx = NULL;
}

fic_status fic__sha256_buf(const void *data, size_t len, char out_hex[65]) {
  fic_sha256 h = {NULL};
  FIC_CHECK(fic__sha256_begin(&h));
  fic_status s = fic__sha256_update(&h, data, len);
  if (s != FIC_OK) {
    fic__sha256_abort(&h);
    return s;
  }
  return fic__sha256_end(&h, out_hex);
}

/* Feed bytes of fd from offset 0 into h: `len` of them, or up to the end of
 * the file when len is UINT64_MAX. */
static fic_status hash_range(fic_sha256 *h, int fd, uint64_t len, const char *name) {
  unsigned char *buf = malloc(FIC_IO_BUFFER);
  if (!buf) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory hashing %s", name);
  fic_status s = FIC_OK;
  uint64_t off = 0;
  while (s == FIC_OK && off < len) {
    size_t want = len - off < FIC_IO_BUFFER ? (size_t)(len - off) : FIC_IO_BUFFER;
    ssize_t n = pread(fd, buf, want, (off_t)off); /* from the start, whatever the offset */
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = fic__fail_errno("cannot read", name);
    } else if (n == 0) {
      if (len != UINT64_MAX) s = fic__fail(FIC_ERR_IO, "cannot read %s: the file shrank while it was hashed", name);
      break;
    } else {
      off += (uint64_t)n;
      s = fic__sha256_update(h, buf, (size_t)n);
    }
  }
  free(buf);
  return s;
}

fic_status fic__sha256_fd_prefix(fic_sha256 *h, int fd, uint64_t len, const char *name) {
  return hash_range(h, fd, len, name);
}

fic_status fic__sha256_fd(int fd, const char *name, char out_hex[65]) {
  fic_sha256 h = {NULL};
  FIC_CHECK(fic__sha256_begin(&h));
  fic_status s = hash_range(&h, fd, UINT64_MAX, name);
  if (s != FIC_OK) {
    fic__sha256_abort(&h);
    return s;
  }
  return fic__sha256_end(&h, out_hex);
}

fic_status fic__sha256_file(const char *path, char out_hex[65]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fic__fail_errno("cannot open", path);
  fic_status s = fic__sha256_fd(fd, path, out_hex);
  close(fd);
  return s;
}
