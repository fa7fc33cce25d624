/* storage: the public header of pved's storage layer: storage.cfg's model, volume IDs and names, the plugin
 * ops table per storage type, and the calls the API and the guest subsystems make through it. */
#pragma once

#include <time.h>

#include "common/common.h"

/* ---- content types ---------------------------------------------------------------------------------- */

enum {
	PVE_CONTENT_IMAGES = 1 << 0,
	PVE_CONTENT_ROOTDIR = 1 << 1,
	PVE_CONTENT_ISO = 1 << 2,
	PVE_CONTENT_VZTMPL = 1 << 3,
	PVE_CONTENT_BACKUP = 1 << 4,
	PVE_CONTENT_SNIPPETS = 1 << 5,
	PVE_CONTENT_IMPORT = 1 << 6,
	PVE_CONTENT_ALL = (1 << 7) - 1,
};

/* "images" -> PVE_CONTENT_IMAGES; 0 for an unknown name. */
unsigned pve_storage_content_from_name(const char *name);
/* PVE_CONTENT_ISO -> "iso" (one bit); NULL otherwise. */
const char *pve_storage_content_name(unsigned bit);
/* "images,rootdir" (any split_list separator) -> mask; "none" or "" -> 0. EINVAL names the bad item. */
int pve_storage_content_parse(const char *s, unsigned *ret_mask, pve_error **err);
/* The mask as Proxmox prints it: names sorted, "none" for 0. */
char *pve_storage_content_print(unsigned mask);

/* ---- volume IDs and names ----------------------------------------------------------------------------
 * volid = STORAGE:VOLNAME. File storages name volumes by their path below the storage:
 * "100/vm-100-disk-0.qcow2", "100/base-100-disk-0.qcow2", "100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2"
 * (a linked clone), "iso/x.iso", "vztmpl/x.tar.zst", "backup/vzdump-qemu-100-....vma.zst", "snippets/x",
 * "import/x.ova"; block storages by the bare image name: "vm-100-disk-0", "base-100-disk-0",
 * "base-100-disk-0/vm-101-disk-0", "subvol-101-disk-0". */

#define PVE_VOLNAME_MAX 255
#define PVE_VMID_MIN 100
#define PVE_VMID_MAX 999999999

/* Splits at the first ':'; EINVAL "unable to parse volume ID 'x'" for a bad storage ID, an empty name, or a
 * name that could escape (absolute, "..", NUL or control characters, longer than PVE_VOLNAME_MAX). A
 * space is allowed (Proxmox names an OVA's disk "import/x.ova/OS disk.vmdk"). */
int pve_storage_volid_split(const char *volid, char **ret_storeid, char **ret_volname,
			    pve_error **err);

typedef struct pve_volname {
	unsigned vtype; /* one PVE_CONTENT_* bit */
	char *name; /* the file or image name: "vm-100-disk-0.qcow2", "x.iso" */
	long long vmid; /* the owner, 0 if none */
	char *basename; /* for a linked clone: the base image's name, else NULL */
	long long basevmid;
	bool is_base; /* a template's base image */
	/* images: raw, qcow2, vmdk, subvol; import: ova, ovf, qcow2, raw, vmdk or, for a disk inside
	 * an OVA, ova+qcow2, ova+raw, ova+vmdk; else raw (as Proxmox's parse_volname) */
	char *format;
} pve_volname;
void pve_volname_clear(pve_volname *v);
/* A file storage's volume name, as Proxmox's Plugin.pm parse_volname accepts it: "VMID/NAME.FMT" (any
 * name without whitespace with an image extension; snap-*.qcow2 are snapshots), a linked clone's
 * "BASEVMID/BASENAME/VMID/NAME" (the base a base- or vm- image), "iso/x.iso|img", "vztmpl/x.tar[.gz|
 * .xz|.zst|.bz2]", "backup/x.tgz|tar[.C]|vma[.C]" (vmid from vzdump-TYPE-VMID-...), "snippets/x",
 * "import/x.ova|ovf|qcow2|raw|vmdk", "import/x.ova/disk.qcow2|raw|vmdk" (spaces allowed in import
 * names). EINVAL "unable to parse volume filename 'PART'" for a bad image part of a VMID/ name,
 * "'PART' is a snapshot filename, not a volume!", else "unable to parse directory volume name 'x'"
 * (and for anything that could escape). */
