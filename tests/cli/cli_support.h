/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the tests of tests/cli. */
#ifndef FIC_TESTS_CLI_SUPPORT_H
#define FIC_TESTS_CLI_SUPPORT_H

/* Invert one bit of the byte at offset `at` of `path` (the size stays). */
void flip_byte(const char *path, long at);
/* Write "path size mtime mode" of everything under `dir`, sorted, to `file`. */
void tree_snapshot(const char *dir, const char *file);
/* Fails the test (printing the difference) if the two snapshots differ; removes both. */
void assert_same_snapshots(const char *before, const char *after);

#endif
