/* The QEMU command line, in one place: from a VM config and what the caller resolves (volume paths,
 * bridges, the accelerator, the node's run directory) to the argv of a QEMU that daemonizes. The shape
 * follows Proxmox's config_to_command where QEMU allows it: the same ids (drive-scsi0, net0, qga0,
 * serial0), sockets in the run directory, VNC on a unix socket. PCI addresses are left to QEMU. */
#include <ctype.h>

#include "kvm/kvm-internal.h"

typedef struct argv_builder {
	char **v;
	size_t n, cap;
} argv_builder;

static void add(argv_builder *b, const char *s)
{
	if (b->n + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->v = xrealloc(b->v, b->cap * sizeof(char *));
	}
	b->v[b->n++] = xstrdup(s);
	b->v[b->n] = NULL;
}

static void addf(argv_builder *b, const char *fmt, ...) _printf_(2, 3);
static void addf(argv_builder *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = xvasprintf(fmt, ap);
	va_end(ap);
	add(b, s);
}

static void add2(argv_builder *b, const char *opt, const char *val)
{
	add(b, opt);
	add(b, val);
}

/* QEMU's option syntax doubles a comma inside a value. */
static char *qemu_escape(const char *s)
{
	pve_buf b = { 0 };
	for (const char *p = s; *p; p++) {
		if (*p == ',')
			pve_buf_puts(&b, ",,");
		else
			pve_buf_append(&b, p, 1);
	}
	if (!b.data)
		pve_buf_puts(&b, "");
	return pve_buf_steal(&b);
}

typedef struct ctx {
	const pve_config *c;
	const kvm_schema *s;
	const kvm_cmdline_info *info;
	argv_builder *b;
	bool q35;
	char **boot; /* the boot order's devices */
	pve_error **err;
} ctx;

static const char *get(const ctx *x, const char *key)
{
	return pve_config_get(x->c, NULL, key);
}

static int bootindex(const ctx *x, const char *dev)
{
	for (size_t i = 0; x->boot && x->boot[i]; i++)
		if (streq(x->boot[i], dev))
			return 100 + (int)i;
	return 0;
}

static void warn(const ctx *x, const char *fmt, ...) _printf_(2, 3);
static void warn(const ctx *x, const char *fmt, ...)
{
	if (!x->info->warn)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	x->info->warn(x->info->ud, msg);
}

/* A property string of the key parsed with its format; NULL (and an error) when it does not parse. */
static cJSON *parse_key(const ctx *x, const char *key)
{
	const char *v = get(x, key);
	if (!v)
		return NULL;
	const cJSON *fmt = kvm_key_format(x->s, key);
	cJSON *o = NULL;
	pve_error *e = NULL;
	if (!fmt || pve_propstr_parse(v, fmt, &o, &e) < 0) {
		pve_error_set_param(x->err, EINVAL, key, "invalid value of '%s': %s", key,
				    e ? e->message : "no format");
		pve_error_free(e);
		return NULL;
	}
	return o;
}

static bool opt_bool(const cJSON *o, const char *key, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble != 0 : def;
}

/* ---- machine, firmware, CPU, memory -------------------------------------------------------------- */

static int machine(ctx *x, pve_buf *mflags)
{
	const char *type = x->info->machine;
	_cleanup_json_ cJSON *m = NULL;
	if (!type && get(x, "machine")) {
		m = parse_key(x, "machine");
		if (!m)
			return -EINVAL;
		type = pve_json_str(m, "type");
	}
	if (!type)
		type = "pc";
	/* Proxmox's "+pveN" suffixes name its own QEMU patches' levels; QEMU upstream knows the base */
	_cleanup_free_ char *base = xstrndup(type, strcspn(type, "+"));
	x->q35 = strstr(base, "q35") != NULL;
	pve_buf_printf(mflags, "type=%s", base);
	pve_buf_printf(mflags, ",accel=%s", x->info->kvm ? "kvm" : "tcg");
	if (!kvm_config_bool(x->c, NULL, "acpi", true))
		pve_buf_puts(mflags, ",acpi=off");
	const char *viommu = m ? pve_json_str(m, "viommu") : NULL;
	if (viommu && streq(viommu, "intel"))
		pve_buf_puts(mflags, ",kernel-irqchip=split");
	return 0;
}

