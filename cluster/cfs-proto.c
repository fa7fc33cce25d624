/* cluster: pvecfs's message format (socket and CPG alike), its decoder and the path rules it checks. */
#include "cluster/cfs-internal.h"

/* Header layout, little-endian: len u32 @0, op u32 @4, flags u32 @8, result i32 @12, reqid u64 @16,
 * version u64 @24, time i64 @32, arg u64 @40, path_len u16 @48, path2_len u16 @50, tag_len u16 @52,
 * reserved u16 @54, data_len u64 @56. Then path, path2 and tag, each followed by a NUL, then data. */

void cfs_msg_encode(pve_buf *b, const cfs_msg *m)
{
	const char *path = m->path ? m->path : "", *path2 = m->path2 ? m->path2 : "",
		   *tag = m->tag ? m->tag : "";
	size_t pl = strlen(path), p2l = strlen(path2), tl = strlen(tag);
	/* callers pass checked paths; a longer one is a bug, not input */
	if (pl > UINT16_MAX || p2l > UINT16_MAX || tl > UINT16_MAX)
		abort();
	uint8_t h[CFS_MSG_HEADER] = { 0 };
	uint64_t total = CFS_MSG_HEADER + pl + 1 + p2l + 1 + tl + 1 + m->data_len;
	if (total > UINT32_MAX)
		abort();
	cfs_put32(h, (uint32_t)total);
	cfs_put32(h + 4, m->op);
	cfs_put32(h + 8, m->flags);
	cfs_put32(h + 12, (uint32_t)m->result);
	cfs_put64(h + 16, m->reqid);
	cfs_put64(h + 24, m->version);
	cfs_put64(h + 32, (uint64_t)m->time);
	cfs_put64(h + 40, m->arg);
	cfs_put16(h + 48, (uint16_t)pl);
	cfs_put16(h + 50, (uint16_t)p2l);
	cfs_put16(h + 52, (uint16_t)tl);
	cfs_put64(h + 56, m->data_len);
	pve_buf_append(b, h, sizeof(h));
	pve_buf_append(b, path, pl + 1);
	pve_buf_append(b, path2, p2l + 1);
	pve_buf_append(b, tag, tl + 1);
	if (m->data_len)
		pve_buf_append(b, m->data, m->data_len);
}

size_t cfs_msg_frame_len(const uint8_t *buf, size_t have)
{
	return have < 4 ? 0 : cfs_get32(buf);
}

static int take_str(uint8_t *buf, size_t len, size_t *pos, size_t n, const char **ret)
{
	if (n > len - *pos || len - *pos - n < 1)
		return -EBADMSG;
	if (buf[*pos + n] != '\0' || memchr(buf + *pos, '\0', n))
		return -EBADMSG;
	*ret = (const char *)buf + *pos;
	*pos += n + 1;
	return 0;
}

int cfs_msg_decode(uint8_t *buf, size_t len, size_t max, cfs_msg *ret)
{
	if (len < CFS_MSG_HEADER)
		return -EBADMSG;
	if (len > max)
		return -E2BIG;
	if (cfs_get32(buf) != len)
		return -EBADMSG;
	cfs_msg m = {
		.op = cfs_get32(buf + 4),
		.flags = cfs_get32(buf + 8),
		.result = (int32_t)cfs_get32(buf + 12),
		.reqid = cfs_get64(buf + 16),
		.version = cfs_get64(buf + 24),
		.time = (int64_t)cfs_get64(buf + 32),
		.arg = cfs_get64(buf + 40),
	};
	if (m.op == 0 || m.op >= CFS_OP_MAX)
		return -EBADMSG;
	size_t pos = CFS_MSG_HEADER;
	int r;
	if ((r = take_str(buf, len, &pos, cfs_get16(buf + 48), &m.path)) < 0 ||
	    (r = take_str(buf, len, &pos, cfs_get16(buf + 50), &m.path2)) < 0 ||
	    (r = take_str(buf, len, &pos, cfs_get16(buf + 52), &m.tag)) < 0)
		return r;
	uint64_t dl = cfs_get64(buf + 56);
	if (dl != len - pos)
		return -EBADMSG;
	m.data = dl ? buf + pos : NULL;
	m.data_len = dl;
	*ret = m;
	return 0;
}

bool cfs_op_mutates(uint32_t op)
{
	switch (op) {
	case CFS_OP_WRITE:
	case CFS_OP_DELETE:
	case CFS_OP_RENAME:
	case CFS_OP_MKDIR:
	case CFS_OP_LOCK:
	case CFS_OP_UNLOCK:
	case CFS_OP_LOCK_REFRESH:
	case CFS_OP_WRITE_AT:
	case CFS_OP_TRUNCATE:
	case CFS_OP_CREATE:
	case CFS_OP_MTIME:
		return true;
	default:
		return false;
	}
}

bool cfs_path_valid(const char *path, bool allow_empty)
{
	if (!path)
		return false;
	if (!*path)
		return allow_empty;
	if (strlen(path) > PVE_STORE_MAX_PATH || path[0] == '/')
		return false;
	for (const char *p = path;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > CFS_MAX_NAME || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c < 0x20 || c == 0x7f)
				return false;
		}
		if (!slash)
			return true;
		p = slash + 1;
	}
}

char *cfs_socket_path(const char *root)
{
	return xasprintf("%s/run/pvecfs.sock", root);
}

char *cfs_db_path(const char *root)
{
	return xasprintf("%s/var/lib/pve-cluster/config.db", root);
}
