/* A VM's cloud-init drive as Proxmox keeps it: the volume a "STORAGE:cloudinit" drive asks for
 * (vm-<vmid>-cloudinit, 4 MiB), the ISO image written into it at each start and on PUT .../cloudinit
 * (kvm/cloudinit.c makes the files and the image), the [special:cloudinit] section that records what a
 * running VM's changes left out of the image, and the endpoints: GET/PUT .../cloudinit and
 * GET .../cloudinit/dump. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "daemon/qemu/qemu-internal.h"

/* The options Proxmox's GET .../cloudinit lists (its $cloudinitoptions), sorted. */
static const char *const ci_options[] = { "cicustom",	  "cipassword", "citype",
					  "ciupgrade",	  "ciuser",	"nameserver",
					  "searchdomain", "sshkeys",	NULL };

static bool family(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0 && key[n] >= '0' && key[n] <= '9';
}

static bool in_list(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (streq(key, *list))
			return true;
	return false;
}

bool qemu_cloudinit_key(const char *key)
{
	return in_list(key, ci_options) || family(key, "ipconfig");
}

/* The file of a drive value ("local:cloudinit,media=cdrom", "file=...,..."). */
static char *drive_file(const char *value)
{
	const char *f = startswith(value, "file=") ? value + 5 : value;
	return xstrndup(f, strcspn(f, ","));
}

const char *qemu_cloudinit_drive(const pve_config *c, const char *section)
{
	_cleanup_strv_free_ char **keys = pve_config_keys(c, section);
	static char found[16];
	for (char **k = keys; *k; k++) {
		if (!kvm_drive_key(*k, false, NULL, NULL))
			continue;
		_cleanup_free_ char *file = drive_file(pve_config_get(c, section, *k));
		if (kvm_volume_is_cloudinit(file)) {
			snprintf(found, sizeof(found), "%s", *k);
			return found;
		}
	}
	return NULL;
}

bool qemu_cloudinit_request(const char *file)
{
	const char *colon = strchr(file, ':');
	return colon && colon != file && streq(colon + 1, "cloudinit");
}

int qemu_cloudinit_check_keys(const pve_config *c, const cJSON *set, pve_error **err)
{
	if (c && (qemu_cloudinit_drive(c, NULL) || qemu_cloudinit_drive(c, KVM_SECTION_PENDING)))
		return 0;
	const cJSON *p;
	cJSON_ArrayForEach (p, set)
		if (kvm_drive_key(p->string, false, NULL, NULL) && cJSON_IsString(p)) {
			_cleanup_free_ char *file = drive_file(p->valuestring);
			if (kvm_volume_is_cloudinit(file))
				return 0;
		}
	cJSON_ArrayForEach (p, set)
		if (qemu_cloudinit_key(p->string))
			return pve_error_set_param(err, EINVAL, p->string,
						   "the VM has no cloud-init drive: add one first "
						   "(ideN, sataN or scsiN: <storage>:cloudinit)");
	return 0;
}

/* ---- the volume -------------------------------------------------------------------------------------- */

