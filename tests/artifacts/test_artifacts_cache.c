/* SPDX-License-Identifier: Apache-2.0 */
/* The cache: root precedence, marker, cold/warm prepare, no re-hash on warm
 * start, corruption recovery, wheel sources (explicit, env, cache, seed,
 * offline), hostile wheels through prepare, disk full, permissions, GC. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "art_support.h"
#include "artifacts/cache_lock.h"
#include "artifacts/internal.h"
#include "artifacts/marker.h"
#include "artifacts/pinned.h"

#define MOD_MEMBER "flashinfer_jit_cache/jit_cache/fic_test/fic_test.so"
#define MOD_REL "modules/fic_test/fic_test.so" /* in the entry */
#define ZEROS64 "0000000000000000000000000000000000000000000000000000000000000000"

static char *root;

static int setup(void **state) {
  (void)state;
  root = art_root_new("art-cache");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  art_root_free(&root);
  return 0;
}

static const char *jit(void) { return fic_test_env("FIC_TEST_JIT_WHEEL"); }
static const char *tvm(void) { return fic_test_env("FIC_TEST_TVMFFI_WHEEL"); }

static fic_artifacts *prep_ok(const fic_config *c) {
  fic_artifacts *a = calloc(1, sizeof *a);
  assert_non_null(a);
  FIC_ASSERT_OK(fic__artifacts_prepare(c, a));
  return a;
}

/* fic__artifacts_prepare must fail with `status` and a message containing
 * each of the `needles` (NULL-terminated). */
static void prep_fails(const fic_config *c, fic_status status, const char *const *needles) {
  fic_artifacts *a = calloc(1, sizeof *a);
  assert_non_null(a);
  FIC_ASSERT_STATUS(fic__artifacts_prepare(c, a), status);
  for (size_t i = 0; needles[i]; i++) ART_ASSERT_CONTAINS(fic_last_error_message(), needles[i]);
  free(a);
}

/* Nothing half-made under the root: no temp dir, no entry for `hash_dir`. */
/* <entry>/modules/fic_test/fic_test.so in a static buffer. */
static const char *mod_path(const fic_artifacts *a) {
  static char path[8192];
  snprintf(path, sizeof path, "%s/%s", a->artifact_dir, MOD_REL);
  return path;
}

static void assert_no_debris(const char *entry_or_null) {
  assert_int_equal(art_count_prefix(root, ".tmp-"), 0);
  if (entry_or_null) assert_int_equal(art_file_size(entry_or_null), -1);
}

/* ---- cache root --------------------------------------------------------- */

static void test_cache_root_precedence(void **state) {
  (void)state;
  char out[4096], cwd[4096];
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  FIC_ASSERT_OK(fic__cache_root(NULL, out, sizeof out));
  assert_string_equal(out, "/home/u/.cache/flashinfer-c");
  setenv("XDG_CACHE_HOME", "relative/xdg", 1); /* invalid per the XDG spec: ignored */
  FIC_ASSERT_OK(fic__cache_root(NULL, out, sizeof out));
  assert_string_equal(out, "/home/u/.cache/flashinfer-c");
  setenv("XDG_CACHE_HOME", "/xdg", 1); /* XDG before HOME */
  FIC_ASSERT_OK(fic__cache_root(NULL, out, sizeof out));
  assert_string_equal(out, "/xdg/flashinfer-c");
  setenv("FLASHINFER_RS_CACHE_DIR", "/rs", 1);
  FIC_ASSERT_OK(fic__cache_root(NULL, out, sizeof out));
  assert_string_equal(out, "/rs");
  setenv("FLASHINFER_C_CACHE_DIR", "/c/", 1); /* wins over the alias; trailing slash dropped */
  FIC_ASSERT_OK(fic__cache_root(NULL, out, sizeof out));
  assert_string_equal(out, "/c");
  FIC_ASSERT_OK(fic__cache_root("/explicit", out, sizeof out)); /* explicit wins over everything */
  assert_string_equal(out, "/explicit");
  FIC_ASSERT_OK(fic__cache_root("", out, sizeof out)); /* "" = unset */
  assert_string_equal(out, "/c");
  assert_non_null(getcwd(cwd, sizeof cwd));
  FIC_ASSERT_OK(fic__cache_root("rel/dir", out, sizeof out)); /* made absolute */
  char want[8192];
  snprintf(want, sizeof want, "%s/rel/dir", cwd);
  assert_string_equal(out, want);
  unsetenv("FLASHINFER_C_CACHE_DIR");
  unsetenv("FLASHINFER_RS_CACHE_DIR");
  unsetenv("XDG_CACHE_HOME");
  char *home = strdup(getenv("HOME"));
  unsetenv("HOME");
  FIC_ASSERT_STATUS(fic__cache_root(NULL, out, sizeof out), FIC_ERR_NOT_FOUND);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "FLASHINFER_C_CACHE_DIR");
  setenv("HOME", home, 1);
  free(home);
  char tiny[8];
  FIC_ASSERT_STATUS(fic__cache_root("/a/long/path", tiny, sizeof tiny), FIC_ERR_INVALID_ARGUMENT);
}

/* ---- marker ------------------------------------------------------------- */

