/* kvm: the public header of pved's QEMU and KVM layer: VM configs and their keys, the QEMU command line,
 * the /dev/kvm probe, QMP clients (asynchronous on a libevent loop, and blocking for task workers), QEMU
 * processes, their run files and their cgroups. A library: it includes common/ and system libraries
 * only; daemon/qemu/ combines it with storage/ and the config store. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

struct event_base;

/* ---- limits and families (Proxmox's QemuServer.pm, Drive.pm) --------------------------------------- */

#define KVM_MAX_IDE 4
#define KVM_MAX_SATA 6
#define KVM_MAX_SCSI 31
#define KVM_MAX_VIRTIO 16
#define KVM_MAX_NETS 32
#define KVM_MAX_SERIAL 4
#define KVM_MAX_PARALLEL 3
#define KVM_MAX_UNUSED 256

/* ---- the VM config schema ---------------------------------------------------------------------------
 * The keys of a VM config are the parameters of POST /nodes/{node}/qemu (the route table's, which daemon/
 * passes in) minus those that only steer the call (vmid, node, archive, storage, start, pool, ...), plus
 * the keys Proxmox keeps for itself (parent, snaptime, vmstate, runningmachine, runningcpu, meta,
 * running-nets-host-mtu). Families are folded as in the route table: "net[n]" with a count. Named formats
 * that common's validator does not know (pve-qm-boot, pve-vm-cpu-conf, pve-qm-ipconfig, pve-hotplug-
 * features, the drive formats' volume checks, ...) are checked here. */

typedef struct kvm_schema kvm_schema;

/* create_params: the "properties" object of the create route's parameters; copied. */
kvm_schema *kvm_schema_new(const cJSON *create_params);
void kvm_schema_free(kvm_schema *s);
static inline void kvm_schema_freep(kvm_schema **s)
{
	kvm_schema_free(*s);
}
#define _cleanup_kvm_schema_ _cleanup_(kvm_schema_freep)
/* The property schema of a config key ("net3" finds "net[n]"), or NULL when it is no config key. The
 * alias "cdrom" is a key of its own (ide2 in the file). */
const cJSON *kvm_schema_key(const kvm_schema *s, const char *key);
/* Whether a named format of the create route's parameters is one kvm/ checks (pve-qm-boot, pve-cpuset,
 * ...): common's validator does not know them. */
bool kvm_format_known(const char *name);
/* The config keys as an object of property schemas (families folded): GET .../config's answer shape. */
const cJSON *kvm_schema_props(const kvm_schema *s);
/* Checks value for key as Proxmox's check_type and the key's format do: 0, or EINVAL with the key as
 * param and Proxmox's message ("unknown setting 'x'", "value does not look like a valid ...").
 * *ret_typed (may be NULL) gets the value converted (booleans and integers as numbers). */
int kvm_config_check_value(const kvm_schema *s, const char *key, const char *value,
			   cJSON **ret_typed, pve_error **err);

/* ---- the VM config file -------------------------------------------------------------------------------
 * <root>/etc/pve/nodes/<node>/qemu-server/<vmid>.conf: pve_config's `key: value` lines with the main
 * section, [PENDING] (with its `delete:` line), [special:cloudinit], [special:fleecing] and one
 * section per snapshot; the description is the leading `#` lines. The text is kept line by line, so what
 * pved does not change prints back to the same bytes. */

#define KVM_SECTION_PENDING "PENDING"
#define KVM_SECTION_CLOUDINIT "special:cloudinit"

/* Parses the text (syntax, sections and keys' names; values are checked by kvm_config_check). */
int kvm_config_parse(const char *text, size_t len, pve_config **ret, pve_error **err);
/* Checks every key of the section (NULL: the main one) against the schema: 0, or EINVAL with
 * *ret_errors = {key: message} (may be NULL). The pending section's `delete` is checked as a key list;
 * [special:...] sections are not checked (Proxmox keeps them for information). */
int kvm_config_check(const pve_config *c, const char *section, const kvm_schema *s,
		     cJSON **ret_errors);
/* The config as GET .../config answers it: the section's valid keys typed as the schema says (booleans
 * and integers as numbers), the description, and with pending the [PENDING] values applied and its
 * deletions removed. Invalid keys are left out (Proxmox warns and drops them on read). */
cJSON *kvm_config_to_json(const pve_config *c, const char *section, const kvm_schema *s,
			  bool pending);
/* GET .../pending: [{key, value, pending, delete}] as Proxmox's config_with_pending_array (digest, when
 * given, is listed as a key too, as Proxmox's is; cipassword is masked). */
