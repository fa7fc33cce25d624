/* storage: volume export and import streams (pvesm export / import): Proxmox's FORMAT+size streams
 * built on the plugins' path, volume_size, alloc_image and free_image, so every plugin with those ops
 * sends and receives them; a plugin with a stream of its own overrides them in its ops table. */
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "storage/qemu-img-internal.h"
#include "storage/storage-internal.h"

#define COPY_BUF (1024 * 1024)
/* Zero blocks of this size are skipped where the target reads as zeros. */
#define ZERO_BLOCK (64 * 1024)
/* What we keep of a tool's stderr for the error message. */
#define TOOL_ERR_MAX (16 * 1024)
#define QEMU_IMG "/usr/bin/qemu-img"
#define TAR "/bin/tar"

/* Proxmox's COMMON_TAR_FLAGS: a container's files with their owners, modes, ACLs and xattrs. */
#define TAR_FLAGS                                                                       \
	"--one-file-system", "-p", "--sparse", "--numeric-owner", "--acls", "--xattrs", \
		"--xattrs-include=user.*", "--xattrs-include=security.capability",      \
		"--warning=no-file-ignored", "--warning=no-xattr-write"

typedef enum xfmt { XF_RAW, XF_QCOW2, XF_VMDK, XF_TAR, XF_N } xfmt;

static const char *const xfmt_names[XF_N] = { "raw+size", "qcow2+size", "vmdk+size", "tar+size" };
/* The volume format each stream holds. */
static const char *const xfmt_volfmt[XF_N] = { "raw", "qcow2", "vmdk", "subvol" };

static int xfmt_parse(const char *name)
{
	for (int i = 0; i < XF_N; i++)
		if (name && streq(name, xfmt_names[i]))
			return i;
	return -1;
}

static int xfmt_of_volfmt(const char *fmt)
{
	for (int i = 0; i < XF_N; i++)
		if (fmt && streq(fmt, xfmt_volfmt[i]))
			return i;
	return -1;
}

static char **strv_of(const char *a)
{
	char **v = xcalloc(2, sizeof(*v));
	if (a)
		v[0] = xstrdup(a);
	return v;
}

/* ---- plain I/O ------------------------------------------------------------------------------------ */

/* Copies n bytes from in (a file or block device) to out (anything): copy_file_range between files,
 * sendfile to pipes and sockets, read and write where neither works. -ENODATA when in ends early. */
static int copy_out(int in, int out, uint64_t n)
{
	struct stat so;
	bool files = fstat(out, &so) == 0 && S_ISREG(so.st_mode);
	bool try_cfr = files, try_sendfile = true;
	_cleanup_free_ char *buf = NULL;
	while (n) {
		size_t chunk = n < (1u << 30) ? (size_t)n : (1u << 30);
		ssize_t w = -1;
		if (try_cfr) {
			w = copy_file_range(in, NULL, out, NULL, chunk, 0);
			if (w < 0 && errno != EINTR) {
				try_cfr = false;
				continue;
			}
		} else if (try_sendfile) {
			w = sendfile(out, in, NULL, chunk);
			if (w < 0 && (errno == EINVAL || errno == ENOSYS)) {
				try_sendfile = false;
				continue;
			}
		} else {
			if (!buf)
				buf = xmalloc(COPY_BUF);
			ssize_t r = read(in, buf, chunk < COPY_BUF ? chunk : COPY_BUF);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -errno;
			if (r == 0)
				return -ENODATA;
			int e = pve_write_all(out, buf, (size_t)r);
			if (e < 0)
				return e;
			w = r;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -ENODATA;
		n -= (uint64_t)w;
	}
	return 0;
}

static bool all_zero(const char *p, size_t n)
{
	static const char zeros[4096];
	while (n) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
		if (memcmp(p, zeros, k) != 0)
			return false;
		p += k;
		n -= k;
	}
	return true;
}

