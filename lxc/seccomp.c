/* The seccomp filter: LXC's default profile (common.seccomp: kexec_load, open_by_handle_at,
 * init_module, finit_module, delete_module fail with EPERM; umount2 with MNT_FORCE with EACCES),
 * Proxmox's keyctl rule (ENOSYS unless the keyctl feature, so systemd falls back), and mknod of
 * character and block devices (EPERM unless the mknod feature), behind the device cgroup program
 * (devices.c) that would refuse opening such a node anyway. */
#include <sys/mount.h>
#include <sys/stat.h>

#include "lxc/lxc-internal.h"

scmp_filter_ctx lxc_seccomp_build(const lxc_spec *s, pve_error **err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		pve_error_set(err, ENOMEM, "can't make a seccomp filter");
		return NULL;
	}
	/* Without no_new_privs the init loads the filter with CAP_SYS_ADMIN of its namespace instead. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, s->no_new_privs ? 1 : 0);
	const int eperm[] = { SCMP_SYS(kexec_load),	   SCMP_SYS(kexec_file_load),
			      SCMP_SYS(open_by_handle_at), SCMP_SYS(init_module),
			      SCMP_SYS(finit_module),	   SCMP_SYS(delete_module) };
	for (size_t i = 0; i < ELEMENTSOF(eperm) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), eperm[i], 0);
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(umount2), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, MNT_FORCE, MNT_FORCE));
	if (r == 0 && !s->keyctl)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(keyctl), 0);
	if (r == 0 && !s->mknod) {
		const unsigned modes[] = { S_IFCHR, S_IFBLK };
		for (size_t i = 0; i < ELEMENTSOF(modes) && r == 0; i++) {
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknod), 1,
					     SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, modes[i]));
			if (r == 0)
				r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknodat),
						     1,
						     SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, modes[i]));
		}
	}
	if (r < 0) {
		seccomp_release(ctx);
		pve_error_set(err, -r, "can't make the seccomp filter: %s", strerror(-r));
		return NULL;
	}
	return ctx;
}