static int firmware(ctx *x)
{
	const char *bios = get(x, "bios");
	if (!bios || streq(bios, "seabios"))
		return 0;
	const char *file = x->info->ovmf_code, *template;
	if (!file)
		kvm_ovmf_files(x->s, get(x, "efidisk0"), get(x, "machine"), &file, &template);
	if (access(file, R_OK) != 0)
		return pve_error_set_param(x->err, ENOENT, "bios",
					   "bios 'ovmf': the OVMF firmware is not installed (%s)",
					   file);
	_cleanup_free_ char *code = qemu_escape(file);
	add(x->b, "-drive");
	addf(x->b, "if=pflash,unit=0,format=raw,readonly=on,file=%s", code);
	const char *efi = get(x, "efidisk0");
	if (!efi) {
		/* Proxmox boots such a VM with throw-away EFI variables, and says so */
		warn(x, "no efidisk configured! Using temporary efivars disk.");
		_cleanup_free_ char *vars =
			kvm_run_path(x->info->run_dir, x->info->vmid, "efivars");
		_cleanup_free_ char *ev = qemu_escape(vars);
		add(x->b, "-drive");
		addf(x->b, "if=pflash,unit=1,id=drive-efidisk0,format=raw,file=%s", ev);
		return 0;
	}
	kvm_drive d;
	int r = kvm_drive_parse(x->s, "efidisk0", efi, &d, x->err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = NULL, *format = NULL;
	r = x->info->resolve(x->info->ud, d.file, &path, &format, x->err);
	if (r < 0) {
		kvm_drive_clear(&d);
		return r;
	}
	_cleanup_free_ char *ep = qemu_escape(path);
	add(x->b, "-drive");
	addf(x->b, "if=pflash,unit=1,id=drive-efidisk0,format=%s,file=%s",
	     d.format ? d.format :
	     format   ? format :
			"raw",
	     ep);
	kvm_drive_clear(&d);
	return 0;
}

void kvm_ovmf_files(const kvm_schema *s, const char *efi, const char *machine,
		    const char **ret_code, const char **ret_vars)
{
	*ret_code = KVM_OVMF_DIR "/OVMF_CODE.fd";
	*ret_vars = KVM_OVMF_DIR "/OVMF_VARS.fd";
	kvm_drive d;
	if (!efi || kvm_drive_parse(s, "efidisk0", efi, &d, NULL) < 0)
		return;
	bool four_m = streq_ptr(pve_json_str(d.opts, "efitype"), "4m");
	bool ms = opt_bool(d.opts, "pre-enrolled-keys", false);
	kvm_drive_clear(&d);
	if (!four_m)
		return;
	/* Proxmox's 4m images: the secure-boot build where the machine has SMM (q35) */
	bool q35 = machine && strstr(machine, "q35");
	*ret_code = q35 ? KVM_OVMF_DIR "/OVMF_CODE_4M.secboot.fd" : KVM_OVMF_DIR "/OVMF_CODE_4M.fd";
	*ret_vars = ms ? KVM_OVMF_DIR "/OVMF_VARS_4M.ms.fd" : KVM_OVMF_DIR "/OVMF_VARS_4M.fd";
}

static unsigned hotplug_features(const ctx *x)
{
	unsigned f = KVM_HOTPLUG_NETWORK | KVM_HOTPLUG_DISK | KVM_HOTPLUG_USB;
	const char *v = get(x, "hotplug");
	if (v && kvm_hotplug_parse(v, &f) < 0)
		f = 0;
	return f;
}

/* "0-1;3" (numaN's cpus and hostnodes) as QEMU takes it: ",cpus=0-1,cpus=3" for cpus, "0-1,3" for
 * host-nodes, each host node checked to exist. */
static int id_list(ctx *x, const char *key, const char *list, bool host, pve_buf *b)
{
	_cleanup_strv_free_ char **parts = pve_strv_split(list, ";");
	for (char **p = parts; *p; p++) {
		if (host) {
			pve_buf_printf(b, "%s%s", p == parts ? "" : ",", *p);
			long long lo, hi;
			char *dash = strchr(*p, '-');
			if (dash)
				*dash = '\0';
			if (pve_parse_int(*p, 0, 1023, &lo) < 0 ||
			    pve_parse_int(dash ? dash + 1 : *p, 0, 1023, &hi) < 0)
				return pve_error_set_param(x->err, EINVAL, key,
							   "invalid host node list '%s'", list);
			for (long long i = lo; i <= hi; i++) {
				_cleanup_free_ char *dir =
					xasprintf("/sys/devices/system/node/node%lld", i);
				if (access(dir, F_OK) != 0)
					return pve_error_set_param(
						x->err, EINVAL, key,
						"host NUMA node%lld doesn't exist", i);
			}
		} else {
			pve_buf_printf(b, ",cpus=%s", *p);
		}
	}
	return 0;
}

/* numaN, as Proxmox's: a guest node each with its memory (the nodes adding up to the static RAM), its
 * vCPUs and, optionally, the host nodes it is bound to with a policy. 1 when the config has numaN. */
static int numa_nodes(ctx *x, uint64_t static_mem)
{
	uint64_t total = 0;
	for (int i = 0; i < KVM_MAX_NUMA; i++) {
		char key[16];
		snprintf(key, sizeof(key), "numa%d", i);
		if (!get(x, key))
			continue;
		_cleanup_json_ cJSON *o = parse_key(x, key);
		if (!o)
			return -EINVAL;
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "memory");
		double mem = cJSON_IsNumber(m) ? m->valuedouble : 0;
		if (cJSON_IsString(m) && pve_parse_double(m->valuestring, &mem) < 0)
			mem = 0;
		if (mem < 1)
			return pve_error_set_param(x->err, EINVAL, key,
						   "missing NUMA node%d memory value", i);
		const char *cpus = pve_json_str(o, "cpus");
		if (!cpus)
			return pve_error_set_param(x->err, EINVAL, key, "missing NUMA node%d cpus",
						   i);
		pve_buf obj = { 0 }, node = { 0 };
		pve_buf_printf(&obj, "memory-backend-ram,id=ram-node%d,size=%lluM", i,
			       (unsigned long long)mem);
		pve_buf_printf(&node, "node,nodeid=%d", i);
		int r = id_list(x, key, cpus, false, &node);
		const char *hostnodes = pve_json_str(o, "hostnodes");
		if (r >= 0 && hostnodes) {
			const char *policy = pve_json_str(o, "policy");
			pve_buf hn = { 0 };
			r = id_list(x, key, hostnodes, true, &hn);
			if (r >= 0 && !policy)
				r = pve_error_set_param(
					x->err, EINVAL, key,
					"you need to define a policy for hostnode %s", hn.data);
			if (r >= 0)
				pve_buf_printf(&obj, ",host-nodes=%s,policy=%s", hn.data, policy);
			pve_buf_free(&hn);
		}
		if (r >= 0) {
			pve_buf_printf(&node, ",memdev=ram-node%d", i);
			add2(x->b, "-object", obj.data);
			add2(x->b, "-numa", node.data);
			total += (uint64_t)mem;
		}
		pve_buf_free(&obj);
		pve_buf_free(&node);
		if (r < 0)
			return r;
	}
	if (total != static_mem)
		return pve_error_set_param(x->err, EINVAL, "memory",
					   "total memory for NUMA nodes must be equal to vm static "
					   "memory");
	return 1;
}

/* -m, and with numa: 1 the numaN nodes, or one node per socket (Proxmox's split of memory and cores
 * when no numaN is set). With memory hot-plug: 1 GiB of static RAM, up to 255 slots, and the rest as the dimms of
 * Proxmox's layout, so that a restarted VM has what hot-plug gave it. */
