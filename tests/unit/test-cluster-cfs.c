/* Tests of pvecfs's pieces without the daemon: the tree's changes and limits, vmid uniqueness, locks,
 * the SQLite file across a reopen, the sync's serialized tree, and the message decoder. */
#include "cluster/cfs-internal.h"
#include "tests/unit/test.h"

static int64_t clock_ms = 1000000;

static int change(cfs_tree *t, uint32_t op, const char *path, const char *path2, const char *data,
		  const char *tag)
{
	cfs_msg m = { .op = op,
		      .path = path,
		      .path2 = path2,
		      .tag = tag ? tag : "",
		      .data = (const uint8_t *)data,
		      .data_len = data ? strlen(data) : 0,
		      .time = clock_ms };
	return cfs_tree_apply(t, &m);
}

static const char *content(cfs_tree *t, const char *path)
{
	cfs_node *n = cfs_tree_lookup(t, path);
	return n && !n->dir ? n->data : NULL;
}

static void test_changes(void)
{
	cfs_tree *t = cfs_tree_new();
	check_int(change(t, CFS_OP_WRITE, "user.cfg", NULL, "a\n", NULL), 0);
	check_streq(content(t, "user.cfg"), "a\n");
	check_int(t->version, 1);
	/* parents made on the way */
	check_int(change(t, CFS_OP_WRITE, "nodes/n1/qemu-server/100.conf", NULL, "cores: 1\n",
			 NULL),
		  0);
	check(cfs_tree_lookup(t, "nodes/n1")->dir);
	/* digest guard */
	char d[41];
	pve_store_digest("a\n", 2, d);
	check_int(change(t, CFS_OP_WRITE, "user.cfg", NULL, "b\n",
			 "0000000000000000000000000000000000000000"),
		  -ESTALE);
	check_streq(content(t, "user.cfg"), "a\n");
	check_int(change(t, CFS_OP_WRITE, "user.cfg", NULL, "b\n", d), 0);
	check_streq(content(t, "user.cfg"), "b\n");
	uint64_t v = t->version;
	/* refused changes change nothing, not even the version */
	cfs_msg ex = { .op = CFS_OP_WRITE,
		       .flags = CFS_F_EXCL,
		       .path = "user.cfg",
		       .tag = "",
		       .time = clock_ms };
	check_int(cfs_tree_apply(t, &ex), -EEXIST);
	check_int(change(t, CFS_OP_DELETE, "nodes", NULL, NULL, NULL), -ENOTEMPTY);
	check_int(change(t, CFS_OP_WRITE, "user.cfg/x", NULL, "", NULL), -ENOTDIR);
	check_int(change(t, CFS_OP_WRITE, "../x", NULL, "", NULL), -EINVAL);
	check_int(t->version, v);
	/* rename moves, refuses to replace and into itself */
	check_int(change(t, CFS_OP_RENAME, "nodes/n1/qemu-server/100.conf",
			 "nodes/n2/qemu-server/100.conf", NULL, NULL),
		  0);
	check_streq(content(t, "nodes/n2/qemu-server/100.conf"), "cores: 1\n");
	check(!cfs_tree_lookup(t, "nodes/n1/qemu-server/100.conf"));
	check_int(change(t, CFS_OP_RENAME, "nodes/n2", "nodes/n2/x", NULL, NULL), -EINVAL);
	check_int(change(t, CFS_OP_RENAME, "user.cfg", "nodes/n2/qemu-server/100.conf", NULL, NULL),
		  -EEXIST);
	/* FUSE-style writes at offsets and truncation */
	cfs_msg w = { .op = CFS_OP_WRITE_AT,
		      .path = "user.cfg",
		      .arg = 4,
		      .data = (const uint8_t *)"zz",
		      .data_len = 2,
		      .time = clock_ms };
	check_int(cfs_tree_apply(t, &w), 0);
	check_int(cfs_tree_lookup(t, "user.cfg")->size, 6);
	check(memcmp(content(t, "user.cfg"), "b\n\0\0zz", 6) == 0);
	cfs_msg tr = { .op = CFS_OP_TRUNCATE, .path = "user.cfg", .arg = 1, .time = clock_ms };
	check_int(cfs_tree_apply(t, &tr), 0);
	check_streq(content(t, "user.cfg"), "b");
	check_int(change(t, CFS_OP_DELETE, "user.cfg", NULL, NULL, NULL), 0);
	check_int(change(t, CFS_OP_DELETE, "user.cfg", NULL, NULL, NULL), -ENOENT);
	cfs_tree_free(t);
}

