/* cluster: pvecfs's pieces shared by the daemon, the store's pvecfs backend and the tests: the message
 * format of the unix socket and of the CPG group, the tree in RAM and its SQLite file. */
#pragma once

#include <endian.h>
#include <stdint.h>

#include "cluster/cluster.h"

/* ---- limits (four times pmxcfs's, as the issue sets them) ---- */
#define CFS_MAX_FILE (4u * 1024 * 1024)
#define CFS_MAX_TOTAL (512ull * 1024 * 1024)
#define CFS_MAX_ENTRIES (1024u * 1024)
#define CFS_MAX_NAME 255
/* A message carries at most one file or one whole tree (a sync update); the tree is bounded by the
 * total above plus each entry's header and name. */
#define CFS_MAX_MSG (CFS_MAX_TOTAL + (uint64_t)CFS_MAX_ENTRIES * 320)
/* A socket request never carries more than one file. */
#define CFS_MAX_REQUEST (CFS_MAX_FILE + 3 * (PVE_STORE_MAX_PATH + 64))

/* The reserved inodes: the root (FUSE's 1), then the generated files and the links. */
enum {
	CFS_INO_ROOT = 1,
	CFS_INO_MEMBERS,
	CFS_INO_VMLIST,
	CFS_INO_VERSION,
	CFS_INO_CLUSTERLOG,
	CFS_INO_RRD,
	CFS_INO_LOCAL,
	CFS_INO_QEMU,
	CFS_INO_LXC,
	CFS_INO_FIRST_FREE = 16,
};

/* ---- messages ----------------------------------------------------------------------------------------
 * One format for the socket and for CPG: a fixed little-endian header, then path, path2, tag and data,
 * in that order, each as long as the header says. The receiver checks every length against the frame
 * and the limits before it looks at a byte (cfs_msg_decode). */
enum cfs_op {
	CFS_OP_READ = 1, /* path -> data, version */
	CFS_OP_STAT, /* path -> flags CFS_F_DIR, version */
	CFS_OP_LIST, /* path ("" top) -> data: names, each NUL-terminated */
	CFS_OP_WRITE, /* path, data, tag: expected digest or "", flags CFS_F_EXCL */
	CFS_OP_DELETE, /* path: a file or an empty directory */
	CFS_OP_RENAME, /* path -> path2, EEXIST when path2 exists */
	CFS_OP_MKDIR, /* path, like mkdir -p */
	CFS_OP_LOCK, /* path: lock name, tag: token (empty from FUSE's mkdir) */
	CFS_OP_UNLOCK, /* path, tag: release if it still carries tag */
	CFS_OP_LOCK_REFRESH, /* path, tag */
	CFS_OP_WRITE_AT, /* FUSE: path, data at offset arg (extends the file) */
	CFS_OP_TRUNCATE, /* FUSE: path to arg bytes */
	CFS_OP_CREATE, /* FUSE: an empty file, EEXIST when it exists */
	CFS_OP_MTIME, /* FUSE utime: path, arg: the new mtime (a lock's refresh) */
	CFS_OP_WATCH, /* subscribe this connection to CFS_OP_NOTIFY */
	CFS_OP_NOTIFY, /* pushed: path changed ("" for anything) */
	CFS_OP_REPLY, /* result (negative errno), data, version */
	CFS_OP_STATE, /* CPG sync: version arg, tag: tree digest, data: the view it answers */
	CFS_OP_UPDATE, /* CPG sync: the leader's tree (cfs_tree_serialize) */
	CFS_OP_SET_STATUS, /* volatile: path: key, data: value; to every node, never to disk */
	CFS_OP_GET_STATUS, /* path: node name, path2: key -> data */
	CFS_OP_LOG, /* cluster log: path: tag, path2: user, flags: priority, data: the message */
	CFS_OP_LOG_READ, /* path: only this user's ("" all), arg: at most (0: 50) -> data: JSON */
	CFS_OP_LOG_ENTRIES, /* status group: data: log entries (cfs_log_encode), one or a whole log */
	CFS_OP_MAX,
};

/* Volatile status (the second CPG group): per node, at most this many keys of this size. */
#define CFS_MAX_STATUS_KEYS 256
#define CFS_MAX_STATUS_VALUE (64 * 1024)

/* ---- the cluster log (cfs-log.c) ----------------------------------------------------------------------
 * pmxcfs's: entries {uid, time, pri, tag, pid, node, user, msg} of every node, in RAM only. Bounds as
 * pmxcfs's (logger.h): an entry at most CFS_LOG_MAX_ENTRY bytes in its wire form (the message is cut
 * to fit), the log at most CFS_LOG_MAX_BYTES of them (the oldest go). Entries are ordered by (time,
 * node, uid), and that triple is an entry's identity: the uid is per node and per pvecfs run. */
