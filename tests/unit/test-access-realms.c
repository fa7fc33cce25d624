/* Unit tests of access/realm-ldap.c: domains.cfg checks, realm settings, filter escaping, sync options,
 * merging a sync into user.cfg, and the LDAP client's refusals and timeouts against real sockets (the
 * directory itself is tested in tests/integration/test-realms.py against slapd and Samba). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "access/access.h"
#include "tests/unit/test.h"

static const char DOMAINS[] = "pam: pam\n"
			      "\tcomment Linux PAM\n"
			      "\n"
			      "ldap: corp\n"
			      "\tbase_dn dc=example,dc=com\n"
			      "\tuser_attr uid\n"
			      "\tserver1 ldap.example.com\n"
			      "\tserver2 10.0.0.2\n"
			      "\tport 3890\n"
			      "\tmode ldap+starttls\n"
			      "\tbind_dn cn=admin,dc=example,dc=com\n"
			      "\tsync_attributes email=mail, firstname=givenName\n"
			      "\tsync-defaults-options scope=both,remove-vanished=acl;entry\n"
			      "\tdefault 1\n"
			      "\n"
			      "ad: win\n"
			      "\tdomain ad.test\n"
			      "\tserver1 dc1.ad.test\n"
			      "\tsecure 1\n"
			      "\tcomment Windows\n";

static void domains_parse_roundtrip(void)
{
	pve_sectioncfg *c = NULL;
	pve_error *err = NULL;
	check_int(pve_domains_parse(DOMAINS, strlen(DOMAINS), &c, &err), 0);
	if (!c)
		return;
	check_int(pve_sectioncfg_count(c), 3);
	check_streq(pve_domains_realm_type(c, "corp"), "ldap");
	check_streq(pve_domains_realm_type(c, "win"), "ad");
	check_streq(pve_domains_realm_type(c, "pve"), "pve");
	check(pve_domains_realm_type(c, "nope") == NULL);
	check(pve_domains_realm_type(NULL, "pam") != NULL);
	_cleanup_free_ char *out = pve_sectioncfg_print(c);
	check_streq(out, DOMAINS);
	pve_sectioncfg_free(c);
}

static void domains_parse_invalid(void)
{
	static const char *const bad[] = {
		"foo: x1\n\tcomment a\n", /* unknown type */
		"ldap: corp\n\tport 70000\n", /* port out of range */
		"ldap: corp\n\tdomain x.y\n", /* ad-only key */
		"ldap: pam\n\tserver1 a\n", /* built-in id with another type */
		"pve: other\n", /* built-in type with another id */
		"ldap: 1bad\n\tserver1 a\n", /* realm id must start with a letter */
		"ldap: corp\n\tmode ldapx\n",
		"ldap: corp\n\tbase_dn nodn\n",
		"ldap: corp\n\tsync-defaults-options scope=all\n",
		"ldap: corp\n\tsync-defaults-options remove-vanished=everything\n",
		"ldap: corp\n\tsync_attributes email\n",
		"ad: win\n\tserver1 bad host\n",
		"ldap: corp\n\tuser_classes a b,(c)\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_sectioncfg *c = NULL;
		pve_error *err = NULL;
		int r = pve_domains_parse(bad[i], strlen(bad[i]), &c, &err);
		if (r != -EINVAL)
			test_fail(__FILE__, __LINE__, "accepted or wrong error %d: %s", r, bad[i]);
		check(c == NULL);
		check(err && err->message);
		pve_error_free(err);
		pve_sectioncfg_free(c);
	}
	/* Too big. */
	size_t n = PVE_DOMAINS_MAX_SIZE + 1;
	_cleanup_free_ char *big = xmalloc(n + 1);
	memset(big, '#', n);
	big[n] = '\0';
	pve_sectioncfg *c = NULL;
	check_int(pve_domains_parse(big, n, &c, NULL), -E2BIG);
}

static void realm_property_checks(void)
{
	pve_error *err = NULL;
	check_int(pve_realm_check_property("ldap", "port", "636", NULL), 0);
	check_int(pve_realm_check_property("ad", "domain", "ad.test", NULL), 0);
	check_int(pve_realm_check_property("pve", "comment", "the pve realm", NULL), 0);
	check_int(pve_realm_check_property("pam", "server1", "x", &err), -EINVAL);
	check_streq(err ? err->param : NULL, "server1");
	pve_error_free(err);
	check_int(pve_realm_check_property("ldap", "verify", "maybe", NULL), -EINVAL);
	check_int(pve_realm_check_property("ldap", "comment", "two\nlines", NULL), -EINVAL);
	check_int(pve_realm_check_property("nope", "comment", "x", NULL), -EINVAL);
	check(pve_realm_id_valid("corp.example"));
	check(!pve_realm_id_valid("c"));
	check(!pve_realm_id_valid("abcdefghijabcdefghijabcdefghijabc"));
}

