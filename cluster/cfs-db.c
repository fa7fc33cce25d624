/* cluster: pvecfs's SQLite file (pmxcfs's schema): one row per entry plus the tree's version in row 0,
 * every change one transaction in WAL mode, so a crash leaves the last committed tree. */
#include <sqlite3.h>
#include <sys/stat.h>

#include "cluster/cfs-internal.h"

struct cfs_db {
	sqlite3 *h;
	sqlite3_stmt *put, *del, *begin, *commit, *rollback;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS tree (inode INTEGER PRIMARY KEY NOT NULL,"
			     " parent INTEGER NOT NULL CHECK(typeof(parent)=='integer'),"
			     " version INTEGER NOT NULL CHECK(typeof(version)=='integer'),"
			     " writer INTEGER NOT NULL CHECK(typeof(writer)=='integer'),"
			     " mtime INTEGER NOT NULL CHECK(typeof(mtime)=='integer'),"
			     " type INTEGER NOT NULL CHECK(typeof(type)=='integer'),"
			     " name TEXT NOT NULL, data BLOB);";

/* pmxcfs's type values: a directory is DT_DIR (4), a file DT_REG (8). */
#define ROW_DIR 4
#define ROW_REG 8

void cfs_db_free(cfs_db *db)
{
	if (!db)
		return;
	sqlite3_finalize(db->put);
	sqlite3_finalize(db->del);
	sqlite3_finalize(db->begin);
	sqlite3_finalize(db->commit);
	sqlite3_finalize(db->rollback);
	sqlite3_close(db->h);
	free(db);
}

int cfs_db_open(const char *path, cfs_db **ret, pve_error **err)
{
	cfs_db *db = xcalloc(1, sizeof(*db));
	int rc = sqlite3_open_v2(path, &db->h,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK)
		goto fail;
	(void)chmod(path, 0600);
	/* WAL + NORMAL: a commit survives a crash of the process; one of the machine may lose the
	 * last commits, never half of one (as pmxcfs runs it) */
	if ((rc = sqlite3_exec(db->h,
			       "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			       "PRAGMA busy_timeout=10000; PRAGMA wal_autocheckpoint=8192;",
			       NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_exec(db->h, schema, NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_prepare_v2(
		     db->h,
		     "REPLACE INTO tree (inode, parent, version, writer, mtime, type,"
		     " name, data) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)",
		     -1, &db->put, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db->h, "DELETE FROM tree WHERE inode = ?1", -1, &db->del,
				     NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db->h, "BEGIN IMMEDIATE", -1, &db->begin, NULL)) !=
		    SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db->h, "COMMIT", -1, &db->commit, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db->h, "ROLLBACK", -1, &db->rollback, NULL)) != SQLITE_OK)
		goto fail;
	*ret = db;
	return 0;
fail:;
	int r = pve_error_set(err, EIO, "can't open the config database '%s': %s", path,
			      db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
	cfs_db_free(db);
	return r;
}

static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int cfs_db_begin(cfs_db *db)
{
	return step(db->begin);
}

int cfs_db_commit(cfs_db *db)
{
	return step(db->commit);
}

void cfs_db_rollback(cfs_db *db)
{
	(void)step(db->rollback);
}

int cfs_db_put(cfs_db *db, const cfs_node *n)
{
	sqlite3_stmt *st = db->put;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)n->inode);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(n->parent ? n->parent->inode : 0));
	sqlite3_bind_int64(st, 3, (sqlite3_int64)n->version);
	sqlite3_bind_int64(st, 4, n->mtime);
	sqlite3_bind_int(st, 5, n->dir ? ROW_DIR : ROW_REG);
	sqlite3_bind_text(st, 6, n->name, -1, SQLITE_STATIC);
	if (n->size || n->dir)
		sqlite3_bind_blob(st, 7, n->data ? n->data : "", (int)n->size, SQLITE_STATIC);
	else
		sqlite3_bind_zeroblob(st, 7, 0);
	int r = step(st);
	sqlite3_clear_bindings(st);
	return r;
}

