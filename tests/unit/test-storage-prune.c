/* Proxmox's prune_backups_test.pm carried over as data: its 22 cases through pved's selection
 * (pve_storage_prune_select over the same backup lists its mocked list_volumes returns), in UTC as its
 * runner; then a prune on a real directory: what is marked remove goes with its notes and log, the
 * rest stays; and the retention options as storage.cfg and the API give them. */
#include <fcntl.h>
#include <sys/stat.h>

#include "storage/storage.h"
#include "tests/unit/test.h"

#define STOREID "BackTest123"
#define BASETIME 1577881101LL /* 2020_01_01-12_18_21 UTC */
#define DAY (24 * 60 * 60LL)

typedef struct backup {
	char volid[160];
	long long ctime, vmid;
	bool protected_;
} backup;

typedef struct blist {
	backup v[32];
	size_t n;
} blist;

static void add(blist *l, long long ctime, long long vmid, bool prot, const char *fmt, ...)
	_printf_(5, 6);
static void add(blist *l, long long ctime, long long vmid, bool prot, const char *fmt, ...)
{
	backup *b = &l->v[l->n++];
	va_list ap;
	va_start(ap, fmt);
	int len = snprintf(b->volid, sizeof(b->volid), STOREID ":backup/");
	vsnprintf(b->volid + len, sizeof(b->volid) - (size_t)len, fmt, ap);
	va_end(ap);
	b->ctime = ctime;
	b->vmid = vmid;
	b->protected_ = prot;
}

static const long long vmids[] = { 1234, 9001 };

/* $mocked_backups_lists: default, year1970, novmid, threeway, weekboundary */
static void list_of(const char *name, blist *l)
{
	*l = (blist){ 0 };
	if (streq(name, "default")) {
		for (size_t i = 0; i < ELEMENTSOF(vmids); i++) {
			long long v = vmids[i];
			add(l, BASETIME - 585 * DAY - 3600, v, false,
			    "vzdump-qemu-%lld-2018_05_26-11_18_21.tar.zst", v);
			add(l, BASETIME - DAY - 3600, v, false,
			    "vzdump-qemu-%lld-2019_12_31-11_18_21.tar.zst", v);
			add(l, BASETIME - DAY - 3600 + 30, v, true,
			    "vzdump-qemu-%lld-2019_12_31-11_18_51.tar.zst", v);
			add(l, BASETIME - DAY - 3600 + 60, v, false,
			    "vzdump-qemu-%lld-2019_12_31-11_19_21.tar.zst", v);
			add(l, BASETIME - 3600, v, false,
			    "vzdump-qemu-%lld-2020_01_01-11_18_21.tar.zst", v);
			add(l, BASETIME, v, false, "vzdump-qemu-%lld-2020_01_01-12_18_21.tar.zst",
			    v);
			add(l, BASETIME, v, false, "vzdump-lxc-%lld-2020_01_01-12_18_21.tar.zst",
			    v);
			add(l, 1234, v, false, "vzdump-%lld-renamed.tar.zst", v);
		}
	} else if (streq(name, "year1970")) {
		add(l, 83, 321, false, "vzdump-lxc-321-1970_01_01-00_01_23.tar.zst");
		add(l, 60LL * 60 * 24 * (365 * 100 + 25) + 60, 321, false,
		    "vzdump-lxc-321-2070_01_01-00_01_00.tar.zst");
	} else if (streq(name, "novmid")) {
		add(l, 1234, 0, false, "vzdump-lxc-novmid.tar.gz");
	} else if (streq(name, "threeway")) {
		add(l, BASETIME - 7 * DAY, 7654, false,
		    "vzdump-qemu-7654-2019_12_25-12_18_21.tar.zst");
		add(l, BASETIME - DAY, 7654, false, "vzdump-qemu-7654-2019_12_31-12_18_21.tar.zst");
		add(l, BASETIME, 7654, false, "vzdump-qemu-7654-2020_01_01-12_18_21.tar.zst");
	} else if (streq(name, "weekboundary")) {
		add(l, BASETIME + (366 - 31 + 2) * DAY, 7654, false,
		    "vzdump-qemu-7654-2020_12_03-12_18_21.tar.zst");
		add(l, BASETIME + (366 - 31 + 3) * DAY, 7654, false,
		    "vzdump-qemu-7654-2020_12_04-12_18_21.tar.zst");
		add(l, BASETIME + (366 - 31 + 6) * DAY, 7654, false,
		    "vzdump-qemu-7654-2020_12_07-12_18_21.tar.zst");
	}
}