static int memory(ctx *x, bool hotplug, int sockets, int cores)
{
	uint64_t mem = kvm_config_memory_mib(x->c, NULL), static_mem = mem;
	bool numa = kvm_config_bool(x->c, NULL, "numa", false);
	if (hotplug) {
		if (!numa)
			return pve_error_set_param(x->err, EINVAL, "hotplug",
						   "NUMA needs to be enabled for memory hotplug");
		uint64_t max = kvm_memory_max_mib(x->c, x->s);
		if (mem > max)
			return pve_error_set_param(x->err, EINVAL, "memory",
						   "Total memory is bigger than %lluMB",
						   (unsigned long long)max);
		static_mem = KVM_STATIC_MEMORY_MIB;
		if (mem < static_mem)
			return pve_error_set_param(x->err, EINVAL, "memory",
						   "minimum memory must be %lluMB",
						   (unsigned long long)static_mem);
		add(x->b, "-m");
		addf(x->b, "size=%llu,slots=255,maxmem=%lluM", (unsigned long long)static_mem,
		     (unsigned long long)max);
	} else {
		add(x->b, "-m");
		addf(x->b, "%llu", (unsigned long long)mem);
	}
	int r = numa && kvm_config_numa_nodes(x->c, NULL) ? numa_nodes(x, static_mem) : 0;
	if (r < 0)
		return r;
	for (int i = 0; numa && !r && i < sockets; i++) {
		/* QEMU wants the nodes to add up to the static RAM: the last takes the remainder */
		uint64_t size = static_mem / (uint64_t)sockets;
		if (i == sockets - 1)
			size = static_mem - size * (uint64_t)(sockets - 1);
		add(x->b, "-object");
		addf(x->b, "memory-backend-ram,id=ram-node%d,size=%lluM", i,
		     (unsigned long long)size);
		add(x->b, "-numa");
		if (cores > 1)
			addf(x->b, "node,nodeid=%d,cpus=%d-%d,memdev=ram-node%d", i, cores * i,
			     cores * i + cores - 1, i);
		else
			addf(x->b, "node,nodeid=%d,cpus=%d,memdev=ram-node%d", i, i, i);
	}
	kvm_dimm d;
	for (int i = 0; hotplug && mem > static_mem && kvm_dimm_nth(x->c, i, &d); i++) {
		add(x->b, "-object");
		addf(x->b, "memory-backend-ram,id=mem-dimm%d,size=%lluM", i,
		     (unsigned long long)d.size_mib);
		add(x->b, "-device");
		addf(x->b, "pc-dimm,id=dimm%d,memdev=mem-dimm%d,node=%d", i, i, d.node);
		if (d.total_mib > mem)
			return pve_error_set_param(
				x->err, EINVAL, "memory",
				"memory size (%llu) must be aligned to %llu for hotplugging",
				(unsigned long long)mem, (unsigned long long)d.size_mib);
		if (d.total_mib == mem)
			break;
	}
	return 0;
}

static int cpu(ctx *x)
{
	int vcpus;
	int maxcpus = kvm_config_cpus(x->c, NULL, &vcpus);
	long long sockets = 1, cores = 1, n;
	const char *v;
	if ((v = get(x, "sockets")) && pve_parse_int(v, 1, 4096, &n) == 0)
		sockets = n;
	else if ((v = get(x, "smp")) && pve_parse_int(v, 1, 4096, &n) == 0)
		sockets = n;
	if ((v = get(x, "cores")) && pve_parse_int(v, 1, 4096, &n) == 0)
		cores = n;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (online > 0 && maxcpus > online && x->info->kvm)
		return pve_error_set_param(x->err, EINVAL, "cores",
					   "MAX %ld vcpus allowed per VM on this node", online);
	unsigned hotplug = hotplug_features(x);
	/* With CPU hot-plug one vCPU is built in and the others are devices (cpu2..cpuN), as Proxmox
	 * starts them, so that they can be unplugged later and a restart has what was plugged. */
	bool cpu_hotplug = hotplug & KVM_HOTPLUG_CPU;
	add(x->b, "-smp");
	addf(x->b, "%d,sockets=%lld,cores=%lld,maxcpus=%d", cpu_hotplug ? 1 : vcpus, sockets, cores,
	     maxcpus);

	const char *model = "kvm64";
	pve_buf b = { 0 };
	_cleanup_json_ cJSON *o = NULL;
	if (get(x, "cpu")) {
		o = parse_key(x, "cpu");
		if (!o)
			return -EINVAL;
		if (pve_json_str(o, "cputype"))
			model = pve_json_str(o, "cputype");
	}
	if (startswith(model, "custom-")) {
		pve_buf_free(&b);
		return pve_error_set_param(x->err, EINVAL, "cpu",
					   "custom CPU models are not supported by pved yet");
	}
	if (streq(model, "host") && !x->info->kvm) {
		pve_buf_free(&b);
		return pve_error_set_param(
			x->err, EINVAL, "cpu",
			"CPU model 'host' needs KVM, and this VM runs without it");
	}
	pve_buf_puts(&b, model);
	const char *flags = o ? pve_json_str(o, "flags") : NULL;
	_cleanup_strv_free_ char **fl = flags ? pve_strv_split(flags, ";") : NULL;
	for (char **f = fl; f && *f; f++)
		pve_buf_printf(&b, ",%s", *f);
	if (o && opt_bool(o, "hidden", false))
		pve_buf_puts(&b, ",kvm=off");
	const char *pb = o ? pve_json_str(o, "phys-bits") : NULL;
	if (pb && streq(pb, "host"))
		pve_buf_puts(&b, ",host-phys-bits=true");
	else if (pb)
		pve_buf_printf(&b, ",phys-bits=%s", pb);
	add2(x->b, "-cpu", b.data);
	pve_buf_free(&b);
	for (int i = 2; cpu_hotplug && i <= vcpus; i++) {
		int sock, core;
		kvm_cpu_slot(x->c, i, &sock, &core);
		add(x->b, "-device");
		addf(x->b, "%s-x86_64-cpu,id=cpu%d,socket-id=%d,core-id=%d,thread-id=0", model, i,
		     sock, core);
	}

	int r = memory(x, hotplug & KVM_HOTPLUG_MEMORY, (int)sockets, (int)cores);
	if (r < 0)
		return r;
	/* the balloon device, unless balloon: 0 turns it off */
	const char *balloon = get(x, "balloon");
	if (!balloon || !streq(balloon, "0"))
		add2(x->b, "-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on");
	return 0;
}

/* ---- drives --------------------------------------------------------------------------------------- */

static const char *scsihw(const ctx *x)
{
	const char *h = get(x, "scsihw");
	return h ? h : "lsi";
}