static void test_vmid_unique(void)
{
	cfs_tree *t = cfs_tree_new();
	check_int(change(t, CFS_OP_WRITE, "nodes/n1/qemu-server/100.conf", NULL, "", NULL), 0);
	check_int(change(t, CFS_OP_WRITE, "nodes/n2/lxc/100.conf", NULL, "", NULL), -EEXIST);
	check_int(change(t, CFS_OP_WRITE, "nodes/n2/qemu-server/100.conf", NULL, "", NULL),
		  -EEXIST);
	check_int(change(t, CFS_OP_CREATE, "nodes/n1/lxc/100.conf", NULL, NULL, NULL), -EEXIST);
	/* the same file may be rewritten, and moved between nodes */
	check_int(change(t, CFS_OP_WRITE, "nodes/n1/qemu-server/100.conf", NULL, "x", NULL), 0);
	check_int(change(t, CFS_OP_RENAME, "nodes/n1/qemu-server/100.conf",
			 "nodes/n3/qemu-server/100.conf", NULL, NULL),
		  0);
	check_int(change(t, CFS_OP_WRITE, "nodes/n2/lxc/101.conf", NULL, "", NULL), 0);
	check_int(change(t, CFS_OP_RENAME, "nodes/n2/lxc/101.conf", "nodes/n2/qemu-server/100.conf",
			 NULL, NULL),
		  -EEXIST);
	/* not guest configs: other names are free */
	check_int(change(t, CFS_OP_WRITE, "nodes/n2/qemu-server/100.conf.tmp", NULL, "", NULL), 0);
	check_int(change(t, CFS_OP_WRITE, "firewall/100.fw", NULL, "", NULL), 0);
	cfs_tree_free(t);
}

static void test_limits(void)
{
	cfs_tree *t = cfs_tree_new();
	size_t big = CFS_MAX_FILE + 1;
	char *data = xmalloc(big + 1);
	memset(data, 'x', big);
	data[big] = '\0';
	check_int(change(t, CFS_OP_WRITE, "big", NULL, data, NULL), -EFBIG);
	check(!cfs_tree_lookup(t, "big"));
	data[CFS_MAX_FILE] = '\0';
	check_int(change(t, CFS_OP_WRITE, "big", NULL, data, NULL), 0);
	cfs_msg w = { .op = CFS_OP_WRITE_AT,
		      .path = "big",
		      .arg = CFS_MAX_FILE,
		      .data = (const uint8_t *)"x",
		      .data_len = 1,
		      .time = clock_ms };
	check_int(cfs_tree_apply(t, &w), -EFBIG);
	/* the total: files of 4 MiB up to 512 MiB, the next one refused whole */
	t->total_bytes = CFS_MAX_TOTAL - 10;
	check_int(change(t, CFS_OP_WRITE, "more", NULL, "01234567890", NULL), -ENOSPC);
	check(!cfs_tree_lookup(t, "more"));
	check_int(change(t, CFS_OP_WRITE, "more", NULL, "0123456789", NULL), 0);
	t->total_bytes = CFS_MAX_FILE;
	t->n_entries = CFS_MAX_ENTRIES;
	check_int(change(t, CFS_OP_WRITE, "one-more", NULL, "", NULL), -ENOSPC);
	check_int(change(t, CFS_OP_MKDIR, "a/b", NULL, NULL, NULL), -ENOSPC);
	t->n_entries = 4;
	free(data);
	cfs_tree_free(t);
}

