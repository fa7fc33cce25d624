/* Device hot-plug's view of the command line: the options a config key puts on it (-drive, -device,
 * -netdev), picked out of the whole argv kvm_cmdline_build makes, so that a device plugged into a
 * running QEMU is the one a start would have made. */
#include "kvm/kvm.h"

/* Whether the option value names id (`id=ID` as a whole field). */
static bool names_id(const char *value, const char *id)
{
	size_t n = strlen(id);
	for (const char *p = value; (p = strstr(p, "id=")); p += 3) {
		if (p != value && p[-1] != ',')
			continue;
		if (strncmp(p + 3, id, n) == 0 && (p[3 + n] == ',' || p[3 + n] == '\0'))
			return true;
	}
	return false;
}

char **kvm_cmdline_pick(char *const *argv, const char *key)
{
	_cleanup_free_ char *drive = xasprintf("drive-%s", key);
	size_t n = 0;
	char **out = xcalloc(1, sizeof(char *));
	for (size_t i = 0; argv[i] && argv[i + 1]; i++) {
		const char *opt = argv[i], *v = argv[i + 1];
		bool hit = (streq(opt, "-drive") && names_id(v, drive)) ||
			   ((streq(opt, "-device") || streq(opt, "-netdev")) && names_id(v, key));
		if (!hit)
			continue;
		out = xrealloc(out, (n + 3) * sizeof(char *));
		out[n++] = xstrdup(opt);
		out[n++] = xstrdup(v);
		out[n] = NULL;
		i++;
	}
	return out;
}
