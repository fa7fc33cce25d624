/* storage: the iscsidirect plugin (Proxmox's ISCSIDirectPlugin): QEMU reaches the LUNs of `target` at
 * `portal` itself through libiscsi, so the node keeps no kernel session; pved asks the target for its
 * LUNs with libiscsi's iscsi-ls, names them "lun<N>" and hands QEMU "iscsi://portal/target/N". LUNs
 * can be neither allocated nor freed here. */
#include "storage/net-internal.h"

#define ISCSI_LS "/usr/bin/iscsi-ls"
#define ISCSI_READCAPACITY "/usr/bin/iscsi-readcapacity16"
/* Exact sizes cost a login per LUN: a listing asks for at most this many. */
#define EXACT_LUNS_MAX 64
#define LUN_MAX 16383 /* SAM's flat addressing */
#define LUNS_MAX 4096
/* The status list asks every storage: a portal that takes the connection and then says nothing must
 * not hold it up for long. */
#define STATUS_TIMEOUT_MS 5000

typedef struct lun {
	int n;
	uint64_t size;
} lun;

static int storage_args(const pve_storage *s, const char **ret_target, char **ret_host,
			int *ret_port, char **ret_portal, pve_error **err)
{
	const char *t = pve_storage_option(s, "target");
	if (!pve_net_iscsi_name_ok(t))
		return pve_error_set_param(err, EINVAL, "target",
					   "storage '%s': invalid target '%.100s'", s->id,
					   t ? t : "");
	*ret_target = t;
	return pve_net_iscsi_portal(pve_storage_option(s, "portal"), ret_host, ret_port, ret_portal,
				    err);
}

/* "lun<N>" -> N: digits only, no leading zero. */
static int parse_volname(const char *volname, int *ret, pve_error **err)
{
	long long n;
	const char *d = volname && startswith(volname, "lun") ? volname + 3 : NULL;
	if (!d || !*d || strspn(d, "0123456789") != strlen(d) || (d[0] == '0' && d[1]) ||
	    pve_parse_int(d, 0, LUN_MAX, &n) < 0)
		return pve_error_set(err, EINVAL, "unable to parse iscsi volume name '%.100s'",
				     volname ? volname : "");
	*ret = (int)n;
	return 0;
}

static int iscsidirect_parse_volname(const pve_storage *s, const char *volname, pve_volname *ret,
				     pve_error **err)
{
	(void)s;
	int n;
	if (parse_volname(volname, &n, err) < 0)
		return -EINVAL;
	pve_storage_lun_volname(volname, ret);
	return 0;
}

/* iscsi-ls prints sizes cut to an integer of a unit, kilo in lower case: "(Size:64M)", "(Size:512k)";
 * s is what follows "(Size:". */
static bool parse_size(const char *s, uint64_t *ret)
{
	size_t len = strcspn(s, ")"), digits = strspn(s, "0123456789");
	char tok[32];
	if (s[len] != ')' || digits == 0 || len >= sizeof(tok) ||
	    (digits != len && (digits + 1 != len || !strchr("kMGT", s[digits]))))
		return false;
	memcpy(tok, s, len);
	tok[len] = '\0';
	if (tok[len - 1] == 'k')
		tok[len - 1] = 'K';
	return pve_parse_size(tok, ret) == 0;
}

/* The exact size of LUN n (iscsi-ls's figure is the last block's address times the block size, cut to
 * a whole unit: 63M for a 64 MiB LUN). */
static int lun_size_exact(const char *portal, const char *target, int n, int timeout_ms,
			  uint64_t *ret)
{
	_cleanup_free_ char *url = xasprintf("iscsi://%s/%s/%d", portal, target, n);
	_cleanup_free_ char *out = NULL;
	const char *argv[] = { ISCSI_READCAPACITY, "-s", url, NULL };
	unsigned long long v;
	if (pve_storage_run_ex(argv, NULL, timeout_ms, &out, NULL, NULL) < 0)
		return -EIO;
	out[strcspn(out, "\n")] = '\0';
	if (pve_parse_uint(out, UINT64_MAX, &v) < 0)
		return -EIO;
	*ret = v;
	return 0;
}

static int cmp_lun(const void *a, const void *b)
{
	return ((const lun *)a)->n - ((const lun *)b)->n;
}

/* The disk LUNs of the storage's target, sorted: `iscsi-ls -s iscsi://portal` lists every target of
 * the portal ("Target:NAME Portal:ADDR"), each followed by its LUNs ("Lun:1    Type:DIRECT_ACCESS
 * (Size:64M)"); only the storage's target counts (Proxmox takes every target's, which mixes up two
 * targets' LUN numbers). */
