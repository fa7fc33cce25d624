/* The firewall's API: rules, options, aliases, ipsets and security groups of cluster.fw, host.fw and
 * the guests' <vmid>.fw, read without a lock and changed through pved_cfgedit; an edit is answered once
 * its change is in the kernel (or with why it is not: the previous ruleset stays). */
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "cluster/cluster.h"
#include "daemon/firewall/firewall-internal.h"

typedef enum { LV_CLUSTER, LV_HOST, LV_VM, LV_GROUP } fw_level;

typedef enum {
	OP_RULE_CREATE,
	OP_RULE_UPDATE,
	OP_RULE_DELETE,
	OP_OPTIONS,
	OP_ALIAS_CREATE,
	OP_ALIAS_UPDATE,
	OP_ALIAS_DELETE,
	OP_IPSET_CREATE,
	OP_IPSET_DELETE,
	OP_IP_CREATE,
	OP_IP_UPDATE,
	OP_IP_DELETE,
	OP_GROUP_CREATE,
	OP_GROUP_DELETE,
} fw_op;

/* ----- The files ----- */

static int parse_cluster(const char *text, size_t len, void **ret, pve_error **err)
{
	return pve_fw_parse(PVE_FW_CLUSTER, text, len, (pve_fw_file **)ret, err);
}

static int parse_host(const char *text, size_t len, void **ret, pve_error **err)
{
	return pve_fw_parse(PVE_FW_HOST, text, len, (pve_fw_file **)ret, err);
}

static int parse_vm(const char *text, size_t len, void **ret, pve_error **err)
{
	return pve_fw_parse(PVE_FW_VM, text, len, (pve_fw_file **)ret, err);
}

static char *print_file(const void *cfg)
{
	return pve_fw_print(cfg);
}

static void free_file(void *cfg)
{
	pve_fw_file_free(cfg);
}

/* What one call works on: its file (path and lock per level) and the parameters it was given. */
typedef struct {
	pved_call *c;
	fw_level level;
	fw_op op;
	unsigned vmid;
	char *path;
	char *lock;
	pved_cfgfile file;
	pve_fw_file
		*cluster; /* cluster.fw as read before the edit, for host and guest rules' checks */
} fw_ctx;

static void ctx_free(fw_ctx *x)
{
	if (!x)
		return;
	free(x->path);
	free(x->lock);
	pve_fw_file_free(x->cluster);
	free(x);
}

static pve_fw_kind kind_of(fw_level l)
{
	return l == LV_HOST ? PVE_FW_HOST : l == LV_VM ? PVE_FW_VM : PVE_FW_CLUSTER;
}

/* The call's file; a guest that does not exist is an error. */
static fw_ctx *ctx_new(pved_call *c, fw_level level, fw_op op, pve_error **err)
{
	pved *d = c->d;
	fw_ctx *x = xcalloc(1, sizeof(*x));
	*x = (fw_ctx){ .c = c, .level = level, .op = op };
	switch (level) {
	case LV_CLUSTER:
	case LV_GROUP:
		x->path = xstrdup("firewall/cluster.fw");
		x->lock = xstrdup("firewall-cluster");
		x->file.parse = parse_cluster;
		break;
	case LV_HOST:
		x->path = xasprintf("nodes/%s/host.fw", d->node);
		x->lock = xasprintf("firewall-host-%s", d->node);
		x->file.parse = parse_host;
		break;
	case LV_VM: {
		x->vmid = (unsigned)pved_call_int(c, "vmid", 0);
		/* the guest of the route's type: /nodes/{node}/lxc/... is a container's */
		bool ct = startswith(c->route->path, "/nodes/{node}/lxc/");
		_cleanup_free_ char *conf = xasprintf("nodes/%s/%s/%u.conf", d->node,
						      ct ? "lxc" : "qemu-server", x->vmid);
		if (!pve_store_exists(d->store, conf)) {
			pve_error_set(err, ENOENT, "Configuration file '%s' does not exist", conf);
			ctx_free(x);
			return NULL;
		}
		x->path = xasprintf("firewall/%u.fw", x->vmid);
		x->lock = xasprintf("firewall-vm-%u", x->vmid);
		x->file.parse = parse_vm;
		break;
	}
	}
	x->file.path = x->path;
	x->file.lock = x->lock;
	x->file.print = print_file;
	x->file.free = free_file;
	return x;
}

static const pved_cfgfile cluster_file = { .path = "firewall/cluster.fw",
					   .lock = "firewall-cluster",
					   .parse = parse_cluster,
					   .print = print_file,
					   .free = free_file };

/* ----- Answers ----- */

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