/* Writes buf at off; with sparse, zero blocks are left out (the target reads as zeros there). */
static int write_at(int fd, const char *buf, size_t n, uint64_t off, bool sparse)
{
	for (size_t done = 0; done < n;) {
		size_t k = n - done < ZERO_BLOCK ? n - done : ZERO_BLOCK;
		if (!(sparse && all_zero(buf + done, k))) {
			for (size_t w = 0; w < k;) {
				ssize_t r =
					pwrite(fd, buf + done + w, k - w, (off_t)(off + done + w));
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					return r < 0 ? -errno : -EIO;
				w += (size_t)r;
			}
		}
		done += k;
	}
	return 0;
}

/* Copies the rest of an import stream (n bytes after head) into out; -ENODATA when it ends early,
 * -EMSGSIZE when it goes on past n. */
static int copy_in(int in, int out, const char *head, size_t head_len, uint64_t n, bool sparse)
{
	int r = write_at(out, head, head_len, 0, sparse);
	if (r < 0)
		return r;
	uint64_t off = head_len;
	_cleanup_free_ char *buf = xmalloc(COPY_BUF);
	while (off < n) {
		size_t want = n - off < COPY_BUF ? (size_t)(n - off) : COPY_BUF;
		ssize_t got = pve_read_full(in, buf, want);
		if (got < 0)
			return (int)got;
		if (got == 0)
			return -ENODATA;
		r = write_at(out, buf, (size_t)got, off, sparse);
		if (r < 0)
			return r;
		off += (uint64_t)got;
	}
	char extra;
	ssize_t more = pve_read_full(in, &extra, 1);
	if (more < 0)
		return (int)more;
	return more ? -EMSGSIZE : 0;
}

/* Runs argv (absolute argv[0], no shell, a fixed environment) with stdin and stdout on the given fds;
 * EIO with the tool's stderr when it fails. */
