/* tests/bench/bench-access-perms.c: the cost of one permission check (pve_perms_check) over a large
 * user.cfg: 1,000 users, 100 groups, a few custom roles, 200 pools and 10,000 ACL entries on realistic
 * paths, built as text and parsed by the access library as pved would. Prints one line of key=value
 * pairs for tests/bench/bench-access. Usage: bench-access-perms [CHECKS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/access.h"

#define N_USERS 1000
#define N_GROUPS 100
#define N_TOKENS 200
#define N_POOLS 200
#define N_VMS 5000
#define N_STORAGES 50
#define N_NODES 10
#define N_ACL_SLOTS 10000 /* user and group entries; the tokens' come on top */

/* A fixed-seed generator, so that every run measures the same configuration and the same checks. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;
static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char *const ROLES[] = {
	"PVEVMUser",   "PVEVMAdmin",	    "PVEAuditor",    "PVEDatastoreUser",
	"PVEPoolUser", "PVEDatastoreAdmin", "NoAccess",	     "PVEAdmin",
	"CustomOps",   "CustomBackup",	    "CustomConsole", "CustomStorage",
};

static const char *const PRIVS[] = {
	"VM.Audit",	      "VM.PowerMgmt", "VM.Console",
	"VM.Config.Disk",     "VM.Allocate",  "Datastore.AllocateSpace",
	"Datastore.Audit",    "Sys.Audit",    "Pool.Audit",
	"Permissions.Modify", "VM.Backup",    "Sys.Console",
};

/* The ACL paths: the root, the trees, every guest, storage, node and pool. */
static char **acl_paths(size_t *ret_n)
{
	size_t n = 0, cap = 8 + N_VMS + N_STORAGES + N_NODES + N_POOLS;
	char **v = xcalloc(cap, sizeof(*v));
	v[n++] = xstrdup("/");
	v[n++] = xstrdup("/vms");
	v[n++] = xstrdup("/storage");
	v[n++] = xstrdup("/nodes");
	v[n++] = xstrdup("/pool");
	v[n++] = xstrdup("/access/groups");
	for (int i = 0; i < N_VMS; i++)
		v[n++] = xasprintf("/vms/%d", 100 + i);
	for (int i = 0; i < N_STORAGES; i++)
		v[n++] = xasprintf("/storage/store%d", i);
	for (int i = 0; i < N_NODES; i++)
		v[n++] = xasprintf("/nodes/node%d", i);
	for (int i = 0; i < N_POOLS; i++)
		v[n++] = xasprintf("/pool/pool%d", i);
	*ret_n = n;
	return v;
}

static char *build_usercfg(char *const *paths, size_t n_paths)
{
	pve_buf b = { 0 };
	for (int u = 0; u < N_USERS; u++) {
		pve_buf_printf(&b, "user:user%d@pve:1:0:First%d:Last%d:user%d@example.com:::\n", u,
			       u, u, u);
		if (u < N_TOKENS)
			pve_buf_printf(&b, "token:user%d@pve!tok:0:%d::\n", u, u % 2);
	}
	pve_buf_puts(&b, "\n");
	/* Every user in two groups on average. */
	for (int g = 0; g < N_GROUPS; g++) {
		pve_buf_printf(&b, "group:group%d:", g);
		for (int m = 0; m < 2 * N_USERS / N_GROUPS; m++)
			pve_buf_printf(&b, "%suser%u@pve", m ? "," : "", rnd(N_USERS));
		pve_buf_puts(&b, "::\n");
	}
	pve_buf_puts(&b, "\n");
	for (int p = 0; p < N_POOLS; p++) {
		pve_buf_printf(&b, "pool:pool%d::", p);
		for (int m = 0; m < N_VMS / N_POOLS; m++)
			pve_buf_printf(&b, "%s%d", m ? "," : "", 100 + p * (N_VMS / N_POOLS) + m);
		pve_buf_printf(&b, ":store%d:\n", p % N_STORAGES);
	}
	pve_buf_puts(&b, "\n");
	pve_buf_puts(&b, "role:CustomOps:VM.Audit,VM.PowerMgmt,VM.Console,Sys.Audit:\n"
			 "role:CustomBackup:VM.Backup,Datastore.AllocateSpace,VM.Audit:\n"
			 "role:CustomConsole:VM.Console,Sys.Console:\n"
			 "role:CustomStorage:Datastore.Audit,Datastore.AllocateSpace,"
			 "Datastore.AllocateTemplate:\n\n");
	/* Slot k names subject k % 1100 (a user or a group) on a path that differs for each of the
	 * subject's slots (13 and 101 step through more paths than one subject has slots), so the
	 * 10,000 entries are distinct. */
	int subjects = N_USERS + N_GROUPS;
	for (int k = 0; k < N_ACL_SLOTS; k++) {
		int s = k % subjects, j = k / subjects;
		const char *path = paths[((size_t)s * 13 + (size_t)j * 101) % n_paths];
		const char *role = ROLES[rnd(ELEMENTSOF(ROLES))];
		if (strcmp(path, "/") == 0 && strcmp(role, "PVEAdmin") == 0)
			role = "PVEAuditor"; /* keep the root from granting everything to many */
		if (s < N_USERS)
			pve_buf_printf(&b, "acl:%d:%s:user%d@pve:%s:\n", rnd(5) != 0, path, s,
				       role);
		else
			pve_buf_printf(&b, "acl:%d:%s:@group%d:%s:\n", rnd(5) != 0, path,
				       s - N_USERS, role);
	}
	for (int t = 0; t < N_TOKENS; t++)
		pve_buf_printf(&b, "acl:1:%s:user%d@pve!tok:PVEVMUser:\n",
			       paths[rnd((unsigned)n_paths)], t);
	return pve_buf_steal(&b);
}

