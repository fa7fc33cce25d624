/* pct, and `pvectl ct`: pct's verbs over pved's API (list, create, config, set, start, ... as pvesh
 * calls with pct's word order), and those that need the node itself, as Proxmox's pct runs them there:
 * enter and console (a pty relayed to this terminal), push and pull (a file through the runtime's exec
 * helper into or out of the container). */
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "lxc/lxc.h"
#include "storage/storage.h"
#include "tools/pvectl-internal.h"

/* pct exec's standard input, read whole when it is no terminal (the API's input bound). */
#define PCT_MAX_INPUT (1024 * 1024)

static const struct pct_call {
	const char *verb;
	const char *pvesh;
	const char *path; /* "": the lxc list (create); else after the CT ID */
	const char *words[2];
} pct_calls[] = {
	{ "create", "create", "", { "ostemplate" } },
	{ "destroy", "delete", "/", { NULL } },
	{ "set", "set", "/config", { NULL } },
	{ "start", "create", "/status/start", { NULL } },
	{ "stop", "create", "/status/stop", { NULL } },
	{ "shutdown", "create", "/status/shutdown", { NULL } },
	{ "reboot", "create", "/status/reboot", { NULL } },
	{ "suspend", "create", "/status/suspend", { NULL } },
	{ "resume", "create", "/status/resume", { NULL } },
	{ "snapshot", "create", "/snapshot", { "snapname" } },
	{ "delsnapshot", "delete", "/snapshot/{snapname}", { "snapname" } },
	{ "rollback", "create", "/snapshot/{snapname}/rollback", { "snapname" } },
	{ "clone", "create", "/clone", { "newid" } },
	{ "template", "create", "/template", { NULL } },
	{ "resize", "set", "/resize", { "disk", "size" } },
	{ "move-volume", "create", "/move_volume", { "volume", "storage" } },
};

static void pct_usage(FILE *f)
{
	fputs("USAGE: pct <command> [ARGS] [OPTIONS]   (also: pvectl ct <command> ...)\n"
	      "  pct list                           pct create <vmid> <ostemplate> [OPTIONS]\n"
	      "  pct config <vmid> [--current] [--snapshot NAME]   pct set <vmid> [OPTIONS]\n"
	      "  pct pending <vmid>                 pct status <vmid>\n"
	      "  pct start|stop|shutdown|reboot|suspend|resume <vmid> [OPTIONS]\n"
	      "  pct destroy <vmid> [--purge] [--force]\n"
	      "  pct enter <vmid>                   pct console <vmid>   (Ctrl+a q leaves)\n"
	      "  pct exec <vmid> [--] <command> [<args>...]\n"
	      "  pct push <vmid> <file> <destination> [--perms MODE] [--user UID] [--group GID]\n"
	      "  pct pull <vmid> <path> <destination>\n"
	      "  pct snapshot <vmid> <snapname> [OPTIONS]   pct listsnapshot <vmid>\n"
	      "  pct rollback <vmid> <snapname> [--start]   pct delsnapshot <vmid> <snapname>\n"
	      "  pct clone <vmid> <newid> [OPTIONS]         pct template <vmid>\n"
	      "  pct resize <vmid> <disk> <size>            pct move-volume <vmid> <volume> <storage>\n"
	      "The options are the API's (see: pvesh usage /nodes/NODE/lxc/VMID/...).\n",
	      f);
}

/* ---- API helpers ---- */

static void print_api_error(const pve_client_response *resp)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp->body, "message");
	const char *msg = cJSON_IsString(m) ? m->valuestring : "";
	if (!*msg)
		msg = resp->reason ? resp->reason : "failed";
	size_t len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		len--;
	fprintf(stderr, "%.*s\n", (int)len, msg);
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(resp->body, "errors"))
		if (cJSON_IsString(e))
			fprintf(stderr, "%s: %s\n", e->string, e->valuestring);
}

/* One call: its data (taken; NULL for null), or -1 with the API's message printed. */
static int call(pvectl *c, const char *method, const char *path, cJSON *params, cJSON **ret)
{
	_cleanup_json_ cJSON *p = params ? params : cJSON_CreateObject();
	pve_client_response resp = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	*ret = NULL;
	if (pvectl_call(c, method, path, p, &resp, &err) < 0) {
		fprintf(stderr, "%s\n", err->message);
		return -1;
	}
	int r = 0;
	if (resp.status == 200) {
		*ret = cJSON_DetachItemFromObjectCaseSensitive(resp.body, "data");
		if (cJSON_IsNull(*ret)) {
			cJSON_Delete(*ret);
			*ret = NULL;
		}
	} else {
		print_api_error(&resp);
		r = -1;
	}
	pve_client_response_clear(&resp);
	return r;
}

