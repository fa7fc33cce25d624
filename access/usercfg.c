/* access/usercfg.c: user.cfg (users, tokens, groups, pools, custom roles, ACLs): parse with limits, print in
 * Proxmox's order, and the few lookups and changes the daemon needs. */
#include <ctype.h>

#include "access/access-internal.h"

/* ---- names and paths ------------------------------------------------------------------------------- */

char *pve_acl_path_normalize(const char *path)
{
	if (!path || !*path || strlen(path) > 1024)
		return NULL;
	_cleanup_(pve_buf_free) pve_buf b = { 0 };
	pve_buf_puts(&b, "/");
	for (const char *p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/') {
			if (b.data[b.len - 1] != '/')
				pve_buf_puts(&b, "/");
			continue;
		}
		if (!isalnum(c) && c != '.' && c != '-' && c != '_')
			return NULL;
		pve_buf_append(&b, p, 1);
	}
	if (b.len > 1 && b.data[b.len - 1] == '/')
		b.data[--b.len] = 0;
	return pve_buf_steal(&b);
}

/* One path component: [A-Za-z0-9._-]+ (normalize_path already guarantees the characters). */
static bool vmid_ok(const char *s)
{
	/* [1-9][0-9]{2,} */
	size_t n = strlen(s);
	if (n < 3 || n > 9 || s[0] < '1' || s[0] > '9')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool vlan_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 4 || s[0] < '1' || s[0] > '9')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool pve_acl_path_valid(const char *path)
{
	_cleanup_free_ char *norm = pve_acl_path_normalize(path);
	if (!norm || strcmp(norm, path) != 0)
		return false;
	if (strcmp(path, "/") == 0)
		return true;
	char *parts[8] = { 0 };
	size_t n = 0;
	_cleanup_free_ char *copy = xstrdup(path + 1);
	for (char *save = NULL, *t = strtok_r(copy, "/", &save); t;
	     t = strtok_r(NULL, "/", &save)) {
		if (n == ELEMENTSOF(parts))
			return false;
		parts[n++] = t;
	}
	if (n == 0)
		return false;
	const char *top = parts[0];
	if (strcmp(top, "access") == 0)
		return n == 1 || (n <= 3 && (strcmp(parts[1], "groups") == 0 ||
					     strcmp(parts[1], "realm") == 0));
	if (strcmp(top, "nodes") == 0 || strcmp(top, "storage") == 0)
		return n <= 2;
	if (strcmp(top, "pool") == 0)
		return n <= 4;
	if (strcmp(top, "vms") == 0)
		return n == 1 || (n == 2 && vmid_ok(parts[1]));
	if (strcmp(top, "mapping") == 0)
		return n <= 3;
	if (strcmp(top, "sdn") == 0) {
		if (n == 1)
			return true;
		static const char *const kinds[] = { "controllers", "dns",	    "fabrics",
						     "ipams",	    "prefix-lists", "route-maps",
						     "zones" };
		bool known = false;
		for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
			known |= strcmp(parts[1], kinds[i]) == 0;
		if (!known)
			return false;
		if (strcmp(parts[1], "zones") == 0)
			return n <= 4 || (n == 5 && vlan_ok(parts[4]));
		return n <= 3;
	}
	return false;
}

static bool poolid_ok(const char *s)
{
	/* Nested pools: up to three levels, "a/b/c". */
	if (!*s || strlen(s) > 64 || s[0] == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//"))
		return false;
	int slashes = 0;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/')
			slashes++;
		else if (!isalnum(c) && c != '.' && c != '-' && c != '_')
			return false;
	}
	return slashes <= 2;
}