static void test_locks(void)
{
	cfs_tree *t = cfs_tree_new();
	check_int(change(t, CFS_OP_LOCK, "file-user_cfg", NULL, NULL, "tok1"), 0);
	check(cfs_tree_lookup(t, "priv/lock/file-user_cfg")->dir);
	check_int(change(t, CFS_OP_LOCK, "file-user_cfg", NULL, NULL, "tok2"), -EBUSY);
	check_int(change(t, CFS_OP_LOCK_REFRESH, "file-user_cfg", NULL, NULL, "tok2"), -EBUSY);
	check_int(change(t, CFS_OP_LOCK_REFRESH, "file-user_cfg", NULL, NULL, "tok1"), 0);
	/* FUSE's mkdir of a held lock fails; after 120 s anyone takes it over */
	check_int(change(t, CFS_OP_MKDIR, "priv/lock/file-user_cfg", NULL, NULL, NULL), -EEXIST);
	clock_ms += (PVE_STORE_LOCK_TIMEOUT_SEC + 1) * 1000;
	check_int(change(t, CFS_OP_LOCK, "file-user_cfg", NULL, NULL, "tok2"), 0);
	check_int(change(t, CFS_OP_LOCK_REFRESH, "file-user_cfg", NULL, NULL, "tok1"), -EBUSY);
	/* an old holder's release leaves the new holder's lock */
	check_int(change(t, CFS_OP_UNLOCK, "file-user_cfg", NULL, NULL, "tok1"), 0);
	check(cfs_tree_lookup(t, "priv/lock/file-user_cfg"));
	check_int(change(t, CFS_OP_UNLOCK, "file-user_cfg", NULL, NULL, "tok2"), 0);
	check(!cfs_tree_lookup(t, "priv/lock/file-user_cfg"));
	check_int(change(t, CFS_OP_LOCK, "a/b", NULL, NULL, "t"), -EINVAL);
	cfs_tree_free(t);
}

static void test_db(void)
{
	_cleanup_free_ char *path = xasprintf("%s/config.db", test_tmpdir());
	_cleanup_error_ pve_error *err = NULL;
	cfs_db *db = NULL;
	check_int(cfs_db_open(path, &db, &err), 0);
	cfs_tree *t = cfs_tree_new();
	t->db = db;
	check_int(change(t, CFS_OP_WRITE, "nodes/n1/qemu-server/100.conf", NULL, "a", NULL), 0);
	check_int(change(t, CFS_OP_WRITE, "storage.cfg", NULL, "dir: local\n", NULL), 0);
	check_int(change(t, CFS_OP_MKDIR, "ha", NULL, NULL, NULL), 0);
	/* a move of an old file under a newer directory: the rows load in any order */
	check_int(change(t, CFS_OP_RENAME, "storage.cfg", "ha/storage.cfg", NULL, NULL), 0);
	check_int(change(t, CFS_OP_DELETE, "nodes/n1/qemu-server/100.conf", NULL, NULL, NULL), 0);
	char d1[65], d2[65];
	cfs_tree_digest(t, d1);
	uint64_t v = t->version, next = t->next_inode;
	cfs_db_free(db);
	t->db = NULL;
	cfs_tree_free(t);

	check_int(cfs_db_open(path, &db, &err), 0);
	t = cfs_tree_new();
	check_int(cfs_db_load(db, t, &err), 0);
	cfs_tree_digest(t, d2);
	check_streq(d1, d2);
	check_int(t->version, v);
	check_int(t->next_inode, next);
	check_streq(content(t, "ha/storage.cfg"), "dir: local\n");
	check(cfs_tree_lookup(t, "nodes/n1/qemu-server"));
	/* a sync's replacement goes to disk whole */
	cfs_tree *o = cfs_tree_new();
	check_int(change(o, CFS_OP_WRITE, "user.cfg", NULL, "u", NULL), 0);
	pve_buf b = { 0 };
	cfs_tree_serialize(o, &b);
	t->db = db;
	check_int(cfs_tree_replace(t, (const uint8_t *)b.data, b.len), 0);
	cfs_db_free(db);
	t->db = NULL;
	cfs_tree_free(t);
	check_int(cfs_db_open(path, &db, &err), 0);
	t = cfs_tree_new();
	check_int(cfs_db_load(db, t, &err), 0);
	cfs_tree_digest(t, d1);
	cfs_tree_digest(o, d2);
	check_streq(d1, d2);
	check(!cfs_tree_lookup(t, "ha"));
	check_streq(content(t, "user.cfg"), "u");
	pve_buf_free(&b);
	cfs_db_free(db);
	cfs_tree_free(t);
	cfs_tree_free(o);
}