static pve_section *section_of(pve_sectioncfg **c, const char *text, const char *id)
{
	pve_error *err = NULL;
	if (pve_domains_parse(text, strlen(text), c, &err) < 0) {
		test_fail(__FILE__, __LINE__, "parse: %s", err->message);
		pve_error_free(err);
		return NULL;
	}
	return pve_sectioncfg_find(*c, id);
}

static void ldap_config(void)
{
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	pve_section *s = section_of(&c, DOMAINS, "corp");
	check(s != NULL);
	if (!s)
		return;
	_cleanup_ldap_config_ pve_ldap_config *l = NULL;
	check_int(pve_ldap_config_from_section(s, "secret", &l, NULL), 0);
	if (!l)
		return;
	check(!l->ad);
	check_int(l->port, 3890);
	check_streq(l->mode, "ldap+starttls");
	check_streq(l->user_attr, "uid");
	check_streq(l->bind_password, "secret");
	check_streq(l->attr_map[0], "givenName");
	check_streq(l->attr_map[1], "lastname");
	check_streq(l->attr_map[2], "mail");
	check_int(strv_length(l->user_classes), 4);
	check_int(l->timeout_ms, PVE_LDAP_TIMEOUT_MS);

	pve_section *ad = pve_sectioncfg_find(c, "win");
	_cleanup_ldap_config_ pve_ldap_config *a = NULL;
	check_int(pve_ldap_config_from_section(ad, NULL, &a, NULL), 0);
	if (a) {
		check(a->ad);
		check_streq(a->mode, "ldaps"); /* from the deprecated secure flag */
		check_streq(a->user_attr, "sAMAccountName");
		check(a->bind_password == NULL);
	}
	pve_section *pam = pve_sectioncfg_find(c, "pam");
	pve_ldap_config *p = NULL;
	check_int(pve_ldap_config_from_section(pam, NULL, &p, NULL), -EINVAL);
	check(p == NULL);
}

static void filter_escape(void)
{
	_cleanup_free_ char *a = pve_ldap_filter_escape("bob");
	check_streq(a, "bob");
	_cleanup_free_ char *b = pve_ldap_filter_escape("*)(uid=*");
	check_streq(b, "\\2a\\29\\28uid=\\2a");
	_cleanup_free_ char *c = pve_ldap_filter_escape("a\\b");
	check_streq(c, "a\\5cb");
}

static void sync_options(void)
{
	pve_realm_sync_opts o;
	pve_error *err = NULL;
	check_int(pve_realm_sync_opts_get(NULL, NULL, NULL, -1, &o, &err), -EINVAL);
	check_streq(err ? err->param : NULL, "scope");
	pve_error_free(err);
	check_int(pve_realm_sync_opts_get(NULL, "users", NULL, -1, &o, NULL), 0);
	check_int(o.scope, PVE_SYNC_USERS);
	check_int(o.remove_vanished, 0);
	check(o.enable_new);
	check_int(pve_realm_sync_opts_get("scope=both,enable-new=0,remove-vanished=acl;entry", NULL,
					  NULL, -1, &o, NULL),
		  0);
	check_int(o.scope, PVE_SYNC_USERS | PVE_SYNC_GROUPS);
	check_int(o.remove_vanished, PVE_VANISHED_ACL | PVE_VANISHED_ENTRY);
	check(!o.enable_new);
	/* The call's values win over the realm's defaults. */
	check_int(pve_realm_sync_opts_get("scope=both,enable-new=0", "groups", "properties", 1, &o,
					  NULL),
		  0);
	check_int(o.scope, PVE_SYNC_GROUPS);
	check_int(o.remove_vanished, PVE_VANISHED_PROPERTIES);
	check(o.enable_new);
	check_int(pve_realm_sync_opts_get("scope=users,full=1,purge=1", NULL, NULL, -1, &o, NULL),
		  0);
	check_int(o.remove_vanished,
		  PVE_VANISHED_ACL | PVE_VANISHED_ENTRY | PVE_VANISHED_PROPERTIES);
	check_int(pve_realm_sync_opts_get(NULL, "users", "bogus", -1, &o, NULL), -EINVAL);
}

