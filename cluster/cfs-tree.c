/* cluster: pvecfs's tree in RAM: lookups, the changes every member applies in the same order, the
 * limits, vmid uniqueness, and the tree's digest and serialized form for the sync after a membership
 * change. */
#include <endian.h>
#include <openssl/evp.h>

#include "cluster/cfs-internal.h"

#define LOCK_DIR "priv/lock"

/* ---- inode table ---- */

static size_t ino_slot(const cfs_tree *t, uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 20) & (t->ino_cap - 1);
}

static void ino_put(cfs_tree *t, cfs_node *n);

static void ino_grow(cfs_tree *t)
{
	cfs_node **old = t->ino_tab;
	size_t old_cap = t->ino_cap;
	t->ino_cap = old_cap ? old_cap * 2 : 1024;
	t->ino_tab = xcalloc(t->ino_cap, sizeof(*t->ino_tab));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			ino_put(t, old[i]);
	free(old);
}

static void ino_put(cfs_tree *t, cfs_node *n)
{
	if ((t->n_entries + 1) * 2 > t->ino_cap)
		ino_grow(t);
	size_t i = ino_slot(t, n->inode);
	while (t->ino_tab[i])
		i = (i + 1) & (t->ino_cap - 1);
	t->ino_tab[i] = n;
}

cfs_node *cfs_tree_by_inode(cfs_tree *t, uint64_t inode)
{
	if (!t->ino_cap)
		return NULL;
	for (size_t i = ino_slot(t, inode); t->ino_tab[i]; i = (i + 1) & (t->ino_cap - 1))
		if (t->ino_tab[i]->inode == inode)
			return t->ino_tab[i];
	return NULL;
}

/* Removal from open addressing: the entries after the hole are put again. */
static void ino_del(cfs_tree *t, uint64_t inode)
{
	size_t i = ino_slot(t, inode);
	while (t->ino_tab[i] && t->ino_tab[i]->inode != inode)
		i = (i + 1) & (t->ino_cap - 1);
	if (!t->ino_tab[i])
		return;
	t->ino_tab[i] = NULL;
	for (size_t j = (i + 1) & (t->ino_cap - 1); t->ino_tab[j]; j = (j + 1) & (t->ino_cap - 1)) {
		cfs_node *n = t->ino_tab[j];
		t->ino_tab[j] = NULL;
		size_t k = ino_slot(t, n->inode);
		while (t->ino_tab[k])
			k = (k + 1) & (t->ino_cap - 1);
		t->ino_tab[k] = n;
	}
}

/* ---- nodes ---- */

