/* access/perms.c: permission evaluation: user.cfg compiled once into a tree of ACL paths whose entries hold
 * privilege bitmasks, so a check is a walk down a few nodes with binary searches. */
#include <cjson/cJSON.h>

#include "access/access-internal.h"

#define PATH_MAX_DEPTH 16

/* A set of roles reduced to what evaluation needs: their privileges, those of the roles among them that
 * propagate (Proxmox reports a privilege's propagate flag), whether NoAccess is among them, and
 * whether there is any role at all (an empty custom role still replaces inherited roles). */
struct rset {
	uint64_t mask;
	uint64_t pmask;
	bool noaccess;
	bool any;
};

enum { SUBJ_TOKEN = 0, SUBJ_USER = 1, SUBJ_GROUP = 2 };

struct acl_ent {
	uint32_t kind;
	uint32_t subj;
	struct rset prop; /* roles that propagate: they count below this path too */
	struct rset all; /* every role: they count at this exact path */
};

struct node {
	char *name;
	struct node *children; /* sorted by name */
	size_t n_children, cap_children;
	struct acl_ent *ents; /* sorted by (kind, subj) */
	size_t n_ents, cap_ents;
	access_hmap *child_map; /* name -> child index, only while building */
};

struct cuser {
	char *id;
	bool enable;
	long long expire;
	uint32_t *groups; /* sorted group indices */
	size_t n_groups;
};

struct ctoken {
	char *id;
	uint32_t user;
	long long expire;
	bool privsep;
};

struct member_pools {
	char *key; /* "v<vmid>" or "s<storeid>" */
	uint32_t *pools;
	size_t n;
};

struct pve_perms {
	struct node root;
	struct cuser *users;
	size_t n_users;
	struct ctoken *tokens;
	size_t n_tokens;
	char **groups;
	size_t n_groups;
	char **pool_paths; /* "/pool/<id>" by pool index */
	size_t n_pools;
	struct member_pools *members;
	size_t n_members;
	access_hmap user_map, token_map, group_map, member_map;
	uint32_t root_user; /* index of root@pam */
};

/* ---- building ----------------------------------------------------------------------------------------- */

static void rset_add(struct rset *s, const struct rset *r)
{
	s->mask |= r->mask;
	s->pmask |= r->pmask;
	s->noaccess |= r->noaccess;
	s->any |= r->any;
}

static struct node *node_child(struct node *n, const char *name, size_t len)
{
	_cleanup_free_ char *key = xstrndup(name, len);
	size_t idx;
	if (!n->child_map)
		n->child_map = xcalloc(1, sizeof(*n->child_map));
	else if (access_hmap_get(n->child_map, key, &idx))
		return &n->children[idx];
	if (n->n_children == n->cap_children) {
		n->cap_children = n->cap_children ? n->cap_children * 2 : 4;
		n->children = xrealloc(n->children, n->cap_children * sizeof(*n->children));
	}
	struct node *c = &n->children[n->n_children];
	*c = (struct node){ .name = TAKE_PTR(key) };
	/* The name string does not move when the children array does. */
	access_hmap_put(n->child_map, c->name, n->n_children++);
	return c;
}

static void child_maps_free(struct node *n)
{
	if (n->child_map) {
		access_hmap_clear(n->child_map);
		free(n->child_map);
		n->child_map = NULL;
	}
	for (size_t i = 0; i < n->n_children; i++)
		child_maps_free(&n->children[i]);
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

static int cmp_ent(const void *a, const void *b)
{
	const struct acl_ent *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->subj != y->subj)
		return x->subj < y->subj ? -1 : 1;
	return 0;
}

/* Sorts children and entries and merges duplicate entries, recursively. */
static void node_finish(struct node *n)
{
	if (n->n_children > 1)
		qsort(n->children, n->n_children, sizeof(*n->children), cmp_node);
	for (size_t i = 0; i < n->n_children; i++)
		node_finish(&n->children[i]);
	if (n->n_ents == 0)
		return;
	qsort(n->ents, n->n_ents, sizeof(*n->ents), cmp_ent);
	size_t o = 0;
	for (size_t i = 1; i < n->n_ents; i++) {
		if (cmp_ent(&n->ents[o], &n->ents[i]) == 0) {
			rset_add(&n->ents[o].prop, &n->ents[i].prop);
			rset_add(&n->ents[o].all, &n->ents[i].all);
		} else {
			n->ents[++o] = n->ents[i];
		}
	}
	n->n_ents = o + 1;
}