int qemu_cloudinit_allocate(pved *d, const pve_sectioncfg *scfg, long long vmid, pve_config *c,
			    const char *section, const char *key, kvm_drive *drv, char **ret_volid,
			    char **ret_value, pve_error **err)
{
	/* one cloud-init drive per VM, in the config as it is and as it will be */
	const char *sections[] = { NULL, KVM_SECTION_PENDING };
	for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
		_cleanup_strv_free_ char **keys = pve_config_keys(c, sections[i]);
		for (char **k = keys; *k; k++) {
			if (streq(*k, key) || !kvm_drive_key(*k, false, NULL, NULL))
				continue;
			_cleanup_free_ char *file = drive_file(pve_config_get(c, sections[i], *k));
			if (kvm_volume_is_cloudinit(file))
				return pve_error_set_param(
					err, EINVAL, key,
					"%s - cloud-init drive is already attached at '%s'", key,
					*k);
		}
	}
	(void)section;
	_cleanup_free_ char *sid = xstrndup(drv->file, strcspn(drv->file, ":"));
	pve_storage st;
	int r = pve_storage_get(scfg, sid, &st, err);
	if (r < 0)
		return r;
	if (st.disabled || !pve_storage_on_node(&st, d->node))
		return pve_error_set_param(err, EINVAL, key,
					   "storage '%s' is not available on node '%s'", sid,
					   d->node);
	/* as Proxmox: qcow2 on storages with a path, raw elsewhere */
	bool path = pve_section_get(st.section, "path") != NULL;
	const char *fmt = drv->format ? drv->format : path ? "qcow2" : "raw";
	_cleanup_free_ char *name = path ? xasprintf("vm-%lld-cloudinit.%s", vmid, fmt) :
					   xasprintf("vm-%lld-cloudinit", vmid);
	r = pve_storage_activate(&st, err);
	_cleanup_free_ char *volname = NULL;
	if (r >= 0)
		r = pve_storage_alloc_image(&st, vmid, fmt, name, KVM_CI_DISK_SIZE, &volname, err);
	if (r < 0) {
		if (err && *err && !(*err)->param)
			pve_error_prefix(*err, "%s", key);
		return r;
	}
	*ret_volid = xasprintf("%s:%s", sid, volname);
	cJSON_ReplaceItemInObjectCaseSensitive(drv->opts, "file", cJSON_CreateString(*ret_volid));
	cJSON_DeleteItemFromObjectCaseSensitive(drv->opts, "media");
	cJSON_AddStringToObject(drv->opts, "media", "cdrom");
	cJSON_DeleteItemFromObjectCaseSensitive(drv->opts, "format");
	cJSON_DeleteItemFromObjectCaseSensitive(drv->opts, "size");
	*ret_value = kvm_drive_print(qemu_schema(d), drv);
	printf("%s: successfully created disk '%s'\n", key, *ret_value);
	return 0;
}

/* ---- the files: snippets, the node's resolver ---------------------------------------------------- */

typedef struct resolver {
	char *search;
	char *ns[3];
} resolver;

static void resolver_clear(resolver *r)
{
	free(r->search);
	for (size_t i = 0; i < ELEMENTSOF(r->ns); i++)
		free(r->ns[i]);
}

/* <root>/etc/resolv.conf as Proxmox's read_etc_resolv_conf: the search (or domain) line's first
 * domain, the first three name servers. */
static void read_resolver(pved *d, resolver *ret, kvm_ci_dns *dns)
{
	*ret = (resolver){ 0 };
	*dns = (kvm_ci_dns){ 0 };
	_cleanup_free_ char *path = pved_path(d, "etc/resolv.conf");
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return;
	char line[1024];
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		char a[16], b[256];
		if (sscanf(line, "%15s %255s", a, b) != 2)
			continue;
		if ((streq(a, "search") || streq(a, "domain")) && line[0] == a[0]) {
			free(ret->search);
			ret->search = xstrdup(b);
		} else if (streq(a, "nameserver") && n < 3 &&
			   pve_format_check("ip", b, NULL) == 0) {
			ret->ns[n++] = xstrdup(b);
		}
	}
	dns->search = ret->search;
	for (size_t i = 0; i < n; i++)
		dns->nameservers[i] = ret->ns[i];
}

