/* lxc-internal: what the runtime's files share: the run files, the cgroup, the pieces of a start. */
#pragma once

#include <linux/capability.h>
#include <seccomp.h>

#include "lxc/lxc.h"

/* The run file `<vmid>.pid`, one "key value" per line: "init PID STARTTIME", "monitor PID",
 * "cgroup DIR" (the container's cgroup directory, limits; the init's cgroup namespace is DIR/ns),
 * "caps N" (the kept capability mask, decimal, for exec), "userns 0|1". */
typedef struct lxc_runinfo {
	pid_t init_pid;
	unsigned long long starttime;
	pid_t monitor_pid;
	char cgroup[512];
	uint64_t caps;
	bool userns;
	bool no_new_privs;
} lxc_runinfo;

#define LXC_RUNINFO_MAX 4096

char *lxc_run_file(const char *run_dir, long long vmid, const char *suffix);
/* Removes the pid file, the console sockets and the seccomp program. */
void lxc_run_files_remove(const char *run_dir, long long vmid);
int lxc_runinfo_write(const char *run_dir, long long vmid, const lxc_runinfo *ri, pve_error **err);
/* 0 and *ret filled, -ENOENT without a pid file, -EINVAL when it is not one of ours. */
int lxc_runinfo_read(const char *run_dir, long long vmid, lxc_runinfo *ret);
int lxc_runinfo_parse(const char *text, size_t len, lxc_runinfo *ret);
/* /proc/<pid>/stat's starttime, 0 when the process is gone or a zombie. */
unsigned long long lxc_proc_starttime(pid_t pid);

/* cgroup.c: the container's cgroup below the cgroup2 mount */
char *lxc_cgroup_dir(const lxc_spec *s, pve_error **err);
/* Makes dir and dir/ns with the spec's limits; a limit whose controller is missing fails naming it. */
int lxc_cgroup_create(const lxc_spec *s, const char *dir, pve_error **err);
int lxc_cgroup_write(const char *dir, const char *file, const char *value);
/* Gives dir the controller ctrl: "+ctrl" in the subtree_control of each cgroup above it, top down,
 * where that cgroup has it; ENOTSUP naming ctrl when dir does not get it. */
int lxc_cgroup_enable(const char *dir, const char *ctrl, pve_error **err);
/* Kills every process in dir (cgroup.kill, else SIGKILL to each pid of cgroup.procs, recursively),
 * waits for it to empty and removes it and its children. */
int lxc_cgroup_destroy(const char *dir);

/* devices.c: the device allow list, a BPF program on the container's cgroup */
int lxc_devices_attach(const lxc_spec *s, const char *cgroup_dir, pve_error **err);

/* caps.c: the kept set and its application (bounding set, then the process's own sets) */
uint64_t lxc_caps_keep(const lxc_spec *s);
int lxc_caps_apply(uint64_t keep, pve_error **err);

/* seccomp.c */
scmp_filter_ctx lxc_seccomp_build(const lxc_spec *s, pve_error **err);

/* Proxmox's tty option goes up to 6: /dev/tty1..6. */
#define LXC_MAX_TTYS 6
static inline unsigned lxc_ttys(const lxc_spec *s)
{
	return s->tty_count > LXC_MAX_TTYS ? LXC_MAX_TTYS : s->tty_count;
}

/* mounts.c: everything between the new mount namespace and pivot_root. The ptys made in the
 * container's devpts are returned: masters[0] the console's (its slave, *ret_slave, is /dev/console
 * and the init's stdio), masters[1..lxc_ttys(s)] those of /dev/tty1..N. */
int lxc_mounts_setup(const lxc_spec *s, int *masters, int *ret_slave, pve_error **err);
int lxc_pivot_root(const char *rootfs, pve_error **err);

/* netif.c */
int lxc_nics_create(const lxc_spec *s, pid_t child, pve_error **err);
int lxc_nics_configure(const lxc_spec *s, pve_error **err);

/* idmap.c */
int lxc_idmap_write(const lxc_spec *s, pid_t child, pve_error **err);
/* The outside uid of inside uid 0 (0 when privileged). */
uid_t lxc_idmap_root(const lxc_spec *s, char kind);

/* The helper binary pved-ctmon: beside the running program's, or $PVED_CTMON. */
char *lxc_ctmon_path(void);

/* start.c: LXC_START_FOREGROUND keeps the monitor a child of the caller (pved-ctrun waits for it and
 * gets the init's exit status from it) and gives the init the caller's stdio; LXC_START_NOWAIT lets the
 * init exec as soon as it is set up (no lxc_start_finish: nothing to put on bridges), which saves two
 * round trips between the processes of a start. */
enum { LXC_START_FOREGROUND = 1, LXC_START_NOWAIT = 2 };
int lxc_start_ex(const lxc_spec *s, unsigned flags, lxc_running *ret, pve_error **err);
/* pved-ctrun's run, as `crun run`: the caller becomes the starter and then the monitor, which exits
 * with the init's status; returns only when the spec is refused before anything was made. */
int lxc_run_foreground(const lxc_spec *s, pve_error **err);
