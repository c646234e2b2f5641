/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/moduleparam.h: module_param() records the parameter in a section ksim reads,
 * so parameters are set per run as with modprobe. Written for ksim. */
#ifndef _LINUX_MODULEPARAM_H
#define _LINUX_MODULEPARAM_H
#include <linux/types.h>
#include <linux/compiler.h>

enum ksim_param_type {
	KSIM_PARAM_byte, KSIM_PARAM_short, KSIM_PARAM_ushort, KSIM_PARAM_int, KSIM_PARAM_uint,
	KSIM_PARAM_long, KSIM_PARAM_ulong, KSIM_PARAM_ullong, KSIM_PARAM_bool, KSIM_PARAM_charp,
	KSIM_PARAM_invbool,
};

struct ksim_param {
	const char *name;
	int type;
	void *value;
	unsigned int size;
	const char *desc;
};

#define __ksim_param_check(name, type) ((void)sizeof(&(name)))
#define module_param_named(name, value, type, perm)                                              \
	static struct ksim_param __ksim_param_##name __used __section("ksim_params") __aligned(8) = { \
		#name, KSIM_PARAM_##type, &(value), sizeof(value), NULL }
#define module_param(name, type, perm) module_param_named(name, name, type, perm)
#define module_param_unsafe(name, type, perm) module_param(name, type, perm)
/* The description goes to the section's own list (ksim shows it with the parameters). */
#define MODULE_PARM_DESC(name, text)                                                          \
	static const char *__ksim_param_desc_##name[2] __used __section("ksim_param_desc") __aligned(8) = { #name, text }
#define module_param_array(name, type, nump, perm) static void *__ksim_unsupported_array_##name __maybe_unused = &(name)
#endif
