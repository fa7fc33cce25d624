/* Unit tests of access/: user.cfg parse and print, privileges and roles, permission evaluation. */
#include "access/access.h"
#include "tests/unit/test.h"

/* A realistic user.cfg with every entry kind, in Proxmox's order and formatting. */
static const char sample[] = "user:alice@pve:1:0:Alice:Smith:alice@example.com:Ops%3A team:x:\n"
			     "token:alice@pve!ci:0:1:CI runner:\n"
			     "token:alice@pve!full:0:0::\n"
			     "user:bob@pam:1:1893456000:Bob:::::\n"
			     "user:carol@pve:0:0::::disabled::\n"
			     "user:dave@pve:1:1000::::::\n"
			     "user:root@pam:1:0:::root@example.com:::\n"
			     "\n"
			     "group:admins:alice@pve,bob@pam:Administrators:\n"
			     "group:ops:bob@pam,carol@pve,ghost@pve::\n"
			     "\n"
			     "pool:prod:Production:100,101:local,nfs1:\n"
			     "pool:test::200::\n"
			     "\n"
			     "role:Backup:VM.Audit,VM.Backup:\n"
			     "role:Empty::\n"
			     "\n"
			     "acl:0:/:@ops:PVEAuditor:\n"
			     "acl:1:/:@admins:PVEAdmin:\n"
			     "acl:1:/pool/prod:bob@pam:PVEVMUser:\n"
			     "acl:1:/storage:@ops:PVEDatastoreUser:\n"
			     "acl:0:/vms/100:alice@pve!ci:PVEVMUser:\n"
			     "acl:1:/vms/100:alice@pve,bob@pam:Backup,PVEVMAdmin:\n";

static void usercfg_roundtrip(void)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	check_int(pve_usercfg_parse(sample, strlen(sample), &c, &err), 0);
	if (!c)
		return;
	check_int(c->n_users, 5);
	check_int(c->n_tokens, 2);
	check_int(c->n_groups, 2);
	check_int(c->n_pools, 2);
	check_int(c->n_roles, 2);

	pve_user *a = pve_usercfg_find_user(c, "alice@pve");
	check(a != NULL);
	if (a) {
		check(a->enable);
		check_streq(a->firstname, "Alice");
		check_streq(a->comment, "Ops: team");
		check_streq(a->email, "alice@example.com");
		check_streq(a->keys, "x");
		check_int(strv_length(a->groups), 1);
		check_streq(a->groups[0], "admins");
	}
	pve_user *b = pve_usercfg_find_user(c, "bob@pam");
	check(b && b->expire == 1893456000 && strv_length(b->groups) == 2);
	pve_token *t = pve_usercfg_find_token(c, "alice@pve!ci");
	check(t && t->privsep && t->expire == 0);
	check_streq(t ? t->comment : NULL, "CI runner");
	pve_group *g = pve_usercfg_find_group(c, "ops");
	check(g && strv_length(g->members) == 3); /* ghost@pve kept, as Proxmox does */
	pve_pool *p = pve_usercfg_find_pool(c, "prod");
	check(p && strv_length(p->vms) == 2 && strv_length(p->storage) == 2);

	_cleanup_free_ char *out = pve_usercfg_print(c);
	check_streq(out, sample);

	_cleanup_usercfg_ pve_usercfg *c2 = NULL;
	check_int(pve_usercfg_parse(out, strlen(out), &c2, &err), 0);
	_cleanup_free_ char *out2 = c2 ? pve_usercfg_print(c2) : NULL;
	check_streq(out2, out);
}