cJSON *kvm_config_pending_json(const pve_config *c, const kvm_schema *s, const char *digest);
/* The `delete:` list of [PENDING]: keys with an optional '!' (force) prefix. */
char **kvm_pending_deletes(const pve_config *c, bool *ret_force_of_each);
/* Whether [PENDING] holds nothing (no keys, no description); an empty one is dropped. A pending
 * description is the section's comment lines, as Proxmox writes it. */
bool kvm_pending_empty(const pve_config *c);
void kvm_pending_drop_if_empty(pve_config *c);
/* Records key in [PENDING]'s delete list (force: with '!'), or removes it from there. */
void kvm_pending_delete_add(pve_config *c, const char *key, bool force);
void kvm_pending_delete_remove(pve_config *c, const char *key);
/* Applies [PENDING] to the main section and removes it. A drive's volume that a change replaces or a
 * deletion removes becomes unused[n] (unless a snapshot or another key still uses it); a forced deletion
 * ('!') and the deletion of an unused[n] leave the volume to destroy in *ret_destroy (NULL-terminated;
 * may be NULL), which is the caller's to free through storage/. */
void kvm_config_apply_pending(pve_config *c, char ***ret_destroy);

/* A value as Proxmox's API shows it (boolean and integer keys as numbers). */
cJSON *kvm_config_value_json(const kvm_schema *s, const char *key, const char *value);
/* The first unused[n] key free in the main section, or NULL when all 256 are taken. */
char *kvm_config_next_unused(const pve_config *c);

/* ---- typed views of keys --------------------------------------------------------------------------- */

typedef enum kvm_bus {
	KVM_BUS_IDE,
	KVM_BUS_SATA,
	KVM_BUS_SCSI,
	KVM_BUS_VIRTIO,
	KVM_BUS_EFIDISK,
	KVM_BUS_TPMSTATE,
	KVM_BUS_UNUSED,
} kvm_bus;

/* Whether key names a drive: ide0-3, sata0-5, scsi0-30, virtio0-15, efidisk0, tpmstate0 (and with
 * unused, unused0-255); bus and index (may be NULL) say which. */
bool kvm_drive_key(const char *key, bool unused, kvm_bus *ret_bus, int *ret_index);
const char *kvm_bus_name(kvm_bus bus);

typedef struct kvm_drive {
	char key[16]; /* "scsi0" */
	kvm_bus bus;
	int index;
	cJSON *opts; /* every option, typed ("file", "size", "cache", ...) */
	const char *file; /* into opts: a volume ID, "none", "cdrom", or an absolute path */
	const char *format; /* into opts, or NULL */
	bool cdrom; /* media=cdrom */
	uint64_t size; /* bytes, 0 if not given */
} kvm_drive;
/* Parses a drive value against the key's format (the schema's): EINVAL naming key. "cdrom" as a key is
 * ide2 with media=cdrom. */
int kvm_drive_parse(const kvm_schema *s, const char *key, const char *value, kvm_drive *ret,
		    pve_error **err);
void kvm_drive_clear(kvm_drive *d);
/* Prints opts back in Proxmox's order (the file first, then the rest sorted). */
char *kvm_drive_print(const kvm_schema *s, const kvm_drive *d);
/* A new-disk request "STORAGE:SIZE" (size in GiB, may be fractional) or "STORAGE:0" with import-from:
 * 1 with *ret_storage and *ret_bytes; 0 when file is no allocation request. */
int kvm_drive_alloc_request(const char *file, char **ret_storage, uint64_t *ret_bytes);

typedef struct kvm_net {
	int index;
	char model[32];
	char macaddr[18]; /* "" when none given */
	char bridge[16]; /* "" when none */
	int tag; /* 0: none */
	int mtu, queues;
	bool firewall, link_down;
	double rate; /* MB/s, 0: none */
} kvm_net;
/* net[n] values: `virtio=BC:24:11:..,bridge=vmbr0,...` or `model=virtio,macaddr=...`. EINVAL naming key. */
int kvm_net_parse(const kvm_schema *s, const char *key, const char *value, kvm_net *ret,
		  pve_error **err);
/* The value with a generated macaddr (pve_random_mac with mac_prefix) if it had none, printed back in
 * Proxmox's order; NULL on a bad value. */
char *kvm_net_with_mac(const kvm_schema *s, const char *key, const char *value,
		       const char *mac_prefix);

