/* SPDX-License-Identifier: Apache-2.0 */
/* Process-wide lazy initialisation that may fail and be retried later (so
 * not pthread_once): the fast path is one acquire load; the first caller runs
 * init(arg) under the mutex and publishes `value` with a release store. */
#ifndef FIC_COMMON_LAZY_H
#define FIC_COMMON_LAZY_H

#include <pthread.h>
#include <stdatomic.h>

#include "flashinfer_c.h"

typedef struct fic_lazy {
  pthread_mutex_t lock;
  _Atomic(const void *) value;
} fic_lazy;

#define FIC_LAZY_INIT \
  { PTHREAD_MUTEX_INITIALIZER, NULL }

/* The published value, or NULL before a successful init. */
static inline const void *fic__lazy_peek(fic_lazy *l) { return atomic_load_explicit(&l->value, memory_order_acquire); }

/* Run init(arg) once it succeeds; on success publish `value` and return it in
 * *out (may be NULL). */
fic_status fic__lazy_get(fic_lazy *l, fic_status (*init)(void *arg), void *arg, const void *value, const void **out);

#endif
