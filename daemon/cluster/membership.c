/* A node founds a cluster (POST /cluster/config) or joins one (POST /cluster/config/join), and keeps
 * its corosync.conf current.
 *
 * Both are tasks ("clustercreate", "clusterjoin") that write what corosync needs under the root:
 * etc/corosync/authkey (pved makes keys of hex characters, so a key travels in JSON as Proxmox's
 * addnode sends it: the file's content as a string) and etc/corosync/corosync.conf; a new cluster's
 * corosync.conf goes into the tree too. A joining node also leaves the marker PVED_JOIN_MARKER. When the
 * task has ended, pved starts again: the root now has a corosync.conf, so it runs corosync and pvecfs
 * in cluster mode (supervise-cluster.c), and a joined node's first sync brings the cluster's tree.
 *
 * The tree's corosync.conf is the cluster's (addnode and delnode edit it on any node); each node
 * installs a newer one (a higher totem.config_version) into its etc/corosync and has corosync reload
 * it, as pmxcfs does. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "client/client.h"
#include "daemon/cluster/cluster-internal.h"
#include "storage/storage.h"

#define AUTHKEY_BYTES 128 /* 256 hex characters: a 2048-bit key of 1024 random bits */
#define RESTART_DELAY_MS 1000
#define JOIN_API_PORT "8006"

/* As Proxmox: the cluster's corosync.conf in the tree is what makes a cluster (the root's
 * etc/corosync/corosync.conf may be the corosync package's own). */
static bool cluster_conf_exists(pved *d)
{
	return pve_store_exists(d->store, "corosync.conf");
}

/* The link addresses the handler parsed (pved_cluster_call_links), as the task's "link-addresses". */
static void links_from_args(const cJSON *args, char *links[PVE_COROSYNC_MAX_LINKS + 1])
{
	size_t n = 0;
	memset(links, 0, (PVE_COROSYNC_MAX_LINKS + 1) * sizeof(*links));
	const cJSON *a;
	cJSON_ArrayForEach (a, cJSON_GetObjectItemCaseSensitive(args, "link-addresses"))
		if (n < PVE_COROSYNC_MAX_LINKS && cJSON_GetStringValue(a))
			links[n++] = xstrdup(a->valuestring);
}

static void links_free(char **links)
{
	for (size_t i = 0; links[i]; i++)
		free(links[i]);
}

/* A create or join: the call's parameters and its link addresses, for the task. */
static int task_args(pved_call *c, bool gaps_ok, cJSON **ret, pve_error **err)
{
	char *links[PVE_COROSYNC_MAX_LINKS + 1];
	size_t n, given;
	if (pved_cluster_call_links(c, links, &n, &given, err) < 0)
		return -EINVAL;
	cJSON *args = cJSON_Duplicate(c->params, true);
	cJSON *list = cJSON_AddArrayToObject(args, "link-addresses");
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		if (!*links[i] && !gaps_ok && r == 0)
			r = pve_error_set_param(err, EINVAL, "link0",
						"link%zu is given, link%zu is not", n - 1, i);
		cJSON_AddItemToArray(list, cJSON_CreateString(links[i]));
	}
	links_free(links);
	if (r < 0) {
		cJSON_Delete(args);
		return r;
	}
	*ret = args;
	return 0;
}

