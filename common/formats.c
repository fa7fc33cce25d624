/* Named value formats of the schema (pve-vmid, pve-node, mac-addr, ...), with Proxmox's messages. */
#include <arpa/inet.h>
#include <ctype.h>

#include "common/common.h"
#include "common/schema-internal.h"

/* 1 when the whole value matches the pattern (its own ^...$ are harmless beside the matcher's). */
static bool fmt_match(const char *pattern, const char *value, bool icase)
{
	return schema_regex_match(pattern, icase, value) == 1;
}

static int fail(char **ret_msg, const char *fmt, ...) _printf_(2, 3);
static int fail(char **ret_msg, const char *fmt, ...)
{
	if (ret_msg) {
		va_list ap;
		va_start(ap, fmt);
		*ret_msg = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

#define ID_RE "^[a-z][-a-z0-9_.]*[a-z0-9]$"
#define REALM_RE "^[A-Za-z][-A-Za-z0-9._]+$"
#define DNS_LABEL "[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?"
#define EMAIL_WORD "[[:alnum:]_+~-]+"
#define EMAIL_RE "^" EMAIL_WORD "(\\." EMAIL_WORD ")*@[-a-zA-Z0-9]+(\\.[-a-zA-Z0-9]+)*$"

static bool has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int f_vmid(const char *v, char **m)
{
	if (!fmt_match("^[1-9][0-9]{2,8}$", v, false))
		return fail(m, "value does not look like a valid VM ID");
	return 0;
}

static int f_node(const char *v, char **m)
{
	if (!fmt_match("^" DNS_LABEL "$", v, false))
		return fail(m, "value does not look like a valid node name");
	return 0;
}

static int f_storage_id(const char *v, char **m)
{
	if (!fmt_match(ID_RE, v, true))
		return fail(m, "storage ID '%s' contains illegal characters", v);
	return 0;
}

static int f_configid(const char *v, char **m)
{
	if (!fmt_match("^[a-z][-a-z0-9_]+$", v, true))
		return fail(m, "invalid configuration ID '%s'", v);
	return 0;
}

static int f_volume_id(const char *v, char **m)
{
	const char *colon = strchr(v, ':');
	if (!colon || colon == v || !colon[1] || has_ctrl(v))
		return fail(m, "unable to parse volume ID '%s'", v);
	_cleanup_free_ char *store = xstrndup(v, (size_t)(colon - v));
	const char *name = colon + 1;
	if (!fmt_match(ID_RE, store, true) || name[0] == '/')
		return fail(m, "unable to parse volume ID '%s'", v);
	/* A volume name is a path below its storage: no ".." component may climb out of it. */
	for (const char *p = name; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return fail(m, "unable to parse volume ID '%s'", v);
	}
	return 0;
}

static int f_realm(const char *v, char **m)
{
	if (strlen(v) > 32 || !fmt_match(REALM_RE, v, false))
		return fail(m, "value does not look like a valid realm");
	return 0;
}

/* REALM_RE by hand (Proxmox's token names follow it too): userids are checked on every request and for
 * every line of user.cfg, where the regex (under the cache's lock) cost about 1.5 us each. */
static bool realm_like(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) || !s[1])
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return false;
	return true;
}

/* The one definition of a userid ("name@realm"); access/ checks user.cfg, tokens and realm syncs with it.
 * Proxmox's user part is [^\s:/]+; pved also refuses '!', which separates a token's name from its user:
 * "admin@pve!x@pve" would otherwise be a user whose tokens and whose self checks look like admin@pve's. */
static int f_userid(const char *v, char **m)
{
	size_t len = strlen(v);
	if (len < 3)
		return fail(m, "user name '%s' is too short", v);
	if (len > 64)
		return fail(m, "user name '%s' is too long (%zu > 64)", v, len);
	const char *at = strrchr(v, '@');
	if (!at || at == v || (size_t)(at - v) > 60 || has_ctrl(v))
		return fail(m, "value '%s' does not look like a valid user name", v);
	for (const char *p = v; p < at; p++)
		if (isspace((unsigned char)*p) || *p == ':' || *p == '/' || *p == '!')
			return fail(m, "value '%s' does not look like a valid user name", v);
	if (!realm_like(at + 1))
		return fail(m, "value '%s' does not look like a valid user name", v);
	return 0;
}

/* Either a bare token name (as in /access/users/{userid}/token/{tokenid}) or a full user@realm!name:
 * neither part holds a '!', so the first one splits them. */
