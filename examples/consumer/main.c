/* SPDX-License-Identifier: Apache-2.0 */
/* The smallest program that uses flashinfer-c from an installed tree: it
 * prints the library version and a diagnosis (no runtime needed). */
#include <flashinfer_c.h>
#include <stdio.h>

int main(void) {
  const char *version = NULL;
  if (fic_version(NULL, &version) != FIC_OK) return 1;
  char text[8192];
  fic_status st = fic_diagnose(NULL, text, sizeof text, NULL);
  if (st != FIC_OK) {
    fprintf(stderr, "diagnose: %s: %s\n", fic_status_string(st), fic_last_error_message());
    return 1;
  }
  printf("consumer linked flashinfer-c %s\n%s", version, text);
  return 0;
}
