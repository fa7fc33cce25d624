/* pct exec's process: pved-ctmon in its exec mode, spawned (never a fork of pved), joins the running
 * container as lxc.h says; its exit status is the command's (125: it could not join, 126/127: the
 * command could not run). */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>

#include "lxc/lxc-internal.h"

int lxc_exec_spawn(const char *run_dir, long long vmid, const lxc_exec_opts *o, pid_t *ret_pid,
		   pve_error **err)
{
	if (!o->argv || !o->argv[0])
		return pve_error_set(err, EINVAL, "no command to run");
	size_t argc = strv_length(o->argv), envc = o->env ? strv_length(o->env) : 0;
	if (argc > LXC_MAX_ARGS || envc > LXC_MAX_ENV)
		return pve_error_set(err, E2BIG, "too many arguments or environment variables");
	if (o->cwd && o->cwd[0] != '/')
		return pve_error_set(err, EINVAL, "the working directory must be absolute");
	if (lxc_state(run_dir, vmid, NULL) != 1)
		return pve_error_set(err, ENOENT, "CT %lld is not running", vmid);
	_cleanup_free_ char *mon = lxc_ctmon_path();
	char vm[32], uid[16], gid[16];
	snprintf(vm, sizeof(vm), "%lld", vmid);
	snprintf(uid, sizeof(uid), "%u", (unsigned)o->uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)o->gid);
	_cleanup_free_ char **argv = xcalloc(argc + 10, sizeof(char *));
	size_t n = 0;
	argv[n++] = (char *)"pved-ctmon";
	argv[n++] = (char *)"exec";
	argv[n++] = (char *)run_dir;
	argv[n++] = vm;
	argv[n++] = uid;
	argv[n++] = gid;
	argv[n++] = (char *)(o->cwd ? o->cwd : "/");
	argv[n++] = (char *)"--";
	for (size_t i = 0; i < argc; i++)
		argv[n++] = o->argv[i];
	static char path_env[] =
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		    term_env[] = "TERM=linux", ct_env[] = "container=lxc";
	char *const def_env[] = { path_env, term_env, ct_env, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	int fds[3] = { o->fd_in, o->fd_out, o->fd_err };
	for (int i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			posix_spawn_file_actions_adddup2(&fa, fds[i], i);
		else
			posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
							 i ? O_WRONLY : O_RDONLY, 0);
	}
	/* a helper that must not keep the caller's signal mask or handlers */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int r = posix_spawn(&pid, mon, &fa, &attr, argv, o->env ? o->env : def_env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return pve_error_set(err, r, "can't run %s: %s", mon, strerror(r));
	*ret_pid = pid;
	return 0;
}
