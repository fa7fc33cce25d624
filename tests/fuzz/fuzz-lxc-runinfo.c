/* Fuzzes what the runtime reads back from files others can touch: the run file (<vmid>.pid) and
 * mountinfo's cgroup2 line. A parse either fails or gives values in their ranges. */
#include "lxc/lxc-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lxc_runinfo ri;
	if (lxc_runinfo_parse((const char *)data, size, &ri) == 0) {
		if (ri.init_pid <= 0 || ri.monitor_pid < 0 ||
		    strlen(ri.cgroup) >= sizeof(ri.cgroup))
			abort();
		if (ri.cgroup[0] && (ri.cgroup[0] != '/' || strstr(ri.cgroup, "..")))
			abort();
	}
	char *m = pve_cgroup2_mount_parse((const char *)data, size);
	if (m && (m[0] != '/' || strchr(m, '\\') || strchr(m, '\n')))
		abort();
	free(m);
	return 0;
}