static char *local_node(pvectl *c)
{
	_cleanup_json_ cJSON *nodes = NULL;
	if (call(c, "GET", "/nodes", NULL, &nodes) < 0)
		return NULL;
	const char *node = pve_json_str(cJSON_GetArrayItem(nodes, 0), "node");
	return node ? xstrdup(node) : NULL;
}

static int cmp_name(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string, y->string);
}

static char *text_of(const cJSON *v)
{
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	if (cJSON_IsNumber(v))
		return v->valuedouble == (double)(long long)v->valuedouble ?
			       xasprintf("%lld", (long long)v->valuedouble) :
			       xasprintf("%.15g", v->valuedouble);
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "1" : "0");
	return cJSON_PrintUnformatted(v);
}

/* ---- listings ---- */

static int cmp_vmid(const void *a, const void *b)
{
	long long x = 0, y = 0;
	pve_json_int(*(const cJSON *const *)a, "vmid", &x);
	pve_json_int(*(const cJSON *const *)b, "vmid", &y);
	return (x > y) - (x < y);
}

static int pct_list(pvectl *c, const char *node)
{
	_cleanup_free_ char *path = xasprintf("/nodes/%s/lxc", node);
	_cleanup_json_ cJSON *list = NULL;
	if (call(c, "GET", path, NULL, &list) < 0)
		return PVECTL_EXIT_FAIL;
	size_t n = (size_t)cJSON_GetArraySize(list), k = 0;
	if (!n)
		return PVECTL_EXIT_OK;
	_cleanup_free_ const cJSON **cts = xcalloc(n, sizeof(*cts));
	const cJSON *it;
	cJSON_ArrayForEach (it, list)
		cts[k++] = it;
	qsort(cts, k, sizeof(*cts), cmp_vmid);
	/* pct list's columns */
	printf("%-10s %-10s %-12s %-20s\n", "VMID", "Status", "Lock", "Name");
	for (size_t i = 0; i < k; i++) {
		long long vmid = 0;
		pve_json_int(cts[i], "vmid", &vmid);
		const char *st = pve_json_str(cts[i], "status"),
			   *lock = pve_json_str(cts[i], "lock");
		const char *name = pve_json_str(cts[i], "name");
		printf("%-10lld %-10s %-12s %-20s\n", vmid, st ? st : "", lock ? lock : "",
		       name ? name : "");
	}
	return PVECTL_EXIT_OK;
}

static int pct_config(pvectl *c, const char *base, int argc, char **argv)
{
	cJSON *params = cJSON_CreateObject();
	for (int i = 0; i < argc; i++) {
		if (streq(argv[i], "--current"))
			cJSON_AddStringToObject(params, "current", "1");
		else if (streq(argv[i], "--snapshot") && i + 1 < argc)
			cJSON_AddStringToObject(params, "snapshot", argv[++i]);
		else {
			cJSON_Delete(params);
			fprintf(stderr, "pct config: unknown option '%s'\n", argv[i]);
			return PVECTL_EXIT_USAGE;
		}
	}
	_cleanup_free_ char *path = xasprintf("%s/config", base);
	_cleanup_json_ cJSON *conf = NULL;
	if (call(c, "GET", path, params, &conf) < 0)
		return PVECTL_EXIT_FAIL;
	size_t n = (size_t)cJSON_GetArraySize(conf), k = 0;
	_cleanup_free_ const cJSON **items = xcalloc(n + 1, sizeof(*items));
	const cJSON *it;
	cJSON_ArrayForEach (it, conf)
		items[k++] = it;
	qsort(items, k, sizeof(*items), cmp_name);
	for (size_t i = 0; i < k; i++) {
		if (streq(items[i]->string, "digest"))
			continue;
		if (streq(items[i]->string, "lxc")) {
			const cJSON *pair;
			cJSON_ArrayForEach (pair, items[i]) {
				const cJSON *kk = cJSON_GetArrayItem(pair, 0),
					    *vv = cJSON_GetArrayItem(pair, 1);
				if (cJSON_IsString(kk) && cJSON_IsString(vv))
					printf("%s: %s\n", kk->valuestring, vv->valuestring);
			}
			continue;
		}
		_cleanup_free_ char *v = text_of(items[i]);
		if (streq(items[i]->string, "description")) {
			/* pct prints the description as the file's comment lines */
			for (char *line = v, *nl; line; line = nl) {
				nl = strchr(line, '\n');
				if (nl)
					*nl++ = 0;
				printf("#%s\n", line);
			}
			continue;
		}
		printf("%s: %s\n", items[i]->string, v);
	}
	return PVECTL_EXIT_OK;
}

