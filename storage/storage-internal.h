/* storage: what the storage files share but do not publish: name checks, option lookups, the plugins. */
#pragma once

#include "storage/storage.h"

bool pve_storage_volname_safe(const char *name);
/* Fixed-width integers in image headers (qcow2 is big-endian, vmdk and the +size streams little). */
static inline uint32_t pve_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t pve_get_be64(const unsigned char *p)
{
	return (uint64_t)pve_get_be32(p) << 32 | pve_get_be32(p + 4);
}
static inline uint64_t pve_get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A LUN's volume name as parsed: an image of no guest, raw. */
void pve_storage_lun_volname(const char *volname, pve_volname *ret);
bool pve_storage_name_is_iso(const char *n);
bool pve_storage_name_is_vztmpl(const char *n);
/* A backup archive's extension as Proxmox's BACKUP_EXT_RE_2 takes it ("vma.zst", "tgz"), or NULL. */
const char *pve_storage_backup_ext(const char *n);
bool pve_storage_name_is_import(const char *n);
long long pve_storage_backup_vmid(const char *name);
/* pve_storage_get_subdir of a content bit (a single one); NULL if s has no path. */
char *pve_storage_subdir(const pve_storage *s, unsigned vtype);
/* A listing's images as Proxmox's list_volumes calls them: a container's "rootdir", every other one
 * "images" (s->containers); those content does not ask for are dropped. */
void pve_storage_listing_classify(const pve_storage *s, unsigned content, pve_volume_info *v,
				  size_t *n);
const char *pve_storage_option(const pve_storage *s, const char *key);
bool pve_storage_option_bool(const pve_storage *s, const char *key, bool def);
/* EINVAL "invalid snapshot name" (param snapname) unless snap is a pve-configid of at most 40. */
int pve_storage_check_snapname(const char *snap, pve_error **err);

extern const pve_storage_plugin pve_storage_plugin_dir;
/* nfs, cifs, iscsi: storage/plugin-{nfs,cifs,iscsi}.c */
extern const pve_storage_plugin pve_storage_plugin_nfs;
extern const pve_storage_plugin pve_storage_plugin_cifs;
extern const pve_storage_plugin pve_storage_plugin_iscsi;
extern const pve_storage_plugin pve_storage_plugin_iscsidirect;
extern const pve_storage_plugin pve_storage_plugin_btrfs;
extern const pve_storage_plugin pve_storage_plugin_lvm;
extern const pve_storage_plugin pve_storage_plugin_lvmthin;

#include <dirent.h>
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* A growing list of volumes, as the plugins' list_volumes build it. */
typedef struct listing {
	pve_volume_info *v;
	size_t n, cap;
} listing;
/* A new zeroed entry at the end. */
pve_volume_info *listing_add(listing *l);

/* A listing of a dir storage stops here: a directory can hold more than any answer should. */
#define DIR_MAX_VOLUMES (1024 * 1024)
/* Whether name in images/ is a guest's directory ("100": no sign, no leading zero) whose guest vmid
 * asks for (0: any); its VMID in *ret_owner. */
bool pve_dir_guest_dir(const char *name, long long vmid, long long *ret_owner);
/* A directory below dfd (or AT_FDCWD) for reading, without following a symlink; NULL on failure. */
DIR *pve_dir_opendir_at(int dfd, const char *name);
/* One images/VMID directory d2 (named owner_name, of guest owner) into l: the images and containers
 * content asks for, in directory order, while l holds fewer than DIR_MAX_VOLUMES. *ret_watchable
 * (may be NULL): false if something reported could change with no inotify event on d2 (a subvol
 * directory, anything but a regular file or symlink, a file of another mount), so that a cache must
 * not keep it. */
void pve_dir_list_image_dir(const pve_storage *s, DIR *d2, const char *owner_name, long long owner,
			    unsigned content, listing *l, bool *ret_watchable);