#define CFS_LOG_MAX_ENTRY 4096
#define CFS_LOG_MAX_BYTES (128 * 1024)
#define CFS_LOG_MAX_NAME 255 /* node, user and tag: cut to this many bytes */
#define CFS_LOG_DEFAULT_MAX 50 /* entries answered when no count is asked (and in .clusterlog) */
#define CFS_LOG_ENTRY_HEADER 20

typedef struct cfs_log_entry {
	uint32_t uid, time, pid; /* time: seconds */
	uint8_t pri; /* syslog's 0..7 */
	const char *node, *user, *tag, *msg; /* into strings */
	size_t size; /* the wire form's */
	char strings[];
} cfs_log_entry;

typedef struct cfs_log cfs_log;
/* first_uid: where this run's counter starts (pvecfs: its start time in ms, so that a pvecfs restarted
 * within a second does not repeat the identities of the run before; pmxcfs starts at 1 and tells runs
 * apart by the time alone). */
cfs_log *cfs_log_new(uint32_t first_uid);
void cfs_log_free(cfs_log *l);
/* A local entry with the next uid. Text is kept as pmxcfs keeps it: control characters written as
 * "#NNN" (decimal), bytes that are not UTF-8 as '?', each string cut to its limit at a character's
 * end. Returns the entry (the log's, for sending), NULL when the bound dropped it at once (a clock
 * far behind the log's newest entries). */
const cfs_log_entry *cfs_log_add(cfs_log *l, const char *node, const char *tag, const char *user,
				 uint32_t pid, uint8_t pri, uint32_t time, const char *msg,
				 size_t msg_len);
/* Entries from another node (untrusted): all are decoded and checked before any is taken (-EBADMSG
 * for anything malformed), then those the log does not hold go in, in order, and the oldest go beyond
 * the bound. Returns how many were new. */
int cfs_log_merge(cfs_log *l, const uint8_t *data, size_t len);
void cfs_log_encode_entry(pve_buf *b, const cfs_log_entry *e);
/* The whole log, oldest first: what a member sends when a node joins. */
void cfs_log_encode(const cfs_log *l, pve_buf *b);
/* pmxcfs's JSON ({"data": [...]}, newest first): at most max entries, only user's when user is not
 * NULL or "". */
void cfs_log_dump_json(const cfs_log *l, pve_buf *b, const char *user, size_t max);
size_t cfs_log_count(const cfs_log *l);
size_t cfs_log_bytes(const cfs_log *l);
/* Oldest first; NULL past the end. */
const cfs_log_entry *cfs_log_nth(const cfs_log *l, size_t i);

/* ---- .rrd (cfs-rrd.c) -------------------------------------------------------------------------------
 * pmxcfs's dump of the newest RRD update of every node, guest and storage: "KEY:DATA\n" lines, e.g.
 * "pve-node-9.0/n1:UPTIME:...". Each node publishes its lines in its status values "rrd.0", "rrd.1",
 * ... (CFS_RRD_KEY_PREFIX), many per value. */
#define CFS_RRD_KEY_PREFIX "rrd."
#define CFS_RRD_MAX_LINE 4095 /* pmxcfs takes an entry under 4 KiB */
#define CFS_RRD_MAX_AGE_SEC 300 /* pmxcfs leaves out what it heard more than 5 minutes ago */
#define CFS_RRD_CACHE_SEC 2 /* and makes the text at most every 2 s */
#define CFS_RRD_MAX_TEXT (16u * 1024 * 1024) /* lines past it are left out */

typedef struct cfs_rrd_source {
	const char *data; /* lines, each ended by '\n' (the last one may lack it) */
	size_t len;
	int64_t time; /* when it was heard, seconds */
} cfs_rrd_source;

/* Appends the lines of the sources heard within CFS_RRD_MAX_AGE_SEC of now, sorted by key, one per
 * key (the one heard last), as long as out stays within max bytes. A line that is not "KEY:DATA"
 * with printable characters and at most CFS_RRD_MAX_LINE bytes is left out. */
void cfs_rrd_dump(const cfs_rrd_source *v, size_t n, int64_t now, size_t max, pve_buf *out);

#define CFS_F_EXCL 0x1
#define CFS_F_DIR 0x2

typedef struct cfs_msg {
	uint32_t op;
	uint32_t flags;
	uint64_t reqid;
	int32_t result;
	uint64_t version;
	int64_t time; /* the sender's clock, ms: what every member applies a change with */
	uint64_t arg;
	const char *path, *path2, *tag; /* NUL-terminated in the decoded frame */
	const uint8_t *data;
	size_t data_len;
} cfs_msg;

/* The wire formats' little-endian fields (messages, log entries), read and written unaligned. */
static inline void cfs_put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}
static inline void cfs_put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}
static inline void cfs_put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}
static inline uint16_t cfs_get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}
static inline uint32_t cfs_get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}
static inline uint64_t cfs_get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

#define CFS_MSG_HEADER 64
/* Appends the encoded message to b. */
void cfs_msg_encode(pve_buf *b, const cfs_msg *m);
/* Decodes one whole frame in place: buf must hold len bytes, and is modified (strings get their NUL
 * in the slack the encoder leaves). -EBADMSG for anything malformed, -E2BIG over max. */