/* Memory in MiB (memory: [current=]N; default 512). */
uint64_t kvm_config_memory_mib(const pve_config *c, const char *section);
/* sockets * cores (defaults 1), and vcpus when set. */
int kvm_config_cpus(const pve_config *c, const char *section, int *ret_vcpus);
/* A boolean key with its default. */
bool kvm_config_bool(const pve_config *c, const char *section, const char *key, bool def);
/* The boot order: the devices of `boot: order=a;b` or, without it, Proxmox's default (the first disk,
 * the CD-ROMs, the first NIC). NULL-terminated. */
char **kvm_config_boot_order(const pve_config *c, const kvm_schema *s);
/* The hot-plug features (hotplug: network,disk,usb by default; 0 none; 1 the default). EINVAL. */
enum {
	KVM_HOTPLUG_NETWORK = 1 << 0,
	KVM_HOTPLUG_DISK = 1 << 1,
	KVM_HOTPLUG_CPU = 1 << 2,
	KVM_HOTPLUG_MEMORY = 1 << 3,
	KVM_HOTPLUG_USB = 1 << 4,
	KVM_HOTPLUG_CLOUDINIT = 1 << 5,
};
int kvm_hotplug_parse(const char *value, unsigned *ret);
/* A fresh smbios1 value "uuid=<random v4 UUID>", and a vmgenid UUID. */
char *kvm_smbios1_new(void);
char *kvm_uuid_new(void);

/* ---- the QEMU command line -------------------------------------------------------------------------
 * One place (kvm/cmdline.c) turns a config into QEMU's argv; what it cannot know comes from the caller:
 * volumes resolved to paths by storage/, which bridges exist, the node's paths, the accelerator. The
 * result runs `qemu-system-x86_64 ... -daemonize`: QEMU detaches into a session of its own and outlives
 * the task that started it and pved. */

typedef struct kvm_runpaths {
	char *dir; /* <root>/run/qemu-server */
	long long vmid;
} kvm_runpaths;
/* <dir>/<vmid>.<what>: "pid", "qmp" (tools and task workers, one client at a time), "pved.qmp" (pved's
 * own lasting connection), "vnc", "qga", "serial0".. */
char *kvm_run_path(const char *run_dir, long long vmid, const char *what);

typedef struct kvm_cmdline_info {
	long long vmid;
	const char *run_dir; /* <root>/run/qemu-server */
	const char *qemu; /* the binary: /usr/bin/qemu-system-x86_64 */
	bool kvm; /* use KVM (else TCG) */
	bool allow_args; /* the config's `args` are used (root set them); refused otherwise */
	/* OVMF's code image for bios: ovmf, or NULL for kvm_ovmf_files's; without an efidisk0 the VM
	 * boots with throw-away EFI variables in <run>/<vmid>.efivars, which the caller copies from
	 * OVMF's template first. */
	const char *ovmf_code;
	const char *machine; /* a machine to force, or NULL */
	/* The path and format of a volume ID (or absolute path) as storage/ resolves it. */
	int (*resolve)(void *ud, const char *volid, char **ret_path, char **ret_format,
		       pve_error **err);
	/* Whether a bridge exists (a NIC on a missing bridge is an error naming it). */
	bool (*bridge_exists)(void *ud, const char *bridge);
	void *ud;
	/* Tap fds of the NICs (index: net[n]) that the caller opened (kvm_tap_open), or -1; a NIC with
	 * a bridge and no fd gets `ifname=tap<vmid>i<n>` only (showcmd). */
	const int *tap_fds;
	/* Told what the command line leaves out or works around (may be NULL). */
	void (*warn)(void *ud, const char *msg);
	/* SPICE, for a qxl or virtio display as Proxmox gives it one: the TLS port on 127.0.0.1 the
	 * caller allocated (KVM_SPICE_PORT_MIN..MAX, pve_listen_local_port), and where the node's
	 * certificate and key and the cluster's CA are, which the TLS port presents: the config
	 * store's directory (<root>/etc/pve) and the node's name. */
	int spice_port;
	const char *pve_dir, *node;
} kvm_cmdline_info;

/* Proxmox's spice_port_range: the ports of the VMs' SPICE servers (spiceproxy refuses others). */
#define KVM_SPICE_PORT_MIN 61000
#define KVM_SPICE_PORT_MAX 61999
/* Whether a vga value (the config's, or NULL) gives the VM a SPICE server: qxl, qxl2..qxl4, virtio,
 * virtio-gl, as Proxmox's config_to_command. */
bool kvm_vga_has_spice(const char *vga);
/* OVMF's code and variables template for an efidisk0 value (or NULL) and machine, as Proxmox's get_ovmf_files picks them from
 * its firmware package, here from Debian's ovmf: the 2 MiB images by default, the 4 MiB ones for
 * efitype=4m (the secure-boot code on q35, Microsoft's keys in the template with pre-enrolled-keys). */