static bool storeid_ok(const char *s)
{
	/* ^[a-z][a-z0-9\-_.]*[a-z0-9]$/i */
	size_t n = strlen(s);
	if (n < 2 || n > 64 || !isalpha((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

/* ---- text fields: PVE::Tools encode_text / decode_text -------------------------------------------- */

/* Escapes control characters, ':', '%' and bytes >= 0x7f (as Proxmox's encode_text; escaping '%' makes a
 * literal "%41" survive a round trip), and a space at either end, which the parser's trimming of each
 * field would otherwise drop. */
static void encode_text(pve_buf *b, const char *s)
{
	const unsigned char *t = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)t);
	for (size_t i = 0; i < n; i++) {
		bool edge = t[i] == ' ' && (i == 0 || i == n - 1);
		if (t[i] < 0x20 || t[i] >= 0x7f || t[i] == ':' || t[i] == '%' || edge)
			pve_buf_printf(b, "%%%02X", t[i]);
		else
			pve_buf_append(b, &t[i], 1);
	}
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* NULL for an empty field. A decoded NUL ends the string. */
static char *decode_text(const char *s)
{
	if (!*s)
		return NULL;
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
			out[o++] = (char)(hexv(s[i + 1]) << 4 | hexv(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
	if (!out[0]) {
		free(out);
		return NULL;
	}
	return out;
}

static char *raw_text(const char *s)
{
	return *s ? xstrdup(s) : NULL;
}

/* ---- construction and destruction ---------------------------------------------------------------- */

static void user_clear(pve_user *u)
{
	free(u->userid);
	free(u->firstname);
	free(u->lastname);
	free(u->email);
	free(u->comment);
	free(u->keys);
	strv_free(u->groups);
}

static void acl_clear(pve_acl *a)
{
	free(a->path);
	free(a->ugid);
	strv_free(a->roles);
}

void pve_usercfg_free(pve_usercfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_users; i++)
		user_clear(&c->users[i]);
	for (size_t i = 0; i < c->n_tokens; i++) {
		free(c->tokens[i].tokenid);
		free(c->tokens[i].comment);
	}
	for (size_t i = 0; i < c->n_groups; i++) {
		free(c->groups[i].groupid);
		strv_free(c->groups[i].members);
		free(c->groups[i].comment);
	}
	for (size_t i = 0; i < c->n_roles; i++) {
		free(c->roles[i].roleid);
		strv_free(c->roles[i].privs);
	}
	for (size_t i = 0; i < c->n_acls; i++)
		acl_clear(&c->acls[i]);
	for (size_t i = 0; i < c->n_pools; i++) {
		free(c->pools[i].poolid);
		free(c->pools[i].comment);
		strv_free(c->pools[i].vms);
		strv_free(c->pools[i].storage);
	}
	free(c->users);
	free(c->tokens);
	free(c->groups);
	free(c->roles);
	free(c->acls);
	free(c->pools);
	free(c);
}

/* Grows an array by one zeroed element; returns it. */
#define ARRAY_PUSH(arr, n)                                           \
	({                                                           \
		(arr) = xrealloc((arr), ((n) + 1) * sizeof(*(arr))); \
		memset(&(arr)[(n)], 0, sizeof(*(arr)));              \
		&(arr)[(n)++];                                       \
	})

static pve_user *user_push(pve_usercfg *c, const char *userid)
{
	pve_user *u = ARRAY_PUSH(c->users, c->n_users);
	u->userid = xstrdup(userid);
	u->enable = true;
	u->groups = strv_new();
	return u;
}

pve_usercfg *pve_usercfg_new(void)
{
	pve_usercfg *c = xcalloc(1, sizeof(*c));
	/* Like Proxmox, root@pam always exists. */
	user_push(c, "root@pam");
	return c;
}

/* ---- lookups --------------------------------------------------------------------------------------- */

pve_user *pve_usercfg_find_user(const pve_usercfg *c, const char *userid)
{
	for (size_t i = 0; c && userid && i < c->n_users; i++)
		if (strcmp(c->users[i].userid, userid) == 0)
			return &c->users[i];
	return NULL;
}

pve_token *pve_usercfg_find_token(const pve_usercfg *c, const char *tokenid)
{
	for (size_t i = 0; c && tokenid && i < c->n_tokens; i++)
		if (strcmp(c->tokens[i].tokenid, tokenid) == 0)
			return &c->tokens[i];
	return NULL;
}

pve_group *pve_usercfg_find_group(const pve_usercfg *c, const char *groupid)
{
	for (size_t i = 0; c && groupid && i < c->n_groups; i++)
		if (strcmp(c->groups[i].groupid, groupid) == 0)
			return &c->groups[i];
	return NULL;
}

pve_role *pve_usercfg_find_role(const pve_usercfg *c, const char *roleid)
{
	for (size_t i = 0; c && roleid && i < c->n_roles; i++)
		if (strcmp(c->roles[i].roleid, roleid) == 0)
			return &c->roles[i];
	return NULL;
}

pve_pool *pve_usercfg_find_pool(const pve_usercfg *c, const char *poolid)
{
	for (size_t i = 0; c && poolid && i < c->n_pools; i++)
		if (strcmp(c->pools[i].poolid, poolid) == 0)
			return &c->pools[i];
	return NULL;
}

bool pve_usercfg_user_enabled(const pve_usercfg *c, const char *userid, time_t now)
{
	if (!userid)
		return false;
	if (pve_tokenid_valid(userid)) {
		_cleanup_free_ char *user = pve_authid_user(userid);
		const pve_token *t = pve_usercfg_find_token(c, userid);
		if (!t || (t->expire && t->expire < (long long)now))
			return false;
		return pve_usercfg_user_enabled(c, user, now);
	}
	if (strcmp(userid, "root@pam") == 0)
		return true;
	const pve_user *u = pve_usercfg_find_user(c, userid);
	if (!u || !u->enable)
		return false;
	return !(u->expire && u->expire < (long long)now);
}

/* ---- parsing ----------------------------------------------------------------------------------------- */

struct parser {
	pve_usercfg *c;
	access_hmap users, tokens, groups, roles, pools, acls, vms;
	char **acl_keys; /* owned keys of the acls map */
	size_t lineno;
	pve_error **err;
};

static int perr(struct parser *p, const char *fmt, ...) _printf_(2, 3);
static int perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return pve_error_set(p->err, EINVAL, "user.cfg line %zu: %s", p->lineno, msg);
}

static bool parse_epoch(const char *s, long long *ret)
{
	if (!*s) {
		*ret = 0;
		return true;
	}
	size_t n = strlen(s);
	if (n > 18)
		return false;
	long long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

/* Perl truth: "" and "0" are false. */
static bool truthy(const char *s)
{
	return *s && strcmp(s, "0") != 0;
}

static bool role_exists(struct parser *p, const char *roleid)
{
	return pve_builtin_role_privs(roleid) || access_hmap_get(&p->roles, roleid, NULL);
}

static int parse_user(struct parser *p, char **f, size_t nf)
{
	const char *userid = nf > 0 ? f[0] : "";
	if (!pve_userid_valid(userid))
		return perr(p, "invalid user id '%s'", userid);
	long long expire;
	if (!parse_epoch(nf > 2 ? f[2] : "", &expire))
		return perr(p, "invalid expire '%s' for user '%s'", f[2], userid);

	size_t idx;
	pve_user *u;
	if (access_hmap_get(&p->users, userid, &idx)) {
		/* A later line replaces an earlier one, as in Proxmox. */
		u = &p->c->users[idx];
		_cleanup_free_ char *id = TAKE_PTR(u->userid);
		user_clear(u);
		*u = (pve_user){ .userid = TAKE_PTR(id), .groups = strv_new() };
	} else {
		u = user_push(p->c, userid);
		access_hmap_put(&p->users, u->userid, p->c->n_users - 1);
	}
	u->enable = truthy(nf > 1 ? f[1] : "");
	u->expire = expire;
	u->firstname = decode_text(nf > 3 ? f[3] : "");
	u->lastname = decode_text(nf > 4 ? f[4] : "");
	u->email = raw_text(nf > 5 ? f[5] : "");
	u->comment = decode_text(nf > 6 ? f[6] : "");
	u->keys = raw_text(nf > 7 ? f[7] : "");
	return 0;
}

static int parse_token(struct parser *p, char **f, size_t nf)
{
	const char *tokenid = nf > 0 ? f[0] : "";
	if (!pve_tokenid_valid(tokenid))
		return perr(p, "invalid token id '%s'", tokenid);
	long long expire;
	if (!parse_epoch(nf > 1 ? f[1] : "", &expire))
		return perr(p, "invalid expire '%s' for token '%s'", f[1], tokenid);
	_cleanup_free_ char *user = pve_authid_user(tokenid);
	if (!access_hmap_get(&p->users, user, NULL))
		return 0; /* the owner does not exist: dropped, as Proxmox does */

	size_t idx;
	pve_token *t;
	if (access_hmap_get(&p->tokens, tokenid, &idx)) {
		t = &p->c->tokens[idx];
		free(t->comment);
	} else {
		t = ARRAY_PUSH(p->c->tokens, p->c->n_tokens);
		t->tokenid = xstrdup(tokenid);
		access_hmap_put(&p->tokens, t->tokenid, p->c->n_tokens - 1);
	}
	t->expire = expire;
	t->privsep = truthy(nf > 2 ? f[2] : "");
	t->comment = decode_text(nf > 3 ? f[3] : "");
	return 0;
}

/* Appends to *v the items of list for which ok() holds and that *v does not hold yet. Through a hash: a
 * group synced from a directory lists thousands of members, and a scan per member took seconds. */
static void strv_add_new(char ***v, char *const *list, bool (*ok)(const char *s))
{
	size_t n = strv_length(*v), add = strv_length(list);
	access_hmap seen = { 0 };
	for (size_t i = 0; i < n; i++)
		access_hmap_put(&seen, (*v)[i], i);
	*v = xrealloc(*v, (n + add + 1) * sizeof(char *));
	for (char *const *m = list; *m; m++) {
		if (!ok(*m) || access_hmap_get(&seen, *m, NULL))
			continue;
		(*v)[n] = xstrdup(*m);
		access_hmap_put(&seen, (*v)[n], n);
		n++;
	}
	(*v)[n] = NULL;
	access_hmap_clear(&seen);
}

static int parse_group(struct parser *p, char **f, size_t nf)
{
	const char *groupid = nf > 0 ? f[0] : "";
	if (!access_valid_id(groupid) || strlen(groupid) > 64)
		return perr(p, "invalid group id '%s'", groupid);
	size_t idx;
	pve_group *g;
	if (access_hmap_get(&p->groups, groupid, &idx)) {
		g = &p->c->groups[idx];
	} else {
		g = ARRAY_PUSH(p->c->groups, p->c->n_groups);
		g->groupid = xstrdup(groupid);
		g->members = strv_new();
		access_hmap_put(&p->groups, g->groupid, p->c->n_groups - 1);
	}
	char *comment = decode_text(nf > 2 ? f[2] : "");
	if (comment) {
		free(g->comment);
		g->comment = comment;
	}
	/* Invalid names are dropped; members that are not (yet) users are kept, like Proxmox. */
	_cleanup_strv_free_ char **members = access_split_list(nf > 1 ? f[1] : "");
	strv_add_new(&g->members, members, pve_userid_valid);
	return 0;
}

static int parse_role(struct parser *p, char **f, size_t nf)
{
	const char *roleid = nf > 0 ? f[0] : "";
	if (!access_valid_id(roleid) || strlen(roleid) > 64)
		return perr(p, "invalid role id '%s'", roleid);
	/* Built-in roles cannot be redefined (Proxmox overwrites them after parsing). */
	if (pve_builtin_role_privs(roleid))
		return 0;
	size_t idx;
	pve_role *r;
	if (access_hmap_get(&p->roles, roleid, &idx)) {
		r = &p->c->roles[idx];
	} else {
		r = ARRAY_PUSH(p->c->roles, p->c->n_roles);
		r->roleid = xstrdup(roleid);
		r->privs = strv_new();
		access_hmap_put(&p->roles, r->roleid, p->c->n_roles - 1);
	}
	_cleanup_strv_free_ char **privs = access_split_list(nf > 1 ? f[1] : "");
	for (char **pr = privs; *pr; pr++)
		if (pve_privilege_valid(*pr) && !strv_contains(r->privs, *pr))
			strv_push(&r->privs, xstrdup(*pr));
	return 0;
}

static int parse_pool(struct parser *p, char **f, size_t nf)
{
	const char *poolid = nf > 0 ? f[0] : "";
	if (!poolid_ok(poolid))
		return perr(p, "invalid pool id '%s'", poolid);
	size_t idx;
	pve_pool *pool;
	if (access_hmap_get(&p->pools, poolid, &idx)) {
		pool = &p->c->pools[idx];
	} else {
		pool = ARRAY_PUSH(p->c->pools, p->c->n_pools);
		pool->poolid = xstrdup(poolid);
		pool->vms = strv_new();
		pool->storage = strv_new();
		access_hmap_put(&p->pools, pool->poolid, p->c->n_pools - 1);
	}
	char *comment = decode_text(nf > 1 ? f[1] : "");
	if (comment) {
		free(pool->comment);
		pool->comment = comment;
	}
	_cleanup_strv_free_ char **vms = access_split_list(nf > 2 ? f[2] : "");
	for (char **v = vms; *v; v++) {
		const char *s = *v;
		for (const char *q = s; *q; q++)
			if (!isdigit((unsigned char)*q))
				return perr(p, "invalid vmid '%s' in pool '%s'", s, poolid);
		while (s[0] == '0' && s[1])
			s++;
		if (strlen(s) > 9)
			return perr(p, "invalid vmid '%s' in pool '%s'", *v, poolid);
		/* A guest is in one pool at most: later duplicates are dropped, as Proxmox does. */
		if (access_hmap_get(&p->vms, s, NULL))
			continue;
		char *vmid = xstrdup(s);
		strv_push(&pool->vms, vmid);
		access_hmap_put(&p->vms, vmid, 0);
	}
	_cleanup_strv_free_ char **stores = access_split_list(nf > 3 ? f[3] : "");
	for (char **s = stores; *s; s++)
		if (!storeid_ok(*s))
			return perr(p, "invalid storage '%s' in pool '%s'", *s, poolid);
	strv_add_new(&pool->storage, stores, storeid_ok);
	return 0;
}

static char *acl_key(const char *path, enum pve_acl_type type, const char *ugid, bool propagate)
{
	return xasprintf("%s\n%d\n%s\n%d", path, (int)type, ugid, propagate ? 1 : 0);
}

/* Adds role to the (path, subject) pair with the given propagate flag; a role set with the other flag
 * before moves, since Proxmox keeps one flag per (path, subject, role). */
static void parser_acl_add(struct parser *p, const char *path, enum pve_acl_type type,
			   const char *ugid, bool propagate, const char *role)
{
	_cleanup_free_ char *other = acl_key(path, type, ugid, !propagate);
	size_t idx;
	if (access_hmap_get(&p->acls, other, &idx))
		strv_remove(p->c->acls[idx].roles, role);

	char *key = acl_key(path, type, ugid, propagate);
	pve_acl *a;
	if (access_hmap_get(&p->acls, key, &idx)) {
		free(key);
		a = &p->c->acls[idx];
	} else {
		a = ARRAY_PUSH(p->c->acls, p->c->n_acls);
		a->path = xstrdup(path);
		a->propagate = propagate;
		a->type = type;
		a->ugid = xstrdup(ugid);
		a->roles = strv_new();
		strv_push(&p->acl_keys, key);
		access_hmap_put(&p->acls, key, p->c->n_acls - 1);
	}
	if (!strv_contains(a->roles, role))
		strv_push(&a->roles, xstrdup(role));
}

static int parse_acl(struct parser *p, char **f, size_t nf)
{
	const char *prop = nf > 0 ? f[0] : "";
	bool propagate = truthy(prop);
	_cleanup_free_ char *path = pve_acl_path_normalize(nf > 1 ? f[1] : "");
	if (!path)
		return perr(p, "invalid ACL path '%s'", nf > 1 ? f[1] : "");
	_cleanup_strv_free_ char **subjects = access_split_list(nf > 2 ? f[2] : "");
	_cleanup_strv_free_ char **roles = access_split_list(nf > 3 ? f[3] : "");

	for (char **s = subjects; *s; s++) {
		const char *ug = *s;
		if (ug[0] == '@' && access_valid_id(ug + 1))
			continue;
		if (pve_userid_valid(ug) || pve_tokenid_valid(ug))
			continue;
		return perr(p, "invalid user or group '%s' in ACL", ug);
	}
	for (char **r = roles; *r; r++) {
		if (!access_valid_id(*r))
			return perr(p, "invalid role name '%s' in ACL", *r);
		/* Unknown roles are dropped, as Proxmox does. */
		if (!role_exists(p, *r))
			continue;
		for (char **s = subjects; *s; s++) {
			const char *ug = *s;
			if (ug[0] == '@') {
				parser_acl_add(p, path, PVE_ACL_GROUP, ug + 1, propagate, *r);
			} else if (pve_userid_valid(ug)) {
				parser_acl_add(p, path, PVE_ACL_USER, ug, propagate, *r);
			} else if (access_hmap_get(&p->tokens, ug, NULL)) {
				/* Token ACLs count only for tokens that exist. */
				parser_acl_add(p, path, PVE_ACL_TOKEN, ug, propagate, *r);
			}
		}
	}
	return 0;
}

/* Drops ACL entries left without roles and fills each user's groups. */
static void usercfg_finish(pve_usercfg *c)
{
	size_t o = 0;
	for (size_t i = 0; i < c->n_acls; i++) {
		if (!c->acls[i].roles || !c->acls[i].roles[0])
			acl_clear(&c->acls[i]);
		else
			c->acls[o++] = c->acls[i];
	}
	c->n_acls = o;

	access_hmap users = { 0 };
	for (size_t i = 0; i < c->n_users; i++) {
		strv_free(c->users[i].groups);
		c->users[i].groups = strv_new();
		access_hmap_put(&users, c->users[i].userid, i);
	}
	for (size_t g = 0; g < c->n_groups; g++) {
		for (char **m = c->groups[g].members; m && *m; m++) {
			size_t idx;
			if (access_hmap_get(&users, *m, &idx))
				strv_push(&c->users[idx].groups, xstrdup(c->groups[g].groupid));
		}
	}
	for (size_t i = 0; i < c->n_users; i++)
		access_strv_sort_uniq(c->users[i].groups);
	access_hmap_clear(&users);
}

/* Splits a line on ':' and trims each field; Perl's split drops trailing empty fields, we keep them (the
 * handlers treat a missing field as empty). */
static char **split_fields(const char *line, size_t *ret_n)
{
	size_t n = 1;
	for (const char *q = line; *q; q++)
		n += *q == ':';
	char **f = xcalloc(n + 1, sizeof(char *));
	size_t i = 0;
	const char *start = line;
	for (const char *q = line;; q++) {
		if (*q == ':' || !*q) {
			const char *a = start, *b = q;
			while (a < b && isspace((unsigned char)*a))
				a++;
			while (b > a && isspace((unsigned char)b[-1]))
				b--;
			f[i++] = xstrndup(a, (size_t)(b - a));
			if (!*q)
				break;
			start = q + 1;
		}
	}
	*ret_n = i;
	return f;
}

int pve_usercfg_parse(const char *text, size_t len, pve_usercfg **ret, pve_error **err)
{
	if (len > PVE_USERCFG_MAX_SIZE)
		return pve_error_set(err, E2BIG, "user.cfg is larger than %d bytes",
				     PVE_USERCFG_MAX_SIZE);
	if (len && memchr(text, 0, len))
		return pve_error_set(err, EINVAL, "user.cfg contains a NUL byte");

	struct parser p = { .c = pve_usercfg_new(), .err = err };
	p.acl_keys = strv_new();
	access_hmap_put(&p.users, p.c->users[0].userid, 0);
	size_t entries = 0;
	int r = 0;

	for (size_t pos = 0; pos < len && r == 0;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		pos += ll + (nl ? 1 : 0);
		p.lineno++;
		while (ll && isspace((unsigned char)line[ll - 1]))
			ll--;
		while (ll && isspace((unsigned char)*line)) {
			line++;
			ll--;
		}
		if (ll == 0 || *line == '#')
			continue;
		if (++entries > PVE_USERCFG_MAX_ENTRIES) {
			r = pve_error_set(err, E2BIG, "user.cfg has more than %d entries",
					  PVE_USERCFG_MAX_ENTRIES);
			break;
		}
		_cleanup_free_ char *l = xstrndup(line, ll);
		for (const char *q = l; *q; q++) {
			if ((unsigned char)*q < 0x20 && *q != '\t') {
				r = perr(&p, "control character in line");
				break;
			}
		}
		if (r < 0)
			break;
		size_t nf;
		_cleanup_strv_free_ char **f = split_fields(l, &nf);
		const char *kind = f[0];
		if (strcmp(kind, "user") == 0)
			r = parse_user(&p, f + 1, nf - 1);
		else if (strcmp(kind, "token") == 0)
			r = parse_token(&p, f + 1, nf - 1);
		else if (strcmp(kind, "group") == 0)
			r = parse_group(&p, f + 1, nf - 1);
		else if (strcmp(kind, "role") == 0)
			r = parse_role(&p, f + 1, nf - 1);
		else if (strcmp(kind, "acl") == 0)
			r = parse_acl(&p, f + 1, nf - 1);
		else if (strcmp(kind, "pool") == 0)
			r = parse_pool(&p, f + 1, nf - 1);
		else
			r = perr(&p, "unknown entry type '%.32s'", kind);
	}

	access_hmap_clear(&p.users);
	access_hmap_clear(&p.tokens);
	access_hmap_clear(&p.groups);
	access_hmap_clear(&p.roles);
	access_hmap_clear(&p.pools);
	access_hmap_clear(&p.acls);
	access_hmap_clear(&p.vms);
	strv_free(p.acl_keys);
	if (r < 0) {
		pve_usercfg_free(p.c);
		return r;
	}
	usercfg_finish(p.c);
	*ret = p.c;
	return 0;
}

/* ---- printing ---------------------------------------------------------------------------------------- */

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct sort_kv {
	const char *k;
	size_t i;
};

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct sort_kv *)a)->k, ((const struct sort_kv *)b)->k);
}

