/* Typed views of the config's property-string keys: drives (ide, sata, scsi, virtio, efidisk, tpmstate,
 * unused) and NICs, parsed against the schema's formats and printed back in Proxmox's order. */
#include <ctype.h>

#include "kvm/kvm-internal.h"

static const struct {
	const char *prefix;
	kvm_bus bus;
	int count;
} buses[] = {
	{ "ide", KVM_BUS_IDE, KVM_MAX_IDE },
	{ "sata", KVM_BUS_SATA, KVM_MAX_SATA },
	{ "scsi", KVM_BUS_SCSI, KVM_MAX_SCSI },
	{ "virtio", KVM_BUS_VIRTIO, KVM_MAX_VIRTIO },
	{ "efidisk", KVM_BUS_EFIDISK, 1 },
	{ "tpmstate", KVM_BUS_TPMSTATE, 1 },
	{ "unused", KVM_BUS_UNUSED, KVM_MAX_UNUSED },
};

bool kvm_drive_key(const char *key, bool unused, kvm_bus *ret_bus, int *ret_index)
{
	for (size_t i = 0; i < ELEMENTSOF(buses); i++) {
		size_t n = strlen(buses[i].prefix);
		if (strncmp(key, buses[i].prefix, n) != 0 || !isdigit((unsigned char)key[n]))
			continue;
		if (buses[i].bus == KVM_BUS_UNUSED && !unused)
			return false;
		long long idx;
		/* no leading zeros: "scsi01" is no drive */
		if ((key[n] == '0' && key[n + 1]) ||
		    pve_parse_int(key + n, 0, buses[i].count - 1, &idx) < 0)
			return false;
		if (ret_bus)
			*ret_bus = buses[i].bus;
		if (ret_index)
			*ret_index = (int)idx;
		return true;
	}
	return false;
}

const char *kvm_bus_name(kvm_bus bus)
{
	for (size_t i = 0; i < ELEMENTSOF(buses); i++)
		if (buses[i].bus == bus)
			return buses[i].prefix;
	return "?";
}

const cJSON *kvm_key_format(const kvm_schema *s, const char *key)
{
	const cJSON *prop = kvm_schema_key(s, streq(key, "cdrom") ? "ide2" : key);
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(prop, "format");
	if (cJSON_IsObject(f))
		return f;
	if (cJSON_IsString(f))
		return kvm_schema_named_format(s, f->valuestring);
	return NULL;
}

void kvm_drive_clear(kvm_drive *d)
{
	cJSON_Delete(d->opts);
	*d = (kvm_drive){ 0 };
}

int kvm_drive_alloc_request(const char *file, char **ret_storage, uint64_t *ret_bytes)
{
	/* Proxmox's NEW_DISK_RE: ^(([^/:\s]+):)?(\d+(\.\d+)?)$ */
	const char *colon = strrchr(file, ':');
	const char *num = colon ? colon + 1 : file;
	if (colon) {
		if (colon == file)
			return 0;
		for (const char *p = file; p < colon; p++)
			if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
				return 0;
	}
	size_t digits = strspn(num, "0123456789");
	if (!digits)
		return 0;
	const char *rest = num + digits;
	if (*rest == '.') {
		size_t frac = strspn(rest + 1, "0123456789");
		if (!frac)
			return 0;
		rest += 1 + frac;
	}
	if (*rest)
		return 0;
	double gib;
	if (pve_parse_double(num, &gib) < 0 || gib > 1024.0 * 1024 * 1024)
		return 0;
	if (ret_storage)
		*ret_storage = colon ? xstrndup(file, (size_t)(colon - file)) : NULL;
	if (ret_bytes)
		*ret_bytes = (uint64_t)(gib * 1024 * 1024 * 1024);
	return 1;
}

/* The file of a drive: none, cdrom, an absolute path, a volume ID, or a new-disk request. */
static int check_file(const char *key, const char *file, bool unused, pve_error **err)
{
	if (!unused && (streq(file, "none") || streq(file, "cdrom")))
		return 0;
	if (!unused && file[0] == '/') {
		if (strstr(file, "/../") || endswith(file, "/..") || strpbrk(file, "\r\n"))
			return pve_error_set_param(err, EINVAL, key, "invalid path '%s'", file);
		return 0;
	}
	if (!unused && kvm_drive_alloc_request(file, NULL, NULL))
		return 0;
	_cleanup_free_ char *msg = NULL;
	if (pve_format_check("pve-volume-id", file, &msg) < 0)
		return pve_error_set_param(err, EINVAL, key, "invalid format - %s", msg);
	return 0;
}