/* One expected entry of the result. */
typedef struct mark {
	char volid[160];
	long long ctime, vmid;
	const char *type, *mark;
} mark;

typedef struct mlist {
	mark v[32];
	size_t n;
} mlist;

static void expect(mlist *m, const char *volid, long long ctime, long long vmid, const char *type,
		   const char *mk)
{
	mark *x = &m->v[m->n++];
	snprintf(x->volid, sizeof(x->volid), "%s", volid);
	x->ctime = ctime;
	x->vmid = vmid;
	x->type = type;
	x->mark = mk;
}

static int cmp_mark(const void *a, const void *b)
{
	return strcmp(((const mark *)a)->volid, ((const mark *)b)->volid);
}

/* generate_expected(vmids, type, marks) */
static void generate(mlist *m, const long long *ids, size_t n_ids, const char *type,
		     const char *const marks[6])
{
	*m = (mlist){ 0 };
	char v[160];
	for (size_t i = 0; i < n_ids; i++) {
		long long id = ids[i];
		if (!type || streq(type, "qemu")) {
			static const struct {
				const char *time;
				long long ctime;
				int mark; /* -1: protected */
			} q[] = {
				{ "2018_05_26-11_18_21", BASETIME - 585 * DAY - 3600, 0 },
				{ "2019_12_31-11_18_21", BASETIME - DAY - 3600, 1 },
				{ "2019_12_31-11_18_51", BASETIME - DAY - 3600 + 30, -1 },
				{ "2019_12_31-11_19_21", BASETIME - DAY - 3600 + 60, 2 },
				{ "2020_01_01-11_18_21", BASETIME - 3600, 3 },
				{ "2020_01_01-12_18_21", BASETIME, 4 },
			};
			for (size_t k = 0; k < ELEMENTSOF(q); k++) {
				snprintf(v, sizeof(v),
					 STOREID ":backup/vzdump-qemu-%lld-%s.tar.zst", id,
					 q[k].time);
				expect(m, v, q[k].ctime, id, "qemu",
				       q[k].mark < 0 ? "protected" : marks[q[k].mark]);
			}
		}
		if (!type || streq(type, "lxc")) {
			snprintf(v, sizeof(v),
				 STOREID ":backup/vzdump-lxc-%lld-2020_01_01-12_18_21.tar.zst", id);
			expect(m, v, BASETIME, id, "lxc", marks[5]);
		}
		if (!type) {
			snprintf(v, sizeof(v), STOREID ":backup/vzdump-%lld-renamed.tar.zst", id);
			expect(m, v, 1234, id, "unknown", "renamed");
		}
	}
	qsort(m->v, m->n, sizeof(*m->v), cmp_mark);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const pve_prune_entry *)a)->volid, ((const pve_prune_entry *)b)->volid);
}

/* Runs one case: the list's backups (those of vmid, as the mocked list_volumes filters), prune
 * selection, sorted by volid, against the expected. */
static void prune_case(const char *description, const char *list, long long vmid, const char *type,
		       const pve_prune_keep *keep, const mlist *want)
{
	blist l;
	list_of(list, &l);
	pve_volume_info in[32];
	size_t n = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (vmid && l.v[i].vmid != vmid)
			continue;
		in[n++] = (pve_volume_info){ .volid = l.v[i].volid,
					     .ctime = l.v[i].ctime,
					     .vmid = l.v[i].vmid,
					     .protected_ = l.v[i].protected_,
					     .content = PVE_CONTENT_BACKUP };
	}
	pve_prune_entry *e = NULL;
	size_t ne = 0;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_storage_prune_select(in, n, keep, vmid, type, &e, &ne, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s: %s", description, err->message);
		return;
	}
	qsort(e, ne, sizeof(*e), cmp_entry);
	if (ne != want->n)
		test_fail(__FILE__, __LINE__, "%s: %zu entries, expected %zu", description, ne,
			  want->n);
	for (size_t i = 0; i < ne && i < want->n; i++) {
		const pve_prune_entry *x = &e[i];
		const mark *w = &want->v[i];
		if (!streq(x->volid, w->volid) || x->ctime != w->ctime || x->vmid != w->vmid ||
		    !streq(x->type, w->type) || !streq(pve_prune_mark_name(x->mark), w->mark))
			test_fail(__FILE__, __LINE__,
				  "%s: {%s, %lld, %lld, %s, %s}, expected {%s, %lld, %lld, %s, %s}",
				  description, x->volid, (long long)x->ctime, x->vmid, x->type,
				  pve_prune_mark_name(x->mark), w->volid, w->ctime, w->vmid,
				  w->type, w->mark);
	}
	pve_prune_entries_free(e, ne);
}