static int run_with_fds(const char *const argv[], int in_fd, int out_fd, pve_error **err)
{
	const char *name = strrchr(argv[0], '/') + 1;
	int errp[2];
	if (pipe2(errp, O_CLOEXEC) < 0)
		return pve_error_set(err, errno, "%s: pipe: %m", name);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(errp[0]);
		close(errp[1]);
		return pve_error_set(err, e, "%s: fork: %s", name, strerror(e));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		/* dup2 clears O_CLOEXEC on the copies; a fd already in place needs it cleared */
		if (devnull < 0 || dup2(in_fd >= 0 ? in_fd : devnull, 0) < 0 ||
		    dup2(out_fd >= 0 ? out_fd : devnull, 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(127);
		if (in_fd == 0)
			fcntl(0, F_SETFD, 0);
		if (out_fd == 1)
			fcntl(1, F_SETFD, 0);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		static char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
					      (char *)"LC_ALL=C", NULL };
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	close(errp[1]);
	_cleanup_close_ int efd = errp[0];
	char msg[TOOL_ERR_MAX];
	size_t len = 0;
	for (;;) {
		char tmp[4096];
		ssize_t r = read(efd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t k = (size_t)r < sizeof(msg) - 1 - len ? (size_t)r : sizeof(msg) - 1 - len;
		memcpy(msg + len, tmp, k);
		len += k;
	}
	msg[len] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return pve_error_set(err, errno, "%s: waitpid: %m", name);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	while (len && msg[len - 1] == ' ')
		msg[--len] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !len)
		return pve_error_set(err, ENOENT, "%s: cannot be run", argv[0]);
	return pve_error_set(err, EIO, "%s %s failed: %s", name, argv[1] ? argv[1] : "",
			     len ? msg : "(no message)");
}

/* ---- formats ------------------------------------------------------------------------------------- */

/* Whether a qcow2 file names a backing file (a linked clone): its bytes alone are not the disk. */
static bool qcow2_has_backing(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char h[20];
	return fd >= 0 && pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	       memcmp(h, "QFI\xfb", 4) == 0 && pve_get_be64(h + 8) != 0;
}

/* The volume's format and size limit, and whether it is a subvolume; for export. */
static int volume_format(const pve_storage *s, const char *volname, char **ret_fmt,
			 uint64_t *ret_size, pve_error **err)
{
	int r = pve_storage_volume_size(s, volname, ret_size, NULL, ret_fmt, err);
	if (r < 0)
		return r;
	if (!*ret_fmt || xfmt_of_volfmt(*ret_fmt) < 0) {
		r = pve_error_set(err, EINVAL, "volume '%s:%s' (format '%s') can't be exported",
				  s->id, volname, *ret_fmt ? *ret_fmt : "none");
		free(TAKE_PTR(*ret_fmt));
		return r;
	}
	return 0;
}

int pve_storage_volume_export_formats(const pve_storage *s, const char *volname, const char *snap,
				      char ***ret, pve_error **err)
{
	*ret = NULL;
	if (snap && pve_storage_check_snapname(snap, err) < 0)
		return -EINVAL;
	if (s->plugin->volume_export_formats)
		return s->plugin->volume_export_formats(s, volname, snap, ret, err);
	if (!s->plugin->path || !s->plugin->volume_size) {
		*ret = strv_of(NULL);
		return 0;
	}
	_cleanup_free_ char *fmt = NULL;
	uint64_t size;
	int r = volume_format(s, volname, &fmt, &size, err);
	if (r < 0)
		return r;
	int xf = xfmt_of_volfmt(fmt);
	if (snap) {
		/* a snapshot must have a path of its own (or be qcow2's, which qemu-img reads) */
		_cleanup_free_ char *path = NULL;
		pve_error *e = NULL;
		if (xf == XF_VMDK || pve_storage_path(s, volname, snap, &path, &e) < 0) {
			pve_error_free(e);
			*ret = strv_of(NULL);
			return 0;
		}
	}
	*ret = strv_of(xfmt_names[xf]);
	return 0;
}

int pve_storage_volume_import_formats(const pve_storage *s, const char *volname, char ***ret,
				      pve_error **err)
{
	*ret = NULL;
	if (s->plugin->volume_import_formats)
		return s->plugin->volume_import_formats(s, volname, ret, err);
	if (!s->plugin->alloc_image || !s->plugin->path) {
		*ret = strv_of(NULL);
		return 0;
	}
	long long vmid;
	_cleanup_free_ char *fmt = NULL;
	pve_volname v = { 0 };
	if (pve_storage_parse_volname(volname, &v, NULL) == 0 && v.vtype == PVE_CONTENT_IMAGES) {
		fmt = TAKE_PTR(v.format);
		pve_volname_clear(&v);
	} else if (!strchr(volname, '/') &&
		   pve_storage_parse_image_name(volname, false, &vmid, NULL, &fmt) == 0) {
		if (!fmt)
			fmt = xstrdup("raw");
	} else {
		pve_volname_clear(&v);
		return pve_error_set(err, EINVAL, "unable to parse volume name '%.200s'", volname);
	}
	int xf = xfmt_of_volfmt(fmt);
	*ret = strv_of(xf >= 0 ? xfmt_names[xf] : NULL);
	return 0;
}

/* ---- export ------------------------------------------------------------------------------------- */

static int write_header(int out_fd, uint64_t size, pve_error **err)
{
	unsigned char h[8];
	for (int i = 0; i < 8; i++)
		h[i] = (unsigned char)(size >> (8 * i));
	int r = pve_write_all(out_fd, h, sizeof(h));
	if (r < 0)
		return pve_error_set(err, -r, "unable to write the export stream: %s",
				     strerror(-r));
	return 0;
}

/* The size of an open file or block device. */
static int fd_size(int fd, uint64_t *ret)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*ret = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, ret) < 0 ? -errno : 0;
	return -EINVAL;
}