static int list_luns(const pve_storage *s, int timeout_ms, bool exact, lun **ret, size_t *ret_n,
		     pve_error **err)
{
	const char *target;
	_cleanup_free_ char *host = NULL, *portal = NULL, *out = NULL;
	int port;
	if (storage_args(s, &target, &host, &port, &portal, err) < 0)
		return -EINVAL;
	if (pve_net_check_connect(s->id, host, port, PVE_NET_CONNECT_TIMEOUT_MS, err) < 0)
		return -EHOSTUNREACH;
	if (access(ISCSI_LS, X_OK) < 0)
		return pve_error_set(err, ENOENT, "storage '%s': no %s (install libiscsi-bin)",
				     s->id, ISCSI_LS);
	_cleanup_free_ char *url = xasprintf("iscsi://%s", portal);
	const char *argv[] = { ISCSI_LS, "-s", url, NULL };
	int status = 0;
	if (pve_storage_run_ex(argv, NULL, timeout_ms, &out, &status, err) < 0) {
		if (err && *err)
			pve_error_prefix(*err, "storage '%s'", s->id);
		return -EIO;
	}
	lun *v = NULL;
	size_t n = 0, cap = 0;
	bool ours = false, found = false;
	_cleanup_strv_free_ char **lines = pve_strv_split(out, "\n");
	for (char **l = lines; *l && n < LUNS_MAX; l++) {
		const char *line = *l + strspn(*l, " \t");
		if (startswith(line, "Target:")) {
			size_t tl = strcspn(line + 7, " \t");
			ours = tl == strlen(target) && strncmp(line + 7, target, tl) == 0;
			found |= ours;
			continue;
		}
		long long ln;
		const char *sz = strstr(line, "(Size:");
		if (!ours || !startswith(line, "Lun:") || !strstr(line, "DIRECT_ACCESS") || !sz)
			continue;
		_cleanup_free_ char *num = xstrndup(line + 4, strcspn(line + 4, " \t"));
		uint64_t size;
		if (pve_parse_int(num, 0, LUN_MAX, &ln) < 0 || !parse_size(sz + 6, &size))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = (lun){ .n = (int)ln, .size = size };
	}
	if (!found) {
		free(v);
		/* the tool's complaint (a failed login, a refused discovery): its last line */
		const char *why = "";
		for (char **l = lines; *l; l++)
			if (**l)
				why = *l;
		return pve_error_set(err, ENOENT,
				     "storage '%s': portal '%s' offers no target '%s'%s%.200s%s",
				     s->id, portal, target, status ? " (iscsi-ls: " : "",
				     status ? why : "", status ? ")" : "");
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_lun);
	for (size_t i = 0; exact && i < n && i < EXACT_LUNS_MAX; i++)
		if (access(ISCSI_READCAPACITY, X_OK) == 0)
			lun_size_exact(portal, target, v[i].n, timeout_ms, &v[i].size);
	*ret = v;
	*ret_n = n;
	return 0;
}

static int iscsidirect_activate(const pve_storage *s, pve_error **err)
{
	/* No session to start; the portal must answer, so a wrong address shows now. */
	const char *target;
	_cleanup_free_ char *host = NULL;
	int port;
	if (storage_args(s, &target, &host, &port, NULL, err) < 0)
		return -EINVAL;
	return pve_net_check_connect(s->id, host, port, PVE_NET_CONNECT_TIMEOUT_MS, err);
}

static int iscsidirect_deactivate(const pve_storage *s, pve_error **err)
{
	(void)s;
	(void)err;
	return 0;
}

/* The LUNs' sizes as iscsi-ls puts them (a little short), all in use (Proxmox reports 0/0/0, active:
 * pved says how big the target is). */