#define MARKS(...) ((const char *const[6]){ __VA_ARGS__ })
#define K(...) (&(pve_prune_keep){ __VA_ARGS__ })

/* The 22 cases of prune_backups_test.pm. A keep-* of 0 is as if not set, as there ("all zero"
 * misspells keep-monthly: not set either way). */
static void prune_backups_suite(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	mlist m;
	const long long *all = vmids, *one = vmids;
	size_t n_all = ELEMENTSOF(vmids);

	generate(&m, all, n_all, NULL, MARKS("remove", "remove", "keep", "keep", "keep", "keep"));
	prune_case("last=3, multiple IDs", "default", 0, NULL, K(.last = 3), &m);
	generate(&m, one, 1, NULL, MARKS("keep", "remove", "remove", "remove", "keep", "keep"));
	prune_case("weekly=2, one ID", "default", vmids[0], NULL, K(.weekly = 2), &m);
	generate(&m, all, n_all, NULL, MARKS("keep", "remove", "keep", "remove", "keep", "keep"));
	prune_case("daily=weekly=monthly=1, multiple IDs", "default", 0, NULL,
		   K(.hourly = 0, .daily = 1, .weekly = 1, .monthly = 1), &m);
	generate(&m, one, 1, NULL, MARKS("keep", "remove", "keep", "keep", "keep", "keep"));
	prune_case("hourly=4, one ID", "default", vmids[0], NULL, K(.hourly = 4, .daily = 0), &m);
	generate(&m, all, n_all, NULL, MARKS("remove", "remove", "keep", "remove", "keep", "keep"));
	prune_case("yearly=2, multiple IDs", "default", 0, NULL,
		   K(.hourly = 0, .daily = 0, .weekly = 0, .monthly = 0, .yearly = 2), &m);
	generate(&m, one, 1, NULL, MARKS("keep", "remove", "keep", "keep", "keep", "keep"));
	prune_case("last=2,hourly=2 one ID", "default", vmids[0], NULL, K(.last = 2, .hourly = 2),
		   &m);
	generate(&m, all, n_all, NULL, MARKS("keep", "remove", "keep", "remove", "keep", "keep"));
	prune_case("last=1,monthly=2, multiple IDs", "default", 0, NULL, K(.last = 1, .monthly = 2),
		   &m);
	generate(&m, one, 1, NULL, MARKS("keep", "remove", "keep", "remove", "keep", "keep"));
	prune_case("monthly=3, one ID", "default", vmids[0], NULL, K(.monthly = 3), &m);
	generate(&m, all, n_all, NULL, MARKS("keep", "remove", "keep", "remove", "keep", "keep"));
	prune_case("last=daily=weekly=1, multiple IDs", "default", 0, NULL,
		   K(.last = 1, .daily = 1, .weekly = 1), &m);
	prune_case("last=daily=weekly=1, others zero, multiple IDs", "default", 0, NULL,
		   K(.hourly = 0, .last = 1, .daily = 1, .weekly = 1, .monthly = 0, .yearly = 0),
		   &m);
	generate(&m, one, 1, NULL, MARKS("remove", "remove", "keep", "remove", "keep", "keep"));
	prune_case("daily=2, one ID", "default", vmids[0], NULL, K(.daily = 2), &m);
	generate(&m, all, n_all, NULL, MARKS("keep", "remove", "remove", "remove", "keep", "keep"));
	prune_case("weekly=monthly=1, multiple IDs", "default", 0, NULL,
		   K(.weekly = 1, .monthly = 1), &m);
	generate(&m, one, 1, NULL, MARKS("keep", "remove", "remove", "remove", "keep", "keep"));
	prune_case("weekly=yearly=1, one ID", "default", vmids[0], NULL,
		   K(.weekly = 1, .yearly = 1), &m);
	generate(&m, one, 1, "qemu", MARKS("keep", "remove", "remove", "remove", "keep", ""));
	prune_case("weekly=yearly=1, one ID, type qemu", "default", vmids[0], "qemu",
		   K(.weekly = 1, .yearly = 1), &m);
	generate(&m, one, 1, "lxc", MARKS("", "", "", "", "", "keep"));
	prune_case("week=yearly=1, one ID, type lxc", "default", vmids[0], "lxc", K(.last = 1), &m);

	m = (mlist){ 0 };
	expect(&m, STOREID ":backup/vzdump-lxc-321-1970_01_01-00_01_23.tar.zst", 83, 321, "lxc",
	       "remove");
	expect(&m, STOREID ":backup/vzdump-lxc-321-2070_01_01-00_01_00.tar.zst",
	       60LL * 60 * 24 * (365 * 100 + 25) + 60, 321, "lxc", "keep");
	prune_case("yearly=1, year before 2000", "year1970", 0, NULL, K(.yearly = 1), &m);

	m = (mlist){ 0 };
	expect(&m, STOREID ":backup/vzdump-lxc-novmid.tar.gz", 1234, 0, "lxc", "renamed");
	prune_case("last=1, ne ID, year before 2000", "novmid", 0, NULL, K(.last = 1), &m);

	generate(&m, all, n_all, NULL, MARKS("keep", "keep", "keep", "keep", "keep", "keep"));
	prune_case("all missing, multiple IDs", "default", 0, NULL, K(0), &m);
	prune_case("all zero, multiple IDs", "default", 0, NULL,
		   K(.last = 0, .hourly = 0, .daily = 0, .weekly = 0, .yearly = 0), &m);
	prune_case("some zero, some missing, multiple IDs", "default", 0, NULL,
		   K(.last = 0, .hourly = 0, .daily = 0, .yearly = 0), &m);

	m = (mlist){ 0 };
	expect(&m, STOREID ":backup/vzdump-qemu-7654-2019_12_25-12_18_21.tar.zst",
	       BASETIME - 7 * DAY, 7654, "qemu", "keep");
	/* the month is already covered by the backup keep-weekly kept */
	expect(&m, STOREID ":backup/vzdump-qemu-7654-2019_12_31-12_18_21.tar.zst", BASETIME - DAY,
	       7654, "qemu", "remove");
	expect(&m, STOREID ":backup/vzdump-qemu-7654-2020_01_01-12_18_21.tar.zst", BASETIME, 7654,
	       "qemu", "keep");
	prune_case("daily=weekly=monthly=1", "threeway", 0, NULL,
		   K(.daily = 1, .weekly = 1, .monthly = 1), &m);

	m = (mlist){ 0 };
	expect(&m, STOREID ":backup/vzdump-qemu-7654-2020_12_03-12_18_21.tar.zst",
	       BASETIME + (366 - 31 + 2) * DAY, 7654, "qemu", "remove");
	expect(&m, STOREID ":backup/vzdump-qemu-7654-2020_12_04-12_18_21.tar.zst",
	       BASETIME + (366 - 31 + 3) * DAY, 7654, "qemu", "keep");
	expect(&m, STOREID ":backup/vzdump-qemu-7654-2020_12_07-12_18_21.tar.zst",
	       BASETIME + (366 - 31 + 6) * DAY, 7654, "qemu", "keep");
	prune_case("daily=weekly=1,weekboundary", "weekboundary", 0, NULL,
		   K(.daily = 1, .weekly = 1), &m);
}

