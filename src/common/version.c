/* SPDX-License-Identifier: Apache-2.0 */
#include "flashinfer_c.h"

#define FIC_STR2(x) #x
#define FIC_STR(x) FIC_STR2(x)

fic_status fic_version(unsigned *number, const char **string) {
  if (number) *number = FIC_VERSION_NUMBER;
  if (string) *string = FIC_STR(FIC_VERSION_MAJOR) "." FIC_STR(FIC_VERSION_MINOR) "." FIC_STR(FIC_VERSION_PATCH);
  return FIC_OK;
}
