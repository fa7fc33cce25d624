/* The interfaces file: parsed line by line, described as Proxmox reads it, edited in place, printed back. */
#include <ctype.h>
#include <arpa/inet.h>
#include <cjson/cJSON.h>

#include "net/net.h"

enum line_kind {
	LN_TEXT, /* outside stanzas: comments, blank lines, source, mapping, unknown */
	LN_AUTO, /* auto, allow-auto, allow-hotplug: the names after the keyword */
	LN_OPT, /* in a stanza: "key value" */
	LN_COMMENT, /* in a stanza: "#..." */
};

typedef struct net_line {
	char *text; /* as read, without the newline */
	enum line_kind kind;
	char *key, *value; /* LN_OPT: copies of the words */
} net_line;

typedef struct stanza {
	char *header; /* the iface line as read */
	char *name, *family, *method; /* family and method NULL for "iface NAME" */
	net_line *lines;
	size_t n_lines, cap_lines;
} stanza;

typedef struct block {
	net_line line; /* when st is NULL */
	stanza *st;
} block;

struct pve_net_config {
	block *b;
	size_t n, cap;
	bool final_newline; /* the last line ended with one (or an edit added lines) */
};

static void line_clear(net_line *l)
{
	free(l->text);
	free(l->key);
	free(l->value);
}

static void stanza_free(stanza *s)
{
	if (!s)
		return;
	free(s->header);
	free(s->name);
	free(s->family);
	free(s->method);
	for (size_t i = 0; i < s->n_lines; i++)
		line_clear(&s->lines[i]);
	free(s->lines);
	free(s);
}

void pve_net_config_free(pve_net_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		line_clear(&c->b[i].line);
		stanza_free(c->b[i].st);
	}
	free(c->b);
	free(c);
}

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

static const char *skip_ws(const char *s)
{
	while (*s && is_ws(*s))
		s++;
	return s;
}

/* The first word of s into a new string; *rest after it and its spaces. */
static char *word(const char *s, const char **rest)
{
	s = skip_ws(s);
	const char *e = s;
	while (*e && !is_ws(*e))
		e++;
	if (rest)
		*rest = skip_ws(e);
	return e > s ? xstrndup(s, (size_t)(e - s)) : NULL;
}

