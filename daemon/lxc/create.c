/* Creating a container: POST /nodes/{node}/lxc checks on the loop what it can (keys, values, the
 * template, the storages and their content, bridges, privileges, a free vmid; each failure a 400 naming
 * its parameter), reserves the vmid with a config that holds only `lock: create`, and starts a vzcreate
 * task: the volumes allocated (a raw image formatted ext4 on a dir storage, a subvolume for size 0), the
 * rootfs mounted and the template unpacked into it (ids shifted for an unprivileged container), the
 * config written. A failed create frees what it allocated and removes the config. */
#include <crypt.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "daemon/core/guest.h"
#include "daemon/lxc/lxc-internal.h"

/* Proxmox's default rootfs: 4 GiB on the storage given (default "local"). */
#define CT_DEFAULT_ROOTFS_GB 4

static bool family(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0 && key[n] >= '0' && key[n] <= '9';
}

/* ---- checks on the loop ------------------------------------------------------------------------------ */

/* The storage sid of scfg (its strings are scfg's), available on this node. */
static int storage_of(pved *d, const pve_sectioncfg *scfg, const char *sid, const char *param,
		      pve_storage *ret, pve_error **err)
{
	pve_error *e = NULL;
	if (pve_storage_get(scfg, sid, ret, &e) < 0) {
		pve_error_free(e);
		return pve_error_set_param(err, EINVAL, param, "storage '%s' does not exist", sid);
	}
	if (ret->disabled || !pve_storage_on_node(ret, d->node))
		return pve_error_set_param(err, EINVAL, param,
					   "storage '%s' is not available on node '%s'", sid,
					   d->node);
	return 0;
}

/* A mount point's value at a create: a new volume (STORAGE:SIZE_GB) on a storage for container
 * directories, or (root only) a bind mount of a host path. */
static int check_mp(pved_call *c, const pve_sectioncfg *scfg, const char *key, const char *value,
		    pve_error **err)
{
	_cleanup_free_ char *vol = ct_mp_volume(value);
	if (!vol)
		return pve_error_set_param(err, EINVAL, key, "no volume given");
	if (vol[0] == '/') {
		if (streq(key, "rootfs") || !streq(c->authid, "root@pam"))
			return pve_error_set_param(err, EACCES, key,
						   "only root can use a bind mount as '%s'", key);
		return 0;
	}
	if (!ct_alloc_request(vol))
		return pve_error_set_param(
			err, EINVAL, key, "a new container needs new volumes: STORAGE:SIZE_IN_GiB");
	_cleanup_free_ char *sid = xstrndup(vol, strcspn(vol, ":"));
	pve_storage st;
	int r = storage_of(c->d, scfg, sid, key, &st, err);
	if (r < 0)
		return r;
	if (!(st.content & PVE_CONTENT_ROOTDIR))
		return pve_error_set_param(err, EINVAL, key,
					   "storage '%s' does not support container directories",
					   sid);
	return pved_guest_check_space(c, sid, err);
}