int pve_storage_parse_volname(const char *volname, pve_volname *ret, pve_error **err);

/* ---- backup archives ---------------------------------------------------------------------------------- */

/* What a vzdump archive's name says (Proxmox's archive_info). */
typedef struct pve_archive_info {
	char *filename; /* the archive's file name, without directories */
	const char *type; /* "qemu", "lxc" or "openvz" */
	const char *format; /* "tar" or "vma" */
	const char *compression; /* "gz", "lzo", "zst", "bz2", or NULL */
	const char *const *decompressor; /* the command that uncompresses it (argv), or NULL */
	/* vzdump-TYPE-VMID-YYYY_MM_DD-HH_MM_SS.EXT, VMID in [100, 999999999]: the fields below */
	bool is_std_name;
	char *logfilename, *notesfilename; /* "<name without EXT>.log", "<name>.notes" */
	long long vmid;
	time_t ctime; /* the time in the name, in the node's time zone */
} pve_archive_info;
void pve_archive_info_clear(pve_archive_info *a);
/* archive: a file name or a path (only its last part counts): vzdump-(qemu|lxc|openvz)-*.(tgz|tar|vma)
 * [.gz|.lzo|.zst|.bz2]; EINVAL "ERROR: couldn't determine archive info from 'x'" else. */
int pve_storage_archive_info(const char *archive, pve_archive_info *ret, pve_error **err);
/* Removes a backup archive (a missing one is fine) and the .notes and .log that go with it (Proxmox's
 * archive_remove); EPERM "cannot remove protected archive 'x'" when x.protected exists. */
int pve_storage_archive_remove(const char *path, pve_error **err);
/* Only the .notes and .log of an archive. */
void pve_storage_archive_remove_auxiliaries(const char *path);
/* An image name: vm-VMID-disk-N, base-VMID-disk-N, subvol-VMID-disk-N, vm-VMID-cloudinit,
 * vm-VMID-state-SNAP, with ".raw|.qcow2|.vmdk" if with_ext. Sets vmid, is_base and format (from the
 * extension, or "subvol" / NULL). */
int pve_storage_parse_image_name(const char *name, bool with_ext, long long *ret_vmid,
				 bool *ret_is_base, char **ret_format);

/* ---- storages ------------------------------------------------------------------------------------------
 * A storage is one section of storage.cfg; a pve_storage points into the parsed config, which must outlive
 * it. */

typedef struct pve_storage_plugin pve_storage_plugin;

typedef struct pve_storage {
	const char *id;
	const char *type;
	const pve_storage_plugin *plugin;
	const void *section; /* the pve_section */
	const void *cfg; /* the pve_sectioncfg it is in (its base storage is found there), or NULL */
	const char *path; /* dir: its path; else NULL */
	unsigned content;
	bool shared, disabled;
	/* The containers' VMIDs, sorted (n_containers of them), as the caller knows them from the
	 * guests' configs: a listing calls a container's disks "rootdir" and every other image
	 * "images", as Proxmox decides by its vmlist. NULL: no guest is a container. */
	const long long *containers;
	size_t n_containers;
} pve_storage;

typedef struct pve_storage_status {
	uint64_t total, used, avail;
	bool active;
} pve_storage_status;

/* One volume of a content listing, as Proxmox's list_volumes reports it. */
typedef struct pve_volume_info {
	char *volid;
	char *format; /* raw, qcow2, vmdk, subvol, iso, tar, tgz, tzst, vma.zst, snippet, ova, ... */
	uint64_t size;
	uint64_t used; /* images only */
	time_t ctime; /* a backup's: the time in its name when it has one */
	long long vmid; /* 0 if none */
	unsigned content;
	char *parent; /* an image's backing file as the image names it ("../100/base-100-disk-0.qcow2"),
		       * or NULL */
	char *notes; /* a backup's notes (the first line), or NULL */
	bool protected_;
	const char *subtype; /* backups: "qemu", "lxc", "openvz" or "unknown"; else NULL */
} pve_volume_info;
void pve_volume_info_clear(pve_volume_info *v);
void pve_volume_infos_free(pve_volume_info *v, size_t n);

