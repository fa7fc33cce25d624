/* corosync.conf as Proxmox reads and writes it: a tree of sections and `key: value` entries, parsed as
 * PVE::Corosync::parse_conf does (whitespace-separated tokens, `#` to the end of a line a comment) and
 * printed as its write_conf (keys sorted, two spaces per level, a blank line after each top section). */
#include <ctype.h>
#include <limits.h>

#include "common/corosync-conf.h"

typedef struct cc_section cc_section;

typedef struct cc_entry {
	char *key;
	char *value; /* NULL for a section */
	cc_section *sec;
} cc_entry;

struct cc_section {
	cc_entry *e;
	size_t n, cap;
};

struct pve_corosync_conf {
	cc_section main;
};

static void section_clear(cc_section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].key);
		free(s->e[i].value);
		if (s->e[i].sec) {
			section_clear(s->e[i].sec);
			free(s->e[i].sec);
		}
	}
	free(s->e);
	*s = (cc_section){ 0 };
}

void pve_corosync_conf_free(pve_corosync_conf *c)
{
	if (!c)
		return;
	section_clear(&c->main);
	free(c);
}

static cc_entry *section_push(cc_section *s, char *key)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->e = xrealloc(s->e, s->cap * sizeof(*s->e));
	}
	cc_entry *e = &s->e[s->n++];
	*e = (cc_entry){ .key = key };
	return e;
}

static cc_section *section_add(cc_section *s, const char *key)
{
	cc_entry *e = section_push(s, xstrdup(key));
	e->sec = xcalloc(1, sizeof(*e->sec));
	return e->sec;
}

static cc_entry *find_entry(const cc_section *s, const char *key)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (streq(s->e[i].key, key))
			return &s->e[i];
	return NULL;
}

static cc_section *find_section(const cc_section *s, const char *key)
{
	cc_entry *e = find_entry(s, key);
	return e ? e->sec : NULL;
}

static const char *get_value(const cc_section *s, const char *key)
{
	cc_entry *e = find_entry(s, key);
	return e ? e->value : NULL;
}

static void set_value(cc_section *s, const char *key, const char *value)
{
	cc_entry *e = find_entry(s, key);
	if (!e || !e->value)
		e = section_push(s, xstrdup(key));
	free(e->value);
	e->value = xstrdup(value);
}

/* Only these repeat; any other section name twice is an error, as in Proxmox's parser. */
static bool array_section(const char *name)
{
	return streq(name, "node") || streq(name, "interface");
}

/* What Proxmox keys a node and an interface by: its name (else ring0_addr), its linknumber (else
 * ringnumber). */
static const char *node_key(const cc_section *n)
{
	const char *k = get_value(n, "name");
	k = k ? k : get_value(n, "ring0_addr");
	return k ? k : "";
}

static const char *interface_key(const cc_section *i)
{
	const char *k = get_value(i, "linknumber");
	k = k ? k : get_value(i, "ringnumber");
	return k ? k : "";
}

/* ---- parsing ---- */

typedef struct tokenizer {
	const char *p, *end;
	unsigned line;
} tokenizer;

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* The next token (a copy) and its line, or NULL at the end. */
static char *next_token(tokenizer *t, unsigned *ret_line)
{
	for (;;) {
		while (t->p < t->end && is_space(*t->p)) {
			if (*t->p == '\n')
				t->line++;
			t->p++;
		}
		if (t->p < t->end && *t->p == '#') {
			while (t->p < t->end && *t->p != '\n')
				t->p++;
			continue;
		}
		break;
	}
	if (t->p == t->end)
		return NULL;
	const char *s = t->p;
	while (t->p < t->end && !is_space(*t->p) && *t->p != '#')
		t->p++;
	*ret_line = t->line;
	return xstrndup(s, (size_t)(t->p - s));
}

