/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/module.h. Written for ksim. */
#ifndef _LINUX_MODULE_H
#define _LINUX_MODULE_H
#include <linux/kernel.h>
#include <linux/init.h>
#include <linux/moduleparam.h>
#include <linux/export.h>
struct module;
#define THIS_MODULE ((struct module *)0)
#define __ksim_cat2(a, b) a##b
#define __ksim_cat(a, b) __ksim_cat2(a, b)
#define __ksim_modinfo(tag, info) static const char __ksim_cat(__ksim_modinfo_##tag, __COUNTER__)[] __maybe_unused = info
#define MODULE_LICENSE(x) __ksim_modinfo(license, x)
#define MODULE_AUTHOR(x) __ksim_modinfo(author, x)
#define MODULE_DESCRIPTION(x) __ksim_modinfo(description, x)
#define MODULE_VERSION(x) __ksim_modinfo(version, x)
#define MODULE_ALIAS(x) __ksim_modinfo(alias, x)
#define MODULE_ALIAS_BLOCKDEV_MAJOR(major) struct __ksim_unused_alias
#define MODULE_DEVICE_TABLE(type, name) struct __ksim_unused_devtable
#define MODULE_IMPORT_NS(ns) struct __ksim_unused_ns
#define EXPORT_SYMBOL(sym) struct __ksim_unused_export
#define EXPORT_SYMBOL_GPL(sym) struct __ksim_unused_export
#endif
