/* The route table: loads the embedded route data, checks it, matches requests and publishes the schema. */
#include "api/api.h"

#define MAX_ROUTES 4096
#define MAX_SEGMENTS 16

typedef struct route_node route_node;
struct route_node {
	char *segment; /* "nodes", "{node}"; NULL at the root */
	char *path; /* "/nodes/{node}" */
	route_node **children; /* literals and at most one placeholder, in table order */
	size_t n_children;
	route_node *placeholder;
	const pve_route *methods[4]; /* GET POST PUT DELETE */
};

struct pve_routes {
	cJSON *data; /* owns every cJSON the routes point into */
	pve_route *routes;
	size_t n_routes;
	size_t n_alloc; /* entries allocated; a route that failed its check may hold segments */
	route_node *root;
};

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };

static int method_index(const char *m)
{
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (strcmp(m, methods[i]) == 0)
			return (int)i;
	return -1;
}

static bool is_placeholder(const char *seg)
{
	size_t n = strlen(seg);
	return n > 2 && seg[0] == '{' && seg[n - 1] == '}';
}

static void node_free(route_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_children; i++)
		node_free(n->children[i]);
	free(n->children);
	free(n->segment);
	free(n->path);
	free(n);
}

static route_node *node_child(route_node *n, const char *seg, bool create)
{
	for (size_t i = 0; i < n->n_children; i++)
		if (strcmp(n->children[i]->segment, seg) == 0)
			return n->children[i];
	if (!create)
		return NULL;
	route_node *c = xcalloc(1, sizeof(*c));
	c->segment = xstrdup(seg);
	c->path = xasprintf("%s/%s", n->path, seg);
	n->children = xrealloc(n->children, (n->n_children + 1) * sizeof(*n->children));
	n->children[n->n_children++] = c;
	if (is_placeholder(seg))
		n->placeholder = c;
	return c;
}

/* Splits "/a/b/c" into segments; refuses empty segments and more than MAX_SEGMENTS. */
static char **split_path(const char *path, size_t *ret_n)
{
	if (path[0] != '/')
		return NULL;
	char **v = xcalloc(MAX_SEGMENTS + 1, sizeof(char *));
	size_t n = 0;
	const char *p = path + 1;
	if (*p == '\0') {
		*ret_n = 0;
		return v;
	}
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || n == MAX_SEGMENTS) {
			strv_free(v);
			return NULL;
		}
		v[n++] = xstrndup(p, len);
		if (!slash)
			break;
		p = slash + 1;
	}
	*ret_n = n;
	return v;
}

static int route_check(pve_route *r, cJSON *entry, size_t index, pve_error **err)
{
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(entry, "path");
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(entry, "method");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(entry, "name");
	if (!cJSON_IsString(path) || !cJSON_IsString(method) || !cJSON_IsString(name))
		return pve_error_set(err, EINVAL,
				     "route %zu: needs string 'path', 'method' and 'name'", index);
	r->path = path->valuestring;
	r->method = method->valuestring;
	r->name = name->valuestring;
	if (method_index(r->method) < 0)
		return pve_error_set(err, EINVAL, "route %s %s: unknown method", r->method,
				     r->path);
	r->segments = split_path(r->path, &r->n_segments);
	if (!r->segments)
		return pve_error_set(err, EINVAL, "route %s %s: malformed path", r->method,
				     r->path);

	r->permissions = cJSON_GetObjectItemCaseSensitive(entry, "permissions");
	if (!cJSON_IsObject(r->permissions))
		return pve_error_set(err, EINVAL, "route %s %s: declares no permissions", r->method,
				     r->path);
	r->parameters = cJSON_GetObjectItemCaseSensitive(entry, "parameters");
	if (!r->parameters) {
		/* A route without parameters takes none; say so in the published schema too. */
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "type", "object");
		cJSON_AddNumberToObject(p, "additionalProperties", 0);
		cJSON_AddItemToObject(p, "properties", cJSON_CreateObject());
		cJSON_AddItemToObject(entry, "parameters", p);
		r->parameters = p;
	}
	if (!cJSON_IsObject(r->parameters))
		return pve_error_set(err, EINVAL, "route %s %s: 'parameters' is not an object",
				     r->method, r->path);
	/* Every placeholder of the path is a declared parameter, so it is validated like the others. */
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(r->parameters, "properties");
	for (size_t i = 0; i < r->n_segments; i++) {
		const char *seg = r->segments[i];
		if (!is_placeholder(seg))
			continue;
		_cleanup_free_ char *pname = xstrndup(seg + 1, strlen(seg) - 2);
		if (!cJSON_GetObjectItemCaseSensitive(props, pname))
			return pve_error_set(err, EINVAL,
					     "route %s %s: placeholder '%s' is not a parameter",
					     r->method, r->path, pname);
	}
	const cJSON *v;
	v = cJSON_GetObjectItemCaseSensitive(entry, "protected");
	r->protected_ = cJSON_IsNumber(v) && v->valueint != 0;
	v = cJSON_GetObjectItemCaseSensitive(entry, "allowtoken");
	r->allowtoken = !v || (cJSON_IsNumber(v) && v->valueint != 0);
	v = cJSON_GetObjectItemCaseSensitive(entry, "proxyto");
	r->proxyto = cJSON_IsString(v) ? v->valuestring : NULL;
	r->info = entry;
	return 0;
}