struct query {
	char authid[64];
	char path[48];
	const char *priv;
};

int main(int argc, char **argv)
{
	long checks = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	if (checks <= 0 || checks > 100000000) {
		fprintf(stderr, "usage: %s [CHECKS]\n", argv[0]);
		return 2;
	}
	size_t n_paths;
	char **paths = acl_paths(&n_paths);
	char *text = build_usercfg(paths, n_paths);

	pve_error *err = NULL;
	pve_usercfg *cfg = NULL;
	double t0 = now_ns();
	if (pve_usercfg_parse(text, strlen(text), &cfg, &err) < 0) {
		fprintf(stderr, "user.cfg: %s\n", err->message);
		return 1;
	}
	double t1 = now_ns();
	pve_perms *perms = NULL;
	if (pve_perms_build(cfg, &perms, &err) < 0) {
		fprintf(stderr, "perms: %s\n", err->message);
		return 1;
	}
	double t2 = now_ns();

	/* The queries are drawn before the clock starts: the check alone is measured. One in ten
	 * asks for a token; paths are those with entries, and below them (a guest's disk, a pool's
	 * sub-pool) where inheritance decides. */
	enum { N_QUERIES = 65536 };
	struct query *q = xcalloc(N_QUERIES, sizeof(*q));
	for (size_t i = 0; i < N_QUERIES; i++) {
		unsigned u = rnd(N_USERS);
		if (rnd(10) == 0 && u < N_TOKENS)
			snprintf(q[i].authid, sizeof(q[i].authid), "user%u@pve!tok", u);
		else
			snprintf(q[i].authid, sizeof(q[i].authid), "user%u@pve", u);
		/* Half the time a path the user has an entry on (see build_usercfg), else any. */
		const char *p = rnd(2) ? paths[((size_t)u * 13 + rnd(9) * 101) % n_paths] :
					 paths[rnd((unsigned)n_paths)];
		if (rnd(4) == 0 && strncmp(p, "/pool/", 6) == 0)
			snprintf(q[i].path, sizeof(q[i].path), "%s/sub", p);
		else
			snprintf(q[i].path, sizeof(q[i].path), "%s", p);
		q[i].priv = PRIVS[rnd(ELEMENTSOF(PRIVS))];
	}
	/* A warm-up pass, then the measured one. */
	volatile size_t allowed = 0;
	for (size_t i = 0; i < N_QUERIES; i++)
		allowed += pve_perms_check(perms, q[i].authid, q[i].path, q[i].priv);
	allowed = 0;
	double t3 = now_ns();
	for (long i = 0; i < checks; i++) {
		const struct query *x = &q[(size_t)i % N_QUERIES];
		allowed += pve_perms_check(perms, x->authid, x->path, x->priv);
	}
	double t4 = now_ns();

	printf("users=%zu tokens=%zu groups=%zu roles=%zu pools=%zu acls=%zu usercfg_kib=%zu "
	       "parse_ms=%.1f build_ms=%.1f checks=%ld ns_per_check=%.0f allowed_pct=%.1f\n",
	       cfg->n_users, cfg->n_tokens, cfg->n_groups, cfg->n_roles, cfg->n_pools, cfg->n_acls,
	       strlen(text) / 1024, (t1 - t0) / 1e6, (t2 - t1) / 1e6, checks,
	       (t4 - t3) / (double)checks, 100.0 * (double)allowed / (double)checks);

	free(q);
	pve_perms_free(perms);
	pve_usercfg_free(cfg);
	free(text);
	strv_free(paths);
	return 0;
}