/* Indices of n elements sorted by the string at offset off in each element of size sz. */
static size_t *sorted_index(const void *base, size_t n, size_t sz, size_t off)
{
	_cleanup_free_ struct sort_kv *kv = xmalloc((n + 1) * sizeof(*kv));
	size_t *idx = xmalloc((n + 1) * sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		kv[i].k = *(const char *const *)((const char *)base + i * sz + off);
		kv[i].i = i;
	}
	qsort(kv, n, sizeof(*kv), cmp_kv);
	for (size_t i = 0; i < n; i++)
		idx[i] = kv[i].i;
	return idx;
}

static void join_sorted(pve_buf *b, char *const *v, const char *prefix)
{
	size_t n = strv_length(v);
	_cleanup_free_ char **copy = xmalloc((n + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++)
		copy[i] = v[i];
	qsort(copy, n, sizeof(char *), cmp_strp);
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(copy[i], copy[i - 1]) == 0)
			continue;
		pve_buf_printf(b, "%s%s%s", i ? "," : "", prefix, copy[i]);
	}
}

/* Paths in tree order: "/" first, then depth first with each level's names sorted ('/' sorts first). */
static int cmp_path(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (ca == '/')
			ca = 1;
		if (cb == '/')
			cb = 1;
		if (ca != cb || !ca)
			return (int)ca - (int)cb;
	}
}

