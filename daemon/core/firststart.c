/* First start of a node: what a fresh Proxmox install has under /etc/pve, made once under the root: the
 * ticket keys, the CSRF secret, the cluster CA and node certificate, user.cfg with admin@pve, storage.cfg;
 * and pved --check, which reads every config back. */
#include <sys/stat.h>
#include <unistd.h>

#include "common/corosync-conf.h"
#include "daemon/core/pved.h"
#include "storage/storage.h"

#define ADMIN_PASSWORD_LEN 20

/* Writes path only when it is missing: a restart never replaces what an administrator has. */
static int create_missing(pved *d, const char *path, const char *data, pve_error **err)
{
	if (pve_store_exists(d->store, path))
		return 0;
	int r = pve_store_create(d->store, path, data, strlen(data), err);
	return r == -EEXIST ? 0 : r;
}

static int make_keys(pved *d, pve_error **err)
{
	int r;
	if (!pve_store_exists(d->store, "priv/authkey.key")) {
		_cleanup_free_ char *key = NULL, *pub = NULL;
		if ((r = pve_authkey_generate(&key, &pub, err)) < 0 ||
		    (r = pve_store_write(d->store, "priv/authkey.key", key, strlen(key), NULL,
					 err)) < 0 ||
		    (r = pve_store_write(d->store, "authkey.pub", pub, strlen(pub), NULL, err)) < 0)
			return r;
	}
	if (!pve_store_exists(d->store, "pve-www.key")) {
		_cleanup_free_ char *secret = NULL;
		if ((r = pve_csrf_secret_generate(&secret, err)) < 0)
			return r;
		_cleanup_free_ char *line = xasprintf("%s\n", secret);
		if ((r = create_missing(d, "pve-www.key", line, err)) < 0)
			return r;
	}
	return 0;
}

static int make_certs(pved *d, pve_error **err)
{
	int r;
	_cleanup_free_ char *ca = NULL, *ca_key = NULL;
	if (!pve_store_exists(d->store, "pve-root-ca.pem")) {
		if ((r = pve_ca_create("pved Cluster Manager CA", &ca, &ca_key, err)) < 0 ||
		    (r = pve_store_write(d->store, "priv/pve-root-ca.key", ca_key, strlen(ca_key),
					 NULL, err)) < 0 ||
		    (r = pve_store_write(d->store, "pve-root-ca.pem", ca, strlen(ca), NULL, err)) <
			    0)
			return r;
	}
	_cleanup_free_ char *cert_path = xasprintf("nodes/%s/pve-ssl.pem", d->node);
	_cleanup_free_ char *key_path = xasprintf("nodes/%s/pve-ssl.key", d->node);
	if (pve_store_exists(d->store, cert_path) && pve_store_exists(d->store, key_path))
		return 0;
	if (!ca &&
	    ((r = pve_store_read(d->store, "pve-root-ca.pem", &ca, NULL, NULL, err)) < 0 ||
	     (r = pve_store_read(d->store, "priv/pve-root-ca.key", &ca_key, NULL, NULL, err)) < 0))
		return r;
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char *names[] = { host, (char *)"localhost", (char *)"127.0.0.1", (char *)"::1", NULL };
	_cleanup_free_ char *cert = NULL, *key = NULL;
	if ((r = pve_node_cert_create(ca, ca_key, d->node, names, &cert, &key, err)) < 0 ||
	    (r = pve_store_write(d->store, key_path, key, strlen(key), NULL, err)) < 0 ||
	    (r = pve_store_write(d->store, cert_path, cert, strlen(cert), NULL, err)) < 0)
		return r;
	return 0;
}

