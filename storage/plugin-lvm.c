/* storage: the lvm and lvmthin plugins: disks as logical volumes named vm-VMID-disk-N in the
 * storage's volume group, thick (lvm: no snapshots, no templates, as Proxmox without volume chains)
 * or thin in a thin pool (lvmthin: snapshots snap_NAME_SNAP, templates base-VMID-disk-N and their
 * linked clones base-VMID-disk-N/vm-VMID-disk-M), all through the lvm2 tools and their JSON
 * reports. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "storage/lvm-internal.h"
#include "storage/storage-internal.h"

/* LVM refuses longer names. */
#define LV_NAME_MAX 127
#define LVM_MAX_DISKS 4096

/* ---- names ----------------------------------------------------------------------------------- */

/* A VG, pool or LV name lvm2 takes, and that can't be read as an option. */
static bool lvm_name_ok(const char *n)
{
	size_t l = n ? strlen(n) : 0;
	if (l == 0 || l > LV_NAME_MAX || n[0] == '-' || streq(n, ".") || streq(n, ".."))
		return false;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("+_.-", *p))
			return false;
	return true;
}

static int storage_vg(const pve_storage *s, const char **ret_vg, const char **ret_pool,
		      pve_error **err)
{
	const char *vg = pve_storage_option(s, "vgname");
	const char *pool = pve_storage_option(s, "thinpool");
	if (!lvm_name_ok(vg))
		return pve_error_set(err, EINVAL, "storage '%s': invalid vgname '%.64s'", s->id,
				     vg ? vg : "");
	if (ret_pool && !lvm_name_ok(pool))
		return pve_error_set(err, EINVAL, "storage '%s': invalid thinpool '%.64s'", s->id,
				     pool ? pool : "");
	*ret_vg = vg;
	if (ret_pool)
		*ret_pool = pool;
	return 0;
}

static bool is_thin(const pve_storage *s)
{
	return streq(s->type, "lvmthin");
}

/* A volume name: "vm-100-disk-0", "base-100-disk-0", or for a linked clone (thin)
 * "base-100-disk-0/vm-101- disk-0". name is the LV. */
typedef struct lvm_vol {
	char *name;
	char *basename; /* or NULL */
	long long vmid;
	bool is_base;
} lvm_vol;

static void lvm_vol_clear(lvm_vol *v)
{
	free(v->name);
	free(v->basename);
	*v = (lvm_vol){ 0 };
}

static int lvm_parse(const pve_storage *s, const char *volname, lvm_vol *ret, pve_error **err)
{
	lvm_vol v = { 0 };
	const char *slash = volname ? strchr(volname, '/') : NULL;
	if (!volname || !pve_storage_volname_safe(volname))
		goto bad;
	if (slash) {
		v.basename = xstrndup(volname, (size_t)(slash - volname));
		bool base;
		if (!is_thin(s) || strchr(slash + 1, '/') ||
		    pve_storage_parse_image_name(v.basename, false, NULL, &base, NULL) < 0 ||
		    !base || !lvm_name_ok(v.basename))
			goto bad;
	}
	v.name = xstrdup(slash ? slash + 1 : volname);
	if (startswith(v.name, "subvol-") || !lvm_name_ok(v.name) ||
	    pve_storage_parse_image_name(v.name, false, &v.vmid, &v.is_base, NULL) < 0)
		goto bad;
	*ret = v;
	return 0;
bad:
	lvm_vol_clear(&v);
	return pve_error_set(err, EINVAL, "unable to parse lvm volume name '%.200s'",
			     volname ? volname : "");
}

static int lvm_parse_volname(const pve_storage *s, const char *volname, pve_volname *ret,
			     pve_error **err)
{
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	if (lvm_parse(s, volname, &v, err) < 0)
		return -EINVAL;
	*ret = (pve_volname){
		.vtype = PVE_CONTENT_IMAGES,
		.name = TAKE_PTR(v.name),
		.vmid = v.vmid,
		.is_base = v.is_base,
		.format = xstrdup("raw"),
	};
	if (v.basename) {
		pve_storage_parse_image_name(v.basename, false, &ret->basevmid, NULL, NULL);
		ret->basename = TAKE_PTR(v.basename);
	}
	return 0;
}

static char *snap_lv(const char *name, const char *snap)
{
	return xasprintf("snap_%s_%s", name, snap);
}

/* ---- lvm2 reports ---------------------------------------------------------------------------- */

void lv_list_clear(lv_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].attr);
		free(l->v[i].pool);
		free(l->v[i].origin);
		free(l->v[i].tags);
	}
	free(l->v);
	*l = (lv_list){ 0 };
}

/* report[0][key] of an lvm2 JSON report, an array. */
static const cJSON *report_rows(const cJSON *j, const char *key)
{
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(j, "report");
	const cJSON *first = cJSON_IsArray(rep) ? cJSON_GetArrayItem(rep, 0) : NULL;
	const cJSON *rows = first ? cJSON_GetObjectItemCaseSensitive(first, key) : NULL;
	return cJSON_IsArray(rows) ? rows : NULL;
}

static uint64_t row_u64(const cJSON *row, const char *key)
{
	const char *v = pve_json_str(row, key);
	unsigned long long n;
	return v && pve_parse_uint(v, UINT64_MAX, &n) == 0 ? n : 0;
}

/* A percentage as lvm2 prints it ("12.50", "" for none), held to 0..100: a NaN or an out-of-range
 * double must never reach a conversion to an integer, which is undefined behaviour. */
static double percent_value(const char *s)
{
	double v = s && *s ? strtod(s, NULL) : 0;
	if (!(v > 0)) /* NaN too */
		return 0;
	return v > 100 ? 100 : v;
}

/* (double)size may round above size (from 2^53 on): the result is held to size. */
static uint64_t part_of(uint64_t size, double percent)
{
	double used = (double)size * percent / 100.0;
	return used >= (double)size ? size : (uint64_t)used;
}

uint64_t pve_lvm_percent_of(uint64_t size, const char *percent)
{
	return part_of(size, percent_value(percent));
}

