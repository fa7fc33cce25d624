/* storage: content types, volume IDs and names, storage.cfg's checks per type, and the calls that check
 * what a plugin supports before they run its op. */
#include <ctype.h>

#include "storage/storage.h"
#include "storage/storage-internal.h"

/* ---- content types ------------------------------------------------------------------------------------ */

/* Sorted by name: Proxmox prints content lists sorted. */
static const struct {
	const char *name;
	unsigned bit;
} content_names[] = {
	{ "backup", PVE_CONTENT_BACKUP },   { "images", PVE_CONTENT_IMAGES },
	{ "import", PVE_CONTENT_IMPORT },   { "iso", PVE_CONTENT_ISO },
	{ "rootdir", PVE_CONTENT_ROOTDIR }, { "snippets", PVE_CONTENT_SNIPPETS },
	{ "vztmpl", PVE_CONTENT_VZTMPL },
};

unsigned pve_storage_content_from_name(const char *name)
{
	for (size_t i = 0; name && i < ELEMENTSOF(content_names); i++)
		if (streq(name, content_names[i].name))
			return content_names[i].bit;
	return 0;
}

const char *pve_storage_content_name(unsigned bit)
{
	for (size_t i = 0; i < ELEMENTSOF(content_names); i++)
		if (content_names[i].bit == bit)
			return content_names[i].name;
	return NULL;
}

int pve_storage_content_parse(const char *s, unsigned *ret_mask, pve_error **err)
{
	_cleanup_strv_free_ char **items = pve_split_list(s ? s : "");
	unsigned mask = 0;
	bool none = false;
	for (char **p = items; *p; p++) {
		if (streq(*p, "none")) {
			none = true;
			continue;
		}
		unsigned bit = pve_storage_content_from_name(*p);
		if (!bit)
			return pve_error_set_param(err, EINVAL, "content",
						   "invalid content type '%.64s'", *p);
		mask |= bit;
	}
	if (none && mask)
		return pve_error_set_param(err, EINVAL, "content",
					   "unable to combine 'none' with other content types");
	*ret_mask = mask;
	return 0;
}

char *pve_storage_content_print(unsigned mask)
{
	pve_buf b = { 0 };
	for (size_t i = 0; i < ELEMENTSOF(content_names); i++)
		if (mask & content_names[i].bit)
			pve_buf_printf(&b, "%s%s", b.len ? "," : "", content_names[i].name);
	if (!b.len)
		pve_buf_puts(&b, "none");
	return pve_buf_steal(&b);
}

/* ---- volume IDs and names -------------------------------------------------------------------------------- */

/* A name below a storage that cannot leave it: relative, no "." or ".." segment, no empty segment, no
 * control characters, bounded. A space is a character like any other (Proxmox names an OVA's disk
 * "import/x.ova/OS disk.vmdk"); which names may hold one is parse_volname's business. */
bool pve_storage_volname_safe(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > PVE_VOLNAME_MAX || name[0] == '/')
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	for (const char *seg = name; seg;) {
		const char *slash = strchr(seg, '/');
		size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg = slash ? slash + 1 : NULL;
	}
	return true;
}

int pve_storage_volid_split(const char *volid, char **ret_storeid, char **ret_volname,
			    pve_error **err)
{
	const char *colon = volid ? strchr(volid, ':') : NULL;
	if (!colon || colon == volid || (size_t)(colon - volid) > 64)
		return pve_error_set(err, EINVAL, "unable to parse volume ID '%.300s'",
				     volid ? volid : "");
	_cleanup_free_ char *store = xstrndup(volid, (size_t)(colon - volid));
	_cleanup_free_ char *msg = NULL;
	if (pve_format_check("pve-storage-id", store, &msg) < 0 ||
	    !pve_storage_volname_safe(colon + 1))
		return pve_error_set(err, EINVAL, "unable to parse volume ID '%.300s'", volid);
	if (ret_storeid)
		*ret_storeid = TAKE_PTR(store);
	if (ret_volname)
		*ret_volname = xstrdup(colon + 1);
	return 0;
}

void pve_volname_clear(pve_volname *v)
{
	free(v->name);
	free(v->basename);
	free(v->format);
	*v = (pve_volname){ 0 };
}

/* A decimal VMID in [100, 999999999] spanning exactly [s, s+len). */
static bool parse_vmid(const char *s, size_t len, long long *ret)
{
	if (len == 0 || len > 9 || s[0] == '0')
		return false;
	long long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < PVE_VMID_MIN)
		return false;
	*ret = v;
	return true;
}

int pve_storage_parse_image_name(const char *name, bool with_ext, long long *ret_vmid,
				 bool *ret_is_base, char **ret_format)
{
	static const char *const exts[] = { "raw", "qcow2", "vmdk", "subvol" };
	const char *rest;
	bool base = false, subvol = false;
	if (startswith(name, "vm-"))
		rest = name + 3;
	else if (startswith(name, "base-"))
		rest = name + 5, base = true;
	else if (startswith(name, "subvol-"))
		rest = name + 7, subvol = true;
	else
		return -EINVAL;
	size_t n = strspn(rest, "0123456789");
	long long vmid;
	if (!parse_vmid(rest, n, &vmid) || rest[n] != '-')
		return -EINVAL;
	const char *tail = rest + n + 1;
	_cleanup_free_ char *stem = NULL;
	const char *fmt = NULL;
	if (with_ext) {
		const char *dot = strrchr(tail, '.');
		if (!dot)
			return -EINVAL;
		for (size_t i = 0; i < ELEMENTSOF(exts); i++)
			if (streq(dot + 1, exts[i]))
				fmt = exts[i];
		if (!fmt)
			return -EINVAL;
		stem = xstrndup(tail, (size_t)(dot - tail));
	} else {
		stem = xstrdup(tail);
		fmt = subvol ? "subvol" : NULL;
	}
	/* disk-N, cloudinit, state-SNAP, or any other non-empty tail without '/' or whitespace */
	if (!stem[0] || strchr(stem, '/'))
		return -EINVAL;
	for (const char *p = stem; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.+", *p))
			return -EINVAL;
	if (ret_vmid)
		*ret_vmid = vmid;
	if (ret_is_base)
		*ret_is_base = base;
	if (ret_format)
		*ret_format = fmt ? xstrdup(fmt) : NULL;
	return 0;
}

/* ---- file storages' volume names: Proxmox's parse_volname (Plugin.pm), rule by rule ------------------- */

/* Proxmox's SAFE_CHAR_CLASS_RE ([a-zA-Z0-9\-\.\+\=\_]), with a space when space. */
static bool safe_chars(const char *s, size_t n, bool space)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && !strchr("-.+=_", c) && !(space && c == ' '))
			return false;
	}
	return true;
}

/* name is STEM.EXT with a non-empty STEM and EXT one of exts (NULL-terminated; case-insensitive
 * when ci); the matching extension, or NULL. */
