/* Unit tests of access/'s user.cfg changes: users, groups, roles and tokens added, changed and removed,
 * with what depends on them (ACL entries, memberships) following, and the printed file parsing back. */
#include "access/access.h"
#include "tests/unit/test.h"

static const char sample[] = "user:alice@pve:1:0:::::\n"
			     "token:alice@pve!ci:0:1:CI:\n"
			     "user:bob@pam:1:0:::::\n"
			     "group:ops:alice@pve,bob@pam::\n"
			     "role:Backup:VM.Audit,VM.Backup:\n"
			     "acl:1:/:@ops:PVEAuditor:\n"
			     "acl:1:/vms/100:alice@pve:Backup,PVEVMUser:\n"
			     "acl:1:/vms/100:alice@pve!ci:Backup:\n"
			     "acl:1:/storage:bob@pam:Backup:\n";

static pve_usercfg *load(void)
{
	_cleanup_error_ pve_error *err = NULL;
	pve_usercfg *c = NULL;
	check_int(pve_usercfg_parse(sample, strlen(sample), &c, &err), 0);
	return c;
}

/* Prints and parses again: what a change leaves must be a valid file with the same content. */
static pve_usercfg *reparse(const pve_usercfg *c)
{
	_cleanup_free_ char *text = pve_usercfg_print(c);
	_cleanup_error_ pve_error *err = NULL;
	pve_usercfg *n = NULL;
	check_int(pve_usercfg_parse(text, strlen(text), &n, &err), 0);
	_cleanup_free_ char *again = n ? pve_usercfg_print(n) : NULL;
	check_streq(again, text);
	return n;
}

static void delete_user_follows(void)
{
	_cleanup_usercfg_ pve_usercfg *c = load();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_usercfg_delete_user(c, "alice@pve", &err), 0);
	check(!pve_usercfg_find_user(c, "alice@pve"));
	check(!pve_usercfg_find_token(c, "alice@pve!ci"));
	check_int(c->n_tokens, 0);
	check_int(strv_length(pve_usercfg_find_group(c, "ops")->members), 1);
	for (size_t i = 0; i < c->n_acls; i++)
		check(strncmp(c->acls[i].ugid, "alice@pve", 9) != 0);
	check_int(c->n_acls, 2);
	check_int(pve_usercfg_delete_user(c, "alice@pve", &err), -ENOENT);
	_cleanup_usercfg_ pve_usercfg *n = reparse(c);
	_cleanup_free_ char *text = n ? pve_usercfg_print(n) : NULL;
	check(text && !strstr(text, "alice"));
}

static void user_groups(void)
{
	_cleanup_usercfg_ pve_usercfg *c = load();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_usercfg_add_group(c, "dev", "Developers", &err), 0);
	check_int(pve_usercfg_add_group(c, "dev", NULL, &err), -EEXIST);
	pve_error_free(TAKE_PTR(err));
	check_int(pve_usercfg_add_group(c, "bad:name", NULL, &err), -EINVAL);
	check_streq(err->param, "groupid");
	pve_error_free(TAKE_PTR(err));

	_cleanup_strv_free_ char **both = pve_strv_split("dev", ",");
	check_int(pve_usercfg_set_user_groups(c, "bob@pam", both, true, &err), 0);
	pve_user *u = pve_usercfg_find_user(c, "bob@pam");
	check_int(strv_length(u->groups), 2);
	check_int(pve_usercfg_set_user_groups(c, "bob@pam", both, false, &err), 0);
	check_int(strv_length(u->groups), 1);
	check_streq(u->groups[0], "dev");
	check_int(strv_length(pve_usercfg_find_group(c, "ops")->members), 1);

	_cleanup_strv_free_ char **unknown = pve_strv_split("nope", ",");
	check_int(pve_usercfg_set_user_groups(c, "bob@pam", unknown, false, &err), -EINVAL);
	check_streq(err->param, "groups");
	pve_error_free(TAKE_PTR(err));
	check_int(strv_length(u->groups), 1); /* unchanged */

	check_int(pve_usercfg_delete_group(c, "ops", &err), 0);
	check(!pve_usercfg_find_group(c, "ops"));
	for (size_t i = 0; i < c->n_acls; i++)
		check(c->acls[i].type != PVE_ACL_GROUP);
	check_int(pve_usercfg_delete_group(c, "ops", &err), -ENOENT);
	pve_error_free(TAKE_PTR(err));
	_cleanup_usercfg_ pve_usercfg *n = reparse(c);
	check(n && pve_usercfg_find_group(n, "dev"));
	check(n && strv_length(pve_usercfg_find_user(n, "bob@pam")->groups) == 1);
}

