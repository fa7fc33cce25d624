/* Proxmox's own permission tests carried over as data (pve-access-control src/test): perm-test1..8
 * with their user.cfg fixtures test1..8.cfg, each check a case here. check_permission(s) compares the
 * privileges pved grants (pve_perms_privs: ACLs, groups, pools, tokens); check_roles compares the
 * roles Proxmox's roles() finds, as the privileges those roles hold (pve_perms_acl_privs: ACLs alone,
 * no pools; NoAccess and no role both hold none). Then the propagate flags GET /access/permissions
 * reports (pve_perms_path_map). */
#include <cjson/cJSON.h>

#include "access/access.h"
#include "tests/unit/test.h"

enum { ROLES, PERMS };

typedef struct perm_case {
	int kind;
	const char *authid, *path, *expected;
} perm_case;

/* test1.cfg */
static const char test1_cfg[] =
	"user:joe@pve:1:\n"
	"user:max@pve:1:\n"
	"user:alex@pve:1:\n"
	"user:sue@pve:1:\n"
	"user:carol@pam:1:\n"
	"\n"
	"group:testgroup1:joe@pve,max@pve,sue@pve:\n"
	"group:testgroup2:alex@pve,carol@pam,sue@pve:\n"
	"group:testgroup3:max@pve:\n"
	"\n"
	"role:storage_manager:Datastore.AllocateSpace,Datastore.Audit:\n"
	"role:customer:VM.Audit,VM.PowerMgmt:\n"
	"role:vm_admin:VM.Audit,VM.Allocate,Permissions.Modify,VM.Console:\n"
	"\n"
	"acl:1:/vms:@testgroup1:vm_admin:\n"
	"acl:1:/vms/100/:alex@pve,max@pve:customer:\n"
	"acl:1:/storage/nfs1:@testgroup2:storage_manager:\n"
	"acl:1:/users:max@pve:Administrator:\n"
	"\n"
	"acl:1:/vms/200:@testgroup3:storage_manager:\n"
	"acl:1:/vms/200:@testgroup2:NoAccess:\n"
	"acl:1:/vms/300:alex@pve:PVEVMAdmin:\n"
	"acl:1:/vms/400:alex@pve:Administrator:\n"
	"\n";
/* perm-test1.pl: 14 cases */
static const perm_case test1_cases[] = {
	{ ROLES, "max@pve", "/", "" },
	{ ROLES, "max@pve", "/vms", "vm_admin" },
	{ ROLES, "max@pve", "/vms/100", "customer" },
	{ ROLES, "max@pve", "/vms/101", "vm_admin" },
	{ PERMS, "max@pve", "/", "" },
	{ PERMS, "max@pve", "/vms", "Permissions.Modify,VM.Allocate,VM.Audit,VM.Console" },
	{ PERMS, "max@pve", "/vms/100", "VM.Audit,VM.PowerMgmt" },
	{ PERMS, "alex@pve", "/vms", "" },
	{ PERMS, "alex@pve", "/vms/100", "VM.Audit,VM.PowerMgmt" },
	{ PERMS, "alex@pve", "/vms/300",
	  "VM.Allocate,VM.Audit,VM.Backup,VM.Clone,VM.Config.CDROM,VM.Config.CPU,VM.Config.Cloudinit,VM.Config.Disk,VM.Config.HWType,VM.Config.Memory,VM.Config.Network,VM.Config.Options,VM.Console,VM.GuestAgent.Audit,VM.GuestAgent.FileRead,VM.GuestAgent.FileSystemMgmt,VM.GuestAgent.FileWrite,VM.GuestAgent.Unrestricted,VM.Migrate,VM.PowerMgmt,VM.Replicate,VM.Snapshot,VM.Snapshot.Rollback" },
	{ PERMS, "alex@pve", "/vms/400",
	  "Datastore.Allocate,Datastore.AllocateSpace,Datastore.AllocateTemplate,Datastore.Audit,Group.Allocate,Mapping.Audit,Mapping.Modify,Mapping.Use,Permissions.Modify,Pool.Allocate,Pool.Audit,Realm.Allocate,Realm.AllocateUser,SDN.Allocate,SDN.Audit,SDN.Use,Sys.AccessNetwork,Sys.Audit,Sys.Console,Sys.Incoming,Sys.Modify,Sys.PowerMgmt,Sys.Syslog,User.Modify,VM.Allocate,VM.Audit,VM.Backup,VM.Clone,VM.Config.CDROM,VM.Config.CPU,VM.Config.Cloudinit,VM.Config.Disk,VM.Config.HWType,VM.Config.Memory,VM.Config.Network,VM.Config.Options,VM.Console,VM.GuestAgent.Audit,VM.GuestAgent.FileRead,VM.GuestAgent.FileSystemMgmt,VM.GuestAgent.FileWrite,VM.GuestAgent.Unrestricted,VM.Migrate,VM.PowerMgmt,VM.Replicate,VM.Snapshot,VM.Snapshot.Rollback" },
	{ ROLES, "max@pve", "/vms/200", "storage_manager" },
	{ ROLES, "joe@pve", "/vms/200", "vm_admin" },
	{ ROLES, "sue@pve", "/vms/200", "NoAccess" },
};