static void test_marker_strict(void **state) {
  (void)state;
  fic_marker *m = calloc(1, sizeof *m), *back = calloc(1, sizeof *back);
  const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  for (int k = 0; k < 2; k++) {
    strcpy(m->wheel_sha256[k], sha);
    strcpy(m->wheel_name[k], k ? "t.whl" : "j.whl");
  }
  m->num_files = 2;
  strcpy(m->files[0].relpath, "tvm_ffi/lib/libtvm_ffi.so");
  m->files[0].size = 1069368;
  strcpy(m->files[0].sha256, sha);
  strcpy(m->files[1].relpath, MOD_REL);
  m->files[1].size = 0;
  strcpy(m->files[1].sha256, sha);
  char text[8192];
  size_t len = 0;
  FIC_ASSERT_OK(fic__marker_format(m, text, sizeof text, &len));
  char why[256];
  assert_int_equal(fic__marker_parse(text, len, back, why, sizeof why), 0);
  assert_int_equal(back->num_files, 2);
  assert_int_equal(back->files[0].size, 1069368);
  assert_string_equal(back->files[1].relpath, MOD_REL);
  assert_string_equal(back->wheel_name[1], "t.whl");
  assert_non_null(strstr(text, "fic-cache-v1\n"));

  /* Each mutation of a valid marker must be rejected. */
  static const struct {
    const char *from, *to;
  } bad[] = {
      {"fic-cache-v1\n", "fic-cache-v2\n"},
      {"fic-cache-v1\n", ""},
      {"end\n", ""},
      {"end\n", "end\nextra\n"},
      {"end\n", "end"},
      {"\t1069368\t", "\t+1069368\t"},
      {"\t1069368\t", "\t01069368\t"},
      {"\t1069368\t", "\t-1\t"},
      {"\t1069368\t", "\t99999999999999999999999\t"},
      {"\t1069368\t", "\t1069368\textra\t"},
      {"tvm_ffi/lib/libtvm_ffi.so", "../lib/libtvm_ffi.so"},
      {"tvm_ffi/lib/libtvm_ffi.so", "/abs/libtvm_ffi.so"},
      {"tvm_ffi/lib/libtvm_ffi.so", MOD_REL},
      {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
       "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n"},
      {"wheel\tjit_cache", "wheel\ttvmffi"},
      {"\tj.whl\n", "\tdir/j.whl\n"},
      {"fic-cache-v1\n", "fic-cache-v1\r\n"},
      {"fic-cache-v1\n", "fic-cache-v1\n\n"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char mutated[8192];
    const char *at = strstr(text, bad[i].from);
    assert_non_null(at);
    size_t pre = (size_t)(at - text);
    snprintf(mutated, sizeof mutated, "%.*s%s%s", (int)pre, text, bad[i].to, at + strlen(bad[i].from));
    why[0] = '\0';
    if (fic__marker_parse(mutated, strlen(mutated), back, why, sizeof why) == 0)
      fail_msg("mutation %zu (%s -> %s) was accepted", i, bad[i].from, bad[i].to);
    assert_true(why[0] != '\0');
  }
  /* No file lines at all. */
  const char *nofiles =
      "fic-cache-v1\nwheel\tjit_cache\t0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
      "\tj.whl\nwheel\ttvmffi\t0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\t"
      "t.whl\nend\n";
  assert_int_not_equal(fic__marker_parse(nofiles, strlen(nofiles), back, why, sizeof why), 0);
  free(m);
  free(back);
}

/* ---- prepare: cold, warm, error record ------------------------------------ */

static void test_cold_then_warm(void **state) {
  (void)state;
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  fic__fail(FIC_ERR_IO, "sentinel");
  fic_artifacts *a = prep_ok(&c);
  assert_int_equal(a->cache_hit, 0);
  /* A successful call leaves the error record alone. */
  assert_int_equal(fic_last_error_status(), FIC_ERR_IO);
  assert_string_equal(fic_last_error_message(), "sentinel");

  assert_string_equal(a->cache_root, root);
  assert_int_equal(strncmp(a->artifact_dir, root, strlen(root)), 0);
  assert_int_equal(strlen(a->artifact_dir), strlen(root) + 1 + 64);
  char want[8192];
  snprintf(want, sizeof want, "%s/tvm_ffi/lib/libtvm_ffi.so", a->artifact_dir);
  assert_string_equal(a->libtvm_ffi, want);
  assert_int_equal(art_file_size(a->libtvm_ffi), 1069368);
  FILE *f = fopen(a->libtvm_ffi, "rb");
  unsigned char magic[4] = {0};
  assert_non_null(f);
  assert_int_equal(fread(magic, 1, 4, f), 4);
  fclose(f);
  assert_memory_equal(magic,
                      "\x7f"
                      "ELF",
                      4);
  assert_int_equal(art_file_size(mod_path(a)), art_file_size(fic_test_env("FIC_TEST_MODULE")));
  snprintf(want, sizeof want, "%s/modules/fic_test/COMPLETE", a->artifact_dir); /* the module's own record */
  assert_true(art_file_size(want) > 0);
  assert_string_equal(a->jit_cache_wheel, jit());
  assert_string_equal(a->tvmffi_wheel, tvm());
  snprintf(want, sizeof want, "%s/COMPLETE", a->artifact_dir);
  assert_true(art_file_size(want) > 0);
  snprintf(want, sizeof want, "%s.lock", a->artifact_dir);
  assert_true(art_file_size(want) >= 0);
  struct stat st;
  assert_int_equal(stat(mod_path(a), &st), 0);
  assert_true(st.st_mode & S_IXUSR);
  assert_no_debris(NULL);
  FIC_ASSERT_OK(fic__artifacts_verify(a));

  fic_artifacts *b = prep_ok(&c);
  assert_int_equal(b->cache_hit, 1);
  assert_string_equal(b->artifact_dir, a->artifact_dir);

  assert_string_equal(fic_last_error_message(), "sentinel");

  /* The key covers the wheels only: any module list (a duplicate, none) is
   * the same entry, and a module already there is not extracted again. */
  static const char *const dup[] = {"fic_test", "fic_test", NULL};
  static const char *const none[] = {NULL};
  uint64_t extractions = fic__test_extraction_count();
  art_cfg(&c, root, jit(), tvm(), dup);
  fic_artifacts *d = prep_ok(&c);
  assert_int_equal(d->cache_hit, 1);
  art_cfg(&c, root, jit(), tvm(), none);
  fic_artifacts *e = prep_ok(&c);
  assert_string_equal(e->artifact_dir, a->artifact_dir);
  assert_int_equal(fic__test_extraction_count(), extractions);
  free(e);
  free(a);
  free(b);
  free(d);
}

/* ---- warm start never re-hashes a wheel ----------------------------------- */

static void test_warm_start_does_not_rehash(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("art-memo");
  char j[4096], t[4096], ids[4096];
  snprintf(j, sizeof j, "%s/jit.whl", dir);
  snprintf(t, sizeof t, "%s/tvm.whl", dir);
  snprintf(ids, sizeof ids, "%s/wheel-ids", root);
  art_copy(jit(), j);
  art_copy(tvm(), t);
  fic_config c;
  art_cfg(&c, root, j, t, NULL);

  uint64_t h0 = fic__test_wheel_hash_count();
  fic_artifacts *a = prep_ok(&c);
  assert_int_equal(fic__test_wheel_hash_count() - h0, 2); /* cold: both wheels hashed once */
  assert_int_equal(art_count_prefix(ids, ""), 4);         /* two memos + their locks */
  free(a);

  for (int i = 0; i < 5; i++) {
    a = prep_ok(&c);
    assert_int_equal(a->cache_hit, 1);
    free(a);
  }
  assert_int_equal(fic__test_wheel_hash_count() - h0, 2); /* warm: no hashing at all */

  /* Rewrite the tvm wheel's bytes in place keeping size and mtime: the inode
   * change time still moves (user space cannot set it), so the memo (dev,
   * inode, size, mtime_ns, ctime_ns) no longer matches: exactly one re-hash,
   * a new key and a cold extraction for the new content. */
  struct stat st;
  assert_int_equal(stat(t, &st), 0);
  int fd = open(t, O_RDWR);
  assert_true(fd >= 0);
  unsigned char b;
  assert_int_equal(pread(fd, &b, 1, 10), 1); /* the first local header's mod time: not read by us */
  b ^= 0x01;
  assert_int_equal(pwrite(fd, &b, 1, 10), 1);
  close(fd);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  assert_int_equal(utimensat(AT_FDCWD, t, times, 0), 0);
  a = prep_ok(&c);
  assert_int_equal(a->cache_hit, 0);
  free(a);
  assert_int_equal(fic__test_wheel_hash_count() - h0, 3);
  a = prep_ok(&c);
  assert_int_equal(a->cache_hit, 1);
  free(a);
  assert_int_equal(fic__test_wheel_hash_count() - h0, 3);

  /* Touching the mtime invalidates the memo too: exactly one re-hash (the
   * content, hence the key, is unchanged, so the entry is reused). */
  times[1].tv_sec += 10;
  assert_int_equal(utimensat(AT_FDCWD, t, times, 0), 0);
  a = prep_ok(&c);
  assert_int_equal(fic__test_wheel_hash_count() - h0, 4);
  assert_int_equal(a->cache_hit, 1);
  free(a);
  a = prep_ok(&c);
  assert_int_equal(a->cache_hit, 1);
  assert_int_equal(fic__test_wheel_hash_count() - h0, 4);
  free(a);

  /* A corrupt memo is ignored (re-hash), not trusted. */
  char memo_key[65], real[4096], memo[8192];
  assert_non_null(realpath(j, real));
  FIC_ASSERT_OK(fic__sha256_buf(real, strlen(real), memo_key));
  snprintf(memo, sizeof memo, "%s/%s", ids, memo_key);
  assert_int_equal(fic_test_sh("printf 'garbage' > '%s'", memo), 0);
  a = prep_ok(&c);
  assert_int_equal(a->cache_hit, 1);
  assert_int_equal(fic__test_wheel_hash_count() - h0, 5);
  free(a);
  fic_test_rmtree(dir);
  free(dir);
}

/* ---- wheel precedence: config > FLASHINFER_C_* > FLASHINFER_RS_* ----------- */

static void test_wheel_precedence(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("art-prec");
  char p[6][4096];
  const char *names[3] = {"cfg", "envc", "envrs"};
  for (int i = 0; i < 3; i++) {
    snprintf(p[2 * i], 4096, "%s/%s", dir, names[i]);
    mkdir(p[2 * i], 0755);
    snprintf(p[2 * i + 1], 4096, "%s/%s/t.whl", dir, names[i]);
    art_copy(tvm(), p[2 * i + 1]);
  }
  setenv("FLASHINFER_RS_TVMFFI_WHEEL", p[5], 1);
  setenv("FLASHINFER_RS_JIT_CACHE_WHEEL", jit(), 1);
  fic_config c;
  art_cfg(&c, root, NULL, NULL, NULL);
  fic_artifacts *a = prep_ok(&c);
  assert_string_equal(a->tvmffi_wheel, p[5]);
  assert_string_equal(a->jit_cache_wheel, jit());
  free(a);
  setenv("FLASHINFER_C_TVMFFI_WHEEL", p[3], 1);
  a = prep_ok(&c);
  assert_string_equal(a->tvmffi_wheel, p[3]);
  assert_int_equal(a->cache_hit, 1); /* same content and file name: same entry */
  free(a);
  c.tvmffi_wheel = p[1];
  a = prep_ok(&c);
  assert_string_equal(a->tvmffi_wheel, p[1]);
  free(a);
  /* A missing explicit wheel names where it came from. */
  setenv("FLASHINFER_C_JIT_CACHE_WHEEL", "/nonexistent/j.whl", 1);
  fic_artifacts *x = calloc(1, sizeof *x);
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, x), FIC_ERR_NOT_FOUND);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "/nonexistent/j.whl");
  ART_ASSERT_CONTAINS(fic_last_error_message(), "FLASHINFER_C_JIT_CACHE_WHEEL");
  free(x);
  fic_test_rmtree(dir);
  free(dir);
}