/* Streams an open file: the header with its size, then its bytes. */
static int export_file(int fd, const char *path, int out_fd, pve_error **err)
{
	uint64_t size;
	int r = fd_size(fd, &size);
	if (r < 0)
		return pve_error_set(err, -r, "unable to size '%s': %s", path, strerror(-r));
	if (write_header(out_fd, size, err) < 0)
		return -EIO;
	r = copy_out(fd, out_fd, size);
	if (r == -ENODATA)
		return pve_error_set(err, EIO, "'%s' ended before its size", path);
	if (r < 0)
		return pve_error_set(err, -r, "export of '%s' failed: %s", path, strerror(-r));
	return 0;
}

/* A qcow2 image at a snapshot, or a linked clone flattened, as one self-contained qcow2 file: written
 * next to the volume under a hidden name, opened, and unlinked before it is streamed. */
static int export_qcow2_flat(const char *path, const char *snap, int out_fd, pve_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return pve_error_set(err, EINVAL, "bad path '%s'", path);
	*slash = '\0';
	_cleanup_free_ char *tmp =
		xasprintf("%s/.pved-export-%d-%s", dir, (int)getpid(), slash + 1);
	_cleanup_free_ char *sn = snap ? xasprintf("snapshot.name=%s", snap) : NULL;
	const char *argv[12] = { QEMU_IMG, "convert", "-f", "qcow2", "-O", "qcow2" };
	size_t n = 6;
	if (snap) {
		argv[n++] = "-l";
		argv[n++] = sn;
	}
	argv[n++] = path;
	argv[n++] = tmp;
	argv[n] = NULL;
	int r = run_with_fds(argv, -1, -1, err);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	_cleanup_close_ int fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int e = errno;
	unlink(tmp);
	if (fd < 0)
		return pve_error_set(err, e, "unable to open '%s': %s", tmp, strerror(e));
	return export_file(fd, path, out_fd, err);
}

static int export_tar(const char *dir, uint64_t size, int out_fd, pve_error **err)
{
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return pve_error_set(err, ENOENT, "'%s' is not a directory", dir);
	if (write_header(out_fd, size, err) < 0)
		return -EIO;
	const char *argv[] = { TAR, TAR_FLAGS, "-cf", "-", "-C", dir, ".", NULL };
	return run_with_fds(argv, -1, out_fd, err);
}

int pve_storage_volume_export(const pve_storage *s, const char *volname, const char *format,
			      const char *snap, int out_fd, pve_error **err)
{
	if (snap && pve_storage_check_snapname(snap, err) < 0)
		return -EINVAL;
	if (s->plugin->volume_export)
		return s->plugin->volume_export(s, volname, format, snap, out_fd, err);
	_cleanup_strv_free_ char **formats = NULL;
	int r = pve_storage_volume_export_formats(s, volname, snap, &formats, err);
	if (r < 0)
		return r;
	bool ok = false;
	for (char **f = formats; *f; f++)
		ok |= streq(*f, format);
	if (!ok) {
		_cleanup_free_ char *avail = pve_strv_join(formats, ", ");
		return pve_error_set_param(
			err, EINVAL, "format",
			"volume '%s:%s'%s%s can't be exported as '%.32s' (available: %s)", s->id,
			volname, snap ? " at snapshot " : "", snap ? snap : "", format,
			*avail ? avail : "none");
	}
	int xf = xfmt_parse(format);
	_cleanup_free_ char *fmt = NULL, *path = NULL;
	uint64_t size;
	r = volume_format(s, volname, &fmt, &size, err);
	if (r < 0)
		return r;
	r = pve_storage_activate_volume(s, volname, snap, err);
	if (r < 0)
		return r;
	/* qcow2 snapshots are inside the file: qemu-img reads them from the volume's path */
	const char *psnap = xf == XF_QCOW2 ? NULL : snap;
	r = pve_storage_path(s, volname, psnap, &path, err);
	if (r < 0)
		goto out;
	if (xf == XF_TAR) {
		r = export_tar(path, size, out_fd, err);
	} else if (xf == XF_QCOW2 && (snap || qcow2_has_backing(path))) {
		r = export_qcow2_flat(path, snap, out_fd, err);
	} else {
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = pve_error_set(err, errno, "unable to open '%s': %m", path);
		else
			r = export_file(fd, path, out_fd, err);
	}
out:
	/* a snapshot was activated for this export only; the volume itself may be in use */
	if (snap && psnap)
		pve_storage_deactivate_volume(s, volname, snap, NULL);
	return r;
}

