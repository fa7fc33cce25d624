/* The upload handlers: .../storage/{storage}/upload (a form that pved-api parsed, its file streamed to a
 * file in the storage, checksummed on the way, linked into place only when complete and verified) and
 * download-url for file:// URLs (a copy from a file on this node, as a task, with the same
 * verification). */
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "daemon/storage/storage-internal.h"
#include "storage/storage.h"

#define STORAGE_CFG "storage.cfg"
#define COPY_CHUNK (1u << 20)
/* An upload's blocks are reserved ahead of its writes (ext4's delayed allocation per page cost a fifth
 * of pved's time in an upload, an eighth with the blocks reserved), but never more than it has written
 * so far and at most RESERVE_AHEAD: a client that declares a large body and trickles it holds no space
 * it has not earned, where the storage shares a file system with etc/pve. */
#define RESERVE_AHEAD (64ull << 20)
/* After UPLOAD_RATE_GRACE s an upload must have averaged UPLOAD_MIN_RATE bytes/s, else it ends with 408:
 * a byte now and then would hold its connection and its partial file for ever. The environment may set
 * others (PVED_UPLOAD_MIN_RATE, PVED_UPLOAD_RATE_GRACE; tests make them small). */
#define UPLOAD_MIN_RATE (64u << 10)
#define UPLOAD_RATE_GRACE 60

/* ---- shared pieces ------------------------------------------------------------------------------------- */

/* The storage to write to, enabled on this node; its activation (a mount, for a network storage) is the
 * caller's, off the loop: see prepare_storage. */
static int load_storage(pved *d, const char *id, pve_sectioncfg **ret_cfg, pve_storage *st,
			pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = pve_store_read(d->store, STORAGE_CFG, &text, &len, NULL, NULL);
	/* Proxmox's storage_check_enabled dies for these: plain 500s. */
	if (r == -ENOENT)
		return pve_error_set(err, EIO, "storage '%s' does not exist", id);
	if (r < 0)
		return pve_error_set(err, -r, "unable to read storage.cfg: %s", strerror(-r));
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	if (pve_sectioncfg_parse(text, len, &cfg, err) < 0)
		return -EINVAL;
	if (pve_storage_get(cfg, id, st, err) < 0) {
		if (err && *err)
			(*err)->code = EIO;
		return -ENOENT;
	}
	if (pve_storage_check_section(st->section, err) < 0)
		return -EINVAL;
	if (!pve_storage_on_node(st, d->node))
		return pve_error_set(err, EIO, "storage '%s' is not available on node '%s'", id,
				     d->node);
	if (st->disabled)
		return pve_error_set(err, EIO, "storage '%s' is disabled", id);
	*ret_cfg = TAKE_PTR(cfg);
	return 0;
}

/* On the storage queue: activates st and checks that size bytes fit on it. */
static int prepare_storage(pved *d, const pve_storage *st, uint64_t size, pve_error **err)
{
	if (pved_storage_activate(d, st, err) < 0)
		return -EIO;
	struct statvfs sv;
	if (st->path && statvfs(st->path, &sv) == 0 && size > (uint64_t)sv.f_bavail * sv.f_frsize)
		return pve_error_set(err, ENOSPC,
				     "not enough space on storage '%s': %" PRIu64
				     " bytes needed, %" PRIu64 " available",
				     st->id, size, (uint64_t)sv.f_bavail * sv.f_frsize);
	return 0;
}

/* The target of content/filename on the storage: checks the content type and the name (a plain file
 * name with the type's extension); unless replace, also that nothing is there yet. */
