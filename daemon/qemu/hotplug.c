/* Device hot-plug, as Proxmox's vmconfig_hotplug_pending does it for the `hotplug` option's defaults:
 * a config change of a running VM is written to [PENDING] first; then each new NIC (network) and each
 * new scsi or virtio disk (disk) is plugged into the running QEMU and moved to the main section, and each
 * deleted one is unplugged (device_del, waiting for the guest to let go) and removed (a disk's volume
 * becomes unused[n], or is freed when forced). The devices are the ones a start makes: their options are
 * picked from the command line built for the config with the change applied; the drive goes in by HMP's
 * drive_add (a drive-<key> as at start), the device by HMP's device_add with the -device text, a NIC's
 * tap as an fd (getfd). With `hotplug` cpu, vcpus is reached by plugging or unplugging cpuN devices;
 * with memory (and numa: 1), memory by the pc-dimms of Proxmox's layout (kvm_dimm_nth), as a start of
 * the changed config has them. `hotplug` itself changes at once unless cpu or memory come or go.
 * Everything else, and what `hotplug` leaves out, stays pending for the next start, which is Proxmox's
 * answer too. */
#include <cjson/cJSON.h>

#include "daemon/core/tasks-internal.h"
#include "daemon/qemu/ops-internal.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"
/* How long an unplug waits for the guest to release the device (Proxmox waits 5 s per try). */
#define UNPLUG_TIMEOUT_MS 10000
/* A dimm takes longer: the guest moves what it keeps there first (Proxmox tries 6 times, 3 s apart). */
#define DIMM_UNPLUG_TIMEOUT_MS 20000

typedef struct hp_ctx {
	pved *d;
	long long vmid;
	const pve_sectioncfg *scfg;
	kvm_qmp_sync *q;
} hp_ctx;

static int resolve(void *ud, const char *volid, char **ret_path, char **ret_format, pve_error **err)
{
	hp_ctx *x = ud;
	return qemu_volume_path(x->d, x->scfg, volid, ret_path, ret_format, err);
}

static bool bridge_exists(void *ud, const char *bridge)
{
	(void)ud;
	return kvm_bridge_exists(bridge);
}

static int hmp(kvm_qmp_sync *q, const char *line, bool ok_on_OK, pve_error **err)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command-line", line);
	cJSON *ret = NULL;
	int r = kvm_qmp_sync_command(q, "human-monitor-command", a, 30000, &ret, err);
	if (r < 0)
		return r;
	const char *out = cJSON_IsString(ret) ? ret->valuestring : "";
	/* HMP says nothing on success, drive_add says OK */
	bool ok = !*out || (ok_on_OK && startswith(out, "OK"));
	if (!ok)
		r = pve_error_set(err, EIO, "%.*s", (int)strcspn(out, "\r\n"), out);
	cJSON_Delete(ret);
	return r;
}

/* The options the key would have on the command line of c (its main section). */
static int key_options(hp_ctx *x, const pve_config *c, const char *key, int *taps, char ***ret,
		       pve_error **err)
{
	_cleanup_free_ char *rundir = qemu_run_dir(x->d);
	kvm_cmdline_info info = {
		.vmid = x->vmid,
		.run_dir = rundir,
		.qemu = QEMU_BINARY,
		.allow_args = true,
		.resolve = resolve,
		.bridge_exists = bridge_exists,
		.ud = x,
		.tap_fds = taps,
	};
	char **argv = NULL;
	int r = kvm_cmdline_build(c, qemu_schema(x->d), &info, &argv, err);
	if (r < 0)
		return r;
	*ret = kvm_cmdline_pick(argv, key);
	strv_free(argv);
	return 0;
}

static const char *opt_of(char **opts, const char *which)
{
	for (char **o = opts; o && o[0] && o[1]; o += 2)
		if (streq(o[0], which))
			return o[1];
	return NULL;
}

