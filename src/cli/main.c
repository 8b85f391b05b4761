/* SPDX-License-Identifier: Apache-2.0 */
/* flashinfer-c: the command-line tool. Verbs map one-to-one onto public
 * library calls so the tool doubles as their demonstration; it links the
 * shared library and uses nothing but include/flashinfer_c.h from it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static const char k_usage[] =
    "usage: flashinfer-c <verb> [options]\n"
    "\n"
    "verbs:\n"
    "  run              the main job: prepare the artifacts, run the kernels whose modules are there\n"
    "                   (gemma_rmsnorm, gdn_prefill) on random data against float64 CPU references,\n"
    "                   and say how to get each missing module (`run --help`)\n"
    "  fetch            find or download the pinned wheels and extract the modules into the cache\n"
    "                   (--modules, else those of `run`'s kernels that the wheel holds)\n"
    "  verify           re-hash every extracted file against the cache's completion marker (loads nothing)\n"
    "  info             what is where: versions, paths, sizes\n"
    "  list [WHEEL]     modules in a jit-cache wheel (default: the configured one)\n"
    "  gc [--dry-run]   remove cache entries other than the current one (--dry-run: only report)\n"
    "  diagnose         versions, CUDA runtime and driver, GPUs, cache paths, every path tried\n"
    "  --version        the library's version\n"
    "\n"
    "options (any verb): --offline  never download\n"
    "                    --modules LIST  comma-separated modules to prepare up front (strict: each must be\n"
    "                                    in the wheel); any other module is extracted at its first use\n"
    "                    --cache-dir DIR, --jit-cache-wheel FILE, --tvmffi-wheel FILE\n"
    "environment: FLASHINFER_C_CACHE_DIR, FLASHINFER_C_JIT_CACHE_WHEEL, FLASHINFER_C_TVMFFI_WHEEL,\n"
    "             FLASHINFER_C_OFFLINE, FLASHINFER_C_SEED_DIRS (FLASHINFER_RS_* accepted as aliases)\n"
    "exit status: 0 success, 1 failure, 2 usage error\n";

int cli_report(const char *what, fic_status st) {
  fprintf(stderr, "flashinfer-c: %s: %s: %s\n", what, fic_status_string(st), fic_last_error_message());
  const char *kind = fic_last_error_kind();
  if (*kind) fprintf(stderr, "  kind: %s\n", kind);
  return 1;
}

int cli_progress(void *user, const char *what, uint64_t done, uint64_t total) {
  (void)user;
  if (!isatty(STDERR_FILENO)) return 0;
  if (total) {
    int pct = (int)(done * 100 / total);
    int bars = pct / 4;
    fprintf(stderr, "\r%-40.40s [%-25.*s] %3d%% %8.1f MiB", what, bars, "#########################", pct,
            (double)done / (1 << 20));
  } else {
    fprintf(stderr, "\r%-40.40s %8.1f MiB", what, (double)done / (1 << 20));
  }
  if (total && done >= total) fputc('\n', stderr);
  return 0;
}

/* "a,b,c" -> modules[] (NULL-terminated), in `buf`. -1 on an empty name or too many. */
static int split_modules(const char *list, char *buf, size_t size, const char **modules, size_t max) {
  if (snprintf(buf, size, "%s", list) >= (int)size) return -1;
  size_t n = 0;
  for (char *p = buf; p;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    if (!*p || n + 1 >= max) return -1;
    modules[n++] = p;
    p = comma ? comma + 1 : NULL;
  }
  modules[n] = NULL;
  return 0;
}

/* Options shared by every verb; the rest of argv stays for the verb. */
static int parse_common(int *argc, char **argv, fic_config *cfg) {
  static char modules_buf[16384];
  static const char *modules[CLI_MAX_MODULES + 1];
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const char *a = argv[i];
    const char **slot = NULL;
    const char *modules_arg = NULL;
    if (strcmp(a, "--offline") == 0) {
      cfg->offline = 1;
      continue;
    }
    if (strcmp(a, "--cache-dir") == 0)
      slot = &cfg->cache_dir;
    else if (strcmp(a, "--jit-cache-wheel") == 0)
      slot = &cfg->jit_cache_wheel;
    else if (strcmp(a, "--tvmffi-wheel") == 0)
      slot = &cfg->tvmffi_wheel;
    else if (strcmp(a, "--modules") == 0)
      slot = &modules_arg;
    if (!slot) {
      argv[out++] = argv[i];
      continue;
    }
    if (i + 1 >= *argc) {
      fprintf(stderr, "flashinfer-c: %s needs a value\n", a);
      return -1;
    }
    *slot = argv[++i];
    if (modules_arg) {
      if (split_modules(modules_arg, modules_buf, sizeof modules_buf, modules, CLI_MAX_MODULES + 1) != 0) {
        fprintf(stderr, "flashinfer-c: --modules '%s': give 1 to %d comma-separated names, none empty\n", modules_arg,
                CLI_MAX_MODULES);
        return -1;
      }
      cfg->modules = modules;
    }
  }
  *argc = out;
  return 0;
}