struct acl_line {
	const char *path;
	int propagate;
	char *roles; /* joined, sorted */
	char *subject; /* "@group", "user", "user!token" */
};

static int cmp_acl_line(const void *x, const void *y)
{
	const struct acl_line *a = x, *b = y;
	int r = cmp_path(a->path, b->path);
	if (r)
		return r;
	if (a->propagate != b->propagate)
		return a->propagate - b->propagate;
	r = strcmp(a->roles, b->roles);
	if (r)
		return r;
	return strcmp(a->subject, b->subject);
}

static void print_acls(pve_buf *b, const pve_usercfg *c)
{
	struct acl_line *lines = xmalloc((c->n_acls + 1) * sizeof(*lines));
	size_t n = 0;
	for (size_t i = 0; i < c->n_acls; i++) {
		const pve_acl *a = &c->acls[i];
		/* root@pam is always Administrator: Proxmox does not save its ACLs. */
		if (a->type == PVE_ACL_USER && strcmp(a->ugid, "root@pam") == 0)
			continue;
		if (!a->roles || !a->roles[0])
			continue;
		pve_buf rb = { 0 };
		join_sorted(&rb, a->roles, "");
		lines[n++] = (struct acl_line){
			.path = a->path,
			.propagate = a->propagate ? 1 : 0,
			.roles = pve_buf_steal(&rb),
			.subject = xasprintf("%s%s", a->type == PVE_ACL_GROUP ? "@" : "", a->ugid),
		};
	}
	qsort(lines, n, sizeof(*lines), cmp_acl_line);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		pve_buf_printf(b, "acl:%d:%s:", lines[i].propagate, lines[i].path);
		for (; j < n && strcmp(lines[j].path, lines[i].path) == 0 &&
		       lines[j].propagate == lines[i].propagate &&
		       strcmp(lines[j].roles, lines[i].roles) == 0;
		     j++) {
			if (j > i && strcmp(lines[j].subject, lines[j - 1].subject) == 0)
				continue;
			pve_buf_printf(b, "%s%s", j > i ? "," : "", lines[j].subject);
		}
		pve_buf_printf(b, ":%s:\n", lines[i].roles);
		i = j;
	}
	for (size_t i = 0; i < n; i++) {
		free(lines[i].roles);
		free(lines[i].subject);
	}
	free(lines);
}