/* Plugs key (its value in [PENDING]) into the running QEMU. */
static int plug(hp_ctx *x, const pve_config *c, const char *key, pve_error **err)
{
	/* the config as it will be: the main section with this key set */
	_cleanup_free_ char *text = pve_config_print(c);
	_cleanup_config_ pve_config *next = NULL;
	int r = kvm_config_parse(text, strlen(text), &next, err);
	if (r < 0)
		return r;
	pve_config_set(next, NULL, key, pve_config_get(c, KVM_SECTION_PENDING, key));
	int taps[KVM_MAX_NETS];
	for (int i = 0; i < KVM_MAX_NETS; i++)
		taps[i] = -1;
	bool nic = startswith(key, "net");
	kvm_net n = { 0 };
	if (nic) {
		r = kvm_net_parse(qemu_schema(x->d), key, pve_config_get(next, NULL, key), &n, err);
		if (r >= 0 && n.bridge[0]) {
			taps[n.index] = qemu_tap_plug(x->vmid, key, &n, err);
			r = taps[n.index] < 0 ? taps[n.index] : 0;
		}
		if (r < 0)
			return r;
	}
	_cleanup_strv_free_ char **opts = NULL;
	r = key_options(x, next, key, taps, &opts, err);
	const char *drive = opt_of(opts, "-drive"), *device = opt_of(opts, "-device");
	if (r >= 0 && (!device || (!nic && !drive)))
		r = pve_error_set(err, EINVAL, "no device for '%s' on the command line", key);
	if (r >= 0 && nic) {
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "id", key);
		if (n.bridge[0]) {
			r = kvm_qmp_sync_getfd(x->q, key, taps[n.index], err);
			cJSON_AddStringToObject(a, "type", "tap");
			cJSON_AddStringToObject(a, "fd", key);
		} else {
			const char *name = pve_config_get(next, NULL, "name");
			cJSON_AddStringToObject(a, "type", "user");
			cJSON_AddStringToObject(a, "hostname", name ? name : "vm");
		}
		if (r >= 0)
			r = kvm_qmp_sync_command(x->q, "netdev_add", a, 10000, NULL, err);
		else
			cJSON_Delete(a);
	} else if (r >= 0) {
		_cleanup_free_ char *line = xasprintf("drive_add auto \"%s\"", drive);
		r = hmp(x->q, line, true, err);
	}
	if (r >= 0) {
		_cleanup_free_ char *line = xasprintf("device_add %s", device);
		r = hmp(x->q, line, false, err);
		if (r < 0) {
			/* what was added for the device goes again */
			_cleanup_free_ char *undo = nic ? xasprintf("netdev_del %s", key) :
							  xasprintf("drive_del drive-%s", key);
			(void)hmp(x->q, undo, false, NULL);
		}
	}
	for (int i = 0; i < KVM_MAX_NETS; i++)
		if (taps[i] >= 0)
			close(taps[i]);
	return r;
}

/* Unplugs key from the running QEMU and waits for the guest to let it go. */
static int unplug(hp_ctx *x, const char *key, pve_error **err)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "id", key);
	int r = kvm_qmp_sync_command(x->q, "device_del", a, 10000, NULL, err);
	if (r < 0)
		return r;
	/* the device is gone when qom-list no longer finds it */
	_cleanup_free_ char *path = xasprintf("/machine/peripheral/%s", key);
	for (int waited = 0;; waited += 100) {
		cJSON *qa = cJSON_CreateObject();
		cJSON_AddStringToObject(qa, "path", path);
		if (kvm_qmp_sync_command(x->q, "qom-list", qa, 10000, NULL, NULL) < 0)
			break;
		if (waited >= UNPLUG_TIMEOUT_MS)
			return pve_error_set(err, ETIMEDOUT,
					     "waiting for the guest to release '%s' - got timeout",
					     key);
		usleep(100 * 1000);
	}
	if (startswith(key, "net")) {
		cJSON *na = cJSON_CreateObject();
		cJSON_AddStringToObject(na, "id", key);
		r = kvm_qmp_sync_command(x->q, "netdev_del", na, 10000, NULL, err);
	}
	return r;
}

