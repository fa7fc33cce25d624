/* daemon: what pved's files share: the one context struct, API calls in flight, handler tables, tasks. */
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

/* The one context of the pved process. */
typedef struct pved {
	struct event_base *base;
	char *root; /* the node's root directory, "/" by default; every path is under it */
	char *node; /* this node's name */
	char *listen; /* ADDR:PORT for pved-api, or NULL for all addresses on 8006 */
	pve_store *store; /* etc/pve */
	pve_routes *routes;
	pved_tasks *tasks;
	pved_server *server;
	pved_auth *auth;
	pved_front *front;
	pved_blocking *blocking;
	/* content listings of local dir storages, kept by inotify (the blocking pool's threads list) */
	struct pve_storage_list_cache *list_cache;
	char *www; /* the web interface's static files */
	unsigned api_workers; /* threads of pved-api, each with its own wire; 0: one per CPU, at most 4 */
	char *bindir; /* where pved-api lives: the directory of pved itself */
	struct pved_node_sample *node_sample; /* the node's figures, sampled on demand */
	time_t started;
	bool stopping;
} pved;

/* A path under the node's root: pved_path(d, "var/log/pve/tasks") -> "<root>/var/log/pve/tasks". */
char *pved_path(const pved *d, const char *rel);

/* Runs work(arg) on a worker thread, then done(arg) on the main loop: for calls that block (PAM, crypt). */
int pved_blocking_init(pved *d, pve_error **err);
void pved_blocking_free(pved_blocking *b);
void pved_run_blocking(pved *d, void (*work)(void *arg), void (*done)(void *arg), void *arg);

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
/* A VNC ticket: short-lived (40 s), bound to authid, the ACL path and the port it opens. */
char *pved_auth_vncticket(pved *d, const char *authid, const char *path, int port);
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

/* ---- user.cfg and domains.cfg edits (usercfg-edit.c), shared by the access, realm and pool handlers ---- */

struct pved_call;

typedef struct pved_usercfg_edit {
	pve_store_lock *lock;
	pve_usercfg *cfg;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	bool exists;
} pved_usercfg_edit;

/* Reads user.cfg (a missing one is the empty default); with lock, under the store lock "file-user_cfg".
 * A digest (may be NULL) must match the file's. */
int pved_usercfg_load(pve_store *store, pved_usercfg_edit *e, bool lock, const char *digest,
		      pve_error **err);
/* pved_usercfg_load with the call's store and its "digest" parameter. */
int pved_usercfg_read(struct pved_call *c, pved_usercfg_edit *e, bool lock, pve_error **err);
/* Writes e->cfg back against the digest read (or creates the file). */
int pved_usercfg_store(pve_store *store, pved_usercfg_edit *e, pve_error **err);
int pved_usercfg_commit(struct pved_call *c, pved_usercfg_edit *e, pve_error **err);
/* Unlocks and frees. */
void pved_usercfg_edit_end(pved_usercfg_edit *e);
/* Ends a change: commits (unless r < 0 or err), ends the edit, reloads the access state, answers data
 * (or the error). */
void pved_usercfg_finish(struct pved_call *c, pved_usercfg_edit *e, int r, pve_error *err,
			 cJSON *data);
/* domains.cfg, parsed and checked (a missing file: no sections); ret_digest may be NULL. */
int pved_domains_read(pve_store *store, pve_sectioncfg **ret,
		      char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err);
/* The type of a realm ("pam", "pve", "ldap", "ad", "openid") or NULL if there is no such realm. */
char *pved_realm_type(pved *d, const char *realm);
/* An ldap or ad realm's settings with its bind password (priv/realm/<realm>.pw), ready to connect. */
int pved_realm_ldap_config(pved *d, const char *realm, pve_ldap_config **ret, pve_error **err);

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
/* Takes err: its HTTP status from pve_error_http_status, its param (if any) into "errors". */
void pved_call_fail(pved_call *c, pve_error *err);
/* A long answer made as it goes (a task log), status 200 and no length: produce appends about room more
 * bytes of the body and returns 1 once the body is complete, 0 when more follows (it must append
 * something), or < 0 with *err to cut it short. It is called only while the client's window is open, so
 * a client that does not read stops it. free_ud runs once, when the answer has ended either way. */
typedef int (*pved_produce_fn)(void *ud, pve_buf *out, size_t room, pve_error **err);
void pved_call_reply_stream(pved_call *c, pved_produce_fn produce, void (*free_ud)(void *ud),
			    void *ud);
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
/* As pved_call_fail, with the HTTP status given (408 for a stalled upload, 413 for no space). */
void pved_call_fail_status(pved_call *c, int status, pve_error *err);
/* Parameter accessors: the value or the default when the parameter was not given. */
const char *pved_call_str(const pved_call *c, const char *name);
long long pved_call_int(const pved_call *c, const char *name, long long def);
bool pved_call_has(const pved_call *c, const char *name);
/* The caller's privileges: may authid use privilege priv on ACL path? root@pam may do everything. */
bool pved_call_permitted(const pved_call *c, const char *path, const char *priv);

void pved_node_sample_free(struct pved_node_sample *s);

/* Handler tables, one per file, each ended by { NULL, NULL }. */
extern const pved_handler pved_handlers_node[];
extern const pved_handler pved_handlers_access[];
extern const pved_handler pved_handlers_tasks[];
extern const pved_handler pved_handlers_cluster[];
extern const pved_handler pved_handlers_storage[];
extern const pved_handler pved_handlers_users[];
extern const pved_handler pved_handlers_console[];
extern const pved_handler pved_handlers_realms[];
extern const pved_handler pved_handlers_pools[];
extern const pved_handler pved_handlers_tfa[];
extern const pved_handler pved_handlers_upload[];
extern const pved_handler pved_handlers_scan[];
/* All of them, NULL-terminated: what the server binds routes to. */
extern const pved_handler *const pved_handler_tables[];

/* ---- tasks ----------------------------------------------------------------------------------------------
 * A task is a forked worker with a UPID. Its stdout and stderr go to its log file; when fn returns, the
 * worker writes the final line ("TASK OK", "TASK WARNINGS: n" or "TASK ERROR: message") and exits. */

typedef int (*pved_task_fn)(pved *d, void *userdata, pve_error **err);

int pved_tasks_init(pved *d, pve_error **err);
void pved_tasks_free(pved_tasks *t);
/* Forks the worker; on success *ret_upid is its UPID. type: "qmstart"...; id: "100" or "". */
int pved_task_start(pved *d, const char *type, const char *id, const char *authid, pved_task_fn fn,
		    void *userdata, char **ret_upid, pve_error **err);
/* In a worker: a warning line in the log, counted for "TASK WARNINGS: n". */
void pved_task_warn(const char *fmt, ...) _printf_(1, 2);