#define KVM_OVMF_DIR "/usr/share/OVMF"
/* A TPM state volume's size, fixed as Proxmox's TPMSTATE_DISK_SIZE. */
#define KVM_TPMSTATE_SIZE (4 * 1024 * 1024)
void kvm_ovmf_files(const kvm_schema *s, const char *efidisk0, const char *machine,
		    const char **ret_code, const char **ret_vars);

/* The argv (NULL-terminated) for the config's main section. EINVAL naming the key at fault. */
int kvm_cmdline_build(const pve_config *c, const kvm_schema *s, const kvm_cmdline_info *info,
		      char ***ret_argv, pve_error **err);
/* The options of argv that belong to key, as pairs (NULL-terminated: "-drive", "...,id=drive-scsi1",
 * "-device", "...,id=scsi1", ...): what hot-plug adds to a running QEMU. */
char **kvm_cmdline_pick(char *const *argv, const char *key);
/* The argv as a shell would read it (each word quoted where needed), for showcmd. */
char *kvm_cmdline_quote(char *const *argv);

/* ---- CPU and memory hot-plug's layout (Proxmox's qemu_cpu_hotplug and Memory.pm) ------------------ */
/* With memory hot-plug the first 1 GiB is static RAM; the rest are pc-dimms. */
#define KVM_STATIC_MEMORY_MIB 1024
/* dimm0..dimm255: 8 rounds of 32 slots, the dimm size doubling each round (512 MiB first). */
#define KVM_MAX_DIMMS 256
typedef struct kvm_dimm {
	int index; /* dimmN; its backend is mem-dimmN */
	uint64_t size_mib; /* this dimm's size */
	int node; /* the guest NUMA node it goes to (one node per socket) */
	uint64_t total_mib; /* the VM's memory with dimm0..dimmN plugged */
} kvm_dimm;
/* numa0..numa7: a guest NUMA topology of the config's own. */
#define KVM_MAX_NUMA 8
/* How many numaN keys c's main section has, their N in ret_nodes (may be NULL), in order. */
int kvm_config_numa_nodes(const pve_config *c, int ret_nodes[KVM_MAX_NUMA]);
/* The i-th dimm of c's layout; false past the last slot. */
bool kvm_dimm_nth(const pve_config *c, int i, kvm_dimm *ret);
/* Sockets (sockets:, else the old smp:, else 1). */
int kvm_config_sockets(const pve_config *c);
/* The most memory in MiB a VM with memory hot-plug may have (Proxmox's get_max_mem: half of what
 * the guest's physical address bits reach, at most 4 TiB). */
uint64_t kvm_memory_max_mib(const pve_config *c, const kvm_schema *s);
/* The socket and core of vCPU id (1-based, cpuN as Proxmox names the hot-plugged ones). */
void kvm_cpu_slot(const pve_config *c, int id, int *ret_socket, int *ret_core);

/* ---- NICs -------------------------------------------------------------------------------------------- */

/* Whether a bridge of that name exists (/sys/class/net/NAME/bridge). */
bool kvm_bridge_exists(const char *bridge);
/* Creates the tap tap<vmid>i<n> (IFF_TAP, IFF_NO_PI, IFF_VNET_HDR), its name in ret_name, and returns its
 * fd (QEMU gets it as `-netdev tap,fd=N`; the tap goes away with QEMU's last fd), or a negative errno.
 * It is on no bridge and down: the caller attaches it (daemon/qemu's qemu_tap_plug). */
int kvm_tap_open(long long vmid, int index, char ret_name[static 16], pve_error **err);

/* ---- /dev/kvm ------------------------------------------------------------------------------------------
 * The probe opens /dev/kvm, checks KVM_GET_API_VERSION (12), creates a VM with one page of memory and a
 * vCPU, runs a real-mode loop of N iterations through KVM_RUN to its `hlt` (checking its result), and
 * times it against the same loop run on the host: the guest's speed as a percentage of the host's. KVM on
 * hardware runs it at about the host's speed; a software KVM (this build machine's PVM) runs it about a
 * thousand times slower. */

typedef enum kvm_state {
	KVM_STATE_ABSENT, /* no /dev/kvm, or an ioctl failed */
	KVM_STATE_DEGRADED, /* works, but under KVM_OK_PERCENT of the host's speed */
	KVM_STATE_OK,
} kvm_state;

/* The guest must reach this share of the host's speed to be "ok". */
#define KVM_OK_PERCENT 25.0

