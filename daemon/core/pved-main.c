/* main() of pved, the root daemon: options, the root's pid lock, first start, the event loop, signals. */
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "daemon/core/pved.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pved [--root DIR] [--listen ADDR:PORT] [--spice-listen ADDR:PORT] [--node NAME]\n"
		"            [--www DIR] [--api-workers N]\n"
		"            [--foreground] [--debug] [--check] [--schema] [--pvecfs[=MODE]]\n"
		"  --root DIR         the node's root: every path pved touches is under it (default /)\n"
		"  --listen ADDR:PORT where the HTTPS API listens (default [::]:8006, all addresses)\n"
		"  --spice-listen ADDR:PORT  where the SPICE proxy listens (default [::]:3128 when free)\n"
		"  --node NAME        this node's name (default: the host name)\n"
		"  --www DIR          the web interface's files\n"
		"  --api-workers N    threads of the HTTPS front, 1-8 (default: one per CPU, at most 4)\n"
		"  --foreground       log to stderr instead of syslog\n"
		"  --check            parse and validate every config under the root, print it, exit\n"
		"  --schema           print the API schema as JSON and exit\n"
		"  --pvecfs[=MODE]    run the root's pvecfs: MODE local, or cluster (replicated through\n"
		"                     this network namespace's corosync); without MODE, cluster when the\n"
		"                     root is a cluster node's (it created or joined one). A cluster\n"
		"                     node's root, or one with pvecfs's database, runs pvecfs without\n"
		"                     the option too.\n");
}

/* run/pved.pid, locked for as long as pved runs: a second pved on the same root refuses to start. */
static int lock_pidfile(pved *d, pve_error **err)
{
	_cleanup_free_ char *run = pved_path(d, "run");
	int r = pve_mkdir_p(run, 0755, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = pved_path(d, "run/pved.pid");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return pve_error_set(err, errno, "cannot open %s: %m", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[32] = "";
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		close(fd);
		return pve_error_set(err, EBUSY, "another pved (pid %s) is running on root %s",
				     buf[0] ? buf : "?", d->root);
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		close(fd);
		return pve_error_set(err, errno, "cannot write %s: %m", path);
	}
	return fd; /* kept open: the lock lives as long as the process */
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	pved *d = arg;
	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading configuration and the front");
		pved_areas_reload(d);
		pved_front_reload(d);
		return;
	}
	log_info("received signal %d, stopping", (int)sig);
	d->stopping = true;
	event_base_loopexit(d->base, NULL);
}

static void store_changed(const char *path, void *userdata)
{
	pved_areas_config_changed(userdata, path);
}

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved *d = arg;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_store_watch_read(d->store, store_changed, d, &err) < 0)
		log_warning("config watch: %s", err->message);
}

static char *default_www(const char *bindir)
{
	/* In the source tree (build/bin, build/san/bin) the files are in www/; installed, in share/pved/www. */
	static const char *const candidates[] = { "../../www", "../../../www" };
	for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
		char *dev = xasprintf("%s/%s/index.html", bindir, candidates[i]);
		bool found = access(dev, R_OK) == 0;
		free(dev);
		if (found)
			return xasprintf("%s/%s", bindir, candidates[i]);
	}
	return xasprintf("%s/../share/pved/www", bindir);
}

static char *self_dir(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup(".");
	exe[n] = '\0';
	return xstrdup(dirname(exe));
}

