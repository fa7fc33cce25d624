/* /cluster/config: the cluster's corosync.conf as Proxmox's ClusterConfig.pm reads and edits it (the
 * nodes, totem, qdevice, join information, the join API version, addnode and delnode; the index is
 * core's, from the route table). */
#include <cjson/cJSON.h>

#include "common/corosync-conf.h"
#include "daemon/cluster/cluster-internal.h"
#include "storage/storage.h"

/* corosync-keygen's key is 128 bytes; pved's is hex text. Anything far larger is not a key. */
#define AUTHKEY_MAX (64 * 1024)
/* corosync-cfgtool -k of a deleted node: corosync answers at once, or is not there */
#define DELNODE_KILL_TIMEOUT_MS 10000

static int cc_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	pve_corosync_conf *c = NULL;
	int r = pve_corosync_conf_parse(text, len, &c, err);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}

static char *cc_print(const void *cfg)
{
	return pve_corosync_conf_print(cfg);
}

static void cc_free(void *cfg)
{
	pve_corosync_conf_free(cfg);
}

/* Proxmox locks corosync.conf's edits with cfs_lock_file('corosync.conf'). */
static const pved_cfgfile corosync_file = { .path = "corosync.conf",
					    .lock = "file-corosync_conf",
					    .parse = cc_parse,
					    .print = cc_print,
					    .free = cc_free };

/* The parsed file and its digest; an absent file is an empty tree. */
static int read_conf(pved *d, pve_corosync_conf **ret, char ret_digest[PVE_STORE_DIGEST_LEN + 1],
		     pve_error **err)
{
	void *cfg = NULL;
	int r = pved_cfgfile_read(d, &corosync_file, &cfg, ret_digest, err);
	if (r < 0)
		return r;
	*ret = cfg;
	return 0;
}

/* Whether the file says anything: Proxmox's test of a cluster (a parsed "main"). */
static bool in_cluster(const pve_corosync_conf *conf)
{
	cJSON *j = pve_corosync_conf_to_json(conf);
	bool r = cJSON_GetArraySize(j) > 0;
	cJSON_Delete(j);
	return r;
}

/* The name Proxmox keys a node by: its name, else its ring0 address. */
static const char *node_name(const cJSON *node)
{
	const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(node, "name"));
	return n ? n : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(node, "ring0_addr"));
}

static void h_apiversion(pved_call *c)
{
	pved_call_reply(c, cJSON_CreateNumber(PVED_CLUSTER_JOIN_API_VERSION));
}

