/* lxc: the public header of pved's container runtime: a container's spec and its start (namespaces,
 * id maps, the rootfs and pivot_root, /dev, /proc and /sys with their masks, devpts and the console,
 * capabilities, seccomp, cgroup v2), its state, stop, freeze and exec; the rootfs made from a template
 * archive (tar through libarchive, OCI image archives), and the per-OS set-up Proxmox does in a new
 * container. No liblxc and no lxc tools. A library: it includes common/ and system libraries only
 * (libcap, libseccomp, libarchive); daemon/lxc/ combines it with storage/, net/ and the config store and
 * resolves a pct config into an lxc_spec.
 *
 * Three parts, each in its own files:
 * - the runtime (start.c, mounts.c, idmap.c, cgroup.c, seccomp.c, caps.c, console.c, exec.c, and the
 *   per-container monitor, tools' pved-ctmon): everything from an lxc_spec to a running init and back;
 * - the rootfs (template.c, oci.c, setup.c): what a create writes into the new volume;
 * - daemon/lxc/ (not here): the pct config, the API, tasks, volumes, bridges.
 * Each part may add to its own section of this header. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

/* ---- limits and families (Proxmox's LXC/Config.pm) ------------------------------------------------------ */

#define LXC_MAX_MOUNT_POINTS 256 /* mp0..mp255 */
#define LXC_MAX_NICS 32 /* net0..net31 */
#define LXC_MAX_UNUSED 256
#define LXC_MAX_DEVS 256 /* dev0..dev255 */
#define LXC_MAX_IDMAPS 32
#define LXC_MAX_ENV 256
#define LXC_MAX_ARGS 256

/* Proxmox's default map of an unprivileged container: ids 0..65535 inside are 100000.. outside. */
#define LXC_UNPRIV_BASE 100000u
#define LXC_UNPRIV_COUNT 65536u

/* ---- the spec: what a start needs, resolved by daemon/lxc from the config ------------------------------ */

typedef struct lxc_idmap {
	char kind; /* 'u' or 'g' */
	uint32_t inside, outside, count;
} lxc_idmap;

typedef struct lxc_mount {
	char *source; /* host path: a mounted volume's directory, a bind source, a device */
	char *target; /* absolute path inside the container; the rootfs is not one of these */
	bool ro;
	unsigned long flags; /* MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_NOATIME from mountoptions */
} lxc_mount;

typedef struct lxc_nic {
	char name[16]; /* inside: "eth0" */
	char host_name[16]; /* "veth<vmid>i<n>" */
	char hwaddr[18]; /* "BC:24:11:..." */
	unsigned mtu; /* 0: the bridge's */
	/* Addresses set inside before the init runs: a CIDR, "dhcp" (a client is run inside), "manual" or
	 * "" (none); IPv6 also "auto". gw/gw6: a default route, or "". */
	char ip[64], gw[48], ip6[64], gw6[48];
	bool link_down;
} lxc_nic;

typedef struct lxc_dev {
	char *path; /* /dev/x on the host, made the same path inside */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	bool deny_write;
} lxc_dev;

typedef struct lxc_spec {
	long long vmid;
	char *run_dir; /* <root>/run/lxc: the container's pid, console socket and state files */
	char *rootfs; /* host path of the mounted rootfs (daemon/lxc mounts the volume) */
	char *hostname;
	bool unprivileged;
	lxc_idmap idmaps[LXC_MAX_IDMAPS]; /* the defaults above when unprivileged and none given */
	size_t n_idmaps;
	/* features */
	bool nesting, keyctl, fuse, mknod, force_rw_sys;
	/* no_new_privs on the init and every exec: an application container's (as OCI runtimes set it).
	 * Off for a system container, whose su, sudo and file-capability programs must raise privileges
	 * inside it, as under LXC; the seccomp filter and the capability set hold either way. */
	bool no_new_privs;
	char **mount_fstypes; /* features' mount=nfs;cifs, NULL-terminated, may be NULL */
	/* limits; 0 / -1 as noted: unlimited */
	uint64_t memory_bytes; /* memory.max; 0: none */
	int64_t swap_bytes; /* memory.swap.max; -1: none */
	uint64_t cpu_quota_us; /* cpu.max's quota over a 100000 us period; 0: max */
	unsigned cpu_weight; /* cpu.weight (cpuunits); 0: the default */
	uint64_t pids_max; /* 0: max */
	char *cpuset; /* cpuset.cpus, or NULL */
	/* the init: argv[0] is a path inside the container ("/sbin/init", an entrypoint) */
	char **argv;
	char **env; /* KEY=VALUE, NULL-terminated; the runtime adds container=lxc */
	char *cwd; /* NULL: "/" */
	unsigned tty_count; /* /dev/tty1..N (Proxmox's tty, default 2) */
	char *cmode; /* "tty", "console", "shell": what the console attaches to */
	lxc_mount *mounts;
	size_t n_mounts;
	lxc_nic nics[LXC_MAX_NICS];
	size_t n_nics;
	lxc_dev *devs;
	size_t n_devs;
	char *cgroup_parent; /* below the cgroup2 mount; NULL: "lxc.slice" (pved-<hash>.slice/ for a root
			      * other than /, as kvm/cgroup.c does) */
	char *log_path; /* the monitor's log (start errors after the exec of the init), or NULL */
} lxc_spec;

