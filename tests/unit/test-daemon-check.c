/* Unit tests for daemon/check.c: Proxmox's permission expressions over a made-up permission table. */
#include <cjson/cJSON.h>

#include "daemon/core/auth-internal.h"
#include "tests/unit/test.h"

/* "path priv" pairs the caller holds; users with their groups. */
typedef struct world {
	const char *const *grants;
	const char *const *users; /* "userid:group1,group2" */
} world;

static bool w_permitted(void *ud, const char *path, const char *priv)
{
	const world *w = ud;
	for (const char *const *g = w->grants; *g; g++) {
		_cleanup_free_ char *want = xasprintf("%s %s", path, priv);
		if (strcmp(*g, want) == 0)
			return true;
	}
	return false;
}

static const char *find_user(const world *w, const char *userid)
{
	size_t n = strlen(userid);
	for (const char *const *u = w->users; *u; u++)
		if (strncmp(*u, userid, n) == 0 && (*u)[n] == ':')
			return *u + n + 1;
	return NULL;
}

static bool w_user_exists(void *ud, const char *userid)
{
	return find_user(ud, userid) != NULL;
}

static char **w_user_groups(void *ud, const char *userid)
{
	const char *g = find_user(ud, userid);
	return pve_split_list(g ? g : "");
}

static int eval(const world *w, const char *caller, const char *params, const char *expr,
		char **what)
{
	_cleanup_json_ cJSON *p = cJSON_Parse(params);
	_cleanup_json_ cJSON *e = cJSON_Parse(expr);
	if (!p || !e)
		abort();
	pved_check_env env = { .authid = caller,
			       .params = p,
			       .permitted = w_permitted,
			       .user_exists = w_user_exists,
			       .user_groups = w_user_groups,
			       .ud = (void *)w };
	return pved_check_eval(&env, e, what);
}

static const char *const users[] = { "alice@pve:ops", "bob@pve:dev,ops", "carol@ldap1:", NULL };

static void perm_and_or(void)
{
	static const char *const grants[] = { "/vms/100 VM.Audit", "/vms/100 VM.Console", NULL };
	world w = { grants, users };
	_cleanup_free_ char *what = NULL;
	check_int(eval(&w, "alice@pve", "{\"vmid\":\"100\"}",
		       "[\"perm\",\"/vms/{vmid}\",[\"VM.Audit\",\"VM.Console\"]]", NULL),
		  1);
	check_int(eval(&w, "alice@pve", "{\"vmid\":100}",
		       "[\"perm\",\"/vms/{vmid}\",[\"VM.Audit\",\"VM.PowerMgmt\"]]", &what),
		  0);
	check_streq(what, "/vms/100, VM.PowerMgmt");
	check_int(eval(&w, "alice@pve", "{\"vmid\":100}",
		       "[\"perm\",\"/vms/{vmid}\",[\"VM.PowerMgmt\",\"VM.Audit\"],\"any\",1]",
		       NULL),
		  1);
	free(TAKE_PTR(what));
	check_int(eval(&w, "alice@pve", "{\"vmid\":101}",
		       "[\"perm\",\"/vms/{vmid}\",[\"VM.PowerMgmt\",\"VM.Audit\"],\"any\",1]",
		       &what),
		  0);
	check_streq(what, "/vms/101, VM.PowerMgmt|VM.Audit");
	check_int(
		eval(&w, "alice@pve", "{}",
		     "[\"or\",[\"perm\",\"/\",[\"Sys.Audit\"]],[\"perm\",\"/vms/100\",[\"VM.Audit\"]]]",
		     NULL),
		1);
	check_int(
		eval(&w, "alice@pve", "{}",
		     "[\"and\",[\"perm\",\"/vms/100\",[\"VM.Audit\"]],[\"perm\",\"/\",[\"Sys.Audit\"]]]",
		     NULL),
		0);
	/* Malformed. */
	check_int(eval(&w, "alice@pve", "{}", "[\"perm\",\"/\"]", NULL), -EINVAL);
	check_int(eval(&w, "alice@pve", "{}", "[\"perm\",\"/\",[]]", NULL), -EINVAL);
	check_int(eval(&w, "alice@pve", "{}", "[\"nope\"]", NULL), -EINVAL);
	check_int(eval(&w, "alice@pve", "{}", "[\"and\"]", NULL), -EINVAL);
	check_int(eval(&w, "alice@pve", "{}", "{}", NULL), -EINVAL);
	check_int(eval(&w, "alice@pve", "{}", "[\"userid-param\",\"other\"]", NULL), -EINVAL);
	check_int(eval(&w, "alice@pve", "{}", "[\"userid-group\",[\"User.Modify\"],\"x\",\"y\"]",
		       NULL),
		  -EINVAL);
}