char *pve_usercfg_print(const pve_usercfg *c)
{
	_cleanup_(pve_buf_free) pve_buf b = { 0 };

	_cleanup_free_ size_t *ui =
		sorted_index(c->users, c->n_users, sizeof(pve_user), offsetof(pve_user, userid));
	_cleanup_free_ size_t *ti = sorted_index(c->tokens, c->n_tokens, sizeof(pve_token),
						 offsetof(pve_token, tokenid));
	for (size_t k = 0; k < c->n_users; k++) {
		const pve_user *u = &c->users[ui[k]];
		pve_buf_printf(&b, "user:%s:%d:%lld:", u->userid, u->enable ? 1 : 0, u->expire);
		encode_text(&b, u->firstname);
		pve_buf_puts(&b, ":");
		encode_text(&b, u->lastname);
		pve_buf_printf(&b, ":%s:", u->email ? u->email : "");
		encode_text(&b, u->comment);
		pve_buf_printf(&b, ":%s:\n", u->keys ? u->keys : "");

		/* The user's tokens follow it: "user@realm!" prefixes them, so they are adjacent in sorted
		 * order, starting at the first id not below that prefix. */
		_cleanup_free_ char *prefix = xasprintf("%s!", u->userid);
		size_t ul = strlen(prefix), lo = 0, hi = c->n_tokens;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (strcmp(c->tokens[ti[mid]].tokenid, prefix) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t m = lo; m < c->n_tokens; m++) {
			const pve_token *t = &c->tokens[ti[m]];
			if (strncmp(t->tokenid, prefix, ul) != 0)
				break;
			if (strchr(t->tokenid + ul, '!'))
				continue;
			pve_buf_printf(&b, "token:%s:%lld:%d:", t->tokenid, t->expire,
				       t->privsep ? 1 : 0);
			encode_text(&b, t->comment);
			pve_buf_puts(&b, ":\n");
		}
	}
	pve_buf_puts(&b, "\n");

	_cleanup_free_ size_t *gi = sorted_index(c->groups, c->n_groups, sizeof(pve_group),
						 offsetof(pve_group, groupid));
	for (size_t k = 0; k < c->n_groups; k++) {
		const pve_group *g = &c->groups[gi[k]];
		pve_buf_printf(&b, "group:%s:", g->groupid);
		join_sorted(&b, g->members, "");
		pve_buf_puts(&b, ":");
		encode_text(&b, g->comment);
		pve_buf_puts(&b, ":\n");
	}
	pve_buf_puts(&b, "\n");

	_cleanup_free_ size_t *pi =
		sorted_index(c->pools, c->n_pools, sizeof(pve_pool), offsetof(pve_pool, poolid));
	for (size_t k = 0; k < c->n_pools; k++) {
		const pve_pool *p = &c->pools[pi[k]];
		pve_buf_printf(&b, "pool:%s:", p->poolid);
		encode_text(&b, p->comment);
		pve_buf_puts(&b, ":");
		join_sorted(&b, p->vms, "");
		pve_buf_puts(&b, ":");
		join_sorted(&b, p->storage, "");
		pve_buf_puts(&b, ":\n");
	}
	pve_buf_puts(&b, "\n");

	_cleanup_free_ size_t *ri =
		sorted_index(c->roles, c->n_roles, sizeof(pve_role), offsetof(pve_role, roleid));
	for (size_t k = 0; k < c->n_roles; k++) {
		const pve_role *r = &c->roles[ri[k]];
		if (pve_builtin_role_privs(r->roleid))
			continue;
		pve_buf_printf(&b, "role:%s:", r->roleid);
		join_sorted(&b, r->privs, "");
		pve_buf_puts(&b, ":\n");
	}
	pve_buf_puts(&b, "\n");

	print_acls(&b, c);
	return pve_buf_steal(&b);
}

