/* cluster: the config store, through which every read and write of a file under <root>/etc/pve goes. */
#pragma once

#include "common/common.h"

/* ---- the config store ----------------------------------------------------------------------------------
 * Backed by plain files (atomic rename) until pvecfs exists; the backend sits behind an ops table in the
 * implementation, so callers never see which one is in use.
 *
 * Paths are relative to etc/pve: "user.cfg", "priv/shadow.cfg", "nodes/n1/qemu-server/100.conf". Refused
 * with EINVAL: absolute paths, "..", ".", empty segments, control characters, segments starting with
 * ".pved-" (the store's own files), and paths longer than PVE_STORE_MAX_PATH. Files under priv/ are 0600,
 * others 0640; directories under priv/ 0700, others 0755. A file holds at most PVE_STORE_MAX_FILE bytes
 * (E2BIG), as in pmxcfs. A digest is the 40 lower-case hex characters of the SHA-1 of the file's bytes
 * (as Proxmox's config GETs return it), NUL-terminated in a char[41]. */

#define PVE_STORE_MAX_PATH 1024
#define PVE_STORE_MAX_FILE (1024 * 1024)
#define PVE_STORE_DIGEST_LEN 40
/* A lock is held while its mtime is younger than this; the holder refreshes it well before. */
#define PVE_STORE_LOCK_TIMEOUT_SEC 120

typedef struct pve_store pve_store;

/* The store is <root>/etc/pve, created 0755 if missing, with priv/ 0700. Temporary files that a killed
 * writer left behind are removed. */
int pve_store_open(const char *root, pve_store **ret, pve_error **err);
void pve_store_free(pve_store *s);
/* "<root>/etc/pve": only for the era without the FUSE mount (tests, pved --check). */
const char *pve_store_dir(const pve_store *s);

/* The SHA-1 digest of data as the store reports it. */
void pve_store_digest(const void *data, size_t len, char ret_digest[PVE_STORE_DIGEST_LEN + 1]);

/* ENOENT when the file does not exist. *ret_data is NUL-terminated past *ret_len. ret_len and ret_digest
 * may be NULL. */
int pve_store_read(pve_store *s, const char *path, char **ret_data, size_t *ret_len,
		   char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err);
/* Replaces the file atomically (temporary file, fsync, rename, fsync of the directory) and creates missing
 * parent directories. With expected_digest, the file's current digest must match it (a missing file never
 * matches), else ESTALE "detected modified configuration - file changed by other user? Try again."; the
 * compare and the replace are atomic against other writers, in this and other processes. */
int pve_store_write(pve_store *s, const char *path, const void *data, size_t len,
		    const char *expected_digest, pve_error **err);
/* As pve_store_write, but EEXIST when the file exists. */
int pve_store_create(pve_store *s, const char *path, const void *data, size_t len, pve_error **err);
/* Removes a file or an empty directory; ENOENT when missing, ENOTEMPTY for a directory with entries. */
int pve_store_delete(pve_store *s, const char *path, pve_error **err);
/* Atomically; EEXIST when `to` exists (as Proxmox moves a guest's config between nodes); creates missing
 * parent directories of `to`. */
int pve_store_rename(pve_store *s, const char *from, const char *to, pve_error **err);
/* Like mkdir -p; fine when it exists. */
int pve_store_mkdir(pve_store *s, const char *path, pve_error **err);
/* The names in dir (NULL or "" for the top), sorted, without names starting with '.'; files and
 * directories alike. ENOENT, ENOTDIR. */
int pve_store_list(pve_store *s, const char *dir, char ***ret_names, pve_error **err);
bool pve_store_exists(pve_store *s, const char *path);

/* ---- volatile status ---------------------------------------------------------------------------------
 * pvecfs's per-node key/values (pmxcfs's kvstore): each node sets its own, every node reads every
 * node's; RAM only, a node's values are gone once it leaves the cluster. key and node are one path
 * segment; a value holds at most PVE_STORE_STATUS_MAX_VALUE bytes (E2BIG), a node at most
 * PVE_STORE_STATUS_MAX_KEYS keys (ENOSPC). Answered at once from pvecfs's RAM, as reads are. On plain
 * files (no pvecfs) there is nobody to tell: set does nothing and get is ENOENT. */

#define PVE_STORE_STATUS_MAX_VALUE (64 * 1024)
#define PVE_STORE_STATUS_MAX_KEYS 256