/* ---- import ------------------------------------------------------------------------------------- */

/* The target of an import: owner, name to allocate and format, from a volume name of either kind
 * ("100/vm-100-disk-0.raw", "vm-100-disk-0"). */
static int import_target(const char *volname, long long *vmid, char **name, char **fmt,
			 pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	if (volname && pve_storage_parse_volname(volname, &v, NULL) == 0) {
		if (v.vtype != PVE_CONTENT_IMAGES)
			return pve_error_set(err, EINVAL, "volume '%s' is not a disk image",
					     volname);
		*vmid = v.vmid;
		*name = TAKE_PTR(v.name);
		*fmt = TAKE_PTR(v.format);
		return 0;
	}
	/* block storages: a bare image name, or a linked clone's base/name (imported as a full copy) */
	const char *n = volname ? strrchr(volname, '/') : NULL;
	n = n ? n + 1 : volname;
	if (n && pve_storage_volname_safe(volname) &&
	    pve_storage_parse_image_name(n, false, vmid, NULL, fmt) == 0) {
		*name = xstrdup(n);
		if (!*fmt)
			*fmt = xstrdup("raw");
		return 0;
	}
	return pve_error_set(err, EINVAL, "unable to parse volume name '%.200s'",
			     volname ? volname : "");
}

/* Checks what an image stream starts with before anything is allocated; the virtual size to allocate. */
static int check_image_head(xfmt xf, const unsigned char *h, size_t n, uint64_t *ret_vsize,
			    pve_error **err)
{
	if (xf == XF_QCOW2) {
		if (n < 104 || memcmp(h, "QFI\xfb", 4) != 0)
			return pve_error_set(err, EINVAL, "import stream is not a qcow2 image");
		uint32_t version = pve_get_be32(h + 4);
		if (version < 2 || version > 3)
			return pve_error_set(err, EINVAL, "unsupported qcow2 version %u", version);
		/* a backing file or an external data file would make the new volume read another
		 * file of this host */
		if (pve_get_be64(h + 8) != 0)
			return pve_error_set(err, EINVAL,
					     "import stream is a qcow2 image with a backing file");
		/* incompatible features: dirty, corrupt, compression type and extended L2 are
		 * the image's own business; an external data file (bit 2) or one we don't know is
		 * refused */
		if (version == 3 && (pve_get_be64(h + 72) & ~(uint64_t)0x1b))
			return pve_error_set(
				err, EINVAL,
				"import stream is a qcow2 image with unsupported features (an external data file?)");
		*ret_vsize = pve_get_be64(h + 24);
	} else if (xf == XF_VMDK) {
		/* only hosted sparse extents, which hold their own data: a descriptor file names
		 * others */
		if (n < 512 || memcmp(h, "KDMV", 4) != 0)
			return pve_error_set(err, EINVAL,
					     "import stream is not a sparse (hosted) vmdk image");
		*ret_vsize = pve_get_le64(h + 12) * 512;
	}
	if ((xf == XF_QCOW2 || xf == XF_VMDK) &&
	    (*ret_vsize == 0 || *ret_vsize > PVE_STORAGE_IMPORT_SIZE_MAX))
		return pve_error_set(err, EINVAL, "import stream: bad image size %llu",
				     (unsigned long long)*ret_vsize);
	return 0;
}

