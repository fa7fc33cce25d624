/* access/realm-ldap.c: the realms of domains.cfg (checked as Proxmox's Auth plugins declare them), login
 * against ldap and ad realms through libldap, and realm sync (reading users and groups from a directory
 * and merging them into user.cfg as Proxmox's Domains.pm does). */
#include <ctype.h>
#include <ldap.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "access/access-internal.h"

/* ---- small string-vector helpers ---------------------------------------------------------------------- */

static void sv_push(char ***v, char *s)
{
	size_t n = strv_length(*v);
	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = s;
	(*v)[n + 1] = NULL;
}

static bool sv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static void sv_remove(char **v, const char *s)
{
	size_t o = 0;
	for (size_t i = 0; v && v[i]; i++) {
		if (strcmp(v[i], s) == 0)
			free(v[i]);
		else
			v[o++] = v[i];
	}
	if (v)
		v[o] = NULL;
}

static char *lowercase(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* ---- domains.cfg -------------------------------------------------------------------------------------- */

enum {
	T_PAM = 1,
	T_PVE = 2,
	T_LDAP = 4,
	T_AD = 8,
	T_OPENID = 16,
	T_DIR = T_LDAP | T_AD,
	T_ALL = 31,
};

enum kind {
	K_STR,
	K_WORD,
	K_BOOL,
	K_PORT,
	K_MODE,
	K_SSL,
	K_ADDR,
	K_DN,
	K_ATTR,
	K_ATTRS,
	K_SYNCOPTS,
	K_SYNCATTRS
};

static const struct realm_prop {
	const char *key;
	enum kind kind;
	int types;
} PROPS[] = {
	{ "comment", K_STR, T_ALL },
	{ "default", K_BOOL, T_ALL },
	{ "tfa", K_STR, T_PAM | T_PVE | T_DIR },
	{ "server1", K_ADDR, T_DIR },
	{ "server2", K_ADDR, T_DIR },
	{ "port", K_PORT, T_DIR },
	{ "secure", K_BOOL, T_DIR },
	{ "sslversion", K_SSL, T_DIR },
	{ "mode", K_MODE, T_DIR },
	{ "verify", K_BOOL, T_DIR },
	{ "capath", K_STR, T_DIR },
	{ "cert", K_STR, T_DIR },
	{ "certkey", K_STR, T_DIR },
	{ "base_dn", K_DN, T_DIR },
	{ "bind_dn", K_DN, T_DIR },
	{ "user_attr", K_WORD, T_DIR },
	{ "filter", K_STR, T_DIR },
	{ "sync_attributes", K_SYNCATTRS, T_DIR },
	{ "user_classes", K_ATTRS, T_DIR },
	{ "group_dn", K_DN, T_DIR },
	{ "group_name_attr", K_ATTR, T_DIR },
	{ "group_filter", K_STR, T_DIR },
	{ "group_classes", K_ATTRS, T_DIR },
	{ "sync-defaults-options", K_SYNCOPTS, T_DIR },
	{ "case-sensitive", K_BOOL, T_DIR },
	{ "domain", K_WORD, T_AD },
	{ "issuer-url", K_STR, T_OPENID },
	{ "client-id", K_STR, T_OPENID },
	{ "client-key", K_STR, T_OPENID },
	{ "autocreate", K_BOOL, T_OPENID },
	{ "username-claim", K_STR, T_OPENID },
	{ "scopes", K_STR, T_OPENID },
	{ "prompt", K_STR, T_OPENID },
	{ "acr-values", K_STR, T_OPENID },
	{ "audiences", K_STR, T_OPENID },
	{ "groups-claim", K_STR, T_OPENID },
	{ "groups-autocreate", K_BOOL, T_OPENID },
	{ "groups-overwrite", K_BOOL, T_OPENID },
	{ "query-userinfo", K_BOOL, T_OPENID },
};

static int type_bit(const char *type)
{
	static const char *const names[] = { "pam", "pve", "ldap", "ad", "openid" };
	for (size_t i = 0; type && i < ELEMENTSOF(names); i++)
		if (strcmp(type, names[i]) == 0)
			return 1 << i;
	return 0;
}

bool pve_realm_id_valid(const char *realm)
{
	size_t len = realm ? strlen(realm) : 0;
	return len <= 32 && access_valid_realm(realm ? realm : "", len);
}

/* Proxmox's $dn_regex, loosely: attr=value pairs separated by commas. */
static bool dn_ok(const char *s)
{
	const char *eq = strchr(s, '=');
	if (!eq || eq == s || strlen(s) > 256 || has_ctl(s))
		return false;
	for (const char *p = s; p < eq; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	return true;
}

static const char SYNC_OPTS_FORMAT[] =
	"{\"scope\":{\"type\":\"string\",\"enum\":[\"users\",\"groups\",\"both\"],\"optional\":1},"
	"\"remove-vanished\":{\"type\":\"string\",\"optional\":1},"
	"\"enable-new\":{\"type\":\"boolean\",\"optional\":1},"
	"\"full\":{\"type\":\"boolean\",\"optional\":1},"
	"\"purge\":{\"type\":\"boolean\",\"optional\":1}}";

static int parse_vanished(const char *s, int *ret)
{
	if (strcmp(s, "none") == 0 || !*s) {
		*ret = 0;
		return 0;
	}
	_cleanup_strv_free_ char **parts = pve_strv_split(s, ";");
	int v = 0;
	for (char **p = parts; *p; p++) {
		if (strcmp(*p, "acl") == 0)
			v |= PVE_VANISHED_ACL;
		else if (strcmp(*p, "properties") == 0)
			v |= PVE_VANISHED_PROPERTIES;
		else if (strcmp(*p, "entry") == 0)
			v |= PVE_VANISHED_ENTRY;
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_sync_defaults(const char *s, cJSON **ret, pve_error **err)
{
	cJSON *fmt = cJSON_Parse(SYNC_OPTS_FORMAT);
	int r = pve_propstr_parse(s, fmt, ret, err);
	cJSON_Delete(fmt);
	if (r < 0)
		return r;
	const char *rv = pve_json_str(*ret, "remove-vanished");
	int v;
	if (rv && parse_vanished(rv, &v) < 0) {
		r = pve_error_set_param(err, EINVAL, "remove-vanished",
					"invalid remove-vanished value '%s'", rv);
		cJSON_Delete(*ret);
		*ret = NULL;
		return r;
	}
	return 0;
}

static int sync_attrs_ok(const char *s)
{
	/* \w+=[^,]+(,\s*\w+=[^,]+)* */
	_cleanup_strv_free_ char **pairs = pve_strv_split(s, ",");
	if (!pairs[0])
		return -EINVAL;
	for (char **p = pairs; *p; p++) {
		const char *q = *p;
		while (isspace((unsigned char)*q))
			q++;
		const char *eq = strchr(q, '=');
		if (!eq || eq == q || !eq[1])
			return -EINVAL;
		for (const char *c = q; c < eq; c++)
			if (!isalnum((unsigned char)*c) && *c != '_')
				return -EINVAL;
	}
	return 0;
}

static int bad(pve_error **err, const char *key, const char *msg, const char *value)
{
	return pve_error_set_param(err, EINVAL, key, "%s: %s ('%s')", key, msg, value);
}

int pve_realm_check_property(const char *type, const char *key, const char *value, pve_error **err)
{
	int t = type_bit(type);
	if (!t)
		return pve_error_set_param(err, EINVAL, "type", "unknown realm type '%s'",
					   type ? type : "");
	const struct realm_prop *p = NULL;
	for (size_t i = 0; i < ELEMENTSOF(PROPS); i++)
		if (strcmp(PROPS[i].key, key) == 0)
			p = &PROPS[i];
	if (!p || !(p->types & t))
		return pve_error_set_param(err, EINVAL, key,
					   "property '%s' is not allowed for realms of type '%s'",
					   key, type);
	if (strlen(value) > 4096 || has_ctl(value))
		return bad(err, key, "value too long or with control characters", "...");
	_cleanup_free_ char *msg = NULL;
	bool b;
	long long n;
	switch (p->kind) {
	case K_STR:
		return 0;
	case K_WORD:
		if (strlen(value) < 2 || strpbrk(value, " \t"))
			return bad(err, key, "invalid value", value);
		return 0;
	case K_BOOL:
		return pve_parse_bool(value, &b) < 0 ? bad(err, key, "not a boolean", value) : 0;
	case K_PORT:
		return pve_parse_int(value, 1, 65535, &n) < 0 ?
			       bad(err, key, "not a port number (1 - 65535)", value) :
			       0;
	case K_MODE:
		if (strcmp(value, "ldap") && strcmp(value, "ldaps") &&
		    strcmp(value, "ldap+starttls"))
			return bad(err, key, "value must be ldap, ldaps or ldap+starttls", value);
		return 0;
	case K_SSL:
		if (strcmp(value, "tlsv1") && strcmp(value, "tlsv1_1") &&
		    strcmp(value, "tlsv1_2") && strcmp(value, "tlsv1_3"))
			return bad(err, key, "unknown TLS version", value);
		return 0;
	case K_ADDR:
		if (strlen(value) > 256 || pve_format_check("address", value, &msg) < 0)
			return bad(err, key, "not an IP address or DNS name", value);
		return 0;
	case K_DN:
		return dn_ok(value) ? 0 : bad(err, key, "not an LDAP DN", value);
	case K_ATTR:
		return pve_format_check("ldap-simple-attr", value, &msg) < 0 ?
			       bad(err, key, "not an LDAP attribute name", value) :
			       0;
	case K_ATTRS:
		return pve_format_check("ldap-simple-attr-list", value, &msg) < 0 ?
			       bad(err, key, "not a list of LDAP attribute names", value) :
			       0;
	case K_SYNCATTRS:
		return sync_attrs_ok(value) < 0 ?
			       bad(err, key, "not a list of key=value pairs", value) :
			       0;
	case K_SYNCOPTS: {
		cJSON *o = NULL;
		pve_error *e = NULL;
		int r = parse_sync_defaults(value, &o, &e);
		cJSON_Delete(o);
		if (r < 0) {
			pve_error_set_param(err, EINVAL, key, "%s: %s", key,
					    e && e->message ? e->message : "invalid");
			pve_error_free(e);
		}
		return r;
	}
	}
	return 0;
}

int pve_domains_parse(const char *text, size_t len, pve_sectioncfg **ret, pve_error **err)
{
	if (len > PVE_DOMAINS_MAX_SIZE)
		return pve_error_set(err, E2BIG, "domains.cfg: larger than %d bytes",
				     PVE_DOMAINS_MAX_SIZE);
	pve_sectioncfg *c = NULL;
	int r = pve_sectioncfg_parse(text, len, &c, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < pve_sectioncfg_count(c); i++) {
		const pve_section *s = pve_sectioncfg_nth(c, i);
		const char *type = pve_section_type(s), *id = pve_section_id(s);
		if (!pve_realm_id_valid(id)) {
			r = pve_error_set(err, EINVAL, "domains.cfg: invalid realm id '%s'", id);
			break;
		}
		int t = type_bit(type);
		if (!t) {
			r = pve_error_set(err, EINVAL, "domains.cfg: realm '%s': unknown type '%s'",
					  id, type);
			break;
		}
		bool builtin_id = strcmp(id, "pam") == 0 || strcmp(id, "pve") == 0;
		if ((t & (T_PAM | T_PVE)) ? strcmp(type, id) != 0 : builtin_id) {
			r = pve_error_set(err, EINVAL,
					  "domains.cfg: realm '%s' must have type '%s'", id,
					  builtin_id ? id : "ldap, ad or openid");
			break;
		}
		for (size_t k = 0; r >= 0 && k < pve_section_count(s); k++)
			r = pve_realm_check_property(type, pve_section_key(s, k),
						     pve_section_value(s, k), err);
		if (r < 0) {
			if (err && *err)
				pve_error_prefix(*err, "domains.cfg: realm '%s'", id);
			break;
		}
	}
	if (r < 0) {
		pve_sectioncfg_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

const char *pve_domains_realm_type(const pve_sectioncfg *c, const char *realm)
{
	if (!realm)
		return NULL;
	if (strcmp(realm, "pam") == 0)
		return "pam";
	if (strcmp(realm, "pve") == 0)
		return "pve";
	const pve_section *s = c ? pve_sectioncfg_find(c, realm) : NULL;
	return s ? pve_section_type(s) : NULL;
}

/* ---- realm config ------------------------------------------------------------------------------------- */

static const char *const FIELDS[5] = { "firstname", "lastname", "email", "comment", "keys" };

static char *opt_dup(const pve_section *s, const char *key)
{
	const char *v = pve_section_get(s, key);
	return v && *v ? xstrdup(v) : NULL;
}

int pve_ldap_config_from_section(const pve_section *s, const char *bind_password,
				 pve_ldap_config **ret, pve_error **err)
{
	const char *type = pve_section_type(s);
	bool ad = strcmp(type, "ad") == 0;
	if (!ad && strcmp(type, "ldap") != 0)
		return pve_error_set(err, EINVAL, "realm '%s' is not an LDAP or AD realm",
				     pve_section_id(s));
	if (!pve_section_get(s, "server1"))
		return pve_error_set(err, EINVAL, "realm '%s' has no server1", pve_section_id(s));
	if (!ad && !pve_section_get(s, "base_dn"))
		return pve_error_set(err, EINVAL, "realm '%s' has no base_dn", pve_section_id(s));
	pve_ldap_config *c = xcalloc(1, sizeof(*c));
	c->realm = xstrdup(pve_section_id(s));
	c->ad = ad;
	c->server1 = opt_dup(s, "server1");
	c->server2 = opt_dup(s, "server2");
	long long port = 0;
	if (pve_section_get(s, "port"))
		pve_parse_int(pve_section_get(s, "port"), 1, 65535, &port);
	c->port = (int)port;
	c->mode = opt_dup(s, "mode");
	bool secure = false;
	if (!c->mode && pve_section_get(s, "secure") &&
	    pve_parse_bool(pve_section_get(s, "secure"), &secure) == 0 && secure)
		c->mode = xstrdup("ldaps");
	if (!c->mode)
		c->mode = xstrdup("ldap");
	bool verify = false;
	if (pve_section_get(s, "verify"))
		pve_parse_bool(pve_section_get(s, "verify"), &verify);
	c->verify = verify;
	c->capath = pve_section_get(s, "capath") ? opt_dup(s, "capath") : xstrdup("/etc/ssl/certs");
	c->base_dn = opt_dup(s, "base_dn");
	c->bind_dn = opt_dup(s, "bind_dn");
	c->bind_password = bind_password && *bind_password ? xstrdup(bind_password) : NULL;
	c->user_attr = opt_dup(s, "user_attr");
	if (!c->user_attr)
		c->user_attr = xstrdup(ad ? "sAMAccountName" : "uid");
	c->domain = opt_dup(s, "domain");
	c->filter = opt_dup(s, "filter");
	c->user_classes = access_split_list(pve_section_get(s, "user_classes") ?
						    pve_section_get(s, "user_classes") :
						    "inetorgperson, posixaccount, person, user");
	c->group_classes =
		access_split_list(pve_section_get(s, "group_classes") ?
					  pve_section_get(s, "group_classes") :
					  "groupOfNames, group, univentionGroup, ipausergroup");
	c->group_dn = opt_dup(s, "group_dn");
	c->group_name_attr = opt_dup(s, "group_name_attr");
	c->group_filter = opt_dup(s, "group_filter");
	for (size_t i = 0; i < ELEMENTSOF(FIELDS); i++)
		c->attr_map[i] = xstrdup(FIELDS[i]);
	_cleanup_strv_free_ char **pairs =
		pve_strv_split(pve_section_get(s, "sync_attributes") ?: "", ",");
	for (char **p = pairs; *p; p++) {
		char *q = *p;
		while (isspace((unsigned char)*q))
			q++;
		char *eq = strchr(q, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *theirs = eq + 1;
		size_t n = strlen(theirs);
		while (n && isspace((unsigned char)theirs[n - 1]))
			theirs[--n] = '\0';
		for (size_t i = 0; i < ELEMENTSOF(FIELDS); i++)
			if (strcmp(q, FIELDS[i]) == 0 && *theirs) {
				free(c->attr_map[i]);
				c->attr_map[i] = xstrdup(theirs);
			}
	}
	c->timeout_ms = PVE_LDAP_TIMEOUT_MS;
	*ret = c;
	return 0;
}

void pve_ldap_config_free(pve_ldap_config *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->server1);
	free(c->server2);
	free(c->mode);
	free(c->capath);
	free(c->base_dn);
	free(c->bind_dn);
	if (c->bind_password)
		explicit_bzero(c->bind_password, strlen(c->bind_password));
	free(c->bind_password);
	free(c->user_attr);
	free(c->domain);
	free(c->filter);
	strv_free(c->user_classes);
	strv_free(c->group_classes);
	free(c->group_dn);
	free(c->group_name_attr);
	free(c->group_filter);
	for (size_t i = 0; i < ELEMENTSOF(c->attr_map); i++)
		free(c->attr_map[i]);
	free(c);
}

char *pve_ldap_filter_escape(const char *value)
{
	pve_buf b = { 0 };
	pve_buf_puts(&b, "");
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p == '*' || *p == '(' || *p == ')' || *p == '\\' || *p < 0x20 || *p == 0x7f)
			pve_buf_printf(&b, "\\%02x", *p);
		else
			pve_buf_append(&b, p, 1);
	}
	return pve_buf_steal(&b);
}

/* ---- LDAP connections --------------------------------------------------------------------------------- */

typedef struct ldap_conn {
	LDAP *ld;
	const pve_ldap_config *c;
} ldap_conn;

static void conn_close(ldap_conn *k)
{
	if (k->ld)
		ldap_unbind_ext_s(k->ld, NULL, NULL);
	k->ld = NULL;
}

static bool unreachable(int lerr)
{
	return lerr == LDAP_SERVER_DOWN || lerr == LDAP_TIMEOUT || lerr == LDAP_CONNECT_ERROR ||
	       lerr == LDAP_UNAVAILABLE || lerr == LDAP_BUSY;
}

static int lfail(pve_error **err, int lerr, const char *what)
{
	return pve_error_set(err, unreachable(lerr) ? EIO : EACCES, "%s: %s", what,
			     ldap_err2string(lerr));
}

static void append_uri(pve_buf *b, const char *scheme, const char *host, int port)
{
	if (b->len)
		pve_buf_puts(b, " ");
	if (strchr(host, ':'))
		pve_buf_printf(b, "%s://[%s]:%d", scheme, host, port);
	else
		pve_buf_printf(b, "%s://%s:%d", scheme, host, port);
}

static void set_timeouts(LDAP *ld, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
}

/* Connects (server1, then server2) with TLS as the mode says; nothing is sent before the first call. */
static int conn_open(const pve_ldap_config *c, ldap_conn *k, pve_error **err)
{
	*k = (ldap_conn){ .c = c };
	bool ldaps = strcmp(c->mode, "ldaps") == 0;
	bool starttls = strcmp(c->mode, "ldap+starttls") == 0;
	int port = c->port ? c->port : ldaps ? 636 : 389;
	pve_buf uri = { 0 };
	append_uri(&uri, ldaps ? "ldaps" : "ldap", c->server1, port);
	if (c->server2)
		append_uri(&uri, ldaps ? "ldaps" : "ldap", c->server2, port);
	int lerr = ldap_initialize(&k->ld, uri.data);
	pve_buf_free(&uri);
	if (lerr != LDAP_SUCCESS)
		return pve_error_set(err, EINVAL, "LDAP: %s", ldap_err2string(lerr));
	int v3 = LDAP_VERSION3;
	ldap_set_option(k->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(k->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	set_timeouts(k->ld, c->timeout_ms > 0 ? c->timeout_ms : PVE_LDAP_TIMEOUT_MS);
	if (ldaps || starttls) {
		int req = c->verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
		ldap_set_option(k->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &req);
		int min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
		ldap_set_option(k->ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min);
		struct stat st;
		if (c->verify && c->capath)
			ldap_set_option(k->ld,
					stat(c->capath, &st) == 0 && S_ISDIR(st.st_mode) ?
						LDAP_OPT_X_TLS_CACERTDIR :
						LDAP_OPT_X_TLS_CACERTFILE,
					c->capath);
		int zero = 0;
		ldap_set_option(k->ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	}
	if (starttls && (lerr = ldap_start_tls_s(k->ld, NULL, NULL)) != LDAP_SUCCESS) {
		conn_close(k);
		return pve_error_set(err, EIO, "LDAP StartTLS: %s", ldap_err2string(lerr));
	}
	return 0;
}

static int simple_bind(ldap_conn *k, const char *dn, const char *password)
{
	struct berval cred = { .bv_val = (char *)(password ? password : ""),
			       .bv_len = password ? strlen(password) : 0 };
	return ldap_sasl_bind_s(k->ld, dn ? dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

/* Binds with the realm's bind_dn (or anonymously), as the realm's service account. */
static int service_bind(ldap_conn *k, pve_error **err)
{
	const pve_ldap_config *c = k->c;
	if (c->bind_dn && !c->bind_password)
		return pve_error_set(err, EINVAL, "missing password for realm %s", c->realm);
	int lerr = simple_bind(k, c->bind_dn, c->bind_dn ? c->bind_password : NULL);
	if (lerr != LDAP_SUCCESS) {
		pve_error_set(err, EIO, "LDAP bind as '%s' failed: %s",
			      c->bind_dn ? c->bind_dn : "anonymous", ldap_err2string(lerr));
		return -EIO;
	}
	return 0;
}

static int search(ldap_conn *k, const char *base, int scope, const char *filter, char **attrs,
		  int sizelimit, LDAPMessage **ret, pve_error **err)
{
	int ms = k->c->timeout_ms > 0 ? k->c->timeout_ms : PVE_LDAP_TIMEOUT_MS;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	LDAPMessage *res = NULL;
	int lerr = ldap_search_ext_s(k->ld, base, scope, filter, attrs, 0, NULL, NULL, &tv,
				     sizelimit, &res);
	if (lerr == LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(res);
		return pve_error_set(err, E2BIG, "LDAP search under '%s': more than %d entries",
				     base, sizelimit);
	}
	if (lerr != LDAP_SUCCESS && lerr != LDAP_NO_SUCH_OBJECT) {
		ldap_msgfree(res);
		return lfail(err, lerr, "LDAP search failed");
	}
	*ret = res;
	return 0;
}

/* RFC 2696 paged results: a directory's size limit (OpenLDAP's olcSizeLimit, AD's MaxPageSize of 1000)
 * bounds one page, not the search, so a sync sees every entry. */
#define LDAP_PAGE_SIZE 500

typedef int (*ldap_entry_fn)(ldap_conn *k, LDAPMessage *e, void *ud);

/* One page: its entries go to fn; *cookie becomes the server's cookie for the next page (empty: done). A
 * server without paging answers everything at once, without a cookie. Returns the LDAP result code. */
static int search_page(ldap_conn *k, const char *base, const char *filter, char **attrs,
		       int page_size, struct berval *cookie, LDAPMessage **ret_res)
{
	int ms = k->c->timeout_ms > 0 ? k->c->timeout_ms : PVE_LDAP_TIMEOUT_MS;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	LDAPControl *page = NULL;
	int lerr = ldap_create_page_control(k->ld, (ber_int_t)page_size,
					    cookie->bv_len ? cookie : NULL, 0, &page);
	if (lerr != LDAP_SUCCESS)
		return lerr;
	LDAPControl *sctrls[] = { page, NULL };
	*ret_res = NULL;
	lerr = ldap_search_ext_s(k->ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, sctrls, NULL,
				 &tv, 0, ret_res);
	ldap_control_free(page);
	ber_memfree(cookie->bv_val);
	*cookie = (struct berval){ 0 };
	if (lerr != LDAP_SUCCESS)
		return lerr;
	LDAPControl **rctrls = NULL;
	int rc = LDAP_SUCCESS;
	lerr = ldap_parse_result(k->ld, *ret_res, &rc, NULL, NULL, NULL, &rctrls, 0);
	if (lerr != LDAP_SUCCESS)
		return lerr;
	LDAPControl *resp = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
	ber_int_t estimate = 0;
	if (resp && ldap_parse_pageresponse_control(k->ld, resp, &estimate, cookie) != LDAP_SUCCESS)
		*cookie = (struct berval){ 0 };
	ldap_controls_free(rctrls);
	return rc;
}

/* A subtree search of every entry that matches, page by page, each entry handed to fn (which returns
 * negative errno to stop). More than PVE_LDAP_MAX_ENTRIES in all is -E2BIG. */
static int search_all(ldap_conn *k, const char *base, const char *filter, char **attrs,
		      ldap_entry_fn fn, void *ud, pve_error **err)
{
	struct berval cookie = { 0 };
	int page_size = LDAP_PAGE_SIZE;
	size_t total = 0;
	bool first = true;
	for (;;) {
		LDAPMessage *res = NULL;
		int lerr = search_page(k, base, filter, attrs, page_size, &cookie, &res);
		int n = res ? ldap_count_entries(k->ld, res) : 0;
		/* A server whose limit is below our page size fails the first page: with as many
		 * entries as it allows per search (then ask again from the start with pages of that
		 * size), or with adminLimitExceeded and none (OpenLDAP's size.pr: halve the page). */
		if (first && ((lerr == LDAP_SIZELIMIT_EXCEEDED && n > 0 && n < page_size) ||
			      (lerr == LDAP_ADMINLIMIT_EXCEEDED && page_size > 1))) {
			ldap_msgfree(res);
			ber_memfree(cookie.bv_val);
			cookie = (struct berval){ 0 };
			page_size = lerr == LDAP_SIZELIMIT_EXCEEDED ? n : page_size / 2;
			continue;
		}
		first = false;
		if (lerr == LDAP_SIZELIMIT_EXCEEDED) {
			ldap_msgfree(res);
			ber_memfree(cookie.bv_val);
			return pve_error_set(
				err, E2BIG,
				"LDAP search under '%s': the server's size limit stops "
				"the search after %zu entries",
				base, total + (size_t)n);
		}
		if (lerr != LDAP_SUCCESS && lerr != LDAP_NO_SUCH_OBJECT) {
			ldap_msgfree(res);
			ber_memfree(cookie.bv_val);
			return lfail(err, lerr, "LDAP search failed");
		}
		total += (size_t)n;
		if (total > PVE_LDAP_MAX_ENTRIES) {
			ldap_msgfree(res);
			ber_memfree(cookie.bv_val);
			return pve_error_set(err, E2BIG,
					     "LDAP search under '%s': more than %d entries", base,
					     PVE_LDAP_MAX_ENTRIES);
		}
		int r = 0;
		for (LDAPMessage *e = ldap_first_entry(k->ld, res); e && r >= 0;
		     e = ldap_next_entry(k->ld, e))
			r = fn(k, e, ud);
		ldap_msgfree(res);
		if (r < 0) {
			ber_memfree(cookie.bv_val);
			return pve_error_set(err, -r, "LDAP search under '%s' failed", base);
		}
		if (!cookie.bv_len) {
			ber_memfree(cookie.bv_val);
			return 0;
		}
	}
}

/* The first value of attr in entry e, as a C string (NULL when absent, empty or holding a NUL). */
static char *first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
	struct berval **vals = ldap_get_values_len(ld, e, attr);
	char *r = NULL;
	if (vals && vals[0] && vals[0]->bv_len && vals[0]->bv_len <= 4096 &&
	    !memchr(vals[0]->bv_val, '\0', vals[0]->bv_len))
		r = xstrndup(vals[0]->bv_val, vals[0]->bv_len);
	ldap_value_free_len(vals);
	return r;
}

/* base_dn, or the directory's defaultNamingContext (an AD realm need not name it). */
static int base_dn(ldap_conn *k, char **ret, pve_error **err)
{
	if (k->c->base_dn) {
		*ret = xstrdup(k->c->base_dn);
		return 0;
	}
	char *attrs[] = { (char *)"defaultNamingContext", NULL };
	LDAPMessage *res = NULL;
	int r = search(k, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 1, &res, err);
	if (r < 0)
		return r;
	LDAPMessage *e = ldap_first_entry(k->ld, res);
	char *v = e ? first_value(k->ld, e, "defaultNamingContext") : NULL;
	ldap_msgfree(res);
	if (!v)
		return pve_error_set(err, EINVAL,
				     "realm '%s' has no base_dn and the server names none",
				     k->c->realm);
	*ret = v;
	return 0;
}

/* "(&(|(objectclass=a)(objectclass=b))(extra))" */
static char *class_filter(char *const *classes, const char *extra, const char *more)
{
	pve_buf b = { 0 };
	pve_buf_puts(&b, "(&(|");
	for (char *const *cl = classes; cl && *cl; cl++)
		pve_buf_printf(&b, "(objectclass=%s)", *cl);
	pve_buf_puts(&b, ")");
	if (extra)
		pve_buf_printf(&b, extra[0] == '(' ? "%s" : "(%s)", extra);
	if (more)
		pve_buf_puts(&b, more);
	pve_buf_puts(&b, ")");
	return pve_buf_steal(&b);
}

int pve_ldap_check_connection(const pve_ldap_config *c, pve_error **err)
{
	ldap_conn k;
	int r = conn_open(c, &k, err);
	if (r < 0)
		return r;
	r = service_bind(&k, err);
	conn_close(&k);
	return r;
}

int pve_ldap_authenticate(const pve_ldap_config *c, const char *username, const char *password,
			  pve_error **err)
{
	if (!username || !*username || !password || !*password)
		return pve_error_set(err, EACCES, "authentication failure");
	ldap_conn k;
	int r = conn_open(c, &k, err);
	if (r < 0)
		return r;
	int lerr;
	if (c->ad) {
		_cleanup_free_ char *upn = !strchr(username, '@') && c->domain ?
						   xasprintf("%s@%s", username, c->domain) :
						   xstrdup(username);
		lerr = simple_bind(&k, upn, password);
		conn_close(&k);
		if (lerr == LDAP_SUCCESS)
			return 0;
		if (unreachable(lerr))
			return lfail(err, lerr, "LDAP");
		return pve_error_set(err, EACCES, "authentication failure: %s",
				     ldap_err2string(lerr));
	}

	_cleanup_free_ char *base = NULL, *filter = NULL, *dn = NULL;
	if ((r = service_bind(&k, err)) < 0 || (r = base_dn(&k, &base, err)) < 0) {
		conn_close(&k);
		return r;
	}
	_cleanup_free_ char *esc = pve_ldap_filter_escape(username);
	if (c->filter)
		filter = xasprintf("(&(%s=%s)%s%s%s)", c->user_attr, esc,
				   c->filter[0] == '(' ? "" : "(", c->filter,
				   c->filter[0] == '(' ? "" : ")");
	else
		filter = xasprintf("(%s=%s)", c->user_attr, esc);
	char *attrs[] = { (char *)LDAP_NO_ATTRS, NULL };
	LDAPMessage *res = NULL;
	r = search(&k, base, LDAP_SCOPE_SUBTREE, filter, attrs, 2, &res, err);
	if (r == -E2BIG) {
		conn_close(&k);
		if (err && *err)
			pve_error_free(*err), *err = NULL;
		return pve_error_set(err, EACCES, "authentication failure: user name not unique");
	}
	if (r < 0) {
		conn_close(&k);
		return r;
	}
	LDAPMessage *e = ldap_first_entry(k.ld, res);
	if (e && ldap_count_entries(k.ld, res) == 1) {
		char *d = ldap_get_dn(k.ld, e);
		dn = d ? xstrdup(d) : NULL;
		ldap_memfree(d);
	}
	ldap_msgfree(res);
	if (!dn) {
		conn_close(&k);
		return pve_error_set(err, EACCES, "authentication failure: no such user in LDAP");
	}
	lerr = simple_bind(&k, dn, password);
	conn_close(&k);
	if (lerr == LDAP_SUCCESS)
		return 0;
	if (unreachable(lerr))
		return lfail(err, lerr, "LDAP");
	return pve_error_set(err, EACCES, "authentication failure: %s", ldap_err2string(lerr));
}

/* ---- sync: reading the directory ---------------------------------------------------------------------- */

void pve_ldap_sync_free(pve_ldap_sync *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_users; i++) {
		free(s->users[i].userid);
		free(s->users[i].dn);
		for (size_t f = 0; f < ELEMENTSOF(s->users[i].fields); f++)
			free(s->users[i].fields[f]);
	}
	free(s->users);
	for (size_t i = 0; i < s->n_groups; i++) {
		free(s->groups[i].groupid);
		strv_free(s->groups[i].members);
	}
	free(s->groups);
	strv_free(s->warnings);
	free(s);
}

static void warn(pve_ldap_sync *s, const char *fmt, ...) _printf_(2, 3);
static void warn(pve_ldap_sync *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sv_push(&s->warnings, xvasprintf(fmt, ap));
	va_end(ap);
}

typedef struct fetch_ctx {
	pve_ldap_sync *s;
	access_hmap *dns; /* lower-case user DN -> index into s->users */
	access_hmap seen; /* userid -> index */
} fetch_ctx;

static int user_entry(ldap_conn *k, LDAPMessage *e, void *ud)
{
	fetch_ctx *x = ud;
	pve_ldap_sync *s = x->s;
	const pve_ldap_config *c = k->c;
	_cleanup_free_ char *name = first_value(k->ld, e, c->user_attr);
	char *d = ldap_get_dn(k->ld, e);
	_cleanup_free_ char *dn = d ? lowercase(d) : NULL;
	ldap_memfree(d);
	if (!name || !dn)
		return 0;
	_cleanup_free_ char *userid = xasprintf("%s@%s", name, c->realm);
	size_t idx;
	if (!pve_userid_valid(userid) || has_ctl(userid)) {
		warn(s, "value '%s' does not look like a valid user name", userid);
		return 0;
	}
	if (access_hmap_get(&x->seen, userid, &idx))
		return 0;
	s->users = xrealloc(s->users, (s->n_users + 1) * sizeof(*s->users));
	pve_ldap_user *u = &s->users[s->n_users];
	*u = (pve_ldap_user){ .userid = TAKE_PTR(userid), .dn = TAKE_PTR(dn) };
	/* The maps keep the strings' pointers, which stay put when the array moves. */
	access_hmap_put(&x->seen, u->userid, s->n_users);
	access_hmap_put(x->dns, u->dn, s->n_users);
	for (size_t f = 0; f < ELEMENTSOF(u->fields); f++) {
		u->fields[f] = first_value(k->ld, e, c->attr_map[f]);
		if (u->fields[f] && has_ctl(u->fields[f])) {
			free(u->fields[f]);
			u->fields[f] = NULL;
		}
	}
	s->n_users++;
	return 0;
}

static int fetch_users(ldap_conn *k, const char *base, pve_ldap_sync *s, access_hmap *dns,
		       pve_error **err)
{
	const pve_ldap_config *c = k->c;
	char *attrs[7] = { c->user_attr };
	for (size_t i = 0; i < ELEMENTSOF(c->attr_map); i++)
		attrs[i + 1] = c->attr_map[i];
	_cleanup_free_ char *filter = class_filter(c->user_classes, c->filter, NULL);
	fetch_ctx x = { .s = s, .dns = dns };
	int r = search_all(k, base, filter, attrs, user_entry, &x, err);
	access_hmap_clear(&x.seen);
	return r;
}

/* A group's name: group_name_attr, else the value of the first RDN (as Proxmox). */
static char *group_name(ldap_conn *k, LDAPMessage *e, const char *dn)
{
	if (k->c->group_name_attr) {
		char *v = first_value(k->ld, e, k->c->group_name_attr);
		if (v)
			return v;
	}
	const char *eq = strchr(dn, '=');
	if (!eq)
		return NULL;
	const char *end = strchr(eq + 1, ',');
	if (!end)
		return NULL;
	const char *a = eq + 1;
	while (a < end && isspace((unsigned char)*a))
		a++;
	while (end > a && isspace((unsigned char)end[-1]))
		end--;
	return end > a ? xstrndup(a, (size_t)(end - a)) : NULL;
}

static int group_entry(ldap_conn *k, LDAPMessage *e, void *ud)
{
	fetch_ctx *x = ud;
	pve_ldap_sync *s = x->s;
	char *d = ldap_get_dn(k->ld, e);
	_cleanup_free_ char *dn = d ? xstrdup(d) : NULL;
	ldap_memfree(d);
	_cleanup_free_ char *name = dn ? group_name(k, e, dn) : NULL;
	if (!name)
		return 0;
	_cleanup_free_ char *groupid = xasprintf("%s-%s", name, k->c->realm);
	if (!access_valid_id(groupid) || strlen(groupid) > 64) {
		warn(s, "value '%s' does not look like a valid group name", groupid);
		return 0;
	}
	size_t idx;
	if (access_hmap_get(&x->seen, groupid, &idx))
		return 0;
	char **members = xcalloc(1, sizeof(char *));
	static const char *const member_attrs[] = { "member", "uniqueMember" };
	for (size_t a = 0; a < ELEMENTSOF(member_attrs); a++) {
		struct berval **vals = ldap_get_values_len(k->ld, e, member_attrs[a]);
		for (size_t v = 0; vals && vals[v]; v++) {
			if (memchr(vals[v]->bv_val, '\0', vals[v]->bv_len))
				continue;
			_cleanup_free_ char *raw = xstrndup(vals[v]->bv_val, vals[v]->bv_len);
			_cleanup_free_ char *m = lowercase(raw);
			if (access_hmap_get(x->dns, m, &idx) &&
			    !sv_contains(members, s->users[idx].userid))
				sv_push(&members, xstrdup(s->users[idx].userid));
		}
		ldap_value_free_len(vals);
	}
	s->groups = xrealloc(s->groups, (s->n_groups + 1) * sizeof(*s->groups));
	s->groups[s->n_groups] =
		(pve_ldap_group){ .groupid = TAKE_PTR(groupid), .members = members };
	access_hmap_put(&x->seen, s->groups[s->n_groups].groupid, s->n_groups);
	s->n_groups++;
	return 0;
}

static int fetch_groups(ldap_conn *k, const char *base, pve_ldap_sync *s, access_hmap *dns,
			pve_error **err)
{
	const pve_ldap_config *c = k->c;
	char *attrs[] = { (char *)"member", (char *)"uniqueMember", c->group_name_attr, NULL };
	_cleanup_free_ char *filter = class_filter(c->group_classes, c->group_filter, NULL);
	fetch_ctx x = { .s = s, .dns = dns };
	int r = search_all(k, c->group_dn ? c->group_dn : base, filter, attrs, group_entry, &x,
			   err);
	access_hmap_clear(&x.seen);
	return r;
}

int pve_ldap_fetch(const pve_ldap_config *c, bool groups, pve_ldap_sync **ret, pve_error **err)
{
	ldap_conn k;
	int r = conn_open(c, &k, err);
	if (r < 0)
		return r;
	pve_ldap_sync *s = xcalloc(1, sizeof(*s));
	s->warnings = xcalloc(1, sizeof(char *));
	access_hmap dns = { 0 };
	_cleanup_free_ char *base = NULL;
	r = service_bind(&k, err);
	if (r >= 0)
		r = base_dn(&k, &base, err);
	if (r >= 0)
		r = fetch_users(&k, base, s, &dns, err);
	if (r >= 0 && groups)
		r = fetch_groups(&k, base, s, &dns, err);
	access_hmap_clear(&dns);
	conn_close(&k);
	if (r < 0) {
		pve_ldap_sync_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* ---- sync: merging into user.cfg ---------------------------------------------------------------------- */

int pve_realm_sync_opts_get(const char *defaults, const char *scope, const char *remove_vanished,
			    int enable_new, pve_realm_sync_opts *ret, pve_error **err)
{
	_cleanup_json_ cJSON *d = NULL;
	if (defaults && *defaults) {
		int r = parse_sync_defaults(defaults, &d, err);
		if (r < 0)
			return r;
	}
	const char *sc = scope ? scope : pve_json_str(d, "scope");
	if (!sc)
		return pve_error_set_param(
			err, EINVAL, "scope",
			"Not passed as parameter and not defined in realm default sync options.");
	pve_realm_sync_opts o = { 0 };
	if (strcmp(sc, "users") == 0)
		o.scope = PVE_SYNC_USERS;
	else if (strcmp(sc, "groups") == 0)
		o.scope = PVE_SYNC_GROUPS;
	else if (strcmp(sc, "both") == 0)
		o.scope = PVE_SYNC_USERS | PVE_SYNC_GROUPS;
	else
		return pve_error_set_param(err, EINVAL, "scope", "invalid scope '%s'", sc);

	const char *rv = remove_vanished ? remove_vanished : pve_json_str(d, "remove-vanished");
	if (rv) {
		if (parse_vanished(rv, &o.remove_vanished) < 0)
			return pve_error_set_param(err, EINVAL, "remove-vanished",
						   "invalid value '%s'", rv);
	} else {
		/* The deprecated full and purge flags, as Proxmox maps them. */
		long long full = 0, purge = 0;
		pve_json_int(d, "full", &full);
		pve_json_int(d, "purge", &purge);
		if (full)
			o.remove_vanished |= PVE_VANISHED_ENTRY | PVE_VANISHED_PROPERTIES;
		if (purge)
			o.remove_vanished |= PVE_VANISHED_ACL;
	}
	long long en = 1;
	if (enable_new >= 0)
		en = enable_new;
	else
		pve_json_int(d, "enable-new", &en);
	o.enable_new = en != 0;
	*ret = o;
	return 0;
}

static void out(FILE *log, const char *fmt, ...) _printf_(2, 3);
static void out(FILE *log, const char *fmt, ...)
{
	if (!log)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(log, fmt, ap);
	va_end(ap);
	fputc('\n', log);
}

/* Removes every ACL entry of subject ugid. */
static int drop_acls(pve_usercfg *c, enum pve_acl_type type, const char *ugid, pve_error **err)
{
	_cleanup_strv_free_ char **paths = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < c->n_acls; i++)
		if (c->acls[i].type == type && strcmp(c->acls[i].ugid, ugid) == 0)
			sv_push(&paths, xstrdup(c->acls[i].path));
	for (char **p = paths; *p; p++) {
		int r = pve_usercfg_set_acl(c, *p, type, ugid, NULL, false, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool in_realm(const char *id, char sep, const char *realm)
{
	const char *p = strrchr(id, sep);
	return p && strcmp(p + 1, realm) == 0;
}

static void set_field(char **field, const char *v)
{
	free(*field);
	*field = v ? xstrdup(v) : NULL;
}

static char **user_field(pve_user *u, size_t f)
{
	char **fields[5] = { &u->firstname, &u->lastname, &u->email, &u->comment, &u->keys };
	return fields[f];
}

static int sync_users(pve_usercfg *c, const char *realm, const pve_ldap_sync *s,
		      const pve_realm_sync_opts *o, FILE *log, pve_error **err)
{
	access_hmap synced = { 0 };
	for (size_t i = 0; i < s->n_users; i++)
		access_hmap_put(&synced, s->users[i].userid, i);
	_cleanup_strv_free_ char **vanished = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < c->n_users; i++) {
		size_t idx;
		if (in_realm(c->users[i].userid, '@', realm) &&
		    !access_hmap_get(&synced, c->users[i].userid, &idx))
			sv_push(&vanished, xstrdup(c->users[i].userid));
	}
	access_hmap_clear(&synced);
	int r = 0;
	for (char **v = vanished; r >= 0 && *v; v++) {
		if (o->remove_vanished & PVE_VANISHED_ENTRY) {
			out(log, "remove user '%s'", *v);
			r = pve_usercfg_delete_user(c, *v, err);
		} else if (o->remove_vanished & PVE_VANISHED_ACL) {
			out(log, "purge users '%s' ACL entries", *v);
			r = drop_acls(c, PVE_ACL_USER, *v, err);
		}
	}
	for (size_t i = 0; r >= 0 && i < s->n_users; i++) {
		const pve_ldap_user *su = &s->users[i];
		pve_user *u = pve_usercfg_find_user(c, su->userid);
		bool overwrite = o->remove_vanished & PVE_VANISHED_PROPERTIES;
		if (!u) {
			out(log, "adding user '%s'", su->userid);
			r = pve_usercfg_add_user(c, su->userid, &u, err);
			if (r < 0)
				break;
			u->enable = o->enable_new;
			overwrite = true;
		} else {
			out(log, overwrite ? "overwriting user '%s'" : "updating user '%s'",
			    su->userid);
		}
		for (size_t f = 0; f < ELEMENTSOF(su->fields); f++)
			if (su->fields[f] || overwrite)
				set_field(user_field(u, f), su->fields[f]);
	}
	return r;
}

/* Makes members (those that are users in c) the group's only members, on both sides. */
static void group_set_members(pve_usercfg *c, pve_group *g, char *const *members)
{
	for (size_t i = 0; i < c->n_users; i++)
		sv_remove(c->users[i].groups, g->groupid);
	strv_free(g->members);
	g->members = xcalloc(1, sizeof(char *));
	for (char *const *m = members; m && *m; m++) {
		pve_user *u = pve_usercfg_find_user(c, *m);
		if (!u || sv_contains(g->members, *m))
			continue;
		sv_push(&g->members, xstrdup(*m));
		if (!sv_contains(u->groups, g->groupid)) {
			sv_push(&u->groups, xstrdup(g->groupid));
			access_strv_sort_uniq(u->groups);
		}
	}
}

static int sync_groups(pve_usercfg *c, const char *realm, const pve_ldap_sync *s,
		       const pve_realm_sync_opts *o, FILE *log, pve_error **err)
{
	_cleanup_strv_free_ char **vanished = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < c->n_groups; i++) {
		const char *id = c->groups[i].groupid;
		bool found = false;
		for (size_t g = 0; g < s->n_groups && !found; g++)
			found = strcmp(s->groups[g].groupid, id) == 0;
		if (in_realm(id, '-', realm) && !found)
			sv_push(&vanished, xstrdup(id));
	}
	int r = 0;
	for (char **v = vanished; r >= 0 && *v; v++) {
		if (o->remove_vanished & PVE_VANISHED_ENTRY) {
			out(log, "remove group '%s'", *v);
			r = pve_usercfg_delete_group(c, *v, err);
		} else if (o->remove_vanished & PVE_VANISHED_ACL) {
			out(log, "purge groups '%s' ACL entries", *v);
			r = drop_acls(c, PVE_ACL_GROUP, *v, err);
		}
	}
	for (size_t i = 0; r >= 0 && i < s->n_groups; i++) {
		const pve_ldap_group *sg = &s->groups[i];
		pve_group *g = pve_usercfg_find_group(c, sg->groupid);
		if (!g) {
			out(log, "adding group '%s'", sg->groupid);
			r = pve_usercfg_add_group(c, sg->groupid, NULL, err);
			g = pve_usercfg_find_group(c, sg->groupid);
		} else if (o->remove_vanished & PVE_VANISHED_PROPERTIES) {
			out(log, "overwriting group '%s'", sg->groupid);
			set_field(&g->comment, NULL);
		} else {
			out(log, "updating group '%s'", sg->groupid);
		}
		if (r >= 0 && g)
			group_set_members(c, g, sg->members);
	}
	return r;
}

int pve_realm_sync_apply(pve_usercfg *c, const char *realm, const pve_ldap_sync *s,
			 const pve_realm_sync_opts *o, FILE *log, pve_error **err)
{
	int r = 0;
	if (o->scope & PVE_SYNC_USERS) {
		out(log, "syncing users");
		r = sync_users(c, realm, s, o, log, err);
	}
	if (r >= 0 && (o->scope & PVE_SYNC_GROUPS)) {
		out(log, "syncing groups");
		r = sync_groups(c, realm, s, o, log, err);
	}
	return r;
}