/* How many vCPUs QEMU has (query-cpus-fast's length). */
static int vcpu_count(hp_ctx *x, int *ret, pve_error **err)
{
	cJSON *list = NULL;
	int r = kvm_qmp_sync_command(x->q, "query-cpus-fast", NULL, 10000, &list, err);
	if (r < 0)
		return r;
	*ret = cJSON_GetArraySize(list);
	cJSON_Delete(list);
	return 0;
}

/* Waits until QEMU has want vCPUs: a plugged one appears at once, an unplugged one when the guest
 * has let it go (Proxmox polls query-cpus-fast too). */
static int wait_vcpus(hp_ctx *x, int want, int timeout_ms, pve_error **err)
{
	for (int waited = 0;; waited += 100) {
		int n;
		int r = vcpu_count(x, &n, err);
		if (r < 0)
			return r;
		if (n == want)
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		usleep(100 * 1000);
	}
}

/* device_add of vCPU id in its slot: the type and the slot's properties are what
 * query-hotpluggable-cpus names for that socket and core. */
static int vcpu_add(hp_ctx *x, const pve_config *c, int id, pve_error **err)
{
	int sock, core;
	kvm_cpu_slot(c, id, &sock, &core);
	cJSON *slots = NULL;
	int r = kvm_qmp_sync_command(x->q, "query-hotpluggable-cpus", NULL, 10000, &slots, err);
	if (r < 0)
		return r;
	cJSON *args = NULL, *slot;
	cJSON_ArrayForEach (slot, slots) {
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(slot, "props");
		long long s = -1, co = 0;
		const char *type = pve_json_str(slot, "type");
		if (!type || !pve_json_int(props, "socket-id", &s) || s != sock)
			continue;
		if (pve_json_int(props, "core-id", &co) && co != core)
			continue;
		args = cJSON_Duplicate(props, true);
		_cleanup_free_ char *name = xasprintf("cpu%d", id);
		cJSON_AddStringToObject(args, "driver", type);
		cJSON_AddStringToObject(args, "id", name);
		break;
	}
	cJSON_Delete(slots);
	if (!args)
		return pve_error_set(err, ENOENT, "no hotpluggable CPU slot for cpu%d", id);
	return kvm_qmp_sync_command(x->q, "device_add", args, 10000, NULL, err);
}

/* Proxmox's qemu_cpu_hotplug: vcpus (NULL: deleted, so all of sockets*cores) reached by plugging
 * cpuN in order or unplugging them newest first; vcpus in c's main section follows each step, so a
 * failure half way leaves the config saying what runs. */
static int cpu_hotplug(hp_ctx *x, pve_config *c, const char *value, pve_error **err)
{
	int cur, max = kvm_config_cpus(c, NULL, &cur);
	long long want = max;
	if (value && pve_parse_int(value, 1, 4096, &want) < 0)
		return pve_error_set(err, EINVAL, "invalid vcpus '%s'", value);
	if (want > max)
		return pve_error_set(err, EINVAL, "you can't add more vcpus than maxcpus");
	for (int i = cur; i > want; i--) {
		_cleanup_free_ char *id = xasprintf("cpu%d", i);
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "id", id);
		int r = kvm_qmp_sync_command(x->q, "device_del", a, 10000, NULL, err);
		if (r >= 0)
			r = wait_vcpus(x, i - 1, UNPLUG_TIMEOUT_MS, err);
		if (r == -ETIMEDOUT)
			r = pve_error_set(err, ETIMEDOUT, "error unplugging cpu%d", i);
		if (r < 0)
			return r;
		_cleanup_free_ char *n = xasprintf("%d", i - 1);
		pve_config_set(c, NULL, "vcpus", n);
	}
	if (want <= cur)
		return 0;
	int running;
	int r = vcpu_count(x, &running, err);
	if (r < 0)
		return r;
	if (running != cur)
		return pve_error_set(err, EINVAL,
				     "vcpus in running vm does not match its configuration");
	for (int i = cur + 1; i <= want; i++) {
		r = vcpu_add(x, c, i, err);
		if (r >= 0)
			r = wait_vcpus(x, i, UNPLUG_TIMEOUT_MS, err);
		if (r == -ETIMEDOUT)
			r = pve_error_set(err, ETIMEDOUT, "error hotplugging cpu%d", i);
		if (r < 0)
			return r;
		_cleanup_free_ char *n = xasprintf("%d", i);
		pve_config_set(c, NULL, "vcpus", n);
	}
	return 0;
}