/* After an image file arrived: qemu-img must read it as fmt, standing alone. */
static int check_image_file(const char *path, const char *fmt, pve_error **err)
{
	_cleanup_(pve_qemu_img_info_clear) pve_qemu_img_info i = { 0 };
	if (pve_qemu_img_read_info(path, fmt, &i, err) < 0)
		return -EIO;
	if (!i.format || !streq(i.format, fmt))
		return pve_error_set(err, EINVAL, "imported image is not %s", fmt);
	if (i.backing_file)
		return pve_error_set(err, EINVAL, "imported image has a backing file");
	if (i.data_file)
		return pve_error_set(err, EINVAL, "imported image has an external data file");
	for (char **fn = i.extents; *fn; fn++)
		if (!streq(*fn, path))
			return pve_error_set(err, EINVAL, "imported vmdk image names other files");
	return 0;
}

/* Allocates the target: the name given, or with allow_rename the next free one when that exists. */
static int import_alloc(const pve_storage *s, long long vmid, const char *fmt, const char *name,
			uint64_t size, bool allow_rename, char **ret_volname, pve_error **err)
{
	pve_error *e = NULL;
	int r = pve_storage_alloc_image(s, vmid, fmt, name, size, ret_volname, &e);
	/* a subvolume without size limits (no quotas) takes one of 0 */
	if (r < 0 && streq(fmt, "subvol") && size && streq_ptr(e->param, "size")) {
		pve_error_free(e);
		e = NULL;
		size = 0;
		r = pve_storage_alloc_image(s, vmid, fmt, name, size, ret_volname, &e);
	}
	if (r == -EEXIST && allow_rename) {
		pve_error_free(e);
		return pve_storage_alloc_image(s, vmid, fmt, NULL, size, ret_volname, err);
	}
	if (r == -EEXIST) {
		pve_error_free(e);
		return pve_error_set(err, EEXIST, "volume '%s:%s' already exists", s->id, name);
	}
	if (r < 0) {
		if (err)
			*err = e;
		else
			pve_error_free(e);
	}
	return r;
}