static const char USERCFG[] = "user:root@pam:1:0:::root@localhost:::\n"
			      "user:alice@corp:1:0:Alice:Old:alice@old:local note::\n"
			      "user:gone@corp:1:0::::::\n"
			      "user:keep@pve:1:0::::::\n"
			      "group:admins-corp:alice@corp,gone@corp::\n"
			      "group:old-corp:gone@corp::\n"
			      "group:local:gone@corp,keep@pve::\n"
			      "acl:1:/vms:gone@corp:PVEVMUser:\n"
			      "acl:1:/vms:@old-corp:PVEAuditor:\n";

static pve_ldap_sync *sample_sync(void)
{
	pve_ldap_sync *s = xcalloc(1, sizeof(*s));
	s->n_users = 2;
	s->users = xcalloc(2, sizeof(*s->users));
	s->users[0].userid = xstrdup("alice@corp");
	s->users[0].dn = xstrdup("uid=alice,ou=people,dc=example,dc=com");
	s->users[0].fields[0] = xstrdup("Alice");
	s->users[0].fields[2] = xstrdup("alice@example.com");
	s->users[1].userid = xstrdup("bob@corp");
	s->users[1].dn = xstrdup("uid=bob,ou=people,dc=example,dc=com");
	s->users[1].fields[1] = xstrdup("Builder");
	s->n_groups = 1;
	s->groups = xcalloc(1, sizeof(*s->groups));
	s->groups[0].groupid = xstrdup("admins-corp");
	s->groups[0].members = xcalloc(3, sizeof(char *));
	s->groups[0].members[0] = xstrdup("bob@corp");
	s->groups[0].members[1] = xstrdup("alice@corp");
	return s;
}

static char *synced(const pve_realm_sync_opts *o, char **ret_log)
{
	pve_usercfg *c = NULL;
	if (pve_usercfg_parse(USERCFG, strlen(USERCFG), &c, NULL) < 0) {
		test_fail(__FILE__, __LINE__, "user.cfg does not parse");
		return xstrdup("");
	}
	_cleanup_ldap_sync_ pve_ldap_sync *s = sample_sync();
	char *buf = NULL;
	size_t len = 0;
	FILE *log = open_memstream(&buf, &len);
	check_int(pve_realm_sync_apply(c, "corp", s, o, log, NULL), 0);
	fclose(log);
	*ret_log = buf;
	char *out = pve_usercfg_print(c);
	pve_usercfg_free(c);
	/* What was printed parses again. */
	pve_usercfg *again = NULL;
	check_int(pve_usercfg_parse(out, strlen(out), &again, NULL), 0);
	pve_usercfg_free(again);
	return out;
}

static void sync_apply_merge(void)
{
	pve_realm_sync_opts o = { .scope = PVE_SYNC_USERS | PVE_SYNC_GROUPS, .enable_new = false };
	_cleanup_free_ char *log = NULL;
	_cleanup_free_ char *out = synced(&o, &log);
	/* Nothing vanishes without remove-vanished; alice keeps her local fields; bob is new. */
	check(strstr(out, "user:gone@corp:1:") != NULL);
	check(strstr(out, "user:alice@corp:1:0:Alice:Old:alice@example.com:local note::") != NULL);
	check(strstr(out, "user:bob@corp:0:0::Builder::::") != NULL);
	check(strstr(out, "group:admins-corp:alice@corp,bob@corp::") != NULL);
	check(strstr(out, "group:old-corp:gone@corp::") != NULL);
	check(strstr(out, "acl:1:/vms:gone@corp:PVEVMUser:") != NULL);
	check(strstr(log, "adding user 'bob@corp'") != NULL);
	check(strstr(log, "updating user 'alice@corp'") != NULL);
	check(strstr(log, "updating group 'admins-corp'") != NULL);
}

