/* daemon/core: what pved's core offers its areas: the one context struct, the blocking queues, the server
 * and API calls, authentication, config-file edits, tasks and the area contract. */
#pragma once

#include <event2/event.h>

#include "access/access.h"
#include "api/api.h"
#include "cluster/cluster.h"
#include "common/common.h"

typedef struct pved_tasks pved_tasks;
typedef struct pved_server pved_server;
typedef struct pved_auth pved_auth;
typedef struct pved_front pved_front;
typedef struct pved_blocking pved_blocking;

typedef struct pved_area pved_area;

/* The one context of the pved process. */
typedef struct pved {
	const pved_area *const *areas; /* pved_areas; a test's own list in unit tests */
	struct event_base *base;
	char *root; /* the node's root directory, "/" by default; every path is under it */
	char *node; /* this node's name */
	char *listen; /* ADDR:PORT for pved-api, or NULL for all addresses on 8006 */
	/* ADDR:PORT for the SPICE proxy (Proxmox's spiceproxy), or NULL: all addresses on 3128, if free */
	char *spice_listen;
	int spice_port; /* the port the SPICE proxy listens on (0: none), for spiceproxy's answer */
	pve_store *store; /* etc/pve */
	pve_routes *routes;
	pved_tasks *tasks;
	pved_server *server;
	pved_auth *auth;
	pved_front *front;
	struct pved_pvecfs *pvecfs; /* the node's pvecfs when pved runs it (--pvecfs), else NULL */
	struct pved_proxy *proxy; /* calls forwarded to other nodes (proxy.c), made at the first */
	pved_blocking *blocking;
	struct pved_storage_state *storage; /* the storage area's own (daemon/storage/) */
	char *www; /* the web interface's static files */
	unsigned api_workers; /* threads of pved-api, each with its own wire; 0: one per CPU, at most 4 */
	char *bindir; /* where pved-api lives: the directory of pved itself */
	struct pved_node_sample *node_sample; /* the node's figures, sampled on demand */
	struct pved_qemu_state *qemu; /* the qemu area's own (daemon/qemu/) */
	struct pved_fw_state *firewall; /* the firewall area's own (daemon/firewall/) */
	struct pved_lxc_state *lxc; /* the lxc area's own (daemon/lxc/) */
	struct pved_cluster_state *cluster; /* the cluster area's publication (daemon/cluster/) */
	/* The /dev/kvm probe's verdict, which the node's status reports (daemon/qemu/ fills it at start,
	 * off the loop): "ok", "degraded" or "absent"; NULL until known. kvm_percent: the probe guest's
	 * speed as a share of the host's. */
	const char *kvm_state;
	double kvm_percent;
	time_t started;
	bool stopping;
	bool restart; /* pved_restart: exec pved again when the loop has ended */
} pved;

/* A path under the node's root: pved_path(d, "var/log/pve/tasks") -> "<root>/var/log/pve/tasks". */
char *pved_path(const pved *d, const char *rel);
/* datacenter.cfg's value of key as written (a property string unparsed); NULL when the file or the
 * key is absent or the file does not parse. Reads the store: not for a hot path. */
char *pved_datacenter_option(pved *d, const char *key);
/* datacenter.cfg's mac_prefix, Proxmox's BC:24:11 when it has none: the start of every MAC address
 * pved makes (pve_random_mac). */
char *pved_mac_prefix(pved *d);

/* ---- work that blocks: bounded queues, each with threads of its own ----------------------------------------
 * Calls that may wait (PAM and password hashes, storage tools, mounts and servers, scans of remote
 * servers) run on a thread of their queue; done then runs on the loop. The queues are apart so that slow
 * storage never holds up a login; each holds at most its limit of waiting jobs and refuses more. */
typedef enum pved_queue {
	PVED_QUEUE_AUTH, /* logins, password and TFA checks */
	PVED_QUEUE_STORAGE, /* activation, status, content, upload targets, containers' disk figures */
	PVED_QUEUE_SCAN, /* asking remote servers what they offer */
	PVED_QUEUE_GUEST, /* guests' own work: the /dev/kvm probe, disk allocations of config edits */
	PVED_QUEUE_COUNT,
} pved_queue;

int pved_blocking_init(pved *d, pve_error **err);
void pved_blocking_free(pved_blocking *b);
/* Queues work(arg), then done(arg) on the loop. A queue at its limit refuses: EAGAIN (answered 503),
 * and neither runs. */
