/* The VM config file: parsing and checking it against the schema, the answers of GET .../config and
 * .../pending, the pending section's changes and deletions, and the typed values the rest needs (memory,
 * CPUs, booleans, the boot order, fresh UUIDs). */
#include <ctype.h>
#include <uuid/uuid.h>

#include "kvm/kvm-internal.h"

int kvm_config_parse(const char *text, size_t len, pve_config **ret, pve_error **err)
{
	return pve_config_parse(text, len, ret, err);
}

static bool is_special(const char *section)
{
	return section && startswith(section, "special:");
}

int kvm_config_check(const pve_config *c, const char *section, const kvm_schema *s,
		     cJSON **ret_errors)
{
	if (is_special(section)) {
		if (ret_errors)
			*ret_errors = NULL;
		return 0;
	}
	bool pending = section && streq(section, KVM_SECTION_PENDING);
	cJSON *errors = cJSON_CreateObject();
	_cleanup_strv_free_ char **keys = pve_config_keys(c, section);
	for (char **k = keys; *k; k++) {
		const char *v = pve_config_get(c, section, *k);
		if (streq(*k, "delete")) {
			if (!pending) {
				cJSON_AddStringToObject(
					errors, *k,
					"property 'delete' is only allowed in [PENDING]");
				continue;
			}
			_cleanup_strv_free_ char **items = pve_split_list(v);
			for (char **i = items; *i; i++) {
				const char *key = **i == '!' ? *i + 1 : *i;
				if (!kvm_schema_key(s, key) && !streq(key, "description")) {
					_cleanup_free_ char *m =
						xasprintf("unknown setting '%s' to delete", key);
					cJSON_AddStringToObject(errors, *k, m);
					break;
				}
			}
			continue;
		}
		/* A description may also be a key of its own (Proxmox reads `description: x`). */
		if (streq(*k, "description"))
			continue;
		pve_error *e = NULL;
		if (kvm_config_check_value(s, *k, v, NULL, &e) < 0)
			cJSON_AddStringToObject(errors, *k, e->message);
		pve_error_free(e);
	}
	if (cJSON_GetArraySize(errors) == 0) {
		cJSON_Delete(errors);
		if (ret_errors)
			*ret_errors = NULL;
		return 0;
	}
	if (ret_errors)
		*ret_errors = errors;
	else
		cJSON_Delete(errors);
	return -EINVAL;
}

char **kvm_pending_deletes(const pve_config *c, bool *ret_force_of_each)
{
	const char *d = pve_config_get(c, KVM_SECTION_PENDING, "delete");
	char **items = pve_split_list(d ? d : "");
	size_t n = 0;
	for (char **p = items; *p; p++, n++) {
		bool force = **p == '!';
		if (ret_force_of_each)
			ret_force_of_each[n] = force;
		if (force)
			memmove(*p, *p + 1, strlen(*p));
	}
	return items;
}

/* Rewrites the delete line from a list (sorted, as Proxmox prints it), or removes it. */
static void write_deletes(pve_config *c, char **keys, bool *force)
{
	size_t n = strv_length(keys);
	if (n == 0) {
		pve_config_delete(c, KVM_SECTION_PENDING, "delete");
		return;
	}
	/* sort by key, carrying the force flags along */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
			bool f = force[j];
			force[j] = force[j - 1];
			force[j - 1] = f;
		}
	pve_buf b = { 0 };
	for (size_t i = 0; i < n; i++)
		pve_buf_printf(&b, "%s%s%s", i ? "," : "", force[i] ? "!" : "", keys[i]);
	pve_config_set(c, KVM_SECTION_PENDING, "delete", b.data);
	pve_buf_free(&b);
}