static int pct_status(pvectl *c, const char *base)
{
	_cleanup_free_ char *path = xasprintf("%s/status/current", base);
	_cleanup_json_ cJSON *st = NULL;
	if (call(c, "GET", path, NULL, &st) < 0)
		return PVECTL_EXIT_FAIL;
	printf("status: %s\n", pve_json_str(st, "status"));
	return PVECTL_EXIT_OK;
}

static int pct_pending(pvectl *c, const char *base)
{
	_cleanup_free_ char *path = xasprintf("%s/pending", base);
	_cleanup_json_ cJSON *list = NULL;
	if (call(c, "GET", path, NULL, &list) < 0)
		return PVECTL_EXIT_FAIL;
	const cJSON *e;
	cJSON_ArrayForEach (e, list) {
		const char *key = pve_json_str(e, "key");
		if (!key || streq(key, "digest"))
			continue;
		_cleanup_free_ char *cur = text_of(cJSON_GetObjectItemCaseSensitive(e, "value"));
		_cleanup_free_ char *pend = text_of(cJSON_GetObjectItemCaseSensitive(e, "pending"));
		long long del = 0;
		pve_json_int(e, "delete", &del);
		if (del)
			printf("del %s: %s\n", key, cur ? cur : "");
		else if (cJSON_HasObjectItem(e, "pending"))
			printf("new %s: %s\n", key, pend);
		else
			printf("cur %s: %s\n", key, cur ? cur : "");
	}
	return PVECTL_EXIT_OK;
}

static int pct_listsnapshot(pvectl *c, const char *base)
{
	_cleanup_free_ char *path = xasprintf("%s/snapshot", base);
	_cleanup_json_ cJSON *list = NULL;
	if (call(c, "GET", path, NULL, &list) < 0)
		return PVECTL_EXIT_FAIL;
	const cJSON *e;
	cJSON_ArrayForEach (e, list) {
		const char *name = pve_json_str(e, "name"), *desc = pve_json_str(e, "description");
		printf("%s %-20s %s\n", streq_ptr(name, "current") ? "`->" : "`-", name ? name : "",
		       desc ? desc : "");
	}
	return PVECTL_EXIT_OK;
}

/* ---- exec through the API ---- */