int pved_run_blocking(pved *d, pved_queue q, void (*work)(void *arg), void (*done)(void *arg),
		      void *arg, pve_error **err);

/* ---- the server: the local socket and the fronts' connections, each request through its checks -------- */

int pved_server_init(pved *d, pve_error **err);
void pved_server_free(pved_server *s);
typedef struct pved_conn pved_conn;
/* Adopts fd (a connected stream socket to a pved-api); on_ready when it reports READY, on_close when the
 * connection ends (the conn is gone then). */
pved_conn *pved_server_add_front(pved *d, int fd, void (*on_ready)(void *ud),
				 void (*on_close)(void *ud), void *ud);
void pved_conn_close(pved_conn *c);

/* ---- the front: pved-api processes, started, restarted and replaced ----------------------------------- */

int pved_front_start(pved *d, pve_error **err);
/* SIGHUP: a fresh front takes over; the old one drains. */
void pved_front_reload(pved *d);
void pved_front_stop(pved *d);

/* ---- pvecfs and corosync, when pved runs them (supervise-cluster.c) ---- */

typedef struct pved_pvecfs pved_pvecfs;
/* Starts pvecfs on the root (cluster: replicated through this namespace's corosync, which pved starts
 * first when the root has etc/corosync/corosync.conf) and waits until its socket answers; before the
 * loop. */
int pved_pvecfs_start(pved *d, bool cluster, pve_error **err);
/* In the loop: restarts them when they die. */
int pved_pvecfs_watch(pved *d, pve_error **err);
void pved_pvecfs_stop(pved *d);
/* The root is a cluster node's: corosync's conf and key, and a cluster's tree. */
bool pved_root_in_cluster(const pved *d);
/* Which pvecfs the root needs: asked is the --pvecfs option's MODE ("local", "cluster", "auto" for
 * none given, NULL without the option). NULL: none (plain files). */
const char *pved_pvecfs_mode(const pved *d, const char *asked);
/* A node that has just been accepted into a cluster (PVED_JOIN_MARKER) sets its own tree aside: the
 * database and whatever is under etc/pve go to var/lib/pve-cluster/before-join-TIME/, so the first
 * sync brings the cluster's tree and nothing of the node's can win over it. Before pvecfs starts; again
 * after a crash before the tree came (it only holds a part of the cluster's then). */
#define PVED_JOIN_MARKER "var/lib/pve-cluster/join-pending"
int pved_join_prepare(pved *d, pve_error **err);
/* A node that joined (the marker is there until this succeeds) waits for the sync to bring the
 * cluster's tree (user.cfg) before the first start would make keys of its own. */
int pved_pvecfs_wait_tree(pved *d, pve_error **err);
/* pvecfs runs in cluster mode. */
bool pved_pvecfs_clustered(const pved *d);
/* Marks the node for a restart of pved itself (the same arguments, a fresh process) once the loop
 * ends, and ends it: creating or joining a cluster changes which processes the root needs. */
void pved_restart(pved *d, const char *why);

/* ---- authentication and permissions ---------------------------------------------------------------------- */

int pved_auth_init(pved *d, pve_error **err);
void pved_auth_free(pved_auth *a);
/* Rereads user.cfg, shadow.cfg, token.cfg and the keys (after a change in the store, or SIGHUP). */
void pved_auth_reload(pved *d);
/* Who sent the request: ticket (with CSRF for writes) or API token. *ret_authid is "user@realm" or
 * "user@realm!token". EACCES (401) on anything invalid. */
int pved_auth_request(pved *d, const pve_request *r, bool needs_csrf, bool allowtoken,
		      char **ret_authid, pve_error **err);
bool pved_auth_permitted(pved *d, const char *authid, const char *path, const char *priv);
/* pve_perms_children_uniform for authid (root@pam: everything, everywhere). */
bool pved_auth_children_uniform(pved *d, const char *authid, const char *parent, const char *priv,
				bool *ret_allowed);
/* A VNC ticket: short-lived (40 s), bound to authid, the ACL path and the port it opens. */
char *pved_auth_vncticket(pved *d, const char *authid, const char *path, int port);
/* A SPICE proxy ticket for this node's VM and its SPICE port, and the password QEMU is given. */
int pved_auth_spice_ticket(pved *d, long long vmid, int port, char **ret_proxyticket,
			   char **ret_password, pve_error **err);
