/* Logging to stderr or syslog with a per-process label and a level. */
#include <syslog.h>
#include <time.h>

#include "common/common.h"

static struct {
	const char *label;
	bool syslog;
	int max_level;
} log_ctx = { "pved", false, PVE_LOG_INFO };

void pve_log_init(const char *label, bool use_syslog, int max_level)
{
	log_ctx.label = label;
	log_ctx.syslog = use_syslog;
	log_ctx.max_level = max_level;
	if (use_syslog)
		openlog(label, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void pve_log_set_level(int max_level)
{
	log_ctx.max_level = max_level;
}

bool pve_log_enabled(int level)
{
	return level <= log_ctx.max_level;
}

void pve_log(int level, const char *fmt, ...)
{
	if (!pve_log_enabled(level))
		return;
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	if (log_ctx.syslog) {
		vsyslog(level, fmt, ap);
	} else {
		static const char *const names[] = { [PVE_LOG_ERR] = "error",
						     [PVE_LOG_WARNING] = "warning",
						     [PVE_LOG_NOTICE] = "notice",
						     [PVE_LOG_INFO] = "info",
						     [PVE_LOG_DEBUG] = "debug" };
		const char *name = level >= PVE_LOG_ERR && level <= PVE_LOG_DEBUG ? names[level] :
										    "log";
		char line[4096];
		int n = snprintf(line, sizeof(line), "%s[%d]: %s: ", log_ctx.label, (int)getpid(),
				 name);
		if (n < 0 || (size_t)n >= sizeof(line))
			n = 0;
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		size_t len = m < 0 ? (size_t)n : (size_t)n + (size_t)m;
		if (len > sizeof(line) - 2)
			len = sizeof(line) - 2;
		line[len++] = '\n';
		ssize_t r = write(STDERR_FILENO, line, len);
		(void)r;
	}
	va_end(ap);
	errno = saved;
}