static void usercfg_normalizes(void)
{
	/* Unsorted input, duplicate lines, roles moving between propagate flags, root@pam missing, a token
	 * of a missing user, unknown roles and privileges, a duplicate vmid in another pool. */
	const char *in = "acl:1:/vms//100/:alice@pve:PVEVMUser:\n"
			 "user:alice@pve:1:0:::::\n"
			 "token:nobody@pve!tt:0:1::\n"
			 "role:R1:VM.Audit,Bogus.Priv:\n"
			 "acl:1:/:alice@pve,@g1:R1,NoSuchRole:\n"
			 "acl:0:/:alice@pve:R1:\n"
			 "group:g1:::\n"
			 "pool:p1::100:local:\n"
			 "pool:p2::0100,101::\n"
			 "acl:1:/:root@pam:Administrator:\n";
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	check_int(pve_usercfg_parse(in, strlen(in), &c, &err), 0);
	if (!c)
		return;
	_cleanup_free_ char *out = pve_usercfg_print(c);
	check_streq(out, "user:alice@pve:1:0::::::\n"
			 "user:root@pam:1:0::::::\n"
			 "\n"
			 "group:g1:::\n"
			 "\n"
			 "pool:p1::100:local:\n"
			 "pool:p2::101::\n"
			 "\n"
			 "role:R1:VM.Audit:\n"
			 "\n"
			 "acl:0:/:alice@pve:R1:\n"
			 "acl:1:/:@g1:R1:\n"
			 "acl:1:/vms/100:alice@pve:PVEVMUser:\n");
}

/* A group's members and a pool's storages once each, across lines too, in the order first given. */
static void usercfg_dedups_lists(void)
{
	const char *in = "group:g:b@pve,a@pve,b@pve,x/y@pve::\n"
			 "group:g:c@pve,a@pve::\n"
			 "pool:p:::s2,s1,s2:\n"
			 "pool:p:::s1,s3:\n";
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	check_int(pve_usercfg_parse(in, strlen(in), &c, NULL), 0);
	pve_group *g = c ? pve_usercfg_find_group(c, "g") : NULL;
	_cleanup_free_ char *members = g ? pve_strv_join(g->members, ",") : NULL;
	check_streq(members, "b@pve,a@pve,c@pve");
	pve_pool *p = c ? pve_usercfg_find_pool(c, "p") : NULL;
	_cleanup_free_ char *stores = p ? pve_strv_join(p->storage, ",") : NULL;
	check_streq(stores, "s2,s1,s3");
}

static void usercfg_errors(void)
{
	static const char *const bad[] = {
		"user:alice@pve:1:0:::::\nfoo:bar:\n", /* unknown kind, line 2 */
		"user:alice@pve:1:0:::::\nuser:al ice@pve:1:0::\n", /* bad userid */
		"user:alice@pve:1:0:::::\nuser:bob@pve:1:abc::\n", /* bad expire */
		"user:alice@pve:1:0:::::\nacl:1:/v ms:alice@pve:NoAccess:\n",
		"user:alice@pve:1:0:::::\npool:p1::10x::\n",
		"user:alice@pve:1:0:::::\ngroup:bad/group:::\n",
		/* A '!' is never part of a userid: such a user, its tokens and ACLs do not load. */
		"user:alice@pve:1:0:::::\nuser:alice@pve!x@pve:1:0::\n",
		"user:alice@pve:1:0:::::\ntoken:alice@pve!x@pve!t:0:0::\n",
		"user:alice@pve:1:0:::::\nacl:1:/:alice@pve!x@pve:Administrator:\n",
		"user:alice@pve:1:0:::::\nacl:1:/:alice@pve!t!u:Administrator:\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_error *err = NULL;
		pve_usercfg *c = NULL;
		if (pve_usercfg_parse(bad[i], strlen(bad[i]), &c, &err) != -EINVAL)
			test_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
		check(c == NULL);
		check(err && strstr(err->message, "user.cfg line 2:") != NULL);
		pve_error_free(err);
	}
	/* Size and count limits. */
	size_t big = PVE_USERCFG_MAX_SIZE + 1;
	_cleanup_free_ char *huge = xmalloc(big);
	memset(huge, '\n', big);
	pve_error *err = NULL;
	pve_usercfg *c = NULL;
	check_int(pve_usercfg_parse(huge, big, &c, &err), -E2BIG);
	pve_error_free(err), err = NULL;
	_cleanup_(pve_buf_free) pve_buf many = { 0 };
	for (int i = 0; i <= PVE_USERCFG_MAX_ENTRIES; i++)
		pve_buf_puts(&many, "group:g:::\n");
	check_int(pve_usercfg_parse(many.data, many.len, &c, &err), -E2BIG);
	pve_error_free(err);
}

/* What the parser reads is what it prints: fields that would change on the way (spaces at the ends of a
 * text, broken escapes, a decoded NUL, high bytes), ACL paths with empty components, unknown roles. */