/* test2.cfg */
static const char test2_cfg[] = "user:User1@pve:1:\n"
				"user:User2@pve:1:\n"
				"\n"
				"group:GroupA:User1@pve:\n"
				"group:GroupB:User1@pve:\n"
				"\n"
				"role:Role1:VM.PowerMgmt:\n"
				"role:Role2:VM.Console:\n"
				"\n"
				"acl:1:/vms:@GroupA:Role1:\n"
				"acl:1:/vms:@GroupB:Role2:\n";
/* perm-test2.pl: 6 cases */
static const perm_case test2_cases[] = {
	{ ROLES, "User1@pve", "/", "" },
	{ ROLES, "User2@pve", "/", "" },
	{ ROLES, "User1@pve", "/vms", "Role1,Role2" },
	{ ROLES, "User2@pve", "/vms", "" },
	{ ROLES, "User1@pve", "/vms/100", "Role1,Role2" },
	{ ROLES, "User2@pve", "/vms", "" },
};

/* test3.cfg */
static const char test3_cfg[] = "user:User1@pve:1:\n"
				"user:User2@pve:1:\n"
				"\n"
				"group:GroupA:User1@pve:\n"
				"group:GroupB:User1@pve:\n"
				"\n"
				"role:Role1:VM.PowerMgmt:\n"
				"role:Role2:VM.Console:\n"
				"\n"
				"acl:1:/vms:@GroupA:Role1:\n"
				"acl:1:/vms/200:@GroupB:Role2:\n";
/* perm-test3.pl: 4 cases */
static const perm_case test3_cases[] = {
	{ ROLES, "User1@pve", "", "" },
	{ ROLES, "User2@pve", "", "" },
	{ ROLES, "User1@pve", "/vms/300", "Role1" },
	{ ROLES, "User1@pve", "/vms/200", "Role2" },
};

/* test4.cfg */
static const char test4_cfg[] = "user:User1@pve:1:\n"
				"user:User2@pve:1:\n"
				"\n"
				"group:GroupA:User1@pve,User2@pve:\n"
				"group:GroupB:User1@pve,User2@pve:\n"
				"\n"
				"role:Role1:VM.PowerMgmt:\n"
				"role:Role2:VM.Console:\n"
				"\n"
				"acl:1:/vms:@GroupA:Role1:\n"
				"acl:1:/vms:User2@pve:NoAccess:\n";
/* perm-test4.pl: 2 cases */
static const perm_case test4_cases[] = {
	{ ROLES, "User1@pve", "/vms/300", "Role1" },
	{ ROLES, "User2@pve", "/vms/300", "NoAccess" },
};

