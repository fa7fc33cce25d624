/* storage: the image listings of local dir storages, kept by inotify, so that a listing re-reads
 * (and re-stats) only the images/VMID directories that changed since the one before.
 *
 * Per cached storage: one inotify fd, a watch per images/VMID directory, and that directory's
 * volumes (every image and container, filtered on the way out). A listing first drains the fd: an
 * event marks its directory stale and drops the watch (a guest writing its disk then queues one
 * event per listing, not one per write); IN_Q_OVERFLOW marks everything stale. images/ itself is
 * read every time, and each VMID directory is lstat'ed (its inode and device must be those it was
 * read from: a mount on top of it sends no event). A stale directory is watched again BEFORE it is
 * read, so a change during the read is seen by the next listing.
 *
 * What inotify does not see, and why that is acceptable here:
 *  - a write, truncate or chmod through a hard link in another directory, or through a bind mount
 *    of the file: events go to the directory of the path used. Proxmox names images by their place
 *    (images/VMID/NAME); QEMU, qemu-img and the API open them there.
 *  - writes through a shared mmap, and the file system changing st_blocks on its own (xfs trimming
 *    preallocation, btrfs compressing at writeback): only "used" drifts, QEMU does not mmap disks,
 *    and no entry is older than CACHE_MAX_AGE.
 *  - anything a directory entry reports from inside itself (a subvol's used and ctime): a directory
 *    with such an entry is not kept (pve_dir_list_image_dir's ret_watchable), nor one that a watch
 *    could not be set on.
 * Only where the kernel sees every change: the dir type, not shared, on ext2/3/4, xfs, btrfs or
 * tmpfs. Everything else (nfs, cifs, the btrfs plugin, other content types) is listed as without a
 * cache. */
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "storage/storage-internal.h"

#define CACHE_MAX_STORES 64
/* Volumes kept per storage (about 150 bytes each): what a listing needs beyond them it reads. */
#define CACHE_MAX_VOLUMES (100 * 1000)
/* A storage not listed for this long gives its place to a new one when the cache is full. */
#define CACHE_IDLE_SECS (10 * 60)
/* A directory is re-read at least this often, events or not (see above). */
#define CACHE_MAX_AGE 60
#define WATCH_MASK                                                                     \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB | \
	 IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)
#define IMAGE_CONTENT (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)

/* One images/VMID directory. */
typedef struct cdir {
	char *name; /* "100" */
	long long owner;
	int wd; /* its watch, or -1 */
	bool valid; /* v is what the directory holds */
	bool seen; /* in images/ at this listing */
	dev_t dev;
	ino_t ino;
	time_t built;
	pve_volume_info *v; /* every image and container, sorted by volid */
	size_t n;
	/* a rebuild's result, before it replaces v */
	listing l;
	bool opened, watchable;
} cdir;

/* One storage: its directories, sorted so that their volids come out in order. */
typedef struct cstore {
	char *id, *path;
	pthread_mutex_t lock;
	unsigned refs; /* under the cache's lock, as is used */
	time_t used;
	int ifd;
	cdir **dirs;
	size_t n, cap;
} cstore;

struct pve_storage_list_cache {
	/* A child forked from this process (a task) gets copies of the inotify fds and the locks: it
	 * must not drain events the parent needs, nor wait for a lock held by a thread it doesn't
	 * have, so it lists without the cache. */
	pid_t pid;
	pthread_mutex_t lock;
	cstore *stores[CACHE_MAX_STORES];
	size_t n;
};

static time_t now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void cdir_free(cdir *d)
{
	if (!d)
		return;
	pve_volume_infos_free(d->v, d->n);
	pve_volume_infos_free(d->l.v, d->l.n);
	free(d->name);
	free(d);
}

static void cstore_free(cstore *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++)
		cdir_free(cs->dirs[i]);
	free(cs->dirs);
	if (cs->ifd >= 0)
		close(cs->ifd);
	pthread_mutex_destroy(&cs->lock);
	free(cs->id);
	free(cs->path);
	free(cs);
}

