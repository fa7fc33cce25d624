/* Tests of corosync.conf (common/corosync-conf.c): Proxmox's text kept byte for byte, hand-written
 * text, the JSON shapes, a new cluster's file, and addnode's and delnode's rules. */
#include <cjson/cJSON.h>

#include "common/corosync-conf.h"
#include "tests/unit/test.h"

/* As Proxmox's write_conf prints a two-link, three-node cluster. */
static const char three_nodes[] = "logging {\n"
				  "  debug: off\n"
				  "  to_syslog: yes\n"
				  "}\n"
				  "\n"
				  "nodelist {\n"
				  "  node {\n"
				  "    name: pve1\n"
				  "    nodeid: 1\n"
				  "    quorum_votes: 1\n"
				  "    ring0_addr: 10.0.0.1\n"
				  "    ring1_addr: 10.1.0.1\n"
				  "  }\n"
				  "  node {\n"
				  "    name: pve2\n"
				  "    nodeid: 2\n"
				  "    quorum_votes: 1\n"
				  "    ring0_addr: 10.0.0.2\n"
				  "    ring1_addr: 10.1.0.2\n"
				  "  }\n"
				  "}\n"
				  "\n"
				  "quorum {\n"
				  "  provider: corosync_votequorum\n"
				  "}\n"
				  "\n"
				  "totem {\n"
				  "  cluster_name: lab\n"
				  "  config_version: 5\n"
				  "  interface {\n"
				  "    knet_link_priority: 10\n"
				  "    linknumber: 0\n"
				  "  }\n"
				  "  interface {\n"
				  "    linknumber: 1\n"
				  "  }\n"
				  "  ip_version: ipv4-6\n"
				  "  link_mode: passive\n"
				  "  secauth: on\n"
				  "  version: 2\n"
				  "}\n"
				  "\n";

static pve_corosync_conf *parse_ok(const char *text)
{
	_cleanup_error_ pve_error *err = NULL;
	pve_corosync_conf *c = NULL;
	if (pve_corosync_conf_parse(text, strlen(text), &c, &err) < 0)
		test_fail(__FILE__, __LINE__, "parse failed: %s", err ? err->message : "?");
	return c;
}

/* o.a.b.k as a string; a and b may be NULL. */
static char *json_at(const cJSON *o, const char *a, const char *b, const char *k)
{
	const cJSON *x = a ? cJSON_GetObjectItemCaseSensitive(o, a) : o;
	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, k));
}

static void test_proxmox_text_kept(void)
{
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = parse_ok(three_nodes);
	if (!c)
		return;
	_cleanup_free_ char *out = pve_corosync_conf_print(c);
	check_streq(out, three_nodes);
	check_int(pve_corosync_conf_version(c), 5);
	check_streq(pve_corosync_conf_cluster_name(c), "lab");

	cJSON *j = pve_corosync_conf_to_json(c);
	const cJSON *totem = cJSON_GetObjectItemCaseSensitive(j, "totem");
	check_streq(json_at(totem, "interface", "0", "knet_link_priority"), "10");
	check_streq(json_at(totem, "interface", "1", "linknumber"), "1");
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "nodelist"), "node");
	check_streq(json_at(nodes, "pve1", NULL, "name"), "pve1");
	check_streq(json_at(nodes, "pve2", NULL, "ring1_addr"), "10.1.0.2");
	check_streq(json_at(j, "quorum", NULL, "provider"), "corosync_votequorum");
	cJSON_Delete(j);

	cJSON *list = pve_corosync_conf_nodes(c);
	check_int(cJSON_GetArraySize(list), 2);
	check_streq(cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0), "name")),
		    "pve1");
	check_streq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetArrayItem(list, 1), "nodeid")),
		    "2");
	cJSON_Delete(list);
}