/* A file of the route data: a bare array of routes, or an object naming the area that serves them. */
static cJSON *file_routes(cJSON *file)
{
	return cJSON_IsObject(file) ? cJSON_GetObjectItemCaseSensitive(file, "routes") : file;
}

int pve_routes_load_json(const char *json, size_t len, pve_routes **ret, pve_error **err)
{
	cJSON *data = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsArray(data)) {
		cJSON_Delete(data);
		return pve_error_set(err, EINVAL, "route data is not a JSON array");
	}
	/* The data is an array of files, each an array of routes or {"area": AREA, "routes": [...]}
	 * (tools/embed-json names each file's area); flatten it. */
	size_t n = 0;
	cJSON *file, *entry;
	cJSON_ArrayForEach (file, data) {
		if (!cJSON_IsArray(file_routes(file))) {
			cJSON_Delete(data);
			return pve_error_set(err, EINVAL,
					     "route data: each file must hold an array");
		}
		n += (size_t)cJSON_GetArraySize(file_routes(file));
	}
	if (n > MAX_ROUTES) {
		cJSON_Delete(data);
		return pve_error_set(err, E2BIG, "route data: more than %d routes", MAX_ROUTES);
	}

	pve_routes *t = xcalloc(1, sizeof(*t));
	t->data = data;
	t->routes = xcalloc(n, sizeof(*t->routes));
	t->n_alloc = n;
	t->root = xcalloc(1, sizeof(*t->root));
	t->root->path = xstrdup("");
	int r = 0;
	cJSON_ArrayForEach (file, data) {
		const cJSON *area = cJSON_GetObjectItemCaseSensitive(file, "area");
		cJSON_ArrayForEach (entry, file_routes(file)) {
			pve_route *route = &t->routes[t->n_routes];
			r = route_check(route, entry, t->n_routes, err);
			if (r < 0)
				goto fail;
			route->area = cJSON_IsString(area) ? area->valuestring : NULL;
			t->n_routes++;
			route_node *node = t->root;
			for (size_t i = 0; i < route->n_segments; i++) {
				const char *seg = route->segments[i];
				if (is_placeholder(seg) && node->placeholder &&
				    strcmp(node->placeholder->segment, seg) != 0) {
					r = pve_error_set(
						err, EINVAL,
						"route %s: placeholder %s clashes with %s",
						route->path, seg, node->placeholder->segment);
					goto fail;
				}
				node = node_child(node, seg, true);
			}
			int m = method_index(route->method);
			if (node->methods[m]) {
				r = pve_error_set(err, EINVAL, "route %s %s is defined twice",
						  route->method, route->path);
				goto fail;
			}
			node->methods[m] = route;
		}
	}
	*ret = t;
	return 0;
fail:
	pve_routes_free(t);
	return r;
}

int pve_routes_load(pve_routes **ret, pve_error **err)
{
	return pve_routes_load_json(pve_routes_json, pve_routes_json_len, ret, err);
}

void pve_routes_free(pve_routes *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_alloc; i++)
		strv_free(t->routes[i].segments);
	free(t->routes);
	node_free(t->root);
	cJSON_Delete(t->data);
	free(t);
}

size_t pve_routes_count(const pve_routes *t)
{
	return t->n_routes;
}

const pve_route *pve_routes_get(const pve_routes *t, size_t i)
{
	return i < t->n_routes ? &t->routes[i] : NULL;
}