static void usercfg_print_parses_back(void)
{
	static const char *const in[] = {
		"user:a@pve:1:0:%20%3A%ZZ%:::::\n",
		"user:a@pve:1:0:x%20:%20%20y%20%20:e@x::k:\n",
		"user:a@pve:1:0:%00abc:a%00b:::%4:\n",
		"user:a@pve:1:0:::::\ngroup:g:a@pve:c\xc3\xa9%0a%:\n",
		"user:a@pve:1:0:::::\ntoken:a@pve!tk:0:1:%20c :\npool:p/q/r:%20::local:\n",
		"user:a@pve:1:0:::::\ngroup:g:::\nacl:1:/vms//100/:@g,a@pve:PVEVMUser,NoSuch:\n",
		"user:a@pve:1:0:::::\nacl:1://:a@pve:NoSuch:\nacl:0:/storage/:a@pve:PVEAuditor:\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(in); i++) {
		_cleanup_error_ pve_error *err = NULL;
		_cleanup_usercfg_ pve_usercfg *c = NULL, *c2 = NULL;
		if (pve_usercfg_parse(in[i], strlen(in[i]), &c, &err) < 0) {
			test_fail(__FILE__, __LINE__, "%zu: %s", i, err->message);
			continue;
		}
		_cleanup_free_ char *out = pve_usercfg_print(c);
		if (pve_usercfg_parse(out, strlen(out), &c2, &err) < 0) {
			test_fail(__FILE__, __LINE__, "%zu: printed %s does not parse: %s", i, out,
				  err->message);
			continue;
		}
		_cleanup_free_ char *out2 = pve_usercfg_print(c2);
		check_streq(out2, out);
	}
	/* The values themselves survive, spaces at the ends included. */
	const char *txt = "user:a@pve:1:0:%20x%20:::%20%20:\n";
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	check_int(pve_usercfg_parse(txt, strlen(txt), &c, NULL), 0);
	pve_user *u = c ? pve_usercfg_find_user(c, "a@pve") : NULL;
	check_streq(u ? u->firstname : NULL, " x ");
	check_streq(u ? u->comment : NULL, "  ");
}

static void identities(void)
{
	static const char *const users[] = { "root@pam", "a.b-c_d@pve", "x@ldap-1", "a@b@pve" };
	static const char *const tokens[] = { "root@pam!t1", "a.b@pve!ci-1", "a@b@pve!x.y" };
	static const char *const neither[] = {
		"",	   "@pve",     "a@",	      "a@p",	     "a b@pve",
		"a:b@pve", "a/b@pve",  "a@pve!x@pve", "a!@pve",	     "!a@pve",
		"a@pve!",  "a@pve!1t", "a@pve!t!u",   "a@pve!t@pve", "a@pve!x@pve!t",
		"a\t@pve", "a@pve\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(users); i++) {
		check(pve_userid_valid(users[i]));
		check(!pve_tokenid_valid(users[i]));
		_cleanup_free_ char *u = pve_authid_user(users[i]);
		check_streq(u, users[i]);
		check(pve_authid_of_user(users[i], users[i]));
	}
	for (size_t i = 0; i < ELEMENTSOF(tokens); i++) {
		check(!pve_userid_valid(tokens[i]));
		check(pve_tokenid_valid(tokens[i]));
	}
	_cleanup_free_ char *owner = pve_authid_user("a@b@pve!x.y");
	check_streq(owner, "a@b@pve");
	check(pve_authid_of_user("a@b@pve!x.y", "a@b@pve"));
	check(!pve_authid_of_user("a@b@pve!x.y", "a@b"));
	check(!pve_authid_of_user("a@pve", "a@pvx"));
	check(!pve_authid_of_user("a@pve!t", "a@pve!t@pve"));
	for (size_t i = 0; i < ELEMENTSOF(neither); i++) {
		if (pve_userid_valid(neither[i]) || pve_tokenid_valid(neither[i]))
			test_fail(__FILE__, __LINE__, "accepted '%s'", neither[i]);
		_cleanup_free_ char *u = pve_authid_user(neither[i]);
		check(u == NULL);
	}
	/* The API's format and user.cfg's parser are the same definition. */
	for (size_t i = 0; i < ELEMENTSOF(neither); i++)
		check(pve_format_check("pve-userid", neither[i], NULL) < 0);
	_cleanup_free_ char *msg = NULL;
	check_int(pve_format_check("pve-userid", "admin@pve!x@pve", &msg), -EINVAL);
	check_streq(msg, "value 'admin@pve!x@pve' does not look like a valid user name");
	check(pve_format_check("pve-tokenid", "admin@pve!x@pve!t", NULL) < 0);
	check(pve_format_check("pve-tokenid", "admin@pve!tk", NULL) == 0);
	check(pve_format_check("pve-tokenid", "tk", NULL) == 0);
}