/* ---- changes ----------------------------------------------------------------------------------------- */

int pve_usercfg_add_user(pve_usercfg *c, const char *userid, pve_user **ret, pve_error **err)
{
	if (!userid || !pve_userid_valid(userid))
		return pve_error_set_param(err, EINVAL, "userid", "invalid user id '%s'",
					   userid ? userid : "");
	if (pve_usercfg_find_user(c, userid))
		return pve_error_set_param(err, EEXIST, "userid", "user '%s' already exists",
					   userid);
	if (c->n_users >= PVE_USERCFG_MAX_ENTRIES)
		return pve_error_set(err, E2BIG, "too many users");
	pve_user *u = user_push(c, userid);
	/* Groups that already list this user name now apply to it. */
	for (size_t g = 0; g < c->n_groups; g++)
		if (strv_contains(c->groups[g].members, userid))
			strv_push(&u->groups, xstrdup(c->groups[g].groupid));
	access_strv_sort_uniq(u->groups);
	if (ret)
		*ret = u;
	return 0;
}

int pve_usercfg_set_acl(pve_usercfg *c, const char *path, enum pve_acl_type type, const char *ugid,
			char *const *roles, bool propagate, pve_error **err)
{
	if (!path || !pve_acl_path_valid(path))
		return pve_error_set_param(err, EINVAL, "path", "invalid ACL path '%s'",
					   path ? path : "");
	if (!ugid)
		return pve_error_set(err, EINVAL, "no user, group or token");
	switch (type) {
	case PVE_ACL_USER:
		if (!pve_usercfg_find_user(c, ugid))
			return pve_error_set_param(err, EINVAL, "users", "user '%s' does not exist",
						   ugid);
		break;
	case PVE_ACL_GROUP:
		if (!pve_usercfg_find_group(c, ugid))
			return pve_error_set_param(err, EINVAL, "groups",
						   "group '%s' does not exist", ugid);
		break;
	case PVE_ACL_TOKEN:
		if (!pve_usercfg_find_token(c, ugid))
			return pve_error_set_param(err, EINVAL, "tokens",
						   "token '%s' does not exist", ugid);
		break;
	default:
		return pve_error_set(err, EINVAL, "invalid ACL subject type");
	}
	for (char *const *r = roles; r && *r; r++)
		if (!pve_builtin_role_privs(*r) && !pve_usercfg_find_role(c, *r))
			return pve_error_set_param(err, EINVAL, "roles", "role '%s' does not exist",
						   *r);

	/* Drop what the subject had on this path, then add the new entry. */
	size_t o = 0;
	for (size_t i = 0; i < c->n_acls; i++) {
		pve_acl *a = &c->acls[i];
		if (a->type == type && strcmp(a->path, path) == 0 && strcmp(a->ugid, ugid) == 0)
			acl_clear(a);
		else
			c->acls[o++] = *a;
	}
	c->n_acls = o;
	if (!roles || !roles[0])
		return 0;
	if (c->n_acls >= PVE_USERCFG_MAX_ENTRIES)
		return pve_error_set(err, E2BIG, "too many ACL entries");
	pve_acl *a = ARRAY_PUSH(c->acls, c->n_acls);
	a->path = xstrdup(path);
	a->propagate = propagate;
	a->type = type;
	a->ugid = xstrdup(ugid);
	a->roles = strv_new();
	for (char *const *r = roles; *r; r++)
		if (!strv_contains(a->roles, *r))
			strv_push(&a->roles, xstrdup(*r));
	return 0;
}