static int make_admin(pved *d, pve_error **err)
{
	if (pve_store_exists(d->store, "user.cfg"))
		return 0;
	int r;
	_cleanup_usercfg_ pve_usercfg *users = pve_usercfg_new();
	char *admin_roles[] = { (char *)"Administrator", NULL };
	/* A new user.cfg has root@pam already. */
	if ((r = pve_usercfg_add_user(users, "admin@pve", NULL, err)) < 0 ||
	    (r = pve_usercfg_set_acl(users, "/", PVE_ACL_USER, "admin@pve", admin_roles, true,
				     err)) < 0)
		return r;

	_cleanup_free_ char *password = pve_random_password(ADMIN_PASSWORD_LEN);
	_cleanup_free_ char *hash = pve_password_hash(password);
	if (!hash)
		return pve_error_set(err, EIO, "cannot hash the admin password");
	pve_shadowcfg *shadow = NULL;
	_cleanup_free_ char *old_shadow = NULL;
	size_t old_len = 0;
	if (pve_store_read(d->store, "priv/shadow.cfg", &old_shadow, &old_len, NULL, NULL) == 0)
		r = pve_shadowcfg_parse(old_shadow, old_len, &shadow, err);
	else
		shadow = pve_shadowcfg_new();
	if (r < 0)
		return r;
	/* Proxmox keys shadow.cfg by the user name without "@pve". */
	r = pve_shadowcfg_set(shadow, "admin", hash, err);
	_cleanup_free_ char *shadow_text = r < 0 ? NULL : pve_shadowcfg_print(shadow);
	pve_shadowcfg_free(shadow);
	if (r < 0)
		return r;
	_cleanup_free_ char *user_text = pve_usercfg_print(users);
	_cleanup_free_ char *pw_line = xasprintf("%s\n", password);
	/* The password file first, user.cfg last: user.cfg's presence means the first start completed. */
	if ((r = pve_store_write(d->store, "priv/initial-admin-password", pw_line, strlen(pw_line),
				 NULL, err)) < 0 ||
	    (r = pve_store_write(d->store, "priv/shadow.cfg", shadow_text, strlen(shadow_text),
				 NULL, err)) < 0 ||
	    (r = pve_store_create(d->store, "user.cfg", user_text, strlen(user_text), err)) < 0)
		return r;
	printf("pved: created admin@pve with password %s (also in %s/priv/initial-admin-password)\n",
	       password, pve_store_dir(d->store));
	fflush(stdout);
	return 0;
}

static int make_storage(pved *d, pve_error **err)
{
	_cleanup_free_ char *vz = pved_path(d, "var/lib/vz");
	for (char *p = vz + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(vz, 0755);
			*p = '/';
		}
	if (mkdir(vz, 0755) < 0 && errno != EEXIST)
		return pve_error_set(err, errno, "cannot create %s: %m", vz);
	/* images and rootdir on local on purpose: a fresh node has no thin pool like Proxmox's local-lvm. */
	_cleanup_free_ char *cfg = xasprintf(
		"dir: local\n\tpath %s\n\tcontent iso,vztmpl,backup,images,rootdir\n\n", vz);
	return create_missing(d, "storage.cfg", cfg, err);
}

int pved_firststart(pved *d, pve_error **err)
{
	int r;
	_cleanup_free_ char *qm = xasprintf("nodes/%s/qemu-server", d->node);
	_cleanup_free_ char *ct = xasprintf("nodes/%s/lxc", d->node);
	if ((r = pve_store_mkdir(d->store, qm, err)) < 0 ||
	    (r = pve_store_mkdir(d->store, ct, err)) < 0 ||
	    (r = pve_store_mkdir(d->store, "priv", err)) < 0)
		return r;
	if ((r = make_keys(d, err)) < 0 || (r = make_certs(d, err)) < 0 ||
	    (r = make_storage(d, err)) < 0 || (r = make_admin(d, err)) < 0)
		return r;
	return 0;
}

/* ---- pved --check ---------------------------------------------------------------------------------------- */

static int check_file(pved *d, FILE *out, const char *path,
		      int (*check)(const char *, size_t, FILE *, pve_error **))
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	_cleanup_error_ pve_error *err = NULL;
	int r = pve_store_read(d->store, path, &text, &len, NULL, &err);
	if (r == -ENOENT) {
		fprintf(out, "%s: absent\n", path);
		return 0;
	}
	if (r >= 0)
		r = check(text, len, out, &err);
	if (r < 0) {
		fprintf(out, "%s: ERROR: %s\n", path, err ? err->message : strerror(-r));
		return -1;
	}
	return 0;
}

static int check_usercfg(const char *text, size_t len, FILE *out, pve_error **err)
{
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	int r = pve_usercfg_parse(text, len, &c, err);
	if (r < 0)
		return r;
	fprintf(out,
		"user.cfg: %zu users, %zu tokens, %zu groups, %zu roles, %zu acl entries, %zu pools\n",
		c->n_users, c->n_tokens, c->n_groups, c->n_roles, c->n_acls, c->n_pools);
	for (size_t i = 0; i < c->n_users; i++)
		fprintf(out, "  user %s%s\n", c->users[i].userid,
			c->users[i].enable ? "" : " (disabled)");
	for (size_t i = 0; i < c->n_acls; i++) {
		_cleanup_free_ char *roles = pve_strv_join(c->acls[i].roles, ",");
		fprintf(out, "  acl %s %s %s%s\n", c->acls[i].path, c->acls[i].ugid, roles,
			c->acls[i].propagate ? "" : " (no propagate)");
	}
	return 0;
}

static int check_shadow(const char *text, size_t len, FILE *out, pve_error **err)
{
	pve_shadowcfg *c = NULL;
	int r = pve_shadowcfg_parse(text, len, &c, err);
	if (r < 0)
		return r;
	pve_shadowcfg_free(c);
	fprintf(out, "priv/shadow.cfg: ok\n");
	return 0;
}