/* s without trailing white space, as a new string. */
static char *rtrim_dup(const char *s)
{
	size_t n = strlen(s);
	while (n && is_ws(s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static bool is_auto_word(const char *w)
{
	return streq(w, "auto") || streq(w, "allow-auto") || streq(w, "allow-hotplug");
}

/* A line that ends a stanza, as ifupdown2's keywords (Proxmox: iface, mapping, auto, source,
 * source-directory, allow-*). */
static bool is_keyword(const char *w)
{
	return streq(w, "iface") || streq(w, "mapping") || streq(w, "auto") || streq(w, "source") ||
	       streq(w, "source-directory") || startswith(w, "allow-");
}

/* Room for one more block or line, doubling: a file of PVE_NET_MAX_LINES lines must not cost a copy
 * per line. */
static void blocks_reserve(pve_net_config *c)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->b = xrealloc(c->b, c->cap * sizeof(*c->b));
	}
}

static void lines_reserve(stanza *s)
{
	if (s->n_lines == s->cap_lines) {
		s->cap_lines = s->cap_lines ? s->cap_lines * 2 : 8;
		s->lines = xrealloc(s->lines, s->cap_lines * sizeof(*s->lines));
	}
}

static void push_block(pve_net_config *c, block b)
{
	blocks_reserve(c);
	c->b[c->n++] = b;
}

static void stanza_push(stanza *s, net_line l)
{
	lines_reserve(s);
	s->lines[s->n_lines++] = l;
}

static bool name_ok(const char *n)
{
	if (!n || !*n || strlen(n) > PVE_NET_MAX_NAME)
		return false;
	for (const char *p = n; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == '/' || *p == 0x7f)
			return false;
	return true;
}

/* "iface NAME [FAMILY METHOD]" */
static int parse_iface_line(const char *text, size_t lineno, stanza **ret, pve_error **err)
{
	const char *rest;
	_cleanup_free_ char *kw = word(text, &rest);
	stanza *s = xcalloc(1, sizeof(*s));
	s->header = xstrdup(text);
	s->name = word(rest, &rest);
	s->family = word(rest, &rest);
	s->method = word(rest, &rest);
	int r = 0;
	if (!name_ok(s->name))
		r = pve_error_set(err, EINVAL, "line %zu: iface without a valid name", lineno);
	else if (s->family && !streq(s->family, "inet") && !streq(s->family, "inet6"))
		r = pve_error_set(err, EINVAL, "line %zu: iface %s: unknown address family '%s'",
				  lineno, s->name, s->family);
	else if (s->family && !s->method)
		r = pve_error_set(err, EINVAL, "line %zu: iface %s: no method", lineno, s->name);
	else if (*rest && *rest != '#')
		r = pve_error_set(err, EINVAL, "line %zu: iface %s: unexpected '%s'", lineno,
				  s->name, rest);
	if (r < 0) {
		stanza_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int pve_net_config_parse(const char *text, size_t len, pve_net_config **ret, pve_error **err)
{
	if (len > PVE_NET_MAX_FILE)
		return pve_error_set(err, E2BIG, "interfaces file is larger than %d bytes",
				     PVE_NET_MAX_FILE);
	if (memchr(text, '\0', len))
		return pve_error_set(err, EINVAL, "interfaces file contains a NUL byte");
	if (!pve_utf8_valid(text, len))
		return pve_error_set(err, EINVAL, "interfaces file is not valid UTF-8");
	pve_net_config *c = xcalloc(1, sizeof(*c));
	c->final_newline = len == 0 || text[len - 1] == '\n';
	stanza *cur = NULL;
	size_t lineno = 0, n_stanzas = 0;
	int r = 0;
	for (size_t pos = 0; pos < len && r >= 0;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		lineno++;
		if (end - pos > PVE_NET_MAX_LINE) {
			r = pve_error_set(err, E2BIG, "line %zu is longer than %d bytes", lineno,
					  PVE_NET_MAX_LINE);
			break;
		}
		if (lineno > PVE_NET_MAX_LINES) {
			r = pve_error_set(err, E2BIG, "interfaces file has more than %d lines",
					  PVE_NET_MAX_LINES);
			break;
		}
		_cleanup_free_ char *l = xstrndup(text + pos, end - pos);
		pos = end + 1;
		const char *t = skip_ws(l);
		_cleanup_free_ char *w = word(t, NULL);
		if (cur) {
			if (!w || (w && is_keyword(w) && *t != '#'))
				cur = NULL; /* a blank line or a keyword ends the stanza */
			else if (*t == '#') {
				stanza_push(cur,
					    (net_line){ .text = TAKE_PTR(l), .kind = LN_COMMENT });
				continue;
			} else {
				const char *rest;
				char *k = word(t, &rest);
				stanza_push(cur, (net_line){ .text = TAKE_PTR(l),
							     .kind = LN_OPT,
							     .key = k,
							     .value = rtrim_dup(rest) });
				continue;
			}
		}
		if (w && streq(w, "iface") && *t != '#') {
			if (++n_stanzas > PVE_NET_MAX_IFACES) {
				r = pve_error_set(err, E2BIG,
						  "interfaces file has more than %d stanzas",
						  PVE_NET_MAX_IFACES);
				break;
			}
			stanza *s;
			r = parse_iface_line(l, lineno, &s, err);
			if (r < 0)
				break;
			push_block(c, (block){ .st = s });
			cur = s;
			continue;
		}
		enum line_kind kind = w && is_auto_word(w) ? LN_AUTO : LN_TEXT;
		if (kind == LN_AUTO) {
			const char *rest;
			_cleanup_free_ char *kw = word(t, &rest);
			for (char *n; (n = word(rest, &rest));) {
				bool ok = name_ok(n);
				free(n);
				if (!ok) {
					r = pve_error_set(err, EINVAL,
							  "line %zu: invalid interface name",
							  lineno);
					break;
				}
			}
		}
		push_block(c, (block){ .line = { .text = TAKE_PTR(l), .kind = kind } });
	}
	if (r < 0) {
		pve_net_config_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static void put_line(pve_buf *b, const char *text)
{
	pve_buf_puts(b, text);
	pve_buf_puts(b, "\n");
}

char *pve_net_config_print(const pve_net_config *c)
{
	pve_buf b = { 0 };
	for (size_t i = 0; i < c->n; i++) {
		const stanza *s = c->b[i].st;
		if (!s) {
			put_line(&b, c->b[i].line.text);
			continue;
		}
		put_line(&b, s->header);
		for (size_t j = 0; j < s->n_lines; j++)
			put_line(&b, s->lines[j].text);
	}
	if (!c->final_newline && b.len)
		b.len--;
	pve_buf_puts(&b, "");
	return pve_buf_steal(&b);
}

/* ---- names --------------------------------------------------------------------------------------------- */

/* The names of an auto line, NULL-terminated. */
static char **auto_names(const net_line *l)
{
	char **v = strv_new();
	const char *rest;
	_cleanup_free_ char *kw = word(l->text, &rest);
	for (char *n; (n = word(rest, &rest));) {
		if (*n == '#') {
			free(n);
			break;
		}
		strv_push(&v, n);
	}
	return v;
}

char **pve_net_config_names(const pve_net_config *c)
{
	char **v = strv_new();
	for (size_t i = 0; i < c->n; i++) {
		if (c->b[i].st) {
			if (!strv_contains(v, c->b[i].st->name))
				strv_push(&v, xstrdup(c->b[i].st->name));
		} else if (c->b[i].line.kind == LN_AUTO) {
			_cleanup_strv_free_ char **names = auto_names(&c->b[i].line);
			for (char **n = names; *n; n++)
				if (!strv_contains(v, *n))
					strv_push(&v, xstrdup(*n));
		}
	}
	return v;
}

static bool is_autostart(const pve_net_config *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!c->b[i].st && c->b[i].line.kind == LN_AUTO) {
			_cleanup_strv_free_ char **names = auto_names(&c->b[i].line);
			if (strv_contains(names, name))
				return true;
		}
	return false;
}

bool pve_net_config_has(const pve_net_config *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->b[i].st && streq(c->b[i].st->name, name))
			return true;
	return is_autostart(c, name);
}

/* ---- keys ---------------------------------------------------------------------------------------------- */

/* The file's spellings Proxmox reads as another key (its $options_alternatives). */
static const struct {
	const char *file, *api;
} alternatives[] = {
	{ "ovs_mtu", "mtu" },
	{ "bond-slaves", "slaves" },
	{ "bond_slaves", "slaves" },
	{ "bond-xmit-hash-policy", "bond_xmit_hash_policy" },
	{ "bond-mode", "bond_mode" },
	{ "bond-miimon", "bond_miimon" },
	{ "bridge-vlan-aware", "bridge_vlan_aware" },
	{ "bridge-fd", "bridge_fd" },
	{ "bridge-stp", "bridge_stp" },
	{ "bridge-ports", "bridge_ports" },
	{ "bridge-vids", "bridge_vids" },
};

/* The keys Proxmox reports as they are (its simple options), and those it reads specially. */
static const char *const known_keys[] = {
	"mtu",
	"bridge_fd",
	"bridge_vids",
	"bridge-access",
	"bridge-learning",
	"bridge-arp-nd-suppress",
	"bridge-unicast-flood",
	"bridge-multicast-flood",
	"bridge-disable-mac-learning",
	"bond_miimon",
	"bond_xmit_hash_policy",
	"bond-primary",
	"link-type",
	"uplink-id",
	"vlan-protocol",
	"vlan-raw-device",
	"vlan-id",
	"vxlan-id",
	"vxlan-svcnodeip",
	"vxlan-physdev",
	"vxlan-local-tunnelip",
	"bridge_ports",
	"slaves",
	"bridge_stp",
	"bridge_vlan_aware",
	"bond_mode",
	"address",
	"netmask",
	"gateway",
	"address6",
	"netmask6",
	"gateway6",
};

/* The ifupdown2 spelling a new line gets. */
static const char *file_key(const char *api)
{
	if (streq(api, "address6"))
		return "address";
	if (streq(api, "netmask6"))
		return "netmask";
	if (streq(api, "gateway6"))
		return "gateway";
	if (streq(api, "slaves"))
		return "bond-slaves";
	for (size_t i = 0; i < ELEMENTSOF(alternatives); i++)
		if (streq(alternatives[i].api, api) && strchr(alternatives[i].file, '-'))
			return alternatives[i].file;
	return api;
}

static bool stanza_is_inet6(const stanza *s)
{
	return s->family && streq(s->family, "inet6");
}

/* The API key of an option line (NULL: unknown, kept among "options"). buf holds a composed key. */
static const char *api_key(const stanza *s, const net_line *l, char buf[32])
{
	const char *k = l->key;
	for (size_t i = 0; i < ELEMENTSOF(alternatives); i++)
		if (streq(alternatives[i].file, k))
			k = alternatives[i].api;
	if (streq(k, "address") || streq(k, "gateway") || streq(k, "netmask")) {
		bool six = stanza_is_inet6(s) ||
			   (!s->family && !streq(k, "netmask") && strchr(l->value, ':'));
		if (s->family && streq(s->family, "inet") && strchr(l->value, ':') &&
		    !streq(k, "netmask"))
			six = true; /* ifupdown2 takes IPv6 addresses in the inet stanza */
		snprintf(buf, 32, "%s%s", k, six ? "6" : "");
		return buf;
	}
	for (size_t i = 0; i < ELEMENTSOF(known_keys); i++)
		if (streq(known_keys[i], k))
			return k;
	return NULL;
}

/* ---- describe ------------------------------------------------------------------------------------------ */

static int netmask_bits(const char *mask)
{
	struct in_addr a;
	if (inet_pton(AF_INET, mask, &a) != 1)
		return -1;
	uint32_t m = ntohl(a.s_addr);
	int bits = 0;
	while (bits < 32 && (m & (1u << (31 - bits))))
		bits++;
	/* a valid mask is ones then zeros */
	if (bits < 32 && (m & ((1u << (31 - bits)) * 2 - 1)))
		return -1;
	return bits;
}

static const char *jstr(const cJSON *o, const char *k)
{
	return pve_json_str(o, k);
}

static void set_str(cJSON *o, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddStringToObject(o, k, v);
}

/* Proxmox's address, netmask and cidr from an address (maybe CIDR) and a netmask line. */
static void fix_address(cJSON *o, const char *sfx)
{
	char ka[16], kn[16], kc[16];
	snprintf(ka, sizeof(ka), "address%s", sfx);
	snprintf(kn, sizeof(kn), "netmask%s", sfx);
	snprintf(kc, sizeof(kc), "cidr%s", sfx);
	const char *addr = jstr(o, ka);
	if (!addr)
		return;
	_cleanup_free_ char *a = xstrdup(addr);
	char *slash = strrchr(a, '/');
	if (slash && slash[1] && strspn(slash + 1, "0123456789") == strlen(slash + 1)) {
		set_str(o, kc, a);
		*slash = '\0';
		set_str(o, ka, a);
		set_str(o, kn, slash + 1);
		return;
	}
	const char *mask = jstr(o, kn);
	if (mask) {
		int bits = strspn(mask, "0123456789") == strlen(mask) && *mask ? atoi(mask) :
										 netmask_bits(mask);
		if (bits >= 0) {
			_cleanup_free_ char *cidr = xasprintf("%s/%d", a, bits);
			set_str(o, kc, cidr);
			_cleanup_free_ char *b = xasprintf("%d", bits);
			set_str(o, kn, b);
			return;
		}
	}
	_cleanup_free_ char *cidr = xasprintf("%s/%s", a, *sfx ? "128" : "32");
	set_str(o, kc, cidr);
}

static bool physical_name(const char *n)
{
	/* Proxmox's $PHYSICAL_NIC_RE: eth\d+, en..., ib..., nic\d+, if\d+ (no '.' or ':') */
	if (strpbrk(n, ".:"))
		return false;
	if (startswith(n, "en") || startswith(n, "ib"))
		return n[2] != '\0';
	const char *num = startswith(n, "eth") ? n + 3 :
			  startswith(n, "nic") ? n + 3 :
			  startswith(n, "if")  ? n + 2 :
						 NULL;
	return num && *num && strspn(num, "0123456789") == strlen(num);
}

/* "NAME.N" -> raw device and id; false otherwise. */
static bool dot_vlan(const char *name, char **ret_dev, char **ret_id)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1))
		return false;
	if (ret_dev)
		*ret_dev = xstrndup(name, (size_t)(dot - name));
	if (ret_id)
		*ret_id = xstrdup(dot + 1);
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_int_or_str(cJSON *o, const char *k, const char *v)
{
	long long n;
	if (pve_parse_int(v, -1000000000LL, 1000000000LL, &n) >= 0)
		cJSON_AddNumberToObject(o, k, (double)n);
	else
		cJSON_AddStringToObject(o, k, v);
}

cJSON *pve_net_iface_describe(const pve_net_config *c, const char *name,
			      bool (*is_physical)(const char *name, void *ud), void *ud)
{
	if (!pve_net_config_has(c, name) && !streq(name, "lo"))
		return NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON *families = cJSON_CreateArray();
	cJSON *options = NULL, *options6 = NULL;
	_cleanup_free_ char *comments = NULL, *comments6 = NULL;
	bool empty_bridge = false, any = false;
	int priority = 2, mine = 0;
	char *method = NULL, *method6 = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const stanza *s = c->b[i].st;
		if (!s) {
			const char *t = skip_ws(c->b[i].line.text);
			if (c->b[i].line.kind == LN_TEXT && *t && *t != '#')
				priority++;
			continue;
		}
		if (!streq(s->name, name)) {
			priority++;
			continue;
		}
		if (!mine)
			mine = priority++;
		any = true;
		bool six = stanza_is_inet6(s);
		const char *fam = s->family ? s->family : "inet";
		bool have = false;
		cJSON *f;
		cJSON_ArrayForEach (f, families)
			have |= streq(f->valuestring, fam);
		if (!have)
			cJSON_AddItemToArray(families, cJSON_CreateString(fam));
		if (s->method) {
			char **m = six ? &method6 : &method;
			if (!*m)
				*m = s->method;
		}
		for (size_t j = 0; j < s->n_lines; j++) {
			const net_line *l = &s->lines[j];
			if (l->kind == LN_COMMENT) {
				const char *t = skip_ws(l->text) + 1;
				_cleanup_free_ char *tt = rtrim_dup(t);
				char **cm = s->family ? (six ? &comments6 : &comments) : &comments;
				char *n = xasprintf("%s%s\n", *cm ? *cm : "", tt);
				free(*cm);
				*cm = n;
				continue;
			}
			char buf[32];
			const char *k = api_key(s, l, buf);
			if (!k) {
				cJSON **opts = six ? &options6 : &options;
				if (!*opts)
					*opts = cJSON_CreateArray();
				_cleanup_free_ char *t = rtrim_dup(skip_ws(l->text));
				cJSON_AddItemToArray(*opts, cJSON_CreateString(t));
			} else if (streq(k, "bridge_ports") || streq(k, "slaves")) {
				/* each port once, sorted, "none" dropped; lines add up */
				_cleanup_strv_free_ char **ports = pve_strv_split(l->value, " \t");
				_cleanup_strv_free_ char **all = strv_new();
				const char *prev = jstr(o, k);
				_cleanup_strv_free_ char **pv = prev ? pve_strv_split(prev, " ") :
								       strv_new();
				for (char **p = pv; *p; p++)
					strv_push(&all, xstrdup(*p));
				for (char **p = ports; *p; p++) {
					if (streq(*p, "none")) {
						empty_bridge |= streq(k, "bridge_ports");
						continue;
					}
					if (!**p || strv_contains(all, *p))
						continue;
					strv_push(&all, xstrdup(*p));
				}
				qsort(all + strv_length(pv), strv_length(all) - strv_length(pv),
				      sizeof(char *), cmp_str);
				_cleanup_free_ char *j2 = pve_strv_join(all, " ");
				set_str(o, k, j2);
			} else if (streq(k, "bridge_stp")) {
				bool on = strcasecmp(l->value, "on") == 0 ||
					  strcasecmp(l->value, "yes") == 0;
				set_str(o, k, on ? "on" : "off");
			} else if (streq(k, "bridge_vlan_aware")) {
				cJSON_DeleteItemFromObjectCaseSensitive(o, k);
				cJSON_AddNumberToObject(o, k, 1);
			} else if (streq(k, "bond_mode")) {
				static const char *const modes[] = { "balance-rr",  "active-backup",
								     "balance-xor", "broadcast",
								     "802.3ad",	    "balance-tlb",
								     "balance-alb" };
				const char *v = l->value;
				if (strlen(v) == 1 && *v >= '0' && *v <= '6')
					v = modes[*v - '0'];
				set_str(o, k, v);
			} else if (streq(k, "mtu") || streq(k, "bridge_fd") ||
				   streq(k, "bond_miimon") || streq(k, "vlan-id") ||
				   streq(k, "netmask6")) {
				cJSON_DeleteItemFromObjectCaseSensitive(o, k);
				add_int_or_str(o, k, l->value);
			} else {
				set_str(o, k, l->value);
			}
		}
	}
	if (!any && streq(name, "lo") && !is_autostart(c, name)) {
		cJSON_Delete(families);
		cJSON_AddStringToObject(o, "method", "loopback");
		cJSON_AddStringToObject(o, "type", "loopback");
		cJSON_AddNumberToObject(o, "autostart", 1);
		cJSON_AddNumberToObject(o, "priority", 1);
		return o;
	}
	if (mine)
		cJSON_AddNumberToObject(o, "priority", mine);
	if (is_autostart(c, name))
		cJSON_AddNumberToObject(o, "autostart", 1);
	if (options)
		cJSON_AddItemToObject(o, "options", options);
	if (options6)
		cJSON_AddItemToObject(o, "options6", options6);

	/* the type, as Proxmox derives it */
	const char *type = "unknown";
	_cleanup_free_ char *vdev = NULL, *vid = NULL;
	if (jstr(o, "bridge_ports") || empty_bridge) {
		type = "bridge";
		if (!jstr(o, "bridge_ports"))
			set_str(o, "bridge_ports", "");
		if (!jstr(o, "bridge_stp"))
			set_str(o, "bridge_stp", "off");
		if (!cJSON_GetObjectItemCaseSensitive(o, "bridge_fd") &&
		    streq(jstr(o, "bridge_stp"), "off"))
			cJSON_AddNumberToObject(o, "bridge_fd", 0);
	} else if (startswith(name, "bond") && name[4] &&
		   strspn(name + 4, "0123456789") == strlen(name + 4)) {
		type = "bond";
	} else if (strchr(name, ':') &&
		   strspn(strrchr(name, ':') + 1, "0123456789") == strlen(strrchr(name, ':') + 1)) {
		type = "alias";
	} else if (dot_vlan(name, &vdev, &vid)) {
		type = "vlan";
		if (!jstr(o, "vlan-raw-device"))
			set_str(o, "vlan-raw-device", vdev);
		if (atoi(vid) > 0) {
			cJSON_DeleteItemFromObjectCaseSensitive(o, "vlan-id");
			cJSON_AddNumberToObject(o, "vlan-id", atoi(vid));
		}
	} else if (jstr(o, "vlan-raw-device")) {
		type = "vlan";
		if (startswith(name, "vlan") && name[4] &&
		    strspn(name + 4, "0123456789") == strlen(name + 4) && atoi(name + 4) > 0) {
			cJSON_DeleteItemFromObjectCaseSensitive(o, "vlan-id");
			cJSON_AddNumberToObject(o, "vlan-id", atoi(name + 4));
		}
	} else if ((is_physical && is_physical(name, ud)) || physical_name(name)) {
		type = "eth";
	} else if (streq(name, "lo")) {
		type = "loopback";
	} else if (jstr(o, "vxlan-id")) {
		type = "vxlan";
	} else if (jstr(o, "link-type") && streq(jstr(o, "link-type"), "dummy")) {
		type = "dummy";
	}
	cJSON_AddStringToObject(o, "type", type);
	fix_address(o, "");
	fix_address(o, "6");
	cJSON_AddStringToObject(o, "method", method ? method : "manual");
	cJSON_AddStringToObject(o, "method6", method6 ? method6 : "manual");
	if (comments || comments6) {
		_cleanup_free_ char *all =
			xasprintf("%s%s", comments ? comments : "", comments6 ? comments6 : "");
		cJSON_AddStringToObject(o, "comments", all);
	}
	if (cJSON_GetArraySize(families) == 0)
		cJSON_AddItemToArray(families, cJSON_CreateString("inet"));
	cJSON_AddItemToObject(o, "families", families);
	return o;
}