/* ---- corruption and half-written entries ---------------------------------- */

static void corrupt_and_recover(const fic_config *c, const char *what, const char *shell) {
  fic_artifacts *a = prep_ok(c);
  int before = art_count_prefix(root, ".corrupt-");
  setenv("E", a->artifact_dir, 1); /* the command refers to the entry as "$E" */
  assert_int_equal(fic_test_sh("%s", shell), 0);
  unsetenv("E");
  uint64_t extractions = fic__test_extraction_count();
  fic_artifacts *b = prep_ok(c);
  /* The entry, or only the module, extracted again. */
  if (fic__test_extraction_count() == extractions) fail_msg("%s: corrupt entry was reused", what);
  assert_string_equal(b->artifact_dir, a->artifact_dir);
  assert_int_equal(art_count_prefix(root, ".corrupt-"), before + 1); /* quarantined, not deleted */
  assert_int_equal(fic_test_sh("grep -q 'quarantined' '%s'/.corrupt-*/QUARANTINE-REASON", root), 0);
  FIC_ASSERT_OK(fic__artifacts_verify(b));
  assert_no_debris(NULL);
  free(a);
  free(b);
}

static void test_corrupt_recovery(void **state) {
  (void)state;
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  corrupt_and_recover(&c, "garbage marker", "printf 'garbage\\n' > \"$E/COMPLETE\"");
  corrupt_and_recover(&c, "no marker (half-written)", "rm \"$E/COMPLETE\"");
  corrupt_and_recover(&c, "truncated module", "truncate -s 100 \"$E/" MOD_REL "\"");
  corrupt_and_recover(&c, "missing libtvm_ffi", "rm \"$E/tvm_ffi/lib/libtvm_ffi.so\"");
  corrupt_and_recover(&c, "truncated marker", "truncate -s 50 \"$E/COMPLETE\"");
  corrupt_and_recover(&c, "module replaced by a directory", "rm \"$E/" MOD_REL "\" && mkdir \"$E/" MOD_REL "\"");
  /* The module's own record. */
  corrupt_and_recover(&c, "garbage module marker", "printf 'garbage\\n' > \"$E/modules/fic_test/COMPLETE\"");
  corrupt_and_recover(&c, "no module marker", "rm \"$E/modules/fic_test/COMPLETE\"");
  corrupt_and_recover(&c, "module marker of other wheels",
                      "sed -i -E 's/^(wheel\tjit_cache\t)[0-9a-f]{64}/\\1" ZEROS64
                      "/' \"$E/modules/fic_test/COMPLETE\"");
  corrupt_and_recover(
      &c, "module directory is a symlink",
      "mv \"$E/modules/fic_test\" \"$E/../mod-elsewhere\" && ln -s ../../mod-elsewhere \"$E/modules/fic_test\"");
  /* A half-written entry as a killed pre-publication run leaves it: a bare
   * directory with some files and no marker. */
  corrupt_and_recover(&c, "bare dir",
                      "rm -rf \"$E\" && mkdir -p \"$E/tvm_ffi/lib\" && echo x > \"$E/tvm_ffi/lib/libtvm_ffi.so\"");
}