int kvm_drive_parse(const kvm_schema *s, const char *key, const char *value, kvm_drive *ret,
		    pve_error **err)
{
	kvm_bus bus;
	int index;
	bool is_cdrom_key = streq(key, "cdrom");
	if (is_cdrom_key) {
		bus = KVM_BUS_IDE;
		index = 2;
	} else if (!kvm_drive_key(key, true, &bus, &index)) {
		return pve_error_set_param(err, EINVAL, key, "invalid drive key '%s'", key);
	}
	const cJSON *fmt = kvm_key_format(s, key);
	if (!fmt)
		return pve_error_set_param(err, EINVAL, key, "unknown setting '%s'", key);
	cJSON *opts = NULL;
	pve_error *e = NULL;
	if (pve_propstr_parse(value, fmt, &opts, &e) < 0) {
		int r = pve_error_set_param(err, EINVAL, key, "invalid format - %s%s%s",
					    e->param ? e->param : "", e->param ? ": " : "",
					    e->message);
		pve_error_free(e);
		return r;
	}
	const char *file = pve_json_str(opts, "file");
	if (!file) {
		cJSON_Delete(opts);
		return pve_error_set_param(err, EINVAL, key, "invalid drive: no file or volume");
	}
	int r = check_file(key, file, bus == KVM_BUS_UNUSED, err);
	if (r < 0) {
		cJSON_Delete(opts);
		return r;
	}
	kvm_drive d = { .bus = bus, .index = index, .opts = opts };
	snprintf(d.key, sizeof(d.key), "%s%d", kvm_bus_name(bus), index);
	if (is_cdrom_key && !cJSON_HasObjectItem(opts, "media"))
		cJSON_AddStringToObject(opts, "media", "cdrom");
	d.file = pve_json_str(opts, "file");
	d.format = pve_json_str(opts, "format");
	const char *media = pve_json_str(opts, "media");
	d.cdrom = (media && streq(media, "cdrom")) || streq(d.file, "cdrom");
	const char *size = pve_json_str(opts, "size");
	if (size && pve_parse_size(size, &d.size) < 0) {
		cJSON_Delete(opts);
		return pve_error_set_param(err, EINVAL, key, "invalid size '%s'", size);
	}
	if (d.cdrom &&
	    (bus == KVM_BUS_VIRTIO || bus == KVM_BUS_EFIDISK || bus == KVM_BUS_TPMSTATE)) {
		cJSON_Delete(opts);
		return pve_error_set_param(err, EINVAL, key, "%s can't be a CD-ROM",
					   kvm_bus_name(bus));
	}
	*ret = d;
	return 0;
}

char *kvm_drive_print(const kvm_schema *s, const kvm_drive *d)
{
	return pve_propstr_print(d->opts, kvm_key_format(s, d->key));
}

int kvm_net_parse(const kvm_schema *s, const char *key, const char *value, kvm_net *ret,
		  pve_error **err)
{
	long long idx;
	if (!startswith(key, "net") || (key[3] == '0' && key[4]) ||
	    pve_parse_int(key + 3, 0, KVM_MAX_NETS - 1, &idx) < 0)
		return pve_error_set_param(err, EINVAL, key, "invalid network key '%s'", key);
	const cJSON *fmt = kvm_key_format(s, key);
	if (!fmt)
		return pve_error_set_param(err, EINVAL, key, "unknown setting '%s'", key);
	_cleanup_json_ cJSON *o = NULL;
	pve_error *e = NULL;
	if (pve_propstr_parse(value, fmt, &o, &e) < 0) {
		int r = pve_error_set_param(err, EINVAL, key, "invalid format - %s%s%s",
					    e->param ? e->param : "", e->param ? ": " : "",
					    e->message);
		pve_error_free(e);
		return r;
	}
	kvm_net n = { .index = (int)idx };
	const char *model = pve_json_str(o, "model");
	if (!model)
		return pve_error_set_param(err, EINVAL, key, "invalid format - missing model");
	snprintf(n.model, sizeof(n.model), "%s", model);
	const char *mac = pve_json_str(o, "macaddr");
	if (mac)
		snprintf(n.macaddr, sizeof(n.macaddr), "%s", mac);
	const char *bridge = pve_json_str(o, "bridge");
	if (bridge) {
		if (strlen(bridge) >= sizeof(n.bridge))
			return pve_error_set_param(err, EINVAL, key, "bridge name '%s' too long",
						   bridge);
		snprintf(n.bridge, sizeof(n.bridge), "%s", bridge);
	}
	long long v;
	if (pve_json_int(o, "tag", &v))
		n.tag = (int)v;
	if (pve_json_int(o, "mtu", &v))
		n.mtu = (int)v;
	if (pve_json_int(o, "queues", &v))
		n.queues = (int)v;
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "firewall");
	n.firewall = cJSON_IsNumber(b) && b->valuedouble != 0;
	b = cJSON_GetObjectItemCaseSensitive(o, "link_down");
	n.link_down = cJSON_IsNumber(b) && b->valuedouble != 0;
	b = cJSON_GetObjectItemCaseSensitive(o, "rate");
	if (cJSON_IsNumber(b))
		n.rate = b->valuedouble;
	*ret = n;
	return 0;
}

char *kvm_net_with_mac(const kvm_schema *s, const char *key, const char *value,
		       const char *mac_prefix)
{
	const cJSON *fmt = kvm_key_format(s, key);
	_cleanup_json_ cJSON *o = NULL;
	if (!fmt || pve_propstr_parse(value, fmt, &o, NULL) < 0)
		return NULL;
	if (pve_json_str(o, "macaddr"))
		return xstrdup(value);
	char mac[18];
	pve_random_mac(mac_prefix, mac);
	cJSON_AddStringToObject(o, "macaddr", mac);
	/* Proxmox prints the model and the address as `virtio=MAC` */
	return pve_propstr_print(o, fmt);
}