static void test_hand_written(void)
{
	static const char text[] = "# edited by hand\n"
				   "totem { version: 2\n"
				   "  cluster_name: x   # the name\n"
				   "  config_version: 3\n"
				   "  interface { ringnumber: 0 }\n"
				   "}\n"
				   "nodelist {\n"
				   "\tnode { ring0_addr: 192.168.1.5\n"
				   "\t       nodeid: 7 }\n"
				   "}\n"
				   "quorum {\n"
				   "  provider: corosync_votequorum\n"
				   "  device { model: net\n"
				   "    net { host: 10.0.0.9 algorithm: ffsplit }\n"
				   "  }\n"
				   "}\n";
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = parse_ok(text);
	if (!c)
		return;
	_cleanup_free_ char *out = pve_corosync_conf_print(c);
	check_streq(out, "nodelist {\n"
			 "  node {\n"
			 "    nodeid: 7\n"
			 "    ring0_addr: 192.168.1.5\n"
			 "  }\n"
			 "}\n"
			 "\n"
			 "quorum {\n"
			 "  device {\n"
			 "    model: net\n"
			 "    net {\n"
			 "      algorithm: ffsplit\n"
			 "      host: 10.0.0.9\n"
			 "    }\n"
			 "  }\n"
			 "  provider: corosync_votequorum\n"
			 "}\n"
			 "\n"
			 "totem {\n"
			 "  cluster_name: x\n"
			 "  config_version: 3\n"
			 "  interface {\n"
			 "    ringnumber: 0\n"
			 "  }\n"
			 "  version: 2\n"
			 "}\n"
			 "\n");
	/* print, parse, print: the same */
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c2 = parse_ok(out);
	_cleanup_free_ char *out2 = c2 ? pve_corosync_conf_print(c2) : NULL;
	check_streq(out2, out);
	cJSON *j = pve_corosync_conf_to_json(c);
	/* a node without a name is keyed by its ring0_addr, as Proxmox does */
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "nodelist"), "node");
	check_streq(json_at(nodes, "192.168.1.5", NULL, "nodeid"), "7");
	const cJSON *ifaces = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "totem"), "interface");
	check_streq(json_at(ifaces, "0", NULL, "ringnumber"), "0");
	check_streq(json_at(j, "quorum", "device", "model"), "net");
	cJSON_Delete(j);

	/* an empty file is an empty tree */
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *e = parse_ok("");
	_cleanup_free_ char *eout = e ? pve_corosync_conf_print(e) : NULL;
	check_streq(eout, "");
	check_int(e ? pve_corosync_conf_version(e) : -1, 0);
	check(e && pve_corosync_conf_cluster_name(e) == NULL);
}

static void bad(const char *text, const char *msg)
{
	_cleanup_error_ pve_error *err = NULL;
	pve_corosync_conf *c = NULL;
	int r = pve_corosync_conf_parse(text, strlen(text), &c, &err);
	if (r >= 0) {
		pve_corosync_conf_free(c);
		test_fail(__FILE__, __LINE__, "parsed: %s", text);
		return;
	}
	check_streq(err ? err->message : NULL, msg);
}

static void test_syntax_errors(void)
{
	bad("totem {\n  version 2\n}\n", "line 2: missing ':' after key 'version'");
	bad("totem {\n  version: 2\n", "line 2: missing '}'");
	bad("totem {\n}\n}\n", "line 3: parse error - unexpected '}'");
	bad("totem {\n}\ntotem {\n}\n",
	    "line 3: section 'totem' already exists and not marked as array!");
	bad("totem {\n  version:\n}\n", "line 2: no value for 'version'");
	bad("a: {\n}\n", "line 1: no value for 'a:'");
	bad("nodelist {\n node {\n  name: a\n }\n node {\n  name: a\n }\n}\n",
	    "duplicate node 'a'");
	bad("totem {\n  version: 2\n  version {\n  }\n}\n",
	    "line 3: section 'version' already exists and not marked as array!");

	/* depth and size limits */
	pve_buf b = { 0 };
	for (int i = 0; i < PVE_COROSYNC_MAX_DEPTH + 1; i++)
		pve_buf_puts(&b, "a {\n");
	_cleanup_free_ char *deep = pve_buf_steal(&b);
	bad(deep, "line 17: sections nested deeper than 16");
	pve_buf_puts(&b, "nodelist {\n");
	for (int i = 0; i <= PVE_COROSYNC_MAX_NODES; i++)
		pve_buf_printf(&b, "node {\nname: n%d\n}\n", i);
	pve_buf_puts(&b, "}\n");
	_cleanup_free_ char *many = pve_buf_steal(&b);
	_cleanup_error_ pve_error *err = NULL;
	pve_corosync_conf *c = NULL;
	check(pve_corosync_conf_parse(many, strlen(many), &c, &err) == -E2BIG);
	_cleanup_free_ char *big = xcalloc(PVE_COROSYNC_MAX_SIZE + 2, 1);
	memset(big, ' ', PVE_COROSYNC_MAX_SIZE + 1);
	pve_error_free(err);
	err = NULL;
	check(pve_corosync_conf_parse(big, PVE_COROSYNC_MAX_SIZE + 1, &c, &err) == -E2BIG);
	check(pve_corosync_conf_parse("a: b\0", 5, &c, NULL) == -EINVAL);
}