/* A CONNECT's target checked: -EACCES "invalid ticket" / "ticket expired". */
int pved_auth_verify_spice(pved *d, const char *connect, pve_spice_target *ret, pve_error **err);
int pved_auth_verify_vncticket(pved *d, const char *ticket, const char *authid, const char *path,
			       int port, pve_error **err);
/* A fresh ticket and CSRF token for userid. */
char *pved_auth_ticket(pved *d, const char *userid);
char *pved_auth_csrf(pved *d, const char *userid);
/* Verifies a ticket (to renew it): returns the userid in it. */
int pved_auth_verify_ticket(pved *d, const char *ticket, char **ret_userid, pve_error **err);
/* A copy of the pve realm's password hash for userid, or NULL: taken on the loop, checked on a thread. */
char *pved_auth_shadow_hash(pved *d, const char *userid);
bool pved_auth_user_enabled(pved *d, const char *userid);

/* pved's own version, and the object /version and /nodes/{node}/version answer: the Proxmox API level
 * pved follows, and PVED_VERSION. */
#define PVED_VERSION "0.1.0"
cJSON *pved_version_object(void);

/* ---- config-file edits (cfgedit.c) ------------------------------------------------------------------------
 * Every change of a file under etc/pve goes one way: take the file's store lock without waiting on the
 * loop (a timer tries again until the timeout), read the file with its digest, check the client's digest,
 * parse, change, check what blocks on a queue, write what else belongs to it, print, write against the
 * digest read, unlock, answer. A file that fails to parse is the server's fault: EIO (500), naming the
 * file and the parser's line. */

/* How long an edit waits for another holder of the lock, as Proxmox's cfs_lock_file. */
#define PVED_CFGEDIT_LOCK_TIMEOUT_MS 10000
#define PVED_CFGEDIT_MODIFIED \
	"detected modified configuration - file changed by other user? Try again."

typedef struct pved_cfgfile {
	const char *path; /* relative to etc/pve: "storage.cfg" */
	const char *lock; /* the store lock that guards it: "file-storage_cfg" */
	/* Parses the file's text ("" when it does not exist) into *ret. */
	int (*parse)(const char *text, size_t len, void **ret, pve_error **err);
	/* Prints it back: a new string. */
	char *(*print)(const void *cfg);
	void (*free)(void *cfg);
	/* Optional, for a file outside etc/pve (the node's etc/network/interfaces): read and write it
	 * through these instead of the store; the store lock still guards it. read fills the text ("" and
	 * the digest of "" when there is none); write replaces it if its digest is still expected. */
	int (*read)(pved *d, char **ret_text, size_t *ret_len,
		    char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err);
	int (*write)(pved *d, const char *text, size_t len, const char *expected_digest,
		     pve_error **err);
} pved_cfgfile;

/* Reads and parses the file without the lock (for GETs); ret_digest (may be NULL) is what an edit checks
 * a client's digest against: the SHA-1 of the file's bytes, of "" when it does not exist. */
int pved_cfgfile_read(pved *d, const pved_cfgfile *f, void **ret_cfg,
		      char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err);

/* What PVED_CFGEDIT_KEEP from change means: nothing to write, the edit ends well. */
#define PVED_CFGEDIT_KEEP 1

typedef struct pved_cfgedit {
	const pved_cfgfile *file;
	const char *digest; /* the client's (copied), or NULL */
	int timeout_ms; /* 0: PVED_CFGEDIT_LOCK_TIMEOUT_MS */
	/* With the lock held and the file parsed: changes cfg. < 0 (with err): nothing is written; 0: cfg
	 * is written back; PVED_CFGEDIT_KEEP: the file stays as it was (also still runs, check does not). */
	int (*change)(pved *d, void *cfg, void *ud, pve_error **err);
	/* Optional, after change: work that blocks (activating the storage the change defines), on a
	 * thread of queue, the lock still held. A failure writes nothing. */
	int (*check)(void *cfg, void *ud, pve_error **err);
	pved_queue queue;
	/* Optional, on the loop before the write: what else belongs to the change (priv/ files). A failure
	 * writes nothing more. */
	int (*also)(pved *d, void *cfg, void *ud, pve_error **err);
	/* The end, with the lock released: r < 0 with err (taken), or r >= 0. Always called once. */
	void (*done)(pved *d, void *ud, int r, pve_error *err);
} pved_cfgedit;

/* A pved_cfgfile's functions for a `key: value` file (pve_config): datacenter.cfg and the like, whose
 * absence is an empty file. */