/* The delete list as keys and force flags (n entries, room for one more). */
static char **deletes_with_room(const pve_config *c, bool **ret_force, size_t *ret_n)
{
	const char *d = pve_config_get(c, KVM_SECTION_PENDING, "delete");
	_cleanup_strv_free_ char **items = pve_split_list(d ? d : "");
	size_t n = strv_length(items);
	bool *force = xcalloc(n + 2, sizeof(bool));
	char **keys = kvm_pending_deletes(c, force);
	keys = xrealloc(keys, (n + 2) * sizeof(char *));
	*ret_force = force;
	*ret_n = n;
	return keys;
}

void kvm_pending_delete_add(pve_config *c, const char *key, bool force)
{
	size_t n;
	_cleanup_free_ bool *f = NULL;
	_cleanup_strv_free_ char **keys = deletes_with_room(c, &f, &n);
	size_t i;
	for (i = 0; i < n && !streq(keys[i], key); i++)
		;
	if (i == n) {
		keys[n] = xstrdup(key);
		keys[n + 1] = NULL;
	}
	f[i] = force;
	write_deletes(c, keys, f);
}

void kvm_pending_delete_remove(pve_config *c, const char *key)
{
	if (!pve_config_get(c, KVM_SECTION_PENDING, "delete"))
		return;
	size_t n, w = 0;
	_cleanup_free_ bool *f = NULL;
	_cleanup_strv_free_ char **keys = deletes_with_room(c, &f, &n);
	for (size_t i = 0; i < n; i++) {
		if (streq(keys[i], key)) {
			free(keys[i]);
			continue;
		}
		f[w] = f[i];
		keys[w++] = keys[i];
	}
	keys[w] = NULL;
	write_deletes(c, keys, f);
	/* an empty [PENDING] goes away: nothing is pending */
	kvm_pending_drop_if_empty(c);
}

bool kvm_pending_empty(const pve_config *c)
{
	if (!pve_config_has_section(c, KVM_SECTION_PENDING))
		return true;
	_cleanup_strv_free_ char **keys = pve_config_keys(c, KVM_SECTION_PENDING);
	_cleanup_free_ char *descr = pve_config_get_description(c, KVM_SECTION_PENDING);
	return !keys[0] && !descr;
}

void kvm_pending_drop_if_empty(pve_config *c)
{
	if (pve_config_has_section(c, KVM_SECTION_PENDING) && kvm_pending_empty(c))
		pve_config_delete_section(c, KVM_SECTION_PENDING);
}

static void add_typed(cJSON *o, const kvm_schema *s, const char *key, const char *value)
{
	cJSON *v = NULL;
	if (kvm_config_check_value(s, key, value, &v, NULL) < 0)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddItemToObject(o, key, v);
}

cJSON *kvm_config_to_json(const pve_config *c, const char *section, const kvm_schema *s,
			  bool pending)
{
	cJSON *o = cJSON_CreateObject();
	_cleanup_strv_free_ char **keys = pve_config_keys(c, section);
	for (char **k = keys; *k; k++) {
		const char *v = pve_config_get(c, section, *k);
		if (streq(*k, "description") || streq(*k, "delete"))
			continue;
		/* Proxmox turns the old cdrom key into ide2 when it reads a config. */
		add_typed(o, s, streq(*k, "cdrom") ? "ide2" : *k, v);
	}
	_cleanup_free_ char *descr = pve_config_get_description(c, section);
	const char *dkey = pve_config_get(c, section, "description");
	if (descr || dkey)
		cJSON_AddStringToObject(o, "description", descr ? descr : dkey);
	if (!pending || section)
		return o;
	/* a pending description is the [PENDING] section's comment lines, as Proxmox writes it */
	_cleanup_free_ char *pdescr = pve_config_get_description(c, KVM_SECTION_PENDING);
	if (pdescr) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "description");
		cJSON_AddStringToObject(o, "description", pdescr);
	}
	_cleanup_strv_free_ char **pkeys = pve_config_keys(c, KVM_SECTION_PENDING);
	for (char **k = pkeys; *k; k++) {
		if (streq(*k, "delete") || streq(*k, "description"))
			continue;
		add_typed(o, s, *k, pve_config_get(c, KVM_SECTION_PENDING, *k));
	}
	_cleanup_strv_free_ char **dels = kvm_pending_deletes(c, NULL);
	for (char **k = dels; *k; k++)
		cJSON_DeleteItemFromObjectCaseSensitive(o, *k);
	return o;
}