static void privileges_and_roles(void)
{
	const char *const *privs = pve_privileges();
	size_t n = 0;
	for (; privs[n]; n++)
		if (n > 0 && strcmp(privs[n - 1], privs[n]) >= 0)
			test_fail(__FILE__, __LINE__, "not sorted at %s", privs[n]);
	check_int(n, 47);
	check(pve_privilege_valid("VM.GuestAgent.Unrestricted"));
	check(!pve_privilege_valid("VM.Monitor"));

	struct {
		const char *role;
		size_t n;
	} counts[] = {
		{ "Administrator", 47 },   { "NoAccess", 0 },	    { "PVEAdmin", 40 },
		{ "PVEVMAdmin", 23 },	   { "PVEVMUser", 10 },	    { "PVEAuditor", 7 },
		{ "PVETemplateUser", 2 },  { "PVESysAdmin", 3 },    { "PVEDatastoreAdmin", 4 },
		{ "PVEDatastoreUser", 2 }, { "PVESDNAdmin", 3 },    { "PVESDNUser", 2 },
		{ "PVEUserAdmin", 3 },	   { "PVEPoolAdmin", 2 },   { "PVEPoolUser", 1 },
		{ "PVEMappingAdmin", 3 },  { "PVEMappingUser", 2 },
	};
	size_t roles = strv_length((char *const *)pve_builtin_roles());
	check_int(roles, ELEMENTSOF(counts));
	for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
		const char *const *rp = pve_builtin_role_privs(counts[i].role);
		if (!rp || strv_length((char *const *)rp) != counts[i].n)
			test_fail(__FILE__, __LINE__, "role %s", counts[i].role);
	}
	const char *const *admin = pve_builtin_role_privs("PVEAdmin");
	for (size_t i = 0; admin && admin[i]; i++) {
		static const char *const not_in[] = { "Permissions.Modify", "Realm.Allocate",
						      "Sys.PowerMgmt",	    "Sys.Modify",
						      "Sys.Incoming",	    "Sys.AccessNetwork",
						      "Mapping.Modify" };
		for (size_t j = 0; j < ELEMENTSOF(not_in); j++)
			if (strcmp(admin[i], not_in[j]) == 0)
				test_fail(__FILE__, __LINE__, "PVEAdmin has %s", admin[i]);
	}
	check(pve_builtin_role_privs("Custom") == NULL);
}

static void user_enabled(void)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	check_int(pve_usercfg_parse(sample, strlen(sample), &c, &err), 0);
	time_t now = 1700000000;
	check(pve_usercfg_user_enabled(c, "alice@pve", now));
	check(pve_usercfg_user_enabled(c, "bob@pam", now));
	check(!pve_usercfg_user_enabled(c, "bob@pam", 1893456001));
	check(!pve_usercfg_user_enabled(c, "carol@pve", now)); /* disabled */
	check(!pve_usercfg_user_enabled(c, "dave@pve", now)); /* expired */
	check(!pve_usercfg_user_enabled(c, "nobody@pve", now));
	check(pve_usercfg_user_enabled(c, "alice@pve!ci", now));
	check(!pve_usercfg_user_enabled(c, "alice@pve!nope", now));

	_cleanup_usercfg_ pve_usercfg *empty = NULL;
	check_int(pve_usercfg_parse("", 0, &empty, &err), 0);
	check(pve_usercfg_user_enabled(empty, "root@pam", now));
}

