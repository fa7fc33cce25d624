/* The VM config's keys: the create route's parameters (passed in by daemon/) without those that only steer
 * the call, Proxmox's internal keys, and the named formats of qemu-server that common's validator does
 * not know (boot order, CPU model, ipconfig, hot-plug features, ...), checked here. */
#include <cjson/cJSON.h>
#include <ctype.h>

#include "kvm/kvm-internal.h"

struct kvm_schema {
	cJSON *props; /* config key -> property schema; families folded ("net[n]" with a count) */
	cJSON *formats; /* named format -> property-string format */
};

/* Parameters of POST /nodes/{node}/qemu that steer the call and never land in the config. */
static const char *const api_only[] = {
	"node",
	"vmid",
	"archive",
	"storage",
	"force",
	"unique",
	"pool",
	"start",
	"bwlimit",
	"live-restore",
	"import-working-storage",
	"ha-managed",
};

/* Keys Proxmox writes for itself (snapshots, the running machine, creation info): in every config,
 * never a create parameter. */
static const char internal_keys[] =
	"{\"parent\":{\"type\":\"string\",\"format\":\"pve-configid\",\"optional\":1,\"maxLength\":40},"
	"\"snaptime\":{\"type\":\"integer\",\"minimum\":0,\"optional\":1},"
	"\"snapstate\":{\"type\":\"string\",\"enum\":[\"prepare\",\"delete\"],\"optional\":1},"
	"\"vmstate\":{\"type\":\"string\",\"format\":\"pve-volume-id\",\"optional\":1},"
	"\"runningmachine\":{\"type\":\"string\",\"optional\":1,\"maxLength\":40},"
	"\"runningcpu\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[^\\\\s]+\"},"
	"\"running-nets-host-mtu\":{\"type\":\"string\",\"optional\":1,"
	"\"pattern\":\"net\\\\d+=\\\\d+(,net\\\\d+=\\\\d+)*\"},"
	"\"meta\":{\"type\":\"string\",\"optional\":1,\"format\":{"
	"\"creation-qemu\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"\\\\d+(\\\\.\\\\d+)+\"},"
	"\"ctime\":{\"type\":\"integer\",\"optional\":1,\"minimum\":0}}}}";

/* The property-string formats qemu-server registers by name (QemuServer.pm, CPUConfig.pm, Network.pm,
 * RNG.pm, PCI.pm): the keys and types as Proxmox has them. */