/* The prune-backups property string as storage.cfg and the API give it. */
static void prune_options(void)
{
	pve_prune_keep k;
	_cleanup_error_ pve_error *err = NULL;
	check(pve_storage_prune_parse("keep-last=3,keep-daily=7", &k, NULL) == 0);
	check(!k.all && k.last == 3 && k.daily == 7 && !k.hourly && !k.weekly);
	/* nothing to keep by count is keep-all, as Proxmox's validate_prune_backups */
	check(pve_storage_prune_parse("keep-last=0", &k, NULL) == 0 && k.all && !k.last);
	check(pve_storage_prune_parse("", &k, NULL) == 0 && k.all);
	check(pve_storage_prune_parse("keep-all=1", &k, NULL) == 0 && k.all);
	check(pve_storage_prune_parse("keep-all=1,keep-last=1", &k, &err) == -EINVAL);
	check(err && streq_ptr(err->param, "prune-backups") &&
	      strstr(err->message, "keep-all cannot be set together with other options"));
	static const char *const bad[] = { "keep-last=-1", "keep-last=x", "keep-lots=1",
					   "keep-last", "keep-last=1,keep-last=2" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_error *e = NULL;
		if (pve_storage_prune_parse(bad[i], &k, &e) != -EINVAL || !e ||
		    !streq_ptr(e->param, "prune-backups"))
			test_fail(__FILE__, __LINE__, "'%s' accepted", bad[i]);
		pve_error_free(e);
	}
	/* storage.cfg checks the option */
	const char *cfg = "dir: pa\n\tpath /x\n\tprune-backups keep-lots=1\n";
	pve_sectioncfg *c = NULL;
	pve_error *e = NULL;
	check(pve_storage_cfg_parse(cfg, strlen(cfg), &c, &e) == -EINVAL);
	check(e && strstr(e->message, "prune-backups"));
	pve_error_free(e);
	pve_sectioncfg_free(c);
}