/* The -drive of a drive: its backend, named drive-<key>. */
static int drive_backend(ctx *x, const kvm_drive *d, const char *path, const char *format)
{
	pve_buf b = { 0 };
	if (path) {
		_cleanup_free_ char *p = qemu_escape(path);
		pve_buf_printf(&b, "file=%s,", p);
	}
	pve_buf_printf(&b, "if=none,id=drive-%s", d->key);
	if (d->cdrom)
		pve_buf_puts(&b, ",media=cdrom");
	const char *fmt = d->format ? d->format : format;
	if (path && fmt)
		pve_buf_printf(&b, ",format=%s", fmt);
	const char *cache = pve_json_str(d->opts, "cache");
	bool direct = cache ? (streq(cache, "none") || streq(cache, "directsync")) : !d->cdrom;
	if (path) {
		if (cache)
			pve_buf_printf(&b, ",cache=%s", cache);
		else
			pve_buf_printf(&b, ",cache.direct=%s", direct ? "on" : "off");
		const char *aio = pve_json_str(d->opts, "aio");
		/* io_uring works with every cache mode, native needs O_DIRECT */
		pve_buf_printf(&b, ",aio=%s", aio ? aio : "io_uring");
		const char *discard = pve_json_str(d->opts, "discard");
		if (discard && streq(discard, "on"))
			pve_buf_puts(&b, ",discard=unmap");
		const cJSON *dz = cJSON_GetObjectItemCaseSensitive(d->opts, "detect_zeroes");
		if (!d->cdrom)
			pve_buf_printf(&b, ",detect-zeroes=%s",
				       cJSON_IsNumber(dz) && dz->valuedouble == 0 ? "off" :
				       discard && streq(discard, "on")		  ? "unmap" :
										    "on");
		if (opt_bool(d->opts, "ro", false) || d->cdrom)
			pve_buf_puts(&b, ",readonly=on");
		const char *rerror = pve_json_str(d->opts, "rerror"),
			   *werror = pve_json_str(d->opts, "werror");
		if (rerror)
			pve_buf_printf(&b, ",rerror=%s", rerror);
		if (werror)
			pve_buf_printf(&b, ",werror=%s", werror);
		static const char *const throttles[] = { "bps",	 "bps_rd",  "bps_wr",
							 "iops", "iops_rd", "iops_wr" };
		for (size_t i = 0; i < ELEMENTSOF(throttles); i++) {
			long long n;
			if (pve_json_int(d->opts, throttles[i], &n) && n > 0) {
				_cleanup_free_ char *name = xstrdup(throttles[i]);
				char *u = strchr(name, '_');
				if (u)
					*u = '-';
				pve_buf_printf(&b, ",throttling.%s=%lld", name, n);
			}
		}
	}
	add2(x->b, "-drive", b.data);
	pve_buf_free(&b);
	return 0;
}

static void drive_device(ctx *x, const kvm_drive *d)
{
	pve_buf b = { 0 };
	const char *cd_or_hd = d->cdrom ? "cd" : "hd";
	switch (d->bus) {
	case KVM_BUS_VIRTIO:
		pve_buf_printf(&b, "virtio-blk-pci,drive=drive-%s,id=%s", d->key, d->key);
		if (opt_bool(d->opts, "iothread", false)) {
			add(x->b, "-object");
			addf(x->b, "iothread,id=iothread-%s", d->key);
			pve_buf_printf(&b, ",iothread=iothread-%s", d->key);
		}
		break;
	case KVM_BUS_SCSI: {
		const char *hw = scsihw(x);
		bool single = streq(hw, "virtio-scsi-single");
		int maxdev = startswith(hw, "lsi") ? 7 : single ? 1 : 256;
		const char *prefix = single ? "virtioscsi" : "scsihw";
		int controller = d->index / maxdev, unit = d->index % maxdev;
		if (startswith(hw, "lsi") || streq(hw, "pvscsi"))
			pve_buf_printf(&b, "scsi-%s,bus=%s%d.0,scsi-id=%d", cd_or_hd, prefix,
				       controller, unit);
		else
			pve_buf_printf(&b, "scsi-%s,bus=%s%d.0,channel=0,scsi-id=0,lun=%d",
				       cd_or_hd, prefix, controller, d->index);
		pve_buf_printf(&b, ",drive=drive-%s,id=%s", d->key, d->key);
		if (opt_bool(d->opts, "ssd", false) && !d->cdrom)
			pve_buf_puts(&b, ",rotation_rate=1");
		break;
	}
	case KVM_BUS_IDE: {
		int controller = d->index / 2, unit = d->index % 2;
		/* q35's AHCI has one unit per bus: odd indices move up by two, as in Proxmox */
		if (x->q35) {
			controller += 2 * (unit % 2);
			unit = 0;
		}
		pve_buf_printf(&b, "ide-%s,bus=ide.%d,unit=%d,drive=drive-%s,id=%s", cd_or_hd,
			       controller, unit, d->key, d->key);
		break;
	}
	case KVM_BUS_SATA:
		pve_buf_printf(&b, "ide-%s,bus=ahci0.%d,drive=drive-%s,id=%s", cd_or_hd, d->index,
			       d->key, d->key);
		break;
	default:
		pve_buf_free(&b);
		return;
	}
	int bi = bootindex(x, d->key);
	if (bi)
		pve_buf_printf(&b, ",bootindex=%d", bi);
	const char *serial = pve_json_str(d->opts, "serial");
	if (serial) {
		_cleanup_free_ char *dec = pve_uri_decode(serial, strlen(serial), false);
		_cleanup_free_ char *esc = qemu_escape(dec ? dec : serial);
		pve_buf_printf(&b, ",serial=%s", esc);
	}
	if (!d->cdrom && d->bus != KVM_BUS_IDE && d->bus != KVM_BUS_SATA) {
		const char *cache = pve_json_str(d->opts, "cache");
		bool wc = !cache || !(streq(cache, "writethrough") || streq(cache, "directsync"));
		pve_buf_printf(&b, ",write-cache=%s", wc ? "on" : "off");
	}
	add2(x->b, "-device", b.data);
	pve_buf_free(&b);
}

static int drives(ctx *x)
{
	static const struct {
		const char *prefix;
		int count;
	} order[] = { { "ide", KVM_MAX_IDE },
		      { "sata", KVM_MAX_SATA },
		      { "scsi", KVM_MAX_SCSI },
		      { "virtio", KVM_MAX_VIRTIO } };
	bool sata = false;
	bool scsi_ctrl[KVM_MAX_SCSI] = { false };
	const char *hw = scsihw(x);
	bool single = streq(hw, "virtio-scsi-single");
	int maxdev = startswith(hw, "lsi") ? 7 : single ? 1 : 256;
	for (size_t o = 0; o < ELEMENTSOF(order); o++) {
		for (int i = 0; i < order[o].count; i++) {
			char key[16];
			snprintf(key, sizeof(key), "%s%d", order[o].prefix, i);
			const char *v = get(x, key);
			if (!v)
				continue;
			kvm_drive d;
			int r = kvm_drive_parse(x->s, key, v, &d, x->err);
			if (r < 0)
				return r;
			if (kvm_drive_alloc_request(d.file, NULL, NULL)) {
				kvm_drive_clear(&d);
				return pve_error_set_param(x->err, EINVAL, key,
							   "%s: the disk '%s' was never allocated",
							   key, v);
			}
			if (d.bus == KVM_BUS_SATA && !sata) {
				add2(x->b, "-device", "ahci,id=ahci0,multifunction=on");
				sata = true;
			}
			if (d.bus == KVM_BUS_SCSI && !scsi_ctrl[d.index / maxdev]) {
				int ctl = d.index / maxdev;
				scsi_ctrl[ctl] = true;
				const char *type = single ? "virtio-scsi-pci" : hw;
				if (streq(type, "lsi"))
					type = "lsi";
				if (single && opt_bool(d.opts, "iothread", false)) {
					add(x->b, "-object");
					addf(x->b, "iothread,id=iothread-virtioscsi%d", ctl);
					add(x->b, "-device");
					addf(x->b,
					     "%s,id=virtioscsi%d,iothread=iothread-virtioscsi%d",
					     type, ctl, ctl);
				} else {
					add(x->b, "-device");
					addf(x->b, "%s,id=%s%d", type,
					     single ? "virtioscsi" : "scsihw", ctl);
				}
			}
			_cleanup_free_ char *path = NULL, *format = NULL;
			bool empty = streq(d.file, "none") || streq(d.file, "cdrom");
			if (streq(d.file, "cdrom")) {
				/* the host's CD-ROM drive */
				path = xstrdup("/dev/cdrom");
				empty = false;
			} else if (!empty) {
				r = x->info->resolve(x->info->ud, d.file, &path, &format, x->err);
				if (r < 0) {
					kvm_drive_clear(&d);
					return r;
				}
			}
			drive_backend(x, &d, empty ? NULL : path, format);
			drive_device(x, &d);
			kvm_drive_clear(&d);
		}
	}
	return 0;
}