static cJSON *rule_json(const pve_fw_rule *r, size_t pos, const char *digest)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "pos", (double)pos);
	add_str(o, "type", r->type);
	add_str(o, "action", r->action);
	add_str(o, "macro", r->macro);
	cJSON_AddNumberToObject(o, "enable", r->enable ? 1 : 0);
	add_str(o, "iface", r->iface);
	add_str(o, "source", r->source);
	add_str(o, "dest", r->dest);
	add_str(o, "proto", r->proto);
	add_str(o, "dport", r->dport);
	add_str(o, "sport", r->sport);
	add_str(o, "log", r->log);
	add_str(o, "icmp-type", r->icmp_type);
	add_str(o, "comment", r->comment);
	add_str(o, "digest", digest);
	return o;
}

/* The rule list a call addresses: the file's, or its group's (ENOENT: no such group). */
static int rules_of(fw_ctx *x, pve_fw_file *f, pve_fw_rule **ret_rules, size_t **ret_n,
		    pve_error **err)
{
	if (x->level != LV_GROUP) {
		*ret_rules = f->rules;
		*ret_n = &f->n_rules;
		return 0;
	}
	const char *name = pved_call_str(x->c, "group");
	pve_fw_group *g = pve_fw_find_group(f, name);
	if (!g)
		return pve_error_set(err, ENOENT, "no such security group '%s'", name);
	*ret_rules = g->rules;
	*ret_n = &g->n_rules;
	return 0;
}

static pve_fw_rule **rules_slot(fw_ctx *x, pve_fw_file *f)
{
	if (x->level != LV_GROUP)
		return &f->rules;
	return &pve_fw_find_group(f, pved_call_str(x->c, "group"))->rules;
}

/* Reads the file for a GET: the file, its digest. */
static pve_fw_file *read_file(fw_ctx *x, char digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err)
{
	void *cfg = NULL;
	if (pved_cfgfile_read(x->c->d, &x->file, &cfg, digest, err) < 0)
		return NULL;
	return cfg;
}