static void touch(const char *dir, const char *name, const char *content)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	if (content)
		check(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	close(fd);
}

static bool exists(const char *dir, const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* A prune on a dir storage with the storage's own options: the backups marked remove go with their
 * notes and logs; protected ones, renamed ones and those kept stay; a dry run removes nothing. */
static void prune_on_disk(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const char *top = test_tmpdir();
	_cleanup_free_ char *dump = xasprintf("%s/dump", top);
	check(mkdir(dump, 0755) == 0);
	static const char *const names[] = {
		"vzdump-qemu-100-2024_01_01-10_00_00.vma.zst",
		"vzdump-qemu-100-2024_01_02-10_00_00.vma.zst",
		"vzdump-qemu-100-2024_01_03-10_00_00.vma.zst",
		"vzdump-qemu-100-2024_01_04-10_00_00.vma.zst",
		"vzdump-lxc-101-2024_01_01-10_00_00.tar.zst",
		"vzdump-qemu-100-renamed.vma.zst",
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		touch(dump, names[i], "x");
		_cleanup_free_ char *notes = xasprintf("%s.notes", names[i]);
		touch(dump, notes, "n");
	}
	touch(dump, "vzdump-qemu-100-2024_01_01-10_00_00.log", "log");
	touch(dump, "vzdump-qemu-100-2024_01_02-10_00_00.vma.zst.protected", NULL);
	_cleanup_free_ char *text = xasprintf(
		"dir: bk\n\tpath %s\n\tcontent backup\n\tprune-backups keep-last=1\n", top);
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), &cfg, &err) < 0 ||
	    pve_storage_get(cfg, "bk", &st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		return;
	}
	pve_prune_entry *e = NULL;
	size_t n = 0;
	check(pve_storage_prune_backups(&st, NULL, 0, NULL, true, NULL, &e, &n, NULL) == 0);
	check_int(n, ELEMENTSOF(names));
	pve_prune_entries_free(e, n);
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		check(exists(dump, names[i]));

	FILE *log = tmpfile();
	check(pve_storage_prune_backups(&st, NULL, 0, NULL, false, log, NULL, NULL, NULL) == 0);
	/* kept: the newest qemu and lxc ones, the protected one, the renamed one */
	check(!exists(dump, names[0]) && !exists(dump, "vzdump-qemu-100-2024_01_01-10_00_00.log") &&
	      !exists(dump, "vzdump-qemu-100-2024_01_01-10_00_00.vma.zst.notes"));
	check(exists(dump, names[1]) &&
	      exists(dump, "vzdump-qemu-100-2024_01_02-10_00_00.vma.zst.notes"));
	check(!exists(dump, names[2]));
	check(exists(dump, names[3]) && exists(dump, names[4]) && exists(dump, names[5]));
	char buf[1024] = { 0 };
	rewind(log);
	check(fread(buf, 1, sizeof(buf) - 1, log) > 0);
	fclose(log);
	check(strstr(buf,
		     "removing backup 'bk:backup/vzdump-qemu-100-2024_01_01-10_00_00.vma.zst'") !=
	      NULL);
	check(strstr(buf,
		     "removing backup 'bk:backup/vzdump-qemu-100-2024_01_03-10_00_00.vma.zst'") !=
	      NULL);

	/* a storage without backups, one without options */
	pve_sectioncfg_free(cfg);
	text = (free(text), xasprintf("dir: bk\n\tpath %s\n\tcontent images\n", top));
	check(pve_storage_cfg_parse(text, strlen(text), &cfg, NULL) == 0 &&
	      pve_storage_get(cfg, "bk", &st, NULL) == 0);
	check(pve_storage_prune_backups(&st, NULL, 0, NULL, true, NULL, NULL, NULL, &err) ==
	      -EINVAL);
	check(err && streq(err->message, "storage 'bk' does not support backups"));
	pve_error_free(err);
	err = NULL;
	pve_sectioncfg_free(cfg);
	text = (free(text), xasprintf("dir: bk\n\tpath %s\n\tcontent backup\n", top));
	check(pve_storage_cfg_parse(text, strlen(text), &cfg, NULL) == 0 &&
	      pve_storage_get(cfg, "bk", &st, NULL) == 0);
	check(pve_storage_prune_backups(&st, NULL, 0, NULL, true, NULL, NULL, NULL, &err) ==
	      -EINVAL);
	check(err && streq(err->message, "no prune-backups options configured for storage 'bk'"));
	pve_error_free(err);
	pve_sectioncfg_free(cfg);
}

TEST_MAIN(TEST(prune_backups_suite), TEST(prune_options), TEST(prune_on_disk))