/* Features that volume_has_feature answers. */
typedef enum pve_volume_feature {
	PVE_FEATURE_SNAPSHOT,
	PVE_FEATURE_CLONE,
	PVE_FEATURE_TEMPLATE,
	PVE_FEATURE_COPY,
	PVE_FEATURE_SPARSEINIT,
	PVE_FEATURE_RENAME,
} pve_volume_feature;

/* One ops table per storage type. A NULL op means "not supported": the pve_storage_* calls below refuse it
 * with ENOSYS "storage type 'x' does not support <op>". Sizes are bytes. */
struct pve_storage_plugin {
	const char *type;
	unsigned content_allowed, content_default;
	const char *const *formats; /* NULL-terminated */
	const char *default_format;
	bool shared; /* shared by nature (nfs, cifs, iscsi) */
	const char *const *required; /* properties a section must have, NULL-terminated */
	const char *const *options; /* properties it may have besides the common ones */
	/* properties set only when the storage is added (Proxmox's fixed), NULL-terminated or NULL */
	const char *const *fixed;
	const char *unavailable; /* why this type has no ops yet, or NULL */
	/* A value of one of its own options that the common checks (booleans) can't judge: EINVAL
	 * naming key. NULL: any value. */
	int (*check_option)(const char *key, const char *value, pve_error **err);

	/* A volume name of this type (block storages name volumes their own way); NULL: a file storage's
	 * name, pve_storage_parse_volname. */
	int (*parse_volname)(const pve_storage *s, const char *volname, pve_volname *ret,
			     pve_error **err);
	/* When the storage is added (POST /storage), before its first activation: lvm makes its
	 * volume group on its base volume. NULL: nothing to do. */
	int (*on_add)(const pve_storage *s, pve_error **err);
	int (*activate)(const pve_storage *s, pve_error **err);
	int (*deactivate)(const pve_storage *s, pve_error **err);
	int (*status)(const pve_storage *s, pve_storage_status *ret, pve_error **err);
	/* name NULL: the next free vm-VMID-disk-N. *ret_volname as parse_volname takes it. */
	int (*alloc_image)(const pve_storage *s, long long vmid, const char *fmt, const char *name,
			   uint64_t size, char **ret_volname, pve_error **err);
	int (*free_image)(const pve_storage *s, const char *volname, pve_error **err);
	/* vmid 0: every guest's; content: a mask of types to list. */
	int (*list_volumes)(const pve_storage *s, long long vmid, unsigned content,
			    pve_volume_info **ret, size_t *ret_n, pve_error **err);
	int (*path)(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		    pve_error **err);
	int (*volume_size)(const pve_storage *s, const char *volname, uint64_t *ret_size,
			   uint64_t *ret_used, char **ret_format, pve_error **err);
	int (*volume_resize)(const pve_storage *s, const char *volname, uint64_t size,
			     pve_error **err);
	int (*volume_snapshot)(const pve_storage *s, const char *volname, const char *snap,
			       pve_error **err);
	int (*volume_snapshot_rollback)(const pve_storage *s, const char *volname, const char *snap,
					pve_error **err);
	int (*volume_snapshot_delete)(const pve_storage *s, const char *volname, const char *snap,
				      pve_error **err);
	/* A linked clone of the base volname for vmid. */
	int (*clone_image)(const pve_storage *s, const char *volname, long long vmid,
			   const char *snap, char **ret_volname, pve_error **err);
	/* vm-N-disk-M -> base-N-disk-M (read-only from then on). */
	int (*create_base)(const pve_storage *s, const char *volname, char **ret_volname,
			   pve_error **err);
	bool (*volume_has_feature)(const pve_storage *s, pve_volume_feature feature,
				   const char *volname, const char *snap);
	/* To another vmid (target_name NULL: the next free name). */
	int (*rename_volume)(const pve_storage *s, const char *volname, long long target_vmid,
			     const char *target_name, char **ret_volname, pve_error **err);
	/* Attributes "notes" and "protected": value NULL reads; *ret_value NULL if unset. */
	int (*get_attribute)(const pve_storage *s, const char *volname, const char *attr,
			     char **ret_value, pve_error **err);
	int (*set_attribute)(const pve_storage *s, const char *volname, const char *attr,
			     const char *value, pve_error **err);
	/* Makes the volume (or its snapshot) usable through its path, and undoes that. NULL: nothing
	 * to do (files are always usable). */
	int (*activate_volume)(const pve_storage *s, const char *volname, const char *snap,
			       pve_error **err);
	int (*deactivate_volume)(const pve_storage *s, const char *volname, const char *snap,
				 pve_error **err);
	/* Export and import streams of the plugin's own (a btrfs send stream, say). NULL: the generic
	 * FORMAT+size streams of storage/export.c, built on path, volume_size, alloc_image and
	 * free_image. ret: a NULL-terminated list, best first. */
	int (*volume_export_formats)(const pve_storage *s, const char *volname, const char *snap,
				     char ***ret, pve_error **err);
	int (*volume_import_formats)(const pve_storage *s, const char *volname, char ***ret,
				     pve_error **err);
	int (*volume_export)(const pve_storage *s, const char *volname, const char *format,
			     const char *snap, int out_fd, pve_error **err);
	int (*volume_import)(const pve_storage *s, const char *volname, const char *format,
			     int in_fd, bool allow_rename, char **ret_volname, pve_error **err);
	/* A block volume just allocated reads as zeros (thin volumes): an import may skip zero
	 * blocks. Files always do. */
	bool new_volumes_read_zero;
};