static void test_verify_detects_content_change(void **state) {
  (void)state;
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  fic_artifacts *a = prep_ok(&c);
  FIC_ASSERT_OK(fic__artifacts_verify(a));
  /* Flip one byte, same size: the O(1) warm check cannot see it ... */
  int fd = open(mod_path(a), O_RDWR);
  assert_true(fd >= 0);
  unsigned char b;
  assert_int_equal(pread(fd, &b, 1, 100), 1);
  b ^= 0xff;
  assert_int_equal(pwrite(fd, &b, 1, 100), 1);
  close(fd);
  fic_artifacts *w = prep_ok(&c);
  assert_int_equal(w->cache_hit, 1);
  /* ... deep verification does. */
  FIC_ASSERT_STATUS(fic__artifacts_verify(w), FIC_ERR_CACHE_CORRUPT);
  ART_ASSERT_CONTAINS(fic_last_error_message(), MOD_REL);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "SHA-256");
  free(a);
  free(w);
}

/* ---- wheel sources: cache, seeds, offline ------------------------------- */

/* ---- who may write into the cache (issue #10) ---------------------------- */

/* fic__artifacts_prepare must fail with FIC_ERR_PERMISSION, naming `path`
 * and `owner_text`. */
static void assert_refused(const fic_config *c, const char *path, const char *owner_text) {
  prep_fails(c, FIC_ERR_PERMISSION, (const char *const[]){path, owner_text, NULL});
}

/* A root or entry owned by another user (not root), or group/world-writable
 * without the sticky bit, is refused: anyone who can write there could plant
 * a library this process loads. */
static void test_untrusted_cache_dirs_refused(void **state) {
  (void)state;
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  if (chown(root, 12345, 12345) != 0) {
    print_message("SKIP: cannot chown (not running as root): %s\n", strerror(errno));
    skip();
  }
  assert_refused(&c, root, "uid 12345");
  assert_int_equal(chown(root, geteuid(), getegid()), 0);

  assert_int_equal(chmod(root, 0775), 0);
  assert_refused(&c, root, "its group");
  assert_int_equal(chmod(root, 0757), 0);
  assert_refused(&c, root, "everyone");
  assert_int_equal(chmod(root, 01777), 0); /* /tmp-like: the sticky bit makes it fine */
  fic_artifacts *a = prep_ok(&c);
  assert_int_equal(chmod(root, 0755), 0);

  /* An entry another user owns. */
  assert_int_equal(chown(a->artifact_dir, 12345, 12345), 0);
  assert_refused(&c, a->artifact_dir, "uid 12345");
  assert_int_equal(chown(a->artifact_dir, geteuid(), getegid()), 0);
  /* A directory inside an entry that its group may write. */
  char dir[8192];
  snprintf(dir, sizeof dir, "%s/modules", a->artifact_dir);
  assert_int_equal(chmod(dir, 0775), 0);
  assert_refused(&c, dir, "its group");
  assert_int_equal(chmod(dir, 0755), 0);
  free(a);
  free(prep_ok(&c));
}