/* ---- edits --------------------------------------------------------------------------------------------- */

static const char *const settable[] = {
	"address",
	"address6",
	"netmask",
	"netmask6",
	"gateway",
	"gateway6",
	"mtu",
	"bridge_ports",
	"bridge_stp",
	"bridge_fd",
	"bridge_vlan_aware",
	"bridge_vids",
	"slaves",
	"bond_mode",
	"bond_miimon",
	"bond_xmit_hash_policy",
	"bond-primary",
	"vlan-raw-device",
	"vlan-id",
	"comments",
	"comments6",
	"bridge-access",
	"bridge-learning",
	"bridge-arp-nd-suppress",
	"bridge-unicast-flood",
	"bridge-multicast-flood",
	"link-type",
	"uplink-id",
	"vlan-protocol",
};

static bool value_ok(const char *v)
{
	for (const char *p = v; *p; p++)
		if (*p == '\n' || *p == '\r')
			return false;
	return strlen(v) < PVE_NET_MAX_LINE - 64;
}

/* The stanza keys of family six go to: the inet6 stanza if there is one, else the first. */
static stanza *target_stanza(pve_net_config *c, const char *name, bool six)
{
	stanza *first = NULL;
	for (size_t i = 0; i < c->n; i++) {
		stanza *s = c->b[i].st;
		if (!s || !streq(s->name, name))
			continue;
		if (six && stanza_is_inet6(s))
			return s;
		if (!six && !stanza_is_inet6(s))
			return s;
		if (!first)
			first = s;
	}
	return six ? NULL : first;
}

