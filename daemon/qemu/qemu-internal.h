/* daemon/qemu: what the qemu area's files share: the table of this node's VMs (their configs' summaries,
 * parsed once and refreshed through the store's change watch, and their QEMUs' runtime state), the
 * per-VM lock, the config file, disks, and the tasks' and handlers' tables. */
#pragma once

#include <event2/event.h>

#include "daemon/core/pved.h"
#include "kvm/kvm.h"
#include "storage/storage.h"

/* Proxmox's local lock of a VM: <root>/run/lock/qemu-server/lock-<vmid>.conf, waited for 10 s. */
#define QEMU_LOCK_TIMEOUT_MS 10000
/* pved samples the running VMs' CPU, memory and network figures this often. */
#define QEMU_SAMPLE_INTERVAL_SEC 5
/* pved asks each running QEMU's monitor this often whether it still answers. */
#define QEMU_HEALTH_INTERVAL_SEC 10
#define QEMU_HEALTH_TIMEOUT_MS 5000

typedef struct qemu_vm {
	pved *d; /* for the callbacks of its monitor connection and timers */
	long long vmid;
	/* from the config's main section */
	char *name, *tags, *lock;
	bool template_;
	bool agent;
	bool serial; /* a serial0 socket */
	uint64_t maxmem; /* bytes */
	int cpus;
	uint64_t maxdisk; /* the boot disk's size */
	/* the runtime: proc.pid 0 when no QEMU runs */
	kvm_proc proc;
	kvm_qmp *qmp; /* pved's own monitor connection, when up */
	bool qmp_connecting;
	char qmpstatus[24]; /* query-status's "status" as last seen */
	char *running_machine, *running_qemu;
	struct event *retry; /* reconnecting to the monitor, or watching for a QEMU to appear */
	unsigned retries;
	double expect_until; /* a pid file appeared: its QEMU is looked for until then (monotonic) */
	uint64_t cpu_ticks; /* at the last sample */
	double sample_at; /* monotonic seconds */
	double cpu; /* share of one CPU per CPU of the VM, as Proxmox: 0..1 */
	uint64_t mem, netin, netout;
	/* the printed list and resource entries, dropped when anything in them changes */
	char *list_json, *res_json;
	time_t list_json_at;
} qemu_vm;

struct pved_qemu_state {
	kvm_schema *schema;
	qemu_vm **vms; /* sorted by vmid */
	size_t n, cap;
	char *conf_dir; /* "nodes/<node>/qemu-server", below etc/pve */
	char *run_dir; /* <root>/run/qemu-server */
	int run_watch; /* inotify on run_dir: QEMUs' pid files appear and go */
	struct event *run_watch_ev;
	struct event *sampler, *health;
	kvm_probe_result probe;
	bool probed;
	/* the pools' VMs, from user.cfg, sorted by vmid */
	struct vm_pool *pools;
	size_t n_pools;
};

/* ---- the area's state and the VM table (vms.c) ---- */

/* The VM config keys (the create route's parameters); in a task worker, loaded on first use. */
const kvm_schema *qemu_schema(pved *d);
/* "nodes/<node>/qemu-server/<vmid>.conf" (below etc/pve). */
char *qemu_conf_path(const pved *d, long long vmid);
char *qemu_run_dir(const pved *d);
qemu_vm *qemu_vm_find(pved *d, long long vmid);
/* Rereads one VM's config into the table (adds it, or drops it when the file is gone). */
void qemu_vm_refresh(pved *d, long long vmid);
void qemu_vms_load(pved *d);
void qemu_vms_free(pved *d);
/* Looks for the VM's QEMU now (its pid file) and attaches when it runs: for a start that pved has not
 * seen yet. */
void qemu_vm_check_running(pved *d, qemu_vm *vm);
/* The VM's QMP connection on the loop, attached now if QEMU runs and pved has none yet: a command
 * given to it while it connects waits for it (within the command's own timeout). NULL when QEMU does
 * not run or cannot be reached. */
kvm_qmp *qemu_vm_qmp(pved *d, qemu_vm *vm);
bool qemu_vm_running(const qemu_vm *vm);
void qemu_runtime_start(pved *d);
void qemu_runtime_stop(pved *d);
/* The vmlist entry (full: with the runtime figures) and the /cluster/resources entry, as JSON text. */
const char *qemu_vm_list_json(pved *d, qemu_vm *vm);
const char *qemu_vm_resource_json(pved *d, qemu_vm *vm);
/* status/current's answer. */
cJSON *qemu_vm_status_json(pved *d, qemu_vm *vm);
void qemu_vm_changed(qemu_vm *vm);