/* The warm check follows no symlink: neither an entry that is a symlink to
 * another directory nor a symlinked directory inside an entry is used; both
 * are quarantined and the entry extracted again. */
static void test_symlinked_entries_not_followed(void **state) {
  (void)state;
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  fic_artifacts *a = prep_ok(&c);
  char elsewhere[8192], inner[8192];
  snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", root);
  assert_int_equal(rename(a->artifact_dir, elsewhere), 0);
  assert_int_equal(symlink(elsewhere, a->artifact_dir), 0);
  fic_artifacts *b = prep_ok(&c);
  assert_int_equal(b->cache_hit, 0);
  struct stat st;
  assert_int_equal(lstat(b->artifact_dir, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(art_count_prefix(root, ".corrupt-"), 1);
  free(b);

  /* One component inside the entry (modules/): the module is extracted again
   * into a real directory, nothing is written through the link. */
  snprintf(inner, sizeof inner, "%s/modules", a->artifact_dir);
  fic_test_rmtree(elsewhere);
  assert_int_equal(rename(inner, elsewhere), 0);
  assert_int_equal(symlink(elsewhere, inner), 0);
  uint64_t extractions = fic__test_extraction_count();
  b = prep_ok(&c);
  assert_int_equal(b->cache_hit, 1);
  assert_int_equal(fic__test_extraction_count(), extractions + 1);
  assert_int_equal(art_count_prefix(elsewhere, ".tmp-"), 0);
  assert_int_equal(art_count_prefix(elsewhere, "fic_test"), 1); /* untouched */
  assert_int_equal(lstat(inner, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(art_count_prefix(root, ".corrupt-"), 2);
  free(b);
  b = prep_ok(&c);
  assert_int_equal(b->cache_hit, 1);
  free(b);
  free(a);
}

static const fic_pinned_wheel *tvm_pin_or_skip(void) {
  const fic_pinned_wheel *pin = NULL;
  if (fic__pinned_wheel(FIC_WHEEL_TVMFFI, NULL, &pin) != FIC_OK) return NULL;
  char sha[65];
  FIC_ASSERT_OK(fic__sha256_file(tvm(), sha));
  const char *base = strrchr(tvm(), '/') + 1;
  if (strcmp(sha, pin->sha256) || strcmp(base, pin->filename)) return NULL;
  return pin;
}

static void test_offline_names_missing_file_and_places(void **state) {
  (void)state;
  const fic_pinned_wheel *pin = NULL;
  FIC_ASSERT_OK(fic__pinned_wheel(FIC_WHEEL_TVMFFI, NULL, &pin));
  fic_config c;
  art_cfg(&c, root, jit(), NULL, NULL);
  c.offline = 1;
  c.seed_dirs = "/nonexistent-seed-a:/nonexistent-seed-b";
  fic_artifacts *a = calloc(1, sizeof *a);
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_OFFLINE);
  const char *msg = fic_last_error_message();
  char want[8192];
  ART_ASSERT_CONTAINS(msg, pin->filename);
  ART_ASSERT_CONTAINS(msg, pin->sha256);
  ART_ASSERT_CONTAINS(msg, "fic_config.tvmffi_wheel (unset)");
  ART_ASSERT_CONTAINS(msg, "FLASHINFER_C_TVMFFI_WHEEL (unset)");
  ART_ASSERT_CONTAINS(msg, "FLASHINFER_RS_TVMFFI_WHEEL (unset)");
  snprintf(want, sizeof want, "%s/wheels/%s-%s", root, pin->sha256, pin->filename);
  ART_ASSERT_CONTAINS(msg, want);
  snprintf(want, sizeof want, "/nonexistent-seed-a/%s", pin->filename);
  ART_ASSERT_CONTAINS(msg, want);
  snprintf(want, sizeof want, "/nonexistent-seed-b/wheels/%s-%s", pin->sha256, pin->filename);
  ART_ASSERT_CONTAINS(msg, want);
  ART_ASSERT_CONTAINS(msg, "fic_config.offline");
  assert_no_debris(NULL);

  /* The environment switch, and no seed dirs at all. */
  c.offline = 0;
  c.seed_dirs = NULL;
  setenv("FLASHINFER_C_OFFLINE", "1", 1);
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_OFFLINE);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "FLASHINFER_C_OFFLINE");
  ART_ASSERT_CONTAINS(fic_last_error_message(), "no seed directories");
  /* Offline but the entry is already complete: no wheel needed at all. */
  unsetenv("FLASHINFER_C_OFFLINE");
  free(a);
}

static void test_seed_dirs_and_cached_wheels(void **state) {
  (void)state;
  const fic_pinned_wheel *pin = tvm_pin_or_skip();
  if (!pin) {
    print_message("SKIP: FIC_TEST_TVMFFI_WHEEL is not the pinned apache-tvm-ffi wheel of this architecture\n");
    skip();
  }
  char *seed = fic_test_mkdtemp("art-seed");
  char seeded[8192], hash_dir[4096];
  snprintf(seeded, sizeof seeded, "%s/%s", seed, pin->filename);
  art_copy(tvm(), seeded);
  char seeds[8192];
  snprintf(seeds, sizeof seeds, "/nonexistent-seed:%s", seed);
  setenv("FLASHINFER_C_SEED_DIRS", seeds, 1);
  fic_config c;
  art_cfg(&c, root, jit(), NULL, NULL);
  c.offline = 1;

  uint64_t h0 = fic__test_wheel_hash_count();
  fic_artifacts *a = prep_ok(&c);
  assert_string_equal(a->tvmffi_wheel, seeded); /* used in place, read-only */
  uint64_t h1 = fic__test_wheel_hash_count();
  assert_int_equal(h1 - h0, 2); /* jit wheel (by path) + seed wheel verified once */
  snprintf(hash_dir, sizeof hash_dir, "%s", a->artifact_dir);
  free(a);

  /* Warm: the pinned wheel is identified by its pin; nothing is looked up. */
  a = prep_ok(&c);
  assert_int_equal(a->cache_hit, 1);
  assert_string_equal(a->tvmffi_wheel, "");
  free(a);
  /* Cold again: the seed is found again and its verification remembered. */
  fic_test_rmtree(hash_dir);
  a = prep_ok(&c);
  assert_int_equal(a->cache_hit, 0);
  assert_string_equal(a->tvmffi_wheel, seeded);
  assert_int_equal(fic__test_wheel_hash_count(), h1);
  free(a);

  /* <root>/wheels/<sha>-<filename> comes before seeds; it is identified on
   * the descriptor that is extracted (hashed once, then memoised). */
  char cached[8192];
  snprintf(cached, sizeof cached, "%s/wheels", root);
  mkdir(cached, 0755);
  snprintf(cached, sizeof cached, "%s/wheels/%s-%s", root, pin->sha256, pin->filename);
  art_copy(tvm(), cached);
  fic_test_rmtree(hash_dir);
  a = prep_ok(&c);
  assert_string_equal(a->tvmffi_wheel, cached);
  assert_int_equal(fic__test_wheel_hash_count(), h1 + 1);
  free(a);
  /* ... so one whose bytes are not the pinned wheel's is refused, not extracted. */
  art_copy(jit(), cached);
  fic_test_rmtree(hash_dir);
  prep_fails(&c, FIC_ERR_CHECKSUM, (const char *const[]){cached, NULL});
  unlink(cached);

  /* A seed with the pinned name but other content fails, naming it. */
  art_copy(jit(), seeded);
  fic_test_rmtree(hash_dir);
  prep_fails(&c, FIC_ERR_CHECKSUM, (const char *const[]){seeded, pin->sha256, NULL});
  assert_no_debris(hash_dir);
  fic_test_rmtree(seed);
  free(seed);
}

static void test_verify_wheel_sha256(void **state) {
  (void)state;
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  c.verify_wheel_sha256 = 1;
  fic_artifacts *a = calloc(1, sizeof *a);
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_CHECKSUM);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "pinned");
  ART_ASSERT_CONTAINS(fic_last_error_message(), jit());
  assert_no_debris(NULL);
  free(a);
}

