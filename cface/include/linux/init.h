/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/init.h: module_init()/module_exit() and section markers. ksim finds a module's
 * init and exit functions through the exported pointers these define, and calls them once per
 * execution on a freshly loaded copy of the module. Written for ksim. */
#ifndef _LINUX_INIT_H
#define _LINUX_INIT_H
#include <linux/compiler.h>
#define __init
#define __exit
#define __initdata
#define __exitdata
#define __initconst
#define __ref
#define __meminit
#define __devinit
typedef int (*initcall_t)(void);
typedef void (*exitcall_t)(void);
#define __ksim_export __attribute__((__used__, __visibility__("default")))
#define module_init(fn) initcall_t __ksim_module_init __ksim_export = (fn)
#define module_exit(fn) exitcall_t __ksim_module_exit __ksim_export = (fn)
#define __initcall(fn) module_init(fn)
#define device_initcall(fn) module_init(fn)
#define late_initcall(fn) module_init(fn)
#define subsys_initcall(fn) module_init(fn)
#define fs_initcall(fn) module_init(fn)
#define core_initcall(fn) module_init(fn)
/* __setup(): boot options of built-in code; ksim loads code as a module, so never called. */
#define __setup(str, fn) static int (*__ksim_setup_##fn)(char *) __maybe_unused = (fn)
#define early_param(str, fn) __setup(str, fn)
#endif
