/* The permission expressions of the route table (Proxmox's "check" lists), evaluated over callbacks. */
#include <cjson/cJSON.h>

#include "daemon/core/auth-internal.h"

/* "/vms/{vmid}" with the parameters put in. */
static char *expand_path(const cJSON *params, const char *tmpl)
{
	pve_buf b = { 0 };
	for (const char *p = tmpl; *p;) {
		const char *open = strchr(p, '{');
		const char *close = open ? strchr(open, '}') : NULL;
		if (!open || !close) {
			pve_buf_puts(&b, p);
			break;
		}
		pve_buf_append(&b, p, (size_t)(open - p));
		_cleanup_free_ char *name = xstrndup(open + 1, (size_t)(close - open - 1));
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
		if (cJSON_IsString(v))
			pve_buf_puts(&b, v->valuestring);
		else if (cJSON_IsNumber(v))
			pve_buf_printf(&b, "%lld", (long long)v->valuedouble);
		p = close + 1;
	}
	return pve_buf_steal(&b);
}

static void set_what(char **ret_what, const char *path, const char *priv)
{
	if (ret_what && !*ret_what)
		*ret_what = xasprintf("%s, %s", path, priv);
}

/* Any (or all) of the privileges in the JSON array privs on path. */
static int check_privs(const pved_check_env *env, const char *path, const cJSON *privs, bool any,
		       char **ret_what)
{
	if (!cJSON_IsArray(privs) || cJSON_GetArraySize(privs) == 0)
		return -EINVAL;
	const cJSON *priv;
	cJSON_ArrayForEach (priv, privs)
		if (!cJSON_IsString(priv))
			return -EINVAL;
	cJSON_ArrayForEach (priv, privs) {
		bool has = env->permitted(env->ud, path, priv->valuestring);
		if (any && has)
			return 1;
		if (!any && !has) {
			set_what(ret_what, path, priv->valuestring);
			return 0;
		}
	}
	if (any) {
		/* Proxmox names the alternatives: "/access/groups, User.Modify|Sys.Audit". */
		if (ret_what && !*ret_what) {
			pve_buf b = { 0 };
			pve_buf_printf(&b, "%s, ", path);
			bool first = true;
			cJSON_ArrayForEach (priv, privs) {
				pve_buf_printf(&b, "%s%s", first ? "" : "|", priv->valuestring);
				first = false;
			}
			*ret_what = pve_buf_steal(&b);
		}
		return 0;
	}
	return 1;
}

