/* pved-ctrun: the runtime alone, for tests and the bench. Runs a container in the foreground like
 * `crun run` and exits with its status; also starts one detached, execs into, stops or freezes one. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lxc/lxc-internal.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: pved-ctrun [OPTIONS] -- CMD [ARG...]     run a container, exit with its status\n"
		"       pved-ctrun --detach [OPTIONS] -- CMD...  start it, print the init's pid\n"
		"       pved-ctrun --exec [--user UID:GID] [--cwd DIR] --vmid N -- CMD...\n"
		"       pved-ctrun --stop [--force] [--timeout S] | --freeze | --thaw | --state | --stats\n"
		"                  | --set FILE=VALUE (a cgroup limit of the running container)\n"
		"                  --vmid N\n"
		"options: --unprivileged --rootfs DIR --hostname H --memory BYTES --swap BYTES\n"
		"         --cpu-quota US --pids N --vmid N --run-dir DIR --cgroup-parent PATH\n"
		"         --env K=V --cwd DIR --mount SRC:DST[:ro] --keyctl --mknod --nesting --fuse --tty N\n"
		"         --no-new-privs (as an application container runs)\n"
		"         --idmap u:IN:OUT:N\n"
		"         --nic NAME,HOST_NAME[,CIDR[,GW[,MAC]]]\n");
	exit(2);
}

static unsigned long long num(const char *s)
{
	unsigned long long v;
	if (pve_parse_uint(s, UINT64_MAX, &v) < 0) {
		fprintf(stderr, "pved-ctrun: '%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	enum {
		O_RUN,
		O_DETACH,
		O_EXEC,
		O_STOP,
		O_FREEZE,
		O_THAW,
		O_STATE,
		O_STATS,
		O_SET
	} mode = O_RUN;
	const char *set = NULL;
	lxc_spec *s = xcalloc(1, sizeof(*s));
	_cleanup_lxc_spec_ lxc_spec *spec = s;
	s->vmid = 900000 + getpid() % 100000;
	s->run_dir = xstrdup("/run/pved-ctrun");
	s->rootfs = xstrdup("/");
	s->swap_bytes = -1;
	s->env = strv_new();
	bool force = false;
	unsigned timeout = 10;
	uid_t uid = 0;
	gid_t gid = 0;
	static const struct option opts[] = { { "unprivileged", no_argument, 0, 'U' },
					      { "rootfs", required_argument, 0, 'r' },
					      { "hostname", required_argument, 0, 'h' },
					      { "memory", required_argument, 0, 'm' },
					      { "swap", required_argument, 0, 's' },
					      { "cpu-quota", required_argument, 0, 'c' },
					      { "pids", required_argument, 0, 'p' },
					      { "vmid", required_argument, 0, 'v' },
					      { "run-dir", required_argument, 0, 'R' },
					      { "cgroup-parent", required_argument, 0, 'g' },
					      { "env", required_argument, 0, 'e' },
					      { "cwd", required_argument, 0, 'w' },
					      { "mount", required_argument, 0, 'M' },
					      { "keyctl", no_argument, 0, 'k' },
					      { "mknod", no_argument, 0, 'n' },
					      { "idmap", required_argument, 0, 'i' },
					      { "detach", no_argument, 0, 'd' },
					      { "exec", no_argument, 0, 'x' },
					      { "stop", no_argument, 0, 'S' },
					      { "force", no_argument, 0, 'f' },
					      { "timeout", required_argument, 0, 't' },
					      { "freeze", no_argument, 0, 'F' },
					      { "thaw", no_argument, 0, 'T' },
					      { "state", no_argument, 0, 'Q' },
					      { "user", required_argument, 0, 'u' },
					      { "nic", required_argument, 0, 'N' },
					      { "stats", no_argument, 0, 'A' },
					      { "set", required_argument, 0, 'L' },
					      { "nesting", no_argument, 0, 'G' },
					      { "fuse", no_argument, 0, 'E' },
					      { "tty", required_argument, 0, 'Y' },
					      { "no-new-privs", no_argument, 0, 'P' },
					      { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'U':
			s->unprivileged = true;
			break;
		case 'r':
			free(s->rootfs), s->rootfs = xstrdup(optarg);
			break;
		case 'h':
			free(s->hostname), s->hostname = xstrdup(optarg);
			break;
		case 'm':
			s->memory_bytes = num(optarg);
			break;
		case 's':
			s->swap_bytes = (int64_t)num(optarg);
			break;
		case 'c':
			s->cpu_quota_us = num(optarg);
			break;
		case 'p':
			s->pids_max = num(optarg);
			break;
		case 'v':
			s->vmid = (long long)num(optarg);
			break;
		case 'R':
			free(s->run_dir), s->run_dir = xstrdup(optarg);
			break;
		case 'g':
			free(s->cgroup_parent), s->cgroup_parent = xstrdup(optarg);
			break;
		case 'e':
			strv_push(&s->env, xstrdup(optarg));
			break;
		case 'w':
			free(s->cwd), s->cwd = xstrdup(optarg);
			break;
		case 'k':
			s->keyctl = true;
			break;
		case 'P':
			s->no_new_privs = true;
			break;
		case 'n':
			s->mknod = true;
			break;
		case 'd':
			mode = O_DETACH;
			break;
		case 'x':
			mode = O_EXEC;
			break;
		case 'S':
			mode = O_STOP;
			break;
		case 'f':
			force = true;
			break;
		case 't':
			timeout = (unsigned)num(optarg);
			break;
		case 'F':
			mode = O_FREEZE;
			break;
		case 'T':
			mode = O_THAW;
			break;
		case 'Q':
			mode = O_STATE;
			break;
		case 'A':
			mode = O_STATS;
			break;
		case 'L':
			mode = O_SET;
			set = optarg;
			break;
		case 'G':
			s->nesting = true;
			break;
		case 'E':
			s->fuse = true;
			break;
		case 'Y':
			s->tty_count = (unsigned)num(optarg);
			break;
		case 'u':
			if (sscanf(optarg, "%u:%u", &uid, &gid) != 2)
				usage();
			break;
		case 'M': {
			_cleanup_strv_free_ char **v = pve_strv_split(optarg, ":");
			size_t n = strv_length(v);
			if (n < 2 || n > 3)
				usage();
			s->mounts = xrealloc(s->mounts, (s->n_mounts + 1) * sizeof(*s->mounts));
			s->mounts[s->n_mounts++] = (lxc_mount){ .source = xstrdup(v[0]),
								.target = xstrdup(v[1]),
								.ro = n == 3 && streq(v[2], "ro") };
			break;
		}
		case 'N': {
			/* NAME,HOST_NAME[,CIDR[,GW[,MAC]]] */
			_cleanup_strv_free_ char **v = pve_strv_split(optarg, ",");
			size_t n = strv_length(v);
			if (n < 2 || n > 5 || s->n_nics >= LXC_MAX_NICS)
				usage();
			lxc_nic *nic = &s->nics[s->n_nics++];
			snprintf(nic->name, sizeof(nic->name), "%s", v[0]);
			snprintf(nic->host_name, sizeof(nic->host_name), "%s", v[1]);
			if (n > 2)
				snprintf(nic->ip, sizeof(nic->ip), "%s", v[2]);
			if (n > 3)
				snprintf(nic->gw, sizeof(nic->gw), "%s", v[3]);
			if (n > 4)
				snprintf(nic->hwaddr, sizeof(nic->hwaddr), "%s", v[4]);
			break;
		}
		case 'i': {
			char kind;
			unsigned in, out, cnt;
			if (sscanf(optarg, "%c:%u:%u:%u", &kind, &in, &out, &cnt) != 4 ||
			    (kind != 'u' && kind != 'g') || s->n_idmaps >= LXC_MAX_IDMAPS)
				usage();
			s->idmaps[s->n_idmaps++] = (lxc_idmap){ kind, in, out, cnt };
			break;
		}
		default:
			usage();
		}
	}
	_cleanup_(pve_error_freep) pve_error *err = NULL;
	int r = 0;
	switch (mode) {
	case O_STOP:
		r = lxc_stop(s->run_dir, s->vmid, force, timeout, 0, &err);
		break;
	case O_FREEZE:
		r = lxc_freeze(s->run_dir, s->vmid, true, &err);
		break;
	case O_THAW:
		r = lxc_freeze(s->run_dir, s->vmid, false, &err);
		break;
	case O_STATE: {
		lxc_running run;
		r = lxc_state(s->run_dir, s->vmid, &run);
		if (r >= 0)
			printf(r ? "running %d\n" : "stopped\n", (int)run.init_pid);
		return r < 0 ? 1 : 0;
	}
	case O_SET: {
		const char *eq = strchr(set, '=');
		if (!eq)
			usage();
		_cleanup_free_ char *file = xstrndup(set, (size_t)(eq - set));
		r = lxc_cgroup_set(s->run_dir, s->vmid, file, eq + 1, &err);
		break;
	}
	case O_STATS: {
		lxc_stats st;
		r = lxc_stats_read(s->run_dir, s->vmid, &st, &err);
		if (r == 0)
			printf("cpu_usec %" PRIu64 "\nmem_bytes %" PRIu64 "\nmem_max %" PRIu64
			       "\nswap_bytes %" PRIu64 "\nswap_max %" PRIu64 "\npids %" PRIu64
			       "\nio_read_bytes %" PRIu64 "\nio_write_bytes %" PRIu64
			       "\ndisk_used %" PRIu64 "\ndisk_total %" PRIu64 "\n",
			       st.cpu_usec, st.mem_bytes, st.mem_max, st.swap_bytes, st.swap_max,
			       st.pids, st.io_read_bytes, st.io_write_bytes, st.disk_used,
			       st.disk_total);
		break;
	}
	case O_EXEC: {
		if (optind >= argc)
			usage();
		lxc_exec_opts o = { .argv = argv + optind,
				    .cwd = s->cwd,
				    .uid = uid,
				    .gid = gid,
				    .fd_in = 0,
				    .fd_out = 1,
				    .fd_err = 2 };
		pid_t pid;
		r = lxc_exec_spawn(s->run_dir, s->vmid, &o, &pid, &err);
		if (r < 0)
			break;
		int st;
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				return 125;
		return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	}
	case O_RUN:
	case O_DETACH: {
		if (optind >= argc)
			usage();
		for (int i = optind; i < argc; i++)
			strv_push(&s->argv, xstrdup(argv[i]));
		if (mode == O_RUN) {
			/* this process becomes the monitor, which exits with the init's status */
			fflush(stdout);
			r = lxc_run_foreground(s, &err);
			break;
		}
		/* detached, as pved starts one: lxc_start, then (here no bridges) lxc_start_finish */
		lxc_running run;
		r = lxc_start(s, &run, &err);
		if (r == 0)
			r = lxc_start_finish(s, &run, &err);
		if (r < 0)
			break;
		printf("%d\n", (int)run.init_pid);
		return 0;
	}
	}
	if (r < 0) {
		fprintf(stderr, "pved-ctrun: %s\n", err ? err->message : strerror(-r));
		return 125;
	}
	return 0;
}
