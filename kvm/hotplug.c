/* Hot-plug's view of the command line: the options a config key puts on it (-drive, -device,
 * -netdev), picked out of the whole argv kvm_cmdline_build makes, so that a device plugged into a
 * running QEMU is the one a start would have made; and the layout of hot-pluggable vCPUs and memory
 * (Proxmox's dimm slots and sizes, cpuN's socket and core), which the start and hot-plug share. */
#include "kvm/kvm-internal.h"

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

int kvm_config_numa_nodes(const pve_config *c, int ret_nodes[KVM_MAX_NUMA])
{
	int n = 0;
	for (int i = 0; i < KVM_MAX_NUMA; i++) {
		char key[16];
		snprintf(key, sizeof(key), "numa%d", i);
		if (!pve_config_get(c, NULL, key))
			continue;
		if (ret_nodes)
			ret_nodes[n] = i;
		n++;
	}
	return n;
}

bool kvm_dimm_nth(const pve_config *c, int i, kvm_dimm *ret)
{
	if (i < 0 || i >= KVM_MAX_DIMMS)
		return false;
	/* the dimms go to the guest's nodes in turn: numaN's, else one per socket */
	int nodes[KVM_MAX_NUMA];
	int n_nodes = kvm_config_numa_nodes(c, nodes);
	int sockets = kvm_config_sockets(c);
	uint64_t total = KVM_STATIC_MEMORY_MIB;
	for (int k = 0; k <= i; k++)
		total += (uint64_t)512 << (k / 32);
	*ret = (kvm_dimm){
		.index = i,
		.size_mib = (uint64_t)512 << (i / 32),
		.node = n_nodes ? nodes[(i % 32) % n_nodes] : (i % 32) % sockets,
		.total_mib = total,
	};
	return true;
}

int kvm_config_sockets(const pve_config *c)
{
	const char *v = pve_config_get(c, NULL, "sockets");
	if (!v)
		v = pve_config_get(c, NULL, "smp");
	long long n;
	if (!v || pve_parse_int(v, 1, 4096, &n) < 0)
		return 1;
	return (int)n;
}

/* The host's physical address bits from /proc/cpuinfo ("address sizes : 48 bits physical"); 0 when
 * it does not say. */
static int host_phys_bits(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return 0;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		int bits;
		if (startswith(line, "address sizes") &&
		    sscanf(strchr(line, ':') ? strchr(line, ':') + 1 : "", "%d bits physical",
			   &bits) == 1)
			return bits;
	}
	return 0;
}

uint64_t kvm_memory_max_mib(const pve_config *c, const kvm_schema *s)
{
	_cleanup_json_ cJSON *o = NULL;
	const char *v = pve_config_get(c, NULL, "cpu");
	const cJSON *fmt = v ? kvm_key_format(s, "cpu") : NULL;
	if (fmt)
		(void)pve_propstr_parse(v, fmt, &o, NULL);
	const char *pb = o ? pve_json_str(o, "phys-bits") : NULL;
	const char *type = o ? pve_json_str(o, "cputype") : NULL;
	int bits = 0;
	if (pb && streq(pb, "host"))
		bits = host_phys_bits();
	else if (pb)
		bits = atoi(pb);
	if (bits <= 0) {
		int host = host_phys_bits();
		if (host <= 0)
			host = 36;
		bits = type && (streq(type, "host") || streq(type, "max")) ? host :
		       host > 40					   ? 40 :
									     host;
	}
	bits &= ~1;
	/* the bits in MiB, halved: QEMU needs some of the address space */
	uint64_t max = bits > 21 ? (uint64_t)1 << (bits - 21) : 1;
	return max > 4 * 1024 * 1024 ? 4 * 1024 * 1024 : max;
}

void kvm_cpu_slot(const pve_config *c, int id, int *ret_socket, int *ret_core)
{
	const char *v = pve_config_get(c, NULL, "cores");
	long long cores = 1;
	if (v && pve_parse_int(v, 1, 4096, &cores) < 0)
		cores = 1;
	*ret_core = (int)((id - 1) % cores);
	*ret_socket = (int)((id - 1) / cores);
}