static int f_tokenid(const char *v, char **m)
{
	const char *bang = strchr(v, '!');
	if (!bang) {
		if (!realm_like(v))
			return fail(m, "value '%s' does not look like a valid token ID", v);
		return 0;
	}
	_cleanup_free_ char *user = xstrndup(v, (size_t)(bang - v));
	if (f_userid(user, NULL) < 0 || !realm_like(bang + 1))
		return fail(m, "value '%s' does not look like a valid token ID", v);
	return 0;
}

static int f_groupid(const char *v, char **m)
{
	if (!fmt_match("^[-A-Za-z0-9._]+$", v, false))
		return fail(m, "group name '%s' contains invalid characters", v);
	return 0;
}

static int f_roleid(const char *v, char **m)
{
	if (!fmt_match("^[-A-Za-z0-9._]+$", v, false))
		return fail(m, "role name '%s' contains invalid characters", v);
	return 0;
}

static int f_poolid(const char *v, char **m)
{
	if (!fmt_match("^[-A-Za-z0-9._]+(/[-A-Za-z0-9._]+){0,2}$", v, false))
		return fail(m, "pool name '%s' contains invalid characters", v);
	return 0;
}

static int f_priv(const char *v, char **m)
{
	if (!fmt_match("^[A-Z][A-Za-z.]+$", v, false))
		return fail(m, "invalid privilege name '%s'", v);
	return 0;
}

static int f_mac(const char *v, char **m)
{
	if (!fmt_match("^[a-f0-9][02468ace](:[a-f0-9]{2}){5}$", v, true))
		return fail(m, "value does not look like a valid unicast MAC address");
	return 0;
}

/* datacenter.cfg's mac_prefix: one to three bytes of a unicast MAC, as Proxmox's mac-prefix. */
static int f_mac_prefix(const char *v, char **m)
{
	if (!fmt_match("^[a-f0-9][02468ace](:[a-f0-9]{2}){0,2}:?$", v, true))
		return fail(m, "value does not look like a valid unicast MAC address prefix");
	return 0;
}

static bool is_ipv4(const char *v)
{
	struct in_addr a;
	return inet_pton(AF_INET, v, &a) == 1;
}

static bool is_ipv6(const char *v)
{
	struct in6_addr a;
	return inet_pton(AF_INET6, v, &a) == 1;
}

static int f_ipv4(const char *v, char **m)
{
	return is_ipv4(v) ? 0 : fail(m, "value does not look like a valid IPv4 address");
}

static int f_ipv6(const char *v, char **m)
{
	return is_ipv6(v) ? 0 : fail(m, "value does not look like a valid IPv6 address");
}

static int f_ip(const char *v, char **m)
{
	return is_ipv4(v) || is_ipv6(v) ? 0 :
					  fail(m, "value does not look like a valid IP address");
}

/* addr/prefix with 8 <= prefix <= max, as Proxmox's CIDR formats. */
static bool is_cidr(const char *v, bool v6)
{
	const char *slash = strchr(v, '/');
	if (!slash)
		return false;
	_cleanup_free_ char *addr = xstrndup(v, (size_t)(slash - v));
	unsigned long long prefix;
	if (pve_parse_uint(slash + 1, 1000, &prefix) < 0 || slash[1] == '+')
		return false;
	if (v6)
		return is_ipv6(addr) && prefix > 7 && prefix <= 128;
	return is_ipv4(addr) && prefix > 7 && prefix <= 32;
}

static int f_cidrv4(const char *v, char **m)
{
	return is_cidr(v, false) ? 0 :
				   fail(m, "value does not look like a valid IPv4 CIDR network");
}

static int f_cidrv6(const char *v, char **m)
{
	return is_cidr(v, true) ? 0 : fail(m, "value does not look like a valid IPv6 CIDR network");
}

static int f_cidr(const char *v, char **m)
{
	if (is_cidr(v, false) || is_cidr(v, true))
		return 0;
	return fail(m, "value does not look like a valid CIDR network");
}

static int f_ipv4mask(const char *v, char **m)
{
	struct in_addr a;
	if (inet_pton(AF_INET, v, &a) == 1) {
		uint32_t x = ntohl(a.s_addr);
		/* A netmask is ones then zeros: inverting gives 2^k - 1. */
		if (((~x) & (~x + 1)) == 0)
			return 0;
	}
	return fail(m, "value does not look like a valid IP netmask");
}

static int f_ipv4_config(const char *v, char **m)
{
	if (streq(v, "dhcp") || streq(v, "manual") || is_cidr(v, false))
		return 0;
	return fail(m, "value does not look like a valid ipv4 network configuration");
}