/* The registry: every type pved knows, implemented or not. NULL if unknown. */
const pve_storage_plugin *pve_storage_plugin_find(const char *type);
/* NULL-terminated list of every known plugin. */
const pve_storage_plugin *const *pve_storage_plugins(void);

/* Checks a section of storage.cfg against its type: known type, required properties, allowed properties
 * and their values (content types allowed for the type, format, booleans). EINVAL naming the property. */
int pve_storage_check_section(const void *section, pve_error **err);
/* A storage's path (dir, btrfs; nfs and cifs mount points) on the node with root `root` ("/" or the
 * node's --root): EINVAL naming "path" for a path with "." or ".." segments, the file system's or the
 * node's root, a system directory (/etc, /usr, /var, /home, /tmp, ...) and anything inside those no
 * storage may write into (/bin, /boot, /dev, /etc with etc/pve, /lib*, /proc, /run, /sbin, /sys,
 * /usr/{bin,lib,sbin,share,...}, /var/log, ...), each both below / and below root. /var/lib/vz, /mnt/x,
 * /srv/x are fine. Lexical: symbolic links are not followed. */
int pve_storage_check_path(const char *path, const char *root, pve_error **err);
/* Whether a storage.cfg property is a boolean (shared, disable, mkdir, ...): the API prints it as 0/1. */
bool pve_storage_option_is_bool(const char *key);
/* Parses storage.cfg and checks each section; EINVAL "storage 'x': message". */
int pve_storage_cfg_parse(const char *text, size_t len, pve_sectioncfg **ret, pve_error **err);
/* The storage id in cfg; ENOENT "storage 'x' does not exist" (404, no param). */
int pve_storage_get(const pve_sectioncfg *cfg, const char *id, pve_storage *ret, pve_error **err);
/* Whether the storage is enabled on node (no `nodes` list, or node in it). */
bool pve_storage_on_node(const pve_storage *s, const char *node);
/* The directory of content type vtype ("images", "rootdir", "iso", "vztmpl", "backup", "snippets",
 * "import") of a storage with a path: PATH/images, PATH/private, PATH/template/iso,
 * PATH/template/cache, PATH/dump, PATH/snippets, PATH/import, or what storage.cfg's content-dirs
 * ("backup=backups,iso=isos") says instead (Proxmox's get_subdir). EINVAL "storage definition has no
 * path", "unknown vtype 'x'". */
int pve_storage_get_subdir(const pve_storage *s, const char *vtype, char **ret_path,
			   pve_error **err);
/* Proxmox's path_to_volume_id: the volume a file's path names on one of cfg's storages with a path
 * (images by listing the guest's directory, so a linked clone's base is in its volid), or a volume ID
 * given as path when its storage exists. *ret_vtype 0 and *ret_volid NULL when none does (also
 * success). The path is resolved (realpath) first when it exists. */
int pve_storage_path_to_volume_id(const pve_sectioncfg *cfg, const char *path, unsigned *ret_vtype,
				  char **ret_volid, pve_error **err);