static const char *ext_match(const char *name, const char *const *exts, bool ci)
{
	size_t len = strlen(name);
	for (const char *const *e = exts; *e; e++) {
		size_t el = strlen(*e);
		if (len > el + 1 && name[len - el - 1] == '.' &&
		    (ci ? strcasecmp(name + len - el, *e) : strcmp(name + len - el, *e)) == 0)
			return *e;
	}
	return NULL;
}

static const char *const image_exts[] = { "raw", "qcow2", "vmdk", "subvol", NULL };
static const char *const iso_exts[] = { "iso", "img", NULL };
/* VZTMPL_EXT_RE_1: a plain tar or a compressed one */
static const char *const vztmpl_exts[] = { "tar", "tar.gz", "tar.xz", "tar.zst", "tar.bz2", NULL };
/* BACKUP_EXT_RE_2, shortest first: the extension Proxmox's greedy match takes is the shortest that
 * fits (".tar" in "x.vma.tar"). */
static const char *const backup_exts[] = { "tgz",     "tar",	 "vma",	    "tar.gz",
					   "vma.gz",  "tar.lzo", "tar.zst", "tar.bz2",
					   "vma.lzo", "vma.zst", "vma.bz2", NULL };
static const char *const import_exts[] = { "ova", "ovf", "qcow2", "raw", "vmdk", NULL };
static const char *const ova_content_exts[] = { "qcow2", "raw", "vmdk", NULL };

/* A file name of no '/' with one of exts. */
static const char *file_ext(const char *name, const char *const *exts, bool ci)
{
	return strchr(name, '/') ? NULL : ext_match(name, exts, ci);
}

bool pve_storage_name_is_iso(const char *n)
{
	return file_ext(n, iso_exts, true) != NULL;
}

bool pve_storage_name_is_vztmpl(const char *n)
{
	return file_ext(n, vztmpl_exts, true) != NULL;
}

const char *pve_storage_backup_ext(const char *n)
{
	return file_ext(n, backup_exts, false);
}

/* An import name: "x.ova", "x.ovf", "x.qcow2", "x.raw", "x.vmdk" (space: with spaces, as a volume
 * name may; the listing and path_to_volume_id take none) or a disk inside an OVA, "x.ova/disk.vmdk"
 * (format "ova+vmdk"). The format, or NULL. */
static char *import_format(const char *n, bool space)
{
	const char *ova = strstr(n, ".ova/");
	if (ova && space) {
		const char *inner = ova + 5;
		const char *e = file_ext(inner, ova_content_exts, false);
		if (e && safe_chars(n, (size_t)(ova - n), true) && ova > n &&
		    safe_chars(inner, strlen(inner) - strlen(e) - 1, true))
			return xasprintf("ova+%s", e);
	}
	const char *e = file_ext(n, import_exts, false);
	if (!e || !safe_chars(n, strlen(n) - strlen(e) - 1, space))
		return NULL;
	return xstrdup(e);
}

bool pve_storage_name_is_import(const char *n)
{
	_cleanup_free_ char *f = import_format(n, false);
	return f != NULL;
}

/* The VMID in vzdump-(qemu|lxc|openvz)-VMID-..., or 0. */
long long pve_storage_backup_vmid(const char *name)
{
	static const char *const kinds[] = { "vzdump-qemu-", "vzdump-lxc-", "vzdump-openvz-" };
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		if (!startswith(name, kinds[i]))
			continue;
		const char *p = name + strlen(kinds[i]);
		size_t n = strspn(p, "0123456789");
		long long vmid;
		if (p[n] == '-' && p[n + 1] && parse_vmid(p, n, &vmid))
			return vmid;
	}
	return 0;
}

/* Proxmox's parse_name_dir: an image file name, "vm-100-disk-0.qcow2", "base-100-disk-0.raw",
 * "subvol-100-disk-0.subvol", or any other name without '/' or whitespace and with an image
 * extension; snap-*.qcow2 are a volume's snapshots, not volumes. Errors name the file part. */
static int parse_name_dir(const char *name, char **ret_format, bool *ret_is_base, pve_error **err)
{
	const char *fmt = strpbrk(name, "/ \t\n\v\f\r") ? NULL : ext_match(name, image_exts, false);
	/* vm-, base-, subvol- with a number, then '-' and more before the extension */
	const char *num = startswith(name, "vm-")     ? name + 3 :
			  startswith(name, "base-")   ? name + 5 :
			  startswith(name, "subvol-") ? name + 7 :
							NULL;
	size_t nd = num ? strspn(num, "0123456789") : 0;
	bool prefixed = fmt && nd && num[nd] == '-' &&
			(size_t)(num + nd + 1 - name) < strlen(name) - strlen(fmt) - 1;
	if (!prefixed && startswith(name, "snap-") && endswith(name, ".qcow2"))
		return pve_error_set(err, EINVAL, "'%.300s' is a snapshot filename, not a volume!",
				     name);
	if (!fmt)
		return pve_error_set(err, EINVAL, "unable to parse volume filename '%.300s'", name);
	/* the prefixed names and the others alike: base- makes a base */
	if (ret_format)
		*ret_format = xstrdup(fmt);
	if (ret_is_base)
		*ret_is_base = startswith(name, "base-");
	return 0;
}

/* Where "VMID/BASE/VMID/NAME" splits: Proxmox's ^(\d+)/(\S+)/(\d+)/(\S+)$ takes the last "/DIGITS/" in
 * rest that leaves both sides non-empty. Returns the offset of its first '/', or 0 (none). */
static size_t linked_split(const char *rest, size_t *ret_digits)
{
	size_t found = 0;
	for (size_t i = 1; rest[i]; i++) {
		if (rest[i] != '/')
			continue;
		size_t n = strspn(rest + i + 1, "0123456789");
		if (n && rest[i + 1 + n] == '/' && rest[i + 2 + n]) {
			found = i;
			*ret_digits = n;
		}
	}
	return found;
}

/* The images forms: "VMID/NAME" and a linked clone's "BASEVMID/BASENAME/VMID/NAME". 1 when volname is
 * one (or a failed one: *err set, -EINVAL), 0 when it is none of them. */
static int parse_images_volname(const char *volname, pve_volname *v, pve_error **err)
{
	size_t dlen = strspn(volname, "0123456789");
	if (!dlen || volname[dlen] != '/' || !volname[dlen + 1] || strpbrk(volname, " "))
		return 0;
	const char *rest = volname + dlen + 1;
	size_t n2 = 0, split = linked_split(rest, &n2);
	if (split) {
		_cleanup_free_ char *base = xstrndup(rest, split);
		_cleanup_free_ char *bfmt = NULL;
		if (parse_name_dir(base, &bfmt, NULL, err) < 0)
			return -EINVAL;
		const char *name = rest + split + 2 + n2;
		if (parse_name_dir(name, &v->format, &v->is_base, err) < 0)
			return -EINVAL;
		if (!parse_vmid(volname, dlen, &v->basevmid) ||
		    !parse_vmid(rest + split + 1, n2, &v->vmid))
			return pve_error_set(err, EINVAL,
					     "unable to parse directory volume name '%.300s'",
					     volname);
		v->basename = TAKE_PTR(base);
		v->name = xstrdup(name);
	} else {
		if (parse_name_dir(rest, &v->format, &v->is_base, err) < 0)
			return -EINVAL;
		if (!parse_vmid(volname, dlen, &v->vmid))
			return pve_error_set(err, EINVAL,
					     "unable to parse directory volume name '%.300s'",
					     volname);
		v->name = xstrdup(rest);
	}
	v->vtype = PVE_CONTENT_IMAGES;
	return 1;
}