typedef struct kvm_probe_result {
	kvm_state state;
	int api_version;
	double percent; /* guest speed / host speed * 100 (0 when absent) */
	double guest_ms, host_ms; /* the loop's time in the guest and on the host */
	unsigned long iterations;
	char detail[256]; /* what failed, or what was measured */
} kvm_probe_result;

/* path: "/dev/kvm" normally (tests pass another). Blocks: some milliseconds on hardware, a fraction of
 * a second on a software KVM. Never fails: a failure is KVM_STATE_ABSENT with detail. */
void kvm_probe(const char *path, kvm_probe_result *ret);
const char *kvm_state_name(kvm_state s);

/* ---- QMP ----------------------------------------------------------------------------------------------
 * QEMU's monitor speaks JSON objects, one per line: a greeting {"QMP": ...}, replies {"return": ..,
 * "id": ..} or {"error": {"class", "desc"}, "id": ..}, and events {"event": .., "data": ..,
 * "timestamp": ..} at any time. kvm_qmp_parse is the one reader of those lines (fuzzed). */

#define KVM_QMP_MAX_LINE (16 * 1024 * 1024) /* query-qmp-schema is about 200 KiB; room to spare */
#define KVM_QMP_MAX_DEPTH 64

typedef enum kvm_qmp_kind {
	KVM_QMP_GREETING,
	KVM_QMP_RETURN,
	KVM_QMP_ERROR,
	KVM_QMP_EVENT,
} kvm_qmp_kind;

typedef struct kvm_qmp_msg {
	kvm_qmp_kind kind;
	cJSON *root; /* the whole message (owned) */
	const cJSON *value; /* RETURN: "return"; EVENT: "data" (may be NULL); GREETING: "QMP" */
	const char *id; /* RETURN, ERROR: the id as sent (a string), or NULL */
	const char *event; /* EVENT: its name */
	const char *error_class, *error_desc; /* ERROR */
} kvm_qmp_msg;

/* One line (without its newline): EINVAL for anything that is not one of the four shapes. */
int kvm_qmp_parse(const char *line, size_t len, kvm_qmp_msg *ret, pve_error **err);
void kvm_qmp_msg_clear(kvm_qmp_msg *m);

/* The asynchronous client, on a libevent loop. Connects to a unix socket without waiting, reads the
 * greeting, negotiates capabilities, then runs commands in order with ids and a time limit each and
 * delivers events as they come. When QEMU closes the socket, the connection breaks or a command times
 * out, every pending command fails and on_close runs once; the client is then dead (free it). */

typedef struct kvm_qmp kvm_qmp;

typedef struct kvm_qmp_callbacks {
	/* The capabilities were negotiated: commands run now. */
	void (*on_ready)(void *ud);
	/* An event (data may be NULL). */
	void (*on_event)(void *ud, const char *event, const cJSON *data, double timestamp);
	/* The connection ended (EOF: err NULL; else why: a timeout, a broken line, a refusal). */
	void (*on_close)(void *ud, const pve_error *err);
} kvm_qmp_callbacks;

/* The answer of one command: ret is "return" (or NULL on an error, err set); neither outlives the call.
 * Called exactly once per command, also when the client is closed or freed (err then says so). */
typedef void (*kvm_qmp_reply_fn)(void *ud, const cJSON *ret, const pve_error *err);

/* Starts connecting to path; 0 with *ret, or a negative errno (ENOENT, ECONNREFUSED: no QEMU listens). */
int kvm_qmp_connect(struct event_base *base, const char *path, const kvm_qmp_callbacks *cb,
		    void *ud, kvm_qmp **ret, pve_error **err);
/* Queues a command (args taken, may be NULL); fn runs once with the reply, or with an error when
 * timeout_ms (0: 10 s) passes first, which also closes the connection (a QEMU that does not answer is
 * hung). Fails (fn not called) only on a dead client. */
int kvm_qmp_command(kvm_qmp *q, const char *command, cJSON *args, int timeout_ms,
		    kvm_qmp_reply_fn fn, void *ud, pve_error **err);
bool kvm_qmp_is_ready(const kvm_qmp *q);
/* Fails pending commands (their fn runs with an error) and frees; no on_close. NULL is fine. */
void kvm_qmp_free(kvm_qmp *q);

/* The blocking client, for task workers and tools: one connection, commands in turn, each waiting at
 * most its timeout. Events that arrive meanwhile go to on_event (may be NULL). */
typedef struct kvm_qmp_sync kvm_qmp_sync;
int kvm_qmp_sync_open(const char *path, int timeout_ms, kvm_qmp_sync **ret, pve_error **err);
/* *ret_return (may be NULL) gets a copy of "return". An error reply is EIO with QEMU's desc. */
int kvm_qmp_sync_command(kvm_qmp_sync *q, const char *command, cJSON *args, int timeout_ms,
			 cJSON **ret_return, pve_error **err);