static int target_path(const pve_storage *st, const char *content, const char *filename,
		       bool replace, char **ret_path, char **ret_volid, pve_error **err)
{
	unsigned bit = pve_storage_content_from_name(content);
	/* snippets beyond Proxmox (which has no way to upload them): cicustom's files and hookscripts */
	if (!bit || !(bit & (PVE_CONTENT_ISO | PVE_CONTENT_VZTMPL | PVE_CONTENT_IMPORT |
			     PVE_CONTENT_SNIPPETS)))
		return pve_error_set_param(err, EINVAL, "content", "invalid content type '%s'",
					   content);
	if (pve_storage_check_content(st, bit, err) < 0)
		return -EINVAL;
	/* a volume name may hold a space now (an OVA's disks), an uploaded file's name still not */
	if (!filename[0] || strpbrk(filename, "/ ") || streq(filename, ".") ||
	    streq(filename, ".."))
		return pve_error_set_param(err, EINVAL, "filename", "invalid filename '%s'",
					   filename);
	_cleanup_free_ char *volname = xasprintf("%s/%s", content, filename);
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	if (pve_storage_parse_volname(volname, &v, NULL) < 0 || v.vtype != bit)
		return pve_error_set_param(err, EINVAL, "filename",
					   "wrong file extension for content type '%s': '%s'",
					   content, filename);
	_cleanup_free_ char *path = NULL;
	if (pve_storage_path(st, volname, NULL, &path, err) < 0)
		return -EINVAL;
	if (!replace && access(path, F_OK) == 0)
		return pve_error_set(err, EEXIST, "refusing to override existing file '%s'", path);
	*ret_path = TAKE_PTR(path);
	*ret_volid = xasprintf("%s:%s", st->id, volname);
	return 0;
}

/* A file being written in the directory of path: unnamed (O_TMPFILE) where the file system can, so
 * nothing is left whatever happens to us; else a hidden name removed on failure. */
typedef struct tmpfile {
	int fd;
	char *named; /* the fallback's path, or NULL */
} tmpfile_t;

static int tmpfile_open(const char *path, tmpfile_t *t, pve_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return pve_error_set(err, EINVAL, "bad target path '%s'", path);
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return pve_error_set(err, errno, "unable to create directory '%s': %m", dir);
	t->named = NULL;
	t->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (t->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return pve_error_set(err, errno, "unable to create a file in '%s': %m", dir);
	t->named = xasprintf("%s/.pveupload-XXXXXX", dir);
	t->fd = mkostemp(t->named, O_CLOEXEC);
	if (t->fd < 0) {
		int e = errno;
		free(t->named);
		t->named = NULL;
		return pve_error_set(err, e, "unable to create a file in '%s': %s", dir,
				     strerror(e));
	}
	fchmod(t->fd, 0644);
	return 0;
}

static void tmpfile_discard(tmpfile_t *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->named)
		unlink(t->named);
	free(t->named);
	t->named = NULL;
}