void lxc_spec_free(lxc_spec *s);
static inline void lxc_spec_freep(lxc_spec **s)
{
	lxc_spec_free(*s);
}
#define _cleanup_lxc_spec_ _cleanup_(lxc_spec_freep)

/* ---- the runtime ------------------------------------------------------------------------------------------
 * lxc_start runs in a task worker (never in pved's loop): it makes the container's namespaces, its init
 * and the per-container monitor (pved-ctmon, tiny: the init's parent, holding the console), checks every
 * step, and returns once the init has been exec'd, or fails with what failed (a missing cgroup
 * controller by name, a bad id map, a mount) and nothing left behind. The container outlives the worker
 * and pved. Host-side veths (`host_name`) exist, down, when it returns; the caller puts them on their
 * bridges (net/'s pve_net_attach) and then calls lxc_start_finish, which lets the init run. */

typedef struct lxc_running {
	pid_t init_pid; /* in the host's pid namespace */
	unsigned long long starttime; /* /proc/<pid>/stat's, to tell a reused pid */
	pid_t monitor_pid;
	int sync_fd; /* lxc_start's line to the starter, for lxc_start_finish (which closes it) */
} lxc_running;

int lxc_start(const lxc_spec *s, lxc_running *ret, pve_error **err);
/* Lets the init exec after the caller's set-up (bridges); on error the container is stopped. */
int lxc_start_finish(const lxc_spec *s, const lxc_running *r, pve_error **err);

/* The container's state from its run files: 1 running (r filled), 0 stopped, negative errno. Cheap
 * enough for pved's loop (a pid file, a stat of /proc/<pid>). */
int lxc_state(const char *run_dir, long long vmid, lxc_running *ret);

/* Stops it: with force, cgroup.kill (or SIGKILL to the init when the cgroup cannot); else halt_sig (0:
 * what the init takes for a clean shutdown: SIGRTMIN+3, SIGPWR, SIGUSR2 or SIGTERM) to the init, then
 * after timeout_s kill. Waits for its end (task workers only). Leaves the cgroup and the run files
 * removed. */
int lxc_stop(const char *run_dir, long long vmid, bool force, unsigned timeout_s, int halt_sig,
	     pve_error **err);
/* A signal as LXC's lxc.signal.halt and an OCI image's StopSignal name it: SIGTERM, TERM, 15,
 * SIGRTMIN+3, RTMAX-1; -1 when it is none. */
int lxc_signal_parse(const char *s);

/* A container's limits as the cgroup v2 files that hold them: the start (lxc_cgroup_create) and a live
 * change of a running container write them from this one rendering. */
enum { LXC_LIMIT_MEMORY = 1, LXC_LIMIT_CPU_MAX = 2, LXC_LIMIT_CPU_WEIGHT = 4 };
typedef struct lxc_limit_file {
	const char *file;
	char value[64];
} lxc_limit_file;
/* The files of the limits in `which` from s's memory_bytes and swap_bytes (memory.max and, while
 * memory is limited, memory.swap.max), cpu_quota_us (cpu.max) and cpu_weight (cpu.weight, at most
 * 10000). A limit s does not set is left out, or with reset written as the kernel's default (max,
 * weight 100): what lifts a limit a live change removed. The number of files. */
size_t lxc_limit_files(const lxc_spec *s, unsigned which, bool reset, lxc_limit_file out[4]);
/* Whether the file's value is the kernel's default, which lifts its limit. */
bool lxc_limit_is_default(const lxc_limit_file *f);

/* A running container's limit changed in place (memory.max, memory.swap.max, cpu.max, cpu.weight):
 * the file's controller given to its cgroup first where the cgroups above have it; ENOTSUP naming the
 * controller where they do not. */
int lxc_cgroup_set(const char *run_dir, long long vmid, const char *file, const char *value,
		   pve_error **err);
/* cgroup.freeze; thaw with freeze false. */
int lxc_freeze(const char *run_dir, long long vmid, bool freeze, pve_error **err);