/* Names and values are unique per section key (a node's name, an interface's number). */
static int check_unique(const cc_section *s, const char *name,
			const char *(*key)(const cc_section *), const char *what, pve_error **err)
{
	for (size_t i = 0; s && i < s->n; i++) {
		if (!s->e[i].sec || !streq(s->e[i].key, name))
			continue;
		for (size_t j = i + 1; j < s->n; j++)
			if (s->e[j].sec && streq(s->e[j].key, name) &&
			    streq(key(s->e[i].sec), key(s->e[j].sec)))
				return pve_error_set(err, EINVAL, "duplicate %s '%s'", what,
						     key(s->e[j].sec));
	}
	return 0;
}

int pve_corosync_conf_parse(const char *text, size_t len, pve_corosync_conf **ret, pve_error **err)
{
	if (len > PVE_COROSYNC_MAX_SIZE)
		return pve_error_set(err, E2BIG, "corosync.conf too large (%zu bytes, at most %d)",
				     len, PVE_COROSYNC_MAX_SIZE);
	if (memchr(text, '\0', len))
		return pve_error_set(err, EINVAL, "corosync.conf holds a NUL byte");
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = xcalloc(1, sizeof(*c));
	cc_section *stack[PVE_COROSYNC_MAX_DEPTH + 1];
	size_t depth = 0, entries = 0, nodes = 0;
	cc_section *cur = &c->main;
	tokenizer t = { .p = text, .end = text + len, .line = 1 };
	unsigned line = 1, next_line = 1;
	_cleanup_free_ char *tok = next_token(&t, &line);
	while (tok) {
		_cleanup_free_ char *nxt = next_token(&t, &next_line);
		if (++entries > PVE_COROSYNC_MAX_ENTRIES)
			return pve_error_set(err, E2BIG, "line %u: more than %d entries", line,
					     PVE_COROSYNC_MAX_ENTRIES);
		if (nxt && streq(nxt, "{")) {
			if (endswith(tok, ":") || streq(tok, "{") || streq(tok, "}"))
				return pve_error_set(err, EINVAL, "line %u: no value for '%s'",
						     line, tok);
			cc_entry *e = find_entry(cur, tok);
			if (e && !(e->sec && array_section(tok)))
				return pve_error_set(
					err, EINVAL,
					"line %u: section '%s' already exists and not marked as array!",
					line, tok);
			if (depth == PVE_COROSYNC_MAX_DEPTH)
				return pve_error_set(err, E2BIG,
						     "line %u: sections nested deeper than %d",
						     line, PVE_COROSYNC_MAX_DEPTH);
			if (depth == 1 && streq(tok, "node") && ++nodes > PVE_COROSYNC_MAX_NODES)
				return pve_error_set(err, E2BIG, "line %u: more than %d nodes",
						     line, PVE_COROSYNC_MAX_NODES);
			stack[depth++] = cur;
			cur = section_add(cur, tok);
			free(tok);
			free(nxt);
			line = next_line;
			tok = next_token(&t, &line);
			nxt = NULL;
			continue;
		}
		if (streq(tok, "}")) {
			if (depth == 0)
				return pve_error_set(err, EINVAL,
						     "line %u: parse error - unexpected '}'", line);
			cur = stack[--depth];
		} else {
			if (!endswith(tok, ":") || streq(tok, "{"))
				return pve_error_set(err, EINVAL,
						     "line %u: missing ':' after key '%s'", line,
						     tok);
			tok[strlen(tok) - 1] = '\0';
			if (!*tok)
				return pve_error_set(err, EINVAL, "line %u: missing key before ':'",
						     line);
			if (!nxt || streq(nxt, "}"))
				return pve_error_set(err, EINVAL, "line %u: no value for '%s'",
						     line, tok);
			cc_entry *e = find_entry(cur, tok);
			if (e && e->sec)
				return pve_error_set(err, EINVAL, "line %u: '%s' is a section",
						     line, tok);
			/* A repeated key: the last one counts, as in Proxmox's parser. */
			set_value(cur, tok, nxt);
			free(nxt);
			nxt = next_token(&t, &next_line);
		}
		free(tok);
		tok = TAKE_PTR(nxt);
		line = next_line;
	}
	if (depth > 0)
		return pve_error_set(err, EINVAL, "line %u: missing '}'", line);
	if (check_unique(find_section(&c->main, "nodelist"), "node", node_key, "node", err) < 0 ||
	    check_unique(find_section(&c->main, "totem"), "interface", interface_key, "interface",
			 err) < 0)
		return -EINVAL;
	*ret = TAKE_PTR(c);
	return 0;
}