/* ---- module list errors --------------------------------------------------- */

static void test_module_errors(void **state) {
  (void)state;
  fic_config c;
  fic_artifacts *a = calloc(1, sizeof *a);
  static const char *const missing[] = {"fic_test", "no_such_module", NULL};
  art_cfg(&c, root, jit(), tvm(), missing);
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_NOT_FOUND);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "no_such_module");
  assert_no_debris(NULL);
  assert_int_equal(art_count_prefix(root, "."), 0); /* no temp, no quarantine */

  static const char *const bad1[] = {"../../etc", NULL};
  static const char *const bad2[] = {"a/b", NULL};
  static const char *const bad3[] = {"", NULL};
  const char *const *bads[] = {bad1, bad2, bad3};
  for (int i = 0; i < 3; i++) {
    art_cfg(&c, root, jit(), tvm(), bads[i]);
    FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_INVALID_ARGUMENT);
    assert_string_equal(fic_last_error_argument(), "modules");
  }
  FIC_ASSERT_STATUS(fic__artifacts_prepare(NULL, a), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, NULL), FIC_ERR_INVALID_ARGUMENT);
  free(a);
}

/* ---- hostile wheels through prepare: nothing half-published ---------------- */

static void test_hostile_wheels_publish_nothing(void **state) {
  (void)state;
  static const struct {
    const char *wheel;
    fic_status want;
  } cases[] = {
      {"symlink.whl", FIC_ERR_UNSAFE_MEMBER},
      {"traversal.whl", FIC_ERR_UNSAFE_MEMBER},
      {"huge.whl", FIC_ERR_UNSAFE_MEMBER},
      {"longer.whl", FIC_ERR_UNSAFE_MEMBER},
      {"badcrc.whl", FIC_ERR_CHECKSUM},
      {"truncated.whl", FIC_ERR_ZIP},
      {"notzip.whl", FIC_ERR_ZIP},
      {"encrypted.whl", FIC_ERR_ZIP},
      {"shorter.whl", FIC_ERR_ZIP},
  };
  fic_artifacts *a = calloc(1, sizeof *a);
  int fds = art_count_fds();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fic_config c;
    /* As the tvm-ffi wheel (extracted first) and as the jit-cache wheel. */
    for (int as_jit = 0; as_jit < 2; as_jit++) {
      const char *w = art_wheel(cases[i].wheel);
      art_cfg(&c, root, as_jit ? w : jit(), as_jit ? tvm() : w, NULL);
      fic_status s = fic__artifacts_prepare(&c, a);
      if (as_jit && !strcmp(cases[i].wheel, "symlink.whl")) {
        /* symlink.whl's fic_test member is fine: only its libtvm_ffi is a link. */
        FIC_ASSERT_OK(s);
        continue;
      }
      if (as_jit && (!strcmp(cases[i].wheel, "huge.whl") || !strcmp(cases[i].wheel, "longer.whl") ||
                     !strcmp(cases[i].wheel, "badcrc.whl") || !strcmp(cases[i].wheel, "encrypted.whl") ||
                     !strcmp(cases[i].wheel, "shorter.whl"))) {
        FIC_ASSERT_OK(s); /* these only break libtvm_ffi.so */
        continue;
      }
      if (s != cases[i].want)
        fail_msg("%s (as %s): %s, want %s: %s", cases[i].wheel, as_jit ? "jit" : "tvm", fic_status_string(s),
                 fic_status_string(cases[i].want), fic_last_error_message());
      ART_ASSERT_CONTAINS(fic_last_error_message(), cases[i].wheel);
      assert_no_debris(NULL);
    }
  }
  assert_int_equal(art_count_fds(), fds); /* no descriptor or lock leaked */
  /* Only the good combinations produced entries, each complete. */
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  fic_artifacts *ok = prep_ok(&c);
  FIC_ASSERT_OK(fic__artifacts_verify(ok));
  free(ok);
  free(a);
}