typedef struct lxc_stats {
	uint64_t cpu_usec; /* cpu.stat usage_usec */
	uint64_t mem_bytes, mem_max, swap_bytes, swap_max;
	uint64_t pids;
	uint64_t io_read_bytes, io_write_bytes; /* io.stat rbytes and wbytes, summed over devices */
	/* statvfs of the init's root, in bytes: blocks minus free, and blocks */
	uint64_t disk_used, disk_total;
} lxc_stats;
/* From the container's cgroup files (those missing are 0) and its root file system (0 when statvfs
 * fails). */
int lxc_stats_read(const char *run_dir, long long vmid, lxc_stats *ret, pve_error **err);
/* lxc_state and, when it runs, the cgroup's figures (disk_* left 0) from the same read of the pid
 * file: what pved's lists ask for each container, on the loop. */
int lxc_state_stats(const char *run_dir, long long vmid, lxc_running *ret, lxc_stats *ret_stats);
/* statvfs of the running init's root: used and total bytes; -ESRCH when the pid is another process's
 * by now. Blocking (a network file system's server may not answer): never on pved's loop. */
int lxc_root_usage(const lxc_running *r, uint64_t *ret_used, uint64_t *ret_total);

/* Runs a command inside a running container (pct exec, enter, push and pull, the exec API): a process
 * spawned (never a fork of pved) that joins the init's namespaces and cgroup, with the container's
 * capabilities, seccomp and id map, as uid/gid inside, in cwd, with env. The fds are its stdin,
 * stdout, stderr (-1: /dev/null; a pty's slave for an interactive session). */
typedef struct lxc_exec_opts {
	char *const *argv;
	char *const *env; /* NULL: PATH and TERM defaults */
	const char *cwd; /* NULL: "/" */
	uid_t uid;
	gid_t gid;
	int fd_in, fd_out, fd_err;
} lxc_exec_opts;
int lxc_exec_spawn(const char *run_dir, long long vmid, const lxc_exec_opts *o, pid_t *ret_pid,
		   pve_error **err);

/* The console: a unix socket in run_dir that the monitor serves; each client gets the console (cmode)
 * until it leaves, and leaving never stops the container. The protocol: a plain byte stream both ways
 * from the first byte, no header; one client at a time, and a new client takes the console over (the
 * one before is disconnected); a client that does not read for 2 s is dropped. tty 0 is /dev/console
 * (<vmid>.console: the init's stdio, cmode=console), tty N in 1..tty_count (at most 6) is /dev/ttyN
 * (<vmid>.ttyN: cmode=tty attaches to tty 1, where the init's getty runs). */
char *lxc_console_path(const char *run_dir, long long vmid, unsigned tty);

/* ---- the rootfs: templates, OCI images, the per-OS set-up ------------------------------------------------ */

/* Unpacks a template archive (tar, .tar.gz, .tar.xz, .tar.zst) into dir, which must be empty: no entry
 * outside dir (absolute paths, `..`, links pointing out are refused or made safe), no device nodes,
 * for an unprivileged container no setuid bits kept and ownership shifted by the id map. */
int lxc_template_extract(const char *archive, const char *dir, const lxc_idmap *maps, size_t n_maps,
			 pve_error **err);

/* An OCI image archive (oci-archive or docker-archive tar): its layers unpacked in order with
 * whiteouts; ret_cfg gets the image config's (NULL when not OCI), each member present only when the
 * image sets it: "entrypoint", "cmd", "env" (arrays of strings), "workdir", "user", "stopsignal"
 * (strings). Both extracts leave dir empty again when they fail. */
int lxc_oci_extract(const char *archive, const char *dir, const lxc_idmap *maps, size_t n_maps,
		    cJSON **ret_cfg, pve_error **err);
bool lxc_oci_is_image(const char *archive);

/* The ostype of an unpacked rootfs, as Proxmox detects it ("debian", "ubuntu", "alpine", "unmanaged"...). */
const char *lxc_ostype_detect(const char *dir);

/* Proxmox's set-up of a new or changed container for its OS: hostname, /etc/hosts, network config of
 * the NICs, nameserver and searchdomain, root password (a crypt hash), ssh keys.
 * ostype NULL: lxc_ostype_detect's; "unmanaged" writes nothing. nameserver/searchdomain NULL: the
 * host's resolv.conf, as Proxmox. root_password_hash NULL leaves root's password as it is (Proxmox's
 * create without a password locks it: pass "*"); ssh_keys go into a "# --- BEGIN PVE ---" section of
 * root's authorized_keys. New files belong to the owner of dir itself (the shifted root of an
 * unprivileged container). Call it again before each start with the current config: it replaces its
 * own sections and stanzas. */
typedef struct lxc_setup {
	const char *ostype;
	const char *hostname;
	const char *nameserver, *searchdomain;
	const char *root_password_hash; /* crypt(3) */
	const char *ssh_keys;
	const lxc_nic *nics;
	size_t n_nics;
} lxc_setup;
int lxc_setup_rootfs(const char *dir, const lxc_setup *s, pve_error **err);