static size_t block_index(const pve_net_config *c, const stanza *s)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->b[i].st == s)
			return i;
	return c->n;
}

static void insert_block(pve_net_config *c, size_t at, block b)
{
	blocks_reserve(c);
	memmove(c->b + at + 1, c->b + at, (c->n - at) * sizeof(*c->b));
	c->b[at] = b;
	c->n++;
}

static void remove_block(pve_net_config *c, size_t at)
{
	line_clear(&c->b[at].line);
	stanza_free(c->b[at].st);
	memmove(c->b + at, c->b + at + 1, (c->n - at - 1) * sizeof(*c->b));
	c->n--;
}

static bool is_blank(const pve_net_config *c, size_t i)
{
	return i < c->n && !c->b[i].st && !*skip_ws(c->b[i].line.text);
}

/* Removes the stanza at i and the blank line that separated it from the rest. */
static void remove_stanza(pve_net_config *c, size_t i)
{
	remove_block(c, i);
	if (i > 0 && is_blank(c, i - 1) && (i == c->n || is_blank(c, i)))
		remove_block(c, i - 1);
	else if (i == 0 && is_blank(c, 0))
		remove_block(c, 0);
}

static void stanza_remove_line(stanza *s, size_t j)
{
	line_clear(&s->lines[j]);
	memmove(s->lines + j, s->lines + j + 1, (s->n_lines - j - 1) * sizeof(*s->lines));
	s->n_lines--;
}