static void get_handler(pved_call *c, fw_level level, const char *what)
{
	pve_error *err = NULL;
	fw_ctx *x = ctx_new(c, level, OP_OPTIONS, &err);
	if (!x) {
		pved_call_fail(c, err);
		return;
	}
	char digest[PVE_STORE_DIGEST_LEN + 1];
	_cleanup_fw_file_ pve_fw_file *f = read_file(x, digest, &err);
	cJSON *data = NULL;
	if (!f)
		goto fail;
	if (streq(what, "rules") || streq(what, "rule")) {
		pve_fw_rule *rules;
		size_t *n;
		if (rules_of(x, f, &rules, &n, &err) < 0)
			goto fail;
		if (streq(what, "rule")) {
			long long pos = pved_call_int(c, "pos", 0);
			if (pos < 0 || (size_t)pos >= *n) {
				pve_error_set(&err, EINVAL, "no rule at position %lld", pos);
				goto fail;
			}
			data = rule_json(&rules[pos], (size_t)pos, digest);
		} else {
			data = cJSON_CreateArray();
			for (size_t i = 0; i < *n; i++)
				cJSON_AddItemToArray(data, rule_json(&rules[i], i, digest));
		}
	} else if (streq(what, "options")) {
		data = cJSON_CreateObject();
		for (size_t i = 0; i < f->n_options; i++) {
			const char *v = f->options[i].value;
			long long n;
			/* Numbers and flags as numbers, as Proxmox's parser keeps them. */
			if (pve_parse_int(v, 0, INT32_MAX, &n) == 0)
				cJSON_AddNumberToObject(data, f->options[i].key, (double)n);
			else
				cJSON_AddStringToObject(data, f->options[i].key, v);
		}
		cJSON_AddStringToObject(data, "digest", digest);
	} else if (streq(what, "aliases") || streq(what, "alias")) {
		const char *name = pved_call_str(c, "name");
		data = streq(what, "aliases") ? cJSON_CreateArray() : NULL;
		for (size_t i = 0; i < f->n_aliases; i++) {
			const pve_fw_alias *a = &f->aliases[i];
			if (name && strcasecmp(a->name, name) != 0)
				continue;
			cJSON *o = cJSON_CreateObject();
			add_str(o, "name", a->name);
			add_str(o, "cidr", a->cidr);
			add_str(o, "comment", a->comment);
			add_str(o, "digest", digest);
			if (!data) {
				data = o;
				break;
			}
			cJSON_AddItemToArray(data, o);
		}
		if (!data) {
			pve_error_set_param(&err, EINVAL, "name", "no such alias");
			goto fail;
		}
	} else if (streq(what, "ipsets")) {
		data = cJSON_CreateArray();
		for (size_t i = 0; i < f->n_ipsets; i++) {
			cJSON *o = cJSON_CreateObject();
			add_str(o, "name", f->ipsets[i].name);
			add_str(o, "comment", f->ipsets[i].comment);
			add_str(o, "digest", digest);
			cJSON_AddItemToArray(data, o);
		}
	} else if (streq(what, "ipset") || streq(what, "ip")) {
		const char *name = pved_call_str(c, "name");
		const pve_fw_ipset *s = pve_fw_find_ipset(f, name);
		if (!s) {
			pve_error_set(&err, ENOENT, "no such IPSet '%s'", name);
			goto fail;
		}
		const char *cidr = pved_call_str(c, "cidr");
		_cleanup_free_ char *norm = NULL;
		if (cidr && pve_fw_parse_cidr(cidr, &norm, NULL, NULL) < 0)
			norm = xstrdup(cidr);
		data = streq(what, "ipset") ? cJSON_CreateArray() : NULL;
		for (size_t i = 0; i < s->n_entries; i++) {
			const pve_fw_ipset_entry *e = &s->entries[i];
			if (norm && !streq(e->cidr, norm))
				continue;
			cJSON *o = cJSON_CreateObject();
			add_str(o, "cidr", e->cidr);
			if (e->nomatch)
				cJSON_AddNumberToObject(o, "nomatch", 1);
			add_str(o, "comment", e->comment);
			add_str(o, "digest", digest);
			if (!data) {
				data = o;
				break;
			}
			cJSON_AddItemToArray(data, o);
		}
		if (!data) {
			pve_error_set_param(&err, EINVAL, "cidr", "no such IP/Network");
			goto fail;
		}
	} else if (streq(what, "groups")) {
		data = cJSON_CreateArray();
		for (size_t i = 0; i < f->n_groups; i++) {
			cJSON *o = cJSON_CreateObject();
			add_str(o, "group", f->groups[i].name);
			add_str(o, "comment", f->groups[i].comment);
			add_str(o, "digest", digest);
			cJSON_AddItemToArray(data, o);
		}
	} else if (streq(what, "refs")) {
		const char *type = pved_call_str(c, "type");
		data = cJSON_CreateArray();
		/* A guest sees its own names and the cluster's. */
		pve_fw_file *files[2] = { f, NULL };
		_cleanup_fw_file_ pve_fw_file *cl = NULL;
		if (level == LV_VM) {
			cl = read_file(&(fw_ctx){ .c = c, .file = cluster_file }, NULL, &err);
			if (!cl)
				goto fail;
			files[1] = cl;
		}
		for (int k = 0; k < 2 && files[k]; k++) {
			const char *scope = level == LV_VM && k == 0 ? "guest" : "dc";
			for (size_t i = 0;
			     (!type || streq(type, "alias")) && i < files[k]->n_aliases; i++) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "type", "alias");
				add_str(o, "name", files[k]->aliases[i].name);
				_cleanup_free_ char *ref =
					xasprintf("%s/%s", scope, files[k]->aliases[i].name);
				add_str(o, "ref", ref);
				add_str(o, "scope", scope);
				add_str(o, "comment", files[k]->aliases[i].comment);
				cJSON_AddItemToArray(data, o);
			}
			for (size_t i = 0;
			     (!type || streq(type, "ipset")) && i < files[k]->n_ipsets; i++) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "type", "ipset");
				add_str(o, "name", files[k]->ipsets[i].name);
				_cleanup_free_ char *ref =
					xasprintf("+%s/%s", scope, files[k]->ipsets[i].name);
				add_str(o, "ref", ref);
				add_str(o, "scope", scope);
				add_str(o, "comment", files[k]->ipsets[i].comment);
				cJSON_AddItemToArray(data, o);
			}
		}
	}
	ctx_free(x);
	pved_call_reply(c, data);
	return;
fail:
	cJSON_Delete(data);
	ctx_free(x);
	pved_call_fail(c, err);
}

static void get_macros(pved_call *c)
{
	size_t n;
	const pve_fw_macro *m = pve_fw_macros(&n);
	cJSON *data = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "macro", m[i].name);
		cJSON_AddStringToObject(o, "descr", m[i].descr);
		cJSON_AddItemToArray(data, o);
	}
	pved_call_reply(c, data);
}

/* ----- Edits ----- */

static const char *const rule_keys[] = { "type",      "action",	 "macro", "iface", "source",
					 "dest",      "proto",	 "dport", "sport", "log",
					 "icmp-type", "comment", NULL };

static char **rule_field(pve_fw_rule *r, const char *key)
{
	if (streq(key, "type"))
		return &r->type;
	if (streq(key, "action"))
		return &r->action;
	if (streq(key, "macro"))
		return &r->macro;
	if (streq(key, "iface"))
		return &r->iface;
	if (streq(key, "source"))
		return &r->source;
	if (streq(key, "dest"))
		return &r->dest;
	if (streq(key, "proto"))
		return &r->proto;
	if (streq(key, "dport"))
		return &r->dport;
	if (streq(key, "sport"))
		return &r->sport;
	if (streq(key, "log"))
		return &r->log;
	if (streq(key, "icmp-type"))
		return &r->icmp_type;
	return &r->comment;
}