static void usercfg_changes(void)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *c = pve_usercfg_new();
	check(pve_usercfg_find_user(c, "root@pam") != NULL);
	pve_user *u = NULL;
	check_int(pve_usercfg_add_user(c, "eve@pve", &u, &err), 0);
	check(u && u->enable && strcmp(u->userid, "eve@pve") == 0);
	check_int(pve_usercfg_add_user(c, "eve@pve", NULL, NULL), -EEXIST);
	check_int(pve_usercfg_add_user(c, "eve", NULL, NULL), -EINVAL);

	char r1[] = "PVEVMUser", r2[] = "NoSuchRole";
	char *roles[] = { r1, NULL };
	char *bad_roles[] = { r2, NULL };
	check_int(pve_usercfg_set_acl(c, "/vms/100", PVE_ACL_USER, "eve@pve", roles, true, &err),
		  0);
	check_int(pve_usercfg_set_acl(c, "/vms/100", PVE_ACL_USER, "eve@pve", roles, false, &err),
		  0);
	check_int(c->n_acls, 1);
	check(c->acls[0].propagate == false);
	check_int(pve_usercfg_set_acl(c, "/vms/99", PVE_ACL_USER, "eve@pve", roles, true, NULL),
		  -EINVAL);
	check_int(pve_usercfg_set_acl(c, "/bogus", PVE_ACL_USER, "eve@pve", roles, true, NULL),
		  -EINVAL);
	check_int(pve_usercfg_set_acl(c, "/", PVE_ACL_USER, "eve@pve", bad_roles, true, NULL),
		  -EINVAL);
	check_int(pve_usercfg_set_acl(c, "/", PVE_ACL_GROUP, "nogroup", roles, true, NULL),
		  -EINVAL);
	check_int(pve_usercfg_set_acl(c, "/", PVE_ACL_USER, "x@pve", roles, true, NULL), -EINVAL);
	_cleanup_free_ char *out = pve_usercfg_print(c);
	check_streq(out, "user:eve@pve:1:0::::::\nuser:root@pam:1:0::::::\n\n\n\n\n"
			 "acl:0:/vms/100:eve@pve:PVEVMUser:\n");
	check_int(pve_usercfg_set_acl(c, "/vms/100", PVE_ACL_USER, "eve@pve", NULL, true, &err), 0);
	check_int(c->n_acls, 0);

	check(pve_acl_path_valid("/"));
	check(pve_acl_path_valid("/sdn/zones/z1/vnet1/42"));
	check(pve_acl_path_valid("/pool/a/b/c"));
	check(pve_acl_path_valid("/mapping/pci/gpu1"));
	check(!pve_acl_path_valid("/sdn/zones/z1/vnet1/0"));
	check(!pve_acl_path_valid("/vms/"));
	check(!pve_acl_path_valid("/nodes/a/b"));
}

/* The permission rules, one case each, on this configuration. */
static const char perm_cfg[] = "user:alice@pve:1:0:::::\n"
			       "token:alice@pve!sep:0:1::\n"
			       "token:alice@pve!full:0:0::\n"
			       "token:alice@pve!old:1000:0::\n"
			       "user:bob@pve:1:0:::::\n"
			       "user:carol@pve:0:0:::::\n"
			       "user:dave@pve:1:1000:::::\n"
			       "user:erin@pve:1:0:::::\n"
			       "token:root@pam!auto:0:1::\n"
			       "group:staff:alice@pve,bob@pve,carol@pve,dave@pve,erin@pve::\n"
			       "group:auditors:bob@pve::\n"
			       "pool:prod::100,101:nfs1:\n"
			       "pool:locked::300::\n"
			       "role:Empty::\n"
			       /* groups at / ; user beats group at the same level */
			       "acl:1:/:@staff:PVEVMUser:\n"
			       "acl:1:/:bob@pve:PVEAuditor:\n"
			       "acl:1:/:@auditors:PVEDatastoreAdmin:\n"
			       /* deeper replaces inherited; propagate=0 only at that path */
			       "acl:1:/nodes:alice@pve:PVESysAdmin:\n"
			       "acl:0:/storage:alice@pve:PVEDatastoreAdmin:\n"
			       /* NoAccess wins at its level and below */
			       "acl:1:/vms/666:alice@pve:NoAccess,PVEVMAdmin:\n"
			       /* an empty role still replaces */
			       "acl:1:/sdn:alice@pve:Empty:\n"
			       /* pool roles extend to members */
			       "acl:1:/pool/prod:erin@pve:PVEVMAdmin,PVEDatastoreUser:\n"
			       "acl:1:/pool/locked:erin@pve:NoAccess:\n"
			       "acl:1:/vms/300:erin@pve:PVEVMAdmin:\n"
			       /* token ACLs */
			       "acl:1:/vms:alice@pve!sep:PVEVMAdmin:\n"
			       "acl:1:/:root@pam!auto:PVEAuditor:\n";

