/* The per-VM lock, as Proxmox's lock_config: an flock on <root>/run/lock/qemu-server/lock-<vmid>.conf,
 * local to the node, waited for 10 s, released when its holder closes it or dies. Task workers wait for
 * it; pved's loop tries again on a timer (daemon/core/guest.c, shared with containers). Long operations also set the config's `lock:` key. */
#include "daemon/core/guest.h"
#include "daemon/qemu/qemu-internal.h"

char *qemu_lock_path(const pved *d, long long vmid)
{
	_cleanup_free_ char *rel = xasprintf("run/lock/qemu-server/lock-%lld.conf", vmid);
	return pved_path(d, rel);
}

int qemu_lock_wait(pved *d, long long vmid, int timeout_ms, int *ret_fd, pve_error **err)
{
	_cleanup_free_ char *path = qemu_lock_path(d, vmid);
	return pved_guest_lock_wait(path, timeout_ms, ret_fd, err);
}

void qemu_lock_async(pved *d, long long vmid, qemu_lock_fn done, void *ud)
{
	_cleanup_free_ char *path = qemu_lock_path(d, vmid);
	pved_guest_lock_async(d, path, QEMU_LOCK_TIMEOUT_MS, done, ud);
}
