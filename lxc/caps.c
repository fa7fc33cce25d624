/* Capabilities: LXC's default drop list (Proxmox's common.conf: mac_admin, mac_override, sys_time,
 * sys_module, sys_rawio) taken out of the bounding set, so neither the init nor anything it execs can
 * get them back; everything else stays, as a system container's init needs it (in an unprivileged
 * container every capability is the user namespace's only). */
#include <sys/capability.h>
#include <sys/prctl.h>

#include "lxc/lxc-internal.h"

static const int dropped[] = { CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_SYS_TIME, CAP_SYS_MODULE,
			       CAP_SYS_RAWIO };

uint64_t lxc_caps_keep(const lxc_spec *s)
{
	(void)s;
	uint64_t keep = 0;
	for (int c = 0; c <= CAP_LAST_CAP && c < 64; c++)
		keep |= 1ull << c;
	for (size_t i = 0; i < ELEMENTSOF(dropped); i++)
		keep &= ~(1ull << dropped[i]);
	return keep;
}

int lxc_caps_apply(uint64_t keep, pve_error **err)
{
	int last = (int)cap_max_bits() - 1;
	for (int c = 0; c <= last; c++) {
		if (c < 64 && (keep & (1ull << c)))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return pve_error_set(err, errno, "can't drop capability %d: %s", c,
					     strerror(errno));
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	cap_t caps = cap_get_proc();
	if (!caps)
		return pve_error_set(err, errno, "can't read capabilities: %s", strerror(errno));
	for (int c = 0; c <= last; c++) {
		cap_value_t v = c;
		if (c < 64 && (keep & (1ull << c)))
			continue;
		cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_CLEAR);
		cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_CLEAR);
		cap_set_flag(caps, CAP_INHERITABLE, 1, &v, CAP_CLEAR);
	}
	int r = cap_set_proc(caps);
	int e = errno;
	cap_free(caps);
	if (r < 0)
		return pve_error_set(err, e, "can't set capabilities: %s", strerror(e));
	return 0;
}
