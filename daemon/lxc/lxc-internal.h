/* daemon/lxc: what the lxc area's files share: the table of this node's containers (their configs'
 * summaries, refreshed through the store's change watch), the config file with its pending section,
 * the per-CT lock, and the handlers' and tasks' tables. */
#pragma once

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "daemon/core/pved.h"
#include "lxc/lxc.h"
#include "storage/storage.h"

/* Proxmox's per-CT lock: <root>/run/lock/lxc/pve-config-<vmid>.lock, waited for 10 s. */
#define CT_LOCK_TIMEOUT_MS 10000
/* Proxmox writes a container's pending changes into this section. */
#define CT_SECTION_PENDING "pve:pending"
/* Proxmox's defaults: memory and swap in MiB. */
#define CT_DEFAULT_MEMORY 512
#define CT_DEFAULT_SWAP 512

typedef struct ct_entry {
	long long vmid;
	char *name, *tags, *lock;
	bool template_;
	uint64_t maxmem, maxswap, maxdisk; /* bytes */
	int cpus;
	uint32_t nics; /* bit N: the config has netN */
	/* the last CPU sample, as pvestatd keeps it: the cgroup's usage_usec, when it was read
	 * (monotonic ms) in which run of the init (its starttime), and the share computed then */
	uint64_t cpu_usec;
	int64_t sample_ms;
	unsigned long long sample_start;
	double cpu;
	/* the last disk sample (statvfs of the init's root, off the loop): bytes used and in all, of
	 * which run (the init's starttime) and when (monotonic ms); busy while one is being taken */
	uint64_t disk_used, disk_total;
	unsigned long long disk_start;
	int64_t disk_ms;
	bool disk_busy;
	char *list_json, *res_json; /* printed entries, dropped when anything in them changes */
} ct_entry;

struct pved_lxc_state {
	cJSON *props; /* config key -> property schema (families folded, "net[n]" with a count) */
	ct_entry **cts; /* sorted by vmid */
	size_t n, cap;
	char *conf_dir; /* "nodes/<node>/lxc", below etc/pve */
	char *run_dir; /* <root>/run/lxc */
	struct ct_pool *pools; /* the pools' containers, from user.cfg, sorted by vmid */
	size_t n_pools;
	int run_watch; /* inotify on run_dir: pid files that go are containers that ended */
	struct event *run_watch_ev;
	/* disk samples wanted (vmid and run of each), taken by one sweep at a time on the storage
	 * queue; flush_ev sends them once the handler that asked has returned */
	struct ct_disk_probe *disk_want;
	size_t n_disk_want, cap_disk_want;
	bool disk_sweeping;
	struct event *disk_flush_ev;
};

/* ---- the table (cts.c) ---- */

char *ct_conf_path(const pved *d, long long vmid);
char *ct_run_dir(const pved *d);
ct_entry *ct_find(pved *d, long long vmid);
void ct_refresh(pved *d, long long vmid);
void ct_load_all(pved *d);
void ct_free_all(pved *d);
/* Whether the container runs (its run files; cheap: a pid file and a stat), r filled when it does. */
bool ct_running(pved *d, long long vmid, lxc_running *r);
/* The init's age in seconds. */
uint64_t ct_uptime(const lxc_running *r);
/* What a container uses, as Proxmox's vmstatus gives it: zeros and the config's maxdisk when it is
 * stopped. cpu is the busy share of its cpus since the sample before (a new one when that is over a
 * second old), 0 at the first; disk and maxdisk are its root's statvfs as last sampled off the loop
 * (0 and the config's until the first sample of this run), a new sample asked when that one is older
 * than CT_DISK_MAX_AGE_MS. */
typedef struct ct_usage {
	double cpu;
	uint64_t mem, swap, disk, maxdisk, netin, netout, diskread, diskwrite;
} ct_usage;
#define CT_DISK_MAX_AGE_MS 10000
/* Whether it runs (r filled) and its usage, from one read of its run files and cgroup. */
bool ct_look(pved *d, ct_entry *ct, lxc_running *r, ct_usage *ret);
/* Asks for a disk sample of the running container (run: its init) in the next sweep; a no-op while one
 * is being taken. */
void ct_disk_want(pved *d, ct_entry *ct, const lxc_running *run);
/* Takes a disk sample of this one container now on the storage queue, then done(arg) on the loop
 * (at once when a sample of it is already being taken or the queue is full). */
void ct_disk_sample(pved *d, ct_entry *ct, const lxc_running *run, void (*done)(void *arg),
		    void *arg);
/* The run watch saw <vmid>.pid written: a new run's first sample, right after its start. */
void ct_disk_started(pved *d, long long vmid);
void ct_disk_free(pved *d);
const char *ct_list_json(pved *d, ct_entry *ct);
const char *ct_resource_json(pved *d, ct_entry *ct);

/* ---- the config (config.c) ---- */

/* The config keys' schemas (from the PUT .../config route; in a task worker, from the embedded data). */
const cJSON *ct_schema(pved *d);
const cJSON *ct_schema_key(pved *d, const char *key);
int ct_conf_load(pved *d, long long vmid, pve_config **ret,
		 char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err);
int ct_conf_write(pved *d, long long vmid, const pve_config *c, const char *expected_digest,
		  pve_error **err);