cJSON *kvm_config_pending_json(const pve_config *c, const kvm_schema *s, const char *digest)
{
	cJSON *list = cJSON_CreateArray();
	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	_cleanup_strv_free_ char **pkeys = pve_config_keys(c, KVM_SECTION_PENDING);
	const char *dline = pve_config_get(c, KVM_SECTION_PENDING, "delete");
	_cleanup_strv_free_ char **dels = pve_split_list(dline ? dline : "");
	size_t nd = strv_length(dels);
	_cleanup_free_ bool *used = xcalloc(nd + 1, sizeof(bool));

	/* the deletion request of key: 0 none, 1 delete, 2 forced */
#define DELETE_OF(key)                                                                     \
	({                                                                                 \
		int _d_ = 0;                                                               \
		for (size_t _i_ = 0; _i_ < nd; _i_++) {                                    \
			const char *_k_ = dels[_i_][0] == '!' ? dels[_i_] + 1 : dels[_i_]; \
			if (streq(_k_, key)) {                                             \
				_d_ = dels[_i_][0] == '!' ? 2 : 1;                         \
				used[_i_] = true;                                          \
			}                                                                  \
		}                                                                          \
		_d_;                                                                       \
	})

	_cleanup_free_ char *descr = pve_config_get_description(c, NULL);
	_cleanup_free_ char *pd = pve_config_get_description(c, KVM_SECTION_PENDING);
	if (descr || pd) {
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "key", "description");
		if (descr)
			cJSON_AddStringToObject(item, "value", descr);
		if (pd)
			cJSON_AddStringToObject(item, "pending", pd);
		int d = DELETE_OF("description");
		if (d)
			cJSON_AddNumberToObject(item, "delete", d);
		cJSON_AddItemToArray(list, item);
	}
	if (digest) {
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "key", "digest");
		cJSON_AddStringToObject(item, "value", digest);
		cJSON_AddItemToArray(list, item);
	}
	for (char **k = keys; *k; k++) {
		if (streq(*k, "description"))
			continue;
		const char *v = pve_config_get(c, NULL, *k);
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "key", *k);
		if (streq(*k, "cipassword"))
			cJSON_AddStringToObject(item, "value", "**********");
		else
			cJSON_AddItemToObject(item, "value", kvm_config_value_json(s, *k, v));
		const char *pv = pve_config_get(c, KVM_SECTION_PENDING, *k);
		if (pv && streq(*k, "cipassword"))
			cJSON_AddStringToObject(item, "pending", "********** ");
		else if (pv)
			cJSON_AddItemToObject(item, "pending", kvm_config_value_json(s, *k, pv));
		int d = DELETE_OF(*k);
		if (d)
			cJSON_AddNumberToObject(item, "delete", d);
		cJSON_AddItemToArray(list, item);
	}
	for (char **k = pkeys; *k; k++) {
		if (streq(*k, "delete") || pve_config_get(c, NULL, *k) || streq(*k, "description"))
			continue;
		const char *pv = pve_config_get(c, KVM_SECTION_PENDING, *k);
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "key", *k);
		if (streq(*k, "cipassword"))
			cJSON_AddStringToObject(item, "pending", "********** ");
		else
			cJSON_AddItemToObject(item, "pending", kvm_config_value_json(s, *k, pv));
		cJSON_AddItemToArray(list, item);
	}
	for (size_t i = 0; i < nd; i++) {
		if (used[i])
			continue;
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "key", dels[i][0] == '!' ? dels[i] + 1 : dels[i]);
		cJSON_AddNumberToObject(item, "delete", dels[i][0] == '!' ? 2 : 1);
		cJSON_AddItemToArray(list, item);
	}