static const char named_formats[] =
	"{\"pve-qm-boot\":{"
	"\"legacy\":{\"type\":\"string\",\"optional\":1,\"default_key\":1,\"pattern\":\"[acdn]{1,4}\"},"
	"\"order\":{\"type\":\"string\",\"optional\":1}},"
	"\"pve-vm-cpu-conf\":{"
	"\"cputype\":{\"type\":\"string\",\"optional\":1,\"default_key\":1,"
	"\"pattern\":\"(?:custom-)?[a-zA-Z0-9_.+-]+\"},"
	"\"reported-model\":{\"type\":\"string\",\"optional\":1},"
	"\"hidden\":{\"type\":\"boolean\",\"optional\":1},"
	"\"hv-vendor-id\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[a-zA-Z0-9]{1,12}\"},"
	"\"flags\":{\"type\":\"string\",\"optional\":1,"
	"\"pattern\":\"[+-][a-zA-Z0-9._-]+(;[+-][a-zA-Z0-9._-]+)*\"},"
	"\"guest-phys-bits\":{\"type\":\"integer\",\"optional\":1,\"minimum\":32,\"maximum\":64},"
	"\"phys-bits\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"(?:[89]|[1-5][0-9]|6[0-4]|host)\"},"
	"\"level\":{\"type\":\"integer\",\"optional\":1,\"minimum\":0,\"maximum\":4294967295}},"
	"\"pve-qm-ipconfig\":{"
	"\"ip\":{\"type\":\"string\",\"optional\":1,\"format\":\"pve-ipv4-config\"},"
	"\"gw\":{\"type\":\"string\",\"optional\":1,\"format\":\"ipv4\",\"requires\":\"ip\"},"
	"\"ip6\":{\"type\":\"string\",\"optional\":1,\"format\":\"pve-ipv6-config\"},"
	"\"gw6\":{\"type\":\"string\",\"optional\":1,\"format\":\"ipv6\",\"requires\":\"ip6\"}},"
	"\"pve-qm-cicustom\":{"
	"\"meta\":{\"type\":\"string\",\"optional\":1,\"format\":\"pve-volume-id\"},"
	"\"network\":{\"type\":\"string\",\"optional\":1,\"format\":\"pve-volume-id\"},"
	"\"user\":{\"type\":\"string\",\"optional\":1,\"format\":\"pve-volume-id\"},"
	"\"vendor\":{\"type\":\"string\",\"optional\":1,\"format\":\"pve-volume-id\"}},"
	"\"pve-qm-rng\":{"
	"\"source\":{\"type\":\"string\",\"default_key\":1,"
	"\"enum\":[\"/dev/urandom\",\"/dev/random\",\"/dev/hwrng\"]},"
	"\"max_bytes\":{\"type\":\"integer\",\"optional\":1,\"minimum\":0},"
	"\"period\":{\"type\":\"integer\",\"optional\":1,\"minimum\":0}},"
	"\"pve-qm-smbios1\":{"
	"\"uuid\":{\"type\":\"string\",\"optional\":1,"
	"\"pattern\":\"[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}\"},"
	"\"version\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[A-Za-z0-9+\\\\/]+={0,2}\"},"
	"\"serial\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[A-Za-z0-9+\\\\/]+={0,2}\"},"
	"\"manufacturer\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[A-Za-z0-9+\\\\/]+={0,2}\"},"
	"\"product\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[A-Za-z0-9+\\\\/]+={0,2}\"},"
	"\"sku\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[A-Za-z0-9+\\\\/]+={0,2}\"},"
	"\"family\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[A-Za-z0-9+\\\\/]+={0,2}\"},"
	"\"base64\":{\"type\":\"boolean\",\"optional\":1}},"
	"\"pve-qm-watchdog\":{"
	"\"model\":{\"type\":\"string\",\"optional\":1,\"default_key\":1,"
	"\"enum\":[\"i6300esb\",\"ib700\"]},"
	"\"action\":{\"type\":\"string\",\"optional\":1,"
	"\"enum\":[\"reset\",\"shutdown\",\"poweroff\",\"pause\",\"debug\",\"none\"]}},"
	"\"pve-qm-hostpci\":{"
	"\"host\":{\"type\":\"string\",\"optional\":1,\"default_key\":1,"
	"\"pattern\":\"(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\\\\.[a-f0-9])?"
	"(?:;(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\\\\.[a-f0-9])?)*\"},"
	"\"mapping\":{\"type\":\"string\",\"optional\":1,\"format\":\"pve-configid\"},"
	"\"rombar\":{\"type\":\"boolean\",\"optional\":1},"
	"\"romfile\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[^,;/]+\"},"
	"\"pcie\":{\"type\":\"boolean\",\"optional\":1},"
	"\"x-vga\":{\"type\":\"boolean\",\"optional\":1},"
	"\"legacy-igd\":{\"type\":\"boolean\",\"optional\":1},"
	"\"driver\":{\"type\":\"string\",\"optional\":1,\"enum\":[\"vfio\",\"keep\"]},"
	"\"mdev\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[^/\\\\.:]+\"},"
	"\"vendor-id\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"0x[0-9a-fA-F]{4}\"},"
	"\"device-id\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"0x[0-9a-fA-F]{4}\"},"
	"\"sub-vendor-id\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"0x[0-9a-fA-F]{4}\"},"
	"\"sub-device-id\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"0x[0-9a-fA-F]{4}\"}},"
	"\"pve-qemu-sev-fmt\":{"
	"\"type\":{\"type\":\"string\",\"default_key\":1,\"enum\":[\"std\",\"es\",\"snp\"]},"
	"\"no-debug\":{\"type\":\"boolean\",\"optional\":1},"
	"\"no-key-sharing\":{\"type\":\"boolean\",\"optional\":1},"
	"\"allow-smt\":{\"type\":\"boolean\",\"optional\":1},"
	"\"kernel-hashes\":{\"type\":\"boolean\",\"optional\":1}},"
	"\"pve-qemu-tdx-fmt\":{"
	"\"type\":{\"type\":\"string\",\"default_key\":1,\"enum\":[\"tdx\"]},"
	"\"attestation\":{\"type\":\"boolean\"},"
	"\"vsock-cid\":{\"type\":\"integer\",\"optional\":1,\"minimum\":2},"
	"\"vsock-port\":{\"type\":\"integer\",\"optional\":1,\"minimum\":1}}}";

