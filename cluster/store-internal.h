/* cluster: the config store's backend interface, which the plain-file backend and later pvecfs implement. */
#pragma once

#include "cluster/cluster.h"

/* The front (store.c) has checked every path and name and the size limit before a backend sees them; a
 * backend does the rest, atomically against other processes using the same store. */
typedef struct pve_store_ops {
	const char *name;
	int (*open)(pve_store *s, const char *root, pve_error **err); /* sets s->priv and s->dir */
	void (*free)(pve_store *s);
	int (*read)(pve_store *s, const char *path, char **ret_data, size_t *ret_len,
		    pve_error **err);
	/* expected_digest: NULL or 40 hex characters; exclusive: EEXIST when the file exists. */
	int (*write)(pve_store *s, const char *path, const void *data, size_t len,
		     const char *expected_digest, bool exclusive, pve_error **err);
	int (*remove)(pve_store *s, const char *path, pve_error **err);
	int (*rename)(pve_store *s, const char *from, const char *to, pve_error **err);
	int (*mkdir)(pve_store *s, const char *path, pve_error **err);
	int (*list)(pve_store *s, const char *dir, char ***ret_names, pve_error **err);
	bool (*exists)(pve_store *s, const char *path);
	/* The cluster log (NULL: the backend has none; store.c answers for it). */
	int (*log)(pve_store *s, const char *tag, const char *user, int priority, const char *msg,
		   pve_error **err);
	int (*log_read)(pve_store *s, const char *user, unsigned max, char **ret_json,
			pve_error **err);
	/* One try: 0 when taken (fresh, or over an expired holder) with owner token, -EBUSY when held. */
	int (*lock_try)(pve_store *s, const char *name, const char *token, pve_error **err);
	/* -EBUSY when the lock no longer carries token. */
	int (*lock_refresh)(pve_store *s, const char *name, const char *token, pve_error **err);
	void (*lock_release)(pve_store *s, const char *name, const char *token);
	/* Removes the locks whose holder is gone; returns how many, their names in *ret_cleared. */
	int (*recover)(pve_store *s, char ***ret_cleared, pve_error **err);
	int (*watch_fd)(pve_store *s, pve_error **err);
	int (*watch_read)(pve_store *s, pve_store_watch_fn cb, void *userdata, pve_error **err);
	/* NULL: the backend has no volatile status (set does nothing, get is ENOENT). */
	int (*status_set)(pve_store *s, const char *key, const void *data, size_t len,
			  pve_error **err);
	int (*status_get)(pve_store *s, const char *node, const char *key, char **ret_data,
			  size_t *ret_len, pve_error **err);
} pve_store_ops;

struct pve_store {
	const pve_store_ops *ops;
	void *priv;
	char *dir;
};

extern const pve_store_ops pve_store_file_ops;
extern const pve_store_ops pve_store_cfs_ops;
/* 1 and the connected socket when pvecfs serves root; 0 when root never ran pvecfs; an error when
 * it did and pvecfs is not running. */
int pve_store_cfs_probe(const char *root, int *ret_fd, pve_error **err);

/* Does path name something under priv/ (any "priv" directory segment): mode 0600 / 0700. */
bool pve_store_path_private(const char *path);
