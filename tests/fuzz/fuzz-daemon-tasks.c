/* Fuzzes the parser of the task index and active files (daemon/core/tasks.c), which pved reads at its
 * start from var/log/pve/tasks, as Proxmox writes them too: each input line is parsed as an index line
 * and as an active line. A parsed task's UPID must read back to the same fields, a running task has no
 * status, a finished one a status without a line break. */
#include "daemon/core/tasks-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line, size_t len, bool active)
{
	char *copy = xstrndup(line, len);
	pved_task *t = pved_task_parse_line(copy, active);
	if (t) {
		pve_upid u;
		if (pve_upid_parse(t->upid_str, &u, NULL) < 0 || u.pid != t->upid.pid ||
		    u.starttime != t->upid.starttime || strcmp(u.type, t->upid.type) != 0 ||
		    strcmp(u.user, t->upid.user) != 0)
			abort();
		if (t->running != (t->status == NULL))
			abort();
		if (t->status && strpbrk(t->status, "\n"))
			abort();
		pved_task_free(t);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	const char *s = (const char *)data, *end = s + size;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		/* the files are read as text: a NUL ends the line */
		const char *nul = memchr(s, '\0', len);
		check_line(s, nul ? (size_t)(nul - s) : len, false);
		check_line(s, nul ? (size_t)(nul - s) : len, true);
		s += len + 1;
	}
	return 0;
}