/* Hands QEMU an fd under a name (getfd, the fd passed with SCM_RIGHTS): a tap for netdev_add. */
int kvm_qmp_sync_getfd(kvm_qmp_sync *q, const char *fdname, int fd, pve_error **err);
/* Waits up to timeout_ms for the event (or for the connection's end, which is also success when
 * eof_ok): 0 when it came, ETIMEDOUT. */
int kvm_qmp_sync_wait_event(kvm_qmp_sync *q, const char *event, bool eof_ok, int timeout_ms,
			    pve_error **err);
void kvm_qmp_sync_set_event_cb(kvm_qmp_sync *q,
			       void (*on_event)(void *ud, const char *event, const cJSON *data),
			       void *ud);
void kvm_qmp_sync_close(kvm_qmp_sync *q);

/* ---- the guest agent (kvm/qga.c) ---------------------------------------------------------------------
 * qemu-ga speaks QMP's JSON over the VM's virtio-serial port, which QEMU serves as <run>/<vmid>.qga to one
 * client at a time: no greeting, no ids, no events, and the answer to a command a former client gave up
 * on may still come. So a client first sends 0xFF (the agent drops any partial input) and
 * guest-sync-delimited with a random id; the agent answers 0xFF and {"return": id}, and everything before
 * that is skipped. Then commands, one at a time, each answered {"return": ...} or {"error": {...}};
 * guest-shutdown and the suspend commands are not answered when they work. As in Proxmox, an agent that
 * does not answer the sync within 3 s "is not running". */

/* exec-status carries up to 16 MiB of each of stdout and stderr, base64: room for both. */
#define KVM_QGA_MAX_LINE (48 * 1024 * 1024)
#define KVM_QGA_SYNC_TIMEOUT_MS 3000
#define KVM_QGA_NOT_RUNNING "QEMU guest agent is not running"

/* The reader of what the agent sends: bytes in, messages out. */
typedef struct kvm_qga_reader {
	pve_buf buf;
	size_t off; /* consumed bytes at the start of buf */
	long long sync_id;
	bool synced;
} kvm_qga_reader;

void kvm_qga_reader_init(kvm_qga_reader *r, long long sync_id);
void kvm_qga_reader_add(kvm_qga_reader *r, const void *data, size_t len);
/* The next message: 1 with *ret (a RETURN or an ERROR, to clear), 2 when the sync was answered, 0 when
 * more bytes are needed, < 0 (EPROTO, E2BIG) on what no agent sends. Until the sync's answer, all else
 * is skipped. */
int kvm_qga_reader_next(kvm_qga_reader *r, kvm_qmp_msg *ret, pve_error **err);
void kvm_qga_reader_clear(kvm_qga_reader *r);

/* How long Proxmox waits for a command's answer (5 s; fsfreeze-freeze an hour, fstrim and shutdown 10
 * minutes, fsfreeze-thaw 3). command with its "guest-" prefix. */
int kvm_qga_timeout_ms(const char *command);

/* The asynchronous client, on a libevent loop: one connection, the sync first, then the commands in
 * order. A command that times out, or a connection that breaks, fails it and every one queued after it;
 * a failed sync fails them all with KVM_QGA_NOT_RUNNING. */
typedef struct kvm_qga kvm_qga;
/* m: the answer (RETURN or ERROR); err: why there is none. For a KVM_QGA_NO_REPLY command both are
 * NULL once it is sent. Neither outlives the call, which may free the client. Called once per command,
 * also when the client is freed (err then says so). */
typedef void (*kvm_qga_reply_fn)(void *ud, const kvm_qmp_msg *m, const pve_error *err);
enum {
	KVM_QGA_NO_REPLY = 1 << 0, /* guest-shutdown, guest-suspend-*: done once sent */
};
/* name: for messages ("VM 100"). ENOENT, ECONNREFUSED: no agent socket (the VM runs without one). */
int kvm_qga_open(struct event_base *base, const char *path, const char *name, kvm_qga **ret,
		 pve_error **err);
/* Queues a command (args taken, may be NULL); timeout_ms 0: kvm_qga_timeout_ms(command). */
void kvm_qga_command(kvm_qga *q, const char *command, cJSON *args, int timeout_ms, unsigned flags,
		     kvm_qga_reply_fn fn, void *ud);
/* Fails what is pending (each fn runs with an error) and frees; NULL is fine. */
void kvm_qga_free(kvm_qga *q);