/* After the last option line (comments stay last, as Proxmox writes them). */
static void stanza_insert_opt(stanza *s, net_line l)
{
	size_t at = 0;
	for (size_t j = 0; j < s->n_lines; j++)
		if (s->lines[j].kind == LN_OPT)
			at = j + 1;
	lines_reserve(s);
	memmove(s->lines + at + 1, s->lines + at, (s->n_lines - at) * sizeof(*s->lines));
	s->lines[at] = l;
	s->n_lines++;
}

static void set_header(stanza *s, const char *family, const char *method)
{
	if (streq_ptr(s->family, family) && streq_ptr(s->method, method))
		return;
	char *f = xstrdup(family), *m = xstrdup(method);
	free(s->family);
	free(s->method);
	s->family = f;
	s->method = m;
	free(s->header);
	s->header = xasprintf("iface %s %s %s", s->name, f, m);
}

/* Removes the lines of every stanza of name whose API key is key; true if there was one. */
static bool delete_key(pve_net_config *c, const char *name, const char *key)
{
	bool found = false;
	for (size_t i = 0; i < c->n; i++) {
		stanza *s = c->b[i].st;
		if (!s || !streq(s->name, name))
			continue;
		for (size_t j = s->n_lines; j-- > 0;) {
			char buf[32];
			const net_line *l = &s->lines[j];
			const char *k = l->kind == LN_OPT ? api_key(s, l, buf) : NULL;
			if (k && streq(k, key)) {
				stanza_remove_line(s, j);
				found = true;
			}
		}
	}
	return found;
}