static int iscsidirect_status(const pve_storage *s, pve_storage_status *ret, pve_error **err)
{
	lun *v = NULL;
	size_t n = 0;
	*ret = (pve_storage_status){ 0 };
	int r = list_luns(s, STATUS_TIMEOUT_MS, false, &v, &n, NULL);
	if (r == -EINVAL)
		return list_luns(s, STATUS_TIMEOUT_MS, false, &v, &n, err);
	if (r < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		ret->total += v[i].size;
	ret->used = ret->total;
	ret->active = true;
	free(v);
	return 0;
}

static int iscsidirect_list_volumes(const pve_storage *s, long long vmid, unsigned content,
				    pve_volume_info **ret, size_t *ret_n, pve_error **err)
{
	*ret = NULL;
	*ret_n = 0;
	/* LUNs belong to no guest: a listing for one guest is empty, as in Proxmox. */
	if (!(content & PVE_CONTENT_IMAGES) || vmid)
		return 0;
	lun *v = NULL;
	size_t n = 0;
	int r = list_luns(s, PVE_NET_CMD_TIMEOUT_MS, true, &v, &n, err);
	if (r < 0)
		return r;
	pve_volume_info *out = n ? xcalloc(n, sizeof(*out)) : NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = (pve_volume_info){
			.volid = xasprintf("%s:lun%d", s->id, v[i].n),
			.format = xstrdup("raw"),
			.size = v[i].size,
			.used = v[i].size,
			.content = PVE_CONTENT_IMAGES,
		};
	free(v);
	*ret = out;
	*ret_n = n;
	return 0;
}

static int iscsidirect_path(const pve_storage *s, const char *volname, const char *snap,
			    char **ret_path, pve_error **err)
{
	const char *target;
	_cleanup_free_ char *portal = NULL;
	int n;
	if (snap)
		return pve_error_set(err, EINVAL,
				     "volume snapshot is not possible on iscsi device");
	if (parse_volname(volname, &n, err) < 0 ||
	    storage_args(s, &target, NULL, NULL, &portal, err) < 0)
		return -EINVAL;
	*ret_path = xasprintf("iscsi://%s/%s/%d", portal, target, n);
	return 0;
}

static int iscsidirect_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
				   uint64_t *ret_used, char **ret_format, pve_error **err)
{
	int want;
	if (parse_volname(volname, &want, err) < 0)
		return -EINVAL;
	lun *v = NULL;
	size_t n = 0;
	int r = list_luns(s, PVE_NET_CMD_TIMEOUT_MS, false, &v, &n, err);
	if (r < 0)
		return r;
	uint64_t size = 0;
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		if (v[i].n == want) {
			found = true;
			size = v[i].size;
		}
	free(v);
	if (!found)
		return pve_error_set(err, ENOENT, "volume '%s:%s' does not exist", s->id, volname);
	const char *target;
	_cleanup_free_ char *portal = NULL;
	if (storage_args(s, &target, NULL, NULL, &portal, NULL) == 0 &&
	    access(ISCSI_READCAPACITY, X_OK) == 0)
		lun_size_exact(portal, target, want, PVE_NET_CMD_TIMEOUT_MS, &size);
	if (ret_size)
		*ret_size = size;
	if (ret_used)
		*ret_used = size;
	if (ret_format)
		*ret_format = xstrdup("raw");
	return 0;
}

/* As Proxmox: refused with its words. */
static int iscsidirect_alloc_image(const pve_storage *s, long long vmid, const char *fmt,
				   const char *name, uint64_t size, char **ret_volname,
				   pve_error **err)
{
	(void)s, (void)vmid, (void)fmt, (void)name, (void)size, (void)ret_volname;
	return pve_error_set(err, ENOSYS, "can't allocate space in iscsi storage");
}

static int iscsidirect_free_image(const pve_storage *s, const char *volname, pve_error **err)
{
	(void)s, (void)volname;
	return pve_error_set(err, ENOSYS, "can't free space in iscsi storage");
}

static bool iscsidirect_has_feature(const pve_storage *s, pve_volume_feature feature,
				    const char *volname, const char *snap)
{
	(void)s;
	(void)volname;
	/* As Proxmox: a LUN can be copied from, nothing else. */
	return feature == PVE_FEATURE_COPY && !snap;
}

static const char *const iscsidirect_formats[] = { "raw", NULL };
static const char *const iscsidirect_required[] = { "portal", "target", NULL };
static const char *const iscsidirect_options[] = { "portal", "target", NULL };

const pve_storage_plugin pve_storage_plugin_iscsidirect = {
	.type = "iscsidirect",
	.content_allowed = PVE_CONTENT_IMAGES,
	.content_default = PVE_CONTENT_IMAGES,
	.formats = iscsidirect_formats,
	.default_format = "raw",
	.shared = true,
	.required = iscsidirect_required,
	.options = iscsidirect_options,
	.activate = iscsidirect_activate,
	.deactivate = iscsidirect_deactivate,
	.status = iscsidirect_status,
	.alloc_image = iscsidirect_alloc_image,
	.free_image = iscsidirect_free_image,
	.parse_volname = iscsidirect_parse_volname,
	.list_volumes = iscsidirect_list_volumes,
	.path = iscsidirect_path,
	.volume_size = iscsidirect_volume_size,
	.volume_has_feature = iscsidirect_has_feature,
};