static int pct_exec(pvectl *c, const char *base, int argc, char **argv)
{
	if (argc > 0 && streq(argv[0], "--"))
		argc--, argv++;
	if (argc < 1) {
		fprintf(stderr, "pct exec: no command\n");
		return PVECTL_EXIT_USAGE;
	}
	cJSON *params = cJSON_CreateObject();
	cJSON *cmd = cJSON_AddArrayToObject(params, "command");
	for (int i = 0; i < argc; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
	if (!isatty(0)) {
		pve_buf in = { 0 };
		char buf[65536];
		ssize_t n;
		while ((n = read(0, buf, sizeof(buf))) > 0 && in.len <= PCT_MAX_INPUT)
			pve_buf_append(&in, buf, (size_t)n);
		if (in.len > PCT_MAX_INPUT) {
			pve_buf_free(&in);
			cJSON_Delete(params);
			fprintf(stderr, "pct exec: more than %d bytes of input\n", PCT_MAX_INPUT);
			return PVECTL_EXIT_FAIL;
		}
		if (in.len && memchr(in.data, 0, in.len) == NULL)
			cJSON_AddStringToObject(params, "input", in.data);
		pve_buf_free(&in);
	}
	_cleanup_free_ char *path = xasprintf("%s/exec", base);
	_cleanup_json_ cJSON *out = NULL;
	if (call(c, "POST", path, params, &out) < 0)
		return PVECTL_EXIT_FAIL;
	const char *o = pve_json_str(out, "out-data"), *e = pve_json_str(out, "err-data");
	if (o)
		fputs(o, stdout);
	if (e)
		fputs(e, stderr);
	long long code = 1;
	pve_json_int(out, "exitcode", &code);
	return (int)code;
}

/* ---- on the node: enter, console, push, pull ---- */

static char *run_dir(pvectl *c)
{
	const char *root = c->root ? c->root : "/";
	return xasprintf("%s%srun/lxc", root, endswith(root, "/") ? "" : "/");
}

static struct termios saved_tio;
static bool tio_saved;

static void tty_restore(void)
{
	if (tio_saved)
		tcsetattr(0, TCSADRAIN, &saved_tio);
}

static void tty_raw(void)
{
	if (!isatty(0) || tcgetattr(0, &saved_tio) < 0)
		return;
	tio_saved = true;
	struct termios t = saved_tio;
	cfmakeraw(&t);
	tcsetattr(0, TCSADRAIN, &t);
}

/* Relays this terminal and fd until fd ends (or, with escape, Ctrl+a q is typed). */
static void relay(int fd, bool escape)
{
	tty_raw();
	bool ctrl_a = false;
	for (;;) {
		struct pollfd p[2] = { { 0, POLLIN, 0 }, { fd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		char buf[4096];
		if (p[1].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0 || pve_write_all(1, buf, (size_t)n) < 0)
				break;
		}
		if (p[0].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (escape) {
				bool quit = false;
				for (ssize_t i = 0; i < n && !quit; i++) {
					quit = ctrl_a && (buf[i] == 'q' || buf[i] == 'Q');
					ctrl_a = buf[i] == 1;
				}
				if (quit)
					break;
			}
			if (pve_write_all(fd, buf, (size_t)n) < 0)
				break;
		}
	}
	tty_restore();
}

static int pct_console(pvectl *c, long long vmid)
{
	/* the config's cmode says which: tty (the default) is tty 1, console and shell /dev/console */
	_cleanup_free_ char *node = local_node(c);
	if (!node)
		return PVECTL_EXIT_FAIL;
	_cleanup_free_ char *cpath = xasprintf("/nodes/%s/lxc/%lld/config", node, vmid);
	_cleanup_json_ cJSON *conf = NULL;
	if (call(c, "GET", cpath, NULL, &conf) < 0)
		return PVECTL_EXIT_FAIL;
	const char *cmode = pve_json_str(conf, "cmode");
	long long ttys = 2;
	pve_json_int(conf, "tty", &ttys);
	unsigned tty = (cmode && !streq(cmode, "tty")) || ttys < 1 ? 0 : 1;
	_cleanup_free_ char *run = run_dir(c);
	_cleanup_free_ char *path = lxc_console_path(run, vmid, tty);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pct console: socket path too long\n");
		return PVECTL_EXIT_FAIL;
	}
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "pct console: CT %lld has no console to attach to (%s): %s\n", vmid,
			path, strerror(errno));
		return PVECTL_EXIT_FAIL;
	}
	if (isatty(2))
		fprintf(stderr, "Connected to CT %lld's console; Ctrl+a q leaves it running.\r\n",
			vmid);
	relay(fd, true);
	return PVECTL_EXIT_OK;
}

