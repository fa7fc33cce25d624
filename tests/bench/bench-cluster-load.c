/* bench-cluster's load: the same window of outstanding messages, each acknowledged, either as raw CPG
 * messages (acknowledged by their own delivery) or as pvecfs writes (acknowledged by pvecfs's reply,
 * which comes after the write's own CPG delivery and its SQLite commit). Prints one line:
 * "MODE acked N in S s: R/s, p50 X us, p99 Y us".
 *   bench-cluster-load cpg MEMBERS SECONDS SIZE WINDOW
 *   bench-cluster-load cfs SOCKET SECONDS SIZE WINDOW NAME */
#include <corosync/cpg.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "cluster/cfs-internal.h"

#define MAX_WINDOW 256

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

typedef struct load {
	int64_t *lat;
	size_t n, cap;
	int64_t sent_at[MAX_WINDOW];
	unsigned outstanding;
	/* cpg */
	uint32_t nodeid, pid;
	size_t members;
	bool go;
} load;

static void lat_add(load *l, int64_t us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 65536;
		l->lat = xrealloc(l->lat, l->cap * sizeof(*l->lat));
	}
	l->lat[l->n++] = us;
}

static void report(const char *mode, load *l, double secs)
{
	qsort(l->lat, l->n, sizeof(*l->lat), cmp64);
	int64_t p50 = l->n ? l->lat[l->n / 2] : 0, p99 = l->n ? l->lat[l->n * 99 / 100] : 0;
	printf("%s acked %zu in %.2f s: %.0f/s, p50 %lld us, p99 %lld us\n", mode, l->n, secs,
	       l->n / secs, (long long)p50, (long long)p99);
}

/* ---- cpg ---- */

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
		       void *msg, size_t len)
{
	(void)g;
	load *l = NULL;
	cpg_context_get(h, (void **)&l);
	if (nodeid != l->nodeid || pid != l->pid || len < 8)
		return;
	uint32_t slot;
	memcpy(&slot, msg, 4);
	if (slot < MAX_WINDOW && l->sent_at[slot]) {
		lat_add(l, now_us() - l->sent_at[slot]);
		l->sent_at[slot] = 0;
		l->outstanding--;
	}
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m,
		       size_t n, const struct cpg_address *left, size_t nl,
		       const struct cpg_address *joined, size_t nj)
{
	(void)g, (void)m, (void)left, (void)nl, (void)joined, (void)nj;
	load *l = NULL;
	cpg_context_get(h, (void **)&l);
	l->members = n;
}

static int run_cpg(size_t members, double secs, size_t size, unsigned window)
{
	cpg_callbacks_t cb = { .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg };
	cpg_handle_t h;
	load l = { 0 };
	if (cpg_initialize(&h, &cb) != CS_OK) {
		fprintf(stderr, "cpg_initialize failed\n");
		return 1;
	}
	cpg_context_set(h, &l);
	cpg_local_get(h, &l.nodeid);
	l.pid = (uint32_t)getpid();
	struct cpg_name g = { .length = 10 };
	memcpy(g.value, "bench_load", 10);
	if (cpg_join(h, &g) != CS_OK) {
		fprintf(stderr, "cpg_join failed\n");
		return 1;
	}
	int fd;
	cpg_fd_get(h, &fd);
	/* everyone in before the clock starts */
	while (l.members < members) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 100);
		cpg_dispatch(h, CS_DISPATCH_ALL);
	}
	uint8_t *buf = xcalloc(1, size < 8 ? 8 : size);
	int64_t start = now_us(), end = start + (int64_t)(secs * 1e6);
	while (now_us() < end) {
		for (uint32_t slot = 0; slot < window && l.outstanding < window; slot++) {
			if (l.sent_at[slot])
				continue;
			memcpy(buf, &slot, 4);
			struct iovec iov = { .iov_base = buf, .iov_len = size < 8 ? 8 : size };
			l.sent_at[slot] = now_us();
			if (cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1) != CS_OK) {
				l.sent_at[slot] = 0;
				break;
			}
			l.outstanding++;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 10);
		cpg_dispatch(h, CS_DISPATCH_ALL);
	}
	double took = (now_us() - start) / 1e6;
	report("cpg", &l, took);
	/* the others may still be sending: stay a moment so their last messages are delivered */
	int64_t linger = now_us() + 500000;
	while (now_us() < linger) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 50);
		cpg_dispatch(h, CS_DISPATCH_ALL);
	}
	cpg_leave(h, &g);
	cpg_finalize(h);
	free(buf);
	free(l.lat);
	return 0;
}