/* ---- printing ---- */

typedef struct sort_item {
	const cc_entry *e;
	const char *sub; /* a node's or an interface's key, else "" */
	size_t idx;
} sort_item;

static int sort_item_cmp(const void *a, const void *b)
{
	const sort_item *x = a, *y = b;
	int r = strcmp(x->e->key, y->e->key);
	if (!r)
		r = strcmp(x->sub, y->sub);
	if (!r)
		r = x->idx < y->idx ? -1 : x->idx > y->idx;
	return r;
}

/* parent: the name of the section s is, at the top level (NULL elsewhere): the nodes of nodelist and
 * the interfaces of totem are sorted by their keys, as write_conf's hash_to_array does. */
static void print_section(pve_buf *b, const cc_section *s, unsigned level, const char *parent)
{
	sort_item *items = xcalloc(s->n + 1, sizeof(*items));
	for (size_t i = 0; i < s->n; i++) {
		const cc_entry *e = &s->e[i];
		const char *sub = "";
		if (e->sec && parent && streq(parent, "nodelist") && streq(e->key, "node"))
			sub = node_key(e->sec);
		else if (e->sec && parent && streq(parent, "totem") && streq(e->key, "interface"))
			sub = interface_key(e->sec);
		items[i] = (sort_item){ .e = e, .sub = sub, .idx = i };
	}
	qsort(items, s->n, sizeof(*items), sort_item_cmp);
	for (size_t i = 0; i < s->n; i++) {
		const cc_entry *e = items[i].e;
		if (!e->sec) {
			pve_buf_printf(b, "%*s%s: %s\n", (int)(2 * level), "", e->key, e->value);
			continue;
		}
		pve_buf_printf(b, "%*s%s {\n", (int)(2 * level), "", e->key);
		print_section(b, e->sec, level + 1, level == 0 ? e->key : NULL);
		pve_buf_printf(b, "%*s}\n", (int)(2 * level), "");
		/* Proxmox adds the blank line after a top-level section, not after a repeated one. */
		if (level == 0 && !array_section(e->key))
			pve_buf_puts(b, "\n");
	}
	free(items);
}

char *pve_corosync_conf_print(const pve_corosync_conf *c)
{
	pve_buf b = { 0 };
	pve_buf_puts(&b, "");
	print_section(&b, &c->main, 0, NULL);
	return pve_buf_steal(&b);
}

/* ---- JSON ---- */

static cJSON *section_json(const cc_section *s, const char *parent)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; i < s->n; i++) {
		const cc_entry *e = &s->e[i];
		if (!e->sec) {
			cJSON_AddStringToObject(o, e->key, e->value);
			continue;
		}
		cJSON *child = section_json(e->sec, parent ? NULL : e->key);
		bool keyed = parent && ((streq(parent, "nodelist") && streq(e->key, "node")) ||
					(streq(parent, "totem") && streq(e->key, "interface")));
		if (keyed) {
			cJSON *map = cJSON_GetObjectItemCaseSensitive(o, e->key);
			if (!map)
				map = cJSON_AddObjectToObject(o, e->key);
			cJSON_AddItemToObject(map,
					      streq(e->key, "node") ? node_key(e->sec) :
								      interface_key(e->sec),
					      child);
		} else if (array_section(e->key)) {
			cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, e->key);
			if (!arr)
				arr = cJSON_AddArrayToObject(o, e->key);
			cJSON_AddItemToArray(arr, child);
		} else {
			cJSON_AddItemToObject(o, e->key, child);
		}
	}
	return o;
}

cJSON *pve_corosync_conf_to_json(const pve_corosync_conf *c)
{
	return section_json(&c->main, NULL);
}