/* One command through the asynchronous client on a loop of its own, for task workers: *ret_return (may
 * be NULL) gets a copy of "return" (NULL for a no-reply command); an error answer is EIO "Agent error:
 * desc". */
int kvm_qga_run(const char *path, const char *name, const char *command, cJSON *args,
		int timeout_ms, unsigned flags, cJSON **ret_return, pve_error **err);

/* Base64 as the agent carries file contents and output (RFC 4648, padding required, whitespace
 * refused). decode: NULL when s is no base64; *ret_len gets the length. */
char *kvm_base64_encode(const void *data, size_t len);
char *kvm_base64_decode(const char *s, size_t len, size_t *ret_len);

/* ---- cloud-init (kvm/cloudinit.c) --------------------------------------------------------------------
 * The files Proxmox's Cloudinit.pm writes on a VM's cloud-init drive, byte for byte (the instance id is
 * a hash of them): NoCloud (label cidata: user-data, network-config, meta-data, vendor-data),
 * ConfigDrive v2 (config-2: openstack/latest/{user_data,meta_data.json,vendor_data.json},
 * openstack/content/0000, cloudbase-init's variant for Windows guests) and OpenNebula (CONTEXT:
 * context.sh), and the ISO9660 image they go on. */

/* The drive holds 4 MiB; the files stay below 3 MiB. */
#define KVM_CI_DISK_SIZE (4 * 1024 * 1024)
#define KVM_CI_MAX_FILES (3 * 1024 * 1024)
/* A snippet of cicustom is read up to this size, as Proxmox's. */
#define KVM_CI_MAX_SNIPPET (1024 * 1024)

/* The node's resolver, for VMs that set neither searchdomain nor nameserver. */
typedef struct kvm_ci_dns {
	const char *search; /* blank-separated, or NULL */
	const char *nameservers[3];
} kvm_ci_dns;

/* cicustom's parts, in its order of keys. */
enum { KVM_CI_USER, KVM_CI_NETWORK, KVM_CI_META, KVM_CI_VENDOR, KVM_CI_CUSTOM_COUNT };

typedef struct kvm_ci_file {
	const char *path; /* below the image's root: "user-data", "openstack/content/0000" */
	char *content;
	size_t len;
} kvm_ci_file;
typedef struct kvm_ci_files {
	const char *label; /* the volume label guests look for */
	kvm_ci_file files[4];
	size_t n;
} kvm_ci_files;

bool kvm_ostype_windows(const char *ostype);
/* citype, or Proxmox's default for the ostype: "nocloud", "configdrive2" (Windows), "opennebula". */
const char *kvm_cloudinit_format(const pve_config *c);
/* The #cloud-config user data (mask_password: the password as stars, for a dump). */
char *kvm_cloudinit_user_data(const pve_config *c, long long vmid, bool mask_password);
/* The network config of the config's format: NoCloud's version 1, or ENI. EINVAL for a NIC without a MAC
 * address or an IPv4 address that is no CIDR. */
int kvm_cloudinit_network(const pve_config *c, const kvm_schema *s, const kvm_ci_dns *host,
			  char **ret, pve_error **err);
/* The meta data: its instance id is the SHA-1 of user and network as they go on the drive. */
char *kvm_cloudinit_meta_data(const pve_config *c, const char *user, const char *network);
/* GET .../cloudinit/dump's text of type "user", "network" or "meta", as Proxmox's
 * dump_cloudinit_config (which dumps ENI and ConfigDrive's meta data for every format but NoCloud). */
int kvm_cloudinit_dump(const pve_config *c, const kvm_schema *s, long long vmid,
		       const kvm_ci_dns *host, const char *type, bool mask_password, char **ret,
		       pve_error **err);
/* Whether a drive's file is a cloud-init volume (or asks for one: "local:cloudinit"). */
bool kvm_volume_is_cloudinit(const char *file);
/* Every file of the drive; custom: cicustom's snippets as read (NULL where none), which replace the
 * generated ones. EINVAL when they are too big together. */
int kvm_cloudinit_files(const pve_config *c, const kvm_schema *s, long long vmid,
			const kvm_ci_dns *host, const char *const custom[KVM_CI_CUSTOM_COUNT],
			kvm_ci_files *ret, pve_error **err);
void kvm_ci_files_clear(kvm_ci_files *f);
/* The ISO image of the files, at out_path, padded to size (the volume's): the files are written below
 * workdir (a private directory of the caller's) and genisoimage (or xorriso) runs with Proxmox's options.
 * Blocks. */
int kvm_cloudinit_iso(const kvm_ci_files *f, const char *workdir, const char *out_path,
		      uint64_t size, pve_error **err);