/* ---- operations: check support and arguments, then call the plugin ---------------------------------- */

/* Activates the storage; one with a `base` volume (lvm on an iSCSI LUN) activates its base storage
 * first, as Proxmox's activate_storage. */
int pve_storage_activate(const pve_storage *s, pve_error **err);
/* Only the base storage of s, if it has one: EINVAL "storage 'x' is disabled" for a disabled one. */
int pve_storage_activate_base(const pve_storage *s, pve_error **err);
/* The plugin's on_add, where it has one. */
int pve_storage_on_add(const pve_storage *s, pve_error **err);
/* The storage's `base` ("iscsistore:0.0.1.scsi-..."): *ret_base its storage, *ret_volname (free it)
 * the volume there; *ret_volname NULL when s has none. EINVAL naming "base", Proxmox's texts:
 * "unable to parse volume ID 'x'", "base storage ID 'x' does not exist", "unsupported base type
 * 'y'" (only iscsi), or the base storage's own for a volume name it does not take. s->cfg must be
 * set for a storage with a base. */
int pve_storage_base(const pve_storage *s, pve_storage *ret_base, char **ret_volname,
		     pve_error **err);
/* Whether a storage of cfg has a `base` on storage id (which can't be removed then). */
bool pve_storage_is_base(const pve_sectioncfg *cfg, const char *id);
/* Undoes activate where the type has something to undo (a mount, an iSCSI session, active LVs). */
int pve_storage_deactivate(const pve_storage *s, pve_error **err);
int pve_storage_get_status(const pve_storage *s, pve_storage_status *ret, pve_error **err);
/* Refuses a content type the storage does not hold: EINVAL "storage 'x' does not support content type
 * 'y'". */
int pve_storage_check_content(const pve_storage *s, unsigned content, pve_error **err);
int pve_storage_alloc_image(const pve_storage *s, long long vmid, const char *fmt, const char *name,
			    uint64_t size, char **ret_volname, pve_error **err);
/* Refuses to free a base image that a linked clone on the storage still uses: EBUSY "base volume 'x' is
 * still in use by linked clones" (Proxmox's vdisk_free), whatever the type; a failed listing is an
 * error too. */
int pve_storage_free_image(const pve_storage *s, const char *volname, pve_error **err);
/* The same question without freeing: 0 when volname is no base image of s or no linked clone of any
 * guest on s uses it, else EBUSY with the text above (or the listing's error). */
int pve_storage_check_base_unused(const pve_storage *s, const char *volname, pve_error **err);
/* The volumes of the content types asked for that the storage holds, sorted by volid, as Proxmox's
 * list_volumes: a guest's images are "rootdir" when it is one of s->containers, else "images" (a
 * subvol too); vmid (0: all) keeps that guest's images and backups and every snippet and import,
 * but no ISO or template. */
int pve_storage_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			     pve_volume_info **ret, size_t *ret_n, pve_error **err);

/* Image listings of local dir storages (not shared, on ext2/3/4, xfs, btrfs or tmpfs), kept by
 * inotify (storage/list-cache.c): a listing re-reads only the images/VMID directories that changed.
 * One per process (pved's); thread-safe. */
typedef struct pve_storage_list_cache pve_storage_list_cache;
pve_storage_list_cache *pve_storage_list_cache_new(void);
void pve_storage_list_cache_free(pve_storage_list_cache *c);
/* As pve_storage_list_volumes (the same results in the same order), through the cache where s can
 * be cached; c may be NULL (then it is exactly pve_storage_list_volumes). */
int pve_storage_list_volumes_cached(pve_storage_list_cache *c, const pve_storage *s, long long vmid,
				    unsigned content, pve_volume_info **ret, size_t *ret_n,
				    pve_error **err);
/* A volume name on s, as its type names volumes: "100/vm-100-disk-0.raw" on dir, "vm-100-disk-0" on
 * lvm, "lun1" on iscsidirect. EINVAL "unable to parse ... volume name 'x'". */
int pve_storage_volume_parse(const pve_storage *s, const char *volname, pve_volname *ret,
			     pve_error **err);
int pve_storage_path(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		     pve_error **err);
int pve_storage_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
			    uint64_t *ret_used, char **ret_format, pve_error **err);