/* ---- write errors: disk full, permission ---------------------------------- */

static void test_write_errors_via_hook(void **state) {
  (void)state;
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  fic_artifacts *a = calloc(1, sizeof *a);
  setenv("FIC_TEST_HOOK_WRITE_ERRNO", "28", 1); /* ENOSPC */
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_DISK_FULL);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "No space left on device");
  ART_ASSERT_CONTAINS(fic_last_error_message(), "libtvm_ffi.so");
  assert_no_debris(NULL);
  setenv("FIC_TEST_HOOK_WRITE_ERRNO", "122", 1); /* EDQUOT */
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_DISK_FULL);
  setenv("FIC_TEST_HOOK_WRITE_ERRNO", "13", 1); /* EACCES */
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_PERMISSION);
  setenv("FIC_TEST_HOOK_WRITE_ERRNO", "5", 1); /* EIO */
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&c, a), FIC_ERR_IO);
  assert_no_debris(NULL);
  unsetenv("FIC_TEST_HOOK_WRITE_ERRNO");
  FIC_ASSERT_OK(fic__artifacts_prepare(&c, a)); /* the next run recovers */
  assert_int_equal(a->cache_hit, 0);
  FIC_ASSERT_OK(fic__artifacts_verify(a));
  free(a);
}

/* In a child with its own mount namespace: a real tmpfs too small for the
 * extraction (ENOSPC), then grown. Exit 77 when mounting is not allowed. */
static int disk_full_child(const char *mnt) {
  if (unshare(CLONE_NEWNS) != 0) return 77;
  if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) return 77;
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0) return 77;
  fic_config c;
  art_cfg(&c, mnt, jit(), tvm(), NULL);
  static fic_artifacts art;
  fic_artifacts *a = &art;
  fic_status s = fic__artifacts_prepare(&c, a);
  if (s != FIC_ERR_DISK_FULL) {
    fprintf(stderr, "tmpfs: got %s: %s\n", fic_status_string(s), fic_last_error_message());
    return 1;
  }
  if (art_count_prefix(mnt, ".tmp-") != 0) return 2;
  if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=16m") != 0) return 3;
  s = fic__artifacts_prepare(&c, a);
  if (s != FIC_OK || a->cache_hit != 0) {
    fprintf(stderr, "tmpfs recovery: %s: %s\n", fic_status_string(s), fic_last_error_message());
    return 4;
  }
  /* Read-only file system -> permission. */
  char entry[4096];
  snprintf(entry, sizeof entry, "%s", a->artifact_dir);
  fic_test_sh("rm -rf '%s'", entry);
  if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=16m") != 0) return 5;
  s = fic__artifacts_prepare(&c, a);
  if (s != FIC_ERR_PERMISSION) {
    fprintf(stderr, "read-only: %s: %s\n", fic_status_string(s), fic_last_error_message());
    return 6;
  }
  return 0;
}

static void test_disk_full_real_tmpfs(void **state) {
  (void)state;
  char mnt[4096];
  snprintf(mnt, sizeof mnt, "%s/mnt", root);
  assert_int_equal(mkdir(mnt, 0755), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(disk_full_child(mnt));
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    print_message("SKIP: cannot mount a tmpfs here (no CAP_SYS_ADMIN); ENOSPC mapping covered by the hook test\n");
    skip();
  }
  assert_int_equal(WEXITSTATUS(status), 0);
}

static int permission_child(const char *wheels, const char *ro_root, const char *ro_parent_child) {
  if (setgid(65534) != 0 || setuid(65534) != 0) return 77;
  char j[4096], t[4096];
  snprintf(j, sizeof j, "%s/j.whl", wheels);
  snprintf(t, sizeof t, "%s/t.whl", wheels);
  fic_config c;
  static fic_artifacts art;
  fic_artifacts *a = &art;
  art_cfg(&c, ro_root, j, t, NULL);
  fic_status s = fic__artifacts_prepare(&c, a);
  if (s != FIC_ERR_PERMISSION || !strstr(fic_last_error_message(), "not writable")) {
    fprintf(stderr, "unwritable root: %s: %s\n", fic_status_string(s), fic_last_error_message());
    return 1;
  }
  art_cfg(&c, ro_parent_child, j, t, NULL);
  s = fic__artifacts_prepare(&c, a);
  if (s != FIC_ERR_PERMISSION) {
    fprintf(stderr, "uncreatable root: %s: %s\n", fic_status_string(s), fic_last_error_message());
    return 2;
  }
  return 0;
}

static void test_permission_denied(void **state) {
  (void)state;
  /* Tests run as root, which bypasses mode bits: drop to nobody in a child. */
  char wheels[4096], ro[4096], sub[4096], j[4096], t[4096];
  snprintf(wheels, sizeof wheels, "%s/wheels-copy", root);
  snprintf(ro, sizeof ro, "%s/ro", root);
  snprintf(sub, sizeof sub, "%s/ro/sub", root);
  snprintf(j, sizeof j, "%s/j.whl", wheels);
  snprintf(t, sizeof t, "%s/t.whl", wheels);
  assert_int_equal(mkdir(wheels, 0755), 0);
  assert_int_equal(mkdir(ro, 0555), 0);
  assert_int_equal(chmod(root, 0755), 0);
  art_copy(jit(), j);
  art_copy(tvm(), t);
  chmod(j, 0644);
  chmod(t, 0644);
  if (geteuid() != 0) {
    /* Not root: mode bits apply to us directly. */
    assert_int_equal(permission_child(wheels, ro, sub), 0);
    return;
  }
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(permission_child(wheels, ro, sub));
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    print_message("SKIP: cannot drop privileges to uid 65534; EACCES mapping covered by the hook test\n");
    skip();
  }
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- GC ------------------------------------------------------------------- */