/* Block jobs and nodes through the blocking client (kvm/blockjob.c). */
typedef void (*kvm_job_progress_fn)(void *ud, const char *status, long long current,
				    long long total);
/* Runs command (args taken, may be NULL; "job-id" is added) and polls query-jobs until the job
 * concludes (dismissed then; its error is EIO) or is "ready" (a mirror: 0, the caller completes it),
 * at most timeout_ms (ETIMEDOUT, the job cancelled). progress (may be NULL) sees each poll. */
int kvm_qmp_sync_job(kvm_qmp_sync *q, const char *command, cJSON *args, const char *job_id,
		     int timeout_ms, kvm_job_progress_fn progress, void *ud, pve_error **err);
/* Polls an existing job (of command, for messages) as kvm_qmp_sync_job does; until_ready false:
 * past "ready" to its end (a mirror after block-job-complete). Jobs must be made with auto-dismiss
 * off (drive-mirror's default is on) so that their end is seen. */
int kvm_qmp_sync_job_wait(kvm_qmp_sync *q, const char *command, const char *job_id,
			  bool until_ready, int timeout_ms, kvm_job_progress_fn progress, void *ud,
			  pve_error **err);
/* The node name of the medium in drive-<key> (query-block); ENOENT when there is none. */
int kvm_qmp_drive_node(kvm_qmp_sync *q, const char *key, char **ret_node, pve_error **err);
/* The virtual size of the image in drive-<key>, as the running QEMU has it (qemu-img can't open an image
 * QEMU holds). */
int kvm_qmp_drive_size(kvm_qmp_sync *q, const char *key, uint64_t *ret, pve_error **err);
/* Opens an image file as a node of its own (blockdev-add: format over a file), and closes it. */
int kvm_qmp_image_add(kvm_qmp_sync *q, const char *node, const char *path, const char *format,
		      pve_error **err);
int kvm_qmp_image_del(kvm_qmp_sync *q, const char *node, pve_error **err);

/* ---- QEMU processes --------------------------------------------------------------------------------- */

typedef struct kvm_proc {
	pid_t pid;
	uint64_t starttime; /* /proc/PID/stat field 22, in clock ticks since boot */
} kvm_proc;

/* The QEMU of vmid when one runs: its pid file (<run>/<vmid>.pid, written by QEMU) names a live process
 * whose command line carries that pid file: 1 with *ret, 0 when none runs (a stale pid file is not
 * removed here). */
int kvm_proc_find(const char *run_dir, long long vmid, kvm_proc *ret);
/* Whether p still is that process (the pid was not reused: the start time matches). */
bool kvm_proc_alive(const kvm_proc *p);
/* Seconds since the process started. */
uint64_t kvm_proc_uptime(const kvm_proc *p);
/* CPU time (user + system) in clock ticks, and resident memory in bytes, from /proc. 0 on success. */
int kvm_proc_stat(pid_t pid, uint64_t *ret_cpu_ticks, uint64_t *ret_rss);
int kvm_proc_starttime(pid_t pid, uint64_t *ret);

/* ---- cgroups ----------------------------------------------------------------------------------------
 * Each QEMU runs in a cgroup of its own, qemu.slice/<vmid>.scope below the cgroup2 mount found in
 * /proc/self/mountinfo (for a node root other than "/", below pved-<hash of the root>.slice, so nodes
 * on one machine never share one). Without a cgroup2 mount, QEMU stays in the cgroup of what started it
 * and nothing is limited; that is said in the task log. Where the controllers are delegated, cpu.weight
 * follows cpuunits and cpu.max follows cpulimit; where they are not (this build machine's hybrid
 * hierarchy), the cgroup still groups QEMU's processes and can freeze or kill them. The v1 hierarchies
 * are never touched. */

/* The cgroup2 mount point, or NULL when there is none. */
char *kvm_cgroup2_mount(void);
/* The VM's cgroup directory (not created), or NULL without cgroup2. */
char *kvm_cgroup_path(const char *root, long long vmid);
/* Creates the VM's cgroup (and its parents) and sets the limits the controllers allow; *ret_path (may be
 * NULL) gets it. ENOENT without cgroup2. *ret_note (may be NULL) says what could not be set. */
int kvm_cgroup_create(const char *root, long long vmid, unsigned cpuunits, double cpulimit,
		      char **ret_path, char **ret_note, pve_error **err);
/* Moves pid into the cgroup directory. */
int kvm_cgroup_enter(const char *cgroup_path, pid_t pid, pve_error **err);
/* Removes the VM's cgroup when it is empty (after QEMU exited); fine when it does not exist. */
int kvm_cgroup_remove(const char *root, long long vmid);