/* Proxmox's check_lock: EBUSY "CT is locked (<what>)". */
int ct_conf_check_lock(const pve_config *c, pve_error **err);
bool ct_conf_bool(const pve_config *c, const char *section, const char *key, bool def);
long long ct_conf_int(const pve_config *c, const char *section, const char *key, long long def);
/* The limits of memory, swap (MiB), cpulimit (CPUs) and cpuunits (each NULL when unset) into s, as a
 * start and a live change of a running container set them (lxc_limit_files renders the files). */
void ct_limits_spec(lxc_spec *s, const char *memory, const char *swap, const char *cpulimit,
		    const char *cpuunits);
/* Checks value for key (EINVAL naming the key); *ret_typed (may be NULL) gets it as the API shows it. */
int ct_check_value(pved *d, const char *key, const char *value, cJSON **ret_typed, pve_error **err);
/* A mount point's (rootfs, mpN, unusedN) volume and its size from the value; size 0 when none. */
char *ct_mp_volume(const char *value);
uint64_t ct_mp_size(const char *value);
/* Whether vol is the volume of a mount point (rootfs, mpN, unusedN) of the snapshots, and with_main of
 * the main section too, except_key there left out (may be NULL). [pve:pending] does not count. */
bool ct_volume_referenced(const pve_config *c, const char *vol, const char *except_key,
			  bool with_main);
/* Whether a volume ID names a storage volume (not a bind mount's or a device's path). */
bool ct_volume_is_storage(const char *vol);
/* Whether a mount point's volume asks for a new one: STORAGE:SIZE_IN_GiB (0: a subvolume). */
bool ct_alloc_request(const char *vol);
/* The volumes the config owns (rootfs, mpN, unusedN of every section), once each. */
char **ct_conf_volumes(const pve_config *c, long long vmid);
/* The per-CT flock (daemon/core/guest.c). */
char *ct_lock_path(const pved *d, long long vmid);
int ct_lock_wait(pved *d, long long vmid, int *ret_fd, pve_error **err);
/* Applies [pve:pending] to the main section and drops it; volumes to free go to *ret_destroy. */
void ct_apply_pending(pve_config *c, char ***ret_destroy);
/* Allocates the volume a mount point's value asks for (STORAGE:SIZE_GB; create.c): a raw image
 * formatted ext4, or a subvolume for size 0 and on btrfs, owned by the container's root; the value to
 * store and the new volid (NULL when the value asks for none). Blocking. */
int ct_alloc_mp(pved *d, const pve_sectioncfg *scfg, long long vmid, const char *key,
		const char *value, bool unprivileged, char **ret_value, char **ret_volid,
		pve_error **err);
/* storage.cfg, parsed. */
int ct_storage_cfg(pved *d, pve_sectioncfg **ret, pve_error **err);
/* Frees volumes (best effort; failures are task warnings when warn). */
void ct_volumes_free(pved *d, const pve_sectioncfg *scfg, char **volids, bool warn);
int ct_volume_storage(pved *d, const pve_sectioncfg *scfg, const char *volid, pve_storage *ret_st,
		      char **ret_volname, pve_error **err);

/* ---- power (power.c; task workers) ---- */

/* run/lxc/<vmid>.<key>: where a raw volume of the container is mounted while it runs. */
char *ct_mount_dir(pved *d, long long vmid, const char *key);
/* NIC netN's value as the runtime and the set-up take it (idx: N). */
int ct_nic_parse(long long vmid, int idx, const char *value, lxc_nic *n, pve_error **err);
/* Takes down what the container's start mounted (a no-op when nothing is). */
void ct_unmount_all(pved *d, long long vmid);
/* Starts it (pending applied, volumes mounted, veths on their bridges); the caller holds the lock. */
int ct_start(pved *d, long long vmid, bool skiplock, pve_error **err);
/* Stops it (force: at once; else the init is asked and killed after timeout_s), then unmounts. */
int ct_stop(pved *d, long long vmid, bool force, unsigned timeout_s, pve_error **err);

/* Runs argv in the running container as root and collects its stdout (at most limit bytes; blocking:
 * queue threads and task workers). */
int ct_exec_collect(pved *d, long long vmid, char *const *argv, unsigned timeout_s, size_t limit,
		    char **ret_out, int *ret_exitcode, pve_error **err);

/* The console a client attaches to by the config's cmode: 0 (/dev/console) or 1 (tty1). */
unsigned ct_console_tty(pved *d, long long vmid);

/* ---- tables ---- */

extern const pved_handler pved_handlers_lxc_config[];
extern const pved_handler pved_handlers_lxc_create[];
extern const pved_handler pved_handlers_lxc_destroy[];
extern const pved_task_kind pved_tasks_lxc_create[];
extern const pved_task_kind pved_tasks_lxc_destroy[];
extern const pved_handler pved_handlers_lxc_power[];
extern const pved_handler pved_handlers_lxc_exec[];
extern const pved_task_kind pved_tasks_lxc_exec[];
extern const pved_handler pved_handlers_lxc_snapshot[];
extern const pved_task_kind pved_tasks_lxc_snapshot[];
extern const pved_handler pved_handlers_lxc_disk[];
extern const pved_task_kind pved_tasks_lxc_disk[];
extern const pved_handler pved_handlers_lxc_console[];
extern const pved_task_kind pved_tasks_lxc_console[];
extern const pved_task_kind pved_tasks_lxc_power[];