int pve_storage_volume_resize(const pve_storage *s, const char *volname, uint64_t size,
			      pve_error **err);
int pve_storage_volume_snapshot(const pve_storage *s, const char *volname, const char *snap,
				pve_error **err);
int pve_storage_volume_snapshot_rollback(const pve_storage *s, const char *volname,
					 const char *snap, pve_error **err);
int pve_storage_volume_snapshot_delete(const pve_storage *s, const char *volname, const char *snap,
				       pve_error **err);
int pve_storage_clone_image(const pve_storage *s, const char *volname, long long vmid,
			    const char *snap, char **ret_volname, pve_error **err);
int pve_storage_create_base(const pve_storage *s, const char *volname, char **ret_volname,
			    pve_error **err);
bool pve_storage_volume_has_feature(const pve_storage *s, pve_volume_feature feature,
				    const char *volname, const char *snap);
int pve_storage_rename_volume(const pve_storage *s, const char *volname, long long target_vmid,
			      const char *target_name, char **ret_volname, pve_error **err);
int pve_storage_get_attribute(const pve_storage *s, const char *volname, const char *attr,
			      char **ret_value, pve_error **err);
int pve_storage_set_attribute(const pve_storage *s, const char *volname, const char *attr,
			      const char *value, pve_error **err);

/* Makes a volume (or with snap, its snapshot) usable through its path (lvm: lvchange -ay), and undoes
 * that. A type with nothing to do succeeds. */
int pve_storage_activate_volume(const pve_storage *s, const char *volname, const char *snap,
				pve_error **err);
int pve_storage_deactivate_volume(const pve_storage *s, const char *volname, const char *snap,
				  pve_error **err);

/* ---- prune-backups: which backups to keep ---------------------------------------------------------- */

/* The retention options: keep the last N backups, the newest of each of the last N hours, days, ISO
 * weeks, months, years (0: the option is not set), or all. */
typedef struct pve_prune_keep {
	bool all;
	long long last, hourly, daily, weekly, monthly, yearly;
} pve_prune_keep;
/* The prune-backups property string ("keep-last=3,keep-daily=7", "keep-all=1"); as Proxmox, nothing
 * to keep by count is keep-all. EINVAL (param "prune-backups") for a bad string and for keep-all with
 * other options. */
int pve_storage_prune_parse(const char *s, pve_prune_keep *ret, pve_error **err);

typedef enum pve_prune_mark {
	PVE_PRUNE_KEEP = 1,
	PVE_PRUNE_REMOVE,
	PVE_PRUNE_PROTECTED, /* protected backups are never removed */
	PVE_PRUNE_RENAMED, /* nor those without a standard name */
} pve_prune_mark;
/* "keep", "remove", "protected", "renamed". */
const char *pve_prune_mark_name(pve_prune_mark m);

typedef struct pve_prune_entry {
	char *volid;
	time_t ctime; /* the time in a standard name, else the listing's */
	const char *type; /* "qemu", "lxc", "openvz" or "unknown" */
	long long vmid; /* 0 if none */
	pve_prune_mark mark;
} pve_prune_entry;
void pve_prune_entries_free(pve_prune_entry *e, size_t n);

/* Proxmox's prune_backups selection over a backup listing (volid, ctime, vmid, protected_ of each):
 * the backups of type (NULL: any), each guest's (by type and VMID) marked on their own, in the
 * listing's order. vmid (0: any) is what the listing was made for; EIO if a backup of a standard
 * name belongs to another. */
int pve_storage_prune_select(const pve_volume_info *backups, size_t n, const pve_prune_keep *keep,
			     long long vmid, const char *type, pve_prune_entry **ret, size_t *ret_n,
			     pve_error **err);
/* Lists s's backups (of vmid, 0: all) and selects as above, with keep or, when NULL, the storage's
 * prune-backups option (EINVAL "no prune-backups options configured for storage 'x'"); unless
 * dry_run, removes those marked "remove" (with their .notes and .log), writing "removing backup 'x'"
 * and each failure to log (may be NULL): EIO "error pruning backups - check log" when one failed. The
 * storage must be active. ret may be NULL. */
int pve_storage_prune_backups(const pve_storage *s, const pve_prune_keep *keep, long long vmid,
			      const char *type, bool dry_run, FILE *log, pve_prune_entry **ret,
			      size_t *ret_n, pve_error **err);