int main(int argc, char **argv)
{
	/* A task worker pved spawned: nothing below (options, the root's lock) is its business. */
	if (argc == 2 && strcmp(argv[1], "--task-worker") == 0)
		pved_task_worker_main(pved_areas);

	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "spice-listen", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'n' },
		{ "www", required_argument, NULL, 'w' },
		{ "api-workers", required_argument, NULL, 'W' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'D' },
		{ "check", no_argument, NULL, 'c' },
		{ "schema", no_argument, NULL, 's' },
		{ "pvecfs", optional_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	pved ctx = { .areas = pved_areas };
	pved *d = &ctx;
	bool foreground = false, debug = false, check = false, schema = false;
	const char *pvecfs = NULL; /* NULL, "local", "cluster" or "auto" */
	long long workers;
	const char *root = getenv("PVED_ROOT");
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'l':
			d->listen = xstrdup(optarg);
			break;
		case 'S':
			d->spice_listen = xstrdup(optarg);
			break;
		case 'n':
			d->node = xstrdup(optarg);
			break;
		case 'w':
			d->www = xstrdup(optarg);
			break;
		case 'W':
			if (pve_parse_int(optarg, 1, PVE_FRONT_MAX_WORKERS, &workers) < 0) {
				fprintf(stderr, "pved: --api-workers: a number from 1 to %d\n",
					PVE_FRONT_MAX_WORKERS);
				return 2;
			}
			d->api_workers = (unsigned)workers;
			break;
		case 'f':
			foreground = true;
			break;
		case 'D':
			debug = true;
			break;
		case 'c':
			check = true;
			break;
		case 's':
			schema = true;
			break;
		case 'P':
			pvecfs = optarg ? optarg : "auto";
			if (optarg && !streq(optarg, "local") && !streq(optarg, "cluster")) {
				fprintf(stderr, "pved: --pvecfs: local or cluster\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	pve_log_init("pved", !foreground && !check && !schema,
		     debug ? PVE_LOG_DEBUG : PVE_LOG_INFO);

	_cleanup_error_ pve_error *err = NULL;
	if (pve_routes_load(&d->routes, &err) < 0) {
		fprintf(stderr, "pved: the route table is broken: %s\n", err->message);
		return 1;
	}
	if (schema) {
		cJSON *doc = pve_routes_apidoc(d->routes);
		char *s = cJSON_Print(doc);
		puts(s);
		free(s);
		cJSON_Delete(doc);
		pve_routes_free(d->routes);
		return 0;
	}

	d->root = xstrdup(root && *root ? root : "/");
	if (!d->node) {
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		host[strcspn(host, ".")] = '\0';
		d->node = xstrdup(host[0] ? host : "localhost");
	}
	char *msg = NULL;
	if (pve_format_check("pve-node", d->node, &msg) < 0) {
		fprintf(stderr, "pved: invalid node name '%s': %s\n", d->node, msg ? msg : "");
		return 2;
	}
	d->bindir = self_dir();
	if (!d->www)
		d->www = default_www(d->bindir);

	pvecfs = pved_pvecfs_mode(d, pvecfs);
	/* (with pvecfs, a root whose pvecfs is not running yet is opened once pved started it) */
	if (pve_store_open(d->root, &d->store, &err) < 0) {
		if (!pvecfs || check) {
			fprintf(stderr, "pved: %s\n", err->message);
			return 1;
		}
		pve_error_free(TAKE_PTR(err));
	}
	if (check) {
		int r = pved_check_configs(d, stdout);
		pve_store_free(d->store);
		return r < 0 ? 1 : 0;
	}

	int pidfd = lock_pidfile(d, &err);
	if (pidfd < 0) {
		fprintf(stderr, "pved: %s\n", err->message);
		return 1;
	}
	/* the root is ours: its pvecfs too; the store opened above saw the plain files (or an old
	 * pvecfs) and is opened again over the new one */
	if (pvecfs) {
		pve_store_free(d->store);
		d->store = NULL;
		bool cluster = streq(pvecfs, "cluster");
		if ((cluster && pved_join_prepare(d, &err) < 0) ||
		    pved_pvecfs_start(d, cluster, &err) < 0 ||
		    pve_store_open(d->root, &d->store, &err) < 0 ||
		    (cluster && pved_pvecfs_wait_tree(d, &err) < 0)) {
			fprintf(stderr, "pved: %s\n", err->message);
			pved_pvecfs_stop(d);
			return 1;
		}
	}
	/* The root is ours now: store locks whose holder died (a pved killed mid-edit) would refuse every
	 * edit of their file for up to 120 s. Before serving, clear those whose holder is gone. */
	_cleanup_strv_free_ char **stale = NULL;
	if (pve_store_recover(d->store, &stale, &err) < 0) {
		log_warning("cannot clear stale config locks: %s", err->message);
		pve_error_free(TAKE_PTR(err));
	}
	for (char **p = stale; p && *p; p++)
		log_info("cleared the lock '%s': its holder is gone", *p);
	if (pved_firststart(d, &err) < 0) {
		fprintf(stderr, "pved: first start of the node failed: %s\n", err->message);
		pved_pvecfs_stop(d);
		return 1;
	}
	static const char *const rundirs[] = { "run/qemu-server", "run/lxc", "var/log/pve/tasks" };
	for (size_t i = 0; i < ELEMENTSOF(rundirs); i++) {
		_cleanup_free_ char *p = pved_path(d, rundirs[i]);
		pve_mkdir_p(p, 0755, NULL);
	}

	signal(SIGPIPE, SIG_IGN);
	d->base = event_base_new();
	d->started = time(NULL);
	if (!d->base || pved_blocking_init(d, &err) < 0 || pved_auth_init(d, &err) < 0 ||
	    pved_tasks_init(d, &err) < 0 || pved_areas_init(d, &err) < 0 ||
	    pved_server_init(d, &err) < 0 || pved_front_start(d, &err) < 0 ||
	    (d->pvecfs && pved_pvecfs_watch(d, &err) < 0)) {
		fprintf(stderr, "pved: %s\n", err ? err->message : "cannot start the event loop");
		pved_pvecfs_stop(d);
		return 1;
	}
	struct event *sigs[] = {
		evsignal_new(d->base, SIGTERM, on_signal, d),
		evsignal_new(d->base, SIGINT, on_signal, d),
		evsignal_new(d->base, SIGHUP, on_signal, d),
	};
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		evsignal_add(sigs[i], NULL);
	int wfd = pve_store_watch_fd(d->store, &err);
	struct event *watch = NULL;
	if (wfd >= 0) {
		watch = event_new(d->base, wfd, EV_READ | EV_PERSIST, watch_cb, d);
		event_add(watch, NULL);
	} else {
		log_warning("no config watch (%s): changes are picked up on SIGHUP", err->message);
		pve_error_free(TAKE_PTR(err));
	}

	log_info("node %s serving root %s", d->node, d->root);
	event_base_dispatch(d->base);

	pved_front_stop(d);
	pved_server_free(d->server);
	pved_proxy_free(d);
	/* The blocking pool's threads may still use an area's state (the listing cache): join them first. */
	pved_blocking_free(d->blocking);
	pved_areas_stop(d);
	pved_tasks_free(d->tasks);
	pved_auth_free(d->auth);
	if (watch)
		event_free(watch);
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		event_free(sigs[i]);
	pved_pvecfs_stop(d);
	event_base_free(d->base);
	pve_store_free(d->store);
	pve_routes_free(d->routes);
	_cleanup_free_ char *sock = pved_path(d, "run/pved.sock");
	unlink(sock);
	close(pidfd);
	if (d->restart) {
		execv("/proc/self/exe", argv);
		fprintf(stderr, "pved: cannot start again: %m\n");
		return 1;
	}
	free(d->root);
	free(d->node);
	free(d->listen);
	free(d->spice_listen);
	free(d->www);
	free(d->bindir);
	return 0;
}