int cfs_db_del(cfs_db *db, uint64_t inode)
{
	sqlite3_bind_int64(db->del, 1, (sqlite3_int64)inode);
	return step(db->del);
}

int cfs_db_clear(cfs_db *db)
{
	return sqlite3_exec(db->h, "DELETE FROM tree", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Row 0, "__version__", as in pmxcfs: version, mtime and (in parent) the next free inode. */
int cfs_db_put_version(cfs_db *db, const cfs_tree *t)
{
	sqlite3_stmt *st = db->put;
	sqlite3_bind_int64(st, 1, 0);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)t->next_inode);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)t->version);
	sqlite3_bind_int64(st, 4, t->mtime);
	sqlite3_bind_int(st, 5, ROW_REG);
	sqlite3_bind_text(st, 6, "__version__", -1, SQLITE_STATIC);
	sqlite3_bind_null(st, 7);
	int r = step(st);
	sqlite3_clear_bindings(st);
	return r;
}

typedef struct row {
	cfs_node *n;
	uint64_t parent;
} row;

int cfs_db_load(cfs_db *db, cfs_tree *t, pve_error **err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h,
			       "SELECT inode, parent, version, mtime, type, name, data FROM tree",
			       -1, &st, NULL) != SQLITE_OK)
		return pve_error_set(err, EIO, "config database: %s", sqlite3_errmsg(db->h));
	row *rows = NULL;
	size_t n_rows = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t ino = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t parent = (uint64_t)sqlite3_column_int64(st, 1);
		if (ino == 0) {
			t->next_inode = parent;
			t->version = (uint64_t)sqlite3_column_int64(st, 2);
			t->mtime = sqlite3_column_int64(st, 3);
			continue;
		}
		const char *name = (const char *)sqlite3_column_text(st, 5);
		int len = sqlite3_column_bytes(st, 6);
		if (!name || ino < CFS_INO_FIRST_FREE || !cfs_path_valid(name, false) ||
		    strchr(name, '/') || len < 0 || (size_t)len > CFS_MAX_FILE ||
		    cfs_tree_by_inode(t, ino)) {
			log_warning("config database: skipping a bad row (inode %llu)",
				    (unsigned long long)ino);
			continue;
		}
		cfs_node *n = xcalloc(1, sizeof(*n));
		n->inode = ino;
		n->name = xstrdup(name);
		n->dir = sqlite3_column_int(st, 4) == ROW_DIR;
		n->version = (uint64_t)sqlite3_column_int64(st, 2);
		n->mtime = sqlite3_column_int64(st, 3);
		n->data = xmalloc((size_t)len + 1);
		if (len)
			memcpy(n->data, sqlite3_column_blob(st, 6), (size_t)len);
		n->data[len] = '\0';
		n->size = (size_t)len;
		if (n_rows == cap) {
			cap = cap ? cap * 2 : 256;
			rows = xrealloc(rows, cap * sizeof(*rows));
		}
		rows[n_rows++] = (row){ n, parent };
		/* the table first, so parents are found whatever the row order (a rename moves an old
		 * inode under a newer directory) */
		cfs_tree_insert_loaded(t, n);
	}
	sqlite3_finalize(st);
	int r = 0;
	if (rc != SQLITE_DONE)
		r = pve_error_set(err, EIO, "config database: %s", sqlite3_errmsg(db->h));
	for (size_t i = 0; i < n_rows; i++) {
		cfs_node *p = cfs_tree_by_inode(t, rows[i].parent);
		if (r == 0 && p && p->dir && !cfs_node_child(p, rows[i].n->name))
			cfs_tree_link_loaded(t, p, rows[i].n);
	}
	/* rows that found no parent (a cycle or a lost parent: never written by us) are dropped */
	cfs_tree_drop_unlinked(t);
	free(rows);
	if (t->next_inode < CFS_INO_FIRST_FREE)
		t->next_inode = CFS_INO_FIRST_FREE;
	return r;
}
