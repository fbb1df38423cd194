/* SPDX-License-Identifier: Apache-2.0 */
/* log.c -- leveled logging to stderr or syslog */
#include "utils/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <syslog.h>

static _Atomic int log_level = MMFS_LOG_INFO;
static _Atomic bool log_syslog;

void mmfs_log_set_level(enum mmfs_log_level level)
{
	atomic_store(&log_level, level);
}

void mmfs_log_use_syslog(bool on)
{
	if (on)
		openlog("mmfs", LOG_PID, LOG_DAEMON);
	atomic_store(&log_syslog, on);
}

void mmfs_log(enum mmfs_log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	if (atomic_load(&log_syslog)) {
		vsyslog((int)level, fmt, ap);
	} else {
		char line[1024];

		/* One write per message so that threads do not interleave. */
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "mmfs: %s\n", line);
	}
	va_end(ap);
}