static void test_serialize(void)
{
	cfs_tree *t = cfs_tree_new();
	check_int(change(t, CFS_OP_WRITE, "a/b/c", NULL, "1", NULL), 0);
	check_int(change(t, CFS_OP_WRITE, "a/d", NULL, "22", NULL), 0);
	check_int(change(t, CFS_OP_LOCK, "x", NULL, NULL, "tok"), 0);
	pve_buf b = { 0 };
	cfs_tree_serialize(t, &b);
	cfs_tree *u = cfs_tree_new();
	check_int(cfs_tree_replace(u, (const uint8_t *)b.data, b.len), 0);
	char d1[65], d2[65];
	cfs_tree_digest(t, d1);
	cfs_tree_digest(u, d2);
	check_streq(d1, d2);
	check_int(u->version, t->version);
	check_int(cfs_tree_lookup(u, "a/d")->inode, cfs_tree_lookup(t, "a/d")->inode);
	/* a cut or grown update is refused and changes nothing */
	check_int(cfs_tree_replace(u, (const uint8_t *)b.data, b.len - 1), -EBADMSG);
	pve_buf_append(&b, "x", 1);
	check_int(cfs_tree_replace(u, (const uint8_t *)b.data, b.len), -EBADMSG);
	cfs_tree_digest(u, d2);
	check_streq(d1, d2);
	/* different trees, different digests */
	check_int(change(u, CFS_OP_WRITE, "a/d", NULL, "23", NULL), 0);
	cfs_tree_digest(u, d2);
	check(strcmp(d1, d2) != 0);
	pve_buf_free(&b);
	cfs_tree_free(t);
	cfs_tree_free(u);
}

static void test_decode(void)
{
	pve_buf b = { 0 };
	cfs_msg m = { .op = CFS_OP_WRITE,
		      .path = "user.cfg",
		      .tag = "d",
		      .reqid = 9,
		      .data = (const uint8_t *)"abc",
		      .data_len = 3 };
	cfs_msg_encode(&b, &m);
	cfs_msg r;
	uint8_t *buf = xmalloc(b.len);
	memcpy(buf, b.data, b.len);
	check_int(cfs_msg_decode(buf, b.len, CFS_MAX_REQUEST, &r), 0);
	check_streq(r.path, "user.cfg");
	check_streq(r.tag, "d");
	check_int(r.reqid, 9);
	check_int(r.data_len, 3);
	/* short, long, lying lengths, a missing NUL, a bad op */
	memcpy(buf, b.data, b.len);
	check_int(cfs_msg_decode(buf, b.len - 1, CFS_MAX_REQUEST, &r), -EBADMSG);
	check_int(cfs_msg_decode(buf, b.len, 10, &r), -E2BIG);
	buf[56] = 4; /* data_len 4 */
	check_int(cfs_msg_decode(buf, b.len, CFS_MAX_REQUEST, &r), -EBADMSG);
	memcpy(buf, b.data, b.len);
	buf[CFS_MSG_HEADER + 8] = 'x'; /* the path's NUL */
	check_int(cfs_msg_decode(buf, b.len, CFS_MAX_REQUEST, &r), -EBADMSG);
	memcpy(buf, b.data, b.len);
	buf[4] = 0;
	check_int(cfs_msg_decode(buf, b.len, CFS_MAX_REQUEST, &r), -EBADMSG);
	check(!cfs_path_valid("a//b", false));
	check(!cfs_path_valid("/a", false));
	check(!cfs_path_valid("a/../b", false));
	check(!cfs_path_valid("a\nb", false));
	check(cfs_path_valid("", true));
	free(buf);
	pve_buf_free(&b);
}

TEST_MAIN(TEST(test_changes), TEST(test_vmid_unique), TEST(test_limits), TEST(test_locks),
	  TEST(test_db), TEST(test_serialize), TEST(test_decode))