static int f_ipv6_config(const char *v, char **m)
{
	if (streq(v, "auto") || streq(v, "dhcp") || streq(v, "manual") || is_cidr(v, true))
		return 0;
	return fail(m, "value does not look like a valid ipv6 network configuration");
}

static int f_email(const char *v, char **m)
{
	if (!fmt_match(EMAIL_RE, v, false))
		return fail(m, "value does not look like a valid email address");
	return 0;
}

static int f_email_or_username(const char *v, char **m)
{
	if (!fmt_match(EMAIL_RE, v, false) && !fmt_match("^" EMAIL_WORD "$", v, false))
		return fail(m, "value does not look like a valid email address or user name");
	return 0;
}

static int f_dns_name(const char *v, char **m)
{
	if (!fmt_match("^(" DNS_LABEL "\\.)*" DNS_LABEL "$", v, false))
		return fail(m, "value does not look like a valid DNS name");
	return 0;
}

static int f_address(const char *v, char **m)
{
	if (is_ipv4(v) || is_ipv6(v) || f_dns_name(v, NULL) == 0)
		return 0;
	return fail(m, "value does not look like a valid address: %s", v);
}

static int f_disk_size(const char *v, char **m)
{
	uint64_t b;
	if (pve_parse_size(v, &b) < 0)
		return fail(m, "value does not look like a valid disk size: %s", v);
	return 0;
}

static int f_upid(const char *v, char **m)
{
	pve_upid u;
	if (pve_upid_parse(v, &u, NULL) < 0)
		return fail(m, "unable to parse worker upid '%s'", v);
	return 0;
}

static int f_urlencoded(const char *v, char **m)
{
	if (!fmt_match("^[-%a-zA-Z0-9_.!~*'()]*$", v, false))
		return fail(m, "invalid urlencoded string: %s", v);
	return 0;
}

static int f_bridge(const char *v, char **m)
{
	if (!fmt_match("^[-_.[:alnum:]]+$", v, false))
		return fail(m, "invalid bridge ID '%s'", v);
	return 0;
}

static int f_tag(const char *v, char **m)
{
	if (!fmt_match("^[a-z0-9_][-a-z0-9_+.]*$", v, true))
		return fail(m, "invalid characters in tag");
	return 0;
}

static int f_iface(const char *v, char **m)
{
	if (!fmt_match("^[a-z][a-z0-9_]{1,20}([:.][0-9]+)?$", v, true))
		return fail(m, "invalid network interface name '%s'", v);
	return 0;
}

static int f_vlan(const char *v, char **m)
{
	unsigned long long a, b = 0;
	const char *dash = strchr(v, '-');
	_cleanup_free_ char *first = dash ? xstrndup(v, (size_t)(dash - v)) : xstrdup(v);
	if (pve_parse_uint(first, 1000000, &a) < 0 ||
	    (dash && pve_parse_uint(dash + 1, 1000000, &b) < 0))
		return fail(m, "invalid VLAN configuration '%s'", v);
	if (a < 2 || a > 4094)
		return fail(m, "invalid VLAN tag '%llu'", a);
	if (dash && (b < 2 || b > 4094))
		return fail(m, "invalid VLAN tag '%llu'", b);
	if (dash && a >= b)
		return fail(m, "VLAN range must go from lower to higher tag '%s'", v);
	return 0;
}

static int f_startup_order(const char *v, char **m)
{
	_cleanup_strv_free_ char **parts = pve_strv_split(v, ",");
	if (!*v)
		return fail(m, "unable to parse startup options");
	for (char **p = parts; *p; p++) {
		if (strspn(*p, " \t") == strlen(*p))
			continue;
		const char *n = *p;
		if (startswith(n, "order="))
			n += 6;
		else if (startswith(n, "up="))
			n += 3;
		else if (startswith(n, "down="))
			n += 5;
		if (!*n || strspn(n, "0123456789") != strlen(n))
			return fail(m, "unable to parse startup options");
	}
	return 0;
}

static int f_task_status(const char *v, char **m)
{
	if (!fmt_match("^(ok|error|warning|unknown)$", v, true))
		return fail(m, "invalid status '%s'", v);
	return 0;
}

static int f_ldap_attr(const char *v, char **m)
{
	if (!fmt_match("^[a-zA-Z0-9]+$", v, false))
		return fail(m, "value '%s' does not look like a simple ldap attribute name", v);
	return 0;
}

static int f_tfa_secret(const char *v, char **m)
{
	if (fmt_match("^v2-0x[0-9a-fA-F]{16,128}$", v, false) ||
	    fmt_match("^v2-[A-Z2-7=]{16,128}$", v, false) ||
	    fmt_match("^([A-Z2-7=]{16}|[A-Fa-f0-9]{40})$", v, false))
		return 0;
	return fail(m, "unable to decode TFA secret");
}