static int lvs(const char *vg, lv_list *ret, pve_error **err)
{
	const char *argv[] = {
		"lvs",	"--reportformat",
		"json", "--units",
		"b",	"--nosuffix",
		"-o",	"lv_name,lv_size,lv_attr,pool_lv,origin,data_percent,lv_tags",
		vg,	NULL
	};
	_cleanup_free_ char *out = NULL;
	if (pve_storage_run(argv, &out, err) < 0)
		return -EIO;
	return pve_lvm_parse_lvs(out, strlen(out), vg, ret, err);
}

int pve_lvm_parse_lvs(const char *out, size_t len, const char *vg, lv_list *ret, pve_error **err)
{
	_cleanup_json_ cJSON *j = pve_json_parse(out, len, LVM_REPORT_MAX, 16, err);
	const cJSON *rows = j ? report_rows(j, "lv") : NULL;
	if (!rows)
		return pve_error_set(err, EIO, "lvs: unexpected report for volume group '%s'", vg);
	lv_list l = { .v = xcalloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof(lv_info)) };
	const cJSON *row;
	cJSON_ArrayForEach (row, rows) {
		const char *name = pve_json_str(row, "lv_name");
		if (!name)
			continue;
		lv_info *i = &l.v[l.n++];
		i->name = xstrdup(name);
		const char *a = pve_json_str(row, "lv_attr");
		i->attr = xstrdup(a ? a : "");
		a = pve_json_str(row, "pool_lv");
		i->pool = xstrdup(a ? a : "");
		a = pve_json_str(row, "origin");
		i->origin = xstrdup(a ? a : "");
		a = pve_json_str(row, "lv_tags");
		i->tags = xstrdup(a ? a : "");
		i->size = row_u64(row, "lv_size");
		i->data_percent = percent_value(pve_json_str(row, "data_percent"));
	}
	*ret = l;
	return 0;
}