int pved_cfgfile_config_parse(const char *text, size_t len, void **ret, pve_error **err);
char *pved_cfgfile_config_print(const void *cfg);
void pved_cfgfile_config_free(void *cfg);
static inline void pved_cfgfile_config_freep(void **cfg)
{
	pved_cfgfile_config_free(*cfg);
}

/* Starts the edit (e is copied); done may run before this returns (the lock was free). */
void pved_cfgedit_run(pved *d, const pved_cfgedit *e, void *ud);
/* The same edit, waiting for the lock (up to PVED_CFGEDIT_LOCK_TIMEOUT_MS): only for a task worker, a
 * process of its own whose waiting delays nobody; never on the loop. change returns as pved_cfgedit's;
 * the result is that of change (PVED_CFGEDIT_KEEP: nothing written) or of the write. */
int pved_cfgfile_edit_blocking(pved *d, const pved_cfgfile *f,
			       int (*change)(pved *d, void *cfg, void *ud, pve_error **err),
			       void *ud, pve_error **err);

/* ---- first start: keys, certificates, the admin account, storage.cfg ------------------------------------ */

int pved_firststart(pved *d, pve_error **err);
/* pved --check: parses every config under the root and prints what it understood; 0 when all are fine. */
int pved_check_configs(pved *d, FILE *out);

/* ---- API calls ------------------------------------------------------------------------------------------
 * A handler runs on the main loop with validated, typed parameters and an authenticated caller, whose
 * permission the route declared has been checked. It answers exactly once, now or later (from a callback),
 * with pved_call_reply or pved_call_fail. It never blocks the loop: slow work goes to a task or a thread. */

typedef struct pved_call {
	pved *d;
	const pve_route *route;
	cJSON *params; /* validated: integers and booleans as JSON numbers, path placeholders included */
	const char *authid; /* "root@pam", "admin@pve", "user@pve!tokenid" */
	const char *userid; /* the user behind authid: "user@pve" */
	const char *client; /* the client's address, or "local" */
	bool websocket; /* the client asked for a websocket upgrade */
	/* An upload (a route marked "upload"): the body follows as a stream (pved_call_stream_receive);
	 * params then hold only the path and query parameters, not yet validated. */
	bool upload;
	const char *upload_type; /* the body's Content-Type, or NULL */
	uint64_t upload_length;
	void *priv; /* the server's own state for this call */
} pved_call;

typedef void (*pved_handler_fn)(pved_call *c);

typedef struct pved_handler {
	const char *name; /* the route's "name" */
	pved_handler_fn fn;
} pved_handler;

/* Takes data (may be NULL for JSON null). The answer is {"data": data}. */
void pved_call_reply(pved_call *c, cJSON *data);
/* As pved_call_reply, with extra top-level members (Proxmox's "total", ...) taken from extra. */
void pved_call_reply_with(pved_call *c, cJSON *data, cJSON *extra);
/* The data already printed as JSON (by the handler's own cache): the answer is {"data": <data_json>}. */
void pved_call_reply_json(pved_call *c, const char *data_json, size_t len);
/* A whole answer as it is (a forwarded call's): status, reason and the body (taken over). */
void pved_call_reply_body(pved_call *c, int status, const char *reason, pve_buf *body);
/* Takes err: its HTTP status from pve_error_http_status, its param (if any) into "errors". */
void pved_call_fail(pved_call *c, pve_error *err);
/* pved_call_fail with an error made here: code (an errno) and the message. */
void pved_call_failf(pved_call *c, int code, const char *fmt, ...) _printf_(3, 4);
/* A long answer made as it goes (a task log), status 200 and no length: produce appends about room more
 * bytes of the body and returns 1 once the body is complete, 0 when more follows (it must append
 * something), or < 0 with *err to cut it short. It is called only while the client's window is open, so
 * a client that does not read stops it. free_ud runs once, when the answer has ended either way. */
typedef int (*pved_produce_fn)(void *ud, pve_buf *out, size_t room, pve_error **err);
/* A producer fed from elsewhere (a forwarded answer) returns this when it has nothing yet: it is not
 * asked again until pved_call_produce_ready. */
#define PVED_PRODUCE_WAIT 2
void pved_call_reply_stream(pved_call *c, pved_produce_fn produce, void (*free_ud)(void *ud),
			    void *ud);