/* An unnamed file gets a hidden name beside path, for a rename over what is there. */
static int tmpfile_name(tmpfile_t *t, const char *path, pve_error **err)
{
	_cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", t->fd);
	for (unsigned i = 0; i < 16; i++) {
		unsigned char rnd[6];
		if (getentropy(rnd, sizeof(rnd)) < 0)
			return pve_error_set(err, errno, "getentropy: %m");
		_cleanup_free_ char *name = xasprintf("%s.tmp_upl.%02x%02x%02x%02x%02x%02x", path,
						      rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
						      rnd[5]);
		if (linkat(t->fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0 ||
		    (errno != EEXIST &&
		     linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0)) {
			t->named = TAKE_PTR(name);
			return 0;
		}
		if (errno != EEXIST)
			return pve_error_set(err, errno, "unable to move into place '%s': %m",
					     path);
	}
	return pve_error_set(err, EEXIST, "unable to move into place '%s'", path);
}

/* Gives the file its final name. With replace, a file already there is replaced at once (a rename: a
 * reader sees the old file or the new one, never half of it), as Proxmox's upload overwrites; without,
 * one that appeared meanwhile is never replaced. */
static int tmpfile_commit(tmpfile_t *t, const char *path, bool replace, pve_error **err)
{
	int r = 0;
	if (replace && !t->named && tmpfile_name(t, path, err) < 0) {
		tmpfile_discard(t);
		return -EIO;
	}
	if (t->named) {
		if (renameat2(AT_FDCWD, t->named, AT_FDCWD, path, replace ? 0 : RENAME_NOREPLACE) <
		    0)
			r = pve_error_set(err, errno, "unable to move into place '%s': %m", path);
	} else if (linkat(t->fd, "", AT_FDCWD, path, AT_EMPTY_PATH) < 0) {
		_cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", t->fd);
		if (errno == EEXIST ||
		    linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0)
			r = pve_error_set(err, errno, "unable to move into place '%s': %m", path);
	}
	if (r == 0) {
		free(t->named);
		t->named = NULL;
	}
	tmpfile_discard(t);
	return r;
}

static const EVP_MD *checksum_md(const char *alg)
{
	static const char *const names[] = { "md5", "sha1", "sha224", "sha256", "sha384", "sha512" };
	for (size_t i = 0; alg && i < ELEMENTSOF(names); i++)
		if (streq(alg, names[i]))
			return EVP_get_digestbyname(alg);
	return NULL;
}

static char *digest_hex(EVP_MD_CTX *md)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(md, d, &n);
	char *s = xmalloc(2 * n + 1);
	for (unsigned i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", d[i]);
	return s;
}

/* The first of a validation's "errors" as a parameter error. */
static int params_error(cJSON *errors, pve_error **err)
{
	const cJSON *e = errors ? errors->child : NULL;
	int r = pve_error_set_param(err, EINVAL, e ? e->string : "params", "%s",
				    cJSON_IsString(e) ? e->valuestring : "invalid parameters");
	cJSON_Delete(errors);
	return r;
}

/* ---- the imgcopy task: reports what the upload did ------------------------------------------------------ */

static const char *arg_str(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* args: {source, target, size, algorithm and got (with a checksum), error (on failure)} */
static int report_task(pved *d, const cJSON *args, pve_error **err)
{
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(args, "size");
	printf("starting file import from: %s\n", arg_str(args, "source"));
	printf("target node: %s\n", d->node);
	printf("target file: %s\n", arg_str(args, "target"));
	printf("file size is: %" PRIu64 "\n",
	       cJSON_IsNumber(size) ? (uint64_t)size->valuedouble : 0);
	if (arg_str(args, "algorithm"))
		printf("calculated checksum (%s): %s\n", arg_str(args, "algorithm"),
		       arg_str(args, "got"));
	if (arg_str(args, "error"))
		return pve_error_set(err, EIO, "%s", arg_str(args, "error"));
	printf("finished file import successfully\n");
	return 0;
}

/* ---- upload ------------------------------------------------------------------------------------------------ */

typedef struct upload {
	pved_call *c;
	pve_sectioncfg *cfg;
	pve_storage st;
	cJSON *params; /* path and query parameters, then the form's text fields */
	bool had_file;
	tmpfile_t tmp;
	char *path, *volid;
	EVP_MD_CTX *md;
	const char *algorithm, *expected;
	uint64_t size; /* file bytes written */
	uint64_t reserved; /* bytes reserved ahead (fallocate, size kept) */
	bool no_reserve; /* the file system cannot */
	int prepared; /* prepare_storage's result */
	pve_error *err; /* ... and error */
	struct event *rate_timer;
	struct timespec started;
	uint64_t min_rate;
	long grace;
} upload;

static void upload_free(upload *u)
{
	if (u->rate_timer)
		event_free(u->rate_timer);
	tmpfile_discard(&u->tmp);
	pve_sectioncfg_free(u->cfg);
	cJSON_Delete(u->params);
	free(u->path);
	free(u->volid);
	EVP_MD_CTX_free(u->md);
	pve_error_free(u->err);
	free(u);
}

/* Ends the upload with err: no space is the client's to fix (413, a smaller file or another storage:
 * Proxmox answers 500 for a failed write), too slow is 408. */
static void upload_fail(upload *u, pve_error *err)
{
	pved_call *c = u->c;
	upload_free(u);
	if (err->code == ENOSPC || err->code == EDQUOT)
		pved_call_fail_status(c, 413, err);
	else if (err->code == ETIMEDOUT)
		pved_call_fail_status(c, 408, err);
	else
		pved_call_fail(c, err);
}

/* The file part begins: every other field has come (the front refuses a field after the file), so the
 * parameters are complete and checked now. */
static void form_file(void *ud, const char *name, const char *filename, const char *ctype)
{
	(void)name, (void)ctype;
	upload *u = ud;
	pve_error *err = NULL;
	u->had_file = true;
	const char *base = filename;
	for (const char *p = filename; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	cJSON_DeleteItemFromObjectCaseSensitive(u->params, "filename");
	cJSON_AddStringToObject(u->params, "filename", base);
	cJSON *errors = NULL;
	if (pve_schema_validate_params(u->c->route->parameters, u->params, &errors) < 0) {
		params_error(errors, &err);
		return upload_fail(u, err);
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(u->params, "checksum-algorithm");
	if (cJSON_IsString(v)) {
		u->algorithm = v->valuestring;
		u->expected = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(u->params, "checksum"));
		const EVP_MD *md = checksum_md(u->algorithm);
		if (!md || !u->expected) {
			pve_error_set_param(&err, EINVAL, "checksum-algorithm",
					    "unsupported checksum algorithm");
			return upload_fail(u, err);
		}
		u->md = EVP_MD_CTX_new();
		if (!u->md || EVP_DigestInit_ex(u->md, md, NULL) != 1) {
			pve_error_set(&err, ENOMEM, "digest setup failed");
			return upload_fail(u, err);
		}
	}
	const char *content =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u->params, "content"));
	/* As Proxmox: an upload replaces a file of the same name (Ansible's proxmox_template with
	 * force: true relies on it). */
	if (target_path(&u->st, content, base, true, &u->path, &u->volid, &err) < 0 ||
	    tmpfile_open(u->path, &u->tmp, &err) < 0)
		return upload_fail(u, err);
}

static void form_field(void *ud, const char *name, const char *value)
{
	upload *u = ud;
	pve_error *err = NULL;
	/* tmpfilename is pveproxy's business: ignored, as a client's value is in Proxmox. */
	if (streq(name, "tmpfilename"))
		return;
	/* A field also in the path or query must agree with it; the URI's value stays. */
	const cJSON *have = cJSON_GetObjectItemCaseSensitive(u->params, name);
	if (have) {
		if (!cJSON_IsString(have) || !streq(have->valuestring, value)) {
			pve_error_set_param(
				&err, EINVAL, name,
				"duplicate parameter (already defined in URI) with conflicting values!");
			upload_fail(u, err);
		}
		return;
	}
	if (cJSON_GetArraySize(u->params) >= PVE_SCHEMA_MAX_PARAMS) {
		pve_error_set(&err, EINVAL, "too many parameters (at most %d)",
			      PVE_SCHEMA_MAX_PARAMS);
		return upload_fail(u, err);
	}
	cJSON_AddStringToObject(u->params, name, value);
}

/* Reserves the blocks of the next writes, within what has been written and RESERVE_AHEAD (see there),
 * never past the declared length. */
static int reserve(upload *u, uint64_t end, pve_error **err)
{
	if (u->no_reserve || end <= u->reserved)
		return 0;
	uint64_t ahead = end < RESERVE_AHEAD ? end : RESERVE_AHEAD;
	uint64_t to = end + ahead;
	if (u->c->upload_length && to > u->c->upload_length)
		to = u->c->upload_length > end ? u->c->upload_length : end;
	int fd = u->tmp.fd;
	off_t from = (off_t)u->reserved;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, from, (off_t)(to - u->reserved)) == 0) {
		u->reserved = to;
		return 0;
	}
	if (errno != ENOSPC && errno != EDQUOT) {
		u->no_reserve = true; /* the file system cannot: the writes allocate as they go */
		return 0;
	}
	/* No room ahead: is there for what comes now? */
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, from, (off_t)(end - u->reserved)) < 0)
		return pve_error_set(err, errno, "not enough space on storage '%s'", u->st.id);
	u->reserved = end;
	return 0;
}