static size_t kid_pos(const cfs_node *dir, const char *name, bool *found)
{
	size_t lo = 0, hi = dir->n_kids;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(dir->kids[mid]->name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

cfs_node *cfs_node_child(cfs_node *dir, const char *name)
{
	if (!dir || !dir->dir)
		return NULL;
	bool found;
	size_t i = kid_pos(dir, name, &found);
	return found ? dir->kids[i] : NULL;
}

static void kid_link(cfs_node *dir, cfs_node *n)
{
	bool found;
	size_t i = kid_pos(dir, n->name, &found);
	if (dir->n_kids == dir->cap_kids) {
		dir->cap_kids = dir->cap_kids ? dir->cap_kids * 2 : 4;
		dir->kids = xrealloc(dir->kids, dir->cap_kids * sizeof(*dir->kids));
	}
	memmove(dir->kids + i + 1, dir->kids + i, (dir->n_kids - i) * sizeof(*dir->kids));
	dir->kids[i] = n;
	dir->n_kids++;
	n->parent = dir;
}

static void kid_unlink(cfs_node *n)
{
	cfs_node *dir = n->parent;
	bool found;
	size_t i = kid_pos(dir, n->name, &found);
	if (!found)
		return;
	memmove(dir->kids + i, dir->kids + i + 1, (dir->n_kids - i - 1) * sizeof(*dir->kids));
	dir->n_kids--;
	n->parent = NULL;
}

static cfs_node *node_alloc(uint64_t inode, const char *name, bool dir)
{
	cfs_node *n = xcalloc(1, sizeof(*n));
	n->inode = inode;
	n->name = xstrdup(name);
	n->dir = dir;
	return n;
}

static void node_free_rec(cfs_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		node_free_rec(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->data);
	free(n);
}

cfs_tree *cfs_tree_new(void)
{
	cfs_tree *t = xcalloc(1, sizeof(*t));
	t->root = node_alloc(CFS_INO_ROOT, "", true);
	t->next_inode = CFS_INO_FIRST_FREE;
	ino_put(t, t->root);
	t->n_entries = 1;
	return t;
}

void cfs_tree_free(cfs_tree *t)
{
	if (!t)
		return;
	node_free_rec(t->root);
	free(t->ino_tab);
	free(t);
}

cfs_node *cfs_tree_lookup(cfs_tree *t, const char *path)
{
	cfs_node *n = t->root;
	if (!path || !*path)
		return n;
	char name[CFS_MAX_NAME + 1];
	for (const char *p = path; n;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || len > CFS_MAX_NAME)
			return NULL;
		memcpy(name, p, len);
		name[len] = '\0';
		n = cfs_node_child(n, name);
		if (!slash)
			return n;
		p = slash + 1;
	}
	return NULL;
}

char *cfs_node_path(const cfs_node *n)
{
	if (!n->parent)
		return xstrdup("");
	_cleanup_free_ char *up = cfs_node_path(n->parent);
	return *up ? xasprintf("%s/%s", up, n->name) : xstrdup(n->name);
}

char *cfs_tree_child_path(cfs_tree *t, uint64_t parent, const char *name, int *ret_err)
{
	cfs_node *p = cfs_tree_by_inode(t, parent);
	if (!p || !p->dir) {
		*ret_err = ENOENT;
		return NULL;
	}
	size_t nl = strnlen(name, CFS_MAX_NAME + 1);
	if (nl > CFS_MAX_NAME) {
		*ret_err = ENAMETOOLONG;
		return NULL;
	}
	_cleanup_free_ char *pp = cfs_node_path(p);
	if (strlen(pp) + 1 + nl > PVE_STORE_MAX_PATH) {
		*ret_err = ENAMETOOLONG;
		return NULL;
	}
	char *path = *pp ? xasprintf("%s/%s", pp, name) : xstrdup(name);
	/* one segment: a '/' in a name would reach another directory */
	if (strchr(name, '/') || !cfs_path_valid(path, false)) {
		free(path);
		*ret_err = EINVAL;
		return NULL;
	}
	return path;
}

/* ---- guests ---- */

bool cfs_path_guest(const char *path, char **ret_vmid, const char **ret_type, char **ret_node)
{
	if (!startswith(path, "nodes/"))
		return false;
	const char *node = path + 6, *slash = strchr(node, '/');
	if (!slash || slash == node)
		return false;
	const char *kind = slash + 1, *type;
	const char *file;
	if (startswith(kind, "qemu-server/")) {
		type = "qemu";
		file = kind + 12;
	} else if (startswith(kind, "lxc/")) {
		type = "lxc";
		file = kind + 4;
	} else {
		return false;
	}
	size_t digits = strspn(file, "0123456789");
	if (digits == 0 || digits > 9 || strcmp(file + digits, ".conf") != 0 || file[0] == '0')
		return false;
	if (ret_vmid)
		*ret_vmid = xstrndup(file, digits);
	if (ret_type)
		*ret_type = type;
	if (ret_node)
		*ret_node = xstrndup(node, (size_t)(slash - node));
	return true;
}

bool cfs_tree_vmid_taken(cfs_tree *t, const char *vmid, const char *except_path)
{
	cfs_node *nodes = cfs_tree_lookup(t, "nodes");
	if (!nodes || !nodes->dir)
		return false;
	_cleanup_free_ char *file = xasprintf("%s.conf", vmid);
	for (size_t i = 0; i < nodes->n_kids; i++) {
		static const char *const kinds[] = { "qemu-server", "lxc" };
		for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
			cfs_node *n =
				cfs_node_child(cfs_node_child(nodes->kids[i], kinds[k]), file);
			if (!n || n->dir)
				continue;
			_cleanup_free_ char *p = cfs_node_path(n);
			if (!except_path || strcmp(p, except_path) != 0)
				return true;
		}
	}
	return false;
}

/* ---- changes ---- */

static void digest_of(const cfs_node *n, char ret[PVE_STORE_DIGEST_LEN + 1])
{
	pve_store_digest(n->data ? n->data : "", n->size, ret);
}