/* ---- the per-VM lock (lock.c) ---- */

char *qemu_lock_path(const pved *d, long long vmid);
/* Blocking (task workers): waits up to timeout_ms; EBUSY "can't lock file '...' - got timeout". The fd
 * holds the lock until closed. */
int qemu_lock_wait(pved *d, long long vmid, int timeout_ms, int *ret_fd, pve_error **err);
/* On the loop: tries, then again on a timer until the timeout; done gets the fd or the error. */
typedef void (*qemu_lock_fn)(pved *d, int fd, pve_error *err, void *ud);
void qemu_lock_async(pved *d, long long vmid, qemu_lock_fn done, void *ud);

/* ---- the config file (config.c) ---- */

/* Reads and parses the VM's config: ENOENT "Configuration file '...' does not exist". */
int qemu_conf_load(pved *d, long long vmid, pve_config **ret,
		   char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err);
/* Writes it back; expected_digest (may be NULL) guards against a change meanwhile. */
int qemu_conf_write(pved *d, long long vmid, const pve_config *c, const char *expected_digest,
		    pve_error **err);
/* Proxmox's check_lock: EBUSY "VM is locked (<what>)" when the config holds a `lock:`. */
int qemu_conf_check_lock(const pve_config *c, pve_error **err);
bool qemu_conf_protected(const pve_config *c);
/* The parameters that are config keys, as strings (as they go into the file). */
cJSON *qemu_config_params(pved *d, const cJSON *params);
/* Each key's privilege on /vms/<vmid> (or /pool/<pool>), as Proxmox's check_vm_modify_config_perm;
 * root@pam passes. EACCES naming what is missing. */
int qemu_check_keys_perm(pved_call *c, long long vmid, const char *pool, char **keys,
			 pve_error **err);
/* The values a create or an update sets, checked before anything is locked (storages that exist and
 * hold images, volumes of the right content, bridges that exist, root-only keys; each failure names its
 * key); cdrom becomes ide2, a NIC without a MAC address gets one, vmgenid 1 a UUID. */
int qemu_check_values(pved_call *c, long long vmid, const char *pool, cJSON *params,
		      const char *default_storage, pve_error **err);

/* ---- disks (disks.c; blocking: task workers and queue threads) ---- */

/* storage.cfg, parsed. */
int qemu_storage_cfg(pved *d, pve_sectioncfg **ret, pve_error **err);
/* The path and format of a volume ID (activating storage and volume) or an absolute path. */
int qemu_volume_path(pved *d, const pve_sectioncfg *scfg, const char *volid, char **ret_path,
		     char **ret_format, pve_error **err);
/* Allocates the drive values of section that ask for it (STORAGE:SIZE, STORAGE:0,import-from=...),
 * replacing them with the volumes made; *ret_made (NULL-terminated volids) lists them for a rollback.
 * default_storage for a bare SIZE. */
int qemu_disks_allocate(pved *d, const pve_sectioncfg *scfg, long long vmid, pve_config *c,
			const char *section, const char *default_storage, char ***ret_made,
			pve_error **err);
/* Frees volumes (best effort; failures are task warnings when warn, else ignored). */
void qemu_disks_free(pved *d, const pve_sectioncfg *scfg, char **volids, bool warn);

/* Adds vmid to pool in user.cfg (create.c; blocking). */
int qemu_pool_add(pved *d, long long vmid, const char *pool, pve_error **err);
/* The node holding a guest with this id (a VM or a container, on any node), or NULL. */
char *qemu_vmid_owner(pved *d, long long vmid);
/* Whether user.cfg has the pool. */
bool qemu_pool_exists(pved *d, const char *pool);

/* Hot-plugs what [PENDING] holds into the VM's running QEMU (hotplug.c; blocking): new NICs and scsi or
 * virtio disks in, deleted ones out (a forced deletion's volume added to *ret_destroy), each moved to
 * the main section; the rest stays pending. 0 when the VM does not run. A device that fails stays
 * pending: EINVAL naming the first such key ("hotplug problem - ..."), the others still done. */
int qemu_hotplug_pending(pved *d, long long vmid, pve_config *c, const pve_sectioncfg *scfg,
			 char ***ret_destroy, pve_error **err);