static void form_data(void *ud, const void *data, size_t len)
{
	upload *u = ud;
	pve_error *err = NULL;
	if (u->md && EVP_DigestUpdate(u->md, data, len) != 1) {
		pve_error_set(&err, EIO, "digest failed");
		return upload_fail(u, err);
	}
	if (reserve(u, u->size + len, &err) < 0)
		return upload_fail(u, err);
	int r = pve_write_all(u->tmp.fd, data, len);
	if (r < 0) {
		if (r == -ENOSPC || r == -EDQUOT)
			pve_error_set(&err, -r, "not enough space on storage '%s'", u->st.id);
		else
			pve_error_set(&err, -r, "unable to write '%s': %s", u->path, strerror(-r));
		return upload_fail(u, err);
	}
	u->size += len;
}

static void form_close(void *ud)
{
	upload *u = ud;
	log_debug("upload to %s ended early", u->path ? u->path : "(not started)");
	upload_free(u);
}

static void form_end(void *ud)
{
	upload *u = ud;
	pved_call *c = u->c;
	pve_error *err = NULL;
	if (!u->had_file) {
		pve_error_set_param(&err, EINVAL, "filename", "no file in the upload");
		return upload_fail(u, err);
	}
	_cleanup_free_ char *got = u->md ? digest_hex(u->md) : NULL;
	_cleanup_free_ char *msg = NULL;
	/* the multipart framing's share of the reservation, past the end of the file */
	if (u->reserved > u->size && ftruncate(u->tmp.fd, (off_t)u->size) < 0)
		msg = xasprintf("unable to write '%s': %m", u->path);
	if (msg) {
		tmpfile_discard(&u->tmp);
	} else if (got && strcasecmp(got, u->expected) != 0) {
		msg = xasprintf("checksum mismatch: got '%s' != expect '%s'", got, u->expected);
		tmpfile_discard(&u->tmp);
	} else if (tmpfile_commit(&u->tmp, u->path, true, &err) < 0) {
		msg = xstrdup(err->message);
		pve_error_free(TAKE_PTR(err));
	}
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "source", "upload");
	cJSON_AddStringToObject(args, "target", u->path);
	cJSON_AddNumberToObject(args, "size", (double)u->size);
	if (u->algorithm && got) {
		cJSON_AddStringToObject(args, "algorithm", u->algorithm);
		cJSON_AddStringToObject(args, "got", got);
	}
	if (msg)
		cJSON_AddStringToObject(args, "error", msg);
	_cleanup_free_ char *upid = NULL;
	int r = pved_task_start(c->d, "imgcopy", "", c->authid, args, &upid, &err);
	if (r < 0 && !msg)
		unlink(u->path);
	upload_free(u);
	if (r < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static const pved_form_callbacks form_callbacks = {
	.field = form_field,
	.file = form_file,
	.data = form_data,
	.end = form_end,
	.close = form_close,
};

/* Every second after the grace: an upload below the minimum average rate ends (408). */
static void rate_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	upload *u = arg;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - u->started.tv_sec) +
		      (double)(now.tv_nsec - u->started.tv_nsec) / 1e9;
	if (secs > 0 && (double)u->size / secs < (double)u->min_rate) {
		pve_error *err = NULL;
		pve_error_set(&err, ETIMEDOUT,
			      "upload too slow: %" PRIu64 " bytes in %.0f s (at least %" PRIu64
			      " bytes/s after %ld s)",
			      u->size, secs, u->min_rate, u->grace);
		return upload_fail(u, err);
	}
	struct timeval tv = { 1, 0 };
	evtimer_add(u->rate_timer, &tv);
}