/* Removes every ACL entry for which drop() is true. */
static void acls_filter(pve_usercfg *c, bool (*drop)(const pve_acl *a, const void *arg),
			const void *arg)
{
	size_t o = 0;
	for (size_t i = 0; i < c->n_acls; i++) {
		if (drop(&c->acls[i], arg))
			acl_clear(&c->acls[i]);
		else
			c->acls[o++] = c->acls[i];
	}
	c->n_acls = o;
}

static bool drop_user_acl(const pve_acl *a, const void *arg)
{
	const char *userid = arg;
	if (a->type == PVE_ACL_USER)
		return strcmp(a->ugid, userid) == 0;
	return a->type == PVE_ACL_TOKEN && pve_authid_of_user(a->ugid, userid);
}

int pve_usercfg_delete_user(pve_usercfg *c, const char *userid, pve_error **err)
{
	pve_user *u = pve_usercfg_find_user(c, userid);
	if (!u)
		return pve_error_set_param(err, ENOENT, "userid", "no such user ('%s')",
					   userid ? userid : "");
	size_t idx = (size_t)(u - c->users);
	user_clear(u);
	memmove(&c->users[idx], &c->users[idx + 1], (c->n_users - idx - 1) * sizeof(*u));
	c->n_users--;

	size_t o = 0;
	for (size_t i = 0; i < c->n_tokens; i++) {
		if (pve_authid_of_user(c->tokens[i].tokenid, userid)) {
			free(c->tokens[i].tokenid);
			free(c->tokens[i].comment);
		} else {
			c->tokens[o++] = c->tokens[i];
		}
	}
	c->n_tokens = o;
	for (size_t g = 0; g < c->n_groups; g++)
		strv_remove(c->groups[g].members, userid);
	acls_filter(c, drop_user_acl, userid);
	return 0;
}

int pve_usercfg_set_user_groups(pve_usercfg *c, const char *userid, char *const *groups,
				bool append, pve_error **err)
{
	pve_user *u = pve_usercfg_find_user(c, userid);
	if (!u)
		return pve_error_set_param(err, ENOENT, "userid", "no such user ('%s')",
					   userid ? userid : "");
	for (char *const *g = groups; g && *g; g++)
		if (!pve_usercfg_find_group(c, *g))
			return pve_error_set_param(err, EINVAL, "groups", "no such group '%s'", *g);
	if (!append) {
		for (size_t g = 0; g < c->n_groups; g++)
			strv_remove(c->groups[g].members, userid);
		strv_free(u->groups);
		u->groups = strv_new();
	}
	for (char *const *g = groups; g && *g; g++) {
		pve_group *grp = pve_usercfg_find_group(c, *g);
		if (!strv_contains(grp->members, userid))
			strv_push(&grp->members, xstrdup(userid));
		if (!strv_contains(u->groups, *g))
			strv_push(&u->groups, xstrdup(*g));
	}
	access_strv_sort_uniq(u->groups);
	return 0;
}

int pve_usercfg_add_group(pve_usercfg *c, const char *groupid, const char *comment, pve_error **err)
{
	if (!groupid || !access_valid_id(groupid) || strlen(groupid) > 64)
		return pve_error_set_param(err, EINVAL, "groupid", "invalid group id '%s'",
					   groupid ? groupid : "");
	if (pve_usercfg_find_group(c, groupid))
		return pve_error_set_param(err, EEXIST, "groupid", "group '%s' already exists",
					   groupid);
	if (c->n_groups >= PVE_USERCFG_MAX_ENTRIES)
		return pve_error_set(err, E2BIG, "too many groups");
	pve_group *g = ARRAY_PUSH(c->groups, c->n_groups);
	g->groupid = xstrdup(groupid);
	g->members = strv_new();
	g->comment = comment && *comment ? xstrdup(comment) : NULL;
	return 0;
}

static bool drop_group_acl(const pve_acl *a, const void *arg)
{
	return a->type == PVE_ACL_GROUP && strcmp(a->ugid, arg) == 0;
}

int pve_usercfg_delete_group(pve_usercfg *c, const char *groupid, pve_error **err)
{
	pve_group *g = pve_usercfg_find_group(c, groupid);
	if (!g)
		return pve_error_set_param(err, ENOENT, "groupid", "group '%s' does not exist",
					   groupid ? groupid : "");
	size_t idx = (size_t)(g - c->groups);
	free(g->groupid);
	strv_free(g->members);
	free(g->comment);
	memmove(&c->groups[idx], &c->groups[idx + 1], (c->n_groups - idx - 1) * sizeof(*g));
	c->n_groups--;
	for (size_t i = 0; i < c->n_users; i++)
		strv_remove(c->users[i].groups, groupid);
	acls_filter(c, drop_group_acl, groupid);
	return 0;
}

int pve_usercfg_set_role(pve_usercfg *c, const char *roleid, char *const *privs, bool create,
			 bool append, pve_error **err)
{
	if (!roleid || !access_valid_id(roleid) || strlen(roleid) > 64)
		return pve_error_set_param(err, EINVAL, "roleid", "invalid role id '%s'",
					   roleid ? roleid : "");
	if (pve_builtin_role_privs(roleid))
		return pve_error_set_param(err, EINVAL, "roleid",
					   "cannot modify built-in role '%s'", roleid);
	for (char *const *p = privs; p && *p; p++)
		if (!pve_privilege_valid(*p))
			return pve_error_set_param(err, EINVAL, "privs", "invalid privilege '%s'",
						   *p);
	pve_role *r = pve_usercfg_find_role(c, roleid);
	if (create && r)
		return pve_error_set_param(err, EEXIST, "roleid", "role '%s' already exists",
					   roleid);
	if (!create && !r)
		return pve_error_set_param(err, ENOENT, "roleid", "role '%s' does not exist",
					   roleid);
	if (!r) {
		if (c->n_roles >= PVE_USERCFG_MAX_ENTRIES)
			return pve_error_set(err, E2BIG, "too many roles");
		r = ARRAY_PUSH(c->roles, c->n_roles);
		r->roleid = xstrdup(roleid);
		r->privs = strv_new();
	} else if (!append) {
		strv_free(r->privs);
		r->privs = strv_new();
	}
	for (char *const *p = privs; p && *p; p++)
		if (!strv_contains(r->privs, *p))
			strv_push(&r->privs, xstrdup(*p));
	access_strv_sort_uniq(r->privs);
	return 0;
}