/* The template: a vztmpl volume of a storage the caller may read, which exists; its path. */
static int check_template(pved_call *c, const pve_sectioncfg *scfg, const char *volid,
			  char **ret_path, pve_error **err)
{
	if (volid[0] == '/') {
		if (!streq(c->authid, "root@pam"))
			return pve_error_set_param(err, EACCES, "ostemplate",
						   "only root can use a template by its path");
		if (access(volid, R_OK) < 0)
			return pve_error_set_param(err, EINVAL, "ostemplate",
						   "can't find file '%s'", volid);
		*ret_path = xstrdup(volid);
		return 0;
	}
	_cleanup_free_ char *sid = NULL, *volname = NULL;
	pve_error *e = NULL;
	if (pve_storage_volid_split(volid, &sid, &volname, &e) < 0) {
		pve_error_free(e);
		return pve_error_set_param(err, EINVAL, "ostemplate",
					   "unable to parse volume ID '%s'", volid);
	}
	pve_storage st;
	int r = storage_of(c->d, scfg, sid, "ostemplate", &st, err);
	if (r < 0)
		return r;
	_cleanup_(pve_volname_clear) pve_volname vn = { 0 };
	if (pve_storage_volume_parse(&st, volname, &vn, &e) < 0 || vn.vtype != PVE_CONTENT_VZTMPL) {
		pve_error_free(e);
		return pve_error_set_param(err, EINVAL, "ostemplate",
					   "volume '%s' is not a container template", volid);
	}
	_cleanup_free_ char *acl = xasprintf("/storage/%s", sid);
	if (!pved_call_permitted(c, acl, "Datastore.AllocateSpace") &&
	    !pved_call_permitted(c, acl, "Datastore.Audit"))
		return pve_error_set(err, EACCES, "Permission check failed (%s, Datastore.Audit)",
				     acl);
	_cleanup_free_ char *path = NULL;
	if (pve_storage_path(&st, volname, NULL, &path, &e) < 0) {
		r = pve_error_set_param(err, EINVAL, "ostemplate", "%s", e->message);
		pve_error_free(e);
		return r;
	}
	/* a network storage is only mounted in the task; a local one is checked here */
	if (st.path && access(path, R_OK) < 0)
		return pve_error_set_param(err, EINVAL, "ostemplate", "can't find file '%s'",
					   volid);
	*ret_path = TAKE_PTR(path);
	return 0;
}

static bool bridge_exists(const char *bridge)
{
	if (!*bridge || strlen(bridge) >= 16 || strchr(bridge, '/') || bridge[0] == '.')
		return false;
	_cleanup_free_ char *path = xasprintf("/sys/class/net/%s/bridge", bridge);
	return access(path, F_OK) == 0;
}

/* A property string's item, or NULL. */
static char *prop_item(const char *value, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = value; p && *p;) {
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return xstrndup(p + n + 1, strcspn(p + n + 1, ","));
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return NULL;
}

/* A NIC: its bridge exists, and it gets a MAC address when it has none (with datacenter.cfg's
 * mac_prefix). */
static int check_net(pved *d, const char *key, cJSON *keys, pve_error **err)
{
	const char *value = pve_json_str(keys, key);
	_cleanup_free_ char *bridge = prop_item(value, "bridge");
	if (bridge && !bridge_exists(bridge))
		return pve_error_set_param(err, EINVAL, key, "bridge '%s' does not exist", bridge);
	_cleanup_free_ char *hw = prop_item(value, "hwaddr");
	if (!hw) {
		char mac[18];
		_cleanup_free_ char *prefix = pved_mac_prefix(d);
		pve_random_mac(prefix, mac);
		_cleanup_free_ char *nv = xasprintf("%s,hwaddr=%s", value, mac);
		cJSON_ReplaceItemInObjectCaseSensitive(keys, key, cJSON_CreateString(nv));
	}
	return 0;
}

/* The parameters that are config keys, as strings. */
static cJSON *config_keys(pved *d, const cJSON *params)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *p;
	cJSON_ArrayForEach (p, params) {
		if (!ct_schema_key(d, p->string) && !streq(p->string, "description"))
			continue;
		if (cJSON_IsString(p)) {
			cJSON_AddStringToObject(o, p->string, p->valuestring);
		} else if (cJSON_IsNumber(p)) {
			_cleanup_free_ char *t =
				p->valuedouble == (double)(long long)p->valuedouble ?
					xasprintf("%lld", (long long)p->valuedouble) :
					xasprintf("%.17g", p->valuedouble);
			cJSON_AddStringToObject(o, p->string, t);
		}
	}
	return o;
}

/* The privilege each key needs, as PUT's (the create's keys are a container's config). */
static int check_create_perm(pved_call *c, long long vmid, const char *pool, bool unprivileged,
			     bool start, pve_error **err)
{
	char acl[64];
	snprintf(acl, sizeof(acl), "/vms/%lld", vmid);
	_cleanup_free_ char *pacl = pool ? xasprintf("/pool/%s", pool) : NULL;
	if (!pved_call_permitted(c, acl, "VM.Allocate") &&
	    !(pacl && pved_call_permitted(c, pacl, "VM.Allocate")))
		return pve_error_set(err, EACCES, "Permission check failed (%s, VM.Allocate)", acl);
	if (start && !pved_call_permitted(c, acl, "VM.PowerMgmt") &&
	    !(pacl && pved_call_permitted(c, pacl, "VM.PowerMgmt")))
		return pve_error_set(err, EACCES, "Permission check failed (%s, VM.PowerMgmt)",
				     acl);
	/* a privileged container's root is the host's: Proxmox asks for Sys.Modify on / */
	if (!unprivileged && !pved_call_permitted(c, "/", "Sys.Modify"))
		return pve_error_set(err, EACCES, "Permission check failed (/, Sys.Modify)");
	return 0;
}