/* Fills the allocated volume from the stream. */
static int import_data(const pve_storage *s, const char *volname, xfmt xf, int in_fd,
		       const unsigned char *head, size_t head_len, uint64_t size, pve_error **err)
{
	int r = pve_storage_activate_volume(s, volname, NULL, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = NULL;
	r = pve_storage_path(s, volname, NULL, &path, err);
	if (r < 0)
		return r;
	if (xf == XF_TAR) {
		const char *argv[] = { TAR, TAR_FLAGS, "-C", path, "-xf", "-", NULL };
		return run_with_fds(argv, in_fd, -1, err);
	}
	/* an image file is replaced whole; a raw file or device is written over */
	int flags = O_WRONLY | O_CLOEXEC | (xf == XF_RAW ? 0 : O_TRUNC);
	_cleanup_close_ int fd = open(path, flags);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return pve_error_set(err, errno, "unable to open '%s': %m", path);
	if (!S_ISREG(st.st_mode) && !(S_ISBLK(st.st_mode) && xf == XF_RAW))
		return pve_error_set(err, EINVAL, "'%s' is not a file or block device", path);
	uint64_t have;
	if (S_ISBLK(st.st_mode) && (fd_size(fd, &have) < 0 || have < size))
		return pve_error_set(err, ENOSPC, "'%s' is smaller than the stream's %llu bytes",
				     path, (unsigned long long)size);
	bool sparse = S_ISREG(st.st_mode) || s->plugin->new_volumes_read_zero;
	r = copy_in(in_fd, fd, (const char *)head, head_len, size, sparse);
	if (r == -ENODATA)
		return pve_error_set(err, EPIPE, "import stream ended before its %llu bytes",
				     (unsigned long long)size);
	if (r == -EMSGSIZE)
		return pve_error_set(err, EINVAL, "import stream goes on past its %llu bytes",
				     (unsigned long long)size);
	if (r < 0)
		return pve_error_set(err, -r, "unable to write '%s': %s", path, strerror(-r));
	/* skipped zeros at the end leave a file short; a raw file allocated bigger stays so */
	if (S_ISREG(st.st_mode) && (xf != XF_RAW || (uint64_t)st.st_size < size) &&
	    ftruncate(fd, (off_t)size) < 0)
		return pve_error_set(err, errno, "unable to size '%s': %m", path);
	if (fdatasync(fd) < 0)
		return pve_error_set(err, errno, "unable to sync '%s': %m", path);
	if (xf == XF_QCOW2 || xf == XF_VMDK)
		return check_image_file(path, xfmt_volfmt[xf], err);
	return 0;
}

int pve_storage_volume_import(const pve_storage *s, const char *volname, const char *format,
			      int in_fd, bool allow_rename, char **ret_volname, pve_error **err)
{
	if (s->plugin->volume_import)
		return s->plugin->volume_import(s, volname, format, in_fd, allow_rename,
						ret_volname, err);
	if (!s->plugin->alloc_image || !s->plugin->free_image || !s->plugin->path)
		return pve_error_set(err, ENOSYS, "storage '%s': type '%s' does not support import",
				     s->id, s->type);
	int xf = xfmt_parse(format);
	if (xf < 0)
		return pve_error_set_param(err, EINVAL, "format",
					   "volume import format '%.32s' not available", format);
	long long vmid;
	_cleanup_free_ char *name = NULL, *fmt = NULL;
	if (import_target(volname, &vmid, &name, &fmt, err) < 0)
		return -EINVAL;
	if (!streq(fmt, xfmt_volfmt[xf]))
		return pve_error_set_param(
			err, EINVAL, "format",
			"import format '%s' does not fit volume '%s' (format '%s': use '%s')",
			format, volname, fmt,
			xfmt_of_volfmt(fmt) >= 0 ? xfmt_names[xfmt_of_volfmt(fmt)] : "none");

	unsigned char h[8];
	ssize_t got = pve_read_full(in_fd, h, sizeof(h));
	if (got < 0)
		return pve_error_set(err, (int)-got, "unable to read the import stream: %s",
				     strerror((int)-got));
	if (got < (ssize_t)sizeof(h))
		return pve_error_set(err, EINVAL, "import stream too short: no size header");
	uint64_t size = pve_get_le64(h);
	if (size > PVE_STORAGE_IMPORT_SIZE_MAX)
		return pve_error_set(err, EFBIG,
				     "import stream size %llu is over the limit of %llu",
				     (unsigned long long)size, PVE_STORAGE_IMPORT_SIZE_MAX);
	if (xf != XF_TAR && size == 0)
		return pve_error_set(err, EINVAL, "import stream has no size");

	/* the start of an image before anything is allocated: a wrong or empty stream leaves nothing */
	_cleanup_free_ unsigned char *head = NULL;
	size_t head_len = 0;
	uint64_t alloc_size = size;
	if (xf != XF_TAR) {
		size_t want = size < ZERO_BLOCK ? (size_t)size : ZERO_BLOCK;
		head = xmalloc(want);
		got = pve_read_full(in_fd, head, want);
		if (got < 0)
			return pve_error_set(err, (int)-got, "unable to read the import stream: %s",
					     strerror((int)-got));
		if ((size_t)got < want)
			return pve_error_set(err, EPIPE,
					     "import stream ended before its %llu bytes",
					     (unsigned long long)size);
		head_len = want;
		if (check_image_head(xf, head, head_len, &alloc_size, err) < 0)
			return -EINVAL;
	}

	_cleanup_free_ char *newvol = NULL;
	int r = import_alloc(s, vmid, fmt, name, alloc_size, allow_rename, &newvol, err);
	if (r < 0)
		return r;
	r = import_data(s, newvol, xf, in_fd, head, head_len, size, err);
	if (r < 0) {
		pve_storage_deactivate_volume(s, newvol, NULL, NULL);
		pve_storage_free_image(s, newvol, NULL);
		return r;
	}
	*ret_volname = TAKE_PTR(newvol);
	return 0;
}
