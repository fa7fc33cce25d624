/* daemon/core/guest: what the qemu and lxc areas share about guests: the per-guest flock (Proxmox's
 * lock_config, local to the node), which node holds a vmid (VMs and containers share one id space) and
 * the pools of user.cfg a new guest joins. */
#pragma once

#include "daemon/core/pved.h"

/* Blocking (task workers): an flock on path (made with its two parent directories), waited for up to
 * timeout_ms; EBUSY "can't lock file '...' - got timeout". The fd holds the lock until closed. */
int pved_guest_lock_wait(const char *path, int timeout_ms, int *ret_fd, pve_error **err);
/* On the loop: tries, then again on a timer until timeout_ms; done gets the fd or the error. */
typedef void (*pved_guest_lock_fn)(pved *d, int fd, pve_error *err, void *ud);
void pved_guest_lock_async(pved *d, const char *path, int timeout_ms, pved_guest_lock_fn done,
			   void *ud);

/* The node holding a guest with this id (a VM or a container, on any node), or NULL. */
char *pved_guest_owner(pved *d, long long vmid);
/* Whether user.cfg has the pool. */
bool pved_guest_pool_exists(pved *d, const char *pool);
/* Adds vmid to pool in user.cfg (blocking: task workers). */
int pved_guest_pool_add(pved *d, long long vmid, const char *pool, pve_error **err);
/* Removes vmid from every pool (a destroy with purge; blocking, best effort); true when it was in one. */
bool pved_guest_pools_remove(pved *d, long long vmid);