static void test_gc(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("art-gc");
  char j2[4096], lock3[8192], tmp_stale[8192], tmp_busy[8192], corrupt[8192];
  snprintf(j2, sizeof j2, "%s/j2.whl", dir);
  /* A second jit wheel with other content: another entry. */
  assert_int_equal(fic_test_sh("'%s' '%s' '%s' '%s=%s' 'extra/file=%s'", fic_test_env("FIC_TEST_PYTHON"),
                               fic_test_env("FIC_TEST_MAKE_WHEEL"), j2, MOD_MEMBER, fic_test_env("FIC_TEST_MODULE"),
                               fic_test_env("FIC_TEST_MAKE_WHEEL")),
                   0);
  fic_config c;
  art_cfg(&c, root, jit(), tvm(), NULL);
  fic_artifacts *keep = prep_ok(&c);
  art_cfg(&c, root, j2, tvm(), NULL);
  fic_artifacts *other = prep_ok(&c);
  assert_string_not_equal(keep->artifact_dir, other->artifact_dir);
  /* An entry whose lock is held (an extraction in progress elsewhere). */
  const char *busy_hash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const char *free_hash = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  snprintf(lock3, sizeof lock3, "%s/%s.lock", root, busy_hash);
  snprintf(tmp_busy, sizeof tmp_busy, "%s/.tmp-%s-1-x", root, busy_hash);
  snprintf(tmp_stale, sizeof tmp_stale, "%s/.tmp-%s-1-y", root, free_hash);
  snprintf(corrupt, sizeof corrupt, "%s/.corrupt-%s-1", root, free_hash);
  assert_int_equal(
      fic_test_sh("mkdir -p '%s' '%s' '%s' && head -c 5000 /dev/zero > '%s/f' && head -c 7000 /dev/zero > '%s/f'",
                  tmp_busy, tmp_stale, corrupt, tmp_stale, corrupt),
      0);
  int busy_fd = -1;
  FIC_ASSERT_OK(fic__lock_acquire(lock3, 1, &busy_fd));

  uint64_t other_size = fic__tree_size(other->artifact_dir);
  uint64_t freed = 0, remaining = 0;
  FIC_ASSERT_OK(fic__cache_gc(root, keep->artifact_dir, 1, &freed, &remaining)); /* dry run */
  assert_int_equal(freed, other_size + 5000 + 7000);
  assert_true(art_file_size(other->artifact_dir) >= 0);
  assert_true(art_file_size(tmp_stale) >= 0);

  /* Memo temp files left by a killed writer go; a live writer's stay. */
  char memo_dead[8192], memo_live[8192];
  pid_t child = fork();
  if (child == 0) _exit(0);
  assert_true(child > 0);
  waitpid(child, NULL, 0); /* reaped: its pid names no process */
  snprintf(memo_dead, sizeof memo_dead, "%s/wheel-ids/%s.tmp-%ld-abc", root, free_hash, (long)child);
  snprintf(memo_live, sizeof memo_live, "%s/wheel-ids/%s.tmp-%ld-def", root, busy_hash, (long)getpid());
  assert_int_equal(fic_test_sh("mkdir -p '%s/wheel-ids' && touch '%s' '%s'", root, memo_dead, memo_live), 0);

  FIC_ASSERT_OK(fic__cache_gc(root, keep->artifact_dir, 0, &freed, &remaining));
  assert_int_equal(freed, other_size + 5000 + 7000);
  assert_int_equal(art_file_size(memo_dead), -1);
  assert_true(art_file_size(memo_live) >= 0);
  assert_int_equal(art_file_size(other->artifact_dir), -1);
  assert_int_equal(art_file_size(tmp_stale), -1);
  assert_int_equal(art_file_size(corrupt), -1);
  assert_true(art_file_size(tmp_busy) >= 0); /* its lock is held */
  FIC_ASSERT_OK(fic__artifacts_verify(keep));
  assert_int_equal(remaining, fic__tree_size(root));
  assert_int_equal(art_count_prefix(root, ".gc-"), 0);
  fic__lock_release(busy_fd);

  /* Kept entry still warm; the removed one comes back cold. */
  art_cfg(&c, root, jit(), tvm(), NULL);
  fic_artifacts *k2 = prep_ok(&c);
  assert_int_equal(k2->cache_hit, 1);
  art_cfg(&c, root, j2, tvm(), NULL);
  fic_artifacts *o2 = prep_ok(&c);
  assert_int_equal(o2->cache_hit, 0);
  /* Without keep_dir everything unlocked goes. */
  FIC_ASSERT_OK(fic__cache_gc(root, NULL, 0, &freed, &remaining));
  assert_int_equal(art_file_size(k2->artifact_dir), -1);
  assert_int_equal(art_file_size(o2->artifact_dir), -1);
  FIC_ASSERT_OK(fic__cache_gc("/nonexistent-root", NULL, 0, &freed, &remaining));
  assert_int_equal(freed, 0);
  free(keep);
  free(other);
  free(k2);
  free(o2);
  fic_test_rmtree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cache_root_precedence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_marker_strict, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cold_then_warm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_warm_start_does_not_rehash, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wheel_precedence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_recovery, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_detects_content_change, setup, teardown),
      cmocka_unit_test_setup_teardown(test_offline_names_missing_file_and_places, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seed_dirs_and_cached_wheels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_wheel_sha256, setup, teardown),
      cmocka_unit_test_setup_teardown(test_module_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_wheels_publish_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_errors_via_hook, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disk_full_real_tmpfs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_untrusted_cache_dirs_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_symlinked_entries_not_followed, setup, teardown),
  };
  art_clean_env();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fic_test_rmtree(art_wheels_dir());
  return rc;
}
