/* SPDX-License-Identifier: Apache-2.0 */
/* Per-entry cache locks: flock(LOCK_EX) on <root>/<hash>.lock, one open file
 * description per caller (so threads of one process exclude each other too).
 * The holder writes its pid into the file for "waiting for ..." messages.
 * Lock files may be unlinked by the cache GC while it holds the lock; an
 * acquirer therefore re-checks after locking that the path still names the
 * inode it locked, and retries otherwise. */
#ifndef FIC_ARTIFACTS_CACHE_LOCK_H
#define FIC_ARTIFACTS_CACHE_LOCK_H

#include "flashinfer_c.h"

/* Take the lock, polling LOCK_NB with a growing sleep (1 ms .. 50 ms) until
 * `timeout_s` (<= 0: 600 s). FIC_ERR_LOCK_TIMEOUT names the holder's pid. */
fic_status fic__lock_acquire(const char *lock_path, double timeout_s, int *fd_out);

/* One non-blocking attempt. On success *fd_out >= 0 and *busy = 0; if
 * another holder has it, FIC_OK with *fd_out = -1 and *busy = 1 (not an error). */
fic_status fic__lock_try(const char *lock_path, int *fd_out, int *busy);

/* Unlink the lock file while holding it (GC), then release. */
void fic__lock_release_unlink(const char *lock_path, int fd);
void fic__lock_release(int fd);

/* The pid recorded in a lock file (0 if none). */
long fic__lock_holder(const char *lock_path);

#endif
