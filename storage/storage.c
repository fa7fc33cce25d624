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
 * control characters or whitespace, bounded. */
bool pve_storage_volname_safe(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > PVE_VOLNAME_MAX || name[0] == '/')
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || isspace((unsigned char)*p))
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

static bool name_has_ext_ci(const char *name, const char *const *exts)
{
	size_t len = strlen(name);
	for (const char *const *e = exts; *e; e++) {
		size_t el = strlen(*e);
		if (len > el && strcasecmp(name + len - el, *e) == 0)
			return true;
	}
	return false;
}

static const char *const iso_exts[] = { ".iso", ".img", NULL };
static const char *const vztmpl_exts[] = { ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2", NULL };
static const char *const backup_exts[] = { ".tgz",     ".tar",	   ".tar.gz",  ".tar.lzo",
					   ".tar.zst", ".tar.bz2", ".vma",     ".vma.gz",
					   ".vma.lzo", ".vma.zst", ".vma.bz2", NULL };
static const char *const import_exts[] = { ".ova", ".ovf", ".qcow2", ".raw", ".vmdk", NULL };

bool pve_storage_name_is_iso(const char *n)
{
	return name_has_ext_ci(n, iso_exts);
}
bool pve_storage_name_is_vztmpl(const char *n)
{
	return name_has_ext_ci(n, vztmpl_exts);
}
bool pve_storage_name_is_backup(const char *n)
{
	return name_has_ext_ci(n, backup_exts);
}
bool pve_storage_name_is_import(const char *n)
{
	return name_has_ext_ci(n, import_exts);
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
		if (p[n] == '-' && parse_vmid(p, n, &vmid))
			return vmid;
	}
	return 0;
}

/* "<vmid>/<name>" with name an image file owned by... whatever the directory says, as Proxmox. */
static int parse_image_dir(const char *vmid_s, size_t vmid_len, const char *name,
			   long long *ret_vmid, char **ret_format, bool *ret_is_base)
{
	if (!parse_vmid(vmid_s, vmid_len, ret_vmid))
		return -EINVAL;
	if (strchr(name, '/'))
		return -EINVAL;
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name)
		return -EINVAL;
	static const char *const fmts[] = { "raw", "qcow2", "vmdk", "subvol" };
	for (size_t i = 0; i < ELEMENTSOF(fmts); i++)
		if (streq(dot + 1, fmts[i])) {
			*ret_format = xstrdup(fmts[i]);
			*ret_is_base = startswith(name, "base-");
			return 0;
		}
	return -EINVAL;
}

int pve_storage_parse_volname(const char *volname, pve_volname *ret, pve_error **err)
{
	pve_volname v = { 0 };
	_cleanup_free_ char *dir = NULL;
	if (!volname || !pve_storage_volname_safe(volname))
		goto bad;
	const char *slash = strchr(volname, '/');
	if (!slash)
		goto bad;
	size_t dlen = (size_t)(slash - volname);
	const char *rest = slash + 1;
	if (isdigit((unsigned char)volname[0])) {
		/* 100/vm-100-disk-0.qcow2 or 100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2 */
		const char *s2 = strchr(rest, '/');
		if (!s2) {
			if (parse_image_dir(volname, dlen, rest, &v.vmid, &v.format, &v.is_base) <
			    0)
				goto bad;
			v.name = xstrdup(rest);
		} else {
			const char *s3 = strchr(s2 + 1, '/');
			if (!s3)
				goto bad;
			_cleanup_free_ char *base = xstrndup(rest, (size_t)(s2 - rest));
			_cleanup_free_ char *bfmt = NULL;
			bool bbase;
			if (parse_image_dir(volname, dlen, base, &v.basevmid, &bfmt, &bbase) < 0 ||
			    !bbase)
				goto bad;
			if (parse_image_dir(s2 + 1, (size_t)(s3 - s2 - 1), s3 + 1, &v.vmid,
					    &v.format, &v.is_base) < 0)
				goto bad;
			v.basename = TAKE_PTR(base);
			v.name = xstrdup(s3 + 1);
		}
		v.vtype = PVE_CONTENT_IMAGES;
		*ret = v;
		return 0;
	}
	if (strchr(rest, '/'))
		goto bad;
	dir = xstrndup(volname, dlen);
	if (streq(dir, "iso") && pve_storage_name_is_iso(rest))
		v.vtype = PVE_CONTENT_ISO;
	else if (streq(dir, "vztmpl") && pve_storage_name_is_vztmpl(rest))
		v.vtype = PVE_CONTENT_VZTMPL;
	else if (streq(dir, "backup") && pve_storage_name_is_backup(rest)) {
		v.vtype = PVE_CONTENT_BACKUP;
		v.vmid = pve_storage_backup_vmid(rest);
	} else if (streq(dir, "snippets"))
		v.vtype = PVE_CONTENT_SNIPPETS;
	else if (streq(dir, "import") && pve_storage_name_is_import(rest))
		v.vtype = PVE_CONTENT_IMPORT;
	else if (streq(dir, "rootdir") && parse_vmid(rest, strlen(rest), &v.vmid))
		v.vtype = PVE_CONTENT_ROOTDIR;
	else
		goto bad;
	v.name = xstrdup(rest);
	*ret = v;
	return 0;
bad:
	pve_volname_clear(&v);
	return pve_error_set(err, EINVAL, "unable to parse directory volume name '%.300s'",
			     volname ? volname : "");
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
	"sparse", "krbd",    "saferemove", "snapshot-as-volume-chain", NULL
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

static int check_prune_backups(const char *v, pve_error **err)
{
	static const char *const keys[] = { "keep-all",	   "keep-last",	  "keep-hourly",
					    "keep-daily",  "keep-weekly", "keep-monthly",
					    "keep-yearly", NULL };
	_cleanup_strv_free_ char **items = pve_strv_split(v, ",");
	for (char **p = items; *p; p++) {
		char *eq = strchr(*p, '=');
		long long n;
		if (!eq)
			goto bad;
		*eq = '\0';
		if (!in_list(keys, *p) || pve_parse_int(eq + 1, 0, 1000000, &n) < 0)
			goto bad;
	}
	return 0;
bad:
	return pve_error_set_param(err, EINVAL, "prune-backups", "invalid format - '%.200s'", v);
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
			if (check_prune_backups(v, err) < 0)
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
	pve_storage st = { .id = pve_section_id(s), .type = pl->type, .plugin = pl, .section = s };
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
	return pve_section_get(s->section, key);
}

bool pve_storage_option_bool(const pve_storage *s, const char *key, bool def)
{
	const char *v = pve_section_get(s->section, key);
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

int pve_storage_activate(const pve_storage *s, pve_error **err)
{
	NEED(activate);
	return s->plugin->activate(s, err);
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

int pve_storage_free_image(const pve_storage *s, const char *volname, pve_error **err)
{
	NEED(free_image);
	return s->plugin->free_image(s, volname, err);
}

int pve_storage_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			     pve_volume_info **ret, size_t *ret_n, pve_error **err)
{
	NEED(list_volumes);
	*ret = NULL;
	*ret_n = 0;
	return s->plugin->list_volumes(s, vmid, content & s->content, ret, ret_n, err);
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