static void node_clear(struct node *n)
{
	if (n->child_map) {
		access_hmap_clear(n->child_map);
		free(n->child_map);
	}
	for (size_t i = 0; i < n->n_children; i++)
		node_clear(&n->children[i]);
	free(n->children);
	free(n->ents);
	free(n->name);
}

/* Splits a path into components (empty ones skipped); false if it is too deep. */
static bool path_split(const char *path, const char *comp[], size_t len[], size_t *n)
{
	*n = 0;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != '/')
			p++;
		if (*n == PATH_MAX_DEPTH)
			return false;
		comp[*n] = start;
		len[*n] = (size_t)(p - start);
		(*n)++;
	}
	return true;
}

static bool role_rset(const pve_usercfg *c, const char *roleid, struct rset *ret)
{
	const char *const *privs = pve_builtin_role_privs(roleid);
	if (!privs) {
		const pve_role *r = pve_usercfg_find_role(c, roleid);
		if (!r)
			return false;
		privs = (const char *const *)r->privs;
	}
	*ret = (struct rset){
		.mask = access_privs_mask(privs),
		.noaccess = strcmp(roleid, "NoAccess") == 0,
		.any = true,
	};
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void member_add(pve_perms *p, const char *key, uint32_t pool)
{
	size_t idx;
	if (!access_hmap_get(&p->member_map, key, &idx)) {
		p->members = xrealloc(p->members, (p->n_members + 1) * sizeof(*p->members));
		p->members[p->n_members] = (struct member_pools){ .key = xstrdup(key) };
		idx = p->n_members++;
		access_hmap_put(&p->member_map, p->members[idx].key, idx);
	}
	struct member_pools *m = &p->members[idx];
	m->pools = xrealloc(m->pools, (m->n + 1) * sizeof(*m->pools));
	m->pools[m->n++] = pool;
}

int pve_perms_build(const pve_usercfg *c, pve_perms **ret, pve_error **err)
{
	(void)err;
	pve_perms *p = xcalloc(1, sizeof(*p));
	p->root.name = xstrdup("");

	/* Users (root@pam always), groups, tokens of existing users. */
	p->users = xcalloc(c->n_users + 1, sizeof(*p->users));
	for (size_t i = 0; i < c->n_users; i++) {
		const pve_user *u = &c->users[i];
		if (access_hmap_get(&p->user_map, u->userid, NULL))
			continue;
		p->users[p->n_users] =
			(struct cuser){ xstrdup(u->userid), u->enable, u->expire, NULL, 0 };
		access_hmap_put(&p->user_map, p->users[p->n_users].id, p->n_users);
		p->n_users++;
	}
	size_t idx;
	if (!access_hmap_get(&p->user_map, "root@pam", &idx)) {
		p->users[p->n_users] = (struct cuser){ xstrdup("root@pam"), true, 0, NULL, 0 };
		access_hmap_put(&p->user_map, p->users[p->n_users].id, p->n_users);
		idx = p->n_users++;
	}
	p->root_user = (uint32_t)idx;

	p->groups = xcalloc(c->n_groups + 1, sizeof(char *));
	for (size_t g = 0; g < c->n_groups; g++) {
		if (access_hmap_get(&p->group_map, c->groups[g].groupid, NULL))
			continue;
		uint32_t gi = (uint32_t)p->n_groups;
		p->groups[p->n_groups] = xstrdup(c->groups[g].groupid);
		access_hmap_put(&p->group_map, p->groups[p->n_groups], p->n_groups);
		p->n_groups++;
		for (char **m = c->groups[g].members; m && *m; m++) {
			size_t ui;
			if (!access_hmap_get(&p->user_map, *m, &ui))
				continue;
			struct cuser *u = &p->users[ui];
			u->groups = xrealloc(u->groups, (u->n_groups + 1) * sizeof(uint32_t));
			u->groups[u->n_groups++] = gi;
		}
	}
	for (size_t i = 0; i < p->n_users; i++) {
		struct cuser *u = &p->users[i];
		if (u->n_groups > 1)
			qsort(u->groups, u->n_groups, sizeof(uint32_t), cmp_u32);
	}

	p->tokens = xcalloc(c->n_tokens + 1, sizeof(*p->tokens));
	for (size_t i = 0; i < c->n_tokens; i++) {
		const pve_token *t = &c->tokens[i];
		_cleanup_free_ char *owner =
			pve_tokenid_valid(t->tokenid) ? pve_authid_user(t->tokenid) : NULL;
		size_t ui;
		if (!owner || access_hmap_get(&p->token_map, t->tokenid, NULL) ||
		    !access_hmap_get(&p->user_map, owner, &ui))
			continue;
		p->tokens[p->n_tokens] =
			(struct ctoken){ xstrdup(t->tokenid), (uint32_t)ui, t->expire, t->privsep };
		access_hmap_put(&p->token_map, p->tokens[p->n_tokens].id, p->n_tokens);
		p->n_tokens++;
	}

	/* The ACL tree. */
	for (size_t i = 0; i < c->n_acls; i++) {
		const pve_acl *a = &c->acls[i];
		uint32_t kind;
		access_hmap *map;
		switch (a->type) {
		case PVE_ACL_USER:
			kind = SUBJ_USER, map = &p->user_map;
			break;
		case PVE_ACL_GROUP:
			kind = SUBJ_GROUP, map = &p->group_map;
			break;
		case PVE_ACL_TOKEN:
			kind = SUBJ_TOKEN, map = &p->token_map;
			break;
		default:
			continue;
		}
		size_t subj;
		if (!access_hmap_get(map, a->ugid, &subj))
			continue; /* names nobody: cannot grant anything */
		struct rset roles = { 0 };
		for (char **r = a->roles; r && *r; r++) {
			struct rset one;
			if (role_rset(c, *r, &one))
				rset_add(&roles, &one);
		}
		if (!roles.any)
			continue;
		const char *comp[PATH_MAX_DEPTH];
		size_t len[PATH_MAX_DEPTH], n;
		if (!path_split(a->path, comp, len, &n))
			continue;
		struct node *node = &p->root;
		for (size_t k = 0; k < n; k++)
			node = node_child(node, comp[k], len[k]);
		if (node->n_ents == node->cap_ents) {
			node->cap_ents = node->cap_ents ? node->cap_ents * 2 : 2;
			node->ents = xrealloc(node->ents, node->cap_ents * sizeof(*node->ents));
		}
		struct acl_ent *e = &node->ents[node->n_ents++];
		*e = (struct acl_ent){ .kind = kind, .subj = (uint32_t)subj, .all = roles };
		if (a->propagate) {
			roles.pmask = roles.mask;
			e->prop = roles;
			e->all.pmask = roles.mask;
		}
	}
	child_maps_free(&p->root);
	node_finish(&p->root);

	/* Pools: which pools each guest and storage belongs to. */
	p->pool_paths = xcalloc(c->n_pools + 1, sizeof(char *));
	for (size_t i = 0; i < c->n_pools; i++) {
		const pve_pool *pool = &c->pools[i];
		uint32_t pi = (uint32_t)p->n_pools;
		p->pool_paths[p->n_pools++] = xasprintf("/pool/%s", pool->poolid);
		for (char **v = pool->vms; v && *v; v++) {
			_cleanup_free_ char *key = xasprintf("v%s", *v);
			member_add(p, key, pi);
		}
		for (char **s = pool->storage; s && *s; s++) {
			_cleanup_free_ char *key = xasprintf("s%s", *s);
			member_add(p, key, pi);
		}
	}

	*ret = p;
	return 0;
}

void pve_perms_free(pve_perms *p)
{
	if (!p)
		return;
	node_clear(&p->root);
	for (size_t i = 0; i < p->n_users; i++) {
		free(p->users[i].id);
		free(p->users[i].groups);
	}
	free(p->users);
	for (size_t i = 0; i < p->n_tokens; i++)
		free(p->tokens[i].id);
	free(p->tokens);
	for (size_t i = 0; i < p->n_groups; i++)
		free(p->groups[i]);
	free(p->groups);
	for (size_t i = 0; i < p->n_pools; i++)
		free(p->pool_paths[i]);
	free(p->pool_paths);
	for (size_t i = 0; i < p->n_members; i++) {
		free(p->members[i].key);
		free(p->members[i].pools);
	}
	free(p->members);
	access_hmap_clear(&p->user_map);
	access_hmap_clear(&p->token_map);
	access_hmap_clear(&p->group_map);
	access_hmap_clear(&p->member_map);
	free(p);
}

/* ---- evaluation ------------------------------------------------------------------------------------- */

static const struct node *node_find(const struct node *n, const char *name, size_t len)
{
	size_t lo = 0, hi = n->n_children;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *cn = n->children[mid].name;
		int c = strncmp(name, cn, len);
		if (c == 0 && cn[len] != 0)
			c = -1; /* name is a proper prefix of cn: sorts before */
		if (c == 0)
			return &n->children[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static const struct acl_ent *ent_find(const struct node *n, uint32_t kind, uint32_t subj)
{
	size_t lo = 0, hi = n->n_ents;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct acl_ent *e = &n->ents[mid];
		if (e->kind == kind && e->subj == subj)
			return e;
		if (e->kind < kind || (e->kind == kind && e->subj < subj))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The roles one subject (a user with its groups, or a token alone) has on a path: walking from "/" down,
 * each level with a matching entry replaces what was collected; at one level a token or user entry beats
 * group entries; only propagating roles count above the target. */
static struct rset walk(const pve_perms *p, uint32_t kind, uint32_t subj, const char *path)
{
	const char *comp[PATH_MAX_DEPTH];
	size_t len[PATH_MAX_DEPTH], n;
	struct rset cur = { 0 };
	if (!path_split(path, comp, len, &n))
		return cur;

	const struct node *node = &p->root;
	for (size_t level = 0; level <= n; level++) {
		if (level > 0) {
			node = node_find(node, comp[level - 1], len[level - 1]);
			if (!node)
				break;
		}
		if (node->n_ents == 0)
			continue;
		bool final = level == n;
		const struct acl_ent *e = ent_find(node, kind, subj);
		if (e) {
			const struct rset *s = final ? &e->all : &e->prop;
			if (s->any) {
				cur = *s;
				continue;
			}
		}
		if (kind != SUBJ_USER)
			continue;
		const struct cuser *u = &p->users[subj];
		struct rset acc = { 0 };
		for (size_t g = 0; g < u->n_groups; g++) {
			const struct acl_ent *ge = ent_find(node, SUBJ_GROUP, u->groups[g]);
			if (ge)
				rset_add(&acc, final ? &ge->all : &ge->prop);
		}
		if (acc.any)
			cur = acc;
	}
	return cur;
}

/* Privileges of one subject on a path, with the roles its pools give to member guests and storages
 * (those never propagate: they count in mask, not in pmask). */
static struct rset subject_rset(const pve_perms *p, uint32_t kind, uint32_t subj, const char *path)
{
	struct rset r = walk(p, kind, subj, path);

	/* Pool roles apply to "/vms/<id>" and "/storage/<id>" exactly. */
	const char *comp[PATH_MAX_DEPTH];
	size_t len[PATH_MAX_DEPTH], n;
	if (p->n_members && path_split(path, comp, len, &n) && n == 2 && !r.noaccess) {
		char type = 0;
		if (len[0] == 3 && memcmp(comp[0], "vms", 3) == 0)
			type = 'v';
		else if (len[0] == 7 && memcmp(comp[0], "storage", 7) == 0)
			type = 's';
		size_t idx;
		char key[80];
		if (type && len[1] < sizeof(key) - 1) {
			key[0] = type;
			memcpy(key + 1, comp[1], len[1]);
			key[len[1] + 1] = 0;
			if (access_hmap_get(&p->member_map, key, &idx)) {
				const struct member_pools *m = &p->members[idx];
				struct rset pool = { 0 };
				for (size_t i = 0; i < m->n; i++) {
					struct rset pr =
						walk(p, kind, subj, p->pool_paths[m->pools[i]]);
					if (pr.noaccess)
						pr.mask = 0;
					rset_add(&pool, &pr);
				}
				/* NoAccess on the pool beats a regular ACL; a regular NoAccess beats pools. */
				if (pool.noaccess)
					r.noaccess = true;
				else
					r.mask |= pool.mask;
			}
		}
	}
	if (r.noaccess)
		r.mask = r.pmask = 0;
	r.pmask &= r.mask;
	return r;
}

static bool expired(long long expire)
{
	return expire && expire < (long long)time(NULL);
}

/* A user's privileges (and which propagate); live: a disabled or expired user has none. */
static struct rset user_rset(const pve_perms *p, uint32_t ui, const char *path, bool live)
{
	if (ui == p->root_user)
		return (struct rset){ .mask = access_all_privs(), .pmask = access_all_privs() };
	const struct cuser *u = &p->users[ui];
	if (live && (!u->enable || expired(u->expire)))
		return (struct rset){ 0 };
	return subject_rset(p, SUBJ_USER, ui, path);
}

/* A token of privilege separation has what it and its user both have; a propagate flag holds when
 * both hold it, as Proxmox intersects them (root@pam's own tokens: only theirs). */
static struct rset authid_rset(const pve_perms *p, const char *authid, const char *path, bool live)
{
	if (!p || !authid || !path)
		return (struct rset){ 0 };
	size_t idx;
	if (access_hmap_get(&p->user_map, authid, &idx))
		return user_rset(p, (uint32_t)idx, path, live);
	if (!access_hmap_get(&p->token_map, authid, &idx))
		return (struct rset){ 0 };
	const struct ctoken *t = &p->tokens[idx];
	if (live && expired(t->expire))
		return (struct rset){ 0 };
	struct rset up = user_rset(p, t->user, path, live);
	if (!t->privsep || !up.mask)
		return up;
	struct rset tp = subject_rset(p, SUBJ_TOKEN, (uint32_t)idx, path);
	return (struct rset){ .mask = up.mask & tp.mask, .pmask = up.pmask & tp.pmask };
}

static uint64_t authid_privs(const pve_perms *p, const char *authid, const char *path)
{
	return authid_rset(p, authid, path, true).mask;
}

bool pve_perms_check(const pve_perms *p, const char *authid, const char *path, const char *priv)
{
	int bit = priv ? access_priv_index(priv) : -1;
	if (bit < 0)
		return false;
	return (authid_privs(p, authid, path) >> bit) & 1;
}

/* Whether an ACL entry is set at n or anywhere below it. */
static bool has_entries_below(const struct node *n)
{
	for (size_t i = 0; i < n->n_children; i++)
		if (n->children[i].n_ents || has_entries_below(&n->children[i]))
			return true;
	return false;
}

bool pve_perms_children_uniform(const pve_perms *p, const char *authid, const char *parent,
				const char *priv, bool *ret_allowed)
{
	const char *comp[PATH_MAX_DEPTH];
	size_t len[PATH_MAX_DEPTH], n;
	if (!p || !path_split(parent, comp, len, &n) || n + 1 >= PATH_MAX_DEPTH)
		return false;
	const struct node *node = &p->root;
	for (size_t i = 0; i < n && node; i++)
		node = node_find(node, comp[i], len[i]);
	if (node && has_entries_below(node))
		return false;
	/* Pools give roles to their member guests and storages, path by path. */
	if (n == 1 && ((len[0] == 3 && memcmp(comp[0], "vms", 3) == 0) ||
		       (len[0] == 7 && memcmp(comp[0], "storage", 7) == 0))) {
		char type = comp[0][0] == 'v' ? 'v' : 's';
		for (size_t i = 0; i < p->n_members; i++)
			if (p->members[i].key[0] == type)
				return false;
	}
	/* Any child answers for all: one with a name no ACL or pool can name. */
	_cleanup_free_ char *child = xasprintf("%s/%s", streq(parent, "/") ? "" : parent, "-");
	*ret_allowed = pve_perms_check(p, authid, child, priv);
	return true;
}

/* The privileges of the roles the ACLs alone give (Proxmox's roles()). */
static uint64_t acl_privs(const pve_perms *p, const char *authid, const char *path)
{
	size_t idx;
	if (!p || !authid || !path)
		return 0;
	if (access_hmap_get(&p->token_map, authid, &idx)) {
		const struct ctoken *t = &p->tokens[idx];
		if (!t->privsep)
			return t->user == p->root_user ? access_all_privs() :
							 acl_privs(p, p->users[t->user].id, path);
		struct rset r = walk(p, SUBJ_TOKEN, (uint32_t)idx, path);
		return r.noaccess ? 0 : r.mask;
	}
	if (!access_hmap_get(&p->user_map, authid, &idx))
		return 0;
	if (idx == p->root_user)
		return access_all_privs();
	struct rset r = walk(p, SUBJ_USER, (uint32_t)idx, path);
	return r.noaccess ? 0 : r.mask;
}

static char **privs_strv(uint64_t m)
{
	char **v = xcalloc(65, sizeof(char *));
	size_t n = 0;
	for (int i = 0; i < 64; i++)
		if ((m >> i) & 1)
			v[n++] = xstrdup(access_priv_name(i));
	return v;
}

char **pve_perms_acl_privs(const pve_perms *p, const char *authid, const char *path)
{
	return privs_strv(acl_privs(p, authid, path));
}

cJSON *pve_perms_path_map(const pve_perms *p, const char *authid, const char *path)
{
	struct rset r = authid_rset(p, authid, path, false);
	cJSON *o = cJSON_CreateObject();
	for (int i = 0; i < 64; i++)
		if ((r.mask >> i) & 1)
			cJSON_AddNumberToObject(o, access_priv_name(i),
						(double)((r.pmask >> i) & 1));
	return o;
}

char **pve_perms_privs(const pve_perms *p, const char *authid, const char *path)
{
	return privs_strv(authid_privs(p, authid, path));
}
