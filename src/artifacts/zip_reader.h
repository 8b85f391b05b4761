/* SPDX-License-Identifier: Apache-2.0 */
/* A read-only, hostile-input-aware view of a wheel (zip) through libzip.
 *
 * The archive is opened once; libzip parses the central directory (ZIP64
 * included) and we build a sorted name index from it, so every look-up is a
 * binary search and nothing but the central directory and the extracted
 * members' data is ever read. Members are streamed through a fixed buffer.
 *
 * Policy (each violation is a specific status):
 *   - not a zip, truncated central directory, inconsistent records,
 *     unsupported compression, encryption, duplicate names  -> FIC_ERR_ZIP
 *   - a name that is absolute, holds a ".." component, a backslash or a
 *     drive prefix (checked for EVERY entry at open: such an archive is
 *     hostile as a whole); a symlink or other non-regular member; a declared
 *     size over FIC_ZIP_MAX_MEMBER, over FIC_ZIP_MAX_RATIO x its compressed
 *     size, or a member that inflates past its declared size -> FIC_ERR_UNSAFE_MEMBER
 *   - CRC-32 mismatch at the end of a member                  -> FIC_ERR_CHECKSUM
 */
#ifndef FIC_ARTIFACTS_ZIP_READER_H
#define FIC_ARTIFACTS_ZIP_READER_H

#include <stddef.h>
#include <stdint.h>

#include "flashinfer_c.h"

#define FIC_ZIP_MAX_MEMBER (4ull << 30) /* 4 GiB: no kernel module comes close */
#define FIC_ZIP_MAX_RATIO 1100u         /* deflate cannot exceed ~1032:1 */

typedef struct fic_zip fic_zip;

typedef struct fic_zip_member {
  uint64_t index;     /* libzip index */
  uint64_t size;      /* declared uncompressed size (checked against the limits) */
  uint64_t comp_size; /* declared compressed size */
} fic_zip_member;

/* Open `path` read-only and index its central directory. */
fic_status fic__zip_open(const char *path, fic_zip **out);
/* The same for an open file; takes ownership of `fd` (closed on every path).
 * `path` names it in messages. */
fic_status fic__zip_open_fd(int fd, const char *path, fic_zip **out);
void fic__zip_close(fic_zip *z);

/* Number of entries and the i-th name in sorted order (raw bytes). */
size_t fic__zip_count(const fic_zip *z);
const char *fic__zip_sorted_name(const fic_zip *z, size_t i, uint64_t *index);

/* Look up a member by its exact name and check it is safe to extract
 * (regular file, not encrypted, store/deflate, sizes within limits).
 * FIC_ERR_NOT_FOUND if absent. */
fic_status fic__zip_find(fic_zip *z, const char *name, fic_zip_member *out);

/* Stream a member found by fic__zip_find through `sink` in chunks of at most
 * `buf_size` bytes from `buf`. Stops with FIC_ERR_UNSAFE_MEMBER before handing
 * out a byte past the declared size; fails if fewer bytes come; surfaces a
 * CRC-32 mismatch as FIC_ERR_CHECKSUM. A sink failure is returned as is. */
typedef fic_status (*fic_zip_sink)(void *user, const void *data, size_t len);
fic_status fic__zip_extract(fic_zip *z, const fic_zip_member *m, void *buf, size_t buf_size, fic_zip_sink sink,
                            void *user);

/* Is `name` safe as a relative path? (not absolute, no "..", no '\\', no
 * drive prefix, no control characters). `why` gets a reason when unsafe. */
int fic__zip_name_is_safe(const char *name, const char **why);

#endif
