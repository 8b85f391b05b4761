/* SPDX-License-Identifier: Apache-2.0 */
#include "kt_attn.h"

#include <stdlib.h>

#include "test_support.h"

fic_runtime *kt_fake_runtime(void) {
  fic_runtime *rt = calloc(1, sizeof *rt); /* no modules */
  assert_non_null(rt);
  return rt;
}

fic_attention_workspace *kt_fake_ws(fic_runtime *rt) {
  fic_attention_workspace *ws = calloc(1, sizeof *ws);
  assert_non_null(ws);
  assert_int_equal(pthread_mutex_init(&ws->lock, NULL), 0);
  ws->rt = rt;
  return ws;
}

void kt_fake_ws_free(fic_attention_workspace *ws) {
  pthread_mutex_destroy(&ws->lock);
  free(ws);
}