static void permissions(void)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	check_int(pve_usercfg_parse(perm_cfg, strlen(perm_cfg), &c, &err), 0);
	_cleanup_perms_ pve_perms *p = NULL;
	check_int(pve_perms_build(c, &p, &err), 0);
	if (!p)
		return;

	static const struct {
		const char *who, *path, *priv;
		bool want;
		const char *rule;
	} cases[] = {
		{ "root@pam", "/", "Permissions.Modify", true, "root@pam has everything" },
		{ "root@pam", "/vms/123", "Sys.Modify", true, "root@pam has everything" },
		{ "nobody@pve", "/", "VM.Audit", false, "unknown user" },
		{ "alice@pve", "/vms/100", "VM.Console", true, "group role inherited" },
		{ "alice@pve", "/vms/100", "VM.Allocate", false, "not granted" },
		{ "carol@pve", "/vms/100", "VM.Audit", false, "disabled user has nothing" },
		{ "dave@pve", "/vms/100", "VM.Audit", false, "expired user has nothing" },
		{ "bob@pve", "/vms/100", "VM.Audit", true, "user ACL (PVEAuditor)" },
		{ "bob@pve", "/vms/100", "VM.Console", false, "user ACL beats group ACL" },
		{ "bob@pve", "/storage/x", "Datastore.Allocate", false,
		  "user ACL beats group ACL" },
		{ "alice@pve", "/nodes/n1", "Sys.Console", true, "deeper path propagates" },
		{ "alice@pve", "/nodes/n1", "VM.Console", false, "deeper path replaces inherited" },
		{ "alice@pve", "/nodes", "Sys.Syslog", true, "at the path itself" },
		{ "alice@pve", "/storage", "Datastore.Allocate", true, "propagate=0 at its path" },
		{ "alice@pve", "/storage/local", "Datastore.Allocate", false,
		  "propagate=0 not below" },
		{ "alice@pve", "/storage/local", "VM.Console", true,
		  "propagate=0: parent roles below" },
		{ "alice@pve", "/vms/666", "VM.Audit", false, "NoAccess wins" },
		{ "alice@pve", "/vms/666/x", "VM.Audit", false, "NoAccess propagates" },
		{ "alice@pve", "/sdn/zones", "VM.Console", false, "an empty role replaces too" },
		{ "erin@pve", "/vms/100", "VM.Allocate", true, "pool role reaches member VM" },
		{ "erin@pve", "/vms/101", "VM.Migrate", true, "pool role reaches member VM" },
		{ "erin@pve", "/vms/102", "VM.Allocate", false, "not a pool member" },
		{ "erin@pve", "/storage/nfs1", "Datastore.AllocateSpace", true,
		  "pool reaches storage" },
		{ "erin@pve", "/storage/local", "Datastore.AllocateSpace", false,
		  "not in the pool" },
		{ "erin@pve", "/vms/100", "VM.Console", true, "pool adds to regular roles" },
		{ "erin@pve", "/vms/300", "VM.Allocate", false,
		  "pool NoAccess beats a regular ACL" },
		{ "alice@pve!full", "/vms/100", "VM.Console", true,
		  "privsep=0: the user's privileges" },
		{ "alice@pve!full", "/nodes/x", "Sys.Console", true,
		  "privsep=0: the user's privileges" },
		{ "alice@pve!sep", "/vms/100", "VM.Console", true, "privsep=1: token and user" },
		{ "alice@pve!sep", "/vms/100", "VM.Allocate", false, "privsep=1: not the user's" },
		{ "alice@pve!sep", "/nodes/x", "Sys.Console", false, "privsep=1: not the token's" },
		{ "alice@pve!old", "/vms/100", "VM.Console", false, "expired token" },
		{ "alice@pve!nope", "/vms/100", "VM.Console", false, "unknown token" },
		{ "root@pam!auto", "/vms/1", "VM.Audit", true, "root token: its own ACLs" },
		{ "root@pam!auto", "/vms/1", "VM.Allocate", false,
		  "root privsep token is limited" },
		{ "alice@pve", "/vms/100", "No.Such.Priv", false, "unknown privilege" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		bool got = pve_perms_check(p, cases[i].who, cases[i].path, cases[i].priv);
		if (got != cases[i].want)
			test_fail(__FILE__, __LINE__, "%s on %s %s: got %d (%s)", cases[i].who,
				  cases[i].path, cases[i].priv, got, cases[i].rule);
	}

	_cleanup_strv_free_ char **privs = pve_perms_privs(p, "bob@pve", "/");
	check_int(strv_length(privs), 7); /* PVEAuditor */
	_cleanup_strv_free_ char **none = pve_perms_privs(p, "carol@pve", "/");
	check_int(strv_length(none), 0);
	_cleanup_strv_free_ char **all = pve_perms_privs(p, "root@pam", "/x");
	check_int(strv_length(all), 47);
}