#undef DELETE_OF
	return list;
}

char *kvm_config_next_unused(const pve_config *c)
{
	for (int i = 0; i < KVM_MAX_UNUSED; i++) {
		char key[16];
		snprintf(key, sizeof(key), "unused%d", i);
		if (!pve_config_get(c, NULL, key))
			return xstrdup(key);
	}
	return NULL;
}

/* The volume a drive value names ("local:100/vm-100-disk-0.qcow2"), or NULL for none, cdrom, a CD-ROM
 * medium or a path: what may become an unused disk. */
static char *drive_volume(const char *key, const char *value)
{
	if (!value)
		return NULL;
	bool unused = startswith(key, "unused");
	/* the file is the first item, maybe as file= or volume= */
	size_t n = strcspn(value, ",");
	_cleanup_free_ char *file = xstrndup(value, n);
	const char *f = file;
	if (startswith(f, "file="))
		f += 5;
	else if (startswith(f, "volume="))
		f += 7;
	if (!unused && (strstr(value, "media=cdrom") || streq(f, "none") || streq(f, "cdrom")))
		return NULL;
	if (f[0] == '/' || !strchr(f, ':'))
		return NULL;
	return xstrdup(f);
}

/* Whether any drive or unused key of any section but skip_key in main names volid. */
static bool volume_referenced(const pve_config *c, const char *volid, const char *skip_key)
{
	_cleanup_strv_free_ char **sections = pve_config_sections(c);
	for (ssize_t si = -1; si < (ssize_t)strv_length(sections); si++) {
		const char *sec = si < 0 ? NULL : sections[si];
		if (is_special(sec))
			continue;
		_cleanup_strv_free_ char **keys = pve_config_keys(c, sec);
		for (char **k = keys; *k; k++) {
			if (!sec && skip_key && streq(*k, skip_key))
				continue;
			if (!kvm_drive_key(*k, true, NULL, NULL) && !streq(*k, "vmstate"))
				continue;
			const char *v = pve_config_get(c, sec, *k);
			_cleanup_free_ char *vol = streq(*k, "vmstate") ? xstrdup(v) :
									  drive_volume(*k, v);
			if (vol && streq(vol, volid))
				return true;
		}
	}
	return false;
}

/* The old value of a drive key that is replaced or deleted: its volume becomes unused[n], unless
 * still referenced (a snapshot, another key). */
static void register_unused(pve_config *c, const char *key, const char *old)
{
	if (startswith(key, "unused") || !kvm_drive_key(key, false, NULL, NULL))
		return;
	_cleanup_free_ char *vol = drive_volume(key, old);
	if (!vol || volume_referenced(c, vol, key))
		return;
	_cleanup_free_ char *ukey = kvm_config_next_unused(c);
	if (ukey)
		pve_config_set(c, NULL, ukey, vol);
}