int pve_storage_parse_volname(const char *volname, pve_volname *ret, pve_error **err)
{
	pve_volname v = { 0 };
	const char *rest;
	if (!volname || !pve_storage_volname_safe(volname))
		goto bad;
	int r = parse_images_volname(volname, &v, err);
	if (r < 0) {
		pve_volname_clear(&v);
		return r;
	}
	if (r > 0) {
		*ret = v;
		return 0;
	}
	if ((rest = startswith(volname, "iso/") ? volname + 4 : NULL) &&
	    pve_storage_name_is_iso(rest)) {
		v.vtype = PVE_CONTENT_ISO;
	} else if ((rest = startswith(volname, "vztmpl/") ? volname + 7 : NULL) &&
		   pve_storage_name_is_vztmpl(rest)) {
		v.vtype = PVE_CONTENT_VZTMPL;
	} else if ((rest = startswith(volname, "backup/") ? volname + 7 : NULL) &&
		   pve_storage_backup_ext(rest)) {
		v.vtype = PVE_CONTENT_BACKUP;
		v.vmid = pve_storage_backup_vmid(rest);
	} else if ((rest = startswith(volname, "snippets/") ? volname + 9 : NULL) && *rest &&
		   !strchr(rest, '/')) {
		v.vtype = PVE_CONTENT_SNIPPETS;
	} else if ((rest = startswith(volname, "import/") ? volname + 7 : NULL) &&
		   (v.format = import_format(rest, true))) {
		v.vtype = PVE_CONTENT_IMPORT;
	} else if ((rest = startswith(volname, "rootdir/") ? volname + 8 : NULL) &&
		   parse_vmid(rest, strlen(rest), &v.vmid)) {
		/* pved's own: a container's directory in private/ */
		v.vtype = PVE_CONTENT_ROOTDIR;
	} else {
		goto bad;
	}
	v.name = xstrdup(rest);
	if (!v.format)
		v.format = xstrdup("raw");
	*ret = v;
	return 0;
bad:
	pve_volname_clear(&v);
	return pve_error_set(err, EINVAL, "unable to parse directory volume name '%.300s'",
			     volname ? volname : "");
}

/* ---- backup archives: Proxmox's archive_info, archive_remove ----------------------------------------- */

void pve_archive_info_clear(pve_archive_info *a)
{
	free(a->filename);
	free(a->logfilename);
	free(a->notesfilename);
	*a = (pve_archive_info){ 0 };
}

/* Proxmox's decompressor_info: the command that writes an archive's content to stdout (tar's
 * options to read it directly). */
static const char *const *decompressor(const char *format, const char *comp)
{
	static const char *const tar_gz[] = { "tar", "-z", NULL };
	static const char *const tar_lzo[] = { "tar", "--lzop", NULL };
	static const char *const tar_zst[] = { "tar", "--zstd", NULL };
	static const char *const tar_bz2[] = { "tar", "--bzip2", NULL };
	static const char *const zcat[] = { "zcat", NULL };
	static const char *const lzop[] = { "lzop", "-d", "-c", NULL };
	static const char *const zstd[] = { "zstd", "-q", "-d", "-c", NULL };
	static const char *const bzcat[] = { "bzcat", "-q", NULL };
	static const struct {
		const char *format, *comp;
		const char *const *argv;
	} table[] = {
		{ "tar", "gz", tar_gz },   { "tar", "lzo", tar_lzo }, { "tar", "zst", tar_zst },
		{ "tar", "bz2", tar_bz2 }, { "vma", "gz", zcat },     { "vma", "lzo", lzop },
		{ "vma", "zst", zstd },	   { "vma", "bz2", bzcat },
	};
	for (size_t i = 0; comp && i < ELEMENTSOF(table); i++)
		if (streq(table[i].format, format) && streq(table[i].comp, comp))
			return table[i].argv;
	return NULL;
}

/* n decimal digits at s into *ret. */
static bool digits(const char *s, size_t n, int *ret)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int pve_storage_archive_info(const char *archive, pve_archive_info *ret, pve_error **err)
{
	static const char *const types[] = { "lxc", "openvz", "qemu" };
	const char *slash = archive ? strrchr(archive, '/') : NULL;
	const char *name = slash ? slash + 1 : archive;
	const char *type = NULL, *rest = NULL, *ext;
	for (size_t i = 0; name && i < ELEMENTSOF(types) && !type; i++) {
		_cleanup_free_ char *prefix = xasprintf("vzdump-%s-", types[i]);
		if (startswith(name, prefix)) {
			type = types[i];
			rest = name + strlen(prefix);
		}
	}
	/* ^vzdump-TYPE-.+\.EXT$: something between the type and the extension */
	ext = type ? pve_storage_backup_ext(name) : NULL;
	if (!ext || strlen(rest) < strlen(ext) + 2)
		return pve_error_set(err, EINVAL,
				     "ERROR: couldn't determine archive info from '%.300s'",
				     archive ? archive : "");
	pve_archive_info a = { .type = type, .filename = xstrdup(name) };
	const char *dot = strchr(ext, '.');
	if (streq(ext, "tgz")) {
		a.format = "tar";
		a.compression = "gz";
	} else {
		a.format = startswith(ext, "vma") ? "vma" : "tar";
		a.compression = dot ? dot + 1 : NULL;
	}
	/* the names compressors know: the same strings, kept static */
	static const char *const comps[] = { "gz", "lzo", "zst", "bz2" };
	for (size_t i = 0; a.compression && i < ELEMENTSOF(comps); i++)
		if (streq(a.compression, comps[i]))
			a.compression = comps[i];
	a.decompressor = decompressor(a.format, a.compression);

	/* The standard name: vzdump-TYPE-VMID-YYYY_MM_DD-HH_MM_SS.EXT, VMID [1-9][0-9]{2,8} */
	size_t stem = strlen(rest) - strlen(ext) - 1;
	size_t vlen = strspn(rest, "0123456789");
	int y, mo, d, h, mi, s;
	const char *t = rest + vlen + 1;
	if (vlen >= 3 && vlen <= 9 && rest[0] != '0' && rest[vlen] == '-' &&
	    stem == vlen + 1 + 19 && digits(t, 4, &y) && t[4] == '_' && digits(t + 5, 2, &mo) &&
	    t[7] == '_' && digits(t + 8, 2, &d) && t[10] == '-' && digits(t + 11, 2, &h) &&
	    t[13] == '_' && digits(t + 14, 2, &mi) && t[16] == '_' && digits(t + 17, 2, &s)) {
		/* Proxmox's timelocal: the node's time zone */
		struct tm tm = { .tm_year = y - 1900,
				 .tm_mon = mo - 1,
				 .tm_mday = d,
				 .tm_hour = h,
				 .tm_min = mi,
				 .tm_sec = s,
				 .tm_isdst = -1 };
		a.ctime = mktime(&tm);
		a.vmid = strtoll(rest, NULL, 10);
		a.logfilename = xasprintf("%.*s.log", (int)(strlen(name) - strlen(ext) - 1), name);
		a.notesfilename = xasprintf("%s.notes", name);
		a.is_std_name = true;
	}
	*ret = a;
	return 0;
}