static cJSON *parse_const(const char *text)
{
	cJSON *v = cJSON_Parse(text);
	if (!v)
		abort(); /* a broken literal above: a build error in effect */
	return v;
}

kvm_schema *kvm_schema_new(const cJSON *create_params)
{
	kvm_schema *s = xcalloc(1, sizeof(*s));
	s->props = cJSON_Duplicate(create_params, true);
	if (!s->props || !cJSON_IsObject(s->props))
		s->props = cJSON_CreateObject();
	for (size_t i = 0; i < ELEMENTSOF(api_only); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(s->props, api_only[i]);
	cJSON *internal = parse_const(internal_keys);
	while (internal->child) {
		cJSON *item = cJSON_DetachItemViaPointer(internal, internal->child);
		if (!cJSON_HasObjectItem(s->props, item->string))
			cJSON_AddItemToObject(s->props, item->string, item);
		else
			cJSON_Delete(item);
	}
	cJSON_Delete(internal);
	s->formats = parse_const(named_formats);
	return s;
}

void kvm_schema_free(kvm_schema *s)
{
	if (!s)
		return;
	cJSON_Delete(s->props);
	cJSON_Delete(s->formats);
	free(s);
}

const cJSON *kvm_schema_key(const kvm_schema *s, const char *key)
{
	return pve_schema_property(s->props, key);
}

const cJSON *kvm_schema_props(const kvm_schema *s)
{
	return s->props;
}

const cJSON *kvm_schema_named_format(const kvm_schema *s, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(s->formats, name);
}

bool kvm_format_known(const char *name)
{
	static const char *const by_hand[] = {
		"pve-cpuset", "pve-hotplug-features",	  "pve-qm-bootdisk",
		"pve-qm-ide", "pve-volume-id-or-qm-path", "pve-volume-id-or-absolute-path",
	};
	for (size_t i = 0; i < ELEMENTSOF(by_hand); i++)
		if (streq(name, by_hand[i]))
			return true;
	_cleanup_json_ cJSON *formats = cJSON_Parse(named_formats);
	return cJSON_GetObjectItemCaseSensitive(formats, name) != NULL;
}

/* ---- named formats checked by hand ---------------------------------------------------------------- */

/* pve-cpuset: "0,5,8-11" (Proxmox's CpuSet parser: ids up to 8191, ranges ascending). */
static bool cpuset_valid(const char *v)
{
	if (!*v)
		return false;
	for (const char *p = v; *p;) {
		char *end;
		if (!isdigit((unsigned char)*p))
			return false;
		unsigned long a = strtoul(p, &end, 10), b = a;
		p = end;
		if (*p == '-') {
			if (!isdigit((unsigned char)p[1]))
				return false;
			b = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (a > 8191 || b > 8191 || b < a)
			return false;
		if (*p == ',')
			p++;
		else if (*p)
			return false;
	}
	return true;
}

/* A device the boot order may name: a drive, net[n], hostpci[n], usb[n]. */
static bool bootdev_valid(const char *dev)
{
	if (kvm_drive_key(dev, false, NULL, NULL))
		return true;
	static const struct {
		const char *prefix;
		int count;
	} fam[] = { { "net", KVM_MAX_NETS }, { "hostpci", 16 }, { "usb", 14 } };
	for (size_t i = 0; i < ELEMENTSOF(fam); i++) {
		size_t n = strlen(fam[i].prefix);
		long long idx;
		if (strncmp(dev, fam[i].prefix, n) == 0 && dev[n] &&
		    (dev[n] != '0' || !dev[n + 1]) &&
		    pve_parse_int(dev + n, 0, fam[i].count - 1, &idx) == 0)
			return true;
	}
	return false;
}

/* A named format of qemu-server: 0, or -EINVAL with *ret_msg. -ENOENT: not one of ours. */
static int check_named(const kvm_schema *s, const char *format, const char *value, char **ret_msg)
{
	const cJSON *pfmt = kvm_schema_named_format(s, format);
	if (pfmt) {
		_cleanup_json_ cJSON *obj = NULL;
		_cleanup_error_ pve_error *e = NULL;
		if (pve_propstr_parse(value, pfmt, &obj, &e) < 0) {
			*ret_msg = e->param ? xasprintf("%s: %s", e->param, e->message) :
					      xstrdup(e->message);
			return -EINVAL;
		}
		if (streq(format, "pve-qm-boot")) {
			const char *order = pve_json_str(obj, "order");
			_cleanup_strv_free_ char **devs = order ? pve_strv_split(order, ";") : NULL;
			for (char **d = devs; d && *d; d++)
				if (!bootdev_valid(*d)) {
					*ret_msg = xasprintf("invalid boot device '%s'", *d);
					return -EINVAL;
				}
		}
		return 0;
	}
	if (streq(format, "pve-cpuset")) {
		if (!cpuset_valid(value)) {
			*ret_msg = xstrdup("unable to parse cpuset option");
			return -EINVAL;
		}
		return 0;
	}
	if (streq(format, "pve-hotplug-features")) {
		unsigned f;
		if (kvm_hotplug_parse(value, &f) < 0) {
			*ret_msg = xstrdup("unable to parse hotplug option");
			return -EINVAL;
		}
		return 0;
	}
	if (streq(format, "pve-qm-bootdisk")) {
		if (!kvm_drive_key(value, false, NULL, NULL)) {
			*ret_msg = xasprintf("invalid drive name '%s'", value);
			return -EINVAL;
		}
		return 0;
	}
	return -ENOENT;
}

int kvm_config_check_value(const kvm_schema *s, const char *key, const char *value,
			   cJSON **ret_typed, pve_error **err)
{
	const cJSON *prop = kvm_schema_key(s, key);
	if (!prop)
		return pve_error_set_param(err, EINVAL, key, "unknown setting '%s'", key);
	/* a description is text of many lines, kept as comment lines */
	if (strpbrk(value, "\r\n") && !streq(key, "description"))
		return pve_error_set_param(err, EINVAL, key, "property contains a line feed");
	cJSON *v = cJSON_CreateString(value);
	if (!v)
		abort();
	_cleanup_free_ char *msg = NULL;
	if (pve_schema_check_value(prop, v, &msg) < 0) {
		cJSON_Delete(v);
		return pve_error_set_param(err, EINVAL, key, "%s", msg ? msg : "invalid value");
	}
	const char *format = pve_json_str(prop, "format");
	if (format && check_named(s, format, value, &msg) == -EINVAL) {
		cJSON_Delete(v);
		return pve_error_set_param(err, EINVAL, key, "invalid format - %s", msg);
	}
	if (kvm_drive_key(key, false, NULL, NULL) || streq(key, "cdrom")) {
		kvm_drive d;
		if (kvm_drive_parse(s, key, value, &d, err) < 0) {
			cJSON_Delete(v);
			return -EINVAL;
		}
		kvm_drive_clear(&d);
	} else if (startswith(key, "net") && isdigit((unsigned char)key[3])) {
		kvm_net n;
		if (kvm_net_parse(s, key, value, &n, err) < 0) {
			cJSON_Delete(v);
			return -EINVAL;
		}
	}
	if (ret_typed)
		*ret_typed = v;
	else
		cJSON_Delete(v);
	return 0;
}

cJSON *kvm_config_value_json(const kvm_schema *s, const char *key, const char *value)
{
	const cJSON *prop = kvm_schema_key(s, key);
	const char *type = pve_json_str(prop, "type");
	if (type && (streq(type, "integer") || streq(type, "boolean") || streq(type, "number"))) {
		cJSON *v = cJSON_CreateString(value);
		if (pve_schema_check_value(prop, v, NULL) == 0 && cJSON_IsNumber(v))
			return v;
		cJSON_Delete(v);
	}
	return cJSON_CreateString(value);
}

int kvm_hotplug_parse(const char *value, unsigned *ret)
{
	if (streq(value, "0")) {
		*ret = 0;
		return 0;
	}
	if (streq(value, "1"))
		value = "network,disk,usb";
	static const char *const names[] = {
		"network", "disk", "cpu", "memory", "usb", "cloudinit"
	};
	unsigned f = 0;
	_cleanup_strv_free_ char **items = pve_split_list(value);
	if (!items[0])
		return -EINVAL;
	for (char **p = items; *p; p++) {
		size_t i;
		for (i = 0; i < ELEMENTSOF(names) && !streq(*p, names[i]); i++)
			;
		if (i == ELEMENTSOF(names))
			return -EINVAL;
		f |= 1u << i;
	}
	*ret = f;
	return 0;
}