/* ---- NICs ----------------------------------------------------------------------------------------- */

static const char *nic_device(const char *model)
{
	static const struct {
		const char *model, *device;
	} map[] = { { "virtio", "virtio-net-pci" },
		    { "e1000", "e1000" },
		    { "e1000e", "e1000e" },
		    { "rtl8139", "rtl8139" },
		    { "vmxnet3", "vmxnet3" },
		    { "ne2k_pci", "ne2k_pci" },
		    { "ne2k_isa", "ne2k_isa" },
		    { "pcnet", "pcnet" },
		    { "i82551", "i82551" },
		    { "i82557b", "i82557b" },
		    { "i82559er", "i82559er" },
		    { "e1000-82540em", "e1000-82540em" },
		    { "e1000-82544gc", "e1000-82544gc" },
		    { "e1000-82545em", "e1000-82545em" } };
	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (streq(model, map[i].model))
			return map[i].device;
	return NULL;
}

static int nics(ctx *x)
{
	const char *name = get(x, "name");
	for (int i = 0; i < KVM_MAX_NETS; i++) {
		char key[16];
		snprintf(key, sizeof(key), "net%d", i);
		const char *v = get(x, key);
		if (!v)
			continue;
		kvm_net n;
		int r = kvm_net_parse(x->s, key, v, &n, x->err);
		if (r < 0)
			return r;
		const char *dev = nic_device(n.model);
		if (!dev)
			return pve_error_set_param(x->err, EINVAL, key, "unknown NIC model '%s'",
						   n.model);
		pve_buf nd = { 0 };
		if (n.bridge[0]) {
			if (!x->info->bridge_exists ||
			    !x->info->bridge_exists(x->info->ud, n.bridge)) {
				pve_buf_free(&nd);
				return pve_error_set_param(x->err, EINVAL, key,
							   "bridge '%s' does not exist", n.bridge);
			}
			if (x->info->tap_fds && x->info->tap_fds[i] >= 0)
				pve_buf_printf(&nd, "type=tap,id=%s,fd=%d", key,
					       x->info->tap_fds[i]);
			else
				pve_buf_printf(&nd,
					       "type=tap,id=%s,ifname=tap%lldi%d,script=no,"
					       "downscript=no",
					       key, x->info->vmid, i);
			if (n.tag)
				warn(x,
				     "%s: VLAN tag %d is not applied yet (bridge VLANs come with "
				     "the network area)",
				     key, n.tag);
		} else {
			/* no bridge: QEMU's user-mode network, as Proxmox does */
			pve_buf_printf(&nd, "type=user,id=%s,hostname=%s", key, name ? name : "vm");
		}
		add2(x->b, "-netdev", nd.data);
		pve_buf_free(&nd);
		pve_buf d = { 0 };
		pve_buf_printf(&d, "%s,netdev=%s,id=%s", dev, key, key);
		if (n.macaddr[0])
			pve_buf_printf(&d, ",mac=%s", n.macaddr);
		int bi = bootindex(x, key);
		if (bi)
			pve_buf_printf(&d, ",bootindex=%d", bi);
		if (n.mtu && streq(n.model, "virtio"))
			pve_buf_printf(&d, ",host_mtu=%d", n.mtu);
		if (n.queues > 1 && streq(n.model, "virtio"))
			pve_buf_printf(&d, ",mq=on,vectors=%d", 2 * n.queues + 2);
		add2(x->b, "-device", d.data);
		pve_buf_free(&d);
	}
	return 0;
}

/* ---- the rest ------------------------------------------------------------------------------------- */

/* The display's type in a vga value: its first item when that has no '=', else its "type=". */
static bool vga_type_is_spice(const char *type, size_t len)
{
	static const char *const spice[] = { "qxl", "qxl2", "qxl3", "qxl4", "virtio", "virtio-gl" };
	for (size_t i = 0; i < ELEMENTSOF(spice); i++)
		if (strlen(spice[i]) == len && strncmp(type, spice[i], len) == 0)
			return true;
	return false;
}

bool kvm_vga_has_spice(const char *vga)
{
	if (!vga)
		return false;
	for (const char *p = vga; *p;) {
		size_t n = strcspn(p, ",");
		const char *eq = memchr(p, '=', n);
		if (!eq && p == vga)
			return vga_type_is_spice(p, n);
		if (eq && eq - p == 4 && strncmp(p, "type", 4) == 0)
			return vga_type_is_spice(eq + 1, n - 5);
		p += n + (p[n] == ',');
	}
	return false;
}

/* Proxmox's SPICE for a qxl or virtio display: the agent's channel and a TLS port on localhost with
 * the node's certificate; no password until spiceproxy sets the ticket (QMP set_password). */
