/* SPDX-License-Identifier: Apache-2.0 */
#include "common/lazy.h"

fic_status fic__lazy_get(fic_lazy *l, fic_status (*init)(void *arg), void *arg, const void *value, const void **out) {
  const void *v = fic__lazy_peek(l);
  if (!v) {
    pthread_mutex_lock(&l->lock);
    v = atomic_load_explicit(&l->value, memory_order_relaxed);
    if (!v) {
      fic_status st = init(arg);
      if (st != FIC_OK) {
        pthread_mutex_unlock(&l->lock);
        return st;
      }
      v = value;
      atomic_store_explicit(&l->value, v, memory_order_release);
    }
    pthread_mutex_unlock(&l->lock);
  }
  if (out) *out = v;
  return FIC_OK;
}
