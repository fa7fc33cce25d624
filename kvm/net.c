/* A VM's NICs on the host: the bridge a NIC names, and the tap tap<vmid>i<n> QEMU gets as an fd (daemon/
 * puts it on its bridge with net/'s pve_net_attach). */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "kvm/kvm-internal.h"

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

int kvm_tap_open(long long vmid, int index, char ret_name[static IFNAMSIZ], pve_error **err)
{
	if (snprintf(ret_name, IFNAMSIZ, "tap%lldi%d", vmid, index) >= IFNAMSIZ)
		return pve_error_set(err, ENAMETOOLONG, "tap name for VM %lld too long", vmid);
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return pve_error_set(err, errno, "can't open /dev/net/tun: %m");
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ret_name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return pve_error_set(err, errno, "can't create %s: %m", ret_name);
	return TAKE_FD(fd);
}