/* The address is one of this network namespace's interfaces'. */
static bool address_is_local(const char *addr)
{
	unsigned char want[sizeof(struct in6_addr)];
	int family = inet_pton(AF_INET, addr, want) == 1  ? AF_INET :
		     inet_pton(AF_INET6, addr, want) == 1 ? AF_INET6 :
							    0;
	struct ifaddrs *ifs = NULL;
	if (!family || getifaddrs(&ifs) < 0)
		return false;
	bool found = false;
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		const void *have =
			family == AF_INET ?
				(const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr :
				(const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		found = memcmp(have, want, family == AF_INET ? 4 : 16) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

/* ---- POST /cluster/config: a new cluster of this one node ---------------------------------------------- */

/* The root's corosync key: kept when addnode can send it (text) and corosync takes it (at least 1024
 * bits), as Proxmox keeps an existing key; else made anew. */
static int write_authkey(pved *d, pve_error **err)
{
	_cleanup_free_ char *path = pved_path(d, "etc/corosync/authkey");
	_cleanup_free_ char *old = NULL;
	if (pved_cluster_authkey_read(d, &old, NULL) == 0 && strlen(old) >= AUTHKEY_BYTES)
		return 0;
	unsigned char raw[AUTHKEY_BYTES];
	if (pve_random_bytes(raw, sizeof(raw), err) < 0)
		return -EIO;
	_cleanup_free_ char *hex = pve_hex_encode(raw, sizeof(raw), false);
	explicit_bzero(raw, sizeof(raw));
	int r = pve_write_file_atomic(path, hex, strlen(hex), 0400, err);
	explicit_bzero(hex, strlen(hex));
	return r;
}

static int create_task(pved *d, const cJSON *args, pve_error **err)
{
	if (cluster_conf_exists(d))
		return pve_error_set(err, EEXIST,
				     "cluster config '/etc/pve/corosync.conf' already exists");
	char *links[PVE_COROSYNC_MAX_LINKS + 1];
	links_from_args(args, links);
	if (!links[0] && !(links[0] = pved_node_ip(d, d->node)))
		return pve_error_set(
			err, EINVAL,
			"unable to find the address of node '%s': give link0, or name the "
			"node in /etc/hosts",
			d->node);
	const cJSON *nodeid = cJSON_GetObjectItemCaseSensitive(args, "nodeid");
	const cJSON *votes = cJSON_GetObjectItemCaseSensitive(args, "votes");
	const cJSON *coeff = cJSON_GetObjectItemCaseSensitive(args, "token-coefficient");
	_cleanup_free_ char *conf = pve_corosync_conf_create(
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "clustername")),
		d->node, cJSON_IsNumber(nodeid) ? nodeid->valueint : 1,
		cJSON_IsNumber(votes) ? votes->valueint : 1, (const char *const *)links,
		cJSON_IsNumber(coeff) ? coeff->valueint : 125);
	links_free(links);
	int r;
	if ((r = write_authkey(d, err)) < 0)
		return r;
	printf("Writing corosync config to /etc/pve/corosync.conf\n");
	fflush(stdout);
	_cleanup_free_ char *local = pved_path(d, "etc/corosync/corosync.conf");
	if ((r = pve_store_create(d->store, "corosync.conf", conf, strlen(conf), err)) < 0 ||
	    (r = pve_write_file_atomic(local, conf, strlen(conf), 0644, err)) < 0)
		return r;
	printf("Restart corosync and cluster filesystem\n");
	return 0;
}

static void h_cluster_config_create(pved_call *c)
{
	pved *d = c->d;
	pve_error *err = NULL;
	if (cluster_conf_exists(d)) {
		pve_error_set(&err, EEXIST,
			      "cluster config '/etc/pve/corosync.conf' already exists");
		return pved_call_fail(c, err);
	}
	cJSON *args = NULL;
	if (task_args(c, false, &args, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(d, "clustercreate", pved_call_str(c, "clustername"), c->authid, args,
			    &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* ---- POST /cluster/config/join: this node into the cluster of another -------------------------------- */

static bool has_guests(pved *d)
{
	_cleanup_strv_free_ char **nodes = NULL;
	if (pve_store_list(d->store, "nodes", &nodes, NULL) < 0)
		return false;
	for (char **n = nodes; *n; n++) {
		static const char *const kinds[] = { "qemu-server", "lxc" };
		for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
			_cleanup_free_ char *dir = xasprintf("nodes/%s/%s", *n, kinds[i]);
			_cleanup_strv_free_ char **confs = NULL;
			if (pve_store_list(d->store, dir, &confs, NULL) < 0)
				continue;
			for (char **f = confs; *f; f++)
				if (endswith(*f, ".conf"))
					return true;
		}
	}
	return false;
}

/* Proxmox's assert_joinable: every reason printed, then refused unless forced. */
static int assert_joinable(pved *d, const char *local_ip, char *const *links, bool force,
			   pve_error **err)
{
	pve_buf b = { 0 };
	_cleanup_free_ char *authkey = pved_path(d, "etc/corosync/authkey");
	if (access(authkey, F_OK) == 0)
		pve_buf_printf(&b, "* authentication key '/etc/corosync/authkey' already exists\n");
	if (cluster_conf_exists(d))
		pve_buf_printf(&b, "* cluster config '/etc/pve/corosync.conf' already exists\n");
	if (has_guests(d))
		pve_buf_printf(&b, "* this host already contains virtual guests\n");
	if (local_ip && !address_is_local(local_ip))
		pve_buf_printf(
			&b, "* local node address: cannot use IP '%s', not found on local node!\n",
			local_ip);
	for (int i = 0; links[i]; i++)
		if (*links[i] && !address_is_local(links[i]))
			pve_buf_printf(&b,
				       "* link%d: cannot use IP '%s', not found on local node!\n",
				       i, links[i]);
	if (!b.len)
		return 0;
	fprintf(stderr, "detected the following error(s):\n%s", b.data);
	pve_buf_free(&b);
	if (!force)
		return pve_error_set(err, EINVAL, "Check if node may join a cluster failed!");
	fprintf(stderr, "\nWARNING : detected error but forced to continue!\n\n");
	return 0;
}

static void add_link_params(cJSON *params, const cJSON *args)
{
	for (int i = 0; i < PVE_COROSYNC_MAX_LINKS; i++) {
		char name[8];
		snprintf(name, sizeof(name), "link%d", i);
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, name));
		if (v)
			cJSON_AddStringToObject(params, name, v);
	}
}

/* An error answer of the cluster node: its message and its errors object, as Proxmox prints them. */
static int remote_failed(const pve_client_response *resp, pve_error **err)
{
	const char *msg = resp->reason && *resp->reason ? resp->reason : "(no message)";
	fprintf(stderr, "An error occurred on the cluster node: %s\n", msg);
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(resp->body, "errors")) {
		const char *text = cJSON_GetStringValue(e);
		fprintf(stderr, "%s %s\n", startswith(e->string, "warning") ? "*" : "!",
			text ? text : "");
	}
	return pve_error_set(err, EIO, "Cluster join aborted!");
}

static int join_task(pved *d, const cJSON *args, pve_error **err)
{
	const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "hostname"));
	const char *password =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "password"));
	const char *fingerprint =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "fingerprint"));
	const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "username"));
	bool force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "force")) ||
		     cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(args, "force")) == 1;
	char *links[PVE_COROSYNC_MAX_LINKS + 1];
	links_from_args(args, links);
	_cleanup_free_ char *local_ip = links[0] ? NULL : pved_node_ip(d, d->node);
	int r = assert_joinable(d, local_ip, links, force, err);
	if (r < 0) {
		links_free(links);
		return r;
	}
	bool no_links = !links[0];
	links_free(links);
	if (no_links && !local_ip)
		return pve_error_set(
			err, EINVAL,
			"unable to find the address of node '%s': give link0, or name the "
			"node in /etc/hosts",
			d->node);

	printf("Establishing API connection with host '%s'\n", host);
	fflush(stdout);
	pve_client *cl = NULL;
	if ((r = pve_client_new(host, JOIN_API_PORT, fingerprint, &cl, err)) < 0)
		return r;
	r = pve_client_login(cl, user ? user : "root@pam", password, err);
	if (r < 0) {
		pve_client_free(cl);
		return r;
	}
	printf("Login succeeded.\ncheck cluster join API version\n");
	fflush(stdout);
	pve_client_response resp = { 0 };
	long long apiver = 0;
	if (pve_client_call(cl, "GET", "/cluster/config/apiversion", NULL, &resp, NULL) == 0 &&
	    resp.status == 200)
		apiver = (long long)cJSON_GetNumberValue(
			cJSON_GetObjectItemCaseSensitive(resp.body, "data"));
	pve_client_response_clear(&resp);
	int min = PVED_CLUSTER_JOIN_API_VERSION - PVED_CLUSTER_JOIN_API_AGE;
	if (apiver < min) {
		pve_client_free(cl);
		return pve_error_set(
			err, EINVAL,
			"error: incompatible join API version on cluster (%lld), local node "
			"has %d and supports >= %d. Make sure all cluster nodes are "
			"up-to-date.",
			apiver, PVED_CLUSTER_JOIN_API_VERSION, min);
	}

	cJSON *params = cJSON_CreateObject();
	static const char *const passed[] = { "nodeid", "votes" };
	for (size_t i = 0; i < ELEMENTSOF(passed); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, passed[i]);
		if (cJSON_IsNumber(v)) {
			_cleanup_free_ char *s = xasprintf("%d", v->valueint);
			cJSON_AddStringToObject(params, passed[i], s);
		}
	}
	if (force)
		cJSON_AddStringToObject(params, "force", "1");
	add_link_params(params, args);
	if (no_links) {
		cJSON_AddStringToObject(params, "new_node_ip", local_ip);
		printf("No cluster network links passed explicitly, fallback to local node IP '%s'\n",
		       local_ip);
	}
	_cleanup_free_ char *ver = xasprintf("%d", PVED_CLUSTER_JOIN_API_VERSION);
	cJSON_AddStringToObject(params, "apiversion", ver);
	printf("Request addition of this node\n");
	fflush(stdout);
	_cleanup_free_ char *path = xasprintf("/cluster/config/nodes/%s", d->node);
	r = pve_client_call(cl, "POST", path, params, &resp, err);
	cJSON_Delete(params);
	pve_client_free(cl);
	if (r < 0)
		return r;
	if (resp.status != 200) {
		r = remote_failed(&resp, err);
		pve_client_response_clear(&resp);
		return r;
	}
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp.body, "data");
	const char *conf =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "corosync_conf"));
	const char *key =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "corosync_authkey"));
	const cJSON *w;
	cJSON_ArrayForEach (w, cJSON_GetObjectItemCaseSensitive(data, "warnings"))
		if (cJSON_GetStringValue(w))
			pved_task_warn("cluster: %s", w->valuestring);
	if (!conf || !key || !*key) {
		pve_client_response_clear(&resp);
		return pve_error_set(err, EPROTO,
				     "the cluster node's answer lacks the corosync "
				     "config or its key");
	}
	printf("Join request OK, finishing setup locally\n");
	_cleanup_free_ char *keyfile = pved_path(d, "etc/corosync/authkey");
	_cleanup_free_ char *conffile = pved_path(d, "etc/corosync/corosync.conf");
	_cleanup_free_ char *marker = pved_path(d, PVED_JOIN_MARKER);
	/* the marker first: a root with the corosync files but no marker would keep its own tree */
	if ((r = pve_write_file_atomic(marker, "", 0, 0600, err)) < 0 ||
	    (r = pve_write_file_atomic(keyfile, key, strlen(key), 0400, err)) < 0 ||
	    (r = pve_write_file_atomic(conffile, conf, strlen(conf), 0644, err)) < 0) {
		pve_client_response_clear(&resp);
		return r;
	}
	pve_client_response_clear(&resp);
	printf("pved restarts with corosync and pvecfs; the cluster's configuration replaces this "
	       "node's, which is kept under /var/lib/pve-cluster/before-join-*\n");
	return 0;
}