/* Proxmox answers each node's keys as written (strings), with "node" its key; no cluster: []. */
static void h_nodes(pved_call *c)
{
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *conf = NULL;
	pve_error *err = NULL;
	if (read_conf(c->d, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *list = pve_corosync_conf_nodes(conf);
	cJSON *n;
	cJSON_ArrayForEach (n, list) {
		const char *name = node_name(n);
		cJSON_AddStringToObject(n, "node", name ? name : "");
	}
	pved_call_reply(c, list);
}

static cJSON *totem_of(const pve_corosync_conf *conf)
{
	cJSON *j = pve_corosync_conf_to_json(conf);
	cJSON *totem = cJSON_DetachItemFromObjectCaseSensitive(j, "totem");
	cJSON_Delete(j);
	return totem ? totem : cJSON_CreateObject();
}

static void h_totem(pved_call *c)
{
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *conf = NULL;
	pve_error *err = NULL;
	if (read_conf(c->d, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, totem_of(conf));
}

/* Proxmox asks corosync-qdevice's socket and answers {} when there is none; pved runs no qdevice. */
static void h_qdevice(pved_call *c)
{
	pved_call_reply(c, cJSON_CreateObject());
}

static void h_join_info(pved_call *c)
{
	pved *d = c->d;
	const char *node = pved_call_str(c, "node");
	node = node ? node : d->node;
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	pve_error *err = NULL;
	if (read_conf(d, &conf, digest, &err) < 0)
		return pved_call_fail(c, err);
	if (!in_cluster(conf)) {
		pve_error_set(&err, ENOENT, "node is not in a cluster, no join info available!");
		return pved_call_fail_status(c, 424, err);
	}
	cJSON *nodes = pve_corosync_conf_nodes(conf);
	bool known = false;
	cJSON *n;
	cJSON_ArrayForEach (n, nodes) {
		const char *name = node_name(n);
		known = known || (name && streq(name, node));
	}
	if (!known) {
		cJSON_Delete(nodes);
		pve_error_set(&err, ENOENT, "unknown node '%s'", node);
		return pved_call_fail(c, err);
	}
	cJSON_ArrayForEach (n, nodes) {
		const char *name = node_name(n);
		_cleanup_free_ char *fp = NULL;
		if (!name || pved_node_fingerprint(d, name, &fp, &err) < 0) {
			cJSON_Delete(nodes);
			if (!err)
				pve_error_set(&err, EIO, "a node in corosync.conf has no name");
			err->code = EIO;
			return pved_call_fail(c, err);
		}
		cJSON_AddStringToObject(n, "pve_fp", fp);
		/* Proxmox resolves the node's name; pved's nodes are known by their link0 address. */
		const char *addr =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "ring0_addr"));
		if (addr)
			cJSON_AddStringToObject(n, "pve_addr", addr);
	}
	cJSON *res = cJSON_CreateObject();
	cJSON_AddItemToObject(res, "nodelist", nodes);
	cJSON_AddStringToObject(res, "preferred_node", node);
	cJSON_AddItemToObject(res, "totem", totem_of(conf));
	cJSON_AddStringToObject(res, "config_digest", digest);
	pved_call_reply(c, res);
}

/* ---- POST /cluster/config/nodes/{node}: addnode ---- */

typedef struct addnode_job {
	pved_call *c;
	char *links[PVE_COROSYNC_MAX_LINKS + 1]; /* "" for a link not given */
	size_t nlinks; /* the highest given + 1 */
	char *new_node_ip;
	bool legacy; /* one link, no new_node_ip, an old joiner: that link is the fallback */
	char *authkey;
	char *text; /* the file as written */
} addnode_job;

static void addnode_job_free(addnode_job *j)
{
	for (size_t i = 0; i < ELEMENTSOF(j->links); i++)
		free(j->links[i]);
	free(j->new_node_ip);
	free(j->authkey);
	free(j->text);
	free(j);
}

/* The link numbers the cluster's nodes have: those of the first, as Proxmox (all have the same). */
static unsigned cluster_links(const pve_corosync_conf *conf)
{
	cJSON *nodes = pve_corosync_conf_nodes(conf);
	const cJSON *first = cJSON_GetArrayItem(nodes, 0);
	unsigned m = 0;
	const cJSON *k;
	cJSON_ArrayForEach (k, first) {
		for (int l = 0; l < PVE_COROSYNC_MAX_LINKS; l++) {
			char ring[16], link[16];
			snprintf(ring, sizeof(ring), "ring%d_addr", l);
			snprintf(link, sizeof(link), "link%d_addr", l);
			if (streq(k->string, ring) || streq(k->string, link))
				m |= 1u << l;
		}
	}
	cJSON_Delete(nodes);
	return m;
}

static int addnode_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d;
	addnode_job *j = ud;
	pve_corosync_conf *conf = cfg;
	pved_call *c = j->c;
	cJSON *nodes = pve_corosync_conf_nodes(conf);
	int count = cJSON_GetArraySize(nodes);
	cJSON_Delete(nodes);
	if (count == 0)
		return pve_error_set(err, EIO, "invalid corosync.conf: no nodes found");

	/* No links: new_node_ip goes to the cluster's one link. */
	int fallback_link = -1;
	if (j->nlinks == 0) {
		unsigned have = cluster_links(conf);
		int n = __builtin_popcount(have);
		if (n != 1) {
			if (j->legacy)
				return pve_error_set_param(err, EINVAL, "link0",
							   "cluster has %d links, but only 1 given",
							   n);
			return pve_error_set_param(
				err, EINVAL, "new_node_ip",
				"no links given but multiple links found on other "
				"nodes, fallback only supported on single-link "
				"clusters");
		}
		fallback_link = __builtin_ctz(have);
		for (int l = 0; l <= fallback_link; l++)
			j->links[l] = xstrdup(l == fallback_link ? j->new_node_ip : "");
		j->nlinks = (size_t)fallback_link + 1;
	}
	int r = pve_corosync_conf_add_node(conf, pved_call_str(c, "node"),
					   (int)pved_call_int(c, "nodeid", 0),
					   (int)pved_call_int(c, "votes", -1),
					   (const char *const *)j->links,
					   pved_call_int(c, "force", 0), err);
	if (r < 0) {
		/* an address that came from new_node_ip is that parameter's fault */
		if (fallback_link >= 0 && err && *err && (*err)->param &&
		    startswith((*err)->param, "link")) {
			free((*err)->param);
			(*err)->param = xstrdup(j->legacy ? "link0" : "new_node_ip");
		}
		return r;
	}
	log_notice("adding node %s to cluster", pved_call_str(c, "node"));
	j->text = pve_corosync_conf_print(conf);
	return 0;
}

