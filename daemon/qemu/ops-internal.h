/* daemon/qemu: what the VM operations (snapshots, template and clone, resize, move_disk, unlink,
 * feature) share: their disks' volumes, the running QEMU's monitor, a stop inside a task, the config's
 * `lock:` key set and cleared around the long work. All of it blocks: task workers only. */
#pragma once

#include "daemon/qemu/qemu-internal.h"

/* A volume of a drive, its storage activated. */
typedef struct qemu_vol {
	pve_storage st;
	char *sid, *volname;
} qemu_vol;
void qemu_vol_clear(qemu_vol *v);
int qemu_vol_open(pved *d, const pve_sectioncfg *scfg, const char *volid, qemu_vol *ret,
		  pve_error **err);

/* The drive keys of a section (NULL: the main one) that hold a volume of their own: no CD-ROM, no
 * "none"; unused[n] with with_unused. NULL-terminated. */
char **qemu_ops_disk_keys(const pve_config *c, const char *section, bool with_unused);
/* The volume ID (or path) of a drive value; NULL for a bad one. */
char *qemu_ops_drive_volid(pved *d, const char *key, const char *value);
/* A drive value with its volume replaced, and its size (when not 0); a format option that differs from
 * format (when given) dropped. NULL for a bad value. */
char *qemu_ops_drive_with(pved *d, const char *key, const char *value, const char *volid,
			  uint64_t size, const char *format);
/* Whether every disk of section has the storage feature (snapshot: at snap). */
bool qemu_ops_has_feature(pved *d, const pve_sectioncfg *scfg, const pve_config *c,
			  const char *section, pve_volume_feature f, const char *snap);

/* The size and format of drive key's volume v: asked of QEMU when it runs (it holds the image), else of
 * the storage. */
int qemu_ops_disk_size(pved *d, long long vmid, const char *key, const qemu_vol *v, bool running,
		       uint64_t *ret_size, char **ret_format, pve_error **err);

/* The VM's QEMU, when one runs. */
bool qemu_ops_running(pved *d, long long vmid, kvm_proc *ret);
int qemu_ops_monitor(pved *d, long long vmid, kvm_qmp_sync **ret, pve_error **err);
/* Stops a running QEMU (quit, then SIGTERM and SIGKILL if it lingers). */
int qemu_ops_stop(pved *d, long long vmid, pve_error **err);

/* The running QEMU's disk copied by drive-mirror to path (an existing image of format fmt); then with
 * pivot QEMU switches to the copy (move_disk), without it QEMU stays on its disk and the copy is the
 * disk at the moment the mirror was ready (a clone). bwlimit_kib (0: none) is the
 * mirror's speed. */
int qemu_ops_mirror(pved *d, long long vmid, const char *disk, const char *path, const char *fmt,
		    bool pivot, long long bwlimit_kib, pve_error **err);
/* bwlimit (KiB/s, 0: none) as qemu-img convert's -r (bytes/s) into argv at *k; rate is its buffer. */
void qemu_ops_rate_arg(long long bwlimit_kib, char rate[32], const char **argv, size_t *k);

/* A RAM state volume (snapshot.c): a qcow2 vm-VMID-state-NAME on storage (NULL: vmstatestorage, else the
 * first disk's storage, else local) that keeps the RAM in an internal snapshot; upstream QEMU has no
 * Proxmox state file. */
int qemu_ops_state_alloc(pved *d, const pve_sectioncfg *scfg, const pve_config *c, long long vmid,
			 const char *name, const char *storage, char **ret_volid, pve_error **err);
/* Saves the running VM's RAM (QEMU's snapshot-save job, tag) into the state volume, with_disks also the
 * disks of section (one instant); load: snapshot-load into a QEMU started paused. */
int qemu_ops_state_job(pved *d, const pve_sectioncfg *scfg, const pve_config *c,
		       const char *section, long long vmid, const char *tag,
		       const char *state_volid, bool load, bool with_disks, pve_error **err);

/* Sets (what non-NULL) or clears the config's `lock:` under the per-VM lock; with what, the config
 * must not be locked already (unless by what when again is true). */
int qemu_ops_set_lock(pved *d, long long vmid, const char *what, pve_error **err);

/* The task arguments a start needs from pved (the /dev/kvm verdict). */
void qemu_ops_add_kvm_args(pved *d, cJSON *args);

extern const pved_handler pved_handlers_qemu_snapshot[];
extern const pved_handler pved_handlers_qemu_clone[];
extern const pved_task_kind pved_tasks_qemu_clone[];
extern const pved_handler pved_handlers_qemu_diskops[];
extern const pved_task_kind pved_tasks_qemu_diskops[];
extern const pved_task_kind pved_tasks_qemu_snapshot[];
