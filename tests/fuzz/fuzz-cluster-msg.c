/* Fuzz target: pvecfs's message decoder (socket and CPG frames), the paths it hands on, the tree's
 * change application of whatever decodes, the sync update's tree decoder, and the cluster log's entry
 * decoder and merge. The input is a sequence of frames; each decoded change is applied to one tree, whose
 * serialized form must read back to the same digest; each decoded set of log entries is merged into one
 * log, which must stay within its bound and read back whole; the status values (SET_STATUS data) make
 * .rrd's text, which must stay within its bound and hold only whole, printable lines. */
#include "cluster/cfs-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cfs_tree *t = cfs_tree_new();
	cfs_log *log = cfs_log_new(1);
	uint8_t *copy = xmalloc(size ? size : 1);
	memcpy(copy, data, size);
	cfs_rrd_source rrd[8];
	size_t n_rrd = 0;
	size_t pos = 0;
	while (size - pos >= CFS_MSG_HEADER) {
		size_t fl = cfs_msg_frame_len(copy + pos, size - pos);
		if (fl < CFS_MSG_HEADER || fl > size - pos)
			break;
		cfs_msg m;
		if (cfs_msg_decode(copy + pos, fl, CFS_MAX_REQUEST, &m) == 0) {
			if (m.op == CFS_OP_UPDATE)
				(void)cfs_tree_replace(t, m.data, m.data_len);
			else if (m.op == CFS_OP_LOG_ENTRIES)
				(void)cfs_log_merge(log, m.data, m.data_len);
			else if (m.op == CFS_OP_LOG)
				(void)cfs_log_add(log, "n1", m.path, m.path2, 1, (uint8_t)m.flags,
						  (uint32_t)m.time, (const char *)m.data,
						  m.data_len);
			else if (m.op == CFS_OP_SET_STATUS && n_rrd < ELEMENTSOF(rrd))
				rrd[n_rrd++] = (cfs_rrd_source){ (const char *)m.data, m.data_len,
								 (int64_t)m.arg };
			else if (cfs_op_mutates(m.op))
				(void)cfs_tree_apply(t, &m);
			(void)cfs_path_guest(m.path, NULL, NULL, NULL);
			(void)cfs_tree_lookup(t, m.path);
		}
		pos += fl;
	}
	/* .rrd: within the bound, whole lines of printable bytes, each with a key */
	pve_buf rb = { 0 };
	cfs_rrd_dump(rrd, n_rrd, CFS_RRD_MAX_AGE_SEC, 4096, &rb);
	if (rb.len > 4096 || (rb.len && rb.data[rb.len - 1] != '\n'))
		abort();
	for (size_t i = 0; i < rb.len; i++)
		if ((unsigned char)rb.data[i] < 0x20 && rb.data[i] != '\n')
			abort();
	pve_buf_free(&rb);
	/* what we serialize we must read back to the same tree */
	pve_buf b = { 0 };
	cfs_tree_serialize(t, &b);
	char d1[65], d2[65];
	cfs_tree_digest(t, d1);
	cfs_tree *t2 = cfs_tree_new();
	if (cfs_tree_replace(t2, (const uint8_t *)b.data, b.len) < 0)
		abort();
	cfs_tree_digest(t2, d2);
	if (strcmp(d1, d2) != 0 || t2->version != t->version)
		abort();
	/* and the raw input as a tree update must not crash either */
	(void)cfs_tree_replace(t2, data, size);
	/* the log: within its bound, its wire form read back to the same entries, its JSON whole */
	(void)cfs_log_merge(log, data, size);
	if (cfs_log_bytes(log) > CFS_LOG_MAX_BYTES)
		abort();
	pve_buf lb = { 0 }, json = { 0 };
	cfs_log_encode(log, &lb);
	cfs_log *log2 = cfs_log_new(1);
	if (cfs_log_merge(log2, (const uint8_t *)lb.data, lb.len) != (int)cfs_log_count(log) ||
	    cfs_log_bytes(log2) != cfs_log_bytes(log))
		abort();
	cfs_log_dump_json(log, &json, NULL, SIZE_MAX);
	if (!pve_utf8_valid(json.data, json.len))
		abort();
	pve_buf_free(&lb);
	pve_buf_free(&json);
	cfs_log_free(log2);
	cfs_log_free(log);
	pve_buf_free(&b);
	cfs_tree_free(t2);
	cfs_tree_free(t);
	free(copy);
	return 0;
}