pve_storage_list_cache *pve_storage_list_cache_new(void)
{
	pve_storage_list_cache *c = xcalloc(1, sizeof(*c));
	c->pid = getpid();
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void pve_storage_list_cache_free(pve_storage_list_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		cstore_free(c->stores[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The storage's entry, with a reference; NULL when it can't be cached (the cache is full of
 * storages in use, or no inotify instance is left). */
static cstore *store_get(pve_storage_list_cache *c, const pve_storage *s)
{
	time_t now = now_secs();
	cstore *cs = NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n && !cs; i++)
		if (streq(c->stores[i]->id, s->id) && streq(c->stores[i]->path, s->path))
			cs = c->stores[i];
	if (!cs) {
		/* a place: free, or one of a storage whose path changed, or one long unused */
		size_t slot = c->n;
		for (size_t i = 0; i < c->n && slot == c->n; i++)
			if (c->stores[i]->refs == 0 && streq(c->stores[i]->id, s->id))
				slot = i;
		for (size_t i = 0; i < c->n && slot == c->n && c->n == CACHE_MAX_STORES; i++)
			if (c->stores[i]->refs == 0 && now - c->stores[i]->used > CACHE_IDLE_SECS)
				slot = i;
		int ifd = slot < CACHE_MAX_STORES ? inotify_init1(IN_NONBLOCK | IN_CLOEXEC) : -1;
		if (ifd >= 0) {
			cs = xcalloc(1, sizeof(*cs));
			cs->id = xstrdup(s->id);
			cs->path = xstrdup(s->path);
			cs->ifd = ifd;
			pthread_mutex_init(&cs->lock, NULL);
			if (slot < c->n)
				cstore_free(c->stores[slot]);
			else
				c->n++;
			c->stores[slot] = cs;
		}
	}
	if (cs) {
		cs->refs++;
		cs->used = now;
	}
	pthread_mutex_unlock(&c->lock);
	return cs;
}

static void store_put(pve_storage_list_cache *c, cstore *cs)
{
	pthread_mutex_lock(&c->lock);
	cs->refs--;
	pthread_mutex_unlock(&c->lock);
}

/* ---- events ---------------------------------------------------------------------------------- */

static void forget(cstore *cs, cdir *d)
{
	d->valid = false;
	if (d->wd >= 0)
		inotify_rm_watch(cs->ifd, d->wd);
	d->wd = -1;
}

typedef struct wd_index {
	int wd;
	cdir *d;
} wd_index;

static int cmp_wd(const void *a, const void *b)
{
	int x = ((const wd_index *)a)->wd, y = ((const wd_index *)b)->wd;
	return (x > y) - (x < y);
}

/* Reads every queued event: each marks its directory stale. */
static void drain(cstore *cs)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	_cleanup_free_ wd_index *idx = NULL;
	size_t nidx = 0;
	for (;;) {
		ssize_t r = read(cs->ifd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN) {
			/* nothing tells what was lost */
			for (size_t i = 0; i < cs->n; i++)
				forget(cs, cs->dirs[i]);
		}
		if (r <= 0)
			return;
		if (!idx) {
			/* events name directories by watch: an index (a queue can hold
			 * thousands) */
			idx = xmalloc((cs->n + 1) * sizeof(*idx));
			for (size_t i = 0; i < cs->n; i++)
				if (cs->dirs[i]->wd >= 0)
					idx[nidx++] = (wd_index){ cs->dirs[i]->wd, cs->dirs[i] };
			qsort(idx, nidx, sizeof(*idx), cmp_wd);
		}
		for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)r;) {
			const struct inotify_event *e = (const void *)(buf + off);
			off += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				for (size_t i = 0; i < cs->n; i++)
					forget(cs, cs->dirs[i]);
				continue;
			}
			wd_index key = { e->wd, NULL };
			wd_index *hit = bsearch(&key, idx, nidx, sizeof(*idx), cmp_wd);
			if (!hit || hit->d->wd != e->wd)
				continue; /* a watch dropped already (its IN_IGNORED, say) */
			if (e->mask & IN_IGNORED)
				hit->d->wd = -1; /* the kernel dropped it: the directory is gone */
			forget(cs, hit->d);
		}
	}
}

/* ---- directories ----------------------------------------------------------------------------- */

/* Orders directory names as their volids "STORE:NAME/..." compare: "100" before "1000". */
static int cmp_name(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = *a ? (unsigned char)*a : '/', y = *b ? (unsigned char)*b : '/';
		if (x != y)
			return x - y;
		if (!*a)
			return 0;
	}
}

static int cmp_cdir(const void *a, const void *b)
{
	return cmp_name((*(cdir *const *)a)->name, (*(cdir *const *)b)->name);
}