/* Proxmox's copy_rule_data: a given value replaces, "" or "-" removes. */
static int copy_rule_data(pved_call *c, pve_fw_rule *r, pve_error **err)
{
	for (size_t i = 0; rule_keys[i]; i++) {
		const char *v = pved_call_str(c, rule_keys[i]);
		if (!v)
			continue;
		if (strchr(v, '\n') || strchr(v, '\r'))
			return pve_error_set_param(err, EINVAL, rule_keys[i],
						   "value must be a single line");
		char **slot = rule_field(r, rule_keys[i]);
		free(*slot);
		*slot = (!*v || streq(v, "-")) ? NULL : xstrdup(v);
		if (*slot && streq(rule_keys[i], "type"))
			for (char *p = *slot; *p; p++)
				*p = (char)tolower((unsigned char)*p);
	}
	if (pved_call_has(c, "enable"))
		r->enable = pved_call_int(c, "enable", 1) != 0;
	return 0;
}

static int verify(fw_ctx *x, pve_fw_file *f, pve_fw_rule *r, pve_error **err)
{
	pve_fw_kind env = kind_of(x->level);
	bool group = x->level == LV_GROUP;
	const pve_fw_file *cluster = x->level == LV_CLUSTER || group ? f : x->cluster;
	const pve_fw_file *local = group ? NULL : f;
	return pve_fw_rule_verify(r, env, group, cluster, local, err);
}

static int op_rule(fw_ctx *x, pve_fw_file *f, pve_error **err)
{
	pved_call *c = x->c;
	pve_fw_rule *rules;
	size_t *n;
	int r = rules_of(x, f, &rules, &n, err);
	if (r < 0)
		return r;
	if (x->op == OP_RULE_CREATE) {
		if (*n >= PVE_FW_MAX_RULES)
			return pve_error_set(err, E2BIG, "too many rules");
		pve_fw_rule nr = { .enable = false };
		if ((r = copy_rule_data(c, &nr, err)) < 0 || (r = verify(x, f, &nr, err)) < 0) {
			pve_fw_rule_clear(&nr);
			return r;
		}
		/* Proxmox puts a new rule first; pved takes pos where one is given. */
		long long pos = pved_call_int(c, "pos", 0);
		size_t at = pos < 0 ? 0 : (size_t)pos > *n ? *n : (size_t)pos;
		pve_fw_rule **slot = rules_slot(x, f);
		*slot = xrealloc(*slot, (*n + 1) * sizeof(**slot));
		memmove(&(*slot)[at + 1], &(*slot)[at], (*n - at) * sizeof(**slot));
		(*slot)[at] = nr;
		(*n)++;
		return 0;
	}
	long long pos = pved_call_int(c, "pos", 0);
	if (pos < 0 || (size_t)pos >= *n)
		return pve_error_set(err, EINVAL, "no rule at position %lld", pos);
	if (x->op == OP_RULE_DELETE) {
		pve_fw_rule_clear(&rules[pos]);
		memmove(&rules[pos], &rules[pos + 1], (*n - (size_t)pos - 1) * sizeof(*rules));
		(*n)--;
		return 0;
	}
	if (pved_call_has(c, "moveto")) {
		long long to = pved_call_int(c, "moveto", 0);
		if (to != pos) {
			/* Proxmox's move: the rule goes before the one now at moveto, or last. */
			pve_fw_rule moved = rules[pos];
			memmove(&rules[pos], &rules[pos + 1],
				(*n - (size_t)pos - 1) * sizeof(*rules));
			size_t at = (size_t)to > (size_t)pos ? (size_t)to - 1 : (size_t)to;
			if (to >= (long long)*n)
				at = *n - 1;
			memmove(&rules[at + 1], &rules[at], (*n - 1 - at) * sizeof(*rules));
			rules[at] = moved;
		}
		return 0;
	}
	pve_fw_rule nr;
	pve_fw_rule_copy(&nr, &rules[pos]);
	r = copy_rule_data(c, &nr, err);
	const char *del = pved_call_str(c, "delete");
	if (r >= 0 && del) {
		_cleanup_strv_free_ char **keys = pve_split_list(del);
		for (size_t i = 0; keys[i] && r >= 0; i++) {
			bool known = false;
			for (size_t k = 0; rule_keys[k]; k++)
				known |= streq(rule_keys[k], keys[i]);
			if (!known || streq(keys[i], "type") || streq(keys[i], "action")) {
				r = pve_error_set_param(err, EINVAL, "delete",
							"unable to delete '%s'", keys[i]);
				break;
			}
			char **slot = rule_field(&nr, keys[i]);
			free(*slot);
			*slot = NULL;
		}
	}
	if (r >= 0)
		r = verify(x, f, &nr, err);
	if (r < 0) {
		pve_fw_rule_clear(&nr);
		return r;
	}
	pve_fw_rule_clear(&rules[pos]);
	rules[pos] = nr;
	return 0;
}