static void test_create(void)
{
	/* one link, token_coefficient 0 (given: written) */
	const char *const one[] = { "192.0.2.1", NULL };
	_cleanup_free_ char *text = pve_corosync_conf_create("c", "n", 4, 2, one, 0);
	check(startswith(text, "logging {\n  debug: off\n  to_syslog: yes\n}\n\nnodelist {\n"));
	check(strstr(text, "  node {\n    name: n\n    nodeid: 4\n    quorum_votes: 2\n"
			   "    ring0_addr: 192.0.2.1\n  }\n}\n\n") != NULL);
	check(strstr(text, "quorum {\n  provider: corosync_votequorum\n}\n\n") != NULL);
	check(endswith(text, "totem {\n"
			     "  cluster_name: c\n"
			     "  config_version: 1\n"
			     "  interface {\n"
			     "    linknumber: 0\n"
			     "  }\n"
			     "  ip_version: ipv4-6\n"
			     "  link_mode: passive\n"
			     "  secauth: on\n"
			     "  token_coefficient: 0\n"
			     "  version: 2\n"
			     "}\n\n"));
	/* the file is Proxmox's layout: printing what it parses gives it back */
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *p = parse_ok(text);
	_cleanup_free_ char *again = p ? pve_corosync_conf_print(p) : NULL;
	check_streq(again, text);
	check_int(p ? pve_corosync_conf_version(p) : 0, 1);

	/* two links, no token_coefficient */
	const char *const links[] = { "10.0.0.1", "10.1.0.1", NULL };
	_cleanup_free_ char *t2 = pve_corosync_conf_create("lab", "pve1", 1, 1, links, -1);
	check(strstr(t2, "token_coefficient") == NULL);
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = parse_ok(t2);
	cJSON *j = c ? pve_corosync_conf_to_json(c) : NULL;
	const cJSON *ifaces = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "totem"), "interface");
	check_int(cJSON_GetArraySize(ifaces), 2);
	check_streq(json_at(ifaces, "1", NULL, "linknumber"), "1");
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "nodelist"),
						 "node"),
		"pve1");
	check_streq(json_at(node, NULL, NULL, "ring1_addr"), "10.1.0.1");
	check_streq(json_at(node, NULL, NULL, "nodeid"), "1");
	cJSON_Delete(j);
}

static void add_refused(pve_corosync_conf *c, const char *node, int nodeid,
			const char *const *links, bool force, const char *param, const char *msg)
{
	_cleanup_free_ char *before = pve_corosync_conf_print(c);
	_cleanup_error_ pve_error *err = NULL;
	int r = pve_corosync_conf_add_node(c, node, nodeid, -1, links, force, &err);
	check(r < 0);
	check_streq(err ? err->message : NULL, msg);
	check_streq(err && err->param ? err->param : "", param);
	_cleanup_free_ char *after = pve_corosync_conf_print(c);
	check_streq(after, before);
}