/* ---- pvecfs ---- */

static int run_cfs(const char *sock, double secs, size_t size, unsigned window, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "can't connect to %s: %m\n", sock);
		return 1;
	}
	load l = { 0 };
	uint8_t *data = xmalloc(size);
	memset(data, 'x', size);
	uint8_t *in = xmalloc(1 << 20);
	size_t in_len = 0;
	int64_t start = now_us(), end = start + (int64_t)(secs * 1e6);
	uint64_t k = 0;
	bool sending = true;
	while (sending || l.outstanding) {
		if (now_us() >= end)
			sending = false;
		while (sending && l.outstanding < window) {
			uint32_t slot;
			for (slot = 0; slot < window && l.sent_at[slot]; slot++)
				;
			char path[64];
			/* each writer its own files, 64 of them: the tree stays small */
			snprintf(path, sizeof(path), "bench/%s-%llu", name,
				 (unsigned long long)(k++ % 64));
			pve_buf b = { 0 };
			cfs_msg m = { .op = CFS_OP_WRITE,
				      .reqid = slot,
				      .path = path,
				      .data = data,
				      .data_len = size };
			cfs_msg_encode(&b, &m);
			l.sent_at[slot] = now_us();
			if (pve_write_all(fd, b.data, b.len) < 0) {
				fprintf(stderr, "write: %m\n");
				return 1;
			}
			pve_buf_free(&b);
			l.outstanding++;
		}
		if (!l.outstanding)
			break;
		ssize_t got = read(fd, in + in_len, (1 << 20) - in_len);
		if (got <= 0) {
			fprintf(stderr, "pvecfs closed the connection\n");
			return 1;
		}
		in_len += (size_t)got;
		size_t pos = 0;
		for (;;) {
			size_t fl = cfs_msg_frame_len(in + pos, in_len - pos);
			if (fl == 0 || in_len - pos < fl)
				break;
			cfs_msg m;
			if (cfs_msg_decode(in + pos, fl, 1 << 20, &m) < 0 ||
			    m.reqid >= MAX_WINDOW) {
				fprintf(stderr, "a bad reply\n");
				return 1;
			}
			if (m.result < 0) {
				fprintf(stderr, "write refused: %s\n", strerror(-m.result));
				return 1;
			}
			lat_add(&l, now_us() - l.sent_at[m.reqid]);
			l.sent_at[m.reqid] = 0;
			l.outstanding--;
			pos += fl;
		}
		memmove(in, in + pos, in_len - pos);
		in_len -= pos;
	}
	report("pvecfs", &l, (now_us() - start) / 1e6);
	close(fd);
	free(in);
	free(data);
	free(l.lat);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "cpg") == 0) {
		unsigned w = (unsigned)atoi(argv[5]);
		return run_cpg((size_t)atoi(argv[2]), atof(argv[3]), (size_t)atoi(argv[4]),
			       w < 1	      ? 1 :
			       w > MAX_WINDOW ? MAX_WINDOW :
						w);
	}
	if (argc == 7 && strcmp(argv[1], "cfs") == 0) {
		unsigned w = (unsigned)atoi(argv[5]);
		return run_cfs(argv[2], atof(argv[3]), (size_t)atoi(argv[4]),
			       w < 1	      ? 1 :
			       w > MAX_WINDOW ? MAX_WINDOW :
						w,
			       argv[6]);
	}
	fprintf(stderr, "usage: bench-cluster-load cpg MEMBERS SECONDS SIZE WINDOW\n"
			"       bench-cluster-load cfs SOCKET SECONDS SIZE WINDOW NAME\n");
	return 2;
}