/* Runs argv inside the container with the given stdio (-1: /dev/null) and waits: its exit status. */
static int run_inside(pvectl *c, long long vmid, char *const *argv, int in, int out, int err)
{
	_cleanup_free_ char *run = run_dir(c);
	lxc_exec_opts o = { .argv = argv, .fd_in = in, .fd_out = out, .fd_err = err };
	pid_t pid;
	_cleanup_error_ pve_error *e = NULL;
	if (lxc_exec_spawn(run, vmid, &o, &pid, &e) < 0) {
		fprintf(stderr, "%s\n", e->message);
		return -1;
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static int pct_enter(pvectl *c, long long vmid)
{
	int master = -1, slave = -1;
	struct winsize ws = { 0 };
	bool tty = isatty(0) && ioctl(0, TIOCGWINSZ, &ws) == 0;
	/* a pty of its own: the container's shell never gets this terminal's fd */
	if (openpty(&master, &slave, NULL, NULL, tty ? &ws : NULL) < 0) {
		fprintf(stderr, "pct enter: openpty: %s\n", strerror(errno));
		return PVECTL_EXIT_FAIL;
	}
	(void)fcntl(master, F_SETFD, FD_CLOEXEC);
	/* the shell's session and controlling terminal are the pty (setsid -c, in busybox and
	 * util-linux alike): a shell without one leaves at its first input */
	char *argv[] = { (char *)"setsid", (char *)"-c", (char *)"/bin/sh", (char *)"-l", NULL };
	/* the caller's terminal type, as lxc-attach keeps it */
	const char *t = getenv("TERM");
	_cleanup_free_ char *term = xasprintf("TERM=%s", t && *t && strlen(t) < 64 ? t : "xterm");
	char path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char *env[] = { term, path, NULL };
	_cleanup_free_ char *run = run_dir(c);
	lxc_exec_opts o = {
		.argv = argv, .env = env, .fd_in = slave, .fd_out = slave, .fd_err = slave
	};
	pid_t pid;
	_cleanup_error_ pve_error *e = NULL;
	int r = lxc_exec_spawn(run, vmid, &o, &pid, &e);
	close(slave);
	if (r < 0) {
		close(master);
		fprintf(stderr, "%s\n", e->message);
		return PVECTL_EXIT_FAIL;
	}
	relay(master, false);
	close(master);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : PVECTL_EXIT_FAIL;
}

static int pct_push(pvectl *c, long long vmid, int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "pct push: <file> <destination> needed\n");
		return PVECTL_EXIT_USAGE;
	}
	const char *perms = "0644", *user = "0", *group = NULL;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (streq(argv[i], "--perms"))
			perms = argv[i + 1];
		else if (streq(argv[i], "--user"))
			user = argv[i + 1];
		else if (streq(argv[i], "--group"))
			group = argv[i + 1];
		else {
			fprintf(stderr, "pct push: unknown option '%s'\n", argv[i]);
			return PVECTL_EXIT_USAGE;
		}
	}
	if (strspn(perms, "01234567") != strlen(perms) ||
	    strspn(user, "0123456789") != strlen(user) ||
	    (group && strspn(group, "0123456789") != strlen(group))) {
		fprintf(stderr, "pct push: --perms is octal, --user and --group numeric ids\n");
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_close_ int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "pct push: %s: %s\n", argv[0], strerror(errno));
		return PVECTL_EXIT_FAIL;
	}
	/* written inside, as the container's root, so its own paths and ids decide where it lands */
	char *sh[] = { (char *)"sh",
		       (char *)"-c",
		       (char *)"cat > \"$1\" && chmod \"$2\" \"$1\" && chown \"$3:$4\" \"$1\"",
		       (char *)"sh",
		       argv[1],
		       (char *)perms,
		       (char *)user,
		       (char *)(group ? group : user),
		       NULL };
	int r = run_inside(c, vmid, sh, fd, -1, 2);
	if (r != 0) {
		fprintf(stderr, "pct push: writing %s in CT %lld failed\n", argv[1], vmid);
		return PVECTL_EXIT_FAIL;
	}
	return PVECTL_EXIT_OK;
}

static int pct_pull(pvectl *c, long long vmid, int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "pct pull: <path> <destination> needed\n");
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_free_ char *tmp = xasprintf("%s.pct-pull.XXXXXX", argv[1]);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "pct pull: %s: %s\n", argv[1], strerror(errno));
		return PVECTL_EXIT_FAIL;
	}
	char *cat[] = { (char *)"cat", (char *)"--", argv[0], NULL };
	int r = run_inside(c, vmid, cat, -1, fd, 2);
	if (r != 0) {
		unlink(tmp);
		fprintf(stderr, "pct pull: reading %s in CT %lld failed\n", argv[0], vmid);
		return PVECTL_EXIT_FAIL;
	}
	if (rename(tmp, argv[1]) < 0) {
		fprintf(stderr, "pct pull: %s: %s\n", argv[1], strerror(errno));
		unlink(tmp);
		return PVECTL_EXIT_FAIL;
	}
	return PVECTL_EXIT_OK;
}

/* ---- the verbs ---- */