static long env_number(const char *name, long def)
{
	const char *v = getenv(name);
	long long n;
	return v && pve_parse_int(v, 0, 1L << 40, &n) == 0 ? (long)n : def;
}

/* On the blocking pool: the storage is activated, and the upload refused if it cannot fit (no limit but
 * the space there is), before a byte of the body is sent. */
static void upload_prepare(void *arg)
{
	upload *u = arg;
	u->prepared = prepare_storage(u->c->d, &u->st, u->c->upload_length, &u->err);
}

static void upload_prepared(void *arg)
{
	upload *u = arg;
	if (u->prepared < 0)
		return upload_fail(u, TAKE_PTR(u->err));
	u->min_rate = (uint64_t)env_number("PVED_UPLOAD_MIN_RATE", UPLOAD_MIN_RATE);
	u->grace = env_number("PVED_UPLOAD_RATE_GRACE", UPLOAD_RATE_GRACE);
	clock_gettime(CLOCK_MONOTONIC, &u->started);
	if (u->min_rate) {
		u->rate_timer = evtimer_new(u->c->d->base, rate_check, u);
		struct timeval tv = { u->grace, 0 };
		if (u->rate_timer)
			evtimer_add(u->rate_timer, &tv);
	}
	pved_call_receive_form(u->c, &form_callbacks, u);
}