static pve_perms *perms_of(const char *cfg)
{
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	pve_perms *p = NULL;
	check_int(pve_usercfg_parse(cfg, strlen(cfg), &c, NULL), 0);
	check_int(c ? pve_perms_build(c, &p, NULL) : -1, 0);
	return p;
}

/* Whether every guest (or storage) below a path gets one answer: only when no ACL and no pool sets
 * anything below it; then the answer is the one a check of any child gives. */
static void children_uniform(void)
{
	const char *base = "user:alice@pve:1:0:::::\nuser:bob@pve:1:0:::::\n"
			   "acl:1:/:alice@pve:PVEAuditor:\n";
	_cleanup_perms_ pve_perms *p = perms_of(base);
	bool allowed = false;
	check(pve_perms_children_uniform(p, "alice@pve", "/vms", "VM.Audit", &allowed) && allowed);
	check(pve_perms_children_uniform(p, "bob@pve", "/vms", "VM.Audit", &allowed) && !allowed);
	check(pve_perms_children_uniform(p, "alice@pve", "/vms", "VM.PowerMgmt", &allowed) &&
	      !allowed);
	check(pve_perms_children_uniform(p, "nobody@pve", "/vms", "VM.Audit", &allowed) &&
	      !allowed);

	/* an ACL on one guest, whoever it names, or below it */
	_cleanup_free_ char *one = xasprintf("%sacl:0:/vms/100:bob@pve:PVEVMUser:\n", base);
	_cleanup_perms_ pve_perms *p1 = perms_of(one);
	check(!pve_perms_children_uniform(p1, "alice@pve", "/vms", "VM.Audit", &allowed));
	check(pve_perms_children_uniform(p1, "alice@pve", "/storage", "Datastore.Audit",
					 &allowed) &&
	      allowed);
	/* a pool with a guest in it: its roles reach that guest */
	_cleanup_free_ char *pooled = xasprintf("%spool:p1::100::\n", base);
	_cleanup_perms_ pve_perms *p2 = perms_of(pooled);
	check(!pve_perms_children_uniform(p2, "bob@pve", "/vms", "VM.Audit", &allowed));
	check(pve_perms_children_uniform(p2, "bob@pve", "/storage", "Datastore.Audit", &allowed) &&
	      !allowed);
	/* where it is uniform, the answer is every child's */
	for (const char *const *u = (const char *const[]){ "alice@pve", "bob@pve", NULL }; *u;
	     u++) {
		check(pve_perms_children_uniform(p, *u, "/vms", "VM.Audit", &allowed));
		check(allowed == pve_perms_check(p, *u, "/vms/100", "VM.Audit"));
		check(allowed == pve_perms_check(p, *u, "/vms/999999", "VM.Audit"));
	}
}

TEST_MAIN(TEST(usercfg_roundtrip), TEST(usercfg_normalizes), TEST(usercfg_dedups_lists),
	  TEST(usercfg_errors), TEST(usercfg_print_parses_back), TEST(identities),
	  TEST(privileges_and_roles), TEST(user_enabled), TEST(usercfg_changes), TEST(permissions),
	  TEST(children_uniform))