static void addnode_done(pved *d, void *ud, int r, pve_error *err)
{
	(void)d;
	addnode_job *j = ud;
	pved_call *c = j->c;
	if (r < 0) {
		addnode_job_free(j);
		return pved_call_fail(c, err);
	}
	pve_error_free(err);
	cJSON *res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "corosync_authkey", j->authkey);
	cJSON_AddStringToObject(res, "corosync_conf", j->text ? j->text : "");
	cJSON_AddArrayToObject(res, "warnings");
	addnode_job_free(j);
	pved_call_reply(c, res);
}

int pved_cluster_call_links(pved_call *c, char *links[PVE_COROSYNC_MAX_LINKS + 1], size_t *ret_n,
			    size_t *ret_given, pve_error **err)
{
	/* Of each link, only the address counts: its priority is for cluster create, as Proxmox. */
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(c->route->parameters, "properties");
	const cJSON *format = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(props, "link[n]"), "format");
	size_t given = 0, n = 0;
	for (int l = 0; l < PVE_COROSYNC_MAX_LINKS; l++) {
		char name[16];
		snprintf(name, sizeof(name), "link%d", l);
		const char *v = pved_call_str(c, name);
		if (!v)
			continue;
		cJSON *link = NULL;
		if (pve_propstr_parse(v, format, &link, err) < 0) {
			free((*err)->param);
			(*err)->param = xstrdup(name);
			for (size_t k = 0; k < n; k++)
				free(links[k]);
			return -EINVAL;
		}
		const char *addr =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(link, "address"));
		for (int k = (int)n; k < l; k++)
			links[k] = xstrdup("");
		links[l] = xstrdup(addr ? addr : "");
		n = (size_t)l + 1;
		cJSON_Delete(link);
		given++;
	}
	links[n] = NULL;
	*ret_n = n;
	*ret_given = given;
	return 0;
}

/* The corosync key a joining node gets: pved's keys are hex text, and the answer is JSON text, so a
 * key of other bytes (corosync-keygen's binary one) is refused rather than mangled. */
int pved_cluster_authkey_read(pved *d, char **ret, pve_error **err)
{
	_cleanup_free_ char *path = pved_path(d, "etc/corosync/authkey");
	_cleanup_free_ char *key = NULL;
	size_t len = 0;
	int r = pve_read_file(path, AUTHKEY_MAX, &key, &len, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)key[i];
		if ((ch < 0x20 || ch > 0x7e) && ch != '\n')
			return pve_error_set(
				err, EIO,
				"corosync authkey %s holds bytes that are not printable "
				"text (pved's keys are hex); it cannot be sent to a "
				"joining node",
				path);
	}
	*ret = TAKE_PTR(key);
	return 0;
}