/* An inet6 stanza left with nothing in it goes. */
static void drop_empty_inet6(pve_net_config *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		stanza *s = c->b[i].st;
		if (s && streq(s->name, name) && stanza_is_inet6(s) && s->n_lines == 0 &&
		    target_stanza(c, name, false) != s) {
			remove_stanza(c, i);
			return;
		}
	}
}

static int set_comments(pve_net_config *c, const char *name, bool six, const char *value)
{
	stanza *s = target_stanza(c, name, six);
	if (!s && !value)
		return 0;
	if (!s)
		s = target_stanza(c, name, false);
	for (size_t j = s->n_lines; j-- > 0;)
		if (s->lines[j].kind == LN_COMMENT)
			stanza_remove_line(s, j);
	if (!value)
		return 0;
	_cleanup_strv_free_ char **lines = pve_strv_split(value, "\n");
	for (char **l = lines; *l; l++) {
		if (!**l && !l[1])
			break;
		stanza_push(s, (net_line){ .text = xasprintf("#%s", *l), .kind = LN_COMMENT });
	}
	c->final_newline = true;
	return 0;
}

int pve_net_iface_set(pve_net_config *c, const char *name, const char *key, const char *value,
		      pve_error **err)
{
	bool known = false;
	for (size_t i = 0; i < ELEMENTSOF(settable); i++)
		known |= streq(settable[i], key);
	if (!known)
		return pve_error_set_param(err, EINVAL, key, "unknown interface setting");
	if (!target_stanza(c, name, false))
		return pve_error_set_param(err, ENOENT, "iface", "interface does not exist");
	bool six = endswith(key, "6");
	if (streq(key, "comments") || streq(key, "comments6")) {
		if (value && strlen(value) > PVE_NET_MAX_LINE)
			return pve_error_set_param(err, E2BIG, key, "comments are too long");
		return set_comments(c, name, six, value);
	}
	if (value && !value_ok(value))
		return pve_error_set_param(err, EINVAL, key, "value must be one line");
	/* an address carries its prefix: a netmask line of the family goes */
	if (streq(key, "address") || streq(key, "address6"))
		delete_key(c, name, six ? "netmask6" : "netmask");
	if (!value) {
		delete_key(c, name, key);
		drop_empty_inet6(c, name);
		return 0;
	}
	/* the first line with the key keeps its spelling and indentation; other ones go */
	bool done = false;
	for (size_t i = 0; i < c->n; i++) {
		stanza *s = c->b[i].st;
		if (!s || !streq(s->name, name))
			continue;
		for (size_t j = 0; j < s->n_lines;) {
			char buf[32];
			net_line *l = &s->lines[j];
			const char *k = l->kind == LN_OPT ? api_key(s, l, buf) : NULL;
			if (!k || !streq(k, key)) {
				j++;
			} else if (done) {
				stanza_remove_line(s, j);
			} else {
				const char *t = l->text;
				int indent = (int)(skip_ws(t) - t);
				char *text = xasprintf("%.*s%s %s", indent, t, l->key, value);
				free(l->text);
				free(l->value);
				l->text = text;
				l->value = xstrdup(value);
				done = true;
				j++;
			}
		}
	}
	if (done)
		return 0;
	stanza *s = target_stanza(c, name, six);
	if (!s && six) {
		/* Proxmox writes IPv6 settings in a stanza of their own */
		stanza *first = target_stanza(c, name, false);
		size_t at = block_index(c, first) + 1;
		while (at < c->n && c->b[at].st && streq(c->b[at].st->name, name))
			at++;
		s = xcalloc(1, sizeof(*s));
		s->name = xstrdup(name);
		s->family = xstrdup("inet6");
		s->method = xstrdup("manual");
		s->header = xasprintf("iface %s inet6 manual", name);
		insert_block(c, at, (block){ .st = s });
	}
	stanza_insert_opt(s, (net_line){ .text = xasprintf("\t%s %s", file_key(key), value),
					 .kind = LN_OPT,
					 .key = xstrdup(file_key(key)),
					 .value = xstrdup(value) });
	c->final_newline = true;
	return 0;
}