/* How many directories a mkdir -p of path's parents (or of path itself with self) would add; -ENOTDIR
 * when a file is in the way. */
static int count_missing_dirs(cfs_tree *t, const char *path, bool self, size_t *ret_n)
{
	_cleanup_free_ char *copy = xstrdup(path);
	cfs_node *n = t->root;
	size_t missing = 0;
	char *save = NULL;
	char *seg = strtok_r(copy, "/", &save);
	while (seg) {
		char *next = strtok_r(NULL, "/", &save);
		if (!next && !self)
			break;
		cfs_node *k = n ? cfs_node_child(n, seg) : NULL;
		if (k && !k->dir)
			return -ENOTDIR;
		if (!k)
			missing++;
		n = k;
		seg = next;
	}
	*ret_n = missing;
	return 0;
}

static int touch(cfs_tree *t, cfs_node *n, int64_t now)
{
	n->mtime = now;
	n->version = t->version + 1;
	return t->db ? cfs_db_put(t->db, n) : 0;
}

/* mkdir -p; the limits were checked. Each new directory is a change of its own. */
static int make_dirs(cfs_tree *t, const char *path, bool self, int64_t now, cfs_node **ret,
		     char ***changed)
{
	_cleanup_free_ char *copy = xstrdup(path);
	cfs_node *n = t->root;
	char *save = NULL;
	char *seg = strtok_r(copy, "/", &save);
	while (seg) {
		char *next = strtok_r(NULL, "/", &save);
		if (!next && !self)
			break;
		cfs_node *k = cfs_node_child(n, seg);
		if (!k) {
			k = node_alloc(t->next_inode++, seg, true);
			kid_link(n, k);
			ino_put(t, k);
			t->n_entries++;
			strv_push(changed, cfs_node_path(k));
			int r = touch(t, k, now);
			if (r < 0)
				return r;
		}
		n = k;
		seg = next;
	}
	*ret = n;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static bool is_lock_path(const char *path)
{
	return startswith(path, LOCK_DIR "/") && !strchr(path + strlen(LOCK_DIR "/"), '/');
}

static bool lock_expired(const cfs_node *n, int64_t now)
{
	return now - n->mtime >= PVE_STORE_LOCK_TIMEOUT_SEC;
}

static void set_data(cfs_tree *t, cfs_node *n, const void *data, size_t len)
{
	t->total_bytes -= n->size;
	free(n->data);
	n->data = xmalloc(len + 1);
	if (len)
		memcpy(n->data, data, len);
	n->data[len] = '\0';
	n->size = len;
	t->total_bytes += len;
}

static int check_space(cfs_tree *t, size_t new_entries, uint64_t old_size, uint64_t new_size)
{
	if (new_size > CFS_MAX_FILE)
		return -EFBIG;
	if (t->n_entries + new_entries > CFS_MAX_ENTRIES)
		return -ENOSPC;
	if (t->total_bytes - old_size + new_size > CFS_MAX_TOTAL)
		return -ENOSPC;
	return 0;
}

static void remove_node(cfs_tree *t, cfs_node *n)
{
	kid_unlink(n);
	ino_del(t, n->inode);
	t->n_entries--;
	t->total_bytes -= n->size;
	node_free_rec(n);
}

static bool guest_refused(cfs_tree *t, const char *path, const char *except)
{
	_cleanup_free_ char *vmid = NULL;
	if (!cfs_path_guest(path, &vmid, NULL, NULL))
		return false;
	return cfs_tree_vmid_taken(t, vmid, except);
}

/* Validation first, then the change: a refused change leaves the tree as it was. Returns 1 when the
 * tree changed, 0 when there was nothing to do. */
static int apply_one(cfs_tree *t, const cfs_msg *m, int64_t now, char ***changed)
{
	const char *path = m->path;
	cfs_node *n = cfs_tree_lookup(t, path);
	size_t missing = 0;
	int r;

	switch (m->op) {
	case CFS_OP_WRITE:
	case CFS_OP_CREATE: {
		bool excl = m->op == CFS_OP_CREATE || (m->flags & CFS_F_EXCL);
		if (n && n->dir)
			return -EISDIR;
		if (n && excl)
			return -EEXIST;
		if (m->op == CFS_OP_WRITE && m->tag && *m->tag && (!n || ({
			    char d[PVE_STORE_DIGEST_LEN + 1];
			    digest_of(n, d);
			    strcasecmp(d, m->tag) != 0;
		    })))
			return -ESTALE;
		if (!n && guest_refused(t, path, NULL))
			return -EEXIST;
		if ((r = count_missing_dirs(t, path, false, &missing)) < 0)
			return r;
		size_t len = m->op == CFS_OP_CREATE ? 0 : m->data_len;
		if ((r = check_space(t, missing + !n, n ? n->size : 0, len)) < 0)
			return r;
		if (!n) {
			cfs_node *dir;
			if ((r = make_dirs(t, path, false, now, &dir, changed)) < 0)
				return r;
			n = node_alloc(t->next_inode++, base_name(path), false);
			kid_link(dir, n);
			ino_put(t, n);
			t->n_entries++;
		}
		set_data(t, n, m->data, len);
		strv_push(changed, xstrdup(path));
		return touch(t, n, now) < 0 ? -EIO : 1;
	}
	case CFS_OP_WRITE_AT:
	case CFS_OP_TRUNCATE: {
		if (!n)
			return -ENOENT;
		if (n->dir)
			return -EISDIR;
		uint64_t end = m->op == CFS_OP_TRUNCATE ? m->arg : m->arg + m->data_len;
		if (m->arg > CFS_MAX_FILE || end > CFS_MAX_FILE)
			return -EFBIG;
		uint64_t new_size = m->op == CFS_OP_TRUNCATE ? end :
							       (end > n->size ? end : n->size);
		if ((r = check_space(t, 0, n->size, new_size)) < 0)
			return r;
		char *buf = xcalloc(1, new_size + 1);
		memcpy(buf, n->data ? n->data : "", n->size < new_size ? n->size : new_size);
		if (m->op == CFS_OP_WRITE_AT && m->data_len)
			memcpy(buf + m->arg, m->data, m->data_len);
		set_data(t, n, buf, new_size);
		free(buf);
		strv_push(changed, xstrdup(path));
		return touch(t, n, now) < 0 ? -EIO : 1;
	}
	case CFS_OP_DELETE:
		if (!n)
			return -ENOENT;
		if (n->dir && n->n_kids)
			return -ENOTEMPTY;
		if (t->db && cfs_db_del(t->db, n->inode) < 0)
			return -EIO;
		remove_node(t, n);
		strv_push(changed, xstrdup(path));
		return 1;
	case CFS_OP_RENAME: {
		const char *to = m->path2;
		if (!n)
			return -ENOENT;
		if (cfs_tree_lookup(t, to))
			return -EEXIST;
		size_t fl = strlen(path);
		if (strncmp(to, path, fl) == 0 && to[fl] == '/')
			return -EINVAL;
		if (!n->dir && guest_refused(t, to, path))
			return -EEXIST;
		if ((r = count_missing_dirs(t, to, false, &missing)) < 0)
			return r;
		if ((r = check_space(t, missing, 0, 0)) < 0)
			return r;
		cfs_node *dir;
		if ((r = make_dirs(t, to, false, now, &dir, changed)) < 0)
			return r;
		kid_unlink(n);
		free(n->name);
		n->name = xstrdup(base_name(to));
		kid_link(dir, n);
		strv_push(changed, xstrdup(path));
		strv_push(changed, xstrdup(to));
		return touch(t, n, now) < 0 ? -EIO : 1;
	}
	case CFS_OP_MKDIR:
		if (n && !n->dir)
			return -EEXIST;
		/* pmxcfs's lock protocol: mkdir of a held lock fails, of an expired one takes it over */
		if (n && is_lock_path(path)) {
			if (!lock_expired(n, now))
				return -EEXIST;
			set_data(t, n, "", 0);
			strv_push(changed, xstrdup(path));
			return touch(t, n, now) < 0 ? -EIO : 1;
		}
		if (n)
			return 0;
		if ((r = count_missing_dirs(t, path, true, &missing)) < 0)
			return r;
		if ((r = check_space(t, missing, 0, 0)) < 0)
			return r;
		if ((r = make_dirs(t, path, true, now, &n, changed)) < 0)
			return -EIO;
		strv_push(changed, xstrdup(path));
		return 1;
	case CFS_OP_LOCK: {
		_cleanup_free_ char *lp = xasprintf(LOCK_DIR "/%s", path);
		n = cfs_tree_lookup(t, lp);
		if (n && (!n->dir || !lock_expired(n, now)))
			return -EBUSY;
		if (!n) {
			if ((r = count_missing_dirs(t, lp, true, &missing)) < 0)
				return r;
			if ((r = check_space(t, missing, 0, 0)) < 0)
				return r;
			if ((r = make_dirs(t, lp, true, now, &n, changed)) < 0)
				return -EIO;
		}
		set_data(t, n, m->tag, strlen(m->tag));
		strv_push(changed, xstrdup(lp));
		return touch(t, n, now) < 0 ? -EIO : 1;
	}
	case CFS_OP_LOCK_REFRESH:
	case CFS_OP_UNLOCK: {
		_cleanup_free_ char *lp = xasprintf(LOCK_DIR "/%s", path);
		n = cfs_tree_lookup(t, lp);
		bool mine = n && n->dir && n->data && strcmp(n->data, m->tag) == 0;
		if (m->op == CFS_OP_LOCK_REFRESH) {
			/* a holder whose lock expired and was taken over keeps nothing */
			if (!mine)
				return -EBUSY;
			strv_push(changed, xstrdup(lp));
			return touch(t, n, now) < 0 ? -EIO : 1;
		}
		if (!mine || n->n_kids)
			return 0;
		if (t->db && cfs_db_del(t->db, n->inode) < 0)
			return -EIO;
		remove_node(t, n);
		strv_push(changed, xstrdup(lp));
		return 1;
	}
	case CFS_OP_MTIME:
		if (!n)
			return -ENOENT;
		/* pmxcfs: utime(0, 0) on a lock directory asks to release it */
		if (m->arg == 0 && is_lock_path(path) && !n->n_kids) {
			if (t->db && cfs_db_del(t->db, n->inode) < 0)
				return -EIO;
			remove_node(t, n);
			strv_push(changed, xstrdup(path));
			return 1;
		}
		n->mtime = (int64_t)m->arg;
		n->version = t->version + 1;
		strv_push(changed, xstrdup(path));
		return t->db && cfs_db_put(t->db, n) < 0 ? -EIO : 1;
	default:
		return -EOPNOTSUPP;
	}
}

static bool paths_ok(const cfs_msg *m)
{
	bool lock = m->op == CFS_OP_LOCK || m->op == CFS_OP_UNLOCK || m->op == CFS_OP_LOCK_REFRESH;
	if (!cfs_path_valid(m->path, false))
		return false;
	if (lock && strchr(m->path, '/'))
		return false;
	if (m->op == CFS_OP_RENAME && !cfs_path_valid(m->path2, false))
		return false;
	return true;
}

int cfs_tree_apply(cfs_tree *t, const cfs_msg *m)
{
	if (!cfs_op_mutates(m->op))
		return -EOPNOTSUPP;
	if (!paths_ok(m))
		return -EINVAL;
	if (m->data_len > CFS_MAX_FILE)
		return -EFBIG;
	int64_t now = m->time / 1000;
	_cleanup_strv_free_ char **changed = NULL;

	bool own = t->db && !t->batch; /* in a batch the caller's transaction holds the change */
	if (own && cfs_db_begin(t->db) < 0)
		return -EIO;
	int r = apply_one(t, m, now, &changed);
	if (r == -EIO) {
		/* the database failed halfway: RAM is no longer what the disk holds */
		log_error("pvecfs: the database refused a change; stopping");
		_exit(1);
	}
	if (r <= 0) {
		/* validation refused before any change: the transaction holds nothing */
		if (own)
			cfs_db_rollback(t->db);
		return r;
	}
	t->version++;
	t->mtime = now;
	t->batch_dirty = true;
	if (own && (cfs_db_put_version(t->db, t) < 0 || cfs_db_commit(t->db) < 0)) {
		/* RAM is ahead of the disk now; the daemon stops rather than acknowledge a change the
		 * database does not hold (it reloads the last commit, or resyncs, at its next start) */
		log_error("pvecfs: the database refused a change; stopping");
		_exit(1);
	}
	if (t->on_change)
		for (size_t i = 0; changed && changed[i]; i++)
			t->on_change(changed[i], t->userdata);
	return 0;
}

void cfs_tree_batch_begin(cfs_tree *t)
{
	if (!t->db || t->batch)
		return;
	if (cfs_db_begin(t->db) < 0) {
		log_error("pvecfs: the database refused a transaction; stopping");
		_exit(1);
	}
	t->batch = true;
	t->batch_dirty = false;
}

void cfs_tree_batch_end(cfs_tree *t)
{
	if (!t->batch)
		return;
	t->batch = false;
	if ((t->batch_dirty && cfs_db_put_version(t->db, t) < 0) || cfs_db_commit(t->db) < 0) {
		log_error("pvecfs: the database refused a change; stopping");
		_exit(1);
	}
}

/* ---- digest and serialized form ---- */

static void digest_rec(EVP_MD_CTX *ctx, const cfs_node *n)
{
	uint8_t hdr[17];
	uint64_t mt = htole64((uint64_t)n->mtime), sz = htole64(n->size);
	hdr[0] = n->dir;
	memcpy(hdr + 1, &mt, 8);
	memcpy(hdr + 9, &sz, 8);
	EVP_DigestUpdate(ctx, n->name, strlen(n->name) + 1);
	EVP_DigestUpdate(ctx, hdr, sizeof(hdr));
	if (n->size)
		EVP_DigestUpdate(ctx, n->data, n->size);
	for (size_t i = 0; i < n->n_kids; i++)
		digest_rec(ctx, n->kids[i]);
	EVP_DigestUpdate(ctx, "\xff", 1); /* end of a directory: keeps nesting apart */
}

void cfs_tree_digest(cfs_tree *t, char ret[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		abort();
	digest_rec(ctx, t->root);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(ret + 2 * i, 3, "%02x", md[i]);
}

static void put_u64(pve_buf *b, uint64_t v)
{
	v = htole64(v);
	pve_buf_append(b, &v, 8);
}

static void serialize_rec(pve_buf *b, const cfs_node *n)
{
	if (n->parent) {
		put_u64(b, n->inode);
		put_u64(b, n->parent->inode);
		put_u64(b, n->version);
		put_u64(b, (uint64_t)n->mtime);
		put_u64(b, ((uint64_t)n->dir << 63) | n->size);
		uint16_t nl = htole16((uint16_t)strlen(n->name));
		pve_buf_append(b, &nl, 2);
		pve_buf_append(b, n->name, strlen(n->name));
		if (n->size)
			pve_buf_append(b, n->data, n->size);
	}
	for (size_t i = 0; i < n->n_kids; i++)
		serialize_rec(b, n->kids[i]);
}

void cfs_tree_serialize(cfs_tree *t, pve_buf *b)
{
	put_u64(b, t->version);
	put_u64(b, t->next_inode);
	put_u64(b, (uint64_t)t->mtime);
	put_u64(b, t->n_entries - 1);
	serialize_rec(b, t->root);
}

static bool get_u64(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	if ((size_t)(end - *p) < 8)
		return false;
	memcpy(v, *p, 8);
	*v = le64toh(*v);
	*p += 8;
	return true;
}

static int persist_all_rec(cfs_db *db, const cfs_node *n)
{
	if (n->parent && cfs_db_put(db, n) < 0)
		return -EIO;
	for (size_t i = 0; i < n->n_kids; i++)
		if (persist_all_rec(db, n->kids[i]) < 0)
			return -EIO;
	return 0;
}

int cfs_tree_replace(cfs_tree *t, const uint8_t *data, size_t len)
{
	const uint8_t *p = data, *end = data + len;
	uint64_t version, next_inode, mtime, count;
	if (!get_u64(&p, end, &version) || !get_u64(&p, end, &next_inode) ||
	    !get_u64(&p, end, &mtime) || !get_u64(&p, end, &count) || count >= CFS_MAX_ENTRIES)
		return -EBADMSG;
	cfs_tree *nt = cfs_tree_new();
	for (uint64_t i = 0; i < count; i++) {
		uint64_t ino, parent, ver, mt, sz;
		uint16_t nl;
		if (!get_u64(&p, end, &ino) || !get_u64(&p, end, &parent) ||
		    !get_u64(&p, end, &ver) || !get_u64(&p, end, &mt) || !get_u64(&p, end, &sz) ||
		    (size_t)(end - p) < 2)
			goto bad;
		memcpy(&nl, p, 2);
		nl = le16toh(nl);
		p += 2;
		bool dir = sz >> 63;
		sz &= ~(1ull << 63);
		if (nl == 0 || nl > CFS_MAX_NAME || (size_t)(end - p) < nl || sz > CFS_MAX_FILE ||
		    (size_t)(end - p - nl) < sz || ino < CFS_INO_FIRST_FREE || ino >= next_inode)
			goto bad;
		_cleanup_free_ char *name = xstrndup((const char *)p, nl);
		p += nl;
		cfs_node *pn = cfs_tree_by_inode(nt, parent);
		if (strlen(name) != nl || !cfs_path_valid(name, false) || strchr(name, '/') ||
		    !pn || !pn->dir || cfs_node_child(pn, name) || cfs_tree_by_inode(nt, ino) ||
		    nt->total_bytes + sz > CFS_MAX_TOTAL)
			goto bad;
		cfs_node *n = node_alloc(ino, name, dir);
		n->version = ver;
		n->mtime = (int64_t)mt;
		kid_link(pn, n);
		ino_put(nt, n);
		nt->n_entries++;
		set_data(nt, n, p, sz);
		p += sz;
	}
	if (p != end)
		goto bad;
	nt->version = version;
	nt->next_inode = next_inode;
	nt->mtime = (int64_t)mtime;

	if (t->db) {
		if (!t->batch && cfs_db_begin(t->db) < 0)
			goto bad;
		if (cfs_db_clear(t->db) < 0 || persist_all_rec(t->db, nt->root) < 0 ||
		    cfs_db_put_version(t->db, nt) < 0 || (!t->batch && cfs_db_commit(t->db) < 0)) {
			log_error("pvecfs: the database refused the synced tree; stopping");
			_exit(1);
		}
	}
	/* swap the contents, keep t's identity (callers hold it) */
	cfs_tree tmp = *t;
	t->root = nt->root;
	t->version = nt->version;
	t->next_inode = nt->next_inode;
	t->mtime = nt->mtime;
	t->n_entries = nt->n_entries;
	t->total_bytes = nt->total_bytes;
	t->ino_tab = nt->ino_tab;
	t->ino_cap = nt->ino_cap;
	nt->root = tmp.root;
	nt->ino_tab = tmp.ino_tab;
	cfs_tree_free(nt);
	if (t->on_change)
		t->on_change("", t->userdata);
	return 0;
bad:
	cfs_tree_free(nt);
	return -EBADMSG;
}

/* ---- loading (cfs-db.c): nodes first, then their links, whatever order the rows come in ---- */

void cfs_tree_insert_loaded(cfs_tree *t, cfs_node *n)
{
	ino_put(t, n);
	t->n_entries++;
	t->total_bytes += n->size;
}

void cfs_tree_link_loaded(cfs_tree *t, cfs_node *dir, cfs_node *n)
{
	(void)t;
	/* a row naming its own descendant as parent would make a cycle: it stays unlinked */
	for (cfs_node *a = dir; a; a = a->parent)
		if (a == n)
			return;
	kid_link(dir, n);
}

static bool reachable(const cfs_tree *t, const cfs_node *n)
{
	while (n->parent)
		n = n->parent;
	return n == t->root;
}

void cfs_tree_drop_unlinked(cfs_tree *t)
{
	cfs_node **drop = NULL;
	size_t n_drop = 0;
	for (size_t i = 0; i < t->ino_cap; i++) {
		cfs_node *n = t->ino_tab[i];
		if (n && !reachable(t, n)) {
			drop = xrealloc(drop, (n_drop + 1) * sizeof(*drop));
			drop[n_drop++] = n;
		}
	}
	/* each one alone: their children are in the list too */
	for (size_t i = 0; i < n_drop; i++) {
		ino_del(t, drop[i]->inode);
		t->n_entries--;
		t->total_bytes -= drop[i]->size;
	}
	for (size_t i = 0; i < n_drop; i++) {
		free(drop[i]->kids);
		free(drop[i]->name);
		free(drop[i]->data);
		free(drop[i]);
	}
	free(drop);
}