int cfs_msg_decode(uint8_t *buf, size_t len, size_t max, cfs_msg *ret);
/* The frame's length from its first four bytes (0 when fewer are there). */
size_t cfs_msg_frame_len(const uint8_t *buf, size_t have);
bool cfs_op_mutates(uint32_t op);

/* The socket of the pvecfs serving root, and its database. */
char *cfs_socket_path(const char *root);
char *cfs_db_path(const char *root);

/* ---- the tree ---------------------------------------------------------------------------------------- */
typedef struct cfs_node cfs_node;
struct cfs_node {
	uint64_t inode;
	cfs_node *parent;
	char *name;
	bool dir;
	char *data; /* a file's bytes; a lock directory's token */
	size_t size;
	int64_t mtime; /* seconds */
	uint64_t version;
	cfs_node **kids; /* sorted by name */
	size_t n_kids, cap_kids;
};

typedef struct cfs_db cfs_db;

typedef void (*cfs_tree_change_fn)(const char *path, void *userdata);

typedef struct cfs_tree {
	cfs_node *root;
	uint64_t version; /* the change counter: one more per applied change */
	uint64_t next_inode;
	int64_t mtime;
	size_t n_entries;
	uint64_t total_bytes;
	/* inode -> node, open addressing */
	cfs_node **ino_tab;
	size_t ino_cap;
	cfs_db *db; /* NULL: RAM only (tests) */
	bool batch, batch_dirty; /* inside cfs_tree_batch_begin/end */
	cfs_tree_change_fn on_change;
	void *userdata;
} cfs_tree;

cfs_tree *cfs_tree_new(void);
void cfs_tree_free(cfs_tree *t);
cfs_node *cfs_tree_lookup(cfs_tree *t, const char *path);
cfs_node *cfs_tree_by_inode(cfs_tree *t, uint64_t inode);
cfs_node *cfs_node_child(cfs_node *dir, const char *name);
/* FUSE's (directory inode, name) as a path, checked as the store checks paths: NULL with ENOENT
 * (no such directory), ENAMETOOLONG or EINVAL in *ret_err. */
char *cfs_tree_child_path(cfs_tree *t, uint64_t parent, const char *name, int *ret_err);
/* "a/b/c" for a node (the root is ""). */
char *cfs_node_path(const cfs_node *n);
/* Applies one change message (a mutating op) at the time m->time; on success the version grows by
 * one, the database (if any) has the change in one transaction, and on_change is called. Fails with a
 * negative errno and changes nothing. ret_data (may be NULL) gets nothing today. */
int cfs_tree_apply(cfs_tree *t, const cfs_msg *m);
/* Changes applied between these share one transaction (each still whole or absent after a crash);
 * whoever acknowledges them does so after the end. */
void cfs_tree_batch_begin(cfs_tree *t);
void cfs_tree_batch_end(cfs_tree *t);
/* The tree's digest: SHA-256 over every entry (path, type, mtime, data) in order, as 64 hex. */
void cfs_tree_digest(cfs_tree *t, char ret[65]);
/* The whole tree as bytes (version, next inode, mtime, entries in parent-first order), and back. */
void cfs_tree_serialize(cfs_tree *t, pve_buf *b);
int cfs_tree_replace(cfs_tree *t, const uint8_t *data, size_t len);
/* Does a vmid's config exist under any node's qemu-server or lxc directory (other than at path)? */
bool cfs_tree_vmid_taken(cfs_tree *t, const char *vmid, const char *except_path);
/* A path that names a guest config: "nodes/<node>/{qemu-server,lxc}/<vmid>.conf"; *ret_vmid (a
 * static-free copy) and *ret_type ("qemu" or "lxc") may be NULL. */
bool cfs_path_guest(const char *path, char **ret_vmid, const char **ret_type, char **ret_node);
/* Check one relative path as the store does; shared by the socket, FUSE and CPG decoders. */
bool cfs_path_valid(const char *path, bool allow_empty);

/* ---- the database ---- */
int cfs_db_open(const char *path, cfs_db **ret, pve_error **err);
void cfs_db_free(cfs_db *db);
/* Loads every row into t (which must be empty). */
int cfs_db_load(cfs_db *db, cfs_tree *t, pve_error **err);
int cfs_db_begin(cfs_db *db);
int cfs_db_commit(cfs_db *db);
void cfs_db_rollback(cfs_db *db);
int cfs_db_put(cfs_db *db, const cfs_node *n);
int cfs_db_del(cfs_db *db, uint64_t inode);
int cfs_db_clear(cfs_db *db);
int cfs_db_put_version(cfs_db *db, const cfs_tree *t);
/* For cfs_db_load only. */
void cfs_tree_insert_loaded(cfs_tree *t, cfs_node *n);
void cfs_tree_link_loaded(cfs_tree *t, cfs_node *dir, cfs_node *n);
void cfs_tree_drop_unlinked(cfs_tree *t);