int pve_storage_archive_remove(const char *path, pve_error **err)
{
	_cleanup_free_ char *prot = xasprintf("%s.protected", path);
	if (access(prot, F_OK) == 0)
		return pve_error_set(err, EPERM, "cannot remove protected archive '%s'", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return pve_error_set(err, errno, "removing archive %s failed: %m", path);
	pve_storage_archive_remove_auxiliaries(path);
	return 0;
}

void pve_storage_archive_remove_auxiliaries(const char *path)
{
	_cleanup_(pve_archive_info_clear) pve_archive_info a = { 0 };
	_cleanup_free_ char *notes = xasprintf("%s.notes", path);
	/* the notes of any archive go with it (Proxmox names them only for standard names) */
	unlink(notes);
	if (pve_storage_archive_info(path, &a, NULL) < 0 || !a.logfilename)
		return;
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *log =
		slash ? xasprintf("%.*s/%s", (int)(slash - path), path, a.logfilename) :
			xstrdup(a.logfilename);
	unlink(log);
}

/* ---- the registry and storage.cfg --------------------------------------------------------------------- */

const pve_storage_plugin *pve_storage_plugin_find(const char *type)
{
	for (const pve_storage_plugin *const *p = pve_storage_plugins(); type && *p; p++)
		if (streq((*p)->type, type))
			return *p;
	return NULL;
}

/* Properties every type may have. */
static const char *const common_options[] = {
	"content",	 "nodes",    "shared", "disable",
	"prune-backups", "maxfiles", "format", "max-protected-backups",
	"bwlimit",	 "comment",  NULL,
};
static const char *const bool_options[] = {
	"shared", "disable", "mkdir",	   "create-base-path",	       "create-subdirs",
	"sparse", "krbd",    "saferemove", "snapshot-as-volume-chain", "tagged_only",
	"nocow",  NULL
};

static bool in_list(const char *const *l, const char *s)
{
	for (; l && *l; l++)
		if (streq(*l, s))
			return true;
	return false;
}

bool pve_storage_option_is_bool(const char *key)
{
	return in_list(bool_options, key);
}

/* ---- content directories: Proxmox's get_subdir, with storage.cfg's content-dirs overrides ----------- */

static const struct {
	unsigned vtype;
	const char *subdir;
} default_subdirs[] = {
	{ PVE_CONTENT_IMAGES, "images" },    { PVE_CONTENT_ROOTDIR, "private" },
	{ PVE_CONTENT_ISO, "template/iso" }, { PVE_CONTENT_VZTMPL, "template/cache" },
	{ PVE_CONTENT_BACKUP, "dump" },	     { PVE_CONTENT_SNIPPETS, "snippets" },
	{ PVE_CONTENT_IMPORT, "import" },
};

/* Proxmox's verify_dir_override: "TYPE=PATH", PATH relative to the storage's path, without ".." (no
 * two dots in a row) and not ending in '.', shorter than 1023 with each part shorter than 255. */
static bool dir_override_valid(const char *item, unsigned *ret_vtype, const char **ret_path)
{
	const char *eq = strchr(item, '=');
	if (!eq || eq == item)
		return false;
	_cleanup_free_ char *type = xstrndup(item, (size_t)(eq - item));
	unsigned bit = pve_storage_content_from_name(type);
	const char *p = eq + 1;
	size_t len = strlen(p);
	if (!bit || !len || len >= 1023 || strstr(p, "..") || p[len - 1] == '.')
		return false;
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	for (const char *seg = p; seg;) {
		const char *slash = strchr(seg, '/');
		if ((slash ? (size_t)(slash - seg) : strlen(seg)) >= 255)
			return false;
		seg = slash ? slash + 1 : NULL;
	}
	*ret_vtype = bit;
	*ret_path = p;
	return true;
}

static int check_content_dirs(const char *v, pve_error **err)
{
	_cleanup_strv_free_ char **items = pve_split_list(v);
	for (char **p = items; *p; p++) {
		unsigned bit;
		const char *path;
		if (!dir_override_valid(*p, &bit, &path))
			return pve_error_set_param(err, EINVAL, "content-dirs",
						   "invalid override '%.200s'", *p);
	}
	return 0;
}

int pve_storage_get_subdir(const pve_storage *s, const char *vtype, char **ret_path,
			   pve_error **err)
{
	if (!s->path || !*s->path)
		return pve_error_set(err, EINVAL, "storage definition has no path");
	unsigned bit = pve_storage_content_from_name(vtype);
	const char *sub = NULL;
	for (size_t i = 0; i < ELEMENTSOF(default_subdirs); i++)
		if (default_subdirs[i].vtype == bit)
			sub = default_subdirs[i].subdir;
	if (!sub)
		return pve_error_set(err, EINVAL, "unknown vtype '%.64s'", vtype ? vtype : "");
	/* an override for a type the storage's type cannot hold is ignored, as Proxmox warns and
	 * drops it */
	_cleanup_strv_free_ char **items = pve_split_list(pve_storage_option(s, "content-dirs"));
	const char *over = NULL;
	for (char **p = items; *p; p++) {
		unsigned b;
		const char *path;
		if (dir_override_valid(*p, &b, &path) && b == bit &&
		    (!s->plugin || (s->plugin->content_allowed & b)))
			over = path;
	}
	*ret_path = xasprintf("%s/%s", s->path, over ? over : sub);
	return 0;
}

char *pve_storage_subdir(const pve_storage *s, unsigned vtype)
{
	char *p = NULL;
	pve_storage_get_subdir(s, pve_storage_content_name(vtype), &p, NULL);
	return p;
}

int pve_storage_check_section(const void *section, pve_error **err)
{
	const pve_section *s = section;
	const char *type = pve_section_type(s), *id = pve_section_id(s);
	const pve_storage_plugin *pl = pve_storage_plugin_find(type);
	_cleanup_free_ char *msg = NULL;
	if (!pl)
		return pve_error_set_param(err, EINVAL, "type", "unknown storage type '%.64s'",
					   type);
	if (pve_format_check("pve-storage-id", id, &msg) < 0)
		return pve_error_set_param(err, EINVAL, "storage", "%s", msg);
	for (const char *const *r = pl->required; r && *r; r++)
		if (!pve_section_get(s, *r))
			return pve_error_set_param(err, EINVAL, *r, "property is missing");
	for (size_t i = 0; i < pve_section_count(s); i++) {
		const char *k = pve_section_key(s, i), *v = pve_section_value(s, i);
		if (!k)
			continue;
		if (!in_list(common_options, k) && !in_list(pl->options, k))
			return pve_error_set_param(
				err, EINVAL, k, "unexpected property for storage type '%s'", type);
		bool b;
		if (in_list(bool_options, k) && pve_parse_bool(v, &b) < 0)
			return pve_error_set_param(err, EINVAL, k, "type check ('boolean') failed");
		if (!in_list(common_options, k) && pl->check_option &&
		    pl->check_option(k, v, err) < 0)
			return -EINVAL;
		if (streq(k, "content")) {
			unsigned mask;
			if (pve_storage_content_parse(v, &mask, err) < 0)
				return -EINVAL;
			unsigned extra = mask & ~pl->content_allowed;
			if (extra) {
				for (unsigned bit = 1; bit <= extra; bit <<= 1)
					if (extra & bit)
						return pve_error_set_param(
							err, EINVAL, "content",
							"storage type '%s' does not support content type '%s'",
							type, pve_storage_content_name(bit));
			}
		} else if (streq(k, "format")) {
			if (!in_list(pl->formats, v))
				return pve_error_set_param(
					err, EINVAL, "format",
					"storage type '%s' does not support format '%.32s'", type,
					v);
		} else if (streq(k, "path")) {
			if (v[0] != '/' || strlen(v) > 4096)
				return pve_error_set_param(err, EINVAL, "path",
							   "path must be absolute");
		} else if (streq(k, "nodes")) {
			if (pve_format_check("pve-node-list", v, &msg) < 0)
				return pve_error_set_param(err, EINVAL, "nodes", "%s", msg);
		} else if (streq(k, "prune-backups")) {
			pve_prune_keep keep;
			if (pve_storage_prune_parse(v, &keep, err) < 0)
				return -EINVAL;
		} else if (streq(k, "content-dirs")) {
			if (check_content_dirs(v, err) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

/* ---- storage paths ---------------------------------------------------------------------------------------
 * pved creates directories in a dir storage's path at once (images, template/iso, dump, ...), writes
 * uploads there and mounts nfs and cifs shares over theirs: a storage at /etc, inside the config store
 * or over /usr would write into (or hide) the system. Relative to a root ("" is the root itself). */

/* Never a storage, nor anything inside. */
static const char *const path_refused_tree[] = {
	"bin",	     "boot",	  "dev",	 "etc",		"lib",
	"lib32",     "lib64",	  "libx32",	 "proc",	"run",
	"sbin",	     "sys",	  "usr/bin",	 "usr/include", "usr/lib",
	"usr/lib32", "usr/lib64", "usr/libexec", "usr/libx32",	"usr/sbin",
	"usr/share", "var/lock",  "var/log",	 "var/run",	NULL,
};

/* Never a storage itself, but what is inside may be (/var/lib/vz, /mnt/x, /srv/x, /home/x). */
static const char *const path_refused_exact[] = {
	"",    "home",	    "media", "mnt",	  "mnt/pve", "opt",	  "root",    "srv", "tmp",
	"usr", "usr/local", "var",   "var/cache", "var/lib", "var/spool", "var/tmp", NULL,
};

/* "/" and segments joined by one '/', no trailing one; NULL for a "." or ".." segment. */
static char *path_normalize(const char *p)
{
	pve_buf b = { 0 };
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (!n)
			break;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			pve_buf_free(&b);
			return NULL;
		}
		pve_buf_puts(&b, "/");
		pve_buf_append(&b, p, n);
		p += n;
	}
	if (!b.len)
		pve_buf_puts(&b, "/");
	return pve_buf_steal(&b);
}

/* path below base ("" for base itself), or NULL; both normalized. */
static const char *path_below(const char *path, const char *base)
{
	if (streq(base, "/"))
		return path + 1;
	size_t n = strlen(base);
	if (strncmp(path, base, n) != 0 || (path[n] != '\0' && path[n] != '/'))
		return NULL;
	return path[n] ? path + n + 1 : path + n;
}

/* rel is path below base ("/" or the node's root). */
static int path_refused(const char *path, const char *rel, const char *base, pve_error **err)
{
	const char *sep = streq(base, "/") ? "" : "/";
	if (!*rel)
		return pve_error_set_param(err, EINVAL, "path", "'%s' is %s", path,
					   *sep ? "the node's root directory" :
						  "the root directory");
	if (streq(rel, "etc/pve") || startswith(rel, "etc/pve/"))
		return pve_error_set_param(err, EINVAL, "path",
					   "'%s' is %sthe configuration store %s%setc/pve", path,
					   rel[7] ? "inside " : "", base, sep);
	for (const char *const *t = path_refused_tree; *t; t++) {
		size_t n = strlen(*t);
		if (strncmp(rel, *t, n) != 0 || (rel[n] != '\0' && rel[n] != '/'))
			continue;
		if (!rel[n])
			return pve_error_set_param(err, EINVAL, "path",
						   "'%s' is a system directory", path);
		return pve_error_set_param(err, EINVAL, "path",
					   "'%s' is inside the system directory %s%s%s", path, base,
					   sep, *t);
	}
	for (const char *const *e = path_refused_exact; *e; e++)
		if (streq(rel, *e))
			return pve_error_set_param(err, EINVAL, "path",
						   "'%s' is a system directory", path);
	return 0;
}

int pve_storage_check_path(const char *path, const char *root, pve_error **err)
{
	if (!path || path[0] != '/' || strlen(path) > 4096)
		return pve_error_set_param(err, EINVAL, "path", "path must be absolute");
	_cleanup_free_ char *p = path_normalize(path);
	if (!p)
		return pve_error_set_param(err, EINVAL, "path",
					   "'%.200s' has a '.' or '..' segment", path);
	_cleanup_free_ char *r = path_normalize(root && *root ? root : "/");
	const char *rel = path_below(p, "/");
	if (path_refused(p, rel, "/", err) < 0)
		return -EINVAL;
	if (r && !streq(r, "/") && (rel = path_below(p, r)) && path_refused(p, rel, r, err) < 0)
		return -EINVAL;
	return 0;
}

int pve_storage_cfg_parse(const char *text, size_t len, pve_sectioncfg **ret, pve_error **err)
{
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	int r = pve_sectioncfg_parse(text, len, &c, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < pve_sectioncfg_count(c); i++) {
		pve_section *s = pve_sectioncfg_nth(c, i);
		pve_error *e = NULL;
		if (pve_storage_check_section(s, &e) < 0) {
			int code = e->code;
			pve_error_set(err, code, "storage '%s': %s%s%s", pve_section_id(s),
				      e->param ? e->param : "", e->param ? ": " : "", e->message);
			pve_error_free(e);
			return -code;
		}
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int pve_storage_get(const pve_sectioncfg *cfg, const char *id, pve_storage *ret, pve_error **err)
{
	pve_section *s = id ? pve_sectioncfg_find(cfg, id) : NULL;
	if (!s)
		return pve_error_set(err, ENOENT, "storage '%.64s' does not exist", id ? id : "");
	const pve_storage_plugin *pl = pve_storage_plugin_find(pve_section_type(s));
	if (!pl)
		return pve_error_set_param(err, EINVAL, "storage",
					   "storage '%s' has unknown type '%s'", id,
					   pve_section_type(s));
	pve_storage st = {
		.id = pve_section_id(s), .type = pl->type, .plugin = pl, .section = s, .cfg = cfg
	};
	st.path = pve_section_get(s, "path");
	const char *content = pve_section_get(s, "content");
	st.content = pl->content_default;
	if (content && pve_storage_content_parse(content, &st.content, NULL) < 0)
		st.content = 0;
	bool b = false;
	const char *v = pve_section_get(s, "shared");
	st.shared = pl->shared || (v && pve_parse_bool(v, &b) == 0 && b);
	v = pve_section_get(s, "disable");
	b = false;
	st.disabled = v && pve_parse_bool(v, &b) == 0 && b;
	*ret = st;
	return 0;
}

bool pve_storage_on_node(const pve_storage *s, const char *node)
{
	const char *nodes = pve_section_get(s->section, "nodes");
	if (!nodes)
		return true;
	_cleanup_strv_free_ char **v = pve_split_list(nodes);
	return in_list((const char *const *)v, node);
}

const char *pve_storage_option(const pve_storage *s, const char *key)
{
	return s->section ? pve_section_get(s->section, key) : NULL;
}

bool pve_storage_option_bool(const pve_storage *s, const char *key, bool def)
{
	const char *v = pve_storage_option(s, key);
	bool b;
	if (!v || pve_parse_bool(v, &b) < 0)
		return def;
	return b;
}

/* ---- operations ------------------------------------------------------------------------------------------ */

static int unsupported(const pve_storage *s, const char *op, pve_error **err)
{
	if (s->plugin->unavailable)
		return pve_error_set(err, ENOSYS, "storage '%s': type '%s' is not available: %s",
				     s->id, s->type, s->plugin->unavailable);
	return pve_error_set(err, ENOSYS, "storage '%s': type '%s' does not support %s", s->id,
			     s->type, op);
}

#define NEED(op)            \
	if (!s->plugin->op) \
	return unsupported(s, #op, err)

int pve_storage_base(const pve_storage *s, pve_storage *ret_base, char **ret_volname,
		     pve_error **err)
{
	const char *base = pve_storage_option(s, "base");
	*ret_volname = NULL;
	if (!base)
		return 0;
	_cleanup_free_ char *id = NULL, *volname = NULL;
	pve_storage b;
	pve_error *e = NULL;
	if (pve_storage_volid_split(base, &id, &volname, NULL) < 0)
		return pve_error_set_param(err, EINVAL, "base",
					   "unable to parse volume ID '%.300s'", base);
	if (!s->cfg || pve_storage_get(s->cfg, id, &b, NULL) < 0)
		return pve_error_set_param(err, EINVAL, "base",
					   "base storage ID '%s' does not exist", id);
	/* as Proxmox: only an iSCSI LUN, whose storage has no base of its own */
	if (!streq(b.type, "iscsi"))
		return pve_error_set_param(err, EINVAL, "base", "unsupported base type '%s'",
					   b.type);
	pve_volname v = { 0 };
	if (pve_storage_volume_parse(&b, volname, &v, &e) < 0) {
		int r = pve_error_set_param(err, EINVAL, "base", "%s", e->message);
		pve_error_free(e);
		return r;
	}
	pve_volname_clear(&v);
	*ret_base = b;
	*ret_volname = TAKE_PTR(volname);
	return 0;
}

bool pve_storage_is_base(const pve_sectioncfg *cfg, const char *id)
{
	for (size_t i = 0; i < pve_sectioncfg_count(cfg); i++) {
		const char *base = pve_section_get(pve_sectioncfg_nth(cfg, i), "base");
		const char *colon = base ? strchr(base, ':') : NULL;
		if (colon && strlen(id) == (size_t)(colon - base) && !strncmp(base, id, strlen(id)))
			return true;
	}
	return false;
}

int pve_storage_activate_base(const pve_storage *s, pve_error **err)
{
	pve_storage b;
	_cleanup_free_ char *volname = NULL;
	if (pve_storage_base(s, &b, &volname, err) < 0) {
		/* a storage.cfg's broken base is no parameter of the call that activates */
		if (err && *err) {
			free((*err)->param);
			(*err)->param = NULL;
		}
		return -EINVAL;
	}
	if (!volname)
		return 0;
	/* as Proxmox's storage_check_enabled */
	if (b.disabled)
		return pve_error_set(err, EINVAL, "storage '%s' is disabled", b.id);
	return pve_storage_activate(&b, err);
}

int pve_storage_activate(const pve_storage *s, pve_error **err)
{
	NEED(activate);
	int r = pve_storage_activate_base(s, err);
	if (r < 0)
		return r;
	return s->plugin->activate(s, err);
}

int pve_storage_on_add(const pve_storage *s, pve_error **err)
{
	return s->plugin->on_add ? s->plugin->on_add(s, err) : 0;
}

int pve_storage_deactivate(const pve_storage *s, pve_error **err)
{
	NEED(deactivate);
	return s->plugin->deactivate(s, err);
}

int pve_storage_get_status(const pve_storage *s, pve_storage_status *ret, pve_error **err)
{
	NEED(status);
	*ret = (pve_storage_status){ 0 };
	return s->plugin->status(s, ret, err);
}

int pve_storage_check_content(const pve_storage *s, unsigned content, pve_error **err)
{
	for (unsigned bit = 1; bit & PVE_CONTENT_ALL; bit <<= 1)
		if ((content & bit) && !(s->content & bit))
			return pve_error_set_param(
				err, EINVAL, "content",
				"storage '%s' does not support content type '%s'", s->id,
				pve_storage_content_name(bit));
	return 0;
}

int pve_storage_alloc_image(const pve_storage *s, long long vmid, const char *fmt, const char *name,
			    uint64_t size, char **ret_volname, pve_error **err)
{
	NEED(alloc_image);
	if (!(s->content & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)))
		return pve_storage_check_content(s, PVE_CONTENT_IMAGES, err);
	if (vmid < PVE_VMID_MIN || vmid > PVE_VMID_MAX)
		return pve_error_set_param(err, EINVAL, "vmid", "invalid VMID %lld", vmid);
	if (!fmt)
		fmt = pve_storage_option(s, "format");
	if (!fmt)
		fmt = s->plugin->default_format;
	if (!in_list(s->plugin->formats, fmt))
		return pve_error_set_param(err, EINVAL, "format",
					   "storage '%s' does not support format '%.32s'", s->id,
					   fmt);
	if (name) {
		_cleanup_free_ char *prefix = xasprintf("vm-%lld-", vmid);
		_cleanup_free_ char *sprefix = xasprintf("subvol-%lld-", vmid);
		long long nv;
		if ((!startswith(name, prefix) && !startswith(name, sprefix)) ||
		    !pve_storage_volname_safe(name) || strchr(name, '/') ||
		    pve_storage_parse_image_name(name, strchr(name, '.') != NULL, &nv, NULL, NULL) <
			    0)
			return pve_error_set_param(err, EINVAL, "filename",
						   "illegal name '%.200s' - should be 'vm-%lld-*'",
						   name, vmid);
	}
	return s->plugin->alloc_image(s, vmid, fmt, name, size, ret_volname, err);
}

int pve_storage_check_base_unused(const pve_storage *s, const char *volname, pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	/* a name that does not parse is for the plugin to refuse */
	if (pve_storage_volume_parse(s, volname, &v, NULL) < 0 || !v.is_base)
		return 0;
	NEED(list_volumes);
	/* every guest's images, whatever the storage's content says now: Proxmox's list_images */
	pve_volume_info *l = NULL;
	size_t n = 0;
	int r = s->plugin->list_volumes(s, 0, PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR, &l, &n,
					err);
	if (r < 0)
		return r;
	bool used = false;
	for (size_t i = 0; i < n && !used; i++) {
		const char *name = strchr(l[i].volid, ':');
		_cleanup_(pve_volname_clear) pve_volname c = { 0 };
		used = name && pve_storage_volume_parse(s, name + 1, &c, NULL) == 0 && c.basename &&
		       c.basevmid == v.vmid && streq(c.basename, v.name);
	}
	pve_volume_infos_free(l, n);
	if (used)
		return pve_error_set(err, EBUSY,
				     "base volume '%s' is still in use by linked clones", volname);
	return 0;
}

int pve_storage_free_image(const pve_storage *s, const char *volname, pve_error **err)
{
	NEED(free_image);
	/* Proxmox's vdisk_free asks before any plugin frees a base image */
	int r = pve_storage_check_base_unused(s, volname, err);
	if (r < 0)
		return r;
	return s->plugin->free_image(s, volname, err);
}

static int cmp_vmid(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

void pve_storage_listing_classify(const pve_storage *s, unsigned content, pve_volume_info *v,
				  size_t *n)
{
	size_t o = 0;
	for (size_t i = 0; i < *n; i++) {
		if (v[i].content & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)) {
			bool ct = v[i].vmid && s->containers &&
				  bsearch(&v[i].vmid, s->containers, s->n_containers,
					  sizeof(*s->containers), cmp_vmid);
			v[i].content = ct ? PVE_CONTENT_ROOTDIR : PVE_CONTENT_IMAGES;
		}
		if (!(v[i].content & content)) {
			pve_volume_info_clear(&v[i]);
			continue;
		}
		v[o++] = v[i];
	}
	*n = o;
}

int pve_storage_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			     pve_volume_info **ret, size_t *ret_n, pve_error **err)
{
	NEED(list_volumes);
	*ret = NULL;
	*ret_n = 0;
	content &= s->content;
	/* which of the images are a container's the plugin does not know: it lists them all */
	unsigned ask = content & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR) ?
			       content | PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR :
			       content;
	int r = s->plugin->list_volumes(s, vmid, ask, ret, ret_n, err);
	if (r < 0)
		return r;
	pve_storage_listing_classify(s, content, *ret, ret_n);
	return 0;
}

/* ---- path_to_volume_id --------------------------------------------------------------------------- */

/* path below dir: "dir/NAME" with NAME of no '/'; NAME, or NULL. */
static const char *file_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || !path[n + 1] ||
	    strchr(path + n + 1, '/'))
		return NULL;
	return path + n + 1;
}

/* The image volume at path (dir/VMID/NAME) of s, from the listing of that guest's images. */
static char *image_volid_at(const pve_storage *s, const char *path, const char *imgdir)
{
	size_t n = strlen(imgdir);
	if (strncmp(path, imgdir, n) != 0 || path[n] != '/')
		return NULL;
	const char *rest = path + n + 1;
	size_t dl = strspn(rest, "0123456789");
	long long vmid;
	if (rest[dl] != '/' || !parse_vmid(rest, dl, &vmid) || !rest[dl + 1] ||
	    strpbrk(rest + dl + 1, "/ \t\n"))
		return NULL;
	pve_volume_info *v = NULL;
	size_t nv = 0;
	if (!s->plugin->list_volumes ||
	    s->plugin->list_volumes(s, vmid, PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR, &v, &nv,
				    NULL) < 0)
		return NULL;
	char *found = NULL;
	for (size_t i = 0; i < nv && !found; i++) {
		_cleanup_free_ char *vpath = NULL;
		const char *volname = strchr(v[i].volid, ':') + 1;
		if (pve_storage_path(s, volname, NULL, &vpath, NULL) == 0 && streq(vpath, path))
			found = xstrdup(v[i].volid);
	}
	pve_volume_infos_free(v, nv);
	return found;
}

int pve_storage_path_to_volume_id(const pve_sectioncfg *cfg, const char *path, unsigned *ret_vtype,
				  char **ret_volid, pve_error **err)
{
	*ret_vtype = 0;
	*ret_volid = NULL;
	_cleanup_free_ char *sid = NULL, *volname = NULL;
	if (path && path[0] != '/' && pve_storage_volid_split(path, &sid, &volname, NULL) == 0) {
		pve_storage st;
		_cleanup_(pve_volname_clear) pve_volname v = { 0 };
		if (pve_storage_get(cfg, sid, &st, NULL) < 0 || !st.path)
			return 0;
		if (pve_storage_volume_parse(&st, volname, &v, err) < 0)
			return -EINVAL;
		*ret_vtype = v.vtype;
		*ret_volid = xstrdup(path);
		return 0;
	}
	if (!path || path[0] != '/')
		return 0;
	/* Proxmox's abs_path: a path that does not exist (an unmounted share) is taken as it is */
	_cleanup_free_ char *real = realpath(path, NULL);
	const char *p = real ? real : path;
	for (size_t i = 0; i < pve_sectioncfg_count(cfg); i++) {
		pve_storage st;
		if (pve_storage_get(cfg, pve_section_id(pve_sectioncfg_nth(cfg, i)), &st, NULL) <
			    0 ||
		    !st.path)
			continue;
		_cleanup_free_ char *imgdir = pve_storage_subdir(&st, PVE_CONTENT_IMAGES);
		_cleanup_free_ char *isodir = pve_storage_subdir(&st, PVE_CONTENT_ISO);
		_cleanup_free_ char *tmpldir = pve_storage_subdir(&st, PVE_CONTENT_VZTMPL);
		_cleanup_free_ char *backupdir = pve_storage_subdir(&st, PVE_CONTENT_BACKUP);
		_cleanup_free_ char *snippetsdir = pve_storage_subdir(&st, PVE_CONTENT_SNIPPETS);
		_cleanup_free_ char *importdir = pve_storage_subdir(&st, PVE_CONTENT_IMPORT);
		const char *name;
		char *volid = NULL;
		unsigned vtype = 0;
		if ((volid = image_volid_at(&st, p, imgdir))) {
			vtype = PVE_CONTENT_IMAGES;
		} else if ((name = file_below(p, isodir)) && pve_storage_name_is_iso(name)) {
			vtype = PVE_CONTENT_ISO;
			volid = xasprintf("%s:iso/%s", st.id, name);
		} else if ((name = file_below(p, tmpldir)) && pve_storage_name_is_vztmpl(name)) {
			vtype = PVE_CONTENT_VZTMPL;
			volid = xasprintf("%s:vztmpl/%s", st.id, name);
		} else if ((name = file_below(p, backupdir)) && pve_storage_backup_ext(name)) {
			vtype = PVE_CONTENT_BACKUP;
			volid = xasprintf("%s:backup/%s", st.id, name);
		} else if ((name = file_below(p, snippetsdir))) {
			vtype = PVE_CONTENT_SNIPPETS;
			volid = xasprintf("%s:snippets/%s", st.id, name);
		} else if ((name = file_below(p, importdir)) && pve_storage_name_is_import(name)) {
			vtype = PVE_CONTENT_IMPORT;
			volid = xasprintf("%s:import/%s", st.id, name);
		}
		if (volid) {
			*ret_vtype = vtype;
			*ret_volid = volid;
			return 0;
		}
	}
	return 0;
}

void pve_storage_lun_volname(const char *volname, pve_volname *ret)
{
	*ret = (pve_volname){
		.vtype = PVE_CONTENT_IMAGES,
		.name = xstrdup(volname),
		.format = xstrdup("raw"),
	};
}

int pve_storage_volume_parse(const pve_storage *s, const char *volname, pve_volname *ret,
			     pve_error **err)
{
	if (s->plugin->parse_volname)
		return s->plugin->parse_volname(s, volname, ret, err);
	return pve_storage_parse_volname(volname, ret, err);
}

int pve_storage_path(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		     pve_error **err)
{
	NEED(path);
	return s->plugin->path(s, volname, snap, ret_path, err);
}

int pve_storage_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
			    uint64_t *ret_used, char **ret_format, pve_error **err)
{
	NEED(volume_size);
	return s->plugin->volume_size(s, volname, ret_size, ret_used, ret_format, err);
}

