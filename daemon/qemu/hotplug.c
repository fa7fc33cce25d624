/* Device hot-plug, as Proxmox's vmconfig_hotplug_pending does it for the `hotplug` option's defaults:
 * a config change of a running VM is written to [PENDING] first; then each new NIC (network) and each
 * new scsi or virtio disk (disk) is plugged into the running QEMU and moved to the main section, and each
 * deleted one is unplugged (device_del, waiting for the guest to let go) and removed (a disk's volume
 * becomes unused[n], or is freed when forced). The devices are the ones a start makes: their options are
 * picked from the command line built for the config with the change applied; the drive goes in by HMP's
 * drive_add (a drive-<key> as at start), the device by HMP's device_add with the -device text, a NIC's
 * tap as an fd (getfd). Everything else, and what `hotplug` leaves out, stays pending for the next start,
 * which is Proxmox's answer too. */
#include <cjson/cJSON.h>

#include "daemon/core/tasks-internal.h"
#include "daemon/qemu/ops-internal.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"
/* How long an unplug waits for the guest to release the device (Proxmox waits 5 s per try). */
#define UNPLUG_TIMEOUT_MS 10000

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
		if (!cur || !pluggable(key, features))
			continue;
		_cleanup_free_ char *volid =
			startswith(key, "net") ? NULL : qemu_ops_drive_volid(d, key, cur);
		pve_error *e = NULL;
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
		if (streq(*k, "delete") || !pluggable(*k, features) || pve_config_get(c, NULL, *k))
			continue;
		const char *v = pve_config_get(c, KVM_SECTION_PENDING, *k);
		/* a new CD-ROM drive is no disk hot-plug */
		if (!startswith(*k, "net") && (strstr(v, "media=cdrom") || startswith(v, "cdrom")))
			continue;
		pve_error *e = NULL;
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