long long pve_corosync_conf_version(const pve_corosync_conf *c)
{
	const char *v = get_value(find_section(&c->main, "totem"), "config_version");
	long long n;
	if (!v || pve_parse_int(v, 0, LLONG_MAX, &n) < 0)
		return 0;
	return n;
}

const char *pve_corosync_conf_cluster_name(const pve_corosync_conf *c)
{
	return get_value(find_section(&c->main, "totem"), "cluster_name");
}

cJSON *pve_corosync_conf_nodes(const pve_corosync_conf *c)
{
	cJSON *list = cJSON_CreateArray();
	const cc_section *nl = find_section(&c->main, "nodelist");
	if (!nl)
		return list;
	/* In the file's order, which Proxmox's printing keeps sorted by name. */
	for (size_t i = 0; i < nl->n; i++)
		if (nl->e[i].sec && streq(nl->e[i].key, "node"))
			cJSON_AddItemToArray(list, section_json(nl->e[i].sec, NULL));
	return list;
}

/* ---- a new file and the nodelist's edits ---- */

static void add_link_keys(cc_section *node, const char *const *links)
{
	for (size_t i = 0; links && links[i] && i < PVE_COROSYNC_MAX_LINKS; i++) {
		if (!*links[i])
			continue;
		_cleanup_free_ char *k = xasprintf("ring%zu_addr", i);
		set_value(node, k, links[i]);
	}
}

char *pve_corosync_conf_create(const char *cluster, const char *node, int nodeid, int votes,
			       const char *const *links, int token_coefficient)
{
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = xcalloc(1, sizeof(*c));
	cc_section *logging = section_add(&c->main, "logging");
	set_value(logging, "debug", "off");
	set_value(logging, "to_syslog", "yes");
	cc_section *n = section_add(section_add(&c->main, "nodelist"), "node");
	_cleanup_free_ char *id = xasprintf("%d", nodeid > 0 ? nodeid : 1);
	_cleanup_free_ char *v = xasprintf("%d", votes > 0 ? votes : 1);
	set_value(n, "name", node);
	set_value(n, "nodeid", id);
	set_value(n, "quorum_votes", v);
	add_link_keys(n, links);
	set_value(section_add(&c->main, "quorum"), "provider", "corosync_votequorum");
	cc_section *totem = section_add(&c->main, "totem");
	set_value(totem, "cluster_name", cluster);
	set_value(totem, "config_version", "1");
	for (size_t i = 0; links && links[i] && i < PVE_COROSYNC_MAX_LINKS; i++) {
		if (!*links[i])
			continue;
		_cleanup_free_ char *num = xasprintf("%zu", i);
		set_value(section_add(totem, "interface"), "linknumber", num);
	}
	set_value(totem, "ip_version", "ipv4-6");
	set_value(totem, "link_mode", "passive");
	set_value(totem, "secauth", "on");
	if (token_coefficient >= 0) {
		_cleanup_free_ char *tc = xasprintf("%d", token_coefficient);
		set_value(totem, "token_coefficient", tc);
	}
	set_value(totem, "version", "2");
	return pve_corosync_conf_print(c);
}

/* The link number of a node's key ringN_addr or linkN_addr, or -1. */
static int link_of_key(const char *key)
{
	const char *p = startswith(key, "ring") ? key + 4 :
			startswith(key, "link") ? key + 4 :
						  NULL;
	if (!p || !isdigit((unsigned char)*p))
		return -1;
	char *endp = NULL;
	long n = strtol(p, &endp, 10);
	if (!streq(endp, "_addr") || n < 0 || n >= PVE_COROSYNC_MAX_LINKS)
		return -1;
	return (int)n;
}

/* totem.config_version + 1, or an error when the file has none (nothing is changed then). */
static int next_version(pve_corosync_conf *c, char **ret, pve_error **err)
{
	const char *v = get_value(find_section(&c->main, "totem"), "config_version");
	long long n;
	if (!v || pve_parse_int(v, 0, LLONG_MAX - 1, &n) < 0)
		return pve_error_set(err, EINVAL,
				     "invalid corosync config: unable to read config version");
	*ret = xasprintf("%lld", n + 1);
	return 0;
}

