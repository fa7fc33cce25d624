/* daemon/core/guest: what the qemu and lxc areas share about guests: the per-guest flock (Proxmox's
 * lock_config, local to the node), which node holds a vmid (VMs and containers share one id space),
 * the pools of user.cfg a new guest joins and whether a guest's base images back linked clones. */
#pragma once

#include "daemon/core/pved.h"

/* Blocking (task workers): an flock on path (made with its two parent directories), waited for up to
 * timeout_ms; EBUSY "can't lock file '...' - got timeout". The fd holds the lock until closed. */
int pved_guest_lock_wait(const char *path, int timeout_ms, int *ret_fd, pve_error **err);
/* On the loop: tries, then again on a timer until timeout_ms; done gets the fd or the error. */
typedef void (*pved_guest_lock_fn)(pved *d, int fd, pve_error *err, void *ud);
void pved_guest_lock_async(pved *d, const char *path, int timeout_ms, pved_guest_lock_fn done,
			   void *ud);

/* Who may see which guests in a list (VM.Audit on /vms/<vmid>, through its pool too): asked once for
 * them all when no ACL or pool sets anything below /vms, as it usually is, else per guest. The qemu
 * and lxc lists and /cluster/resources (other nodes' guests too) share it. */
typedef struct pved_guest_audit {
	pved_call *c;
	bool uniform, allowed;
} pved_guest_audit;
void pved_guest_audit_init(pved_guest_audit *a, pved_call *c);
bool pved_guest_audit_may(const pved_guest_audit *a, long long vmid);

/* The node holding a guest with this id (a VM or a container, on any node), or NULL. */
char *pved_guest_owner(pved *d, long long vmid);
/* Whether user.cfg has the pool. */
bool pved_guest_pool_exists(pved *d, const char *pool);
/* Adds vmid to pool in user.cfg (blocking: task workers). */
int pved_guest_pool_add(pved *d, long long vmid, const char *pool, pve_error **err);
/* Removes vmid from every pool (a destroy with purge; blocking, best effort); true when it was in one. */
bool pved_guest_pools_remove(pved *d, long long vmid);

/* Whether the volume is the guest's own, as its storage's volume name says (Proxmox's owner from
 * PVE::Storage::path): a linked clone's "300/base-300-disk-0.qcow2/301/vm-301-disk-0.qcow2" is 301's,
 * not its base's 300. False on a storage scfg does not have or a name that does not parse. */
bool pved_guest_volume_owned(const pve_sectioncfg *scfg, const char *volid, long long vmid);
/* Blocking: before any of volids is freed, EBUSY (storage/'s "base volume 'x' is still in use by linked
 * clones", *ret_volid the volid) when one is a base image a linked clone uses. Volumes on storages
 * missing or not on this node are skipped; a storage that can't list is skipped too, with a task
 * warning when warn (Proxmox's destroy_vm: the free fails later anyway). */
int pved_guest_check_bases_unused(pved *d, const pve_sectioncfg *scfg, char *const *volids,
				  bool warn, const char **ret_volid, pve_error **err);

/* Proxmox's get_bandwidth_limit: the I/O limit in KiB/s (0: none) of an operation ("clone", "move",
 * "restore", "migration") over the storages it reads and writes (NULL-ended):
 * the smallest of each storage's bwlimit (its operation's limit, else its default), or datacenter.cfg's
 * when no storage has one. override (-1: none) lowers it; only a privileged caller (Sys.Modify on /,
 * which the handler decides) may raise it or lift it with 0. Blocking (reads datacenter.cfg). */
/* Datastore.AllocateSpace on /storage/<sid> for the caller (Proxmox's check of a target storage): 0,
 * or -EACCES with Proxmox's "Permission check failed (...)". */
int pved_guest_check_space(const pved_call *c, const char *sid, pve_error **err);

long long pved_guest_bwlimit(pved *d, const pve_sectioncfg *scfg, const char *operation,
			     const char *const *sids, long long override, bool privileged);