static const lv_info *lv_find(const lv_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (streq(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

/* Whether an LV is one of this storage's: a thin volume of its pool, or a plain (thick) volume. */
static bool lv_ours(const pve_storage *s, const lv_info *i, const char *pool)
{
	if (is_thin(s))
		return i->attr[0] == 'V' && streq(i->pool, pool);
	return i->attr[0] == '-' && !*i->pool;
}

/* The volume's LV, which must exist in the storage. */
static int lv_get(const pve_storage *s, const lv_list *l, const lvm_vol *v, const char *pool,
		  const lv_info **ret, pve_error **err)
{
	const lv_info *i = lv_find(l, v->name);
	if (!i || !lv_ours(s, i, pool))
		return pve_error_set(err, ENOENT, "volume '%s:%s' does not exist", s->id, v->name);
	*ret = i;
	return 0;
}

static int lv_count_snapshots(const lv_list *l, const char *name)
{
	_cleanup_free_ char *prefix = xasprintf("snap_%s_", name);
	int n = 0;
	for (size_t i = 0; i < l->n; i++)
		if (startswith(l->v[i].name, prefix))
			n++;
	return n;
}

static char *lv_free_name(const lv_list *l, long long vmid)
{
	bool used[LVM_MAX_DISKS] = { false };
	_cleanup_free_ char *p1 = xasprintf("vm-%lld-disk-", vmid);
	_cleanup_free_ char *p2 = xasprintf("base-%lld-disk-", vmid);
	for (size_t i = 0; i < l->n; i++) {
		const char *n = l->v[i].name;
		const char *rest = startswith(n, p1) ? n + strlen(p1) :
				   startswith(n, p2) ? n + strlen(p2) :
						       NULL;
		char *end;
		unsigned long k = rest ? strtoul(rest, &end, 10) : ULONG_MAX;
		if (rest && *end == '\0' && k < ELEMENTSOF(used))
			used[k] = true;
	}
	for (size_t k = 0; k < ELEMENTSOF(used); k++)
		if (!used[k])
			return xasprintf("vm-%lld-disk-%zu", vmid, k);
	return NULL;
}

static char *size_kib(uint64_t size)
{
	return xasprintf("%lluk", (unsigned long long)((size + 1023) / 1024));
}

static char *owner_tag(long long vmid)
{
	return xasprintf("pve-vm-%lld", vmid);
}

/* Whether an LV carries an owner's tag pve-vm-VMID, which tagged_only asks for. */
static bool lv_tagged(const lv_info *i)
{
	_cleanup_strv_free_ char **tags = pve_strv_split(i->tags, ",");
	for (char **t = tags; t && *t; t++) {
		if (!startswith(*t, "pve-vm-"))
			continue;
		const char *id = *t + strlen("pve-vm-");
		if (*id && strspn(id, "0123456789") == strlen(id))
			return true;
	}
	return false;
}

/* ---- storage --------------------------------------------------------------------------------- */

static int lvm_activate(const pve_storage *s, pve_error **err)
{
	const char *vg, *pool = NULL;
	if (storage_vg(s, &vg, is_thin(s) ? &pool : NULL, err) < 0)
		return -EINVAL;
	const char *vgs[] = { "vgs", "--reportformat", "json", "-o", "vg_name", vg, NULL };
	pve_error *e = NULL;
	if (pve_storage_run(vgs, NULL, &e) < 0) {
		int r = pve_error_set(
			err, ENOENT,
			"unable to activate storage '%s' - volume group '%s' not found (%s)", s->id,
			vg, e->message);
		pve_error_free(e);
		return r;
	}
	if (!is_thin(s)) {
		const char *argv[] = { "vgchange", "-aly", vg, NULL };
		return pve_storage_run(argv, NULL, err);
	}
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	if (lvs(vg, &l, err) < 0)
		return -EIO;
	const lv_info *p = lv_find(&l, pool);
	if (!p || p->attr[0] != 't')
		return pve_error_set(
			err, ENOENT,
			"unable to activate storage '%s' - no thin pool '%s' in volume group '%s'",
			s->id, pool, vg);
	_cleanup_free_ char *lv = xasprintf("%s/%s", vg, pool);
	const char *argv[] = { "lvchange", "-ay", lv, NULL };
	return pve_storage_run(argv, NULL, err);
}

static int lvm_deactivate(const pve_storage *s, pve_error **err)
{
	(void)s;
	(void)err;
	return 0;
}

static int lvm_status(const pve_storage *s, pve_storage_status *ret, pve_error **err)
{
	const char *vg, *pool = NULL;
	if (storage_vg(s, &vg, is_thin(s) ? &pool : NULL, err) < 0)
		return -EINVAL;
	if (is_thin(s)) {
		_cleanup_(lv_list_clear) lv_list l = { 0 };
		const lv_info *p;
		if (lvs(vg, &l, NULL) < 0 || !(p = lv_find(&l, pool)) || p->attr[0] != 't')
			return 0; /* inactive */
		ret->total = p->size;
		ret->used = part_of(p->size, p->data_percent);
		ret->avail = ret->total - ret->used;
		ret->active = true;
		return 0;
	}
	const char *argv[] = { "vgs", "--reportformat",	 "json", "--units", "b", "--nosuffix",
			       "-o",  "vg_size,vg_free", vg,	 NULL };
	_cleanup_free_ char *out = NULL;
	if (pve_storage_run(argv, &out, NULL) < 0 ||
	    !pve_lvm_parse_vg_space(out, strlen(out), &ret->total, &ret->avail))
		return 0;
	ret->used = ret->total > ret->avail ? ret->total - ret->avail : 0;
	ret->active = true;
	return 0;
}

bool pve_lvm_parse_vg_space(const char *out, size_t len, uint64_t *ret_size, uint64_t *ret_free)
{
	_cleanup_json_ cJSON *j = pve_json_parse(out, len, LVM_REPORT_MAX, 16, NULL);
	const cJSON *rows = j ? report_rows(j, "vg") : NULL;
	const cJSON *row = rows ? cJSON_GetArrayItem(rows, 0) : NULL;
	if (!row)
		return false;
	*ret_size = row_u64(row, "vg_size");
	*ret_free = row_u64(row, "vg_free");
	return true;
}

/* ---- volumes --------------------------------------------------------------------------------- */

static int lvm_alloc_image(const pve_storage *s, long long vmid, const char *fmt, const char *name,
			   uint64_t size, char **ret_volname, pve_error **err)
{
	const char *vg, *pool = NULL;
	if (storage_vg(s, &vg, is_thin(s) ? &pool : NULL, err) < 0)
		return -EINVAL;
	if (!streq(fmt, "raw"))
		return pve_error_set_param(
			err, EINVAL, "format",
			"storage '%s': format '%s' on LVM needs snapshot-as-volume-chain, which pved does not support",
			s->id, fmt);
	if (size == 0)
		return pve_error_set_param(err, EINVAL, "size", "size must be greater than 0");
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	if (lvs(vg, &l, err) < 0)
		return -EIO;
	_cleanup_free_ char *lv = NULL;
	if (name) {
		lv = endswith(name, ".raw") ? xstrndup(name, strlen(name) - 4) : xstrdup(name);
		if (strchr(lv, '.') || !startswith(lv, "vm-") || !lvm_name_ok(lv))
			return pve_error_set_param(err, EINVAL, "filename",
						   "illegal name '%s' - should be 'vm-%lld-*'",
						   name, vmid);
	}
	_cleanup_free_ char *sz = size_kib(size);
	_cleanup_free_ char *tp = is_thin(s) ? xasprintf("%s/%s", vg, pool) : NULL;
	/* the owner's tag, as Proxmox's alloc: a tagged_only storage lists only tagged volumes */
	_cleanup_free_ char *tag = owner_tag(vmid);
	/* lvcreate refuses a name that exists: a name another allocation took between our lvs and
	 * our lvcreate makes us look again and take the next */
	for (int tries = 0;; tries++) {
		if (name && lv_find(&l, lv))
			return pve_error_set(err, EEXIST, "volume '%s:%s' already exists", s->id,
					     lv);
		if (!name) {
			free(lv);
			lv = lv_free_name(&l, vmid);
			if (!lv)
				return pve_error_set(
					err, ENOSPC,
					"unable to allocate an image name for VM %lld in storage '%s'",
					vmid, s->id);
		}
		const char *thin[] = { "lvcreate", "-aly", "-Wy",	 "--yes", "-V", sz,
				       "--name",   lv,	   "--thinpool", tp,	  NULL };
		const char *thick[] = { "lvcreate", "-aly", "-Wy",	"--yes", "--size", sz,
					"--name",   lv,	    "--addtag", tag,	 vg,	   NULL };
		pve_error *e = NULL;
		if (pve_storage_run(is_thin(s) ? thin : thick, NULL, &e) == 0)
			break;
		lv_list_clear(&l);
		if (tries < 64 && lvs(vg, &l, NULL) == 0 && lv_find(&l, lv)) {
			pve_error_free(e);
			continue;
		}
		if (err)
			*err = e;
		else
			pve_error_free(e);
		return -EIO;
	}
	*ret_volname = TAKE_PTR(lv);
	return 0;
}

/* The LV of a volume or of its thin snapshot, as VG/LV. */
static int volume_lv(const pve_storage *s, const char *volname, const char *snap, char **ret,
		     pve_error **err)
{
	const char *vg;
	if (storage_vg(s, &vg, NULL, err) < 0)
		return -EINVAL;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	if (lvm_parse(s, volname, &v, err) < 0)
		return -EINVAL;
	if (snap && !is_thin(s))
		return pve_error_set(err, ENOSYS, "storage '%s': lvm volumes have no snapshots",
				     s->id);
	_cleanup_free_ char *sl = snap ? snap_lv(v.name, snap) : NULL;
	*ret = xasprintf("%s/%s", vg, sl ? sl : v.name);
	return 0;
}

/* Thin snapshots and templates carry the activation-skip flag: -K activates them all the same. */
static int lvm_activate_volume(const pve_storage *s, const char *volname, const char *snap,
			       pve_error **err)
{
	_cleanup_free_ char *lv = NULL;
	if (volume_lv(s, volname, snap, &lv, err) < 0)
		return -EINVAL;
	const char *thin[] = { "lvchange", "-ay", "-K", lv, NULL };
	const char *thick[] = { "lvchange", "-aly", lv, NULL };
	return pve_storage_run(is_thin(s) ? thin : thick, NULL, err);
}

static int lvm_deactivate_volume(const pve_storage *s, const char *volname, const char *snap,
				 pve_error **err)
{
	_cleanup_free_ char *lv = NULL;
	if (volume_lv(s, volname, snap, &lv, err) < 0)
		return -EINVAL;
	const char *argv[] = { "lvchange", "-an", lv, NULL };
	return pve_storage_run(argv, NULL, err);
}

/* ---- saferemove -------------------------------------------------------------------------------- */

#define STEPSIZE_DEFAULT_MIB 32
/* Proxmox's cstream default when the device can't zero by itself: -t -10485760 */
#define THROUGHPUT_DEFAULT (10ULL << 20)
#define WRITE_CHUNK (1 << 20)

/* saferemove-stepsize: MiB, one of Proxmox's enumeration. */
static int parse_stepsize(const char *v, uint64_t *ret, pve_error **err)
{
	unsigned long long n;
	if (!v) {
		*ret = STEPSIZE_DEFAULT_MIB;
		return 0;
	}
	if (pve_parse_uint(v, 32, &n) < 0 || n == 0 || (n & (n - 1)))
		return pve_error_set_param(
			err, EINVAL, "saferemove-stepsize",
			"value '%.32s' does not have a value in the enumeration '1, 2, 4, 8, 16, 32'",
			v);
	*ret = n;
	return 0;
}

/* saferemove_throughput: what cstream -t takes, bytes per second with an optional k, m or g
 * (powers of 1024); negative only means cstream's per-call rather than average limit, a limit
 * all the same. 0: none given. */
static int parse_throughput(const char *v, uint64_t *ret, pve_error **err)
{
	if (!v) {
		*ret = 0;
		return 0;
	}
	const char *p = v + (*v == '-');
	size_t digits = strspn(p, "0123456789");
	unsigned long long n;
	_cleanup_free_ char *num = xstrndup(p, digits);
	const char *unit = p + digits;
	unsigned shift = !*unit ? 0 : strchr("kK", *unit) ? 10 : strchr("mM", *unit) ? 20 : 30;
	if (!digits || pve_parse_uint(num, UINT64_MAX >> 30, &n) < 0 ||
	    (*unit && (unit[1] || !strchr("kKmMgG", *unit))))
		return pve_error_set_param(
			err, EINVAL, "saferemove_throughput",
			"invalid wipe throughput '%.32s' - bytes per second, optionally with k, m or g",
			v);
	*ret = (uint64_t)n << shift;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Holds the zeroing to rate bytes per second: after done bytes, not before start + done/rate. It
 * runs in the task's worker, never on the daemon's loop. */
static void pace(uint64_t start, uint64_t done, uint64_t rate)
{
	if (!rate)
		return;
	long double due = (long double)done * 1e9L / (long double)rate;
	uint64_t until = start + (due > 1e18L ? (uint64_t)1e18 : (uint64_t)due);
	struct timespec t = { .tv_sec = (time_t)(until / 1000000000ULL),
			      .tv_nsec = (long)(until % 1000000000ULL) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* What the device zeroes by itself in one request (queue/write_zeroes_max_bytes), 0 for nothing. */
static uint64_t write_zeroes_max(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode))
		return 0;
	_cleanup_free_ char *f = xasprintf("/sys/dev/block/%u:%u/queue/write_zeroes_max_bytes",
					   major(st.st_rdev), minor(st.st_rdev));
	_cleanup_close_ int sfd = open(f, O_RDONLY | O_CLOEXEC);
	char text[32] = "";
	ssize_t len = sfd < 0 ? -1 : pve_read_full(sfd, text, sizeof(text) - 1);
	unsigned long long n;
	if (len <= 0)
		return 0;
	text[strcspn(text, "\n")] = '\0';
	return pve_parse_uint(text, UINT64_MAX, &n) == 0 ? n : 0;
}

/* saferemove: the data must not reach the next volume that gets these extents. As Proxmox: the
 * device zeroes in steps of saferemove-stepsize MiB (capped by what it takes in one request), or,
 * when it can't, zeros are written at saferemove_throughput (10 MiB/s by default). A throughput
 * given also paces the device's steps. */
static int zero_lv(const pve_storage *s, const char *vg, const char *name, pve_error **err)
{
	uint64_t step_mib, rate;
	if (parse_stepsize(pve_storage_option(s, "saferemove-stepsize"), &step_mib, err) < 0 ||
	    parse_throughput(pve_storage_option(s, "saferemove_throughput"), &rate, err) < 0)
		return -EINVAL;
	_cleanup_free_ char *dev = xasprintf("/dev/%s/%s", vg, name);
	_cleanup_free_ char *lv = xasprintf("%s/%s", vg, name);
	const char *act[] = { "lvchange", "-ay", lv, NULL };
	if (pve_storage_run(act, NULL, err) < 0)
		return -EIO;
	_cleanup_close_ int fd = open(dev, O_WRONLY | O_CLOEXEC);
	uint64_t size;
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0)
		return pve_error_set(err, errno, "saferemove: unable to open '%s': %m", dev);
	uint64_t step = step_mib << 20, max = write_zeroes_max(fd), start = now_ns(), off = 0;
	if (max) {
		if (step > max)
			step = max & ~(uint64_t)511;
		for (; step && off < size; off += step) {
			uint64_t range[2] = { off, size - off < step ? size - off : step };
			if (ioctl(fd, BLKZEROOUT, range) < 0)
				break; /* written below */
			pace(start, off + range[1], rate);
		}
		if (off >= size)
			return 0;
	}
	if (!rate)
		rate = THROUGHPUT_DEFAULT;
	static const char zeros[WRITE_CHUNK];
	while (off < size) {
		size_t n = size - off < sizeof(zeros) ? (size_t)(size - off) : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, (off_t)off);
		if (w <= 0)
			return pve_error_set(err, w < 0 ? errno : EIO,
					     "saferemove: unable to zero '%s'", dev);
		off += (uint64_t)w;
		pace(start, off, rate);
	}
	if (fdatasync(fd) < 0)
		return pve_error_set(err, errno, "saferemove: unable to sync '%s': %m", dev);
	return 0;
}

static int lvm_check_option(const char *key, const char *value, pve_error **err)
{
	uint64_t n;
	if (streq(key, "saferemove-stepsize"))
		return parse_stepsize(value, &n, err);
	if (streq(key, "saferemove_throughput"))
		return parse_throughput(value, &n, err);
	if (streq(key, "base") && pve_storage_volid_split(value, NULL, NULL, NULL) < 0)
		return pve_error_set_param(err, EINVAL, key, "unable to parse volume ID '%.300s'",
					   value);
	return 0;
}

/* The volume group a physical volume belongs to: *ret NULL when dev is no PV, "" when it is one of
 * no group. */
static int pv_vg(const char *dev, char **ret, pve_error **err)
{
	const char *argv[] = { "pvs", "--reportformat", "json", "-o", "vg_name", dev, NULL };
	_cleanup_free_ char *out = NULL;
	int status;
	if (pve_storage_run_ex(argv, NULL, 0, &out, &status, err) < 0)
		return -EIO;
	_cleanup_json_ cJSON *j =
		status == 0 ? pve_json_parse(out, strlen(out), LVM_REPORT_MAX, 16, NULL) : NULL;
	const cJSON *rows = j ? report_rows(j, "pv") : NULL;
	const char *vg = rows ? pve_json_str(cJSON_GetArrayItem(rows, 0), "vg_name") : NULL;
	*ret = vg ? xstrdup(vg) : NULL;
	return 0;
}

/* As Proxmox's lvm_create_volume_group: a device already in vg is fine, in another group refused;
 * else its first sector is cleared (a partition table makes pvcreate refuse) and vg made on it. */
static int vg_create(const char *dev, const char *vg, pve_error **err)
{
	_cleanup_free_ char *has = NULL;
	if (pv_vg(dev, &has, err) < 0)
		return -EIO;
	if (has && streq(has, vg))
		return 0;
	if (has && *has)
		return pve_error_set(err, EBUSY, "device '%s' is already used by volume group '%s'",
				     dev, has);
	static const char zero[512];
	_cleanup_close_ int fd = open(dev, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, zero, sizeof(zero));
	if (n != (ssize_t)sizeof(zero) || fsync(fd) < 0) {
		int e = n < 0 || n == (ssize_t)sizeof(zero) ? errno : EIO;
		return pve_error_set(err, e, "unable to clear the first sector of '%s': %s", dev,
				     strerror(e));
	}
	const char *pv[] = { "pvcreate", "--metadatasize", "250k", dev, NULL };
	const char *vgc[] = { "vgcreate", vg, dev, NULL };
	if (pve_storage_run(pv, NULL, err) < 0 || pve_storage_run(vgc, NULL, err) < 0)
		return -EIO;
	return 0;
}

/* An lvm storage on a base volume (an iSCSI LUN): the base storage is activated (logged in) and the
 * volume group made on the LUN, unless it is there already. */
static int lvm_on_add(const pve_storage *s, pve_error **err)
{
	const char *vg;
	pve_storage b;
	_cleanup_free_ char *volname = NULL, *dev = NULL;
	if (storage_vg(s, &vg, NULL, err) < 0 || pve_storage_base(s, &b, &volname, err) < 0)
		return -EINVAL;
	if (!volname)
		return 0;
	if (pve_storage_path(&b, volname, NULL, &dev, err) < 0)
		return -EINVAL;
	if (pve_storage_activate_base(s, err) < 0)
		return -EIO;
	return vg_create(dev, vg, err);
}

static int lvm_free_image(const pve_storage *s, const char *volname, pve_error **err)
{
	const char *vg, *pool = NULL;
	if (storage_vg(s, &vg, is_thin(s) ? &pool : NULL, err) < 0)
		return -EINVAL;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	if (lvm_parse(s, volname, &v, err) < 0)
		return -EINVAL;
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	const lv_info *i;
	if (lvs(vg, &l, err) < 0)
		return -EIO;
	if (lv_get(s, &l, &v, pool, &i, err) < 0)
		return -ENOENT;
	if (v.is_base)
		for (size_t k = 0; k < l.n; k++)
			if (streq(l.v[k].origin, v.name) && !startswith(l.v[k].name, "snap_"))
				return pve_error_set(
					err, EBUSY,
					"base volume '%s' is still in use by linked clone '%s'",
					volname, l.v[k].name);
	if (!is_thin(s) && pve_storage_option_bool(s, "saferemove", false) &&
	    zero_lv(s, vg, v.name, err) < 0)
		return err && *err && (*err)->code == EINVAL ? -EINVAL : -EIO;
	/* the volume and its snapshots, in one call */
	_cleanup_free_ char *prefix = xasprintf("snap_%s_", v.name);
	size_t n = 0;
	const char **argv = xcalloc(l.n + 4, sizeof(*argv));
	char **names = xcalloc(l.n + 1, sizeof(*names));
	argv[n++] = "lvremove";
	argv[n++] = "-f";
	for (size_t k = 0; k < l.n; k++)
		if (startswith(l.v[k].name, prefix) || streq(l.v[k].name, v.name)) {
			names[k] = xasprintf("%s/%s", vg, l.v[k].name);
			argv[n++] = names[k];
		}
	argv[n] = NULL;
	int r = pve_storage_run(argv, NULL, err);
	for (size_t k = 0; k < l.n; k++)
		free(names[k]);
	free(names);
	free(argv);
	return r < 0 ? -EIO : 0;
}

static int lvm_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			    pve_volume_info **ret, size_t *ret_n, pve_error **err)
{
	const char *vg, *pool = NULL;
	if (storage_vg(s, &vg, is_thin(s) ? &pool : NULL, err) < 0)
		return -EINVAL;
	if (!(content & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)))
		return 0;
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	if (lvs(vg, &l, err) < 0)
		return -EIO;
	bool tagged_only = !is_thin(s) && pve_storage_option_bool(s, "tagged_only", false);
	pve_volume_info *v = xcalloc(l.n + 1, sizeof(*v));
	size_t n = 0;
	for (size_t k = 0; k < l.n; k++) {
		const lv_info *i = &l.v[k];
		long long owner;
		bool base;
		if (!lv_ours(s, i, pool) || startswith(i->name, "subvol-") ||
		    (tagged_only && !lv_tagged(i)) ||
		    pve_storage_parse_image_name(i->name, false, &owner, &base, NULL) < 0 ||
		    (vmid && owner != vmid))
			continue;
		pve_volume_info *o = &v[n++];
		bool clone = *i->origin && startswith(i->origin, "base-");
		o->volid = clone ? xasprintf("%s:%s/%s", s->id, i->origin, i->name) :
				   xasprintf("%s:%s", s->id, i->name);
		o->format = xstrdup("raw");
		o->size = i->size;
		o->used = is_thin(s) ? part_of(i->size, i->data_percent) : i->size;
		o->vmid = owner;
		o->content = PVE_CONTENT_IMAGES;
		o->parent = clone ? xstrdup(i->origin) : NULL;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int lvm_path(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		    pve_error **err)
{
	_cleanup_free_ char *lv = NULL;
	int r = volume_lv(s, volname, snap, &lv, err);
	if (r < 0)
		return r;
	*ret_path = xasprintf("/dev/%s", lv);
	return 0;
}

static int lvm_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
			   uint64_t *ret_used, char **ret_format, pve_error **err)
{
	const char *vg, *pool = NULL;
	if (storage_vg(s, &vg, is_thin(s) ? &pool : NULL, err) < 0)
		return -EINVAL;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	if (lvm_parse(s, volname, &v, err) < 0)
		return -EINVAL;
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	const lv_info *i;
	if (lvs(vg, &l, err) < 0)
		return -EIO;
	if (lv_get(s, &l, &v, pool, &i, err) < 0)
		return -ENOENT;
	if (ret_size)
		*ret_size = i->size;
	if (ret_used)
		*ret_used = is_thin(s) ? part_of(i->size, i->data_percent) : i->size;
	if (ret_format)
		*ret_format = xstrdup("raw");
	return 0;
}

static int lvm_volume_resize(const pve_storage *s, const char *volname, uint64_t size,
			     pve_error **err)
{
	const char *vg, *pool = NULL;
	if (storage_vg(s, &vg, is_thin(s) ? &pool : NULL, err) < 0)
		return -EINVAL;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	if (lvm_parse(s, volname, &v, err) < 0)
		return -EINVAL;
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	const lv_info *i;
	if (lvs(vg, &l, err) < 0)
		return -EIO;
	if (lv_get(s, &l, &v, pool, &i, err) < 0)
		return -ENOENT;
	if (v.is_base)
		return pve_error_set(err, EINVAL, "can't resize a base image");
	if (size < i->size)
		return pve_error_set_param(err, EINVAL, "size", "shrinking disks is not supported");
	if (size == i->size)
		return 0;
	_cleanup_free_ char *sz = size_kib(size);
	_cleanup_free_ char *lv = xasprintf("%s/%s", vg, v.name);
	const char *argv[] = { "lvextend", "--size", sz, lv, NULL };
	return pve_storage_run(argv, NULL, err);
}

static bool lvm_volume_has_feature(const pve_storage *s, pve_volume_feature feature,
				   const char *volname, const char *snap)
{
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	if (lvm_parse(s, volname, &v, NULL) < 0)
		return false;
	bool base = v.is_base, current = !base && !snap;
	if (!is_thin(s))
		return (feature == PVE_FEATURE_COPY && !snap) ||
		       (feature == PVE_FEATURE_RENAME && current);
	switch (feature) {
	case PVE_FEATURE_SNAPSHOT:
		return current;
	case PVE_FEATURE_CLONE:
		return (base && !snap) || (!base && snap);
	case PVE_FEATURE_TEMPLATE:
		return current;
	case PVE_FEATURE_COPY:
		return true;
	case PVE_FEATURE_SPARSEINIT:
		return !snap;
	case PVE_FEATURE_RENAME:
		return current;
	}
	return false;
}

static int lvm_rename_volume(const pve_storage *s, const char *volname, long long target_vmid,
			     const char *target_name, char **ret_volname, pve_error **err)
{
	const char *vg, *pool = NULL;
	if (storage_vg(s, &vg, is_thin(s) ? &pool : NULL, err) < 0)
		return -EINVAL;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	if (lvm_parse(s, volname, &v, err) < 0)
		return -EINVAL;
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	const lv_info *i;
	if (lvs(vg, &l, err) < 0)
		return -EIO;
	if (lv_get(s, &l, &v, pool, &i, err) < 0)
		return -ENOENT;
	if (v.is_base)
		return pve_error_set(err, EINVAL, "rename of a base image is not supported");
	_cleanup_free_ char *target = NULL;
	if (target_name) {
		long long tv;
		if (pve_storage_parse_image_name(target_name, false, &tv, NULL, NULL) < 0 ||
		    tv != target_vmid || !startswith(target_name, "vm-") ||
		    !lvm_name_ok(target_name))
			return pve_error_set_param(err, EINVAL, "target",
						   "invalid target volume name '%.200s'",
						   target_name);
		if (lv_find(&l, target_name))
			return pve_error_set(err, EEXIST,
					     "rename_volume: target volume '%s' already exists",
					     target_name);
		target = xstrdup(target_name);
	} else if (!(target = lv_free_name(&l, target_vmid))) {
		return pve_error_set(err, ENOSPC, "no free disk name for VM %lld", target_vmid);
	}
	const char *argv[] = { "lvrename", vg, v.name, target, NULL };
	if (pve_storage_run(argv, NULL, err) < 0)
		return -EIO;
	/* the tag follows the owner; the volume is renamed already, so a failure here is not the
	 * rename's, as Proxmox only warns */
	if (!is_thin(s) && v.vmid != target_vmid) {
		_cleanup_free_ char *lv = xasprintf("%s/%s", vg, target);
		_cleanup_free_ char *add = owner_tag(target_vmid), *del = owner_tag(v.vmid);
		const char *tag[] = { "lvchange", "--addtag", add, "--deltag", del, lv, NULL };
		(void)pve_storage_run(tag, NULL, NULL);
	}
	/* thin snapshots follow their volume */
	_cleanup_free_ char *prefix = xasprintf("snap_%s_", v.name);
	for (size_t k = 0; k < l.n; k++) {
		if (!startswith(l.v[k].name, prefix))
			continue;
		_cleanup_free_ char *nn = snap_lv(target, l.v[k].name + strlen(prefix));
		const char *a2[] = { "lvrename", vg, l.v[k].name, nn, NULL };
		if (pve_storage_run(a2, NULL, err) < 0)
			return -EIO;
	}
	*ret_volname = v.basename ? xasprintf("%s/%s", v.basename, target) : TAKE_PTR(target);
	return 0;
}

/* ---- lvmthin: snapshots, templates and clones ------------------------------------------------ */

static int thin_volume(const pve_storage *s, const char *volname, const char **vg, lvm_vol *v,
		       lv_list *l, pve_error **err)
{
	const char *pool;
	if (storage_vg(s, vg, &pool, err) < 0)
		return -EINVAL;
	if (lvm_parse(s, volname, v, err) < 0)
		return -EINVAL;
	const lv_info *i;
	if (lvs(*vg, l, err) < 0)
		return -EIO;
	return lv_get(s, l, v, pool, &i, err);
}

static int thin_snapshot(const pve_storage *s, const char *volname, const char *snap,
			 pve_error **err)
{
	const char *vg;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	int r = thin_volume(s, volname, &vg, &v, &l, err);
	if (r < 0)
		return r;
	if (v.is_base)
		return pve_error_set(err, EINVAL, "can't snapshot a base image");
	_cleanup_free_ char *sl = snap_lv(v.name, snap);
	if (!lvm_name_ok(sl))
		return pve_error_set_param(err, EINVAL, "snapname", "snapshot name too long");
	if (lv_find(&l, sl))
		return pve_error_set(err, EEXIST, "snapshot '%s' of volume '%s' already exists",
				     snap, volname);
	_cleanup_free_ char *lv = xasprintf("%s/%s", vg, v.name);
	const char *argv[] = { "lvcreate", "-n", sl, "-pr", "-s", lv, NULL };
	return pve_storage_run(argv, NULL, err);
}

static int thin_snapshot_get(const pve_storage *s, const lv_list *l, const lvm_vol *v,
			     const char *snap, char **ret, pve_error **err)
{
	_cleanup_free_ char *sl = snap_lv(v->name, snap);
	if (!lv_find(l, sl))
		return pve_error_set(err, ENOENT, "snapshot '%s' of volume '%s:%s' does not exist",
				     snap, s->id, v->name);
	*ret = TAKE_PTR(sl);
	return 0;
}

/* The volume is replaced by a new thin snapshot of the snapshot; the snapshot stays. */
static int thin_snapshot_rollback(const pve_storage *s, const char *volname, const char *snap,
				  pve_error **err)
{
	const char *vg;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	int r = thin_volume(s, volname, &vg, &v, &l, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *sl = NULL;
	if (thin_snapshot_get(s, &l, &v, snap, &sl, err) < 0)
		return -ENOENT;
	_cleanup_free_ char *lv = xasprintf("%s/%s", vg, v.name);
	_cleanup_free_ char *slv = xasprintf("%s/%s", vg, sl);
	const char *rm[] = { "lvremove", "-f", lv, NULL };
	if (pve_storage_run(rm, NULL, err) < 0)
		return -EIO;
	const char *mk[] = { "lvcreate", "-kn", "-n", v.name, "-s", slv, NULL };
	return pve_storage_run(mk, NULL, err);
}

static int thin_snapshot_delete(const pve_storage *s, const char *volname, const char *snap,
				pve_error **err)
{
	const char *vg;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	int r = thin_volume(s, volname, &vg, &v, &l, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *sl = NULL;
	if (thin_snapshot_get(s, &l, &v, snap, &sl, err) < 0)
		return -ENOENT;
	_cleanup_free_ char *slv = xasprintf("%s/%s", vg, sl);
	const char *rm[] = { "lvremove", "-f", slv, NULL };
	return pve_storage_run(rm, NULL, err);
}

static int thin_clone_image(const pve_storage *s, const char *volname, long long vmid,
			    const char *snap, char **ret_volname, pve_error **err)
{
	const char *vg;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	int r = thin_volume(s, volname, &vg, &v, &l, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *src = NULL;
	if (snap) {
		if (v.is_base)
			return pve_error_set(err, EINVAL, "a base image has no snapshots");
		if (thin_snapshot_get(s, &l, &v, snap, &src, err) < 0)
			return -ENOENT;
	} else if (!v.is_base) {
		return pve_error_set(err, EINVAL, "clone_image only works on base images");
	} else {
		src = xstrdup(v.name);
	}
	_cleanup_free_ char *name = lv_free_name(&l, vmid);
	if (!name)
		return pve_error_set(err, ENOSPC, "unable to allocate an image name for VM %lld",
				     vmid);
	_cleanup_free_ char *slv = xasprintf("%s/%s", vg, src);
	const char *argv[] = { "lvcreate", "-n", name, "-prw", "-kn", "-s", slv, NULL };
	if (pve_storage_run(argv, NULL, err) < 0)
		return -EIO;
	*ret_volname = snap ? TAKE_PTR(name) : xasprintf("%s/%s", v.name, name);
	return 0;
}

static int thin_create_base(const pve_storage *s, const char *volname, char **ret_volname,
			    pve_error **err)
{
	const char *vg;
	_cleanup_(lvm_vol_clear) lvm_vol v = { 0 };
	_cleanup_(lv_list_clear) lv_list l = { 0 };
	int r = thin_volume(s, volname, &vg, &v, &l, err);
	if (r < 0)
		return r;
	if (v.is_base)
		return pve_error_set(err, EINVAL, "create_base not possible with base image");
	if (!startswith(v.name, "vm-"))
		return pve_error_set(err, EINVAL,
				     "create_base: volume name '%s' must start with 'vm-'", v.name);
	if (lv_count_snapshots(&l, v.name))
		return pve_error_set(err, EBUSY,
				     "unable to create base volume - '%s' has snapshots", volname);
	_cleanup_free_ char *newname = xasprintf("base-%s", v.name + 3);
	if (lv_find(&l, newname))
		return pve_error_set(err, EEXIST, "volume '%s:%s' already exists", s->id, newname);
	const char *mv[] = { "lvrename", vg, v.name, newname, NULL };
	if (pve_storage_run(mv, NULL, err) < 0)
		return -EIO;
	/* inactive, read-only and skipped by autoactivation, as Proxmox's templates */
	_cleanup_free_ char *lv = xasprintf("%s/%s", vg, newname);
	const char *ch[] = { "lvchange", "-an", "-pr", "-ky", lv, NULL };
	if (pve_storage_run(ch, NULL, err) < 0)
		return -EIO;
	*ret_volname = TAKE_PTR(newname);
	return 0;
}

/* ---- scans --------------------------------------------------------------------------------------- */

static int report(const char *out, size_t len, const char *tool, const char *key, cJSON **ret_json,
		  const cJSON **ret_rows, pve_error **err)
{
	_cleanup_json_ cJSON *j = pve_json_parse(out, len, LVM_REPORT_MAX, 16, err);
	const cJSON *rows = j ? report_rows(j, key) : NULL;
	if (!rows)
		return pve_error_set(err, EIO, "%s: unexpected report", tool);
	*ret_rows = rows;
	*ret_json = TAKE_PTR(j);
	return 0;
}

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
	cJSON_AddItemToObject(o, key, cJSON_CreateNumber((double)v));
}

int pve_storage_scan_lvm(cJSON **ret, pve_error **err)
{
	const char *argv[] = {
		"vgs",	      "--reportformat", "json",	   "--units", "b",
		"--nosuffix", "--sort",		"vg_name", "-o",      "vg_name,vg_size,vg_free",
		NULL
	};
	_cleanup_free_ char *out = NULL;
	if (pve_storage_run(argv, &out, err) < 0)
		return -EIO;
	return pve_lvm_parse_scan_vgs(out, strlen(out), ret, err);
}

int pve_lvm_parse_scan_vgs(const char *out, size_t len, cJSON **ret, pve_error **err)
{
	_cleanup_json_ cJSON *j = NULL;
	const cJSON *rows, *row;
	if (report(out, len, "vgs", "vg", &j, &rows, err) < 0)
		return -EIO;
	cJSON *a = cJSON_CreateArray();
	cJSON_ArrayForEach (row, rows) {
		const char *name = pve_json_str(row, "vg_name");
		if (!name)
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "vg", name);
		add_u64(o, "size", row_u64(row, "vg_size"));
		add_u64(o, "free", row_u64(row, "vg_free"));
		cJSON_AddItemToArray(a, o);
	}
	*ret = a;
	return 0;
}

int pve_storage_scan_lvmthin(const char *vg, cJSON **ret, pve_error **err)
{
	if (!lvm_name_ok(vg))
		return pve_error_set_param(err, EINVAL, "vg", "invalid volume group name '%.64s'",
					   vg ? vg : "");
	const char *argv[] = {
		"lvs",	"--reportformat",
		"json", "--units",
		"b",	"--nosuffix",
		"-S",	"lv_attr=~^t",
		"-o",	"lv_name,lv_size,data_percent,lv_metadata_size,metadata_percent",
		vg,	NULL
	};
	_cleanup_free_ char *out = NULL;
	if (pve_storage_run(argv, &out, err) < 0)
		return -EIO;
	return pve_lvm_parse_scan_thin(out, strlen(out), ret, err);
}

int pve_lvm_parse_scan_thin(const char *out, size_t len, cJSON **ret, pve_error **err)
{
	_cleanup_json_ cJSON *j = NULL;
	const cJSON *rows, *row;
	if (report(out, len, "lvs", "lv", &j, &rows, err) < 0)
		return -EIO;
	cJSON *a = cJSON_CreateArray();
	cJSON_ArrayForEach (row, rows) {
		const char *name = pve_json_str(row, "lv_name");
		if (!name)
			continue;
		uint64_t size = row_u64(row, "lv_size"), msize = row_u64(row, "lv_metadata_size");
		const char *dp = pve_json_str(row, "data_percent");
		const char *mp = pve_json_str(row, "metadata_percent");
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "lv", name);
		add_u64(o, "lv_size", size);
		add_u64(o, "used", pve_lvm_percent_of(size, dp));
		add_u64(o, "metadata_size", msize);
		add_u64(o, "metadata_used", pve_lvm_percent_of(msize, mp));
		cJSON_AddItemToArray(a, o);
	}
	*ret = a;
	return 0;
}

static const char *const lvm_formats[] = { "raw", "qcow2", NULL };
static const char *const thin_formats[] = { "raw", NULL };
static const char *const lvm_required[] = { "vgname", NULL };
static const char *const thin_required[] = { "vgname", "thinpool", NULL };
static const char *const lvm_options[] = { "vgname",
					   "base",
					   "saferemove",
					   "saferemove-stepsize",
					   "saferemove_throughput",
					   "tagged_only",
					   "snapshot-as-volume-chain",
					   NULL };
static const char *const lvm_fixed[] = { "vgname", "base", NULL };
static const char *const thin_options[] = { "vgname", "thinpool", NULL };

const pve_storage_plugin pve_storage_plugin_lvm = {
	.type = "lvm",
	.content_allowed = PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR,
	.content_default = PVE_CONTENT_IMAGES,
	.formats = lvm_formats,
	.default_format = "raw",
	.required = lvm_required,
	.options = lvm_options,
	.fixed = lvm_fixed,
	.check_option = lvm_check_option,
	.on_add = lvm_on_add,
	.activate = lvm_activate,
	.deactivate = lvm_deactivate,
	.status = lvm_status,
	.alloc_image = lvm_alloc_image,
	.free_image = lvm_free_image,
	.parse_volname = lvm_parse_volname,
	.list_volumes = lvm_list_volumes,
	.path = lvm_path,
	.volume_size = lvm_volume_size,
	.volume_resize = lvm_volume_resize,
	.volume_has_feature = lvm_volume_has_feature,
	.rename_volume = lvm_rename_volume,
	.activate_volume = lvm_activate_volume,
	.deactivate_volume = lvm_deactivate_volume,
};

const pve_storage_plugin pve_storage_plugin_lvmthin = {
	.type = "lvmthin",
	.content_allowed = PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR,
	.content_default = PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR,
	.formats = thin_formats,
	.default_format = "raw",
	.required = thin_required,
	.options = thin_options,
	.activate = lvm_activate,
	.deactivate = lvm_deactivate,
	.status = lvm_status,
	.alloc_image = lvm_alloc_image,
	.free_image = lvm_free_image,
	.parse_volname = lvm_parse_volname,
	.list_volumes = lvm_list_volumes,
	.path = lvm_path,
	.volume_size = lvm_volume_size,
	.volume_resize = lvm_volume_resize,
	.volume_snapshot = thin_snapshot,
	.volume_snapshot_rollback = thin_snapshot_rollback,
	.volume_snapshot_delete = thin_snapshot_delete,
	.clone_image = thin_clone_image,
	.create_base = thin_create_base,
	.volume_has_feature = lvm_volume_has_feature,
	.rename_volume = lvm_rename_volume,
	.activate_volume = lvm_activate_volume,
	.deactivate_volume = lvm_deactivate_volume,
	.new_volumes_read_zero = true,
};