static void h_create(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *pool = pved_call_str(c, "pool"), *storage = pved_call_str(c, "storage");
	const char *ostemplate = pved_call_str(c, "ostemplate");
	bool start = pved_call_int(c, "start", 0) != 0;
	bool unprivileged = pved_call_int(c, "unprivileged", 1) != 0;
	pve_error *err = NULL;
	if (pved_call_int(c, "restore", 0)) {
		pve_error_set_param(&err, EINVAL, "restore",
				    "restoring backups is not supported by pved yet");
		return pved_call_fail(c, err);
	}
	if (pved_call_int(c, "ha-managed", 0)) {
		pve_error_set_param(&err, EINVAL, "ha-managed", "HA is not supported by pved yet");
		return pved_call_fail(c, err);
	}
	if (pool && !pved_guest_pool_exists(d, pool)) {
		pve_error_set_param(&err, EINVAL, "pool", "pool '%s' does not exist", pool);
		return pved_call_fail(c, err);
	}
	if (check_create_perm(c, vmid, pool, unprivileged, start, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_json_ cJSON *keys = config_keys(d, c->params);
	/* Proxmox's defaults a new config writes down */
	cJSON_DeleteItemFromObjectCaseSensitive(keys, "unprivileged");
	cJSON_AddStringToObject(keys, "unprivileged", unprivileged ? "1" : "0");
	if (!cJSON_HasObjectItem(keys, "rootfs")) {
		_cleanup_free_ char *v =
			xasprintf("%s:%d", storage ? storage : "local", CT_DEFAULT_ROOTFS_GB);
		cJSON_AddStringToObject(keys, "rootfs", v);
	}
	if (!cJSON_HasObjectItem(keys, "arch"))
		cJSON_AddStringToObject(keys, "arch", "amd64");
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (ct_storage_cfg(d, &scfg, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_strv_free_ char **names = strv_new();
	const cJSON *p;
	cJSON_ArrayForEach (p, keys)
		strv_push(&names, xstrdup(p->string));
	for (char **k = names; *k; k++) {
		int r = 0;
		if (streq(*k, "rootfs") || family(*k, "mp"))
			r = check_mp(c, scfg, *k, pve_json_str(keys, *k), &err);
		else if (family(*k, "net"))
			r = check_net(c->d, *k, keys, &err);
		else if (family(*k, "unused"))
			r = pve_error_set_param(&err, EINVAL, *k,
						"a new container has no unused volumes");
		else if (family(*k, "dev") || streq(*k, "hookscript") || streq(*k, "lock"))
			r = streq(c->authid, "root@pam") ?
				    0 :
				    pve_error_set(&err, EACCES, "only root can set '%s' config",
						  *k);
		if (r < 0)
			return pved_call_fail(c, err);
	}
	_cleanup_free_ char *archive = NULL;
	if (check_template(c, scfg, ostemplate, &archive, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *owner = pved_guest_owner(d, vmid);
	if (owner) {
		pve_error_set_param(
			&err, EINVAL, "vmid",
			"unable to create CT %lld - CT %lld already exists on node '%s'", vmid,
			vmid, owner);
		return pved_call_fail(c, err);
	}
	/* the vmid is ours from here: a config that holds the lock only */
	_cleanup_free_ char *path = ct_conf_path(d, vmid);
	static const char placeholder[] = "lock: create\n";
	if (pve_store_create(d->store, path, placeholder, strlen(placeholder), &err) < 0) {
		if (err && err->code == EEXIST) {
			pve_error_free(err);
			err = NULL;
			pve_error_set_param(&err, EINVAL, "vmid",
					    "unable to create CT %lld - CT %lld already exists on "
					    "node '%s'",
					    vmid, vmid, d->node);
		}
		return pved_call_fail(c, err);
	}
	ct_refresh(d, vmid);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "vmid", (double)vmid);
	cJSON_AddItemToObject(args, "conf", cJSON_Duplicate(keys, true));
	cJSON_AddStringToObject(args, "archive", archive);
	const char *pw = pved_call_str(c, "password"), *ssh = pved_call_str(c, "ssh-public-keys");
	if (pw)
		cJSON_AddStringToObject(args, "password", pw);
	if (ssh)
		cJSON_AddStringToObject(args, "ssh-public-keys", ssh);
	if (pool)
		cJSON_AddStringToObject(args, "pool", pool);
	cJSON_AddBoolToObject(args, "start", start);
	_cleanup_free_ char *id = xasprintf("%lld", vmid), *upid = NULL;
	if (pved_task_start(d, "vzcreate", id, c->authid, args, &upid, &err) < 0) {
		pve_store_delete(d->store, path, NULL);
		ct_refresh(d, vmid);
		return pved_call_fail(c, err);
	}
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* ---- the vzcreate task --------------------------------------------------------------------------------- */

typedef struct create_state {
	pved *d;
	long long vmid;
	pve_sectioncfg *scfg;
	char **made; /* volids allocated */
	char *mnt; /* where the rootfs is mounted, when it is */
	bool mounted;
} create_state;

/* Allocates the volume a mount point asks for and formats it; the value to store. */
int ct_alloc_mp(pved *d, const pve_sectioncfg *scfg, long long vmid, const char *key,
		const char *value, bool unprivileged, char **ret_value, char **ret_volid,
		pve_error **err)
{
	(void)d;
	*ret_volid = NULL;
	_cleanup_free_ char *vol = ct_mp_volume(value);
	if (!ct_alloc_request(vol)) {
		*ret_value = xstrdup(value);
		return 0;
	}
	_cleanup_free_ char *sid = xstrndup(vol, strcspn(vol, ":"));
	_cleanup_free_ char *gib = xasprintf("%sG", strchr(vol, ':') + 1);
	uint64_t size = 0;
	if (pve_parse_size(gib, &size) < 0)
		return pve_error_set_param(err, EINVAL, key, "invalid size '%s'", gib);
	pve_storage st;
	int r = pve_storage_get(scfg, sid, &st, err);
	if (r >= 0)
		r = pve_storage_activate(&st, err);
	if (r < 0)
		return r;
	/* btrfs holds a container's volume as a subvolume (its size a quota), as Proxmox's */
	bool btrfs = st.type && streq(st.type, "btrfs");
	const char *fmt = size == 0 || btrfs ? "subvol" : "raw";
	_cleanup_free_ char *volname = NULL, *path = NULL;
	r = pve_storage_alloc_image(&st, vmid, fmt, NULL, size, &volname, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *volid = xasprintf("%s:%s", sid, volname);
	printf("allocated volume '%s' for %s\n", volid, key);
	r = pve_storage_path(&st, volname, NULL, &path, err);
	char owner[32];
	snprintf(owner, sizeof(owner), "root_owner=%u:%u", unprivileged ? LXC_UNPRIV_BASE : 0,
		 unprivileged ? LXC_UNPRIV_BASE : 0);
	if (r >= 0 && streq(fmt, "raw")) {
		/* as Proxmox formats a container's raw volume */
		const char *argv[] = { "mkfs.ext4", "-q", "-O", "mmp", "-E", owner, path, NULL };
		printf("Formatting '%s' with ext4\n", path);
		r = pve_storage_run(argv, NULL, err);
	} else if (r >= 0 && unprivileged && chown(path, LXC_UNPRIV_BASE, LXC_UNPRIV_BASE) < 0) {
		r = pve_error_set(err, errno, "chown '%s': %m", path);
	}
	if (r < 0) {
		(void)pve_storage_free_image(&st, volname, NULL);
		return r;
	}
	/* the rest of the value (mp=, options) stays; the volume and its size are the new ones */
	const char *first_end = value + strcspn(value, ",");
	bool positional = !memchr(value, '=', (size_t)(first_end - value));
	pve_buf b = { 0 };
	for (const char *q = positional ? first_end : value; *q;) {
		if (*q == ',')
			q++;
		size_t n = strcspn(q, ",");
		if (n && !(n >= 5 && strncmp(q, "size=", 5) == 0) &&
		    !(n >= 7 && strncmp(q, "volume=", 7) == 0)) {
			pve_buf_puts(&b, ",");
			pve_buf_append(&b, q, n);
		}
		q += n;
	}
	_cleanup_free_ char *tail = b.data ? pve_buf_steal(&b) : xstrdup("");
	/* Proxmox writes a subvolume's 0 as 0T */
	_cleanup_free_ char *sz = size ? pve_format_size(size) : xstrdup("0T");
	*ret_value = xasprintf("%s%s,size=%s", volid, tail, sz);
	*ret_volid = TAKE_PTR(volid);
	return 0;
}

static int alloc_mp(create_state *s, const char *key, const char *value, bool unprivileged,
		    char **ret_value, pve_error **err)
{
	char *volid = NULL;
	int r = ct_alloc_mp(s->d, s->scfg, s->vmid, key, value, unprivileged, ret_value, &volid,
			    err);
	if (volid)
		strv_push(&s->made, volid);
	return r;
}

/* Mounts the rootfs volume at s->mnt (a loop mount for a raw image; a subvolume is used in place). */
static int mount_rootfs(create_state *s, const char *value, char **ret_dir, pve_error **err)
{
	_cleanup_free_ char *vol = ct_mp_volume(value);
	pve_storage st;
	_cleanup_free_ char *volname = NULL, *path = NULL, *fmt = NULL;
	int r = ct_volume_storage(s->d, s->scfg, vol, &st, &volname, err);
	if (r >= 0)
		r = pve_storage_path(&st, volname, NULL, &path, err);
	if (r < 0)
		return r;
	struct stat sb;
	if (stat(path, &sb) < 0)
		return pve_error_set(err, errno, "rootfs '%s': %m", path);
	if (S_ISDIR(sb.st_mode)) {
		*ret_dir = TAKE_PTR(path);
		return 0;
	}
	_cleanup_free_ char *run = ct_run_dir(s->d);
	(void)mkdir(run, 0755);
	s->mnt = xasprintf("%s/%lld.create", run, s->vmid);
	if (mkdir(s->mnt, 0700) < 0 && errno != EEXIST)
		return pve_error_set(err, errno, "mkdir '%s': %m", s->mnt);
	const char *argv[] = { "mount", "-o", "loop", "-t", "ext4", path, s->mnt, NULL };
	r = pve_storage_run(argv, NULL, err);
	if (r < 0)
		return r;
	s->mounted = true;
	*ret_dir = xstrdup(s->mnt);
	return 0;
}

static void unmount_rootfs(create_state *s)
{
	if (s->mounted) {
		/* the loop device goes with the mount (mount -o loop sets autoclear) */
		if (umount2(s->mnt, 0) < 0)
			(void)umount2(s->mnt, MNT_DETACH);
		s->mounted = false;
	}
	if (s->mnt)
		(void)rmdir(s->mnt);
}

/* A root password's crypt(3) hash (SHA-512, as Proxmox makes it); the password is never stored. */
static char *password_hash(const char *pw, pve_error **err)
{
	static const char b64[] =
		"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint8_t r[16];
	if (pve_random_bytes(r, sizeof(r), err) < 0)
		return NULL;
	char salt[3 + 16 + 2] = "$6$";
	for (size_t i = 0; i < 16; i++)
		salt[3 + i] = b64[r[i] % 64];
	salt[19] = '$';
	salt[20] = 0;
	struct crypt_data cd = { 0 };
	const char *h = crypt_r(pw, salt, &cd);
	if (!h || h[0] == '*') {
		pve_error_set(err, EINVAL, "crypt failed");
		return NULL;
	}
	return xstrdup(h);
}

/* An application image's entrypoint, cmd and env become the container's, unless the create set them;
 * the env's items are separated by the two characters \0 in the file (the API's NUL). Its working
 * directory and stop signal become lxc.init.cwd and lxc.signal.halt (SIGTERM without one), as
 * Proxmox writes them. */
static void oci_to_config(pve_config *c, const cJSON *oci)
{
	if (!oci)
		return;
	if (!pve_config_get(c, NULL, "entrypoint")) {
		pve_buf b = { 0 };
		const char *parts[] = { "entrypoint", "cmd" };
		for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(oci, parts[i]), *x;
			cJSON_ArrayForEach (x, a)
				if (cJSON_IsString(x) && !strpbrk(x->valuestring, " \t\n")) {
					if (b.len)
						pve_buf_puts(&b, " ");
					pve_buf_puts(&b, x->valuestring);
				}
		}
		if (b.len)
			pve_config_set(c, NULL, "entrypoint", b.data);
		pve_buf_free(&b);
	}
	if (!pve_config_get(c, NULL, "env")) {
		pve_buf b = { 0 };
		const cJSON *x;
		cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive(oci, "env"))
			if (cJSON_IsString(x) && !strpbrk(x->valuestring, "\n")) {
				if (b.len)
					pve_buf_puts(&b, "\\0");
				pve_buf_puts(&b, x->valuestring);
			}
		if (b.len)
			pve_config_set(c, NULL, "env", b.data);
		pve_buf_free(&b);
	}
	if (!pve_config_get(c, NULL, "cmode"))
		pve_config_set(c, NULL, "cmode", "console");
	const char *wd = pve_json_str(oci, "workdir"), *stop = pve_json_str(oci, "stopsignal");
	if (wd && wd[0] == '/' && !strpbrk(wd, "\n") && !pve_config_get(c, NULL, "lxc.init.cwd"))
		pve_config_set(c, NULL, "lxc.init.cwd", wd);
	if (!pve_config_get(c, NULL, "lxc.signal.halt"))
		pve_config_set(c, NULL, "lxc.signal.halt",
			       stop && lxc_signal_parse(stop) > 0 ? stop : "SIGTERM");
}

/* Proxmox's per-OS set-up of the new rootfs: hostname, network, DNS, root's password, ssh keys. */
static int setup_rootfs(create_state *s, const pve_config *c, const char *dir, const char *hash,
			const char *ssh, pve_error **err)
{
	lxc_nic nics[LXC_MAX_NICS];
	size_t n = 0;
	for (int i = 0; i < LXC_MAX_NICS; i++) {
		char key[16];
		snprintf(key, sizeof(key), "net%d", i);
		const char *v = pve_config_get(c, NULL, key);
		if (v && ct_nic_parse(s->vmid, i, v, &nics[n], err) < 0)
			return -EINVAL;
		n += v != NULL;
	}
	_cleanup_free_ char *host = pve_config_get(c, NULL, "hostname") ?
					    xstrdup(pve_config_get(c, NULL, "hostname")) :
					    xasprintf("CT%lld", s->vmid);
	lxc_setup st = { .ostype = pve_config_get(c, NULL, "ostype"),
			 .hostname = host,
			 .nameserver = pve_config_get(c, NULL, "nameserver"),
			 .searchdomain = pve_config_get(c, NULL, "searchdomain"),
			 /* Proxmox's create without a password locks root's */
			 .root_password_hash = hash ? hash : "*",
			 .ssh_keys = ssh,
			 .nics = nics,
			 .n_nics = n };
	return lxc_setup_rootfs(dir, &st, err);
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int create_body(create_state *s, const cJSON *args, pve_config *c, pve_error **err)
{
	const cJSON *conf = cJSON_GetObjectItemCaseSensitive(args, "conf");
	bool unprivileged = streq_ptr(pve_json_str(conf, "unprivileged"), "1");
	int r = ct_storage_cfg(s->d, &s->scfg, err);
	if (r < 0)
		return r;
	/* keys sorted, as Proxmox writes a new config */
	_cleanup_strv_free_ char **keys = strv_new();
	const cJSON *p;
	cJSON_ArrayForEach (p, conf)
		strv_push(&keys, xstrdup(p->string));
	qsort(keys, strv_length(keys), sizeof(char *), strcmp_p);
	/* the rootfs is the container's first disk, as Proxmox allocates it */
	_cleanup_free_ char *rootfs = NULL;
	r = alloc_mp(s, "rootfs", pve_json_str(conf, "rootfs"), unprivileged, &rootfs, err);
	if (r < 0)
		return r;
	for (char **k = keys; *k; k++) {
		const char *v = pve_json_str(conf, *k);
		if (streq(*k, "rootfs")) {
			pve_config_set(c, NULL, *k, rootfs);
			continue;
		}
		if (streq(*k, "description")) {
			pve_config_set_description(c, NULL, v);
			continue;
		}
		_cleanup_free_ char *value = NULL;
		if (family(*k, "mp")) {
			r = alloc_mp(s, *k, v, unprivileged, &value, err);
			if (r < 0)
				return r;
		} else {
			value = xstrdup(v);
		}
		if (pve_config_set(c, NULL, *k, value) < 0)
			return pve_error_set_param(err, EINVAL, *k, "invalid value");
	}
	const char *pw = pve_json_str(args, "password");
	_cleanup_free_ char *hash = pw ? password_hash(pw, err) : NULL;
	if (pw && !hash)
		return -EINVAL;
	_cleanup_free_ char *dir = NULL;
	r = mount_rootfs(s, pve_config_get(c, NULL, "rootfs"), &dir, err);
	if (r < 0)
		return r;
	const char *archive = pve_json_str(args, "archive");
	printf("extracting archive '%s'\n", archive);
	const lxc_idmap maps[] = { { 'u', 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT },
				   { 'g', 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT } };
	size_t n_maps = unprivileged ? 2 : 0;
	if (lxc_oci_is_image(archive)) {
		_cleanup_json_ cJSON *oci = NULL;
		r = lxc_oci_extract(archive, dir, unprivileged ? maps : NULL, n_maps, &oci, err);
		if (r < 0)
			return r;
		oci_to_config(c, oci);
	} else {
		r = lxc_template_extract(archive, dir, unprivileged ? maps : NULL, n_maps, err);
		if (r < 0)
			return r;
	}
	if (!pve_config_get(c, NULL, "ostype"))
		pve_config_set(c, NULL, "ostype", lxc_ostype_detect(dir));
	r = setup_rootfs(s, c, dir, hash, pve_json_str(args, "ssh-public-keys"), err);
	if (r < 0)
		return r;
	unmount_rootfs(s);
	return 0;
}

static int task_create(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	create_state s = { .d = d, .vmid = vmid, .made = strv_new() };
	_cleanup_config_ pve_config *c = pve_config_new();
	r = create_body(&s, args, c, err);
	unmount_rootfs(&s);
	if (r >= 0)
		r = ct_conf_write(d, vmid, c, NULL, err);
	if (r < 0) {
		if (s.scfg)
			ct_volumes_free(d, s.scfg, s.made, true);
		_cleanup_free_ char *path = ct_conf_path(d, vmid);
		(void)pve_store_delete(d->store, path, NULL);
	}
	free(s.mnt);
	strv_free(s.made);
	pve_sectioncfg_free(s.scfg);
	if (r < 0)
		return r;
	const char *pool = pve_json_str(args, "pool");
	pve_error *e = NULL;
	if (pool && pved_guest_pool_add(d, vmid, pool, &e) < 0) {
		pved_task_warn("can't add CT %lld to pool '%s': %s", vmid, pool, e->message);
		pve_error_free(e);
		e = NULL;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "start"))) {
		printf("starting CT %lld\n", vmid);
		if (ct_start(d, vmid, false, &e) < 0) {
			pved_task_warn("%s", e->message);
			pve_error_free(e);
		}
	}
	return 0;
}

const pved_task_kind pved_tasks_lxc_create[] = {
	{ "vzcreate", task_create },
	{ NULL, NULL },
};

const pved_handler pved_handlers_lxc_create[] = {
	{ "lxc_create", h_create },
	{ NULL, NULL },
};
