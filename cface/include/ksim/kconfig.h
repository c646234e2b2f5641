/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel configuration ksim's C face models (include/linux/kconfig.h and the CONFIG_
 * values the supported drivers read), included before every C file. Written for ksim. */
#ifndef _KSIM_KCONFIG_H
#define _KSIM_KCONFIG_H
#define __ARG_PLACEHOLDER_1 0,
#define __take_second_arg(__ignored, val, ...) val
#define __is_defined(x) ___is_defined(x)
#define ___is_defined(val) ____is_defined(__ARG_PLACEHOLDER_##val)
#define ____is_defined(arg1_or_junk) __take_second_arg(arg1_or_junk 1, 0)
#define IS_BUILTIN(option) __is_defined(option)
#define IS_MODULE(option) __is_defined(option##_MODULE)
#define IS_ENABLED(option) (IS_BUILTIN(option) || IS_MODULE(option))
#define IS_REACHABLE(option) IS_ENABLED(option)
#define CONFIG_64BIT 1
#define CONFIG_X86_64 1
#define CONFIG_MMU 1
#define CONFIG_PREEMPT_COUNT 1
#define CONFIG_DEBUG_ATOMIC_SLEEP 1
#define CONFIG_LOCKDEP 1
#define CONFIG_PROVE_LOCKING 1
#define CONFIG_KASAN 1
#define CONFIG_BLOCK 1
#define CONFIG_DEBUG_FS 1
/* drivers/block/Kconfig defaults (brd). */
#ifndef CONFIG_BLK_DEV_RAM_COUNT
#define CONFIG_BLK_DEV_RAM_COUNT 16
#endif
#ifndef CONFIG_BLK_DEV_RAM_SIZE
#define CONFIG_BLK_DEV_RAM_SIZE 4096
#endif
#define CONFIG_BLK_DEV_RAM_MODULE 1
#endif