/* cicustom's snippets, read as Proxmox's read_cloudinit_snippets_file (1 MiB at most). */
static int read_snippets(pved *d, const pve_sectioncfg *scfg, const pve_config *c,
			 char *ret[KVM_CI_CUSTOM_COUNT], pve_error **err)
{
	const char *v = pve_config_get(c, NULL, "cicustom");
	if (!v)
		return 0;
	_cleanup_json_ cJSON *o = NULL;
	int r = pve_propstr_parse(v,
				  cJSON_GetObjectItemCaseSensitive(
					  kvm_schema_key(qemu_schema(d), "cicustom"), "format"),
				  &o, NULL);
	if (r < 0 || !o) {
		/* the format is a named one: parse by hand, it is four plain keys */
		cJSON_Delete(o);
		o = cJSON_CreateObject();
		_cleanup_strv_free_ char **parts = pve_strv_split(v, ",");
		for (char **p = parts; *p; p++) {
			char *eq = strchr(*p, '=');
			if (!eq)
				return pve_error_set_param(err, EINVAL, "cicustom",
							   "invalid format - %s", v);
			*eq = '\0';
			cJSON_AddStringToObject(o, *p, eq + 1);
		}
	}
	static const char *const names[KVM_CI_CUSTOM_COUNT] = { "user", "network", "meta",
								"vendor" };
	for (size_t i = 0; i < KVM_CI_CUSTOM_COUNT; i++) {
		const char *volid = pve_json_str(o, names[i]);
		if (!volid)
			continue;
		_cleanup_free_ char *sid = NULL, *volname = NULL;
		pve_storage st;
		pve_volname vn = { 0 };
		r = pve_storage_volid_split(volid, &sid, &volname, err);
		if (r >= 0)
			r = pve_storage_get(scfg, sid, &st, err);
		if (r >= 0 && (pve_storage_volume_parse(&st, volname, &vn, NULL) < 0 ||
			       vn.vtype != PVE_CONTENT_SNIPPETS))
			r = pve_error_set(err, EINVAL, "%s is not in the snippets directory",
					  volid);
		pve_volname_clear(&vn);
		_cleanup_free_ char *path = NULL;
		if (r >= 0)
			r = pve_storage_activate(&st, err);
		if (r >= 0)
			r = pve_storage_path(&st, volname, NULL, &path, err);
		if (r < 0)
			return r;
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return pve_error_set(err, errno, "unable to open file '%s' - %m", path);
		char *buf = xmalloc(KVM_CI_MAX_SNIPPET + 2);
		ssize_t n = pve_read_full(fd, buf, KVM_CI_MAX_SNIPPET + 1);
		if (n < 0) {
			free(buf);
			return pve_error_set(err, (int)-n, "unable to read file '%s'", path);
		}
		if (n > KVM_CI_MAX_SNIPPET) {
			free(buf);
			return pve_error_set(err, EFBIG, "file '%s' too long - aborting", path);
		}
		buf[n] = '\0';
		if (strlen(buf) != (size_t)n) {
			free(buf);
			return pve_error_set(err, EINVAL, "file '%s' holds a NUL byte", path);
		}
		ret[i] = buf;
	}
	return 0;
}

/* The drive's content: every file, from the config (main section) and its snippets. */
static int make_files(pved *d, const pve_sectioncfg *scfg, long long vmid, const pve_config *c,
		      kvm_ci_files *ret, pve_error **err)
{
	char *custom[KVM_CI_CUSTOM_COUNT] = { NULL };
	int r = read_snippets(d, scfg, c, custom, err);
	resolver res;
	kvm_ci_dns dns;
	read_resolver(d, &res, &dns);
	if (r >= 0)
		r = kvm_cloudinit_files(c, qemu_schema(d), vmid, &dns, (const char *const *)custom,
					ret, err);
	resolver_clear(&res);
	for (size_t i = 0; i < KVM_CI_CUSTOM_COUNT; i++)
		free(custom[i]);
	return r;
}

/* ---- writing the image ------------------------------------------------------------------------------ */