static void h_cluster_config_join(pved_call *c)
{
	pved *d = c->d;
	pve_error *err = NULL;
	cJSON *args = NULL;
	if (task_args(c, true, &args, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(d, "clusterjoin", "", c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* ---- once a task ended: pved again, as a cluster node ---------------------------------------------------- */

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved_restart(arg, "the node is in a cluster now: corosync and pvecfs in cluster mode");
}

void pved_cluster_task_ended(pved *d, const char *type, const char *id)
{
	(void)id;
	if (!streq(type, "clustercreate") && !streq(type, "clusterjoin"))
		return;
	if (!pved_root_in_cluster(d) || pved_pvecfs_clustered(d))
		return;
	/* a moment for the client that watched the task to read its end */
	struct timeval tv = { RESTART_DELAY_MS / 1000, (RESTART_DELAY_MS % 1000) * 1000 };
	event_base_once(d->base, -1, EV_TIMEOUT, restart_cb, d, &tv);
}

/* ---- the tree's corosync.conf, installed when newer ------------------------------------------------------ */

static void reload_work(void *arg)
{
	(void)arg;
	_cleanup_error_ pve_error *err = NULL;
	const char *argv[] = { "corosync-cfgtool", "-R", NULL };
	if (pve_storage_run(argv, NULL, &err) < 0)
		log_warning("corosync did not reload its config: %s", err->message);
}

static void reload_done(void *arg)
{
	(void)arg;
}

static long long conf_version(const char *text, size_t len)
{
	pve_corosync_conf *conf = NULL;
	if (pve_corosync_conf_parse(text, len, &conf, NULL) < 0)
		return -1;
	long long v = pve_corosync_conf_version(conf);
	pve_corosync_conf_free(conf);
	return v;
}

void pved_cluster_config_changed(pved *d, const char *path)
{
	if ((*path && !streq(path, "corosync.conf")) || !pved_pvecfs_clustered(d))
		return;
	_cleanup_free_ char *text = NULL, *old = NULL;
	size_t len, old_len;
	if (pve_store_read(d->store, "corosync.conf", &text, &len, NULL, NULL) < 0)
		return;
	_cleanup_free_ char *local = pved_path(d, "etc/corosync/corosync.conf");
	long long have = pve_read_file(local, PVE_COROSYNC_MAX_SIZE, &old, &old_len, NULL) < 0 ?
				 0 :
				 conf_version(old, old_len);
	long long version = conf_version(text, len);
	if (version < 0) {
		log_warning("the cluster's corosync.conf does not parse: not installed");
		return;
	}
	if (version <= have)
		return;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_write_file_atomic(local, text, len, 0644, &err) < 0) {
		log_error("cannot install corosync.conf version %lld: %s", version, err->message);
		return;
	}
	log_info("installed corosync.conf version %lld; corosync reloads it", version);
	if (pved_run_blocking(d, PVED_QUEUE_SCAN, reload_work, reload_done, NULL, &err) < 0)
		log_warning("corosync did not reload its config: %s", err->message);
}

const pved_task_kind pved_cluster_tasks[] = {
	{ "clustercreate", create_task },
	{ "clusterjoin", join_task },
	{ NULL, NULL },
};

const pved_handler pved_cluster_membership_handlers[] = {
	{ "cluster_config_create", h_cluster_config_create },
	{ "cluster_config_join", h_cluster_config_join },
	{ NULL, NULL },
};