/* More is ready for a producer that returned PVED_PRODUCE_WAIT: it is asked now if the client's window
 * is open. The call (and with it the producer's ud) may be gone when this returns. */
void pved_call_produce_ready(pved_call *c);
/* As pved_call_reply_stream, with a file as the body instead of JSON (Proxmox's "download" answers):
 * content_type, the name a browser saves it as (may be NULL) and, with gzip, gzip-encoded by the front
 * whatever the client asked, as Proxmox sends a task log over 1 KiB. Printable ASCII without quotes. */
void pved_call_reply_file(pved_call *c, const char *content_type, const char *filename, bool gzip,
			  pved_produce_fn produce, void (*free_ud)(void *ud), void *ud);
/* Streams: a websocket call accepted with pved_call_stream_accept is answered 101 and stays open; data
 * from the client comes to on_data, data to the client goes with pved_call_stream_send. The handler ends
 * it with pved_call_stream_end; when the client ends it, on_close runs instead, and the call is gone
 * after either. */
typedef void (*pved_stream_data_fn)(void *ud, const void *data, size_t len);
typedef void (*pved_stream_close_fn)(void *ud);
void pved_call_stream_accept(pved_call *c, pved_stream_data_fn on_data,
			     pved_stream_close_fn on_close, void *ud);
void pved_call_stream_send(pved_call *c, const void *data, size_t len);
void pved_call_stream_end(pved_call *c);
/* Websocket streams are outside the wire's window: a producer that can wait (a relay reading a socket)
 * asks this before it reads more. True when the stream's connection holds more than limit bytes not
 * yet written; on_drain(ud) then runs once, when all of them are (never if the stream ends first). */
bool pved_call_stream_congested(pved_call *c, size_t limit, void (*on_drain)(void *ud), void *ud);
/* Accepts a tunnel (the SPICE proxy's CONNECT) as pved_call_stream_accept does, and grants the front
 * its first window of the client's bytes (more with pved_call_body_grant, as they are taken). What
 * goes to the client counts against the window the front grants: pved_call_window tells what is
 * left, and on_window runs when the front grants more. false: the client had gone, on_close ran
 * (ud may be freed). */
bool pved_call_tunnel_accept(pved_call *c, pved_stream_data_fn on_data,
			     pved_stream_close_fn on_close, void (*on_window)(void *ud), void *ud,
			     uint32_t grant);
uint64_t pved_call_window(const pved_call *c);
/* The SPICE proxy (daemon/core/spiceproxy.c): a CONNECT's "connect" parameter, its proxy ticket and
 * port, checked, then the tunnel to the VM's SPICE port on localhost, or (the ticket of another
 * cluster node, and no "noproxy": the front saw PVEDisableProxy) to that node's SPICE proxy with the
 * same CONNECT. Answers the call. */
void pved_spiceproxy_connect(pved_call *c);
/* An upload's form, as pved-api parsed it (pved parses no multipart): field for each text field, then
 * file when the file part begins, data for its bytes in order, end when the form is complete (the handler
 * then answers as usual); close instead if the client went away or the form was malformed (the call is
 * gone then, answered by the server). Names and values are UTF-8 without NUL. The handler may answer at
 * any time, which ends the stream; no callback runs after the answer. The front sends none of the body
 * before this call (it tells the front to), so a handler may first prepare its target off the loop. */
typedef struct pved_form_callbacks {
	void (*field)(void *ud, const char *name, const char *value);
	void (*file)(void *ud, const char *name, const char *filename, const char *content_type);
	void (*data)(void *ud, const void *data, size_t len);
	void (*end)(void *ud);
	void (*close)(void *ud);
} pved_form_callbacks;
void pved_call_receive_form(pved_call *c, const pved_form_callbacks *cb, void *ud);
/* An upload's body as the client sent it (the multipart bytes, upload_length of them, to be forwarded):
 * cb's data, then end or close, as above (field and file are not called). The front sends window bytes,
 * then only what pved_call_body_grant allows; more than that ends the upload (400). */
void pved_call_receive_body(pved_call *c, const pved_form_callbacks *cb, void *ud, uint32_t window);
void pved_call_body_grant(pved_call *c, uint32_t grant);
/* What Proxmox's lock_user_config, lock_storage_config and the like make of an error of the code they
 * run, `die "$errmsg: $err"`: a plain error (EIO: 500) whose text is errmsg, ": " and the error as Perl
 * prints it: a parameter error as "400 Parameter verification failed.\nPARAM: MESSAGE", a permission
 * error as "403 MESSAGE", anything else (and a digest mismatch, which Proxmox dies with plainly) as its
 * message. Telmate's client matches on these texts. errmsg NULL: err stays as it is. */