/* test5.cfg */
static const char test5_cfg[] = "user:User1@pve:1:\n"
				"user:User2@pve:1:\n"
				"\n"
				"group:GroupA:User1@pve,User2@pve:\n"
				"group:GroupB:User1@pve,User2@pve:\n"
				"\n"
				"role:Role1:VM.PowerMgmt:\n"
				"role:Role2:VM.Console:\n"
				"role:Role3:VM.Console:\n"
				"\n"
				"acl:1:/vms:User1@pve:Role1:\n"
				"acl:1:/vms/100/a/b:User1@pve:Role2:\n"
				"\n"
				"acl:0:/kvm:User2@pve:Role2:\n"
				"acl:0:/kvm/vms:User2@pve:Role1:\n"
				"acl:0:/kvm/vms/100/a:User2@pve:Role3:\n";
/* perm-test5.pl: 11 cases */
static const perm_case test5_cases[] = {
	{ ROLES, "User1@pve", "/vms", "Role1" },
	{ ROLES, "User1@pve", "/vms/100", "Role1" },
	{ ROLES, "User1@pve", "/vms/100/a", "Role1" },
	{ ROLES, "User1@pve", "/vms/100/a/b", "Role2" },
	{ ROLES, "User1@pve", "/vms/100/a/b/c", "Role2" },
	{ ROLES, "User1@pve", "/vms/200", "Role1" },
	{ ROLES, "User2@pve", "/kvm", "Role2" },
	{ ROLES, "User2@pve", "/kvm/vms", "Role1" },
	{ ROLES, "User2@pve", "/kvm/vms/100", "" },
	{ ROLES, "User2@pve", "/kvm/vms/100/a", "Role3" },
	{ ROLES, "User2@pve", "/kvm/vms/100/a/b", "" },
};

/* test6.cfg */
static const char test6_cfg[] = "user:User1@pve:1:\n"
				"user:User2@pve:1:\n"
				"user:User3@pve:1:\n"
				"user:User4@pve:1:\n"
				"user:intern@pve:1:\n"
				"\n"
				"group:DEVEL:User1@pve,User2@pve,User3@pve:\n"
				"group:MARKETING:User1@pve,User4@pve:\n"
				"group:INTERNS:intern@pve:\n"
				"\n"
				"role:RoleDEVEL:VM.PowerMgmt:\n"
				"role:RoleMARKETING:VM.Console:\n"
				"role:RoleINTERN:VM.Audit:\n"
				"role:RoleTEST1:VM.Console:\n"
				"\n"
				"acl:1:/pool/devel:@DEVEL:RoleDEVEL:\n"
				"acl:1:/pool/marketing:@MARKETING:RoleMARKETING:\n"
				"acl:1:/pool/marketing/interns:@INTERNS:RoleINTERN:\n"
				"\n"
				"acl:1:/vms:@DEVEL:RoleTEST1:\n"
				"acl:1:/vms:User3@pve:NoAccess:\n"
				"acl:1:/vms/300:@MARKETING:RoleTEST1:\n"
				"\n"
				"pool:devel:MITS development:500,501,502:store1 store2:\n"
				"pool:marketing:MITS marketing:600:store1:\n"
				"pool:marketing/interns:MITS marketing intern:700:store3:\n";