/* Writes the drive's image into its volume (allocated again when it went missing, as Proxmox does). */
static int write_image(pved *d, const pve_sectioncfg *scfg, long long vmid, const pve_config *c,
		       const char *key, pve_error **err)
{
	const kvm_schema *s = qemu_schema(d);
	kvm_drive drv;
	int r = kvm_drive_parse(s, key, pve_config_get(c, NULL, key), &drv, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *sid = NULL, *volname = NULL;
	pve_storage st;
	r = pve_storage_volid_split(drv.file, &sid, &volname, err);
	if (r >= 0)
		r = pve_storage_get(scfg, sid, &st, err);
	if (r >= 0)
		r = pve_storage_activate(&st, err);
	kvm_drive_clear(&drv);
	if (r < 0)
		return r;
	uint64_t size = 0;
	_cleanup_free_ char *fmt = NULL;
	if (pve_storage_volume_size(&st, volname, &size, NULL, &fmt, NULL) < 0 || size == 0) {
		/* the name tells the format: vm-100-cloudinit.qcow2 */
		const char *dot = strrchr(volname, '.');
		const char *slash = strrchr(volname, '/');
		const char *name = slash ? slash + 1 : volname;
		free(fmt);
		fmt = xstrdup(dot && dot > name ? dot + 1 : "raw");
		_cleanup_free_ char *made = NULL;
		r = pve_storage_alloc_image(&st, vmid, fmt, name, KVM_CI_DISK_SIZE, &made, err);
		if (r < 0)
			return r;
		size = KVM_CI_DISK_SIZE;
	}
	_cleanup_free_ char *path = NULL, *vfmt = NULL;
	_cleanup_free_ char *volid = xasprintf("%s:%s", sid, volname);
	r = qemu_volume_path(d, scfg, volid, &path, &vfmt, err);
	if (r < 0)
		return r;
	kvm_ci_files files;
	r = make_files(d, scfg, vmid, c, &files, err);
	if (r < 0)
		return r;
	/* a private work directory below the node's run directory */
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	(void)mkdir(rundir, 0755);
	_cleanup_free_ char *tmpl = xasprintf("%s/cloudinit-%lld-XXXXXX", rundir, vmid);
	if (!mkdtemp(tmpl)) {
		kvm_ci_files_clear(&files);
		return pve_error_set(err, errno, "can't create a directory in %s: %m", tmpl);
	}
	_cleanup_free_ char *iso = xasprintf("%s/image.iso", tmpl);
	printf("generating cloud-init ISO\n");
	fflush(stdout);
	r = kvm_cloudinit_iso(&files, tmpl, iso, size, err);
	kvm_ci_files_clear(&files);
	if (r >= 0) {
		const char *argv[] = { "qemu-img", "convert", "-n", "-f", "raw",
				       "-O",	   vfmt,      iso,  path, NULL };
		r = pve_qemu_img(argv, NULL, err);
	}
	unlink(iso);
	rmdir(tmpl);
	return r;
}

int qemu_cloudinit_generate(pved *d, long long vmid, pve_config *c, bool *ret_changed,
			    pve_error **err)
{
	*ret_changed = false;
	const char *key = qemu_cloudinit_drive(c, NULL);
	if (!key) {
		/* Proxmox drops the section of a VM without the drive when it writes the config */
		*ret_changed = pve_config_delete_section(c, KVM_SECTION_CLOUDINIT);
		return 0;
	}
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	int r = qemu_storage_cfg(d, &scfg, err);
	if (r >= 0)
		r = write_image(d, scfg, vmid, c, key, err);
	if (r < 0)
		return r;
	*ret_changed = pve_config_delete_section(c, KVM_SECTION_CLOUDINIT);
	return 0;
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- what a running VM's changes leave out of the image ([special:cloudinit]) -------------------- */

/* Proxmox's cloudinit_pending_properties: the cloud-init options, name and the NICs. */
bool qemu_cloudinit_recorded_key(const char *key)
{
	return qemu_cloudinit_key(key) || streq(key, "name") || family(key, "net");
}

void qemu_cloudinit_record(pve_config *c, const char *key, const char *old, const char *new_)
{
	if (!qemu_cloudinit_recorded_key(key))
		return;
	const char *sec = KVM_SECTION_CLOUDINIT;
	_cleanup_free_ char *recorded =
		pve_config_get(c, sec, key) ? xstrdup(pve_config_get(c, sec, key)) : NULL;
	const char *a = pve_config_get(c, sec, "added");
	_cleanup_strv_free_ char **added = pve_split_list(a ? a : "");
	bool was_added = strv_contains(added, key);
	if (new_) {
		if (recorded && streq(new_, recorded)) {
			/* back to what the image holds */
			pve_config_delete(c, sec, key);
			strv_remove(added, key);
		} else if (!recorded && !was_added) {
			if (old)
				pve_config_set(c, sec, key, old);
			else
				strv_push(&added, xstrdup(key));
		}
	} else if (old && !recorded) {
		if (was_added)
			strv_remove(added, key);
		else
			pve_config_set(c, sec, key, old);
	}
	qsort(added, strv_length(added), sizeof(char *), strcmp_p);
	_cleanup_free_ char *list = pve_strv_join(added, ",");
	if (*list)
		pve_config_set(c, sec, "added", list);
	else
		pve_config_delete(c, sec, "added");
	if (pve_config_has_section(c, sec)) {
		_cleanup_strv_free_ char **left = pve_config_keys(c, sec);
		if (!left[0])
			pve_config_delete_section(c, sec);
	}
}

/* ---- GET .../cloudinit ------------------------------------------------------------------------------ */

static bool truthy(const char *v)
{
	/* Perl's truth of a config value: "" and "0" are false */
	return v && *v && !streq(v, "0");
}

static void h_pending(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (qemu_conf_load(d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *sec = KVM_SECTION_CLOUDINIT;
#define CURRENT(k)                                                   \
	(streq((k), "cipassword") && pve_config_get(conf, NULL, k) ? \
		 "**********" :                                      \
		 pve_config_get(conf, NULL, k))
#define RECORDED(k)                                                                \
	(streq((k), "cipassword") && pve_config_get(conf, sec, k) ? "**********" : \
								    pve_config_get(conf, sec, k))
	cJSON *res = cJSON_CreateArray();
	const char *added_text = pve_config_get(conf, sec, "added");
	_cleanup_strv_free_ char **added = pve_split_list(added_text ? added_text : "");
	for (char **k = added; *k; k++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "key", *k);
		const char *v = CURRENT(*k);
		if (v)
			cJSON_AddStringToObject(o, "pending", v);
		cJSON_AddItemToArray(res, o);
	}
	for (const char *const *k = ci_options; *k; k++) {
		if (!truthy(pve_config_get(conf, NULL, *k)))
			continue;
		/* as Proxmox's: a match anywhere in the added list's text */
		if (added_text && strstr(added_text, *k))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "key", *k);
		const char *rec = RECORDED(*k);
		if (truthy(rec)) {
			cJSON_AddStringToObject(o, "value", rec);
			cJSON_AddStringToObject(o, "pending", CURRENT(*k));
		} else {
			cJSON_AddStringToObject(o, "value", CURRENT(*k));
		}
		cJSON_AddItemToArray(res, o);
	}
	/* what the image holds and the config no longer does */
	_cleanup_strv_free_ char **keys = pve_config_keys(conf, sec);
	for (char **k = keys; *k; k++) {
		if (streq(*k, "added") || truthy(pve_config_get(conf, NULL, *k)))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "key", *k);
		cJSON_AddNumberToObject(o, "delete", 1);
		cJSON_AddItemToArray(res, o);
	}
#undef CURRENT
#undef RECORDED
	pved_call_reply(c, res);
}

/* ---- GET .../cloudinit/dump ------------------------------------------------------------------------- */

static void h_dump(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (qemu_conf_load(d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	char acl[64];
	snprintf(acl, sizeof(acl), "/vms/%lld", vmid);
	bool mask = !pved_call_permitted(c, acl, "VM.Config.Cloudinit");
	resolver res;
	kvm_ci_dns dns;
	read_resolver(d, &res, &dns);
	_cleanup_free_ char *text = NULL;
	int r = kvm_cloudinit_dump(conf, qemu_schema(d), vmid, &dns, pved_call_str(c, "type"), mask,
				   &text, &err);
	resolver_clear(&res);
	if (r < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(text));
}

/* ---- PUT .../cloudinit: the image made again, and a running VM's medium changed -------------------- */

typedef struct update_job {
	pved_call *c;
	pved *d;
	long long vmid;
	int lock_fd;
	pve_config *conf;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	char key[16];
	bool running, changed;
	int r;
	pve_error *err;
} update_job;

static void update_free(update_job *j)
{
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	pve_config_free(j->conf);
	pve_error_free(j->err);
	free(j);
}

static int monitor(pved *d, long long vmid, const char *cmd, cJSON *args, pve_error **err)
{
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	_cleanup_free_ char *sock = kvm_run_path(rundir, vmid, "qmp");
	kvm_qmp_sync *q = NULL;
	int r = kvm_qmp_sync_open(sock, 10000, &q, err);
	if (r < 0) {
		cJSON_Delete(args);
		return r;
	}
	r = kvm_qmp_sync_command(q, cmd, args, 60000, NULL, err);
	kvm_qmp_sync_close(q);
	return r;
}

/* The image of drive key made again from conf; a running VM's medium taken out while it is written
 * (QEMU holds the image open and locked) and put back in, also when writing failed. */
static int rewrite_medium(pved *d, const pve_sectioncfg *scfg, long long vmid, pve_config *conf,
			  const char *key, bool running, pve_error **err)
{
	if (running) {
		cJSON *args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "id", key);
		cJSON_AddTrueToObject(args, "force");
		int r = monitor(d, vmid, "eject", args, err);
		if (r < 0)
			return r;
	}
	int r = write_image(d, scfg, vmid, conf, key, err);
	if (!running)
		return r;
	_cleanup_free_ char *path = NULL, *fmt = NULL;
	pve_error *e = NULL;
	_cleanup_free_ char *volid = drive_file(pve_config_get(conf, NULL, key));
	int r2 = qemu_volume_path(d, scfg, volid, &path, &fmt, &e);
	if (r2 >= 0) {
		cJSON *args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "id", key);
		cJSON_AddStringToObject(args, "filename", path);
		cJSON_AddStringToObject(args, "format", fmt);
		cJSON_AddStringToObject(args, "read-only-mode", "read-only");
		r2 = monitor(d, vmid, "blockdev-change-medium", args, &e);
	}
	if (r2 < 0 && r >= 0) {
		if (err && !*err)
			*err = e;
		else
			pve_error_free(e);
		return r2;
	}
	pve_error_free(e);
	return r;
}

static void update_work(void *arg)
{
	update_job *j = arg;
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	j->r = qemu_storage_cfg(j->d, &scfg, &j->err);
	if (j->r >= 0)
		j->r = rewrite_medium(j->d, scfg, j->vmid, j->conf, j->key, j->running, &j->err);
}

int qemu_cloudinit_hotplug(pved *d, long long vmid, pve_config *c, const pve_sectioncfg *scfg,
			   pve_error **err)
{
	unsigned features = KVM_HOTPLUG_NETWORK | KVM_HOTPLUG_DISK | KVM_HOTPLUG_USB;
	const char *hv = pve_config_get(c, NULL, "hotplug");
	if (hv && kvm_hotplug_parse(hv, &features) < 0)
		return 0;
	const char *key = qemu_cloudinit_drive(c, NULL);
	if (!(features & KVM_HOTPLUG_CLOUDINIT) || !key ||
	    !pve_config_has_section(c, KVM_SECTION_CLOUDINIT))
		return 0;
	char drive[16];
	snprintf(drive, sizeof(drive), "%s", key);
	int r = rewrite_medium(d, scfg, vmid, c, drive, true, err);
	if (r < 0)
		return r;
	printf("cloud-init drive %s generated again\n", drive);
	pve_config_delete_section(c, KVM_SECTION_CLOUDINIT);
	return 1;
}

static void update_done(void *arg)
{
	update_job *j = arg;
	pved *d = j->d;
	if (j->r >= 0 && pve_config_delete_section(j->conf, KVM_SECTION_CLOUDINIT))
		j->r = qemu_conf_write(d, j->vmid, j->conf, j->digest, &j->err);
	if (j->r < 0) {
		pved_call_fail(j->c, TAKE_PTR(j->err));
	} else {
		qemu_vm_refresh(d, j->vmid);
		pved_call_reply(j->c, NULL);
	}
	update_free(j);
}

static void update_locked(pved *d, int fd, pve_error *err, void *ud)
{
	update_job *j = ud;
	if (fd < 0) {
		pved_call_fail(j->c, err);
		return update_free(j);
	}
	j->lock_fd = fd;
	if (qemu_conf_load(d, j->vmid, &j->conf, j->digest, &err) < 0 ||
	    qemu_conf_check_lock(j->conf, &err) < 0) {
		pved_call_fail(j->c, err);
		return update_free(j);
	}
	const char *key = qemu_cloudinit_drive(j->conf, NULL);
	if (!key) {
		/* as Proxmox: nothing to do */
		pved_call_reply(j->c, NULL);
		return update_free(j);
	}
	snprintf(j->key, sizeof(j->key), "%s", key);
	qemu_vm *vm = qemu_vm_find(d, j->vmid);
	if (vm)
		qemu_vm_check_running(d, vm);
	j->running = vm && qemu_vm_running(vm);
	if (pved_run_blocking(d, PVED_QUEUE_GUEST, update_work, update_done, j, &err) < 0) {
		pved_call_fail(j->c, err);
		update_free(j);
	}
}

static void h_update(pved_call *c)
{
	update_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->d = c->d;
	j->vmid = pved_call_int(c, "vmid", 0);
	j->lock_fd = -1;
	qemu_lock_async(c->d, j->vmid, update_locked, j);
}

const pved_handler pved_handlers_qemu_cloudinit[] = {
	{ "qemu_cloudinit_pending", h_pending },
	{ "qemu_cloudinit_update", h_update },
	{ "qemu_cloudinit_dump", h_dump },
	{ NULL, NULL },
};