/* A node's link numbers: bit N for ringN_addr (or linkN_addr). */
static unsigned node_links(const cc_section *n)
{
	unsigned m = 0;
	for (size_t i = 0; i < n->n; i++) {
		int l = n->e[i].value ? link_of_key(n->e[i].key) : -1;
		if (l >= 0)
			m |= 1u << l;
	}
	return m;
}

/* Proxmox's checks of addnode, in its order, before anything changes: no address of another node,
 * the same links as the cluster's, an existing name only with force and the same nodeid and votes. */
static int check_new_node(const cc_section *nl, const char *node, int *nodeid, int *votes,
			  const char *const *links, bool force, cc_section **ret_old,
			  pve_error **err)
{
	unsigned want = 0;
	size_t nlinks = 0;
	for (; links && links[nlinks]; nlinks++) {
		if (nlinks >= PVE_COROSYNC_MAX_LINKS)
			return pve_error_set(err, EINVAL, "at most %d links",
					     PVE_COROSYNC_MAX_LINKS);
		if (*links[nlinks])
			want |= 1u << nlinks;
	}
	if (!want)
		return pve_error_set(
			err, EINVAL,
			"no links and no fallback ip (new_node_ip) given, cannot join cluster");
	const cc_section *first = NULL;
	cc_section *old = NULL;
	for (size_t i = 0; i < nl->n; i++) {
		cc_section *n = nl->e[i].sec;
		if (!n || !streq(nl->e[i].key, "node"))
			continue;
		const char *name = node_key(n);
		first = first ? first : n;
		if (streq(name, node)) {
			old = n;
			continue;
		}
		for (size_t l = 0; l < nlinks; l++) {
			if (!*links[l])
				continue;
			for (int k = 0; k < PVE_COROSYNC_MAX_LINKS; k++) {
				char key[16];
				snprintf(key, sizeof(key), "ring%d_addr", k);
				const char *a = get_value(n, key);
				char param[16];
				snprintf(param, sizeof(param), "link%zu", l);
				if (a && streq(a, links[l]))
					return pve_error_set_param(
						err, EEXIST, param,
						"corosync: address '%s' already used on link %s by "
						"node '%s'",
						links[l], key, name);
			}
		}
	}
	/* the new node's links are the cluster's: every node has the same (the first tells) */
	unsigned have = first ? node_links(first) : 0;
	for (int l = 0; l < PVE_COROSYNC_MAX_LINKS; l++) {
		char param[8];
		snprintf(param, sizeof(param), "link%d", l);
		if ((have & (1u << l)) && !(want & (1u << l)))
			return pve_error_set_param(err, EINVAL, param,
						   "corosync: link %d exists in cluster config but "
						   "wasn't specified for new node",
						   l);
		if (!(have & (1u << l)) && (want & (1u << l)))
			return pve_error_set_param(
				err, EINVAL, param,
				"corosync: link %d specified for new node doesn't "
				"exist in cluster config",
				l);
	}
	if (old) {
		long long id = 0, v = 0;
		const char *sid = get_value(old, "nodeid"), *sv = get_value(old, "quorum_votes");
		if (sid)
			(void)pve_parse_int(sid, 0, INT32_MAX, &id);
		if (sv)
			(void)pve_parse_int(sv, 0, INT32_MAX, &v);
		if (*nodeid <= 0)
			*nodeid = (int)id;
		if (*votes < 0)
			*votes = (int)v;
		if (!force || id != *nodeid || v != *votes)
			return pve_error_set_param(err, EEXIST, "node",
						   "can't add existing node '%s'", node);
	}
	/* A nodeid two nodes share breaks corosync: Proxmox leaves that to its verify, pved refuses it. */
	for (size_t i = 0; *nodeid > 0 && i < nl->n; i++) {
		const cc_section *n = nl->e[i].sec;
		if (!n || n == old || !streq(nl->e[i].key, "node"))
			continue;
		long long id;
		const char *v = get_value(n, "nodeid");
		if (v && pve_parse_int(v, 1, INT32_MAX, &id) == 0 && id == *nodeid)
			return pve_error_set_param(err, EEXIST, "nodeid",
						   "corosync: nodeid %d already used by node '%s'",
						   *nodeid, node_key(n));
	}
	*ret_old = old;
	return 0;
}