static cdir *find_dir(cstore *cs, const char *name)
{
	size_t lo = 0, hi = cs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = cmp_name(name, cs->dirs[mid]->name);
		if (r == 0)
			return cs->dirs[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int cmp_volid(const void *a, const void *b)
{
	return strcmp(((const pve_volume_info *)a)->volid, ((const pve_volume_info *)b)->volid);
}

/* A share of the stale directories to read: every step-th from start. */
typedef struct rebuild_share {
	const pve_storage *s;
	int images_fd;
	cdir **dirs;
	size_t n, start, step;
} rebuild_share;

static void *rebuild_share_run(void *arg)
{
	rebuild_share *j = arg;
	for (size_t k = j->start; k < j->n; k += j->step) {
		cdir *d = j->dirs[k];
		d->l = (listing){ 0 };
		d->watchable = false;
		_cleanup_(closedirp) DIR *d2 = pve_dir_opendir_at(j->images_fd, d->name);
		struct stat st;
		d->opened = d2 && fstat(dirfd(d2), &st) == 0;
		if (!d->opened)
			continue;
		d->dev = st.st_dev;
		d->ino = st.st_ino;
		pve_dir_list_image_dir(j->s, d2, d->name, d->owner, IMAGE_CONTENT, &d->l,
				       &d->watchable);
	}
	return NULL;
}

/* Watches each stale directory again, then reads them (two threads for several, as
 * plugin-dir.c). */
static void rebuild(cstore *cs, const pve_storage *s, int images_fd, dev_t images_dev, cdir **stale,
		    size_t n)
{
	for (size_t k = 0; k < n; k++) {
		cdir *d = stale[k];
		_cleanup_free_ char *images = pve_storage_subdir(s, PVE_CONTENT_IMAGES);
		_cleanup_free_ char *p = xasprintf("%s/%s", images, d->name);
		int wd = inotify_add_watch(cs->ifd, p, WATCH_MASK);
		if (wd >= 0 && wd != d->wd) {
			/* the same inode under another name (a bind mount): one watch, one owner */
			for (size_t i = 0; i < cs->n; i++)
				if (cs->dirs[i] != d && cs->dirs[i]->wd == wd) {
					cs->dirs[i]->wd = -1;
					cs->dirs[i]->valid = false;
				}
			if (d->wd >= 0)
				inotify_rm_watch(cs->ifd, d->wd);
		}
		d->wd = wd;
	}
	rebuild_share mine = { s, images_fd, stale, n, 0, 1 }, other = mine;
	pthread_t t;
	bool threaded = n >= 4;
	if (threaded) {
		mine.step = other.step = 2;
		other.start = 1;
		threaded = pthread_create(&t, NULL, rebuild_share_run, &other) == 0;
		if (!threaded)
			mine.step = 1;
	}
	rebuild_share_run(&mine);
	if (threaded)
		pthread_join(t, NULL);
	time_t now = now_secs();
	for (size_t k = 0; k < n; k++) {
		cdir *d = stale[k];
		pve_volume_infos_free(d->v, d->n);
		if (d->l.n > 1)
			qsort(d->l.v, d->l.n, sizeof(*d->l.v), cmp_volid);
		d->v = d->l.v;
		d->n = d->l.n;
		d->l = (listing){ 0 };
		d->built = now;
		d->valid = d->wd >= 0 && d->opened && d->watchable && d->dev == images_dev &&
			   d->n < DIR_MAX_VOLUMES;
		if (!d->valid)
			forget(cs, d);
	}
}

/* The images and containers of s (vmid 0: every guest's) that content asks for into l, from the
 * cache where it holds. 0 when s's file system is not one to cache, so that nothing was listed. */
static int list_cached(cstore *cs, const pve_storage *s, long long vmid, unsigned content,
		       listing *l)
{
	_cleanup_free_ char *images = pve_storage_subdir(s, PVE_CONTENT_IMAGES);
	_cleanup_(closedirp) DIR *d = pve_dir_opendir_at(AT_FDCWD, images);
	struct statfs sf;
	struct stat ist;
	if (d && (fstatfs(dirfd(d), &sf) < 0 || fstat(dirfd(d), &ist) < 0))
		return 0;
	if (d && sf.f_type != EXT4_SUPER_MAGIC && sf.f_type != XFS_SUPER_MAGIC &&
	    sf.f_type != BTRFS_SUPER_MAGIC && sf.f_type != TMPFS_MAGIC)
		return 0;
	drain(cs);
	for (size_t i = 0; i < cs->n; i++)
		cs->dirs[i]->seen = false;
	time_t now = now_secs();
	_cleanup_free_ cdir **stale = NULL;
	size_t nstale = 0, nnames = 0, n0 = cs->n;
	struct dirent *e;
	while (d && (e = readdir(d)) && nnames < DIR_MAX_VOLUMES) {
		long long owner;
		if (!pve_dir_guest_dir(e->d_name, vmid, &owner))
			continue;
		nnames++;
		cdir *x = find_dir(cs, e->d_name);
		if (!x) {
			x = xcalloc(1, sizeof(*x));
			x->name = xstrdup(e->d_name);
			x->owner = owner;
			x->wd = -1;
			if (cs->n == cs->cap) {
				cs->cap = cs->cap ? cs->cap * 2 : 16;
				cs->dirs = xrealloc(cs->dirs, cs->cap * sizeof(*cs->dirs));
			}
			cs->dirs[cs->n++] = x; /* sorted in below */
		}
		x->seen = true;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_dev != x->dev || st.st_ino != x->ino || now - x->built >= CACHE_MAX_AGE)
			forget(cs, x);
		if (!x->valid) {
			if (nstale % 64 == 0)
				stale = xrealloc(stale, (nstale + 64) * sizeof(*stale));
			stale[nstale++] = x;
		}
	}
	if (cs->n != n0)
		qsort(cs->dirs, cs->n, sizeof(*cs->dirs), cmp_cdir);
	if (nstale)
		rebuild(cs, s, d ? dirfd(d) : -1, d ? ist.st_dev : 0, stale, nstale);
	/* a full listing drops the directories that are gone */
	size_t kept = 0;
	for (size_t i = 0; i < cs->n; i++) {
		cdir *x = cs->dirs[i];
		if (vmid || x->seen) {
			cs->dirs[kept++] = x;
			continue;
		}
		forget(cs, x);
		cdir_free(x);
	}
	cs->n = kept;
	for (size_t i = 0; i < cs->n; i++) {
		cdir *x = cs->dirs[i];
		if (!x->seen)
			continue;
		/* images and containers alike: the caller tells them apart */
		for (size_t k = 0; k < x->n && l->n < DIR_MAX_VOLUMES && content; k++) {
			const pve_volume_info *v = &x->v[k];
			pve_volume_info *o = listing_add(l);
			*o = *v;
			o->volid = xstrdup(v->volid);
			o->format = v->format ? xstrdup(v->format) : NULL;
			o->parent = v->parent ? xstrdup(v->parent) : NULL;
			o->notes = v->notes ? xstrdup(v->notes) : NULL;
		}
	}
	/* pved keeps at most CACHE_MAX_VOLUMES of a storage; directories past them are read each time */
	size_t held = 0;
	for (size_t i = 0; i < cs->n; i++) {
		cdir *x = cs->dirs[i];
		held += x->n;
		if (held > CACHE_MAX_VOLUMES) {
			forget(cs, x);
			pve_volume_infos_free(x->v, x->n);
			x->v = NULL;
			x->n = 0;
		}
	}
	return 1;
}

static bool cacheable(const pve_storage *s)
{
	return s->plugin == &pve_storage_plugin_dir && s->path && !s->shared;
}

int pve_storage_list_volumes_cached(pve_storage_list_cache *c, const pve_storage *s, long long vmid,
				    unsigned content, pve_volume_info **ret, size_t *ret_n,
				    pve_error **err)
{
	content &= s->content;
	if (c && c->pid != getpid())
		c = NULL;
	cstore *cs = NULL;
	if (c && cacheable(s) && (content & IMAGE_CONTENT))
		cs = store_get(c, s);
	if (!cs)
		return pve_storage_list_volumes(s, vmid, content, ret, ret_n, err);
	listing l = { 0 };
	pthread_mutex_lock(&cs->lock);
	int r = list_cached(cs, s, vmid, content & IMAGE_CONTENT, &l);
	pthread_mutex_unlock(&cs->lock);
	store_put(c, cs);
	if (r == 0)
		return pve_storage_list_volumes(s, vmid, content, ret, ret_n, err);
	if (content & ~IMAGE_CONTENT) {
		pve_volume_info *o = NULL;
		size_t on = 0;
		r = pve_storage_list_volumes(s, vmid, content & ~IMAGE_CONTENT, &o, &on, err);
		if (r < 0) {
			pve_volume_infos_free(l.v, l.n);
			return r;
		}
		size_t k = 0;
		for (; k < on && l.n < DIR_MAX_VOLUMES; k++)
			*listing_add(&l) = o[k];
		for (; k < on; k++)
			pve_volume_info_clear(&o[k]);
		free(o);
	}
	pve_storage_listing_classify(s, content, l.v, &l.n);
	/* the directories come out in volid order; linked clones ("STORE:base-...") and other
	 * content do not */
	bool sorted = true;
	for (size_t i = 1; i < l.n && sorted; i++)
		sorted = strcmp(l.v[i - 1].volid, l.v[i].volid) < 0;
	if (!sorted)
		qsort(l.v, l.n, sizeof(*l.v), cmp_volid);
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}