static int check_tokens(const char *text, size_t len, FILE *out, pve_error **err)
{
	pve_tokencfg *c = NULL;
	int r = pve_tokencfg_parse(text, len, &c, err);
	if (r < 0)
		return r;
	pve_tokencfg_free(c);
	fprintf(out, "priv/token.cfg: ok\n");
	return 0;
}

/* A section config's summary: "storage.cfg: 2 storages", then "  ID: TYPE" per section; frees c. */
static void print_sections(FILE *out, const char *file, const char *what, pve_sectioncfg *c)
{
	size_t n = pve_sectioncfg_count(c);
	fprintf(out, "%s: %zu %s\n", file, n, what);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %s: %s\n", pve_section_id(pve_sectioncfg_nth(c, i)),
			pve_section_type(pve_sectioncfg_nth(c, i)));
	pve_sectioncfg_free(c);
}

/* storage.cfg with each definition checked as the API would use it (a known type, its required
 * properties, values of the right format). */
static int check_storage(const char *text, size_t len, FILE *out, pve_error **err)
{
	pve_sectioncfg *c = NULL;
	int r = pve_storage_cfg_parse(text, len, &c, err);
	if (r < 0)
		return r;
	print_sections(out, "storage.cfg", "storages", c);
	return 0;
}

static int check_domains(const char *text, size_t len, FILE *out, pve_error **err)
{
	pve_sectioncfg *c = NULL;
	int r = pve_domains_parse(text, len, &c, err);
	if (r < 0)
		return r;
	print_sections(out, "domains.cfg", "realms", c);
	return 0;
}

static int check_tfacfg(const char *text, size_t len, FILE *out, pve_error **err)
{
	_cleanup_tfacfg_ pve_tfacfg *c = NULL;
	int r = pve_tfacfg_parse(text, len, &c, err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **users = pve_tfacfg_users(c);
	size_t locked = 0;
	for (char **u = users; *u; u++) {
		bool totp_locked;
		long long until;
		pve_tfacfg_user_locks(c, *u, &totp_locked, &until);
		locked += totp_locked || until > time(NULL);
	}
	fprintf(out, "priv/tfa.cfg: %zu users with second factors, %zu locked\n",
		strv_length(users), locked);
	return 0;
}

static int check_config(const char *text, size_t len, FILE *out, pve_error **err)
{
	pve_config *c = NULL;
	int r = pve_config_parse(text, len, &c, err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	_cleanup_strv_free_ char **sections = pve_config_sections(c);
	fprintf(out, "ok: %zu keys, %zu sections\n", strv_length(keys), strv_length(sections));
	pve_config_free(c);
	return 0;
}

/* corosync.conf, a cluster's: its name, version and nodes. */
static int check_corosync(const char *text, size_t len, FILE *out, pve_error **err)
{
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = NULL;
	int r = pve_corosync_conf_parse(text, len, &c, err);
	if (r < 0)
		return r;
	const char *name = pve_corosync_conf_cluster_name(c);
	cJSON *nodes = pve_corosync_conf_nodes(c);
	fprintf(out, "corosync.conf: cluster '%s', config_version %lld, %d nodes\n",
		name ? name : "", pve_corosync_conf_version(c), cJSON_GetArraySize(nodes));
	cJSON_Delete(nodes);
	return 0;
}

int pved_check_configs(pved *d, FILE *out)
{
	int bad = 0;
	bad |= check_file(d, out, "user.cfg", check_usercfg);
	bad |= check_file(d, out, "priv/shadow.cfg", check_shadow);
	bad |= check_file(d, out, "priv/token.cfg", check_tokens);
	bad |= check_file(d, out, "priv/tfa.cfg", check_tfacfg);
	bad |= check_file(d, out, "domains.cfg", check_domains);
	bad |= check_file(d, out, "storage.cfg", check_storage);
	_cleanup_strv_free_ char **nodes = NULL;
	if (pve_store_list(d->store, "nodes", &nodes, NULL) == 0) {
		for (char **n = nodes; *n; n++) {
			static const char *const kinds[] = { "qemu-server", "lxc" };
			for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
				_cleanup_free_ char *dir = xasprintf("nodes/%s/%s", *n, kinds[k]);
				_cleanup_strv_free_ char **confs = NULL;
				if (pve_store_list(d->store, dir, &confs, NULL) < 0)
					continue;
				for (char **f = confs; *f; f++) {
					_cleanup_free_ char *path = xasprintf("%s/%s", dir, *f);
					fprintf(out, "%s: ", path);
					bad |= check_file(d, out, path, check_config);
				}
			}
		}
	}
	if (pve_store_exists(d->store, "datacenter.cfg")) {
		fprintf(out, "datacenter.cfg: ");
		bad |= check_file(d, out, "datacenter.cfg", check_config);
	}
	if (pve_store_exists(d->store, "corosync.conf"))
		bad |= check_file(d, out, "corosync.conf", check_corosync);
	return bad ? -1 : 0;
}