int pve_storage_volume_resize(const pve_storage *s, const char *volname, uint64_t size,
			      pve_error **err)
{
	NEED(volume_resize);
	return s->plugin->volume_resize(s, volname, size, err);
}

int pve_storage_check_snapname(const char *snap, pve_error **err)
{
	_cleanup_free_ char *msg = NULL;
	if (!snap || pve_format_check("pve-configid", snap, &msg) < 0 || strlen(snap) > 40)
		return pve_error_set_param(err, EINVAL, "snapname", "invalid snapshot name '%.64s'",
					   snap ? snap : "");
	return 0;
}

int pve_storage_volume_snapshot(const pve_storage *s, const char *volname, const char *snap,
				pve_error **err)
{
	NEED(volume_snapshot);
	if (pve_storage_check_snapname(snap, err) < 0)
		return -EINVAL;
	return s->plugin->volume_snapshot(s, volname, snap, err);
}

int pve_storage_volume_snapshot_rollback(const pve_storage *s, const char *volname,
					 const char *snap, pve_error **err)
{
	NEED(volume_snapshot_rollback);
	if (pve_storage_check_snapname(snap, err) < 0)
		return -EINVAL;
	return s->plugin->volume_snapshot_rollback(s, volname, snap, err);
}

int pve_storage_volume_snapshot_delete(const pve_storage *s, const char *volname, const char *snap,
				       pve_error **err)
{
	NEED(volume_snapshot_delete);
	if (pve_storage_check_snapname(snap, err) < 0)
		return -EINVAL;
	return s->plugin->volume_snapshot_delete(s, volname, snap, err);
}