/* perm-test6.pl: 42 cases */
static const perm_case test6_cases[] = {
	{ ROLES, "User1@pve", "", "" },
	{ ROLES, "User2@pve", "", "" },
	{ ROLES, "User3@pve", "", "" },
	{ ROLES, "User4@pve", "", "" },
	{ ROLES, "User1@pve", "/vms", "RoleTEST1" },
	{ ROLES, "User2@pve", "/vms", "RoleTEST1" },
	{ ROLES, "User3@pve", "/vms", "NoAccess" },
	{ ROLES, "User4@pve", "/vms", "" },
	{ ROLES, "User1@pve", "/vms/100", "RoleTEST1" },
	{ ROLES, "User2@pve", "/vms/100", "RoleTEST1" },
	{ ROLES, "User3@pve", "/vms/100", "NoAccess" },
	{ ROLES, "User4@pve", "/vms/100", "" },
	{ ROLES, "User1@pve", "/vms/300", "RoleTEST1" },
	{ ROLES, "User2@pve", "/vms/300", "RoleTEST1" },
	{ ROLES, "User3@pve", "/vms/300", "NoAccess" },
	{ ROLES, "User4@pve", "/vms/300", "RoleTEST1" },
	{ PERMS, "User1@pve", "/vms/500", "VM.Console,VM.PowerMgmt" },
	{ PERMS, "User2@pve", "/vms/500", "VM.Console,VM.PowerMgmt" },
	{ ROLES, "User3@pve", "/vms/500", "NoAccess" },
	{ PERMS, "User3@pve", "/vms/500", "" },
	{ ROLES, "User4@pve", "/vms/500", "" },
	{ PERMS, "User4@pve", "/vms/500", "" },
	{ ROLES, "intern@pve", "/vms/600", "" },
	{ ROLES, "intern@pve", "/vms/700", "" },
	{ ROLES, "User4@pve", "/vms/700", "" },
	{ PERMS, "intern@pve", "/vms/600", "" },
	{ PERMS, "intern@pve", "/vms/700", "VM.Audit" },
	{ PERMS, "User4@pve", "/vms/700", "VM.Console" },
	{ ROLES, "intern@pve", "/pool/marketing/interns", "RoleINTERN" },
	{ ROLES, "User4@pve", "/pool/marketing/interns", "RoleMARKETING" },
	{ PERMS, "User1@pve", "/vms/600", "VM.Console" },
	{ PERMS, "User2@pve", "/vms/600", "VM.Console" },
	{ PERMS, "User3@pve", "/vms/600", "" },
	{ PERMS, "User4@pve", "/vms/600", "VM.Console" },
	{ PERMS, "User1@pve", "/storage/store1", "VM.Console,VM.PowerMgmt" },
	{ PERMS, "User2@pve", "/storage/store1", "VM.PowerMgmt" },
	{ PERMS, "User3@pve", "/storage/store1", "VM.PowerMgmt" },
	{ PERMS, "User4@pve", "/storage/store1", "VM.Console" },
	{ PERMS, "User1@pve", "/storage/store2", "VM.PowerMgmt" },
	{ PERMS, "User2@pve", "/storage/store2", "VM.PowerMgmt" },
	{ PERMS, "User3@pve", "/storage/store2", "VM.PowerMgmt" },
	{ PERMS, "User4@pve", "/storage/store2", "" },
};

/* test7.cfg */
static const char test7_cfg[] = "user:User1@pve:1:\n"
				"user:User2@pve:1:\n"
				"\n"
				"group:GroupA:User1@pve,User2@pve:\n"
				"group:GroupB:User1@pve,User2@pve:\n"
				"\n"
				"role:Role1:VM.PowerMgmt:\n"
				"role:Role2:VM.Console:\n"
				"role:Role3:VM.Console:\n"
				"\n"
				"acl:1:/pool/devel:User1@pve:NoAccess:\n"
				"\n"
				"acl:1:/vms:User1@pve:Role1:\n"
				"\n"
				"pool:devel:Development:100:store1:\n";
/* perm-test7.pl: 4 cases */
static const perm_case test7_cases[] = {
	{ ROLES, "User1@pve", "/vms", "Role1" },
	{ ROLES, "User1@pve", "/vms/200", "Role1" },
	{ ROLES, "User1@pve", "/vms/100", "Role1" },
	{ PERMS, "User1@pve", "/vms/100", "" },
};

/* test8.cfg */
static const char test8_cfg[] = "user:joe@pve:1:\n"
				"user:max@pve:1:\n"
				"token:max@pve!token::0:\n"
				"token:max@pve!token2::1:\n"
				"user:alex@pve:1:\n"
				"user:sue@pve:1:\n"
				"user:carol@pam:1:\n"
				"token:carol@pam!token:\n"
				"\n"
				"group:testgroup1:joe@pve,max@pve,sue@pve:\n"
				"group:testgroup2:alex@pve,carol@pam,sue@pve:\n"
				"group:testgroup3:max@pve:\n"
				"\n"
				"role:storage_manager:Datastore.AllocateSpace,Datastore.Audit:\n"
				"role:customer:VM.Audit,VM.PowerMgmt:\n"
				"role:vm_admin:VM.Audit,VM.Allocate,VM.Console:\n"
				"\n"
				"acl:1:/vms:@testgroup1:vm_admin:\n"
				"acl:0:/vms/300:max@pve:customer:\n"
				"acl:1:/vms/300:max@pve:vm_admin:\n"
				"acl:1:/vms/100/:alex@pve,max@pve:customer:\n"
				"acl:1:/storage/nfs1:@testgroup2:storage_manager:\n"
				"acl:1:/users:max@pve:Administrator:\n"
				"\n"
				"acl:1:/vms/200:@testgroup3:storage_manager:\n"
				"acl:1:/vms/200:@testgroup2:NoAccess:\n"
				"\n"
				"acl:1:/vms/200:carol@pam!token:vm_admin\n"
				"acl:1:/vms/200:max@pve!token:storage_manager\n"
				"acl:1:/vms/200:max@pve!token2:customer\n"
				"\n"
				"acl:1:/vms/300:max@pve!token2:Administrator\n";