static int open_runtime(const fic_config *cfg, fic_runtime **rt) {
  fic_status st = fic_runtime_open(cfg, rt);
  return st == FIC_OK ? 0 : cli_report("preparing artifacts", st);
}

static double elapsed_ms(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int verb_fetch(const fic_config *cfg) {
  fic_runtime *rt = NULL;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (open_runtime(cfg, &rt)) return 1;
  double ms = elapsed_ms(&t0);
  cli_print_paths(rt, 0);
  int unavailable = cli_print_modules(rt, cfg) < 0;
  if (!unavailable) printf("ready in %.1f ms\n", ms);
  fic_runtime_close(rt);
  if (unavailable) fprintf(stderr, "flashinfer-c: fetch: the jit-cache wheel is not available (see above)\n");
  return unavailable;
}

/* Print the diagnosis (rt may be NULL) and close rt. */
static int print_diagnosis(fic_runtime *rt) {
  char buf[16384];
  fic_diagnose(rt, buf, sizeof buf, NULL);
  fputs(buf, stdout);
  fic_runtime_close(rt);
  return 0;
}

static int verb_info(const fic_config *cfg) {
  fic_runtime *rt = NULL;
  if (open_runtime(cfg, &rt)) return 1;
  cli_print_paths(rt, 0);
  cli_print_modules(rt, cfg);
  return print_diagnosis(rt);
}

static int verb_diagnose(const fic_config *cfg) {
  fic_runtime *rt = NULL;
  fic_status st = fic_runtime_open(cfg, &rt);
  if (st != FIC_OK) cli_report("opening the runtime (diagnosing without it)", st);
  return print_diagnosis(rt);
}

static int verb_verify(const fic_config *cfg) {
  char dir[4096];
  fic_status st = fic_cache_verify(cfg, dir, sizeof dir);
  if (st != FIC_OK) return cli_report("verify", st);
  printf("ok: %s matches its marker\n", dir);
  return 0;
}

static int print_module(void *user, const char *module, uint64_t size) {
  (void)user;
  printf("%-48s %10" PRIu64 "\n", module, size);
  return 0;
}

static int verb_list(const fic_config *cfg, int argc, char **argv) {
  const char *wheel = argc > 2 ? argv[2] : cfg->jit_cache_wheel;
  if (!wheel) wheel = getenv("FLASHINFER_C_JIT_CACHE_WHEEL");
  if (!wheel) wheel = getenv("FLASHINFER_RS_JIT_CACHE_WHEEL");
  if (!wheel) {
    fprintf(stderr, "flashinfer-c: list: give a wheel path or set FLASHINFER_C_JIT_CACHE_WHEEL\n");
    return 2;
  }
  fic_status st = fic_wheel_modules(wheel, print_module, NULL);
  return st == FIC_OK ? 0 : cli_report("list", st);
}

static int verb_gc(const fic_config *cfg, int argc, char **argv) {
  int dry = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--dry-run") != 0) {
      fprintf(stderr, "flashinfer-c: gc: unknown argument '%s'\n", argv[i]);
      return 2;
    }
    dry = 1;
  }
  uint64_t freed = 0, remaining = 0;
  fic_status st = fic_cache_gc(cfg, dry, &freed, &remaining);
  if (st != FIC_OK) return cli_report("gc", st);
  printf("%s %.1f MiB; cache now %.1f MiB%s\n", dry ? "would free" : "freed", (double)freed / (1 << 20),
         (double)remaining / (1 << 20), dry ? " (dry run: nothing changed)" : "");
  return 0;
}

static int verb_version(void) {
  const char *v = "";
  fic_version(NULL, &v);
  printf("flashinfer-c %s\n", v);
  return 0;
}

int main(int argc, char **argv) {
  fic_config cfg;
  fic_config_init(&cfg);
  cfg.progress = cli_progress;
  if (parse_common(&argc, argv, &cfg) != 0) return 2;
  if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    fputs(k_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *verb = argv[1];
  if (strcmp(verb, "run") == 0) return cli_run(&cfg, argc - 1, argv + 1);
  if (strcmp(verb, "fetch") == 0) return verb_fetch(&cfg);
  if (strcmp(verb, "verify") == 0) return verb_verify(&cfg);
  if (strcmp(verb, "info") == 0) return verb_info(&cfg);
  if (strcmp(verb, "list") == 0) return verb_list(&cfg, argc, argv);
  if (strcmp(verb, "gc") == 0) return verb_gc(&cfg, argc, argv);
  if (strcmp(verb, "diagnose") == 0) return verb_diagnose(&cfg);
  if (strcmp(verb, "--version") == 0 || strcmp(verb, "version") == 0) return verb_version();
  fprintf(stderr, "flashinfer-c: unknown verb '%s'\n\n%s", verb, k_usage);
  return 2;
}