int pve_storage_clone_image(const pve_storage *s, const char *volname, long long vmid,
			    const char *snap, char **ret_volname, pve_error **err)
{
	NEED(clone_image);
	if (vmid < PVE_VMID_MIN || vmid > PVE_VMID_MAX)
		return pve_error_set_param(err, EINVAL, "vmid", "invalid VMID %lld", vmid);
	return s->plugin->clone_image(s, volname, vmid, snap, ret_volname, err);
}

int pve_storage_create_base(const pve_storage *s, const char *volname, char **ret_volname,
			    pve_error **err)
{
	NEED(create_base);
	return s->plugin->create_base(s, volname, ret_volname, err);
}

bool pve_storage_volume_has_feature(const pve_storage *s, pve_volume_feature feature,
				    const char *volname, const char *snap)
{
	return s->plugin->volume_has_feature &&
	       s->plugin->volume_has_feature(s, feature, volname, snap);
}

int pve_storage_rename_volume(const pve_storage *s, const char *volname, long long target_vmid,
			      const char *target_name, char **ret_volname, pve_error **err)
{
	NEED(rename_volume);
	if (target_vmid < PVE_VMID_MIN || target_vmid > PVE_VMID_MAX)
		return pve_error_set_param(err, EINVAL, "vmid", "invalid VMID %lld", target_vmid);
	return s->plugin->rename_volume(s, volname, target_vmid, target_name, ret_volname, err);
}