int pve_usercfg_delete_role(pve_usercfg *c, const char *roleid, pve_error **err)
{
	if (roleid && pve_builtin_role_privs(roleid))
		return pve_error_set_param(err, EINVAL, "roleid",
					   "cannot delete built-in role '%s'", roleid);
	pve_role *r = pve_usercfg_find_role(c, roleid);
	if (!r)
		return pve_error_set_param(err, ENOENT, "roleid", "role '%s' does not exist",
					   roleid ? roleid : "");
	size_t idx = (size_t)(r - c->roles);
	free(r->roleid);
	strv_free(r->privs);
	memmove(&c->roles[idx], &c->roles[idx + 1], (c->n_roles - idx - 1) * sizeof(*r));
	c->n_roles--;
	/* Entries left without a role go, as on the next parse. */
	for (size_t i = 0; i < c->n_acls; i++)
		strv_remove(c->acls[i].roles, roleid);
	size_t o = 0;
	for (size_t i = 0; i < c->n_acls; i++) {
		if (!c->acls[i].roles || !c->acls[i].roles[0])
			acl_clear(&c->acls[i]);
		else
			c->acls[o++] = c->acls[i];
	}
	c->n_acls = o;
	return 0;
}

int pve_usercfg_add_token(pve_usercfg *c, const char *tokenid, long long expire, bool privsep,
			  const char *comment, pve_token **ret, pve_error **err)
{
	if (!tokenid || !pve_tokenid_valid(tokenid))
		return pve_error_set_param(err, EINVAL, "tokenid", "invalid token id '%s'",
					   tokenid ? tokenid : "");
	_cleanup_free_ char *user = pve_authid_user(tokenid);
	if (!pve_usercfg_find_user(c, user))
		return pve_error_set_param(err, ENOENT, "userid", "no such user ('%s')", user);
	if (pve_usercfg_find_token(c, tokenid))
		return pve_error_set_param(err, EEXIST, "tokenid", "token '%s' already exists",
					   tokenid);
	if (expire < 0)
		return pve_error_set_param(err, EINVAL, "expire", "invalid expire %lld", expire);
	if (c->n_tokens >= PVE_USERCFG_MAX_ENTRIES)
		return pve_error_set(err, E2BIG, "too many tokens");
	pve_token *t = ARRAY_PUSH(c->tokens, c->n_tokens);
	t->tokenid = xstrdup(tokenid);
	t->expire = expire;
	t->privsep = privsep;
	t->comment = comment && *comment ? xstrdup(comment) : NULL;
	if (ret)
		*ret = t;
	return 0;
}

static bool drop_token_acl(const pve_acl *a, const void *arg)
{
	return a->type == PVE_ACL_TOKEN && strcmp(a->ugid, arg) == 0;
}

int pve_usercfg_delete_token(pve_usercfg *c, const char *tokenid, pve_error **err)
{
	pve_token *t = pve_usercfg_find_token(c, tokenid);
	if (!t)
		return pve_error_set_param(err, ENOENT, "tokenid", "no such token '%s'",
					   tokenid ? tokenid : "");
	size_t idx = (size_t)(t - c->tokens);
	free(t->tokenid);
	free(t->comment);
	memmove(&c->tokens[idx], &c->tokens[idx + 1], (c->n_tokens - idx - 1) * sizeof(*t));
	c->n_tokens--;
	acls_filter(c, drop_token_acl, tokenid);
	return 0;
}

int pve_usercfg_acl_update(pve_usercfg *c, const char *path, enum pve_acl_type type,
			   const char *ugid, const char *role, bool propagate, bool remove,
			   pve_error **err)
{
	if (!path || !pve_acl_path_valid(path))
		return pve_error_set_param(err, EINVAL, "path", "invalid ACL path '%s'",
					   path ? path : "");
	if (!role || (!pve_builtin_role_privs(role) && !pve_usercfg_find_role(c, role)))
		return pve_error_set_param(err, EINVAL, "roles", "role '%s' does not exist",
					   role ? role : "");
	if (!ugid)
		return pve_error_set(err, EINVAL, "no user, group or token");
	if (type == PVE_ACL_USER && !pve_usercfg_find_user(c, ugid))
		return pve_error_set_param(err, EINVAL, "users", "user '%s' does not exist", ugid);
	if (type == PVE_ACL_GROUP && !pve_usercfg_find_group(c, ugid))
		return pve_error_set_param(err, EINVAL, "groups", "group '%s' does not exist",
					   ugid);
	if (type == PVE_ACL_TOKEN && !pve_usercfg_find_token(c, ugid))
		return pve_error_set_param(err, EINVAL, "tokens", "token '%s' does not exist",
					   ugid);

	/* A role has one propagate flag per subject and path: take it out wherever it is. */
	pve_acl *target = NULL;
	for (size_t i = 0; i < c->n_acls; i++) {
		pve_acl *a = &c->acls[i];
		if (a->type != type || strcmp(a->path, path) != 0 || strcmp(a->ugid, ugid) != 0)
			continue;
		strv_remove(a->roles, role);
		if (a->propagate == propagate)
			target = a;
	}
	if (!remove) {
		if (!target) {
			if (c->n_acls >= PVE_USERCFG_MAX_ENTRIES)
				return pve_error_set(err, E2BIG, "too many ACL entries");
			target = ARRAY_PUSH(c->acls, c->n_acls);
			target->path = xstrdup(path);
			target->propagate = propagate;
			target->type = type;
			target->ugid = xstrdup(ugid);
			target->roles = strv_new();
		}
		strv_push(&target->roles, xstrdup(role));
	}
	size_t o = 0;
	for (size_t i = 0; i < c->n_acls; i++) {
		if (!c->acls[i].roles || !c->acls[i].roles[0])
			acl_clear(&c->acls[i]);
		else
			c->acls[o++] = c->acls[i];
	}
	c->n_acls = o;
	return 0;
}