static void spice(ctx *x, int qxlnum)
{
	if (qxlnum > 1) {
		/* more displays from one device (Proxmox's way for a guest other than Windows) */
		long long mem = 0;
		_cleanup_json_ cJSON *vga = get(x, "vga") ? parse_key(x, "vga") : NULL;
		long long ram = 134217728, vram = 67108864;
		if (vga && pve_json_int(vga, "memory", &mem) && mem > 0) {
			ram = qxlnum * 4 * mem * 1024 * 1024;
			vram = qxlnum * 2 * mem * 1024 * 1024;
		}
		add(x->b, "-global");
		addf(x->b, "qxl-vga.ram_size=%lld", ram);
		add(x->b, "-global");
		addf(x->b, "qxl-vga.vram_size=%lld", vram);
	}
	add2(x->b, "-device", "virtio-serial,id=spice");
	add2(x->b, "-chardev", "spicevmc,id=vdagent,name=vdagent");
	add2(x->b, "-device", "virtserialport,chardev=vdagent,name=com.redhat.spice.0");
	/* spice_enhancements: folder sharing over the webdav channel, video streaming */
	_cleanup_json_ cJSON *enh =
		get(x, "spice_enhancements") ? parse_key(x, "spice_enhancements") : NULL;
	if (enh && opt_bool(enh, "foldersharing", false)) {
		add2(x->b, "-chardev", "spiceport,id=foldershare,name=org.spice-space.webdav.0");
		add2(x->b, "-device",
		     "virtserialport,chardev=foldershare,name=org.spice-space.webdav.0");
	}
	pve_buf o = { 0 };
	pve_buf_printf(&o, "tls-port=%d,addr=127.0.0.1,tls-ciphers=HIGH,seamless-migration=on",
		       x->info->spice_port);
	if (x->info->pve_dir && x->info->node) {
		const char *dir = x->info->pve_dir, *node = x->info->node;
		_cleanup_free_ char *cert = xasprintf("%s/nodes/%s/pve-ssl.pem", dir, node);
		_cleanup_free_ char *key = xasprintf("%s/nodes/%s/pve-ssl.key", dir, node);
		_cleanup_free_ char *ca = xasprintf("%s/pve-root-ca.pem", dir);
		_cleanup_free_ char *ecert = qemu_escape(cert), *ekey = qemu_escape(key);
		_cleanup_free_ char *eca = qemu_escape(ca);
		pve_buf_printf(&o, ",x509-cert-file=%s,x509-key-file=%s,x509-cacert-file=%s", ecert,
			       ekey, eca);
	}
	const char *streaming = enh ? pve_json_str(enh, "videostreaming") : NULL;
	if (streaming)
		pve_buf_printf(&o, ",streaming-video=%s", streaming);
	add2(x->b, "-spice", o.data);
	pve_buf_free(&o);
}

static int vga_and_consoles(ctx *x)
{
	_cleanup_json_ cJSON *vga = NULL;
	const char *type = "std";
	if (get(x, "vga")) {
		vga = parse_key(x, "vga");
		if (!vga)
			return -EINVAL;
		if (pve_json_str(vga, "type"))
			type = pve_json_str(vga, "type");
	}
	bool serial_console = startswith(type, "serial");
	if (streq(type, "none") || serial_console) {
		if (streq(type, "none"))
			add2(x->b, "-vga", "none");
		add(x->b, "-nographic");
	} else {
		static const struct {
			const char *type, *device;
		} map[] = { { "std", "VGA" },
			    { "cirrus", "cirrus-vga" },
			    { "vmware", "vmware-svga" },
			    { "virtio", "virtio-vga" },
			    { "virtio-gl", "virtio-vga-gl" },
			    { "qxl", "qxl-vga" },
			    { "qxl2", "qxl-vga" },
			    { "qxl3", "qxl-vga" },
			    { "qxl4", "qxl-vga" } };
		const char *dev = NULL;
		for (size_t i = 0; i < ELEMENTSOF(map) && !dev; i++)
			if (streq(type, map[i].type))
				dev = map[i].device;
		if (!dev)
			return pve_error_set_param(x->err, EINVAL, "vga", "unknown vga type '%s'",
						   type);
		long long mem = 0;
		pve_buf d = { 0 };
		pve_buf_printf(&d, "%s,id=vga", dev);
		/* as Proxmox: a Linux (or other) guest may have up to 4 displays on one qxl device */
		const char *ostype = get(x, "ostype");
		if (startswith(type, "qxl") &&
		    (!ostype || streq(ostype, "other") || (ostype[0] == 'l' && isdigit(ostype[1]))))
			pve_buf_puts(&d, ",max_outputs=4");
		if (vga && pve_json_int(vga, "memory", &mem) && mem > 0) {
			if (streq(type, "std") || streq(type, "vmware"))
				pve_buf_printf(&d, ",vgamem_mb=%lld", mem);
			else if (startswith(type, "qxl"))
				pve_buf_printf(&d, ",vgamem_mb=%lld,ram_size=%lld,vram_size=%lld",
					       mem, mem * 4 * 1024 * 1024, mem * 2 * 1024 * 1024);
		}
		add2(x->b, "-device", d.data);
		pve_buf_free(&d);
		if (vga_type_is_spice(type, strlen(type)))
			spice(x, startswith(type, "qxl") ? (type[3] ? type[3] - '0' : 1) : 0);
		_cleanup_free_ char *vnc = kvm_run_path(x->info->run_dir, x->info->vmid, "vnc");
		_cleanup_free_ char *ev = qemu_escape(vnc);
		add(x->b, "-vnc");
		addf(x->b, "unix:%s,password=on", ev);
	}
	/* as Proxmox: SPICE's qxl has its own pointer, so no tablet unless asked for */
	bool tablet = kvm_config_bool(x->c, NULL, "tablet",
				      !serial_console && !streq(type, "none") &&
					      !startswith(type, "qxl"));
	if (tablet) {
		if (x->q35) {
			add2(x->b, "-device", "ich9-usb-ehci1,id=ehci");
			add2(x->b, "-device", "usb-tablet,id=tablet,bus=ehci.0,port=1");
		} else {
			add2(x->b, "-device", "piix3-usb-uhci,id=uhci");
			add2(x->b, "-device", "usb-tablet,id=tablet,bus=uhci.0,port=1");
		}
	}
	for (int i = 0; i < KVM_MAX_SERIAL; i++) {
		char key[16];
		snprintf(key, sizeof(key), "serial%d", i);
		const char *v = get(x, key);
		if (!v)
			continue;
		if (streq(v, "socket")) {
			_cleanup_free_ char *p = kvm_run_path(x->info->run_dir, x->info->vmid, key);
			_cleanup_free_ char *ep = qemu_escape(p);
			add(x->b, "-chardev");
			addf(x->b, "socket,id=%s,path=%s,server=on,wait=off", key, ep);
		} else {
			if (access(v, F_OK) != 0)
				return pve_error_set_param(x->err, ENOENT, key,
							   "no such serial device");
			_cleanup_free_ char *ep = qemu_escape(v);
			add(x->b, "-chardev");
			addf(x->b, "serial,id=%s,path=%s", key, ep);
		}
		add(x->b, "-device");
		addf(x->b, "isa-serial,chardev=%s", key);
	}
	return 0;
}