/* ---- export and import streams (pvesm export / import) ----------------------------------------------
 * Proxmox's formats: "raw+size", "qcow2+size", "vmdk+size" (an 8-byte little-endian size, then for raw the
 * disk's bytes, for qcow2 and vmdk the image file as it is) and "tar+size" for subvolumes (the size
 * limit, 0 for none, then a GNU tar stream). The storage must be active; the calls activate the volume. */

/* An import stream announcing more than this is refused. */
#define PVE_STORAGE_IMPORT_SIZE_MAX (1ULL << 46)

/* The formats volname (at snapshot snap, or NULL) can be exported in, best first, NULL-terminated; an
 * empty list when there is none. */
int pve_storage_volume_export_formats(const pve_storage *s, const char *volname, const char *snap,
				      char ***ret, pve_error **err);
/* The formats a volume named volname can be imported from. */
int pve_storage_volume_import_formats(const pve_storage *s, const char *volname, char ***ret,
				      pve_error **err);
/* Writes the volume as a format stream to out_fd (a pipe, a socket or a file). EINVAL for a format the
 * volume can't be exported in. */
int pve_storage_volume_export(const pve_storage *s, const char *volname, const char *format,
			      const char *snap, int out_fd, pve_error **err);
/* Reads a format stream from in_fd into a new volume named volname (its owner, name and format come from
 * the name); when that exists, EEXIST "volume 'x' already exists", or with allow_rename the next free
 * name. *ret_volname: the volume made. On any failure (a bad header, a short stream, no space) nothing
 * of the new volume is left. */
int pve_storage_volume_import(const pve_storage *s, const char *volname, const char *format,
			      int in_fd, bool allow_rename, char **ret_volname, pve_error **err);

/* ---- scans of local block storage (/nodes/{node}/scan/lvm, .../lvmthin) ------------------------------ */

/* The volume groups: [{"vg": NAME, "size": BYTES, "free": BYTES}], sorted by name. */
int pve_storage_scan_lvm(cJSON **ret, pve_error **err);
/* The thin pools of vg: [{"lv": NAME, "lv_size": BYTES, "used": BYTES, "metadata_size": BYTES,
 * "metadata_used": BYTES}]; EINVAL for a bad vg name, EIO naming lvs' complaint (no such vg). */
int pve_storage_scan_lvmthin(const char *vg, cJSON **ret, pve_error **err);

/* ---- external tools ----------------------------------------------------------------------------------- */

/* Runs argv[0] (an absolute path, or a name looked up in /usr/sbin, /usr/bin, /sbin, /bin) with argv
 * (NULL-terminated), no shell, stdin from /dev/null, a fixed environment (PATH, LC_ALL=C). *ret_out (may be
 * NULL) gets its stdout (at most 4 MiB, else E2BIG). On failure EIO "<name> <argv[1]> failed: <its stderr
 * on one line>", or ENOENT when the program cannot be run. */
int pve_storage_run(const char *const argv[], char **ret_out, pve_error **err);

/* The storage layer's one tool runner (storage/run.c; pve_storage_run is this with no env, no time
 * limit, no status): argv (argv[0] an absolute path or a name looked up in /usr/sbin, /usr/bin,
 * /sbin, /bin; NULL-terminated) runs without a shell, in its own process group, killed with that
 * group after timeout_ms (0: no limit). env: extra "NAME=VALUE" entries (NULL-terminated, may be
 * NULL) besides PATH and LC_ALL. *ret_out (may be NULL) gets stdout (at most 4 MiB, else E2BIG).
 * ret_status NULL: a non-zero exit is an error, EIO "<tool> [<verb>] failed (exit code N): <its
 * stderr on one line>"; else the exit status goes there. ETIMEDOUT when killed, ENOENT when the
 * program cannot be run. */
int pve_storage_run_ex(const char *const argv[], const char *const env[], int timeout_ms,
		       char **ret_out, int *ret_status, pve_error **err);

/* Runs qemu-img with args (argv[0] is "qemu-img", NULL-terminated), no shell; *ret_out (may be NULL) gets
 * its stdout. On failure the error holds its stderr. */
int pve_qemu_img(const char *const argv[], char **ret_out, pve_error **err);