void kvm_config_apply_pending(pve_config *c, char ***ret_destroy)
{
	size_t nd = 0;
	char **destroy = xcalloc(1, sizeof(char *));
	_cleanup_free_ char *pdescr = pve_config_get_description(c, KVM_SECTION_PENDING);
	if (pdescr)
		pve_config_set_description(c, NULL, pdescr);
	_cleanup_strv_free_ char **pkeys = pve_config_keys(c, KVM_SECTION_PENDING);
	for (char **k = pkeys; *k; k++) {
		if (streq(*k, "delete"))
			continue;
		const char *v = pve_config_get(c, KVM_SECTION_PENDING, *k);
		if (streq(*k, "description")) {
			pve_config_set_description(c, NULL, v);
			continue;
		}
		const char *oldv = pve_config_get(c, NULL, *k);
		_cleanup_free_ char *old = oldv ? xstrdup(oldv) : NULL;
		pve_config_set(c, NULL, *k, v);
		if (old) {
			_cleanup_free_ char *ov = drive_volume(*k, old), *nv = drive_volume(*k, v);
			if (ov && !streq_ptr(ov, nv))
				register_unused(c, *k, old);
		}
	}
	size_t n = 0;
	{
		const char *d = pve_config_get(c, KVM_SECTION_PENDING, "delete");
		_cleanup_strv_free_ char **items = pve_split_list(d ? d : "");
		n = strv_length(items);
	}
	_cleanup_free_ bool *force = xcalloc(n + 1, sizeof(bool));
	_cleanup_strv_free_ char **dels = kvm_pending_deletes(c, force);
	for (size_t i = 0; dels[i]; i++) {
		const char *key = dels[i];
		if (streq(key, "description")) {
			pve_config_set_description(c, NULL, NULL);
			pve_config_delete(c, NULL, key);
			continue;
		}
		const char *oldv = pve_config_get(c, NULL, key);
		if (!oldv)
			continue;
		_cleanup_free_ char *old = xstrdup(oldv);
		pve_config_delete(c, NULL, key);
		/* a cloud-init drive's volume goes with the drive, as Proxmox's: the config is its content */
		if (kvm_drive_key(key, false, NULL, NULL)) {
			const char *f = startswith(old, "file=") ? old + 5 : old;
			_cleanup_free_ char *file = xstrndup(f, strcspn(f, ","));
			if (kvm_volume_is_cloudinit(file)) {
				if (strchr(file, ':') && !volume_referenced(c, file, NULL)) {
					destroy = xrealloc(destroy, (nd + 2) * sizeof(char *));
					destroy[nd++] = TAKE_PTR(file);
					destroy[nd] = NULL;
				}
				continue;
			}
		}
		_cleanup_free_ char *vol =
			kvm_drive_key(key, true, NULL, NULL) ? drive_volume(key, old) : NULL;
		if (!vol)
			continue;
		/* A forced deletion and a deleted unused disk destroy the volume; a plain deletion
		 * of a drive keeps it as unused[n]. */
		if ((force[i] || startswith(key, "unused")) && !volume_referenced(c, vol, NULL)) {
			destroy = xrealloc(destroy, (nd + 2) * sizeof(char *));
			destroy[nd++] = xstrdup(vol);
			destroy[nd] = NULL;
		} else if (!startswith(key, "unused")) {
			register_unused(c, key, old);
		}
	}
	pve_config_delete_section(c, KVM_SECTION_PENDING);
	if (ret_destroy)
		*ret_destroy = destroy;
	else
		strv_free(destroy);
}

/* ---- typed values --------------------------------------------------------------------------------- */

uint64_t kvm_config_memory_mib(const pve_config *c, const char *section)
{
	const char *v = pve_config_get(c, section, "memory");
	if (!v)
		return 512;
	const char *p = startswith(v, "current=") ? v + 8 : v;
	unsigned long long m;
	_cleanup_free_ char *num = xstrndup(p, strcspn(p, ","));
	if (pve_parse_uint(num, UINT64_MAX / (1024 * 1024), &m) < 0 || m == 0)
		return 512;
	return m;
}

static long long int_key(const pve_config *c, const char *section, const char *key, long long def)
{
	const char *v = pve_config_get(c, section, key);
	long long n;
	if (!v || pve_parse_int(v, 1, 1 << 20, &n) < 0)
		return def;
	return n;
}

int kvm_config_cpus(const pve_config *c, const char *section, int *ret_vcpus)
{
	long long sockets = int_key(c, section, "sockets", int_key(c, section, "smp", 1));
	long long cores = int_key(c, section, "cores", 1);
	long long max = sockets * cores;
	if (max > 4096)
		max = 4096;
	if (ret_vcpus) {
		long long v = int_key(c, section, "vcpus", max);
		*ret_vcpus = (int)(v > max ? max : v);
	}
	return (int)max;
}