static int agent(ctx *x)
{
	if (!get(x, "agent"))
		return 0;
	_cleanup_json_ cJSON *a = parse_key(x, "agent");
	if (!a)
		return -EINVAL;
	if (!opt_bool(a, "enabled", false))
		return 0;
	_cleanup_free_ char *p = kvm_run_path(x->info->run_dir, x->info->vmid, "qga");
	_cleanup_free_ char *ep = qemu_escape(p);
	add(x->b, "-chardev");
	addf(x->b, "socket,path=%s,server=on,wait=off,id=qga0", ep);
	const char *type = pve_json_str(a, "type");
	if (type && streq(type, "isa")) {
		add2(x->b, "-device", "isa-serial,chardev=qga0");
	} else {
		add2(x->b, "-device", "virtio-serial,id=qga0");
		add2(x->b, "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0");
	}
	return 0;
}

/* tpmstate0: a TPM (TIS) whose emulator, swtpm, the start runs beforehand on <run>/<vmid>.swtpm
 * (kvm_swtpm_argv), as Proxmox's add_tpm_device. */
static int tpm(ctx *x)
{
	if (!get(x, "tpmstate0"))
		return 0;
	_cleanup_free_ char *p = kvm_run_path(x->info->run_dir, x->info->vmid, "swtpm");
	_cleanup_free_ char *ep = qemu_escape(p);
	add(x->b, "-chardev");
	addf(x->b, "socket,id=tpmchar,path=%s", ep);
	add2(x->b, "-tpmdev", "emulator,id=tpmdev,chardev=tpmchar");
	add2(x->b, "-device", "tpm-tis,tpmdev=tpmdev");
	return 0;
}

static int base64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static char *base64_decode(const char *s)
{
	pve_buf b = { 0 };
	unsigned acc = 0;
	int bits = 0;
	for (const char *p = s; *p && *p != '='; p++) {
		int v = base64_value((unsigned char)*p);
		if (v < 0)
			break;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			char ch = (char)((acc >> bits) & 0xff);
			if (ch)
				pve_buf_append(&b, &ch, 1);
		}
	}
	if (!b.data)
		pve_buf_puts(&b, "");
	return pve_buf_steal(&b);
}

/* audio0, as Proxmox's audio_devs: an AC97, or an Intel HDA with a microphone and a duplex codec, on
 * the SPICE backend (the client plays it) or none. */
static int audio(ctx *x)
{
	if (!get(x, "audio0"))
		return 0;
	_cleanup_json_ cJSON *a = parse_key(x, "audio0");
	if (!a)
		return -EINVAL;
	const char *dev = pve_json_str(a, "device");
	const char *driver = pve_json_str(a, "driver");
	driver = driver ? driver : "spice";
	if (!dev)
		return pve_error_set_param(x->err, EINVAL, "audio0", "audio0: no device");
	if (streq(dev, "AC97")) {
		add(x->b, "-device");
		addf(x->b, "AC97,id=audiodev0,audiodev=%s-backend0", driver);
	} else {
		add(x->b, "-device");
		addf(x->b, "%s,id=audiodev0", dev);
		add(x->b, "-device");
		addf(x->b,
		     "hda-micro,id=audiodev0-codec0,bus=audiodev0.0,cad=0,audiodev=%s-backend0",
		     driver);
		add(x->b, "-device");
		addf(x->b,
		     "hda-duplex,id=audiodev0-codec1,bus=audiodev0.0,cad=1,audiodev=%s-backend0",
		     driver);
	}
	add(x->b, "-audiodev");
	addf(x->b, "%s,id=%s-backend0", driver, driver);
	return 0;
}

static int misc(ctx *x)
{
	if (get(x, "smbios1")) {
		_cleanup_json_ cJSON *sm = parse_key(x, "smbios1");
		if (!sm)
			return -EINVAL;
		bool b64 = opt_bool(sm, "base64", false);
		pve_buf b = { 0 };
		pve_buf_puts(&b, "type=1");
		static const char *const keys[] = { "family", "manufacturer", "product", "serial",
						    "sku",    "uuid",	      "version" };
		for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
			const char *v = pve_json_str(sm, keys[i]);
			if (!v || !*v)
				continue;
			_cleanup_free_ char *dec =
				b64 && !streq(keys[i], "uuid") ? base64_decode(v) : xstrdup(v);
			_cleanup_free_ char *esc = qemu_escape(dec);
			if (*esc)
				pve_buf_printf(&b, ",%s=%s", keys[i], esc);
		}
		add2(x->b, "-smbios", b.data);
		pve_buf_free(&b);
	}
	const char *genid = get(x, "vmgenid");
	if (genid && !streq(genid, "0") && !streq(genid, "1")) {
		add(x->b, "-device");
		addf(x->b, "vmgenid,guid=%s", genid);
	}
	if (get(x, "rng0")) {
		_cleanup_json_ cJSON *rng = parse_key(x, "rng0");
		if (!rng)
			return -EINVAL;
		_cleanup_free_ char *src = qemu_escape(pve_json_str(rng, "source"));
		add(x->b, "-object");
		addf(x->b, "rng-random,filename=%s,id=rng0", src);
		pve_buf d = { 0 };
		pve_buf_puts(&d, "virtio-rng-pci,rng=rng0");
		long long n;
		if (pve_json_int(rng, "max_bytes", &n))
			pve_buf_printf(&d, ",max-bytes=%lld", n);
		if (pve_json_int(rng, "period", &n))
			pve_buf_printf(&d, ",period=%lld", n);
		add2(x->b, "-device", d.data);
		pve_buf_free(&d);
	}
	if (get(x, "watchdog")) {
		_cleanup_json_ cJSON *wd = parse_key(x, "watchdog");
		if (!wd)
			return -EINVAL;
		const char *model = pve_json_str(wd, "model");
		add2(x->b, "-device", model ? model : "i6300esb");
		const char *action = pve_json_str(wd, "action");
		if (action) {
			add(x->b, "-action");
			addf(x->b, "watchdog=%s", action);
		}
	}
	const char *ostype = get(x, "ostype");
	bool windows = ostype && (ostype[0] == 'w');
	const char *startdate = get(x, "startdate");
	if (startdate && !streq(startdate, "now")) {
		add(x->b, "-rtc");
		addf(x->b, "base=%s", startdate);
	} else if (kvm_config_bool(x->c, NULL, "localtime", windows)) {
		add2(x->b, "-rtc", "base=localtime");
	}
	if (kvm_config_bool(x->c, NULL, "freeze", false))
		add(x->b, "-S");
	if (get(x, "keyboard"))
		add2(x->b, "-k", get(x, "keyboard"));
	if (!kvm_config_bool(x->c, NULL, "reboot", true))
		add(x->b, "-no-reboot");
	return 0;
}