void pved_error_wrap(pve_error *err, const char *errmsg);
/* Proxmox's raise_param_exc with several parameters: 400 with errors (taken), {param: message}. */
void pved_call_fail_errors(pved_call *c, cJSON *errors);
/* As pved_call_fail, with the HTTP status given (408 for a stalled upload, 413 for no space). */
void pved_call_fail_status(pved_call *c, int status, pve_error *err);
/* The same with a message of its own (Proxmox's envelope, the message its reason phrase). */
void pved_call_fail_statusf(pved_call *c, int status, const char *fmt, ...) _printf_(3, 4);
/* Parameter accessors: the value or the default when the parameter was not given. */
const char *pved_call_str(const pved_call *c, const char *name);
long long pved_call_int(const pved_call *c, const char *name, long long def);
bool pved_call_has(const pved_call *c, const char *name);
/* The caller's privileges: may authid use privilege priv on ACL path? root@pam may do everything. */
bool pved_call_permitted(const pved_call *c, const char *path, const char *priv);
/* The caller's credentials for a task that calls the API as the caller (Proxmox's expose_credentials):
 * {"ticket", "csrf"} or {"token"} as the call brought them, or for root on the local socket a fresh
 * root@pam ticket and CSRF token. Secrets: they go into a task's args (a pipe), never into a log, a
 * message or the task's id. */
int pved_call_credentials(const pved_call *c, cJSON **ret, pve_error **err);

/* ---- forwarding a call to another cluster node (proxy.c) ---- */

typedef struct pved_proxy pved_proxy;
/* pvecfs's .members (corosync's nodelist: name -> {id, online, ip}) when the node is in a cluster,
 * else NULL. */
/* The SHA-256 fingerprint ("AA:BB:...") of the certificate a node's API serves: the tree's
 * nodes/NODE/pve-ssl.pem (pved serves no custom pveproxy-ssl.pem). Proxmox pins nodes by it. */
int pved_node_fingerprint(pved *d, const char *node, char **ret, pve_error **err);
cJSON *pved_cluster_members(pved *d);
/* What the client sent, to be sent on. */
typedef struct pved_proxy_request {
	const char *method;
	const char *path; /* below /api2/json */
	/* as the client sent them, or NULL; for root on the local socket a signed root@pam ticket */
	const char *ticket, *csrf, *token;
	bool download; /* a file answer: its 200's body streams back as it comes */
} pved_proxy_request;
/* Forwards the call (its route's proxyto names node, another node) to node's API: its validated
 * parameters, the credentials; the node's status and body answer it as they are. A node not in
 * .members is 404 "no such cluster node"; one offline, unreachable or not answering in time 595;
 * a certificate other than nodes/<node>/pve-ssl.pem (the pin) or a failed handshake 596. */
void pved_proxy_forward(pved_call *c, const char *node, const pved_proxy_request *rq);
/* At the end: forwards still waiting are dropped (answered 503 to clients that are gone). */
void pved_proxy_free(pved *d);

/* ---- tasks ----------------------------------------------------------------------------------------------
 * A task is a worker process with a UPID: pved spawns itself as `pved --task-worker` (a fresh process
 * image: nothing of pved's threads, locks or loop is in it) and passes the task's parameters over a pipe.
 * The worker opens the store, runs the function its area registered for the task's type with the
 * parameters, with stdout and stderr going to the task log, then writes the final line ("TASK OK",
 * "TASK WARNINGS: n" or "TASK ERROR: message") and exits. */

/* A task's body, run in the worker. d has root, node, areas and the store; no loop, no auth, no tasks.
 * args is what pved_task_start was given. */
typedef int (*pved_task_fn)(pved *d, const cJSON *args, pve_error **err);

/* The task types an area runs, by their UPID type ("vncshell", "imgdel"). */
typedef struct pved_task_kind {
	const char *type;
	pved_task_fn run;
} pved_task_kind;

/* Parameters of a task are at most this big: they travel through a pipe that never blocks pved. */
#define PVED_TASK_MAX_ARGS (60 * 1024)

int pved_tasks_init(pved *d, pve_error **err);
void pved_tasks_free(pved_tasks *t);
/* Starts a worker for the task type (an area's pved_task_kind) with args (taken; NULL for none); on
 * success *ret_upid is its UPID. id: "100" or "". */
