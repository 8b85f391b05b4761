/* SPDX-License-Identifier: Apache-2.0 */
/* The COMPLETE marker of a cache entry: strict line-based text.
 *
 *   fic-cache-v1
 *   wheel<TAB>jit_cache<TAB><sha256><TAB><filename>
 *   wheel<TAB>tvmffi<TAB><sha256><TAB><filename>
 *   file<TAB><relpath><TAB><size><TAB><sha256>        (one per file, >= 1)
 *   end
 *
 * The entry's marker lists tvm_ffi/lib/libtvm_ffi.so; a module's
 * (modules/<m>/COMPLETE) lists <m>.so, relative to its own directory.
 *
 * Every line ends with '\n'; nothing else is accepted (no blank lines, no
 * comments, no trailing data, lowercase hex, decimal sizes without sign or
 * leading zeros, safe relative paths, no duplicate paths). A marker that does
 * not parse makes its entry corrupt. */
#ifndef FIC_ARTIFACTS_MARKER_H
#define FIC_ARTIFACTS_MARKER_H

#include <stddef.h>
#include <stdint.h>

#include "artifacts/artifacts.h"
#include "flashinfer_c.h"

#define FIC_MARKER_NAME "COMPLETE"
#define FIC_MARKER_MAX_BYTES (64u * 1024u)
#define FIC_MARKER_MAX_FILES 33 /* an entry lists 1 file, a module 1: the bound only limits parsing */
#define FIC_RELPATH_MAX 640
#define FIC_WHEEL_NAME_MAX 256

typedef struct fic_marker_file {
  char relpath[FIC_RELPATH_MAX];
  uint64_t size;
  char sha256[65];
} fic_marker_file;

typedef struct fic_marker {
  char wheel_sha256[2][65]; /* [FIC_WHEEL_JIT_CACHE], [FIC_WHEEL_TVMFFI] */
  char wheel_name[2][FIC_WHEEL_NAME_MAX];
  size_t num_files;
  fic_marker_file files[FIC_MARKER_MAX_FILES];
} fic_marker;

/* Render; FIC_ERR_INTERNAL if it does not fit or a field is invalid. */
fic_status fic__marker_format(const fic_marker *m, char *buf, size_t size, size_t *len);
/* Parse strictly. Returns 0 on success, else writes a reason into `why`
 * (records nothing: a bad marker is a normal condition to recover from). */
int fic__marker_parse(const char *text, size_t len, fic_marker *out, char *why, size_t why_size);
/* Read <dir>/COMPLETE: 0 ok, ENOENT missing, EBADMSG malformed (reason in
 * why), or another errno. Records nothing. */
int fic__marker_read(const char *dir, fic_marker *out, char *why, size_t why_size);
/* Write <dir>/COMPLETE atomically (temp + fsync + rename + fsync dir). */
fic_status fic__marker_write(const char *dir, const fic_marker *m);
/* Whether a wheel file name can be recorded in a marker (printable, no '/' or '\\'). */
int fic__marker_valid_wheel_name(const char *s, size_t len);
/* Find a file entry by relpath (NULL if absent). */
const fic_marker_file *fic__marker_find(const fic_marker *m, const char *relpath);

#endif