bool kvm_config_bool(const pve_config *c, const char *section, const char *key, bool def)
{
	const char *v = pve_config_get(c, section, key);
	bool b;
	if (!v || pve_parse_bool(v, &b) < 0)
		return def;
	return b;
}

static bool drive_value_is_cdrom(const char *value)
{
	return strstr(value, "media=cdrom") != NULL || streq(value, "cdrom") ||
	       startswith(value, "cdrom,");
}

/* The drive keys in Proxmox's boot-selection order: ide, scsi, virtio, sata. */
static void drive_keys_in_boot_order(char ***ret)
{
	static const struct {
		const char *name;
		int n;
	} buses[] = { { "ide", KVM_MAX_IDE },
		      { "scsi", KVM_MAX_SCSI },
		      { "virtio", KVM_MAX_VIRTIO },
		      { "sata", KVM_MAX_SATA } };
	size_t total = 0, k = 0;
	for (size_t i = 0; i < ELEMENTSOF(buses); i++)
		total += (size_t)buses[i].n;
	char **v = xcalloc(total + 1, sizeof(char *));
	for (size_t i = 0; i < ELEMENTSOF(buses); i++)
		for (int j = 0; j < buses[i].n; j++)
			v[k++] = xasprintf("%s%d", buses[i].name, j);
	*ret = v;
}

char **kvm_config_boot_order(const pve_config *c, const kvm_schema *s)
{
	const char *boot = pve_config_get(c, NULL, "boot");
	const cJSON *fmt = kvm_schema_named_format(s, "pve-qm-boot");
	_cleanup_json_ cJSON *b = NULL;
	if (boot && pve_propstr_parse(boot, fmt, &b, NULL) == 0 && pve_json_str(b, "order") &&
	    !pve_json_str(b, "legacy"))
		return pve_strv_split(pve_json_str(b, "order"), ";, ");
	const char *legacy = b && pve_json_str(b, "legacy") ? pve_json_str(b, "legacy") : "cdn";
	_cleanup_strv_free_ char **drives = NULL;
	drive_keys_in_boot_order(&drives);
	const char *bootdisk = pve_config_get(c, NULL, "bootdisk");
	char **out = xcalloc(KVM_MAX_IDE + KVM_MAX_SATA + KVM_MAX_SCSI + KVM_MAX_VIRTIO +
				     KVM_MAX_NETS + 2,
			     sizeof(char *));
	size_t n = 0;
	for (const char *l = legacy; *l; l++) {
		if (*l == 'c') {
			if (bootdisk && pve_config_get(c, NULL, bootdisk)) {
				out[n++] = xstrdup(bootdisk);
				continue;
			}
			for (char **d = drives; *d; d++) {
				const char *v = pve_config_get(c, NULL, *d);
				if (v && !drive_value_is_cdrom(v)) {
					out[n++] = xstrdup(*d);
					break;
				}
			}
		} else if (*l == 'd') {
			for (char **d = drives; *d; d++) {
				const char *v = pve_config_get(c, NULL, *d);
				if (v && drive_value_is_cdrom(v))
					out[n++] = xstrdup(*d);
			}
		} else if (*l == 'n') {
			for (int i = 0; i < KVM_MAX_NETS; i++) {
				char key[16];
				snprintf(key, sizeof(key), "net%d", i);
				if (pve_config_get(c, NULL, key))
					out[n++] = xstrdup(key);
			}
		}
	}
	return out;
}

char *kvm_uuid_new(void)
{
	uuid_t u;
	char s[37];
	uuid_generate_random(u);
	uuid_unparse_lower(u, s);
	return xstrdup(s);
}

char *kvm_smbios1_new(void)
{
	_cleanup_free_ char *u = kvm_uuid_new();
	return xasprintf("uuid=%s", u);
}