static const char *param_str(const pved_check_env *env, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(env->params, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int check_userid_param(const pved_check_env *env, const cJSON *e, char **ret_what)
{
	const cJSON *sub = cJSON_GetArrayItem(e, 1);
	if (!cJSON_IsString(sub))
		return -EINVAL;
	const char *userid = param_str(env, "userid");
	const char *at = userid ? strrchr(userid, '@') : NULL;
	if (strcmp(sub->valuestring, "self") == 0) {
		/* Whole identities, as Proxmox compares them: a token is not its user, and no part of
		 * an id stands for the whole. */
		if (!userid || !env->user_exists(env->ud, userid) ||
		    strcmp(userid, env->authid) != 0) {
			if (ret_what && !*ret_what)
				*ret_what = xstrdup("not the user itself");
			return 0;
		}
		return 1;
	}
	if (strcmp(sub->valuestring, "Realm.AllocateUser") == 0) {
		if (!at)
			return 0;
		_cleanup_free_ char *path = xasprintf("/access/realm/%s", at + 1);
		if (!env->permitted(env->ud, path, "Realm.AllocateUser")) {
			set_what(ret_what, path, "Realm.AllocateUser");
			return 0;
		}
		return 1;
	}
	return -EINVAL;
}

static int check_userid_group(const pved_check_env *env, const cJSON *e, char **ret_what)
{
	const cJSON *privs = cJSON_GetArrayItem(e, 1);
	const cJSON *opt = cJSON_GetArrayItem(e, 2), *mode = cJSON_GetArrayItem(e, 3);
	const char *groups_param = NULL;
	if (opt) {
		if (!cJSON_IsString(opt) || strcmp(opt->valuestring, "groups_param") != 0 ||
		    !cJSON_IsString(mode) ||
		    (strcmp(mode->valuestring, "create") != 0 &&
		     strcmp(mode->valuestring, "update") != 0))
			return -EINVAL;
		groups_param = mode->valuestring;
	}
	const char *userid = param_str(env, "userid");
	bool existing = !groups_param || strcmp(groups_param, "create") != 0;
	if (existing && (!userid || !env->user_exists(env->ud, userid))) {
		if (ret_what && !*ret_what)
			*ret_what = xasprintf("no such user ('%s')", userid ? userid : "");
		return 0;
	}
	/* On all groups (and so all users) at once. */
	int r = check_privs(env, "/access/groups", privs, true, NULL);
	if (r != 0)
		return r;
	if (groups_param) {
		_cleanup_strv_free_ char **groups = pve_split_list(param_str(env, "groups"));
		if (!groups || !groups[0]) {
			check_privs(env, "/access/groups", privs, true, ret_what);
			return 0;
		}
		for (char **g = groups; *g; g++) {
			_cleanup_free_ char *path = xasprintf("/access/groups/%s", *g);
			if (check_privs(env, path, privs, true, ret_what) != 1)
				return 0;
		}
	}
	if (existing) {
		_cleanup_strv_free_ char **of_user = env->user_groups(env->ud, userid);
		for (char **g = of_user; g && *g; g++) {
			_cleanup_free_ char *path = xasprintf("/access/groups/%s", *g);
			if (check_privs(env, path, privs, true, NULL) == 1)
				return 1;
		}
		check_privs(env, "/access/groups", privs, true, ret_what);
		return 0;
	}
	return 1;
}

static int check_perm_modify(const pved_check_env *env, const char *path, char **ret_what)
{
	_cleanup_free_ char *norm = pve_acl_path_normalize(path && *path ? path : "/access");
	if (!norm) {
		set_what(ret_what, path, "Permissions.Modify");
		return 0;
	}
	const char *extra = NULL;
	if (startswith(norm, "/storage/"))
		extra = "Datastore.Allocate";
	else if (startswith(norm, "/vms/"))
		extra = "VM.Allocate";
	else if (startswith(norm, "/pool/"))
		extra = "Pool.Allocate";
	else if (startswith(norm, "/mapping/") && strchr(norm + 9, '/'))
		extra = "Mapping.Modify";
	if (env->permitted(env->ud, norm, "Permissions.Modify") ||
	    (extra && env->permitted(env->ud, norm, extra)))
		return 1;
	set_what(ret_what, norm, "Permissions.Modify");
	return 0;
}

int pved_check_eval(const pved_check_env *env, const cJSON *e, char **ret_what)
{
	const cJSON *op = cJSON_GetArrayItem(e, 0);
	if (!cJSON_IsArray(e) || !cJSON_IsString(op))
		return -EINVAL;
	const char *name = op->valuestring;
	if (strcmp(name, "perm") == 0) {
		const cJSON *path = cJSON_GetArrayItem(e, 1), *privs = cJSON_GetArrayItem(e, 2);
		const cJSON *mod = cJSON_GetArrayItem(e, 3);
		if (!cJSON_IsString(path))
			return -EINVAL;
		bool any = cJSON_IsString(mod) && strcmp(mod->valuestring, "any") == 0;
		_cleanup_free_ char *p = expand_path(env->params, path->valuestring);
		return check_privs(env, p, privs, any, ret_what);
	}
	if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0) {
		bool is_and = name[0] == 'a';
		int n = cJSON_GetArraySize(e);
		if (n < 2)
			return -EINVAL;
		for (int i = 1; i < n; i++) {
			int r = pved_check_eval(env, cJSON_GetArrayItem(e, i), ret_what);
			if (r < 0)
				return r;
			if (is_and && !r)
				return 0;
			if (!is_and && r) {
				if (ret_what) {
					free(*ret_what);
					*ret_what = NULL;
				}
				return 1;
			}
		}
		return is_and;
	}
	if (strcmp(name, "userid-param") == 0)
		return check_userid_param(env, e, ret_what);
	if (strcmp(name, "userid-group") == 0)
		return check_userid_group(env, e, ret_what);
	if (strcmp(name, "perm-modify") == 0) {
		const cJSON *path = cJSON_GetArrayItem(e, 1);
		if (!cJSON_IsString(path))
			return -EINVAL;
		_cleanup_free_ char *p = expand_path(env->params, path->valuestring);
		return check_perm_modify(env, p, ret_what);
	}
	return -EINVAL;
}
