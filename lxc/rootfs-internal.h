/* rootfs-internal: what template.c, oci.c and setup.c share: a tar stream unpacked beneath a directory
 * that may hold hostile links, and path access confined to that directory. */
#pragma once

#include <archive.h>

#include "lxc/lxc.h"

/* Limits of an unpacked archive: every entry's path, its count, its link target. */
#define LXC_UNPACK_MAX_PATH 4096
#define LXC_UNPACK_MAX_ENTRIES (4u * 1024 * 1024)

typedef struct lxc_unpack {
	int root_fd; /* the target directory, O_PATH */
	const lxc_idmap *maps;
	size_t n_maps;
	uint64_t max_bytes; /* the volume's space when the unpack began */
	uint64_t bytes; /* file data written so far, over every layer */
	size_t entries;
	bool whiteouts; /* OCI layers: .wh.NAME and .wh..wh..opq are acted on, not written */
	/* Templates, as Proxmox's tar --skip-old-files: an entry whose name exists already is skipped
	 * (a directory over a directory still sets its mode); OCI layers replace instead. */
	bool keep_old;
	bool saw_sbin; /* an sbin directory, symlink or hard link at the top */
	/* OCI: a hash set of what the current layer made (which an opaque whiteout keeps) and of the
	 * directories it already made opaque */
	char **layer_set;
	size_t layer_set_n, layer_set_cap;
	/* the last parent directory opened, reused by the entries beside it */
	char *parent_path;
	int parent_fd;
} lxc_unpack;

/* Opens root_fd's directory for an unpack (dir must be empty but for lost+found). */
int lxc_unpack_init(lxc_unpack *u, const char *dir, const lxc_idmap *maps, size_t n_maps,
		    pve_error **err);
void lxc_unpack_done(lxc_unpack *u);
/* Between OCI layers: forgets what the last one made. */
void lxc_unpack_next_layer(lxc_unpack *u);
/* A reader for tar streams under any of the compressions templates come in (gzip, xz, zstd, bzip2,
 * none), detected from the content. */
struct archive *lxc_archive_reader(void);
/* Unpacks every entry of a, which is open; what names the archive in messages. */
int lxc_unpack_archive(lxc_unpack *u, struct archive *a, const char *what, pve_error **err);
/* Empties dir (after a failed unpack): nothing below it is followed. */
void lxc_unpack_clear(int root_fd);

/* An entry's path made relative ("./a//b/" -> "a/b"); NULL for one with a ".." component or too long;
 * "" for the root itself. */
char *lxc_path_clean(const char *path);
/* Opens path below root_fd as the container would see it: symlinks resolve inside root_fd (openat2
 * RESOLVE_IN_ROOT), never to the host's files, magic links refused. Returns an fd or -errno. */
int lxc_open_in_root(int root_fd, const char *path, int flags, mode_t mode);
/* The id outside for id inside, through the maps of kind ('u'/'g'); with no maps, id itself. Returns
 * false for an id the maps do not cover. */
bool lxc_idmap_shift(const lxc_idmap *maps, size_t n_maps, char kind, uint32_t id, uint32_t *ret);

/* ---- OCI image archives (oci.c): the JSON side, parsed once into these, with limits ---------------- */

#define LXC_OCI_MAX_JSON (1024 * 1024) /* index, manifest, config */
#define LXC_OCI_MAX_LAYERS 128
#define LXC_OCI_MAX_DEPTH 32

typedef struct lxc_oci_layer {
	char *member; /* the archive member holding it: "blobs/sha256/<hex>", "<hex>/layer.tar" */
	char digest[65]; /* hex sha256 its bytes must have; "" for none (checked by diff_id instead) */
	long long size; /* the manifest's size, or -1 */
} lxc_oci_layer;

typedef struct lxc_oci_manifest {
	char *config_member;
	char config_digest[65]; /* "" when the member's name is all there is (docker-archive) */
	lxc_oci_layer layers[LXC_OCI_MAX_LAYERS];
	size_t n_layers;
} lxc_oci_manifest;

void lxc_oci_manifest_clear(lxc_oci_manifest *m);
/* index.json: the digest (hex) of the linux/amd64 (or only) manifest; *ret_nested when it names
 * another index rather than a manifest. */
int lxc_oci_parse_index(const char *json, size_t len, char ret_digest[65], bool *ret_nested,
			pve_error **err);
int lxc_oci_parse_manifest(const char *json, size_t len, lxc_oci_manifest *ret, pve_error **err);
/* docker-archive's manifest.json. */
int lxc_oci_parse_docker(const char *json, size_t len, lxc_oci_manifest *ret, pve_error **err);
/* The image config: ret_cfg {entrypoint, cmd, env, workdir, user}; ret_diff_ids (hex, NULL-ended) the
 * uncompressed layers' digests. */
int lxc_oci_parse_config(const char *json, size_t len, cJSON **ret_cfg, char ***ret_diff_ids,
			 pve_error **err);
