/* SPDX-License-Identifier: Apache-2.0 */
/* The one way the library reads its environment. */
#ifndef FIC_COMMON_ENV_H
#define FIC_COMMON_ENV_H

/* The value of environment variable `name`, or NULL when it is unset or
 * empty. Read with secure_getenv(): in a set-user-ID or otherwise privileged
 * process every variable reads as unset, because several of them choose what
 * is loaded (cache directory, wheel paths, seed directories, libcudart) or
 * spawned (the Python that runs pip). */
const char *fic__env(const char *name);

/* fic__env(name), else fic__env(alias) (alias may be NULL). If `which` is not
 * NULL it receives the name that was used. */
const char *fic__env2(const char *name, const char *alias, const char **which);

#endif
