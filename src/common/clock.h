/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic time and sleeping, for timeouts and backoff. */
#ifndef FIC_COMMON_CLOCK_H
#define FIC_COMMON_CLOCK_H
/* Seconds on CLOCK_MONOTONIC. */
double fic__now_s(void);
/* Sleep `ms` milliseconds, resuming after signals. */
void fic__sleep_ms(long ms);
#endif