static bool has_key(const pve_net_config *c, const char *name, const char *key)
{
	for (size_t i = 0; i < c->n; i++) {
		const stanza *s = c->b[i].st;
		if (!s || !streq(s->name, name))
			continue;
		for (size_t j = 0; j < s->n_lines; j++) {
			char buf[32];
			const char *k = s->lines[j].kind == LN_OPT ? api_key(s, &s->lines[j], buf) :
								     NULL;
			if (k && streq(k, key))
				return true;
		}
	}
	return false;
}

void pve_net_iface_fix_methods(pve_net_config *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		stanza *s = c->b[i].st;
		if (!s || !streq(s->name, name))
			continue;
		bool six = stanza_is_inet6(s);
		bool addr = has_key(c, name, six ? "address6" : "address");
		const char *fam = s->family ? s->family : "inet";
		if (addr)
			set_header(s, fam, "static");
		else if (!s->method || streq(s->method, "static"))
			set_header(s, fam, "manual");
	}
}

int pve_net_iface_add(pve_net_config *c, const char *name, bool autostart, pve_error **err)
{
	if (!name_ok(name))
		return pve_error_set_param(err, EINVAL, "iface", "invalid interface name");
	if (target_stanza(c, name, false))
		return pve_error_set_param(err, EEXIST, "iface", "interface already exists");
	size_t stanzas = 0;
	for (size_t i = 0; i < c->n; i++)
		stanzas += c->b[i].st != NULL;
	if (stanzas >= PVE_NET_MAX_IFACES)
		return pve_error_set(err, E2BIG, "more than %d interfaces", PVE_NET_MAX_IFACES);
	bool blank_before = c->n == 0 ||
			    (!c->b[c->n - 1].st && !*skip_ws(c->b[c->n - 1].line.text));
	if (!blank_before)
		push_block(c, (block){ .line = { .text = xstrdup(""), .kind = LN_TEXT } });
	pve_net_iface_set_autostart(c, name, false);
	if (autostart)
		push_block(c, (block){ .line = { .text = xasprintf("auto %s", name),
						 .kind = LN_AUTO } });
	stanza *s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(name);
	s->family = xstrdup("inet");
	s->method = xstrdup("manual");
	s->header = xasprintf("iface %s inet manual", name);
	push_block(c, (block){ .st = s });
	c->final_newline = true;
	return 0;
}