static void object_del(hp_ctx *x, const char *id)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "id", id);
	(void)kvm_qmp_sync_command(x->q, "object-del", a, 10000, NULL, NULL);
}

static void set_memory(pve_config *c, uint64_t mib)
{
	_cleanup_free_ char *v = xasprintf("%llu", (unsigned long long)mib);
	pve_config_set(c, NULL, "memory", v);
}

static int dimm_add(hp_ctx *x, const kvm_dimm *d, pve_error **err)
{
	_cleanup_free_ char *id = xasprintf("dimm%d", d->index);
	_cleanup_free_ char *mem = xasprintf("mem-dimm%d", d->index);
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "qom-type", "memory-backend-ram");
	cJSON_AddStringToObject(a, "id", mem);
	cJSON_AddNumberToObject(a, "size", (double)(d->size_mib * 1024 * 1024));
	int r = kvm_qmp_sync_command(x->q, "object-add", a, 10000, NULL, err);
	if (r < 0) {
		object_del(x, mem);
		return r;
	}
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "driver", "pc-dimm");
	cJSON_AddStringToObject(a, "id", id);
	cJSON_AddStringToObject(a, "memdev", mem);
	cJSON_AddNumberToObject(a, "node", d->node);
	r = kvm_qmp_sync_command(x->q, "device_add", a, 10000, NULL, err);
	if (r < 0)
		object_del(x, mem);
	return r;
}

/* The dimms QEMU has (query-memory-devices: dimmN and its size in MiB), by N; absent ones 0. */
static int dimm_sizes(hp_ctx *x, uint64_t sizes[KVM_MAX_DIMMS], pve_error **err)
{
	cJSON *list = NULL;
	int r = kvm_qmp_sync_command(x->q, "query-memory-devices", NULL, 10000, &list, err);
	if (r < 0)
		return r;
	memset(sizes, 0, KVM_MAX_DIMMS * sizeof(uint64_t));
	const cJSON *dev;
	cJSON_ArrayForEach (dev, list) {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(dev, "data");
		const char *id = pve_json_str(data, "id");
		long long n, size;
		if (!id || !startswith(id, "dimm") ||
		    pve_parse_int(id + 4, 0, KVM_MAX_DIMMS - 1, &n) < 0)
			continue;
		if (pve_json_int(data, "size", &size) && size > 0)
			sizes[n] = (uint64_t)size / (1024 * 1024);
	}
	cJSON_Delete(list);
	return 0;
}

/* Proxmox's qemu_memory_hotplug: memory (NULL: deleted, so the default 512) reached by plugging the
 * dimms of the layout after the current total (the last one may overshoot: memory is what the dimms
 * make), or by unplugging the newest dimms while the total is above it; memory in c's main section
 * follows each dimm. */