static void roles(void)
{
	_cleanup_usercfg_ pve_usercfg *c = load();
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_strv_free_ char **privs = pve_strv_split("Sys.Audit,VM.Audit", ",");
	check_int(pve_usercfg_set_role(c, "Watch", privs, true, false, &err), 0);
	check_int(pve_usercfg_set_role(c, "Watch", privs, true, false, &err), -EEXIST);
	pve_error_free(TAKE_PTR(err));
	check_int(pve_usercfg_set_role(c, "PVEAdmin", privs, false, false, &err), -EINVAL);
	pve_error_free(TAKE_PTR(err));
	check_int(pve_usercfg_set_role(c, "Nope", privs, false, false, &err), -ENOENT);
	pve_error_free(TAKE_PTR(err));
	_cleanup_strv_free_ char **bad = pve_strv_split("Sys.Nothing", ",");
	check_int(pve_usercfg_set_role(c, "Watch", bad, false, true, &err), -EINVAL);
	check_streq(err->param, "privs");
	pve_error_free(TAKE_PTR(err));
	_cleanup_strv_free_ char **more = pve_strv_split("Datastore.Audit", ",");
	check_int(pve_usercfg_set_role(c, "Watch", more, false, true, &err), 0);
	check_int(strv_length(pve_usercfg_find_role(c, "Watch")->privs), 3);
	check_streq(pve_usercfg_find_role(c, "Watch")->privs[0], "Datastore.Audit");
	check_int(pve_usercfg_set_role(c, "Watch", more, false, false, &err), 0);
	check_int(strv_length(pve_usercfg_find_role(c, "Watch")->privs), 1);

	/* Deleting Backup empties the token's and bob's entries: they go; alice keeps PVEVMUser. */
	check_int(pve_usercfg_delete_role(c, "Backup", &err), 0);
	check_int(c->n_acls, 2);
	check_int(pve_usercfg_delete_role(c, "PVEAuditor", &err), -EINVAL);
	pve_error_free(TAKE_PTR(err));
	_cleanup_usercfg_ pve_usercfg *n = reparse(c);
	check(n && pve_usercfg_find_role(n, "Watch") && !pve_usercfg_find_role(n, "Backup"));
}

static void tokens(void)
{
	_cleanup_usercfg_ pve_usercfg *c = load();
	_cleanup_error_ pve_error *err = NULL;
	pve_token *t = NULL;
	check_int(pve_usercfg_add_token(c, "bob@pam!tk", 2000000000, false, "note", &t, &err), 0);
	check(t && !t->privsep && t->expire == 2000000000);
	check_int(pve_usercfg_add_token(c, "bob@pam!tk", 0, true, NULL, NULL, &err), -EEXIST);
	pve_error_free(TAKE_PTR(err));
	check_int(pve_usercfg_add_token(c, "ghost@pve!tk", 0, true, NULL, NULL, &err), -ENOENT);
	pve_error_free(TAKE_PTR(err));
	check_int(pve_usercfg_add_token(c, "bob@pam!a b", 0, true, NULL, NULL, &err), -EINVAL);
	pve_error_free(TAKE_PTR(err));
	check(pve_usercfg_user_enabled(c, "bob@pam!tk", 1000));
	check_int(pve_usercfg_delete_token(c, "alice@pve!ci", &err), 0);
	for (size_t i = 0; i < c->n_acls; i++)
		check(c->acls[i].type != PVE_ACL_TOKEN);
	check(!pve_usercfg_user_enabled(c, "alice@pve!ci", 1000));
	check_int(pve_usercfg_delete_token(c, "alice@pve!ci", &err), -ENOENT);
	pve_error_free(TAKE_PTR(err));
	_cleanup_usercfg_ pve_usercfg *n = reparse(c);
	check(n && pve_usercfg_find_token(n, "bob@pam!tk"));
}

TEST_MAIN(TEST(delete_user_follows), TEST(user_groups), TEST(roles), TEST(tokens))