/* source:target pairs or a single default target, each item a storage (or bridge) ID, or "1". */
static int check_idpair(const char *v, char **m, int (*id)(const char *, char **))
{
	if (streq(v, "1"))
		return 0;
	const char *colon = strchr(v, ':');
	if (!colon)
		return id(v, m) < 0 ? fail(m, "entry '%s' contains invalid ID", v) : 0;
	_cleanup_free_ char *a = xstrndup(v, (size_t)(colon - v));
	if (strchr(colon + 1, ':') || id(a, NULL) < 0 || id(colon + 1, NULL) < 0)
		return fail(m, "entry '%s' contains invalid ID", v);
	return 0;
}

static int f_storage_pair(const char *v, char **m)
{
	return check_idpair(v, m, f_storage_id);
}

static int f_bridge_pair(const char *v, char **m)
{
	return check_idpair(v, m, f_bridge);
}

static int f_string(const char *v, char **m)
{
	(void)v;
	(void)m;
	return 0;
}

static const struct {
	const char *name;
	int (*check)(const char *value, char **ret_msg);
} formats[] = {
	{ "pve-vmid", f_vmid },
	{ "pve-node", f_node },
	{ "pve-storage-id", f_storage_id },
	{ "pve-configid", f_configid },
	{ "pve-snapshot-name", f_configid },
	{ "pve-volume-id", f_volume_id },
	{ "pve-userid", f_userid },
	{ "pve-realm", f_realm },
	{ "pve-tokenid", f_tokenid },
	{ "pve-groupid", f_groupid },
	{ "pve-roleid", f_roleid },
	{ "pve-poolid", f_poolid },
	{ "pve-priv", f_priv },
	{ "mac-addr", f_mac },
	{ "mac-prefix", f_mac_prefix },
	{ "ip", f_ip },
	{ "ipv4", f_ipv4 },
	{ "ipv6", f_ipv6 },
	{ "cidr", f_cidr },
	{ "CIDR", f_cidr },
	{ "CIDRv4", f_cidrv4 },
	{ "CIDRv6", f_cidrv6 },
	{ "ipv4mask", f_ipv4mask },
	{ "pve-ipv4-config", f_ipv4_config },
	{ "pve-ipv6-config", f_ipv6_config },
	{ "email", f_email },
	{ "email-or-username", f_email_or_username },
	{ "dns-name", f_dns_name },
	{ "address", f_address },
	{ "disk-size", f_disk_size },
	{ "pve-upid", f_upid },
	{ "urlencoded", f_urlencoded },
	{ "pve-bridge", f_bridge },
	{ "pve-bridge-id", f_bridge },
	{ "pve-tag", f_tag },
	{ "pve-iface", f_iface },
	{ "pve-vlan-id-or-range", f_vlan },
	{ "pve-startup-order", f_startup_order },
	{ "pve-task-status-type", f_task_status },
	{ "ldap-simple-attr", f_ldap_attr },
	{ "pve-tfa-secret", f_tfa_secret },
	{ "storage-pair", f_storage_pair },
	{ "bridge-pair", f_bridge_pair },
	{ "string", f_string },
};

static int (*lookup(const char *name, size_t len))(const char *, char **)
{
	for (size_t i = 0; i < ELEMENTSOF(formats); i++)
		if (strlen(formats[i].name) == len && memcmp(formats[i].name, name, len) == 0)
			return formats[i].check;
	return NULL;
}

bool pve_format_known(const char *format)
{
	size_t len = strlen(format);
	if (lookup(format, len))
		return true;
	if (endswith(format, "-list") || endswith(format, "-opt"))
		return lookup(format, len - (endswith(format, "-opt") ? 4 : 5)) != NULL;
	return false;
}

int pve_format_check(const char *format, const char *value, char **ret_msg)
{
	size_t len = strlen(format);
	int (*check)(const char *, char **) = lookup(format, len);
	if (check)
		return check(value, ret_msg);
	if (endswith(format, "-list")) {
		check = lookup(format, len - 5);
		if (!check)
			return -ENOENT;
		/* An empty list is allowed, as in Proxmox. */
		_cleanup_strv_free_ char **items = pve_split_list(value);
		for (char **p = items; *p; p++) {
			int r = check(*p, ret_msg);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (endswith(format, "-opt")) {
		check = lookup(format, len - 4);
		if (!check)
			return -ENOENT;
		return *value ? check(value, ret_msg) : 0;
	}
	return -ENOENT;
}