/* ---- starting (status.c; in a task worker) ---- */

/* Suspend to disk (suspend.c; task workers): the RAM into a state volume, `lock: suspended`, QEMU
 * stopped; and the way back for a QEMU just started paused, the per-VM lock held. */
int qemu_suspend_todisk(pved *d, long long vmid, const cJSON *args, pve_error **err);
int qemu_resume_from_disk(pved *d, long long vmid, pve_error **err);

/* The tap of NIC key (n as kvm_net_parse read it) made and put on its bridge in pved's namespace, up,
 * with the NIC's MTU and VLAN tag: its fd, or a negative errno (a missing bridge names key). */
int qemu_tap_plug(long long vmid, const char *key, const kvm_net *n, pve_error **err);

/* Starts the VM's QEMU (pending changes applied first); the caller holds the VM's lock. args: the task's
 * (skiplock, kvm_state, kvm_percent). */
int qemu_vm_start(pved *d, long long vmid, const cJSON *args, pve_error **err);

/* ---- the guest agent (agent.c) ---- */

/* Whether an `agent:` value enables the agent ("1", "enabled=1,...", "0,type=isa"). */
bool qemu_agent_enabled(const char *value);
/* guest-shutdown through the agent, in a task worker: 0 once sent, or KVM_QGA_NOT_RUNNING when the
 * agent does not answer its sync. */
int qemu_agent_shutdown(pved *d, long long vmid, pve_error **err);

/* ---- cloud-init (cloudinit.c) ---- */

/* Whether a key is one of the cloud-init options (cicustom, ciuser, ipconfigN...). */
bool qemu_cloudinit_key(const char *key);
/* The drive key of the config section's cloud-init drive ("ide2"), or NULL. Static storage. */
const char *qemu_cloudinit_drive(const pve_config *c, const char *section);
/* Whether a drive's file asks for a new cloud-init volume: "STORAGE:cloudinit". */
bool qemu_cloudinit_request(const char *file);
/* A cloud-init option set on a VM that has (and gets) no cloud-init drive: EINVAL naming it. c: the
 * config as it is (NULL at a create). */
int qemu_cloudinit_check_keys(const pve_config *c, const cJSON *set, pve_error **err);
/* Allocates the cloud-init volume a "STORAGE:cloudinit" drive asks for (in a task worker); the drive's
 * value to store. */
int qemu_cloudinit_allocate(pved *d, const pve_sectioncfg *scfg, long long vmid, pve_config *c,
			    const char *section, const char *key, kvm_drive *drv, char **ret_volid,
			    char **ret_value, pve_error **err);
/* Writes the image of the config's cloud-init drive (at a start; blocks) and drops
 * [special:cloudinit]; *ret_changed when the config must be written. */
int qemu_cloudinit_generate(pved *d, long long vmid, pve_config *c, bool *ret_changed,
			    pve_error **err);
/* With `hotplug` cloudinit: a running VM's cloud-init image made again when [special:cloudinit] says
 * the config changed since (blocks; the medium changed over QMP) and the section dropped. 1 when
 * done, 0 when nothing was to do. */
int qemu_cloudinit_hotplug(pved *d, long long vmid, pve_config *c, const pve_sectioncfg *scfg,
			   pve_error **err);
/* Whether a key's changes are recorded in [special:cloudinit]: the options, name, the NICs. */
bool qemu_cloudinit_recorded_key(const char *key);
/* Records a change of key (old/new: NULL when unset) the image does not hold yet. */
void qemu_cloudinit_record(pve_config *c, const char *key, const char *old, const char *new_);

/* ---- tables ---- */

extern const pved_handler pved_handlers_qemu_config[];
extern const pved_handler pved_handlers_qemu_status[];
extern const pved_handler pved_handlers_qemu_create[];
extern const pved_handler pved_handlers_qemu_agent[];
extern const pved_handler pved_handlers_qemu_cloudinit[];
extern const pved_handler pved_handlers_qemu_console[];
extern const pved_task_kind pved_tasks_qemu_console[];
extern const pved_task_kind pved_tasks_qemu_config[];
extern const pved_task_kind pved_tasks_qemu_status[];
extern const pved_task_kind pved_tasks_qemu_create[];

/* GET /cluster/resources: the VMs (area hook). */
void qemu_resources(pved_call *c, const char *type, pve_buf *out);
