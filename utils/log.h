/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: stderr while in the foreground, syslog once daemonized. Log once,
 * at the origin of an error, with identifiers; callers only propagate.
 */
#ifndef MMFS_UTILS_LOG_H
#define MMFS_UTILS_LOG_H

#include <stdbool.h>

enum mmfs_log_level {
	MMFS_LOG_ERR = 3,
	MMFS_LOG_WARN = 4,
	MMFS_LOG_INFO = 6,
	MMFS_LOG_DEBUG = 7,
};

void mmfs_log_set_level(enum mmfs_log_level level);
/* Route messages to syslog (daemon) instead of stderr. */
void mmfs_log_use_syslog(bool on);
void mmfs_log(enum mmfs_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define mmfs_err(...) mmfs_log(MMFS_LOG_ERR, __VA_ARGS__)
#define mmfs_warn(...) mmfs_log(MMFS_LOG_WARN, __VA_ARGS__)
#define mmfs_info(...) mmfs_log(MMFS_LOG_INFO, __VA_ARGS__)
#define mmfs_debug(...) mmfs_log(MMFS_LOG_DEBUG, __VA_ARGS__)

#endif