static void sync_apply_remove_vanished(void)
{
	pve_realm_sync_opts o = { .scope = PVE_SYNC_USERS | PVE_SYNC_GROUPS,
				  .remove_vanished = PVE_VANISHED_ENTRY | PVE_VANISHED_PROPERTIES,
				  .enable_new = true };
	_cleanup_free_ char *log = NULL;
	_cleanup_free_ char *out = synced(&o, &log);
	check(strstr(out, "gone@corp") == NULL);
	check(strstr(out, "old-corp") == NULL);
	/* properties: alice's fields are the directory's only. */
	check(strstr(out, "user:alice@corp:1:0:Alice::alice@example.com:::") != NULL);
	check(strstr(out, "user:bob@corp:1:0::Builder::::") != NULL);
	check(strstr(out, "group:local:keep@pve::") != NULL);
	check(strstr(out, "user:keep@pve:") != NULL);
	check(strstr(log, "remove user 'gone@corp'") != NULL);
	check(strstr(log, "remove group 'old-corp'") != NULL);

	/* acl alone: the users stay, their ACL entries go. */
	pve_realm_sync_opts a = { .scope = PVE_SYNC_USERS | PVE_SYNC_GROUPS,
				  .remove_vanished = PVE_VANISHED_ACL };
	_cleanup_free_ char *log2 = NULL;
	_cleanup_free_ char *out2 = synced(&a, &log2);
	check(strstr(out2, "user:gone@corp:") != NULL);
	check(strstr(out2, "acl:") == NULL);
	check(strstr(out2, "group:old-corp:") != NULL);

	/* users only: groups untouched. */
	pve_realm_sync_opts u = { .scope = PVE_SYNC_USERS };
	_cleanup_free_ char *log3 = NULL;
	_cleanup_free_ char *out3 = synced(&u, &log3);
	check(strstr(out3, "group:admins-corp:alice@corp,gone@corp::") != NULL);
}

/* A loopback port that refuses connections: bound, never listening. */
static int closed_port(int *ret_fd)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*ret_fd = fd;
	return ntohs(a.sin_port);
}

static pve_ldap_config *config_for(int port, bool ad)
{
	_cleanup_free_ char *text =
		xasprintf("%s: t1\n\tserver1 127.0.0.1\n\tport %d\n\tbase_dn dc=x\n%s",
			  ad ? "ad" : "ldap", port, ad ? "\tdomain x.test\n" : "");
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	pve_section *s = section_of(&c, text, "t1");
	pve_ldap_config *l = NULL;
	if (s)
		pve_ldap_config_from_section(s, NULL, &l, NULL);
	return l;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void ldap_refusals(void)
{
	int fd = -1;
	int port = closed_port(&fd);
	check(port > 0);
	_cleanup_ldap_config_ pve_ldap_config *l = config_for(port, false);
	_cleanup_ldap_config_ pve_ldap_config *a = config_for(port, true);
	if (!l || !a) {
		close(fd);
		return;
	}
	pve_error *err = NULL;
	/* An empty password never reaches the server (it would be an anonymous bind). */
	check_int(pve_ldap_authenticate(l, "bob", "", &err), -EACCES);
	pve_error_free(err);
	err = NULL;
	check_int(pve_ldap_authenticate(a, "bob", "", NULL), -EACCES);
	/* Nobody listens: EIO, not a wrong password. */
	check_int(pve_ldap_authenticate(l, "bob", "secret", &err), -EIO);
	pve_error_free(err);
	check_int(pve_ldap_authenticate(a, "bob", "secret", NULL), -EIO);
	pve_ldap_sync *s = NULL;
	check_int(pve_ldap_fetch(l, true, &s, NULL), -EIO);
	check(s == NULL);
	close(fd);
}

static void ldap_timeout(void)
{
	/* A server that accepts the connection (the kernel does, from the backlog) and never answers. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		test_skip("no loopback socket");
		return;
	}
	_cleanup_ldap_config_ pve_ldap_config *l = config_for(ntohs(a.sin_port), false);
	_cleanup_ldap_config_ pve_ldap_config *ad = config_for(ntohs(a.sin_port), true);
	if (!l || !ad) {
		close(fd);
		return;
	}
	l->timeout_ms = ad->timeout_ms = 300;
	double t0 = now_s();
	check_int(pve_ldap_authenticate(l, "bob", "secret", NULL), -EIO);
	check_int(pve_ldap_authenticate(ad, "bob", "secret", NULL), -EIO);
	double took = now_s() - t0;
	if (took > 3.0)
		test_fail(__FILE__, __LINE__, "two timed-out logins took %.1f s", took);
	close(fd);
}

TEST_MAIN(TEST(domains_parse_roundtrip), TEST(domains_parse_invalid), TEST(realm_property_checks),
	  TEST(ldap_config), TEST(filter_escape), TEST(sync_options), TEST(sync_apply_merge),
	  TEST(sync_apply_remove_vanished), TEST(ldap_refusals), TEST(ldap_timeout))