static int memory_hotplug(hp_ctx *x, pve_config *c, bool deleted, pve_error **err)
{
	uint64_t old = kvm_config_memory_mib(c, NULL);
	uint64_t want = deleted ? 512 : kvm_config_memory_mib(c, KVM_SECTION_PENDING);
	if (!kvm_config_bool(c, NULL, "numa", false))
		return pve_error_set(err, EINVAL, "NUMA needs to be enabled for memory hotplug");
	if (want == old)
		return 0;
	if (want < KVM_STATIC_MEMORY_MIB)
		return pve_error_set(err, EINVAL, "memory can't be lower than %d MB",
				     KVM_STATIC_MEMORY_MIB);
	uint64_t max = kvm_memory_max_mib(c, qemu_schema(x->d));
	if (want > max)
		return pve_error_set(err, EINVAL,
				     "you cannot add more memory than max mem %llu MB!",
				     (unsigned long long)max);
	kvm_dimm d;
	for (int i = 0; want > old && kvm_dimm_nth(c, i, &d); i++) {
		if (d.total_mib <= old)
			continue;
		int r = dimm_add(x, &d, err);
		if (r < 0)
			return r;
		set_memory(c, d.total_mib);
		if (d.total_mib >= want)
			return 0;
	}
	if (want > old)
		return 0;
	uint64_t sizes[KVM_MAX_DIMMS];
	int r = dimm_sizes(x, sizes, err);
	uint64_t cur = old;
	for (int i = KVM_MAX_DIMMS - 1; r >= 0 && i >= 0 && cur > want; i--) {
		if (!sizes[i])
			continue;
		printf("try to unplug memory dimm dimm%d\n", i);
		_cleanup_free_ char *id = xasprintf("dimm%d", i);
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "id", id);
		r = kvm_qmp_sync_command(x->q, "device_del", a, 10000, NULL, err);
		uint64_t now[KVM_MAX_DIMMS];
		for (int waited = 0; r >= 0; waited += 100) {
			r = dimm_sizes(x, now, err);
			if (r < 0 || !now[i])
				break;
			if (waited >= DIMM_UNPLUG_TIMEOUT_MS)
				r = pve_error_set(err, ETIMEDOUT, "error unplug memory module %s",
						  id);
			else
				usleep(100 * 1000);
		}
		if (r < 0)
			break;
		cur -= sizes[i];
		set_memory(c, cur);
		_cleanup_free_ char *mem = xasprintf("mem-%s", id);
		object_del(x, mem);
	}
	return r;
}

/* vcpus and memory, for the `hotplug` option's cpu and memory: 1 done (the main section says what
 * runs now), 0 not for hot-plug, or a negative errno (err set; the change stays pending). */
static int cpumem(hp_ctx *x, pve_config *c, const char *key, bool deleted, unsigned features,
		  pve_error **err)
{
	if (streq(key, "vcpus") && (features & KVM_HOTPLUG_CPU)) {
		int r = cpu_hotplug(
			x, c, deleted ? NULL : pve_config_get(c, KVM_SECTION_PENDING, key), err);
		if (r >= 0 && deleted)
			pve_config_delete(c, NULL, key);
		else if (r >= 0)
			pve_config_set(c, NULL, key, pve_config_get(c, KVM_SECTION_PENDING, key));
		return r < 0 ? r : 1;
	}
	if (streq(key, "memory") && (features & KVM_HOTPLUG_MEMORY)) {
		int r = memory_hotplug(x, c, deleted, err);
		return r < 0 ? r : 1;
	}
	return 0;
}

static bool pluggable(const char *key, unsigned features)
{
	kvm_bus bus;
	if (startswith(key, "net") && kvm_drive_key(key, false, NULL, NULL) == false)
		return (features & KVM_HOTPLUG_NETWORK) != 0;
	if (kvm_drive_key(key, false, &bus, NULL))
		return (features & KVM_HOTPLUG_DISK) &&
		       (bus == KVM_BUS_SCSI || bus == KVM_BUS_VIRTIO);
	return false;
}

static void fail_key(pve_error **err, const char *key, pve_error *e)
{
	if (err && !*err)
		pve_error_set_param(err, EINVAL, key, "hotplug problem - %s", e->message);
	pved_task_warn("%s: hotplug problem - %s", key, e->message);
	pve_error_free(e);
}