int pvectl_pct(pvectl *c, int argc, char **argv)
{
	if (argc < 2 || streq(argv[1], "help") || streq(argv[1], "--help")) {
		pct_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? PVECTL_EXIT_USAGE : PVECTL_EXIT_OK;
	}
	const char *verb = streq(argv[1], "move_volume") ? "move-volume" : argv[1];
	static const char *const own[] = { "list", "config", "status",	"pending", "listsnapshot",
					   "exec", "enter",  "console", "push",	   "pull" };
	bool listing = false;
	for (size_t i = 0; i < ELEMENTSOF(own); i++)
		listing = listing || streq(own[i], verb);
	const struct pct_call *pc = NULL;
	for (size_t i = 0; i < ELEMENTSOF(pct_calls); i++)
		if (streq(pct_calls[i].verb, verb))
			pc = &pct_calls[i];
	if (!listing && !pc) {
		fprintf(stderr,
			"pct: unknown command '%s' (pved serves: list, create, destroy, config, set, "
			"pending, status, start, stop, shutdown, reboot, suspend, resume, enter, exec, "
			"console, push, pull, snapshot, listsnapshot, rollback, delsnapshot, clone, "
			"template, resize, move-volume)\n",
			verb);
		return PVECTL_EXIT_USAGE;
	}
	long long vmid = 0;
	int first = 2;
	if (!streq(verb, "list")) {
		if (argc <= 2 || pve_parse_int(argv[2], PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0) {
			fprintf(stderr, "pct %s: '%s' is no CT ID\n", verb,
				argc <= 2 ? "" : argv[2]);
			return PVECTL_EXIT_USAGE;
		}
		first = 3;
	}
	/* the node's own: no API call, the runtime's socket and helper */
	if (streq(verb, "enter"))
		return pct_enter(c, vmid);
	if (streq(verb, "console"))
		return pct_console(c, vmid);
	if (streq(verb, "push"))
		return pct_push(c, vmid, argc - first, argv + first);
	if (streq(verb, "pull"))
		return pct_pull(c, vmid, argc - first, argv + first);
	_cleanup_free_ char *node = local_node(c);
	if (!node)
		return PVECTL_EXIT_FAIL;
	_cleanup_free_ char *base = xasprintf("/nodes/%s/lxc/%lld", node, vmid);
	if (streq(verb, "list"))
		return pct_list(c, node);
	if (streq(verb, "config"))
		return pct_config(c, base, argc - first, argv + first);
	if (streq(verb, "status"))
		return pct_status(c, base);
	if (streq(verb, "pending"))
		return pct_pending(c, base);
	if (streq(verb, "listsnapshot"))
		return pct_listsnapshot(c, base);
	if (streq(verb, "exec"))
		return pct_exec(c, base, argc - first, argv + first);
	/* one API call as pvesh makes it; pct's positional words first */
	_cleanup_free_ char *sub = xstrdup(pc->path);
	_cleanup_free_ char **v = xcalloc((size_t)argc + 8, sizeof(char *));
	_cleanup_strv_free_ char **owned = strv_new();
	int n = 0;
	v[n++] = argv[0];
	v[n++] = (char *)pc->pvesh;
	v[n++] = NULL;
	for (size_t w = 0; w < ELEMENTSOF(pc->words) && pc->words[w]; w++) {
		if (first >= argc || strncmp(argv[first], "--", 2) == 0)
			break;
		const char *value = argv[first++];
		_cleanup_free_ char *brace = xasprintf("{%s}", pc->words[w]);
		char *hole = strstr(sub, brace);
		if (hole) {
			if (strchr(value, '/') || streq(value, ".") || streq(value, "..")) {
				fprintf(stderr, "pct %s: '%s' is no %s\n", verb, value,
					pc->words[w]);
				return PVECTL_EXIT_USAGE;
			}
			*hole = 0;
			char *nsub = xasprintf("%s%s%s", sub, value, hole + strlen(brace));
			free(sub);
			sub = nsub;
		} else {
			char *opt = xasprintf("--%s", pc->words[w]);
			strv_push(&owned, opt);
			v[n++] = opt;
			v[n++] = (char *)value;
		}
	}
	if (strchr(sub, '{')) {
		fprintf(stderr, "pct %s: the %s is missing\n", verb, pc->words[0]);
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_free_ char *path = *pc->path ?
					    xasprintf("%s%s", base, streq(sub, "/") ? "" : sub) :
					    xasprintf("/nodes/%s/lxc", node);
	v[2] = path;
	_cleanup_free_ char *vmid_text = xasprintf("%lld", vmid);
	if (!*pc->path) {
		v[n++] = (char *)"--vmid";
		v[n++] = vmid_text;
	}
	for (int i = first; i < argc; i++)
		v[n++] = argv[i];
	c->as_qm = true; /* a task's log as qm and pct print it */
	return pvectl_run(c, n, v);
}