/* Rewrites or drops auto lines so that name is (not) in them. */
static void auto_remove(pve_net_config *c, const char *name)
{
	for (size_t i = c->n; i-- > 0;) {
		net_line *l = &c->b[i].line;
		if (c->b[i].st || l->kind != LN_AUTO)
			continue;
		_cleanup_strv_free_ char **names = auto_names(l);
		if (!strv_remove(names, name))
			continue;
		if (!names[0]) {
			remove_block(c, i);
			continue;
		}
		const char *t = skip_ws(l->text);
		_cleanup_free_ char *kw = word(t, NULL);
		_cleanup_free_ char *list = pve_strv_join(names, " ");
		char *text = xasprintf("%.*s%s %s", (int)(t - l->text), l->text, kw, list);
		free(l->text);
		l->text = text;
	}
}

void pve_net_iface_set_autostart(pve_net_config *c, const char *name, bool autostart)
{
	if (!autostart) {
		auto_remove(c, name);
		return;
	}
	if (is_autostart(c, name))
		return;
	stanza *s = target_stanza(c, name, false);
	size_t at = s ? block_index(c, s) : c->n;
	insert_block(c, at,
		     (block){ .line = { .text = xasprintf("auto %s", name), .kind = LN_AUTO } });
	c->final_newline = true;
}

bool pve_net_iface_remove(pve_net_config *c, const char *name)
{
	bool found = false;
	auto_remove(c, name);
	for (size_t i = c->n; i-- > 0;) {
		if (!c->b[i].st || !streq(c->b[i].st->name, name))
			continue;
		found = true;
		remove_stanza(c, i);
	}
	return found;
}
