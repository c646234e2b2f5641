/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/sprintf.h (in kernel.h for 6.1): formatting into buffers. Written for ksim. */
#ifndef _LINUX_SPRINTF_H
#define _LINUX_SPRINTF_H
#include <linux/compiler.h>
__printf(3, 4) int snprintf(char *buf, size_t size, const char *fmt, ...);
__printf(3, 4) int scnprintf(char *buf, size_t size, const char *fmt, ...);
__printf(2, 3) int sprintf(char *buf, const char *fmt, ...);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
__printf(2, 3) char *kasprintf(unsigned int gfp, const char *fmt, ...);
#endif