int pved_task_start(pved *d, const char *type, const char *id, const char *authid, cJSON *args,
		    char **ret_upid, pve_error **err);
/* At most this many fds go to a worker; the worker finds fds[i] at PVED_TASK_FD(i). */
#define PVED_TASK_MAX_FDS PVE_SPAWN_MAX_FDS
#define PVED_TASK_FD(i) (3 + (i))
/* pved_task_start, handing the worker copies of fds (a listening socket pved made, so the port is
 * taken before the UPID is answered). */
int pved_task_start_fds(pved *d, const char *type, const char *id, const char *authid, cJSON *args,
			const int *fds, size_t n_fds, char **ret_upid, pve_error **err);
/* main() of `pved --task-worker`: reads the task from stdin, runs it with the kinds of areas, exits. */
_Noreturn void pved_task_worker_main(const pved_area *const *areas);
/* In a worker: a warning line in the log, counted for "TASK WARNINGS: n". */
void pved_task_warn(const char *fmt, ...) _printf_(1, 2);

/* ---- areas ----------------------------------------------------------------------------------------------
 * An API area is one folder of daemon/ (daemon/qemu/, daemon/storage/, ...) whose routes live in
 * api/routes/<name>/. It exports one pved_area; daemon/core/areas.c lists them, one line each. pved binds
 * every route to the handler of its name and refuses to start when a route has no handler, a handler
 * has no route, or two handlers share a name. Every hook may be NULL. */
struct pved_area {
	const char *name; /* "storage": its routes are api/routes/storage/ */
	/* Its files' handler tables, NULL-terminated; each table ends with { NULL, NULL }. */
	const pved_handler *const *handlers;
	/* Its files' tables of the task types it runs, NULL-terminated, each ended by { NULL, NULL }. */
	const pved_task_kind *const *tasks;
	/* At start, in list order, before the server and the front: the area's own state. */
	int (*init)(pved *d, pve_error **err);
	/* SIGHUP. */
	void (*reload)(pved *d);
	/* A file under etc/pve changed (path relative to it; "" when anything may have changed). */
	void (*config_changed)(pved *d, const char *path);
	/* GET /cluster/resources: appends the area's resources of type ("vm", "node", "storage", or
	 * NULL for all) that the caller may see, as Proxmox's entries: JSON objects, each after a comma
	 * when out is not empty. From memory: it never waits. Text, not cJSON: 10,000 VMs are answered
	 * from entries printed once. */
	void (*resources)(pved_call *c, const char *type, pve_buf *out);
	/* pvecfs's .rrd: appends the area's lines as Proxmox's pvestatd broadcasts them, "KEY:DATA\n"
	 * each, with now as their time. From memory, as resources. (Guests' and storages' lines are
	 * made from their resources entries, so that their figures are sampled once.) */
	void (*rrd)(pved *d, time_t now, pve_buf *out);
	/* A task has ended, and the task table says so from now on: its UPID's type and id ("qmstop",
	 * "100"). A client that saw the task end asks after this, so state the task changed (a VM's
	 * run state) can be brought up to date here rather than on a timer. */
	void (*task_ended)(pved *d, const char *type, const char *id);
	/* At exit, in reverse list order, after the front and the server have stopped. */
	void (*stop)(pved *d);
};

/* Every area, NULL-terminated (daemon/core/areas.c). */
extern const pved_area *const pved_areas[];
extern const pved_area pved_area_core, pved_area_access, pved_area_nodes, pved_area_cluster,
	pved_area_storage, pved_area_qemu, pved_area_network, pved_area_firewall, pved_area_lxc;

/* Binds each route to its handler, which must belong to the route's area (or to core, whose generic
 * handlers such as "index" serve every area); fails naming the first route without a handler, handler
 * without a route, or name served twice. ret_handlers is indexed like the route table. */
int pved_areas_bind(const pve_routes *routes, const pved_area *const *areas,
		    pved_handler_fn **ret_handlers, pve_error **err);
/* Runs the areas' init hooks in order; on a failure, stops those already started. */
int pved_areas_init(pved *d, pve_error **err);
void pved_areas_reload(pved *d);
void pved_areas_config_changed(pved *d, const char *path);
void pved_areas_task_ended(pved *d, const char *type, const char *id);
void pved_areas_stop(pved *d);
