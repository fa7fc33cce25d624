/* Fuzz target: the FUSE side's path handling of pvecfs: names as the kernel hands them (any bytes up
 * to a NUL) joined to a directory inode, the checks, lookups, guest-config recognition and vmid
 * uniqueness, over a tree the input itself builds (each name becomes a directory or a file). */
#include "cluster/cfs-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cfs_tree *t = cfs_tree_new();
	uint64_t dir = CFS_INO_ROOT;
	size_t pos = 0, k = 0;
	while (pos < size && k++ < 256) {
		const char *name = (const char *)data + pos;
		size_t n = strnlen(name, size - pos);
		char *copy = xstrndup(name, n);
		pos += n + 1;
		int e = 0;
		char *path = cfs_tree_child_path(t, dir, copy, &e);
		if (!path) {
			if (e != ENOENT && e != EINVAL && e != ENAMETOOLONG)
				abort();
			free(copy);
			dir = CFS_INO_ROOT;
			continue;
		}
		if (!cfs_path_valid(path, false))
			abort(); /* what child_path accepts the store accepts */
		bool as_dir = n % 2 == 0;
		cfs_msg m = { .op = as_dir ? CFS_OP_MKDIR : CFS_OP_WRITE,
			      .path = path,
			      .tag = "",
			      .data = (const uint8_t *)copy,
			      .data_len = n,
			      .time = 1000 };
		int r = cfs_tree_apply(t, &m);
		cfs_node *node = cfs_tree_lookup(t, path);
		if (r == 0 && !node)
			abort();
		if (node) {
			char *back = cfs_node_path(node);
			if (strcmp(back, path) != 0)
				abort(); /* a node's path leads back to it */
			free(back);
			if (cfs_tree_by_inode(t, node->inode) != node)
				abort();
			if (node->dir)
				dir = node->inode;
		}
		char *vmid = NULL, *nodename = NULL;
		const char *type = NULL;
		if (cfs_path_guest(path, &vmid, &type, &nodename)) {
			(void)cfs_tree_vmid_taken(t, vmid, path);
			free(vmid);
			free(nodename);
		}
		free(path);
		free(copy);
	}
	cfs_tree_free(t);
	return 0;
}