/* perm-test8.pl: 17 cases */
static const perm_case test8_cases[] = {
	{ ROLES, "max@pve", "/", "" },
	{ ROLES, "max@pve", "/vms", "vm_admin" },
	{ ROLES, "max@pve", "/vms/100", "customer" },
	{ ROLES, "max@pve", "/vms/101", "vm_admin" },
	{ PERMS, "max@pve", "/", "" },
	{ PERMS, "max@pve", "/vms", "VM.Allocate,VM.Audit,VM.Console" },
	{ PERMS, "max@pve", "/vms/100", "VM.Audit,VM.PowerMgmt" },
	{ PERMS, "alex@pve", "/vms", "" },
	{ PERMS, "alex@pve", "/vms/100", "VM.Audit,VM.PowerMgmt" },
	{ ROLES, "max@pve", "/vms/200", "storage_manager" },
	{ ROLES, "joe@pve", "/vms/200", "vm_admin" },
	{ ROLES, "sue@pve", "/vms/200", "NoAccess" },
	{ ROLES, "carol@pam", "/vms/200", "NoAccess" },
	{ ROLES, "carol@pam!token", "/vms/200", "NoAccess" },
	{ ROLES, "max@pve!token", "/vms/200", "storage_manager" },
	{ ROLES, "max@pve!token2", "/vms/200", "customer" },
	{ PERMS, "max@pve!token2", "/vms/300", "VM.Allocate,VM.Audit,VM.Console,VM.PowerMgmt" },
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The privileges, sorted and joined with ',' (freed). */
static char *joined(char **v)
{
	qsort(v, strv_length(v), sizeof(*v), cmp_str);
	char *s = pve_strv_join(v, ",");
	strv_free(v);
	return s;
}

/* The privileges of a list of roles ("Role1,Role2", built in or of c). */
static char *roles_privs(const pve_usercfg *c, const char *roles)
{
	char **out = strv_new();
	_cleanup_strv_free_ char **names = pve_strv_split(roles, ",");
	for (char **r = names; *r; r++) {
		const char *const *privs = pve_builtin_role_privs(*r);
		const pve_role *custom = privs ? NULL : pve_usercfg_find_role(c, *r);
		if (custom)
			privs = (const char *const *)custom->privs;
		if (!privs)
			test_fail(__FILE__, __LINE__, "no role '%s'", *r);
		for (const char *const *p = privs; p && *p; p++)
			if (!strv_contains(out, *p))
				strv_push(&out, xstrdup(*p));
	}
	return joined(out);
}

static void run_suite(const char *name, const char *cfgtext, const perm_case *cases, size_t n)
{
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	_cleanup_perms_ pve_perms *p = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_usercfg_parse(cfgtext, strlen(cfgtext), &c, &err) < 0 ||
	    pve_perms_build(c, &p, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s: %s", name, err ? err->message : "?");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const perm_case *t = &cases[i];
		_cleanup_free_ char *got = NULL, *want = NULL;
		if (t->kind == PERMS) {
			got = joined(pve_perms_privs(p, t->authid, t->path));
			want = xstrdup(t->expected);
		} else {
			got = joined(pve_perms_acl_privs(p, t->authid, t->path));
			want = roles_privs(c, t->expected);
		}
		if (!streq(got, want))
			test_fail(__FILE__, __LINE__,
				  "%s: %s('%s', '%s', '%s'): got '%s', want '%s'", name,
				  t->kind == PERMS ? "check_permission" : "check_roles", t->authid,
				  t->path, t->expected, got, want);
	}
}

#define SUITE(n)                                                          \
	static void perm_test##n(void)                                    \
	{                                                                 \
		run_suite("perm-test" #n, test##n##_cfg, test##n##_cases, \
			  ELEMENTSOF(test##n##_cases));                   \
	}
SUITE(1)
SUITE(2)
SUITE(3)
SUITE(4)
SUITE(5)
SUITE(6)
SUITE(7)
SUITE(8)

/* The propagate flag as Proxmox's permissions() reports it: 1 for a privilege a propagating ACL
 * gives, 0 when only ACLs without propagation or pools give it; a token of privilege separation has
 * 1 only where its user has 1 too. A disabled or expired user's map is still there. */
static void propagate_flags(void)
{
	static const char cfg[] = "user:u1@pve:1:0::::::\n"
				  "user:off@pve:0:0::::::\n"
				  "user:old@pve:1:1000::::::\n"
				  "token:u1@pve!sep:0:1::\n"
				  "pool:pl::100:st1:\n"
				  "role:Aud:VM.Audit:\n"
				  "role:Con:VM.Console:\n"
				  "role:Pow:VM.PowerMgmt:\n"
				  "acl:1:/vms:u1@pve:Aud:\n"
				  "acl:0:/vms/100:u1@pve:Con:\n"
				  "acl:1:/vms/100:u1@pve:Aud:\n"
				  "acl:1:/pool/pl:u1@pve:Pow:\n"
				  "acl:0:/vms:u1@pve!sep:Aud:\n"
				  "acl:1:/vms:off@pve,old@pve:Aud:\n";
	_cleanup_usercfg_ pve_usercfg *c = NULL;
	_cleanup_perms_ pve_perms *p = NULL;
	check(pve_usercfg_parse(cfg, strlen(cfg), &c, NULL) == 0 &&
	      pve_perms_build(c, &p, NULL) == 0);
	static const struct {
		const char *authid, *path, *json;
	} t[] = {
		{ "u1@pve", "/vms", "{\"VM.Audit\":1}" },
		/* at the ACL's own path a non-propagating role counts, flagged 0; the pool's role
		 * is flagged 0 too */
		{ "u1@pve", "/vms/100", "{\"VM.Audit\":1,\"VM.Console\":0,\"VM.PowerMgmt\":0}" },
		{ "u1@pve", "/vms/100/x", "{\"VM.Audit\":1}" },
		{ "u1@pve", "/storage/st1", "{\"VM.PowerMgmt\":0}" },
		{ "u1@pve!sep", "/vms", "{\"VM.Audit\":0}" },
		{ "u1@pve!sep", "/vms/100", "{}" },
		{ "off@pve", "/vms/1", "{\"VM.Audit\":1}" },
		{ "old@pve", "/vms/1", "{\"VM.Audit\":1}" },
		{ "nobody@pve", "/vms", "{}" },
	};
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		cJSON *m = pve_perms_path_map(p, t[i].authid, t[i].path);
		_cleanup_free_ char *got = cJSON_PrintUnformatted(m);
		cJSON_Delete(m);
		if (!streq_ptr(got, t[i].json))
			test_fail(__FILE__, __LINE__, "%s on %s: %s, want %s", t[i].authid,
				  t[i].path, got, t[i].json);
	}
	/* checks still refuse the disabled and the expired */
	check(!pve_perms_check(p, "off@pve", "/vms/1", "VM.Audit"));
	check(!pve_perms_check(p, "old@pve", "/vms/1", "VM.Audit"));
	check(pve_perms_check(p, "u1@pve", "/vms/100", "VM.PowerMgmt"));
}

TEST_MAIN(TEST(perm_test1), TEST(perm_test2), TEST(perm_test3), TEST(perm_test4), TEST(perm_test5),
	  TEST(perm_test6), TEST(perm_test7), TEST(perm_test8), TEST(propagate_flags))
