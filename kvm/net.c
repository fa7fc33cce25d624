/* A VM's NICs on the host: the bridge a NIC names, and the tap tap<vmid>i<n> QEMU gets as an fd, put on
 * its bridge by net/'s pve_net_attach. */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "kvm/kvm-internal.h"
#include "net/net.h"

static bool ifname_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= IFNAMSIZ || streq(name, ".") || streq(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

bool kvm_bridge_exists(const char *bridge)
{
	if (!ifname_valid(bridge))
		return false;
	_cleanup_free_ char *path = xasprintf("/sys/class/net/%s/bridge", bridge);
	return access(path, F_OK) == 0;
}

int kvm_tap_open(long long vmid, int index, const char *bridge, int mtu, int tag, pve_error **err)
{
	char name[IFNAMSIZ];
	if (snprintf(name, sizeof(name), "tap%lldi%d", vmid, index) >= (int)sizeof(name))
		return pve_error_set(err, ENAMETOOLONG, "tap name for VM %lld too long", vmid);
	if (!kvm_bridge_exists(bridge))
		return pve_error_set_param(err, ENOENT, NULL, "bridge '%s' does not exist", bridge);
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return pve_error_set(err, errno, "can't open /dev/net/tun: %m");
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return pve_error_set(err, errno, "can't create %s: %m", name);
	/* the tap is made in this process's namespace: it is attached there. mtu=1 (or none) is the
	 * bridge's, as Proxmox's tap_plug does */
	int r = pve_net_attach(NULL, name, bridge, mtu > 1 ? (unsigned)mtu : 0,
			       tag > 0 ? (unsigned)tag : 0, err);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}