static int op_options(fw_ctx *x, pve_fw_file *f, pve_error **err)
{
	pved_call *c = x->c;
	const char *del = pved_call_str(c, "delete");
	const char *const *names = pve_fw_option_names(kind_of(x->level));
	if (del) {
		_cleanup_strv_free_ char **keys = pve_split_list(del);
		for (size_t i = 0; keys[i]; i++) {
			bool known = false;
			for (size_t k = 0; names[k]; k++)
				known |= streq(names[k], keys[i]);
			if (!known)
				return pve_error_set_param(err, EINVAL, "delete",
							   "unknown option '%s'", keys[i]);
			pve_fw_option_set(f, keys[i], NULL, NULL);
		}
	}
	for (size_t k = 0; names[k]; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, names[k]);
		if (!v)
			continue;
		_cleanup_free_ char *text =
			cJSON_IsString(v) ? xstrdup(v->valuestring) :
			cJSON_IsBool(v)	  ? xstrdup(cJSON_IsTrue(v) ? "1" : "0") :
					    xasprintf("%lld", (long long)v->valuedouble);
		int r = pve_fw_option_set(f, names[k], text, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int op_alias(fw_ctx *x, pve_fw_file *f, pve_error **err)
{
	pved_call *c = x->c;
	const char *name = pved_call_str(c, "name");
	pve_fw_alias *a = pve_fw_find_alias(f, name);
	if (x->op == OP_ALIAS_DELETE) {
		if (a) {
			size_t i = (size_t)(a - f->aliases);
			free(a->name);
			free(a->cidr);
			free(a->comment);
			memmove(a, a + 1, (f->n_aliases - i - 1) * sizeof(*a));
			f->n_aliases--;
		}
		return 0;
	}
	const char *cidr = pved_call_str(c, "cidr");
	_cleanup_free_ char *norm = NULL;
	if (cidr && pve_fw_parse_cidr(cidr, &norm, NULL, NULL) < 0)
		return pve_error_set_param(err, EINVAL, "cidr",
					   "value does not look like a valid IP address or CIDR "
					   "network");
	const char *comment = pved_call_str(c, "comment");
	if (comment && strchr(comment, '\n'))
		return pve_error_set_param(err, EINVAL, "comment", "value must be a single line");
	if (x->op == OP_ALIAS_CREATE) {
		if (a)
			return pve_error_set_param(err, EINVAL, "name", "alias '%s' already exists",
						   name);
		if (f->n_aliases >= PVE_FW_MAX_SETS)
			return pve_error_set(err, E2BIG, "too many aliases");
		f->aliases = xrealloc(f->aliases, (f->n_aliases + 1) * sizeof(*f->aliases));
		f->aliases[f->n_aliases++] =
			(pve_fw_alias){ xstrdup(name), TAKE_PTR(norm),
					comment && *comment ? xstrdup(comment) : NULL };
		return 0;
	}
	if (!a)
		return pve_error_set_param(err, EINVAL, "name", "no such alias");
	const char *rename = pved_call_str(c, "rename");
	if (rename && strcasecmp(rename, name) != 0) {
		if (pve_fw_find_alias(f, rename))
			return pve_error_set_param(err, EINVAL, "name", "alias '%s' already exists",
						   rename);
		free(a->name);
		a->name = xstrdup(rename);
	}
	if (norm) {
		free(a->cidr);
		a->cidr = TAKE_PTR(norm);
	}
	if (comment) {
		free(a->comment);
		a->comment = *comment ? xstrdup(comment) : NULL;
	}
	return 0;
}

static int op_ipset(fw_ctx *x, pve_fw_file *f, pve_error **err)
{
	pved_call *c = x->c;
	const char *name = pved_call_str(c, "name");
	pve_fw_ipset *s = pve_fw_find_ipset(f, name);
	const char *comment = pved_call_str(c, "comment");
	if (comment && strchr(comment, '\n'))
		return pve_error_set_param(err, EINVAL, "comment", "value must be a single line");
	if (x->op == OP_IPSET_CREATE) {
		const char *rename = pved_call_str(c, "rename");
		if (rename) {
			pve_fw_ipset *old = pve_fw_find_ipset(f, rename);
			if (!old)
				return pve_error_set_param(err, EINVAL, "name",
							   "IPSet '%s' does not exist", rename);
			if (s && s != old)
				return pve_error_set_param(err, EINVAL, "name",
							   "IPSet '%s' does already exist", name);
			free(old->name);
			old->name = xstrdup(name);
			for (char *p = old->name; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			if (comment) {
				free(old->comment);
				old->comment = *comment ? xstrdup(comment) : NULL;
			}
			return 0;
		}
		if (s)
			return pve_error_set_param(err, EINVAL, "name", "IPSet '%s' already exists",
						   name);
		if (f->n_ipsets >= PVE_FW_MAX_SETS)
			return pve_error_set(err, E2BIG, "too many ipsets");
		f->ipsets = xrealloc(f->ipsets, (f->n_ipsets + 1) * sizeof(*f->ipsets));
		pve_fw_ipset *n = &f->ipsets[f->n_ipsets++];
		*n = (pve_fw_ipset){ .name = xstrdup(name),
				     .comment = comment && *comment ? xstrdup(comment) : NULL };
		for (char *p = n->name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return 0;
	}
	if (!s)
		return pve_error_set(err, ENOENT, "no such IPSet '%s'", name);
	if (x->op == OP_IPSET_DELETE) {
		if (s->n_entries && !pved_call_int(c, "force", 0))
			return pve_error_set(err, EINVAL, "IPSet '%s' is not empty", name);
		size_t i = (size_t)(s - f->ipsets);
		free(s->name);
		free(s->comment);
		for (size_t j = 0; j < s->n_entries; j++) {
			free(s->entries[j].cidr);
			free(s->entries[j].comment);
		}
		free(s->entries);
		memmove(s, s + 1, (f->n_ipsets - i - 1) * sizeof(*s));
		f->n_ipsets--;
		return 0;
	}
	const char *cidr = pved_call_str(c, "cidr");
	_cleanup_free_ char *norm = NULL;
	if (isalpha((unsigned char)cidr[0]) && !strchr(cidr, ':')) {
		/* An alias: it must exist where the entry can see it. */
		const char *an = cidr;
		if (startswith(an, "dc/") || startswith(an, "guest/"))
			an = strchr(an, '/') + 1;
		if (!pve_fw_find_alias(f, an) && !pve_fw_find_alias(x->cluster, an))
			return pve_error_set_param(err, EINVAL, "cidr", "no such alias '%s'", cidr);
		norm = xstrdup(cidr);
	} else if (pve_fw_parse_cidr(cidr, &norm, NULL, NULL) < 0) {
		return pve_error_set_param(err, EINVAL, "cidr",
					   "value does not look like a valid IP address or CIDR "
					   "network");
	}
	const char *sl = strchr(norm, '/');
	if (sl && strspn(sl + 1, "0") == strlen(sl + 1))
		return pve_error_set_param(err, EINVAL, "cidr",
					   "a zero prefix is not allowed in ipset entries");
	pve_fw_ipset_entry *e = NULL;
	for (size_t i = 0; i < s->n_entries && !e; i++)
		if (streq(s->entries[i].cidr, norm))
			e = &s->entries[i];
	if (x->op == OP_IP_CREATE) {
		if (e)
			return pve_error_set_param(err, EINVAL, "cidr",
						   "address '%s' already exists", norm);
		s->entries = xrealloc(s->entries, (s->n_entries + 1) * sizeof(*s->entries));
		s->entries[s->n_entries++] =
			(pve_fw_ipset_entry){ TAKE_PTR(norm), pved_call_int(c, "nomatch", 0) != 0,
					      comment && *comment ? xstrdup(comment) : NULL };
		return 0;
	}
	if (!e)
		return pve_error_set_param(err, EINVAL, "cidr", "no such IP/Network");
	if (x->op == OP_IP_DELETE) {
		size_t i = (size_t)(e - s->entries);
		free(e->cidr);
		free(e->comment);
		memmove(e, e + 1, (s->n_entries - i - 1) * sizeof(*e));
		s->n_entries--;
		return 0;
	}
	if (pved_call_has(c, "nomatch"))
		e->nomatch = pved_call_int(c, "nomatch", 0) != 0;
	if (comment) {
		free(e->comment);
		e->comment = *comment ? xstrdup(comment) : NULL;
	}
	return 0;
}

static int op_group(fw_ctx *x, pve_fw_file *f, pve_error **err)
{
	pved_call *c = x->c;
	const char *name = pved_call_str(c, "group");
	pve_fw_group *g = pve_fw_find_group(f, name);
	if (x->op == OP_GROUP_DELETE) {
		if (!g)
			return 0;
		if (g->n_rules)
			return pve_error_set(err, EINVAL, "Security group '%s' is not empty", name);
		/* A group some rule still names cannot go. */
		for (size_t i = 0; i < f->n_rules; i++)
			if (streq(f->rules[i].type, "group") &&
			    strcasecmp(f->rules[i].action, name) == 0)
				return pve_error_set(err, EINVAL,
						     "Security group '%s' is used by a rule", name);
		size_t i = (size_t)(g - f->groups);
		free(g->name);
		free(g->comment);
		free(g->rules);
		memmove(g, g + 1, (f->n_groups - i - 1) * sizeof(*g));
		f->n_groups--;
		return 0;
	}
	const char *comment = pved_call_str(c, "comment");
	if (comment && strchr(comment, '\n'))
		return pve_error_set_param(err, EINVAL, "comment", "value must be a single line");
	const char *rename = pved_call_str(c, "rename");
	if (rename) {
		pve_fw_group *old = pve_fw_find_group(f, rename);
		if (!old)
			return pve_error_set_param(err, EINVAL, "group",
						   "Security group '%s' does not exist", rename);
		if (g && g != old)
			return pve_error_set_param(err, EINVAL, "group",
						   "Security group '%s' does already exist", name);
		free(old->name);
		old->name = xstrdup(name);
		for (char *p = old->name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (comment) {
			free(old->comment);
			old->comment = *comment ? xstrdup(comment) : NULL;
		}
		return 0;
	}
	if (g)
		return pve_error_set_param(err, EINVAL, "group",
					   "Security group '%s' already exists", name);
	if (f->n_groups >= PVE_FW_MAX_SETS)
		return pve_error_set(err, E2BIG, "too many security groups");
	f->groups = xrealloc(f->groups, (f->n_groups + 1) * sizeof(*f->groups));
	pve_fw_group *n = &f->groups[f->n_groups++];
	*n = (pve_fw_group){ .name = xstrdup(name),
			     .comment = comment && *comment ? xstrdup(comment) : NULL };
	for (char *p = n->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

static int edit_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d;
	fw_ctx *x = ud;
	pve_fw_file *f = cfg;
	switch (x->op) {
	case OP_RULE_CREATE:
	case OP_RULE_UPDATE:
	case OP_RULE_DELETE:
		return op_rule(x, f, err);
	case OP_OPTIONS:
		return op_options(x, f, err);
	case OP_ALIAS_CREATE:
	case OP_ALIAS_UPDATE:
	case OP_ALIAS_DELETE:
		return op_alias(x, f, err);
	case OP_IPSET_CREATE:
	case OP_IPSET_DELETE:
	case OP_IP_CREATE:
	case OP_IP_UPDATE:
	case OP_IP_DELETE:
		return op_ipset(x, f, err);
	case OP_GROUP_CREATE:
	case OP_GROUP_DELETE:
		return op_group(x, f, err);
	}
	return 0;
}

static void edit_done(pved *d, void *ud, int r, pve_error *err)
{
	fw_ctx *x = ud;
	pved_call *c = x->c;
	unsigned vmid = x->level == LV_VM ? x->vmid : 0;
	ctx_free(x);
	if (r < 0) {
		pved_call_fail(c, err);
		return;
	}
	pve_error_free(err);
	/* Answered when the change is in the kernel, or with why it is not. */
	pved_fw_schedule(d, vmid, c);
}

static void edit(pved_call *c, fw_level level, fw_op op)
{
	pve_error *err = NULL;
	fw_ctx *x = ctx_new(c, level, op, &err);
	if (!x) {
		pved_call_fail(c, err);
		return;
	}
	/* Host and guest rules name the cluster's ipsets, aliases and groups: read it (no lock;
	 * a change of it meanwhile is caught by the compile before the apply). */
	if (level == LV_HOST || level == LV_VM) {
		void *cl = NULL;
		if (pved_cfgfile_read(c->d, &cluster_file, &cl, NULL, &err) < 0) {
			ctx_free(x);
			pved_call_fail(c, err);
			return;
		}
		x->cluster = cl;
	}
	pved_cfgedit e = { .file = &x->file,
			   .digest = pved_call_str(c, "digest"),
			   .change = edit_change,
			   .done = edit_done };
	pved_cfgedit_run(c->d, &e, x);
}

/* ----- The handler table ----- */

#define GET(fn, level, what)                 \
	static void fn(pved_call *c)         \
	{                                    \
		get_handler(c, level, what); \
	}
#define EDIT(fn, level, op)          \
	static void fn(pved_call *c) \
	{                            \
		edit(c, level, op);  \
	}

GET(cluster_get_rules, LV_CLUSTER, "rules")
GET(cluster_get_rule, LV_CLUSTER, "rule")
EDIT(cluster_create_rule, LV_CLUSTER, OP_RULE_CREATE)
EDIT(cluster_update_rule, LV_CLUSTER, OP_RULE_UPDATE)
EDIT(cluster_delete_rule, LV_CLUSTER, OP_RULE_DELETE)
GET(cluster_get_options, LV_CLUSTER, "options")
EDIT(cluster_set_options, LV_CLUSTER, OP_OPTIONS)
GET(cluster_get_aliases, LV_CLUSTER, "aliases")
GET(cluster_read_alias, LV_CLUSTER, "alias")
EDIT(cluster_create_alias, LV_CLUSTER, OP_ALIAS_CREATE)
EDIT(cluster_update_alias, LV_CLUSTER, OP_ALIAS_UPDATE)
EDIT(cluster_remove_alias, LV_CLUSTER, OP_ALIAS_DELETE)
GET(cluster_ipset_index, LV_CLUSTER, "ipsets")
GET(cluster_get_ipset, LV_CLUSTER, "ipset")
GET(cluster_read_ip, LV_CLUSTER, "ip")
EDIT(cluster_create_ipset, LV_CLUSTER, OP_IPSET_CREATE)
EDIT(cluster_delete_ipset, LV_CLUSTER, OP_IPSET_DELETE)
EDIT(cluster_create_ip, LV_CLUSTER, OP_IP_CREATE)
EDIT(cluster_update_ip, LV_CLUSTER, OP_IP_UPDATE)
EDIT(cluster_remove_ip, LV_CLUSTER, OP_IP_DELETE)
GET(cluster_list_security_groups, LV_CLUSTER, "groups")
EDIT(cluster_create_security_group, LV_CLUSTER, OP_GROUP_CREATE)
GET(cluster_refs, LV_CLUSTER, "refs")
GET(group_get_rules, LV_GROUP, "rules")
GET(group_get_rule, LV_GROUP, "rule")
EDIT(group_create_rule, LV_GROUP, OP_RULE_CREATE)
EDIT(group_update_rule, LV_GROUP, OP_RULE_UPDATE)
EDIT(group_delete_rule, LV_GROUP, OP_RULE_DELETE)
EDIT(group_delete_security_group, LV_CLUSTER, OP_GROUP_DELETE)
GET(host_get_rules, LV_HOST, "rules")
GET(host_get_rule, LV_HOST, "rule")
EDIT(host_create_rule, LV_HOST, OP_RULE_CREATE)
EDIT(host_update_rule, LV_HOST, OP_RULE_UPDATE)
EDIT(host_delete_rule, LV_HOST, OP_RULE_DELETE)
GET(host_get_options, LV_HOST, "options")
EDIT(host_set_options, LV_HOST, OP_OPTIONS)
GET(vm_get_rules, LV_VM, "rules")
GET(vm_get_rule, LV_VM, "rule")
EDIT(vm_create_rule, LV_VM, OP_RULE_CREATE)
EDIT(vm_update_rule, LV_VM, OP_RULE_UPDATE)
EDIT(vm_delete_rule, LV_VM, OP_RULE_DELETE)
GET(vm_get_options, LV_VM, "options")
EDIT(vm_set_options, LV_VM, OP_OPTIONS)
GET(vm_get_aliases, LV_VM, "aliases")
GET(vm_read_alias, LV_VM, "alias")
EDIT(vm_create_alias, LV_VM, OP_ALIAS_CREATE)
EDIT(vm_update_alias, LV_VM, OP_ALIAS_UPDATE)
EDIT(vm_remove_alias, LV_VM, OP_ALIAS_DELETE)
GET(vm_ipset_index, LV_VM, "ipsets")
GET(vm_get_ipset, LV_VM, "ipset")
GET(vm_read_ip, LV_VM, "ip")
EDIT(vm_create_ipset, LV_VM, OP_IPSET_CREATE)
EDIT(vm_delete_ipset, LV_VM, OP_IPSET_DELETE)
EDIT(vm_create_ip, LV_VM, OP_IP_CREATE)
EDIT(vm_update_ip, LV_VM, OP_IP_UPDATE)
EDIT(vm_remove_ip, LV_VM, OP_IP_DELETE)
GET(vm_refs, LV_VM, "refs")

#define H(fn)                 \
	{                     \
		"fw_" #fn, fn \
	}
const pved_handler pved_handlers_firewall[] = {
	H(cluster_get_rules),
	H(cluster_get_rule),
	H(cluster_create_rule),
	H(cluster_update_rule),
	H(cluster_delete_rule),
	H(cluster_get_options),
	H(cluster_set_options),
	H(cluster_get_aliases),
	H(cluster_read_alias),
	H(cluster_create_alias),
	H(cluster_update_alias),
	H(cluster_remove_alias),
	H(cluster_ipset_index),
	H(cluster_get_ipset),
	H(cluster_read_ip),
	H(cluster_create_ipset),
	H(cluster_delete_ipset),
	H(cluster_create_ip),
	H(cluster_update_ip),
	H(cluster_remove_ip),
	H(cluster_list_security_groups),
	H(cluster_create_security_group),
	H(cluster_refs),
	{ "fw_cluster_get_macros", get_macros },
	H(group_get_rules),
	H(group_get_rule),
	H(group_create_rule),
	H(group_update_rule),
	H(group_delete_rule),
	H(group_delete_security_group),
	H(host_get_rules),
	H(host_get_rule),
	H(host_create_rule),
	H(host_update_rule),
	H(host_delete_rule),
	H(host_get_options),
	H(host_set_options),
	H(vm_get_rules),
	H(vm_get_rule),
	H(vm_create_rule),
	H(vm_update_rule),
	H(vm_delete_rule),
	H(vm_get_options),
	H(vm_set_options),
	H(vm_get_aliases),
	H(vm_read_alias),
	H(vm_create_alias),
	H(vm_update_alias),
	H(vm_remove_alias),
	H(vm_ipset_index),
	H(vm_get_ipset),
	H(vm_read_ip),
	H(vm_create_ipset),
	H(vm_delete_ipset),
	H(vm_create_ip),
	H(vm_update_ip),
	H(vm_remove_ip),
	H(vm_refs),
	{ "fw_host_log", pved_fw_host_log },
	{ "fw_vm_log", pved_fw_vm_log },
	{ NULL, NULL },
};