static void h_storage_upload(pved_call *c)
{
	pve_error *err = NULL;
	if (!c->upload) {
		pve_error_set(&err, EINVAL, "upload needs a multipart/form-data request body");
		return pved_call_fail(c, err);
	}
	upload *u = xcalloc(1, sizeof(*u));
	u->c = c;
	u->tmp.fd = -1;
	const char *id = pved_call_str(c, "storage");
	if (load_storage(c->d, id ? id : "", &u->cfg, &u->st, &err) < 0)
		return upload_fail(u, err);
	u->params = cJSON_Duplicate(c->params, true);
	if (pved_run_blocking(c->d, PVED_QUEUE_STORAGE, upload_prepare, upload_prepared, u, &err) <
	    0)
		upload_fail(u, err);
}

/* ---- download-url from a file on this node ---------------------------------------------------------- */

/* The hash of the file at path, as hex. */
static int file_hash(const char *path, const char *algorithm, char **ret, pve_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pve_error_set(err, errno, "unable to open '%s': %m", path);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, checksum_md(algorithm), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return pve_error_set(err, ENOMEM, "digest setup failed");
	}
	_cleanup_free_ char *buf = xmalloc(COPY_CHUNK);
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = pve_error_set(err, errno, "read of '%s' failed: %m", path);
		if (n <= 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
	}
	if (r == 0)
		*ret = digest_hex(md);
	EVP_MD_CTX_free(md);
	return r;
}

/* Proxmox's decompressor_info for 'iso': the tool that writes the data of the file named last to its
 * standard output. */
static const char *const *decompressor(const char *compression)
{
	static const char *const gz[] = { "zcat", NULL };
	static const char *const lzo[] = { "lzop", "-d", "-c", NULL };
	static const char *const zst[] = { "zstd", "-q", "-d", "-c", NULL };
	static const char *const bz2[] = { "bzcat", "-q", NULL };
	return streq(compression, "gz")	 ? gz :
	       streq(compression, "lzo") ? lzo :
	       streq(compression, "zst") ? zst :
	       streq(compression, "bz2") ? bz2 :
					   NULL;
}