static bool nodeid_used(const cc_section *nl, long long id)
{
	for (size_t i = 0; i < nl->n; i++) {
		const cc_section *n = nl->e[i].sec;
		long long x;
		const char *v = n && streq(nl->e[i].key, "node") ? get_value(n, "nodeid") : NULL;
		if (v && pve_parse_int(v, 1, INT32_MAX, &x) == 0 && x == id)
			return true;
	}
	return false;
}

int pve_corosync_conf_add_node(pve_corosync_conf *c, const char *node, int nodeid, int votes,
			       const char *const *links, bool force, pve_error **err)
{
	cc_section *nl = find_section(&c->main, "nodelist");
	if (!nl || !find_section(nl, "node"))
		return pve_error_set(err, EINVAL, "invalid corosync.conf: no nodes found");
	if (!find_section(&c->main, "totem"))
		return pve_error_set(err, EINVAL, "invalid corosync.conf: no totem found");
	_cleanup_free_ char *version = NULL;
	int r = next_version(c, &version, err);
	if (r < 0)
		return r;
	cc_section *old = NULL;
	r = check_new_node(nl, node, &nodeid, &votes, links, force, &old, err);
	if (r < 0)
		return r;
	if (!old) {
		size_t count = 0;
		for (size_t i = 0; i < nl->n; i++)
			count += nl->e[i].sec && streq(nl->e[i].key, "node");
		if (count >= PVE_COROSYNC_MAX_NODES)
			return pve_error_set(err, E2BIG, "a cluster has at most %d nodes",
					     PVE_COROSYNC_MAX_NODES);
	}
	if (nodeid <= 0)
		for (nodeid = 1; nodeid_used(nl, nodeid); nodeid++)
			;
	if (votes < 0)
		votes = 1;

	/* As Proxmox: the node's entry is made anew, quorum_votes only when it is not 0. */
	cc_section *n = old;
	if (n)
		section_clear(n);
	else
		n = section_add(nl, "node");
	_cleanup_free_ char *id = xasprintf("%d", nodeid);
	set_value(n, "name", node);
	set_value(n, "nodeid", id);
	if (votes) {
		_cleanup_free_ char *v = xasprintf("%d", votes);
		set_value(n, "quorum_votes", v);
	}
	add_link_keys(n, links);
	set_value(find_section(&c->main, "totem"), "config_version", version);
	return 0;
}

int pve_corosync_conf_del_node(pve_corosync_conf *c, const char *node, int *ret_nodeid,
			       pve_error **err)
{
	cc_section *nl = find_section(&c->main, "nodelist");
	for (size_t i = 0; nl && i < nl->n; i++) {
		cc_section *n = nl->e[i].sec;
		if (!n || !streq(nl->e[i].key, "node"))
			continue;
		if (!streq(node_key(n), node) && !streq_ptr(get_value(n, "ring0_addr"), node) &&
		    !streq_ptr(get_value(n, "ring1_addr"), node))
			continue;
		_cleanup_free_ char *version = NULL;
		int r = next_version(c, &version, err);
		if (r < 0)
			return r;
		if (ret_nodeid) {
			const char *id = get_value(n, "nodeid");
			*ret_nodeid = id ? atoi(id) : 0;
		}
		free(nl->e[i].key);
		section_clear(n);
		free(n);
		memmove(&nl->e[i], &nl->e[i + 1], (nl->n - i - 1) * sizeof(*nl->e));
		nl->n--;
		set_value(find_section(&c->main, "totem"), "config_version", version);
		return 0;
	}
	return pve_error_set(err, ENOENT, "Node/IP: %s is not a known host of the cluster.", node);
}