int qemu_hotplug_pending(pved *d, long long vmid, pve_config *c, const pve_sectioncfg *scfg,
			 char ***ret_destroy, pve_error **err)
{
	if (!pve_config_has_section(c, KVM_SECTION_PENDING) || !qemu_ops_running(d, vmid, NULL))
		return 0;
	unsigned features = KVM_HOTPLUG_NETWORK | KVM_HOTPLUG_DISK | KVM_HOTPLUG_USB;
	const char *hv = pve_config_get(c, NULL, "hotplug");
	if (hv && kvm_hotplug_parse(hv, &features) < 0)
		return 0;
	hp_ctx x = { .d = d, .vmid = vmid, .scfg = scfg };
	int r = qemu_ops_monitor(d, vmid, &x.q, err);
	if (r < 0)
		return r;
	int failed = 0;
	_cleanup_strv_free_ char **count = kvm_pending_deletes(c, NULL);
	_cleanup_free_ bool *force = xcalloc(strv_length(count) + 1, sizeof(bool));
	_cleanup_strv_free_ char **dels = kvm_pending_deletes(c, force);
	for (size_t i = 0; dels && dels[i]; i++) {
		const char *key = dels[i];
		const char *cur = pve_config_get(c, NULL, key);
		pve_error *e = NULL;
		r = cpumem(&x, c, key, true, features, &e);
		if (r < 0) {
			fail_key(err, key, e);
			failed = 1;
		} else if (r > 0) {
			printf("hot-plugged %s\n", key);
			kvm_pending_delete_remove(c, key);
		}
		if (r != 0)
			continue;
		if (!cur || !pluggable(key, features))
			continue;
		_cleanup_free_ char *volid =
			startswith(key, "net") ? NULL : qemu_ops_drive_volid(d, key, cur);
		if (unplug(&x, key, &e) < 0) {
			fail_key(err, key, e);
			failed = 1;
			continue;
		}
		printf("hot-unplugged %s\n", key);
		if (volid && force[i]) {
			size_t n = strv_length(*ret_destroy);
			*ret_destroy = xrealloc(*ret_destroy, (n + 2) * sizeof(char *));
			(*ret_destroy)[n] = xstrdup(volid);
			(*ret_destroy)[n + 1] = NULL;
		} else if (volid) {
			_cleanup_free_ char *u = kvm_config_next_unused(c);
			if (u)
				pve_config_set(c, NULL, u, volid);
		}
		pve_config_delete(c, NULL, key);
		kvm_pending_delete_remove(c, key);
	}
	_cleanup_strv_free_ char **keys = pve_config_keys(c, KVM_SECTION_PENDING);
	for (char **k = keys; *k; k++) {
		if (streq(*k, "hotplug")) {
			/* the option itself, as Proxmox's: at once, unless cpu or memory come or go */
			const char *old = pve_config_get(c, NULL, *k);
			const char *v = pve_config_get(c, KVM_SECTION_PENDING, *k);
			if (strstr(v, "cpu") || strstr(v, "memory") ||
			    (old && (strstr(old, "cpu") || strstr(old, "memory"))))
				continue;
			pve_config_set(c, NULL, *k, v);
			pve_config_delete(c, KVM_SECTION_PENDING, *k);
			continue;
		}
		pve_error *e = NULL;
		r = streq(*k, "delete") ? 0 : cpumem(&x, c, *k, false, features, &e);
		if (r < 0) {
			fail_key(err, *k, e);
			failed = 1;
		} else if (r > 0) {
			printf("hot-plugged %s\n", *k);
			pve_config_delete(c, KVM_SECTION_PENDING, *k);
		}
		if (r != 0)
			continue;
		if (streq(*k, "delete") || !pluggable(*k, features) || pve_config_get(c, NULL, *k))
			continue;
		const char *v = pve_config_get(c, KVM_SECTION_PENDING, *k);
		/* a new CD-ROM drive is no disk hot-plug */
		if (!startswith(*k, "net") && (strstr(v, "media=cdrom") || startswith(v, "cdrom")))
			continue;
		if (plug(&x, c, *k, &e) < 0) {
			fail_key(err, *k, e);
			failed = 1;
			continue;
		}
		printf("hot-plugged %s\n", *k);
		pve_config_set(c, NULL, *k, v);
		pve_config_delete(c, KVM_SECTION_PENDING, *k);
	}
	kvm_pending_drop_if_empty(c);
	kvm_qmp_sync_close(x.q);
	return failed ? -EINVAL : 0;
}