int pve_storage_get_attribute(const pve_storage *s, const char *volname, const char *attr,
			      char **ret_value, pve_error **err)
{
	*ret_value = NULL;
	if (!s->plugin->get_attribute)
		return 0;
	return s->plugin->get_attribute(s, volname, attr, ret_value, err);
}

int pve_storage_set_attribute(const pve_storage *s, const char *volname, const char *attr,
			      const char *value, pve_error **err)
{
	NEED(set_attribute);
	return s->plugin->set_attribute(s, volname, attr, value, err);
}

int pve_storage_activate_volume(const pve_storage *s, const char *volname, const char *snap,
				pve_error **err)
{
	if (snap && pve_storage_check_snapname(snap, err) < 0)
		return -EINVAL;
	if (!s->plugin->activate_volume)
		return s->plugin->unavailable ? unsupported(s, "activate_volume", err) : 0;
	return s->plugin->activate_volume(s, volname, snap, err);
}

int pve_storage_deactivate_volume(const pve_storage *s, const char *volname, const char *snap,
				  pve_error **err)
{
	if (snap && pve_storage_check_snapname(snap, err) < 0)
		return -EINVAL;
	if (!s->plugin->deactivate_volume)
		return s->plugin->unavailable ? unsupported(s, "deactivate_volume", err) : 0;
	return s->plugin->deactivate_volume(s, volname, snap, err);
}

void pve_volume_info_clear(pve_volume_info *v)
{
	free(v->volid);
	free(v->format);
	free(v->parent);
	free(v->notes);
	*v = (pve_volume_info){ 0 };
}

void pve_volume_infos_free(pve_volume_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		pve_volume_info_clear(&v[i]);
	free(v);
}

pve_volume_info *listing_add(listing *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	pve_volume_info *i = &l->v[l->n++];
	*i = (pve_volume_info){ 0 };
	return i;
}