/* Runs the decompressor for compression on source, its output into fd. */
static int decompress(const char *compression, const char *source, int fd, pve_error **err)
{
	const char *const *tool = decompressor(compression);
	if (!tool)
		return pve_error_set(err, EINVAL, "no decompression method found");
	char *argv[8];
	size_t n = 0;
	for (; tool[n]; n++)
		argv[n] = (char *)tool[n];
	argv[n++] = (char *)source;
	argv[n] = NULL;
	pve_spawn_opts so = {
		.path = argv[0], .argv = argv, .stdin_fd = -1, .stdout_fd = fd, .stderr_fd = -1
	};
	pid_t pid;
	if (pve_spawn(&so, &pid, err) < 0)
		return -EIO;
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return pve_error_set(err, errno, "waitpid: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return pve_error_set(err, EIO, "command '%s' failed: %s %d", argv[0],
				     WIFEXITED(status) ? "exit code" : "got signal",
				     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

/* A compressed source: its checksum (the downloaded file's, as in Proxmox), then its data through the
 * decompressor into the new file. */
static int download_decompressed(const char *source, const char *path, const char *algorithm,
				 const char *expected, const char *compression, pve_error **err)
{
	int r = 0;
	if (algorithm) {
		_cleanup_free_ char *got = NULL;
		printf("calculating checksum...");
		fflush(stdout);
		r = file_hash(source, algorithm, &got, err);
		if (r == 0 && strcasecmp(got, expected) != 0) {
			printf("\n");
			return pve_error_set(err, EINVAL,
					     "checksum mismatch: got '%s' != expect '%s'", got,
					     expected);
		}
		if (r < 0)
			return r;
		printf("OK, checksum verified\n");
	}
	tmpfile_t tmp = { .fd = -1 };
	if (tmpfile_open(path, &tmp, err) < 0)
		return -EIO;
	printf("decompressing %s (%s)\n", source, compression);
	fflush(stdout);
	if (decompress(compression, source, tmp.fd, err) < 0) {
		tmpfile_discard(&tmp);
		return -EIO;
	}
	struct stat st;
	uint64_t size = fstat(tmp.fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (tmpfile_commit(&tmp, path, false, err) < 0)
		return -EIO;
	printf("decompressed to %" PRIu64 " bytes\n", size);
	return 0;
}

/* args: {source, path, content, algorithm and expected (with a checksum), compression} */
static int download_task(pved *d, const cJSON *args, pve_error **err)
{
	(void)d;
	const struct {
		const char *source, *path, *algorithm, *expected, *compression, *content;
	} t_ = { arg_str(args, "source"),      arg_str(args, "path"),
		 arg_str(args, "algorithm"),   arg_str(args, "expected"),
		 arg_str(args, "compression"), arg_str(args, "content") },
	  *t = &t_;
	if (!t->source || !t->path || (t->algorithm && !t->expected))
		return pve_error_set(err, EINVAL, "the download task lacks its source or target");
	printf("downloading %s to %s\n", t->source, t->path);
	/* Proxmox's download_file_from_url: a file already there is kept when it has the checksum
	 * asked for, and is never replaced. */
	if (access(t->path, F_OK) == 0) {
		if (!t->algorithm)
			return pve_error_set(err, EEXIST, "refusing to override existing file '%s'",
					     t->path);
		printf("calculating checksum of existing file...");
		fflush(stdout);
		_cleanup_free_ char *have = NULL;
		if (file_hash(t->path, t->algorithm, &have, err) < 0)
			return -EIO;
		if (strcasecmp(have, t->expected) == 0) {
			printf("OK, got correct file already, no need to download\n");
			return 0;
		}
		printf("\n");
		return pve_error_set(err, EINVAL,
				     "checksum mismatch: got '%s' != expect '%s', aborting", have,
				     t->expected);
	}
	if (t->compression) {
		if (t->content && !streq(t->content, "iso"))
			return pve_error_set(err, EINVAL, "decompression not supported for %s",
					     t->content);
		return download_decompressed(t->source, t->path, t->algorithm, t->expected,
					     t->compression, err);
	}
	_cleanup_close_ int in = open(t->source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0)
		return pve_error_set(err, errno, "unable to open '%s': %m", t->source);
	if (!S_ISREG(st.st_mode))
		return pve_error_set(err, EINVAL, "'%s' is not a regular file", t->source);
	tmpfile_t tmp = { .fd = -1 };
	if (tmpfile_open(t->path, &tmp, err) < 0)
		return -EIO;
	EVP_MD_CTX *md = NULL;
	if (t->algorithm) {
		md = EVP_MD_CTX_new();
		if (!md || EVP_DigestInit_ex(md, checksum_md(t->algorithm), NULL) != 1) {
			EVP_MD_CTX_free(md);
			tmpfile_discard(&tmp);
			return pve_error_set(err, ENOMEM, "digest setup failed");
		}
	}
	uint64_t total = 0;
	int r = 0;
	bool done = false;
	/* No checksum to compute: the kernel copies (a reflink where the file system can). */
	while (!md && !done && r == 0) {
		ssize_t n = copy_file_range(in, NULL, tmp.fd, NULL, 64 * COPY_CHUNK, 0);
		if (n < 0 && total == 0 &&
		    (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP))
			break;
		if (n < 0)
			r = pve_error_set(err, errno, "copy failed: %m");
		else if (n == 0)
			done = true;
		else
			total += (uint64_t)n;
	}
	_cleanup_free_ char *buf = done || r < 0 ? NULL : xmalloc(COPY_CHUNK);
	while (!done && r == 0) {
		ssize_t n = read(in, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pve_error_set(err, errno, "read of '%s' failed: %m", t->source);
		} else if (n == 0) {
			done = true;
		} else {
			if (md)
				EVP_DigestUpdate(md, buf, (size_t)n);
			int w = pve_write_all(tmp.fd, buf, (size_t)n);
			if (w < 0)
				r = pve_error_set(err, -w, "write failed: %s", strerror(-w));
			total += (uint64_t)n;
		}
	}
	if (r == 0 && md) {
		_cleanup_free_ char *got = digest_hex(md);
		printf("calculated checksum (%s): %s\n", t->algorithm, got);
		if (strcasecmp(got, t->expected) != 0)
			r = pve_error_set(err, EINVAL, "checksum mismatch: got '%s' != expect '%s'",
					  got, t->expected);
	}
	EVP_MD_CTX_free(md);
	if (r < 0) {
		tmpfile_discard(&tmp);
		return r;
	}
	if (tmpfile_commit(&tmp, t->path, false, err) < 0)
		return -EIO;
	printf("downloaded %" PRIu64 " bytes\n", total);
	return 0;
}

/* A download-url call while its storage is prepared on the blocking pool. */
typedef struct download_job {
	pved_call *c;
	pve_sectioncfg *cfg;
	pve_storage st;
	const char *source; /* in the call's parameters */
	uint64_t size;
	char *path, *volid;
	int r;
	pve_error *err;
} download_job;

static void download_job_free(download_job *j)
{
	pve_sectioncfg_free(j->cfg);
	free(j->path);
	free(j->volid);
	pve_error_free(j->err);
	free(j);
}

static void download_prepare(void *arg)
{
	download_job *j = arg;
	pved_call *c = j->c;
	j->r = prepare_storage(j->c->d, &j->st, j->size, &j->err);
	/* With a checksum, a file already there is the task's to compare (Proxmox keeps a matching
	 * one); without, it is refused now. */
	if (j->r == 0)
		j->r = target_path(&j->st, pved_call_str(c, "content"),
				   pved_call_str(c, "filename"), pved_call_has(c, "checksum"),
				   &j->path, &j->volid, &j->err);
}

static void download_prepared(void *arg)
{
	download_job *j = arg;
	pved_call *c = j->c;
	_cleanup_free_ char *upid = NULL;
	pve_error *err = TAKE_PTR(j->err);
	cJSON *args = NULL;
	if (j->r == 0) {
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "source", j->source);
		cJSON_AddStringToObject(args, "path", j->path);
		cJSON_AddStringToObject(args, "content", pved_call_str(c, "content"));
		if (pved_call_str(c, "compression"))
			cJSON_AddStringToObject(args, "compression",
						pved_call_str(c, "compression"));
		if (pved_call_str(c, "checksum-algorithm")) {
			cJSON_AddStringToObject(args, "algorithm",
						pved_call_str(c, "checksum-algorithm"));
			cJSON_AddStringToObject(args, "expected", pved_call_str(c, "checksum"));
		}
	}
	if (j->r < 0 && err && err->code == ENOSPC)
		pved_call_fail_status(c, 413, err); /* as an upload's */
	else if (j->r < 0 ||
		 pved_task_start(c->d, "download", j->st.id, c->authid, args, &upid, &err) < 0)
		pved_call_fail(c, err);
	else
		pved_call_reply(c, cJSON_CreateString(upid));
	download_job_free(j);
}

static void h_storage_download_url(pved_call *c)
{
	pve_error *err = NULL;
	const char *url = pved_call_str(c, "url");
	/* A file:// URL reads any file on the node: what root may do and nobody else. */
	if (strncmp(url, "file://", 7) != 0) {
		pve_error_set_param(&err, EINVAL, "url",
				    "only file:// URLs are supported: this node downloads nothing");
		return pved_call_fail(c, err);
	}
	if (!streq(c->authid, "root@pam")) {
		pve_error_set(&err, EACCES, "file:// URLs are allowed for root@pam only");
		return pved_call_fail(c, err);
	}
	const char *source = url + 7;
	if (source[0] != '/' || strstr(source, "/../") || strchr(source, '%') ||
	    strchr(source, '?') || strchr(source, '#')) {
		pve_error_set_param(&err, EINVAL, "url", "invalid file URL '%s'", url);
		return pved_call_fail(c, err);
	}
	struct stat sst;
	if (stat(source, &sst) < 0 || !S_ISREG(sst.st_mode)) {
		pve_error_set_param(&err, EINVAL, "url", "'%s' is not a readable regular file",
				    source);
		return pved_call_fail(c, err);
	}
	download_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->source = source;
	j->size = (uint64_t)sst.st_size;
	if (load_storage(c->d, pved_call_str(c, "storage"), &j->cfg, &j->st, &err) < 0) {
		download_job_free(j);
		return pved_call_fail(c, err);
	}
	if (pved_run_blocking(c->d, PVED_QUEUE_STORAGE, download_prepare, download_prepared, j,
			      &err) < 0) {
		download_job_free(j);
		pved_call_fail(c, err);
	}
}

const pved_task_kind pved_tasks_upload[] = {
	{ "imgcopy", report_task },
	{ "download", download_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_upload[] = {
	{ "storage_upload", h_storage_upload },
	{ "storage_download_url", h_storage_download_url },
	{ NULL, NULL },
};
