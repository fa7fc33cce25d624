/* A VM's NICs on the host: the bridge a NIC names, and the tap tap<vmid>i<n> QEMU gets as an fd. Until
 * net/ offers links and bridges, these few ioctls live here. */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

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

int kvm_tap_open(long long vmid, int index, const char *bridge, pve_error **err)
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
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return pve_error_set(err, errno, "socket: %m");
	/* the tap takes the bridge's MTU, as Proxmox's tap_plug does */
	struct ifreq br = { 0 };
	snprintf(br.ifr_name, sizeof(br.ifr_name), "%s", bridge);
	if (ioctl(s, SIOCGIFMTU, &br) == 0) {
		struct ifreq m = { 0 };
		snprintf(m.ifr_name, sizeof(m.ifr_name), "%s", name);
		m.ifr_mtu = br.ifr_mtu;
		(void)ioctl(s, SIOCSIFMTU, &m);
	}
	struct ifreq idx = { 0 };
	snprintf(idx.ifr_name, sizeof(idx.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFINDEX, &idx) < 0)
		return pve_error_set(err, errno, "can't find %s: %m", name);
	snprintf(br.ifr_name, sizeof(br.ifr_name), "%s", bridge);
	br.ifr_ifindex = idx.ifr_ifindex;
	if (ioctl(s, SIOCBRADDIF, &br) < 0)
		return pve_error_set(err, errno, "can't add %s to bridge %s: %m", name, bridge);
	struct ifreq up = { 0 };
	snprintf(up.ifr_name, sizeof(up.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &up) == 0) {
		up.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &up) < 0)
			return pve_error_set(err, errno, "can't set %s up: %m", name);
	}
	return TAKE_FD(fd);
}