/* Keys that need devices or host features pved does not drive yet: a start fails naming them rather
 * than running the guest without what its config promises. */
static int refuse_unsupported(ctx *x)
{
	static const struct {
		const char *prefix;
		const char *what;
	} keys[] = { { "hostpci", "PCI passthrough" }, { "usb", "USB devices" },
		     { "virtiofs", "virtiofs" },       { "amd-sev", "AMD SEV" },
		     { "intel-tdx", "Intel TDX" },     { "ivshmem", "ivshmem" },
		     { "parallel", "parallel ports" }, { "hugepages", "huge pages" } };
	_cleanup_strv_free_ char **all = pve_config_keys(x->c, NULL);
	for (char **k = all; *k; k++)
		for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
			size_t n = strlen(keys[i].prefix);
			if (strncmp(*k, keys[i].prefix, n) != 0 ||
			    ((*k)[n] && !isdigit((unsigned char)(*k)[n])))
				continue;
			return pve_error_set_param(x->err, EINVAL, *k,
						   "%s: %s are not supported by pved yet", *k,
						   keys[i].what);
		}
	return 0;
}

/* Proxmox's split_args: words separated by blanks, with '...', "..." and backslashes as a shell. */
static int split_args(const char *s, argv_builder *b)
{
	pve_buf w = { 0 };
	bool in_word = false;
	for (const char *p = s;; p++) {
		char ch = *p;
		if (!ch || isspace((unsigned char)ch)) {
			if (in_word) {
				add(b, w.data ? w.data : "");
				pve_buf_free(&w);
				w = (pve_buf){ 0 };
				in_word = false;
			}
			if (!ch)
				return 0;
			continue;
		}
		in_word = true;
		if (ch == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				pve_buf_free(&w);
				return -EINVAL;
			}
			pve_buf_append(&w, p + 1, (size_t)(end - p - 1));
			if (!w.data)
				pve_buf_puts(&w, "");
			p = end;
		} else if (ch == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				pve_buf_append(&w, p, 1);
			}
			if (!*p) {
				pve_buf_free(&w);
				return -EINVAL;
			}
			if (!w.data)
				pve_buf_puts(&w, "");
		} else if (ch == '\\' && p[1]) {
			p++;
			pve_buf_append(&w, p, 1);
		} else {
			pve_buf_append(&w, p, 1);
		}
	}
}

int kvm_cmdline_build(const pve_config *c, const kvm_schema *s, const kvm_cmdline_info *info,
		      char ***ret_argv, pve_error **err)
{
	argv_builder b = { 0 };
	ctx x = { .c = c, .s = s, .info = info, .b = &b, .err = err };
	int r = refuse_unsupported(&x);
	if (r < 0)
		return r;
	x.boot = kvm_config_boot_order(c, s);
	_cleanup_free_ char *rd = xstrdup(info->run_dir);
	_cleanup_free_ char *qmp = kvm_run_path(rd, info->vmid, "qmp");
	_cleanup_free_ char *pqmp = kvm_run_path(rd, info->vmid, "pved.qmp");
	_cleanup_free_ char *pid = kvm_run_path(rd, info->vmid, "pid");
	_cleanup_free_ char *eq = qemu_escape(qmp), *epq = qemu_escape(pqmp);
	const char *name = pve_config_get(c, NULL, "name");
	_cleanup_free_ char *vmname = name ? xstrdup(name) : xasprintf("vm%lld", info->vmid);
	pve_buf m = { 0 };

	add(&b, info->qemu);
	add(&b, "-name");
	addf(&b, "%s,debug-threads=on", vmname);
	/* Two monitors: one for task workers and tools (one client at a time, as Proxmox's), one that pved
	 * holds open for events and status. */
	add(&b, "-chardev");
	addf(&b, "socket,id=qmp,path=%s,server=on,wait=off", eq);
	add2(&b, "-mon", "chardev=qmp,mode=control");
	add(&b, "-chardev");
	addf(&b, "socket,id=qmp-pved,path=%s,server=on,wait=off", epq);
	add2(&b, "-mon", "chardev=qmp-pved,mode=control");
	add2(&b, "-pidfile", pid);
	add(&b, "-daemonize");
	r = machine(&x, &m);
	if (r == 0)
		r = firmware(&x);
	if (r == 0)
		r = cpu(&x);
	if (r == 0) {
		add(&b, "-nodefaults");
		add2(&b, "-boot", "menu=on,strict=on,reboot-timeout=1000");
		r = vga_and_consoles(&x);
	}
	if (r == 0)
		r = misc(&x);
	if (r == 0)
		r = agent(&x);
	if (r == 0)
		r = audio(&x);
	if (r == 0)
		r = tpm(&x);
	if (r == 0)
		r = drives(&x);
	if (r == 0)
		r = nics(&x);
	if (r == 0)
		add2(&b, "-machine", m.data);
	pve_buf_free(&m);
	const char *args = pve_config_get(c, NULL, "args");
	if (r == 0 && args) {
		if (!info->allow_args)
			r = pve_error_set_param(err, EPERM, "args",
						"only root may set 'args': refusing to start");
		else if (split_args(args, &b) < 0)
			r = pve_error_set_param(err, EINVAL, "args", "unbalanced quotes in args");
	}
	strv_free(x.boot);
	if (r < 0) {
		strv_free(b.v);
		return r;
	}
	*ret_argv = b.v;
	return 0;
}

char *kvm_cmdline_quote(char *const *argv)
{
	pve_buf b = { 0 };
	for (char *const *a = argv; *a; a++) {
		if (b.len)
			pve_buf_puts(&b, " ");
		bool plain = **a != '\0';
		for (const char *p = *a; *p && plain; p++)
			plain = isalnum((unsigned char)*p) || strchr("-_./:=,+@%", *p);
		if (plain) {
			pve_buf_puts(&b, *a);
			continue;
		}
		pve_buf_puts(&b, "'");
		for (const char *p = *a; *p; p++) {
			if (*p == '\'')
				pve_buf_puts(&b, "'\\''");
			else
				pve_buf_append(&b, p, 1);
		}
		pve_buf_puts(&b, "'");
	}
	return pve_buf_steal(&b);
}