/* Walks the tree: literal segments first, then the placeholder, collecting placeholder values. */
static const route_node *walk(const route_node *n, char **segs, size_t n_segs, cJSON *params)
{
	if (n_segs == 0)
		return n;
	for (size_t i = 0; i < n->n_children; i++) {
		const route_node *c = n->children[i];
		if (c == n->placeholder || strcmp(c->segment, segs[0]) != 0)
			continue;
		const route_node *found = walk(c, segs + 1, n_segs - 1, params);
		if (found)
			return found;
	}
	if (n->placeholder) {
		/* A placeholder that ends every path through it takes the rest of the path: a volume ID
		 * such as local:iso/x.iso holds '/'. Its parameter's schema decides what it may hold. */
		if (n_segs > 1 && n->placeholder->n_children == 0) {
			if (params) {
				const char *seg = n->placeholder->segment;
				_cleanup_free_ char *name = xstrndup(seg + 1, strlen(seg) - 2);
				_cleanup_free_ char *rest = pve_strv_join(segs, "/");
				cJSON_DeleteItemFromObjectCaseSensitive(params, name);
				cJSON_AddStringToObject(params, name, rest);
			}
			return n->placeholder;
		}
		const route_node *found = walk(n->placeholder, segs + 1, n_segs - 1, params);
		if (found) {
			if (params) {
				const char *seg = n->placeholder->segment;
				_cleanup_free_ char *name = xstrndup(seg + 1, strlen(seg) - 2);
				cJSON_DeleteItemFromObjectCaseSensitive(params, name);
				cJSON_AddStringToObject(params, name, segs[0]);
			}
			return found;
		}
	}
	return NULL;
}

static const route_node *find_node(const pve_routes *t, const char *path, cJSON *params)
{
	size_t n;
	_cleanup_strv_free_ char **segs = NULL;
	if (path[0] == '/' && path[1] == '\0') {
		segs = xcalloc(1, sizeof(char *));
		n = 0;
	} else {
		/* A trailing slash names the same directory, as in Proxmox. */
		_cleanup_free_ char *p = xstrdup(path);
		size_t len = strlen(p);
		if (len > 1 && p[len - 1] == '/')
			p[len - 1] = '\0';
		segs = split_path(p, &n);
		if (!segs)
			return NULL;
	}
	return walk(t->root, segs, n, params);
}

const pve_route *pve_routes_match(const pve_routes *t, const char *method, const char *path,
				  cJSON *ret_path_params, bool *ret_path_known)
{
	if (ret_path_known)
		*ret_path_known = false;
	const route_node *node = find_node(t, path, ret_path_params);
	if (!node)
		return NULL;
	bool known = false;
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		known |= node->methods[i] != NULL;
	if (ret_path_known)
		*ret_path_known = known;
	int m = method_index(method);
	return m < 0 ? NULL : node->methods[m];
}

char **pve_routes_children(const pve_routes *t, const char *path)
{
	const route_node *node = find_node(t, path, NULL);
	char **v = xcalloc((node ? node->n_children : 0) + 1, sizeof(char *));
	for (size_t i = 0; node && i < node->n_children; i++)
		v[i] = xstrdup(node->children[i]->segment);
	return v;
}

static cJSON *apidoc_node(const route_node *n)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", n->path);
	cJSON_AddStringToObject(o, "text", n->segment);
	cJSON *info = cJSON_CreateObject();
	for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
		if (!n->methods[i])
			continue;
		cJSON *m = cJSON_Duplicate(n->methods[i]->info, true);
		cJSON_DeleteItemFromObjectCaseSensitive(m, "path");
		cJSON_DeleteItemFromObjectCaseSensitive(m, "index");
		cJSON_AddItemToObject(info, methods[i], m);
	}
	cJSON_AddItemToObject(o, "info", info);
	if (n->n_children) {
		cJSON *children = cJSON_CreateArray();
		for (size_t i = 0; i < n->n_children; i++)
			cJSON_AddItemToArray(children, apidoc_node(n->children[i]));
		cJSON_AddItemToObject(o, "children", children);
		cJSON_AddNumberToObject(o, "leaf", 0);
	} else {
		cJSON_AddNumberToObject(o, "leaf", 1);
	}
	return o;
}

cJSON *pve_routes_apidoc(const pve_routes *t)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < t->root->n_children; i++)
		cJSON_AddItemToArray(a, apidoc_node(t->root->children[i]));
	return a;
}