static void userid_param(void)
{
	static const char *const grants[] = { "/access/realm/pve Realm.AllocateUser", NULL };
	world w = { grants, users };
	check_int(eval(&w, "alice@pve", "{\"userid\":\"alice@pve\"}", "[\"userid-param\",\"self\"]",
		       NULL),
		  1);
	check_int(eval(&w, "alice@pve", "{\"userid\":\"bob@pve\"}", "[\"userid-param\",\"self\"]",
		       NULL),
		  0);
	/* Self, but not an existing user: denied as in Proxmox. */
	check_int(eval(&w, "ghost@pve", "{\"userid\":\"ghost@pve\"}", "[\"userid-param\",\"self\"]",
		       NULL),
		  0);
	/* Whole identities: a token is not its user, a prefix or another realm is not the user. */
	check_int(eval(&w, "alice@pve!tok", "{\"userid\":\"alice@pve\"}",
		       "[\"userid-param\",\"self\"]", NULL),
		  0);
	check_int(eval(&w, "alice@pve", "{\"userid\":\"alice@pvx\"}", "[\"userid-param\",\"self\"]",
		       NULL),
		  0);
	check_int(eval(&w, "alice@pve!x@pve", "{\"userid\":\"alice@pve\"}",
		       "[\"userid-param\",\"self\"]", NULL),
		  0);
	check_int(eval(&w, "alice@pve", "{\"userid\":\"zed@pve\"}",
		       "[\"userid-param\",\"Realm.AllocateUser\"]", NULL),
		  1);
	_cleanup_free_ char *what = NULL;
	check_int(eval(&w, "alice@pve", "{\"userid\":\"carol@ldap1\"}",
		       "[\"userid-param\",\"Realm.AllocateUser\"]", &what),
		  0);
	check_streq(what, "/access/realm/ldap1, Realm.AllocateUser");
}

static void userid_group(void)
{
	static const char *const on_ops[] = { "/access/groups/ops User.Modify", NULL };
	static const char *const on_all[] = { "/access/groups Sys.Audit", NULL };
	static const char *const none[] = { NULL };
	world ops = { on_ops, users }, all = { on_all, users }, nothing = { none, users };
	const char *um = "[\"userid-group\",[\"User.Modify\",\"Sys.Audit\"]]";
	check_int(eval(&ops, "x@pve", "{\"userid\":\"alice@pve\"}", um, NULL), 1);
	check_int(eval(&ops, "x@pve", "{\"userid\":\"bob@pve\"}", um, NULL), 1);
	check_int(eval(&ops, "x@pve", "{\"userid\":\"carol@ldap1\"}", um, NULL), 0);
	check_int(eval(&all, "x@pve", "{\"userid\":\"carol@ldap1\"}", um, NULL), 1);
	/* An unknown user: denied, even with the privilege on all groups. */
	check_int(eval(&all, "x@pve", "{\"userid\":\"ghost@pve\"}", um, NULL), 0);
	check_int(eval(&nothing, "x@pve", "{\"userid\":\"alice@pve\"}", um, NULL), 0);

	const char *create = "[\"userid-group\",[\"User.Modify\"],\"groups_param\",\"create\"]";
	const char *update = "[\"userid-group\",[\"User.Modify\"],\"groups_param\",\"update\"]";
	/* Create: the user need not exist; every group given must be allowed, and one given. */
	check_int(eval(&ops, "x@pve", "{\"userid\":\"new@pve\",\"groups\":\"ops\"}", create, NULL),
		  1);
	check_int(eval(&ops, "x@pve", "{\"userid\":\"new@pve\",\"groups\":\"ops,dev\"}", create,
		       NULL),
		  0);
	_cleanup_free_ char *what = NULL;
	check_int(eval(&ops, "x@pve", "{\"userid\":\"new@pve\"}", create, &what), 0);
	check_streq(what, "/access/groups, User.Modify");
	static const char *const um_all[] = { "/access/groups User.Modify", NULL };
	world uall = { um_all, users };
	check_int(eval(&uall, "x@pve", "{\"userid\":\"new@pve\"}", create, NULL), 1);
	/* Update: the existing user's groups and the new ones. */
	check_int(eval(&ops, "x@pve", "{\"userid\":\"alice@pve\",\"groups\":\"ops\"}", update,
		       NULL),
		  1);
	check_int(eval(&ops, "x@pve", "{\"userid\":\"carol@ldap1\",\"groups\":\"ops\"}", update,
		       NULL),
		  0);
	check_int(eval(&ops, "x@pve", "{\"userid\":\"ghost@pve\",\"groups\":\"ops\"}", update,
		       NULL),
		  0);
}

