/* main() of pved-api, the unprivileged HTTPS front that pved fork+execs: its command line and start-up. */
#include <getopt.h>
#include <sys/resource.h>

#include "front/front-internal.h"

#define MAX_CERT_PEM (1u << 20)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pved-api --fd N --cert-fd M [--www DIR] [--listen ADDR:PORT | --listen-fd N ...] [--user USER]\n"
		"                [--chroot DIR] [--no-sandbox] [--log-level N] [--max-conns N] [--max-per-client N]\n"
		"                [--first-byte-timeout S] [--request-timeout S] [--spice-listen-fd N]\n"
		"  --fd N         connected socket to pved carrying wire frames (repeatable: one per worker thread)\n"
		"  --cert-fd M    fd to read the node certificate PEM and its key from (then closed)\n"
		"  --www DIR      static files of the web interface\n"
		"  --listen A:P   127.0.0.1:8006, [::1]:8006, [::]:8006 (default, dual-stack), 0.0.0.0:8006\n"
		"  --listen-fd N  a listening socket made by pved (repeatable; pved passes these)\n"
		"  --spice-listen-fd N  the SPICE proxy's listening socket (plain HTTP CONNECT)\n"
		"  --user USER    user to run as after start-up (default www-data)\n"
		"  --chroot DIR   empty directory to chroot into after start-up\n"
		"  --no-sandbox   keep uid, root directory and syscalls (development only)\n"
		"  --log-level N  3 errors ... 7 debug (default 6)\n"
		"  --max-conns N  connections in all (default 1024)\n"
		"  --max-per-client N  connections from one address, an IPv6 one by its /64 (default 128)\n"
		"  --first-byte-timeout S  seconds from a connection to its first request byte (default 5)\n"
		"  --request-timeout S  seconds from a request's first byte to its last (default 30)\n");
}

static int parse_fd(const char *s, int *ret)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end || v < 0 || v > 65535)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

/* A number from 1 to max. */
static int parse_limit(const char *s, long max, long *ret)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end || v < 1 || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int read_all(int fd, char **ret, size_t *ret_len)
{
	pve_buf b = { 0 };
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			pve_buf_free(&b);
			return -e;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > MAX_CERT_PEM) {
			pve_buf_free(&b);
			return -EFBIG;
		}
		pve_buf_append(&b, chunk, (size_t)n);
	}
	*ret_len = b.len;
	*ret = pve_buf_steal(&b);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "cert-fd", required_argument, NULL, 'c' },
		{ "www", required_argument, NULL, 'w' },
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-fd", required_argument, NULL, 'L' },
		{ "spice-listen-fd", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "chroot", required_argument, NULL, 'r' },
		{ "no-sandbox", no_argument, NULL, 'n' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "max-conns", required_argument, NULL, 'M' },
		{ "max-per-client", required_argument, NULL, 'P' },
		{ "first-byte-timeout", required_argument, NULL, 'T' },
		{ "request-timeout", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	pve_front_options o = { .user = "www-data", .spice_listen_fd = -1 };
	int cert_fd = -1, level = PVE_LOG_INFO, c;
	_cleanup_strv_free_ char **listen = xcalloc(1, sizeof(char *));
	size_t n_listen = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'f':
			if (o.n_pved_fds >= ELEMENTSOF(o.pved_fds) ||
			    parse_fd(optarg, &o.pved_fds[o.n_pved_fds]) < 0)
				goto bad;
			o.n_pved_fds++;
			break;
		case 'c':
			if (parse_fd(optarg, &cert_fd) < 0)
				goto bad;
			break;
		case 'w':
			o.www_dir = optarg;
			break;
		case 'l':
			listen = xrealloc(listen, (n_listen + 2) * sizeof(char *));
			listen[n_listen++] = xstrdup(optarg);
			listen[n_listen] = NULL;
			break;
		case 'L':
			if (o.n_listen_fds >= ELEMENTSOF(o.listen_fds) ||
			    parse_fd(optarg, &o.listen_fds[o.n_listen_fds]) < 0)
				goto bad;
			o.n_listen_fds++;
			break;
		case 'S':
			if (parse_fd(optarg, &o.spice_listen_fd) < 0)
				goto bad;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'r':
			o.chroot_dir = optarg;
			break;
		case 'n':
			o.no_sandbox = true;
			break;
		case 'v':
			level = atoi(optarg);
			break;
		case 'M':
		case 'P':
		case 'T':
		case 'R': {
			long v;
			if (parse_limit(optarg, c == 'T' || c == 'R' ? 3600 : 1 << 20, &v) < 0)
				goto bad;
			if (c == 'M')
				o.max_conns = (size_t)v;
			else if (c == 'P')
				o.max_per_client = (unsigned)v;
			else if (c == 'T')
				o.first_byte_timeout = (int)v;
			else
				o.request_timeout = (int)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || o.n_pved_fds == 0 || cert_fd < 0)
		goto bad;
	o.listen = listen;
	pve_log_init("pved-api", false, level);

	_cleanup_free_ char *pem = NULL;
	int r = read_all(cert_fd, &pem, &o.cert_pem_len);
	close(cert_fd);
	if (r < 0) {
		log_error("reading the certificate from fd %d: %s", cert_fd, strerror(-r));
		return 1;
	}
	o.cert_pem = pem;

	/* 1024 connections plus files and listeners: more than the usual soft limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	_cleanup_error_ pve_error *err = NULL;
	r = pve_front_run(&o, &err);
	explicit_bzero(pem, o.cert_pem_len);
	if (r < 0)
		log_error("%s", err ? err->message : strerror(-r));
#ifdef PVE_SANITIZE
	/* LeakSanitizer cannot stop the world inside the chroot and seccomp filter: skip its exit
	 * check when sandboxed (the --no-sandbox runs and the unit tests still check for leaks). */
	if (!o.no_sandbox)
		_exit(r < 0 ? 1 : 0);
#endif
	return r < 0 ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}
