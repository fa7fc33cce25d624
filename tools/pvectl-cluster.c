/* pvectl cluster: pvecm's everyday verbs, each one call to the node's API (the local socket, or --url):
 *   create NAME [--link0 ADDR] [--nodeid N] [--votes N]            POST /cluster/config
 *   join ADDRESS --user USER@REALM --password-file FILE [--fingerprint FP] [--link0 ADDR] [--force]
 *                                                                   POST /cluster/config/join
 *   status | nodes | delnode NAME                                  /cluster/status, /cluster/config/nodes
 * join's --user and --password-file are an administrator of the existing node (ADDRESS); without
 * --fingerprint, the certificate ADDRESS shows is printed and the join refused, so that the user
 * compares it with that node's (GET /cluster/config/join there, or its web interface). */
#include "client/client.h"
#include "tools/pvectl-internal.h"

static int cluster_usage(FILE *f)
{
	fprintf(f, "usage: pvectl cluster create NAME [--link0 ADDR] [--nodeid N] [--votes N]\n"
		   "       pvectl cluster join ADDRESS --user USER@REALM --password-file FILE\n"
		   "                           [--fingerprint SHA256] [--link0 ADDR] [--nodeid N] "
		   "[--force]\n"
		   "       pvectl cluster status | nodes | delnode NAME\n");
	return f == stdout ? PVECTL_EXIT_OK : PVECTL_EXIT_USAGE;
}

/* The call as a pvectl command line: "pvectl VERB PATH --name value ...", with pvesh's rule that every
 * option is the API's (join's --fingerprint is a parameter, not pvectl's pin). */
static int run_words(pvectl *c, const char *const *words, size_t n)
{
	c->as_pvesh = true;
	return pvectl_run(c, (int)n, (char **)words);
}

static bool is_passed_option(const char *name)
{
	static const char *const passed[] = { "nodeid", "votes", "token-coefficient", "force",
					      /* pvesh's output options */
					      "output-format", "noborder", "noheader", "quiet" };
	for (size_t i = 0; i < ELEMENTSOF(passed); i++)
		if (streq(name, passed[i]))
			return true;
	return startswith(name, "link") && name[4] >= '0' && name[4] <= '7' && !name[5];
}

/* The certificate ADDRESS shows, for the user to compare; the join goes on only with --fingerprint. */
static int show_fingerprint(const char *address)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_client_ pve_client *cl = NULL;
	pve_client_response resp = { 0 };
	/* checked against the system's CAs, which a node's own CA is not among: the handshake shows the
	 * certificate, and the call fails (or, for a certificate a CA vouches for, is answered) */
	if (pve_client_new(address, "8006", NULL, &cl, &err) == 0 &&
	    pve_client_call(cl, "GET", "/version", NULL, &resp, NULL) == 0)
		pve_client_response_clear(&resp);
	const char *fp = cl ? pve_client_peer_fingerprint(cl) : NULL;
	if (!fp) {
		fprintf(stderr, "%s: cannot reach %s:8006%s%s\n", program_invocation_short_name,
			address, err ? ": " : "", err ? err->message : "");
		return PVECTL_EXIT_FAIL;
	}
	fprintf(stderr,
		"%s: %s's certificate has the fingerprint\n  %s\ncompare it with that node's (its "
		"GET /cluster/config/join shows it) and join again with --fingerprint %s\n",
		program_invocation_short_name, address, fp, fp);
	return PVECTL_EXIT_FAIL;
}

int pvectl_cluster(pvectl *c, int argc, char **argv)
{
	if (argc < 2 || streq(argv[1], "help") || streq(argv[1], "--help"))
		return cluster_usage(argc < 2 ? stderr : stdout);
	const char *verb = argv[1];
	const char *arg = NULL;
	const char *user = NULL, *password_file = NULL, *fingerprint = NULL;
	const char *words[64];
	size_t n = 0;
	/* what goes to the API as it is: --name value pairs after the path */
	const char *passed[32];
	size_t n_passed = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!startswith(a, "--")) {
			if (arg)
				return cluster_usage(stderr);
			arg = a;
			continue;
		}
		const char *name = a + 2;
		bool flag = streq(name, "force") || streq(name, "noborder") ||
			    streq(name, "noheader") || streq(name, "quiet");
		const char *value = flag ? "1" : i + 1 < argc ? argv[++i] : NULL;
		if (!value) {
			fprintf(stderr, "%s: --%s needs a value\n", program_invocation_short_name,
				name);
			return PVECTL_EXIT_USAGE;
		}
		if (streq(name, "root"))
			free(c->root), c->root = xstrdup(value);
		else if (streq(name, "user"))
			user = value;
		else if (streq(name, "password-file"))
			password_file = value;
		else if (streq(name, "fingerprint"))
			fingerprint = value;
		else if (is_passed_option(name) && n_passed + 2 <= ELEMENTSOF(passed)) {
			passed[n_passed++] = a;
			passed[n_passed++] = value;
		} else {
			fprintf(stderr, "%s: cluster %s takes no option '--%s'\n",
				program_invocation_short_name, verb, name);
			return PVECTL_EXIT_USAGE;
		}
	}
	words[n++] = "pvectl";
	if (streq(verb, "status") || streq(verb, "nodes")) {
		if (arg)
			return cluster_usage(stderr);
		words[n++] = "get";
		words[n++] = streq(verb, "status") ? "/cluster/status" : "/cluster/config/nodes";
		for (size_t i = 0; i < n_passed; i++)
			words[n++] = passed[i];
		return run_words(c, words, n);
	}
	if (streq(verb, "delnode")) {
		if (!arg || n_passed)
			return cluster_usage(stderr);
		_cleanup_free_ char *path = xasprintf("/cluster/config/nodes/%s", arg);
		words[n++] = "delete";
		words[n++] = path;
		return run_words(c, words, n);
	}
	if (!arg || (!streq(verb, "create") && !streq(verb, "join")))
		return cluster_usage(stderr);
	words[n++] = "create";
	if (streq(verb, "create")) {
		if (user || password_file || fingerprint)
			return cluster_usage(stderr);
		words[n++] = "/cluster/config";
		words[n++] = "--clustername";
		words[n++] = arg;
		for (size_t i = 0; i < n_passed; i++)
			words[n++] = passed[i];
		return run_words(c, words, n);
	}
	if (!user || !password_file) {
		fprintf(stderr,
			"%s: cluster join needs --user and --password-file (an administrator "
			"of %s)\n",
			program_invocation_short_name, arg);
		return PVECTL_EXIT_USAGE;
	}
	if (!fingerprint)
		return show_fingerprint(arg);
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *password = NULL;
	if (pvectl_read_secret_file(password_file, &password, &err) < 0) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, err->message);
		return PVECTL_EXIT_FAIL;
	}
	words[n++] = "/cluster/config/join";
	words[n++] = "--hostname";
	words[n++] = arg;
	words[n++] = "--username";
	words[n++] = user;
	words[n++] = "--password";
	words[n++] = password;
	words[n++] = "--fingerprint";
	words[n++] = fingerprint;
	for (size_t i = 0; i < n_passed; i++)
		words[n++] = passed[i];
	int ex = run_words(c, words, n);
	explicit_bzero(password, strlen(password));
	return ex;
}
