/* SPDX-License-Identifier: Apache-2.0 */
/* Test-only hooks (see test_hooks.h); empty unless FIC_TEST_HOOKS is defined. */
#include "artifacts/test_hooks.h"

#ifdef FIC_TEST_HOOKS
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "artifacts/fsutil.h"

static _Atomic uint64_t wheel_hash_count, extraction_count;

static long hook_long(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return 0;
  char *end;
  long x = strtol(v, &end, 10);
  return *end ? 0 : x;
}

long fic__test_hook_extract_sleep_ms(void) { return hook_long("FIC_TEST_HOOK_EXTRACT_SLEEP_MS"); }
long fic__test_hook_located_sleep_ms(void) { return hook_long("FIC_TEST_HOOK_LOCATED_SLEEP_MS"); }
int fic__test_hook_write_errno(void) { return (int)hook_long("FIC_TEST_HOOK_WRITE_ERRNO"); }

uint64_t fic__test_extraction_count(void) { return atomic_load(&extraction_count); }

void fic__test_hook_log_extraction(void) {
  atomic_fetch_add(&extraction_count, 1);
  const char *log = getenv("FIC_TEST_HOOK_EXTRACT_LOG");
  if (!log || !*log) return;
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[32];
  int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
  if (n > 0) (void)fic__write_all(fd, line, (size_t)n);
  close(fd);
}

void fic__test_count_wheel_hash(void) { atomic_fetch_add(&wheel_hash_count, 1); }
uint64_t fic__test_wheel_hash_count(void) { return atomic_load(&wheel_hash_count); }
#else
typedef int fic__test_hooks_not_built; /* ISO C: a translation unit must declare something */
#endif
