/* SPDX-License-Identifier: Apache-2.0 */
#include "common/env.h"

#include <stdlib.h>

const char *fic__env(const char *name) {
  const char *v = secure_getenv(name);
  return v && *v ? v : NULL;
}

const char *fic__env2(const char *name, const char *alias, const char **which) {
  const char *v = fic__env(name);
  const char *used = name;
  if (!v && alias) {
    v = fic__env(alias);
    used = alias;
  }
  if (v && which) *which = used;
  return v;
}