static void h_addnode(pved_call *c)
{
	pve_error *err = NULL;
	long long apiversion = pved_call_int(c, "apiversion", 0);
	long long min_version = PVED_CLUSTER_JOIN_API_VERSION - PVED_CLUSTER_JOIN_API_AGE;
	if (apiversion < min_version) {
		pve_error_set_param(&err, EINVAL, "apiversion",
				    "error: unsupported old API version on joining node (%lld), "
				    "cluster node has %d and supports >= %lld. Please upgrade node "
				    "before joining",
				    apiversion, PVED_CLUSTER_JOIN_API_VERSION, min_version);
		return pved_call_fail(c, err);
	}
	/* corosync's node ids and votes are 32-bit */
	static const char *const ints[] = { "nodeid", "votes" };
	for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
		if (pved_call_int(c, ints[i], 0) > INT32_MAX) {
			pve_error_set_param(&err, EINVAL, ints[i],
					    "value must have a maximum value of %d", INT32_MAX);
			return pved_call_fail(c, err);
		}
	}
	addnode_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	size_t given = 0;
	if (pved_cluster_call_links(c, j->links, &j->nlinks, &given, &err) < 0) {
		addnode_job_free(j);
		return pved_call_fail(c, err);
	}
	const char *ip = pved_call_str(c, "new_node_ip");
	j->new_node_ip = ip ? xstrdup(ip) : NULL;
	/* Proxmox's fallback for joiners before API version 1: their one link is new_node_ip. */
	if (!ip && given == 1 && apiversion == 0) {
		j->new_node_ip = TAKE_PTR(j->links[j->nlinks - 1]);
		j->legacy = true;
		for (size_t k = 0; k < j->nlinks; k++) {
			free(j->links[k]);
			j->links[k] = NULL;
		}
		j->nlinks = 0;
	}
	if (j->nlinks == 0 && !j->new_node_ip) {
		addnode_job_free(j);
		pve_error_set(
			&err, EINVAL,
			"no links and no fallback ip (new_node_ip) given, cannot join cluster");
		return pved_call_fail(c, err);
	}
	if (pved_cluster_authkey_read(c->d, &j->authkey, &err) < 0) {
		addnode_job_free(j);
		return pved_call_fail_status(c, 500, err);
	}
	pved_cfgedit e = { .file = &corosync_file, .change = addnode_change, .done = addnode_done };
	pved_cfgedit_run(c->d, &e, j);
}

/* ---- DELETE /cluster/config/nodes/{node}: delnode ---- */

typedef struct delnode_job {
	pved_call *c;
	int nodeid;
	bool clustered;
} delnode_job;

static int delnode_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	delnode_job *j = ud;
	int r = pve_corosync_conf_del_node(cfg, pved_call_str(j->c, "node"), &j->nodeid, err);
	if (r == 0)
		log_notice("deleting node %s from cluster", pved_call_str(j->c, "node"));
	j->clustered = pved_pvecfs_clustered(d);
	return r;
}

/* Before the conf without the node is written, corosync lets go of it (corosync-cfgtool -k), as
 * Proxmox's delnode: allowed to fail, the node being down already. */
static int delnode_kill(void *cfg, void *ud, pve_error **err)
{
	(void)cfg, (void)err;
	delnode_job *j = ud;
	if (!j->clustered || j->nodeid <= 0)
		return 0;
	char id[16];
	snprintf(id, sizeof(id), "%d", j->nodeid);
	const char *argv[] = { "corosync-cfgtool", "-k", id, NULL };
	_cleanup_error_ pve_error *e = NULL;
	if (pve_storage_run_ex(argv, NULL, DELNODE_KILL_TIMEOUT_MS, NULL, NULL, &e) < 0)
		log_info("corosync-cfgtool -k %s: %s (the node is down)", id, e->message);
	return 0;
}

static void delnode_done(pved *d, void *ud, int r, pve_error *err)
{
	(void)d;
	delnode_job *j = ud;
	pved_call *c = j->c;
	free(j);
	if (r < 0)
		return pved_call_fail(c, err);
	pve_error_free(err);
	pved_call_reply(c, NULL);
}

static void h_delnode(pved_call *c)
{
	if (streq(pved_call_str(c, "node"), c->d->node)) {
		pve_error *err = NULL;
		pve_error_set(&err, EINVAL, "Cannot delete myself from cluster!");
		return pved_call_fail(c, err);
	}
	delnode_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	pved_cfgedit e = { .file = &corosync_file,
			   .change = delnode_change,
			   .check = delnode_kill,
			   .queue = PVED_QUEUE_SCAN,
			   .done = delnode_done };
	pved_cfgedit_run(c->d, &e, j);
}

const pved_handler pved_cluster_config_handlers[] = {
	{ "cluster_config_apiversion", h_apiversion }, { "cluster_config_nodes", h_nodes },
	{ "cluster_config_totem", h_totem },	       { "cluster_config_qdevice", h_qdevice },
	{ "cluster_config_join_info", h_join_info },   { "cluster_config_addnode", h_addnode },
	{ "cluster_config_delnode", h_delnode },       { NULL, NULL },
};