static void perm_modify(void)
{
	static const char *const grants[] = {
		"/vms/100 VM.Allocate", "/storage/local Datastore.Audit",  "/pool/p1 Pool.Allocate",
		"/ Permissions.Modify", "/mapping/pci/gpu Mapping.Modify", NULL
	};
	static const char *const g2[] = { "/mapping/pci Mapping.Modify", NULL };
	world w = { grants, users }, w2 = { g2, users };
	const char *e = "[\"perm-modify\",\"{path}\"]";
	check_int(eval(&w, "x@pve", "{\"path\":\"/vms/100\"}", e, NULL), 1);
	check_int(eval(&w, "x@pve", "{\"path\":\"//vms//100/\"}", e, NULL), 1);
	check_int(eval(&w, "x@pve", "{\"path\":\"/vms/101\"}", e, NULL), 0);
	check_int(eval(&w, "x@pve", "{\"path\":\"/storage/local\"}", e, NULL), 0);
	check_int(eval(&w, "x@pve", "{\"path\":\"/pool/p1\"}", e, NULL), 1);
	check_int(eval(&w, "x@pve", "{\"path\":\"/\"}", e, NULL), 1);
	check_int(eval(&w, "x@pve", "{\"path\":\"/mapping/pci/gpu\"}", e, NULL), 1);
	/* Mapping.Modify counts only on a mapping entry, not on its type. */
	check_int(eval(&w2, "x@pve", "{\"path\":\"/mapping/pci\"}", e, NULL), 0);
	_cleanup_free_ char *what = NULL;
	check_int(eval(&w, "x@pve", "{\"path\":\"/vms/101\"}", e, &what), 0);
	check_streq(what, "/vms/101, Permissions.Modify");
	check_int(eval(&w, "x@pve", "{\"path\":\"/bad path!\"}", e, NULL), 0);
}

/* Does e name the userid parameter (a userid-param or userid-group test anywhere in it)? */
static bool about_userid(const cJSON *e)
{
	const cJSON *op = cJSON_GetArrayItem(e, 0);
	if (!cJSON_IsString(op))
		return false;
	if (strcmp(op->valuestring, "userid-param") == 0)
		return true;
	const cJSON *x;
	cJSON_ArrayForEach (x, e)
		if (cJSON_IsArray(x) && about_userid(x))
			return true;
	return false;
}

/* Is being the user itself enough for e? */
static bool self_suffices(const cJSON *e)
{
	const cJSON *op = cJSON_GetArrayItem(e, 0), *arg = cJSON_GetArrayItem(e, 1);
	if (!cJSON_IsString(op))
		return false;
	if (strcmp(op->valuestring, "userid-param") == 0)
		return cJSON_IsString(arg) && strcmp(arg->valuestring, "self") == 0;
	if (strcmp(op->valuestring, "or") != 0)
		return false;
	const cJSON *x;
	cJSON_ArrayForEach (x, e)
		if (cJSON_IsArray(x) && self_suffices(x))
			return true;
	return false;
}

/* Every route of the table whose permission names the userid parameter refuses a caller that differs
 * from the user only after a '!' or an '@' (and, where being oneself is enough, admits the user): no
 * list of routes, so a route added later is covered. The callers hold no privilege anywhere. */
static void routes_compare_whole_identities(void)
{
	static const char *const none[] = { NULL };
	static const char *const people[] = { "alice@pve:", "alice@pvx:", NULL };
	world w = { none, people };
	static const struct {
		const char *caller, *userid;
	} near[] = {
		{ "alice@pve!t", "alice@pve" },	    { "alice@pve", "alice@pvx" },
		{ "alice@pvx", "alice@pve" },	    { "alice@pve!x@pve", "alice@pve" },
		{ "alice@pve", "alice@pve!x@pve" }, { "alice@pve!t", "alice@pve!t" },
		{ "alice", "alice@pve" },	    { "alice@pve", "alice" },
	};
	pve_routes *routes = NULL;
	check_int(pve_routes_load(&routes, NULL), 0);
	size_t n = 0;
	for (size_t i = 0; routes && i < pve_routes_count(routes); i++) {
		const pve_route *r = pve_routes_get(routes, i);
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->permissions, "check");
		if (!e || !about_userid(e))
			continue;
		n++;
		for (size_t k = 0; k < ELEMENTSOF(near); k++) {
			_cleanup_json_ cJSON *params = cJSON_CreateObject();
			cJSON_AddStringToObject(params, "userid", near[k].userid);
			pved_check_env env = { .authid = near[k].caller,
					       .params = params,
					       .permitted = w_permitted,
					       .user_exists = w_user_exists,
					       .user_groups = w_user_groups,
					       .ud = (void *)&w };
			if (pved_check_eval(&env, e, NULL) != 0)
				test_fail(__FILE__, __LINE__, "%s %s: %s allowed on %s", r->method,
					  r->path, near[k].caller, near[k].userid);
		}
		if (self_suffices(e)) {
			_cleanup_json_ cJSON *params = cJSON_CreateObject();
			cJSON_AddStringToObject(params, "userid", "alice@pve");
			pved_check_env env = { .authid = "alice@pve",
					       .params = params,
					       .permitted = w_permitted,
					       .user_exists = w_user_exists,
					       .user_groups = w_user_groups,
					       .ud = (void *)&w };
			if (pved_check_eval(&env, e, NULL) != 1)
				test_fail(__FILE__, __LINE__, "%s %s: the user itself refused",
					  r->method, r->path);
		}
	}
	/* The table has such routes (password, tokens, tfa): the test is not vacuous. */
	check(n >= 10);
	pve_routes_free(routes);
}

TEST_MAIN(TEST(perm_and_or), TEST(userid_param), TEST(userid_group), TEST(perm_modify),
	  TEST(routes_compare_whole_identities))