static void test_add_node(void)
{
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = parse_ok(three_nodes);
	if (!c)
		return;
	const char *const links[] = { "10.0.0.3", "10.1.0.3", NULL };
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_corosync_conf_add_node(c, "pve3", 0, -1, links, false, &err), 0);
	check_int(pve_corosync_conf_version(c), 6);
	_cleanup_free_ char *out = pve_corosync_conf_print(c);
	check(strstr(out, "  node {\n    name: pve3\n    nodeid: 3\n    quorum_votes: 1\n"
			  "    ring0_addr: 10.0.0.3\n    ring1_addr: 10.1.0.3\n  }\n}\n") != NULL);

	const char *const dup_addr[] = { "10.0.0.9", "10.1.0.2", NULL };
	add_refused(c, "pve4", 0, dup_addr, false, "link1",
		    "corosync: address '10.1.0.2' already used on link ring1_addr by node 'pve2'");
	const char *const fresh[] = { "10.0.0.4", "10.1.0.4", NULL };
	add_refused(c, "pve2", 0, fresh, false, "node", "can't add existing node 'pve2'");
	add_refused(c, "pve4", 2, fresh, false, "nodeid",
		    "corosync: nodeid 2 already used by node 'pve2'");
	const char *const only0[] = { "10.0.0.4", NULL };
	add_refused(c, "pve4", 0, only0, false, "link1",
		    "corosync: link 1 exists in cluster config but wasn't specified for new node");
	const char *const three[] = { "10.0.0.4", "10.1.0.4", "10.2.0.4", NULL };
	add_refused(c, "pve4", 0, three, false, "link2",
		    "corosync: link 2 specified for new node doesn't exist in cluster config");
	/* force replaces the node of that name when its id and votes stay */
	const char *const moved[] = { "10.0.0.22", "10.1.0.22", NULL };
	add_refused(c, "pve2", 5, moved, true, "node", "can't add existing node 'pve2'");
	check_int(pve_corosync_conf_add_node(c, "pve2", 0, -1, moved, true, NULL), 0);
	check_int(pve_corosync_conf_version(c), 7);
	cJSON *j = pve_corosync_conf_to_json(c);
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "nodelist"), "node");
	check_streq(json_at(nodes, "pve2", NULL, "ring0_addr"), "10.0.0.22");
	check_streq(json_at(nodes, "pve2", NULL, "nodeid"), "2");
	cJSON_Delete(j);

	/* the lowest free id; votes 0 writes no quorum_votes, as Proxmox */
	check_int(pve_corosync_conf_del_node(c, "pve1", NULL, NULL), 0);
	const char *const l5[] = { "10.0.0.5", "10.1.0.5", NULL };
	check_int(pve_corosync_conf_add_node(c, "pve5", 0, 0, l5, false, NULL), 0);
	_cleanup_free_ char *out2 = pve_corosync_conf_print(c);
	check(strstr(out2, "    name: pve5\n    nodeid: 1\n    ring0_addr: 10.0.0.5\n") != NULL);
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c2 = parse_ok(out2);
	_cleanup_free_ char *out3 = c2 ? pve_corosync_conf_print(c2) : NULL;
	check_streq(out3, out2);

	/* a file without a cluster */
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *e = parse_ok("");
	pve_error_free(err);
	err = NULL;
	check(pve_corosync_conf_add_node(e, "a", 0, -1, l5, false, &err) == -EINVAL);
	check_streq(err ? err->message : NULL, "invalid corosync.conf: no nodes found");
}

static void test_del_node(void)
{
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = parse_ok(three_nodes);
	if (!c)
		return;
	_cleanup_error_ pve_error *err = NULL;
	check(pve_corosync_conf_del_node(c, "pve9", NULL, &err) == -ENOENT);
	check_streq(err ? err->message : NULL, "Node/IP: pve9 is not a known host of the cluster.");
	check_int(pve_corosync_conf_version(c), 5);
	/* by ring address too, as Proxmox; its nodeid for corosync-cfgtool -k */
	int id = 0;
	check_int(pve_corosync_conf_del_node(c, "10.1.0.2", &id, NULL), 0);
	check_int(id, 2);
	check_int(pve_corosync_conf_version(c), 6);
	cJSON *list = pve_corosync_conf_nodes(c);
	check_int(cJSON_GetArraySize(list), 1);
	cJSON_Delete(list);
	check_int(pve_corosync_conf_del_node(c, "pve1", NULL, NULL), 0);
	_cleanup_free_ char *out = pve_corosync_conf_print(c);
	check(strstr(out, "nodelist {\n}\n\n") != NULL);
	check(strstr(out, "config_version: 7\n") != NULL);
}

TEST_MAIN(TEST(test_proxmox_text_kept), TEST(test_hand_written), TEST(test_syntax_errors),
	  TEST(test_create), TEST(test_add_node), TEST(test_del_node))