/* This node's value of key. */
int pve_store_status_set(pve_store *s, const char *key, const void *data, size_t len,
			 pve_error **err);
/* node's value of key, NUL-terminated past *ret_len; ENOENT when it has none. */
int pve_store_status_get(pve_store *s, const char *node, const char *key, char **ret_data,
			 size_t *ret_len, pve_error **err);

/* ---- locks ---------------------------------------------------------------------------------------------
 * pmxcfs semantics: a lock is the directory priv/lock/<name>, held while its mtime is younger than
 * PVE_STORE_LOCK_TIMEOUT_SEC; the holder refreshes it; an expired lock may be taken over by anyone. They
 * work across processes (pved and its forked task workers). name: one path segment ("file-user.cfg",
 * "storage-local"). */

typedef struct pve_store_lock pve_store_lock;

/* Waits up to timeout_ms (0: one try) for the lock; EBUSY "can't lock file '...' - got timeout".
 * (Not named pve_store_lock: C gives the type and a function of that name one namespace.) */
int pve_store_lock_acquire(pve_store *s, const char *name, int timeout_ms, pve_store_lock **ret,
			   pve_error **err);
/* Pushes the expiry out again; EBUSY when the lock expired and someone else took it over. */
int pve_store_lock_refresh(pve_store_lock *l, pve_error **err);
/* Releases (unless someone took it over meanwhile) and frees; NULL is fine. */
void pve_store_unlock(pve_store_lock *l);
/* A lock records its holder's pid and start time (/proc/PID/stat's starttime, so a reused pid is not
 * taken for the holder). For the one process that owns the root (pved, holding run/pved.pid's flock)
 * at its start: removes what processes killed mid-edit left behind, the temporary files of writers
 * (a live writer holds its file's flock) and the locks whose holder is gone, which would otherwise
 * refuse everyone until they expire. Locks of live holders, and locks that record no holder, stay.
 * Returns how many locks were removed; *ret_cleared (may be NULL) gets their names. Opening a store
 * does none of this: task workers and pvectl open it often, and a walk of a tree with thousands of
 * guest configs costs each of them. */
int pve_store_recover(pve_store *s, char ***ret_cleared, pve_error **err);

/* ---- change watch --------------------------------------------------------------------------------------
 * An fd (inotify, over every directory of the store, new ones included) that becomes readable when files
 * change; the daemon puts it in its event loop and calls pve_store_watch_read when it is readable, which
 * drains it and calls cb once per changed path (relative, as above; a new directory's files are reported
 * too). After a queue overflow cb gets "" once: anything may have changed. Lock directories and the store's
 * own temporary files are not reported. The fd belongs to the store: the same one on each call. */

typedef void (*pve_store_watch_fn)(const char *path, void *userdata);
int pve_store_watch_fd(pve_store *s, pve_error **err);
int pve_store_watch_read(pve_store *s, pve_store_watch_fn cb, void *userdata, pve_error **err);

/* ---- the cluster log -----------------------------------------------------------------------------------
 * pmxcfs's cluster log: entries {uid, time, pri, tag, pid, node, user, msg} that every node appends to,
 * kept in pvecfs's RAM and replicated to every node. Both calls are answered from that RAM at once, so
 * they are fine on pved's loop. A store on plain files has no cluster log (nor has a Proxmox node
 * without pmxcfs): an append does nothing and a read is an empty list. */

/* The most a read's JSON text takes: a whole log (128 KiB of entries) written out. */
#define PVE_STORE_LOG_MAX_JSON (4 * 1024 * 1024)

/* priority: syslog's, 0 (emerg) to 7 (debug); tag: the program ("pved"); user: whose action it is
 * ("root@pam"; may be NULL or ""); msg: cut where the entry's 4 KiB end, as pmxcfs cuts it (so is
 * a tag or user past 255 bytes). The entry's pid is the caller's. EINVAL for a priority out of
 * range or an empty message. */
int pve_store_log(pve_store *s, const char *tag, const char *user, int priority, const char *msg,
		  pve_error **err);
/* The newest max entries (0: 50), newest first, only user's when user is not NULL or "" (all
 * entries for an auditor), as pmxcfs's JSON text:
 * {"data": [{"uid": 3, "time": 1700000000, "pri": 6, "tag": "pved", "pid": 7, "node": "n1",
 *   "user": "root@pam", "msg": "..."}, ...]} */
int pve_store_log_read(pve_store *s, const char *user, unsigned max, char **ret_json,
		       pve_error **err);
