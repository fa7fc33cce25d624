/* The appliance index: GET /nodes/{node}/aplinfo lists the templates of the node's own index files
 * (Proxmox's apl-info, "Key: value" paragraphs), POST downloads one onto a storage as a "download"
 * task, checked against the index's sha512sum or md5sum.
 *
 * The index files: every regular file in <root>/var/lib/pve-manager/apl-info/ (Proxmox's directory,
 * where pveam update keeps one file per source), in name order, a later file's template replacing an
 * earlier one of the same name. A relative Location is relative to the index file's own directory
 * (file://DIR/LOCATION). This node downloads nothing from the network: a Location must be a file://
 * URL, a file on the node, which only whoever writes the index can name. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "daemon/nodes/nodes-internal.h"
#include "storage/storage.h"

#define APLINFO_DIR "var/lib/pve-manager/apl-info"
#define APLINFO_MAX_FILES 16
#define APLINFO_MAX_FILE (4 * 1024 * 1024)
#define APLINFO_MAX_RECORDS 10000
#define APLINFO_MAX_FIELDS 64

/* ---- the index format ------------------------------------------------------------------------------- */

static bool version_ok(const char *v)
{
	/* Proxmox: ^(\d[a-zA-Z0-9\.\+\-\:\~]*)(-(\d+))?$ */
	if (!(v[0] >= '0' && v[0] <= '9'))
		return false;
	for (const char *p = v; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || strchr(".+-:~", *p)))
			return false;
	return true;
}

static bool template_ext_ok(const char *name)
{
	static const char *const ext[] = { ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2" };
	for (size_t i = 0; i < ELEMENTSOF(ext); i++)
		if (endswith(name, ext[i]) && strlen(name) > strlen(ext[i]))
			return true;
	return false;
}

static char *trim(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return xstrndup(s, n);
}

/* One record (its lines, NUL-separated by the caller) into rec; false (with a reason) when it is not
 * one Proxmox would take. */
static bool parse_record(char *text, const char *source, cJSON *rec, const char **why)
{
	size_t fields = 0;
	for (char *l = text; l && *l;) {
		char *e = strchrnul(l, '\n');
		bool more = *e != 0;
		*e = 0;
		char *colon = strchr(l, ':');
		if (!colon || colon == l || l[0] == ' ' || l[0] == '\t' ||
		    ++fields > APLINFO_MAX_FIELDS) {
			*why = "unable to parse appliance record";
			return false;
		}
		_cleanup_free_ char *key = xstrndup(l, (size_t)(colon - l));
		for (char *k = key; *k; k++)
			*k = (char)(*k >= 'A' && *k <= 'Z' ? *k - 'A' + 'a' : *k);
		_cleanup_free_ char *value = trim(colon + 1, strlen(colon + 1));
		char *next = more ? e + 1 : e;
		if (streq(key, "description")) {
			/* The headline, then the indented lines that follow as one text. */
			pve_buf longd = { 0 };
			while (*next == ' ' || *next == '\t') {
				char *ne = strchrnul(next, '\n');
				bool m = *ne != 0;
				_cleanup_free_ char *t = trim(next, (size_t)(ne - next));
				if (t[0])
					pve_buf_printf(&longd, "%s%s", longd.len ? " " : "", t);
				next = m ? ne + 1 : ne;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(rec, "headline");
			cJSON_DeleteItemFromObjectCaseSensitive(rec, "description");
			cJSON_AddStringToObject(rec, "headline", value);
			_cleanup_free_ char *d = longd.data ? pve_buf_steal(&longd) : xstrdup("");
			cJSON_AddStringToObject(rec, "description", d);
		} else if (!value[0]) {
			*why = "unable to parse appliance record";
			return false;
		} else if (streq(key, "version") && !version_ok(value)) {
			/* Proxmox warns and leaves the field out. */
		} else if (streq(key, "type") && !streq(value, "openvz") && !streq(value, "lxc")) {
			/* likewise */
		} else {
			cJSON_DeleteItemFromObjectCaseSensitive(rec, key);
			cJSON_AddStringToObject(rec, key, value);
		}
		l = next;
	}
	const char *pkg = pve_json_str(rec, "package");
	if (!pkg || !pve_json_str(rec, "type") || !pve_json_str(rec, "os") ||
	    !pve_json_str(rec, "version") || !pve_json_str(rec, "infopage")) {
		*why = "found incomplete appliance records";
		return false;
	}
	if (!pve_json_str(rec, "section"))
		cJSON_AddStringToObject(rec, "section", "unknown");
	const char *loc = pve_json_str(rec, "location");
	_cleanup_free_ char *tmpl = NULL, *url = NULL;
	if (loc) {
		const char *base = strrchr(loc, '/');
		tmpl = xstrdup(base ? base + 1 : loc);
		bool absolute = false;
		const char *p = loc;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			p++;
		absolute = p > loc && startswith(p, "://");
		url = absolute ? xstrdup(loc) : xasprintf("%s/%s", source, loc);
	} else {
		const char *arch = pve_json_str(rec, "architecture");
		const char *os = pve_json_str(rec, "os");
		tmpl = xasprintf("%s-%s_%s_%s.tar.gz", os, pkg, pve_json_str(rec, "version"),
				 arch ? arch : "i386");
		/* Proxmox: "debian-debian-..." is "debian-..." */
		_cleanup_free_ char *dup = xasprintf("%s-%s-", os, os);
		if (startswith(tmpl, dup))
			memmove(tmpl, tmpl + strlen(os) + 1, strlen(tmpl + strlen(os) + 1) + 1);
		url = xasprintf("%s/%s/%s", source, pve_json_str(rec, "section"), tmpl);
	}
	/* The name becomes a file in the storage and a task's id: a plain template file name. */
	if (!template_ext_ok(tmpl) || strpbrk(tmpl, ":/ ") || tmpl[0] == '.' ||
	    strlen(tmpl) > 255) {
		*why = "appliance record with an unusable template name";
		return false;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(rec, "location");
	cJSON_AddStringToObject(rec, "location", url);
	cJSON_AddStringToObject(rec, "source", source);
	cJSON_AddStringToObject(rec, "template", tmpl);
	return true;
}

/* Parses an index text into all ({template: record}); a record Proxmox would skip is skipped, counted
 * in *ret_skipped. E2BIG past the limits. */
int pved_aplinfo_parse(const char *text, size_t len, const char *source, cJSON *all,
		       size_t *ret_skipped, pve_error **err)
{
	if (len > APLINFO_MAX_FILE)
		return pve_error_set(err, E2BIG, "appliance index larger than %d bytes",
				     APLINFO_MAX_FILE);
	if (memchr(text, 0, len))
		return pve_error_set(err, EINVAL, "appliance index holds a NUL byte");
	_cleanup_free_ char *buf = xstrndup(text, len);
	size_t skipped = 0;
	char *p = buf;
	while (*p) {
		while (*p == '\n')
			p++;
		if (!*p)
			break;
		/* A record ends at an empty line (Perl's paragraph mode). */
		char *end = strstr(p, "\n\n");
		char *next = end ? end + 2 : p + strlen(p);
		if (end)
			end[1] = 0;
		if (cJSON_GetArraySize(all) >= APLINFO_MAX_RECORDS)
			return pve_error_set(err, E2BIG,
					     "appliance index with more than %d records",
					     APLINFO_MAX_RECORDS);
		cJSON *rec = cJSON_CreateObject();
		const char *why = NULL;
		if (parse_record(p, source, rec, &why)) {
			const char *t = pve_json_str(rec, "template");
			cJSON_DeleteItemFromObjectCaseSensitive(all, t);
			cJSON_AddItemToObject(all, t, rec);
		} else {
			cJSON_Delete(rec);
			skipped++;
		}
		p = next;
	}
	if (ret_skipped)
		*ret_skipped = skipped;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every index file of the node into {template: record}. Off the loop (it reads files). */
static int aplinfo_load(const pved *d, cJSON **ret, pve_error **err)
{
	_cleanup_free_ char *dir = pved_path(d, APLINFO_DIR);
	_cleanup_json_ cJSON *all = cJSON_CreateObject();
	DIR *dh = opendir(dir);
	if (!dh) {
		/* no index: no templates, as Proxmox's load_data with no files */
		*ret = TAKE_PTR(all);
		return 0;
	}
	_cleanup_strv_free_ char **names = strv_new();
	struct dirent *de;
	size_t n = 0;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.' && n++ < APLINFO_MAX_FILES)
			strv_push(&names, xstrdup(de->d_name));
	closedir(dh);
	qsort(names, strv_length(names), sizeof(char *), name_cmp);
	_cleanup_free_ char *source = xasprintf("file://%s", dir);
	for (char **nm = names; *nm; nm++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, *nm);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_size > APLINFO_MAX_FILE)
			return pve_error_set(err, E2BIG,
					     "appliance index '%s' is larger than %d bytes", path,
					     APLINFO_MAX_FILE);
		_cleanup_free_ char *text = xmalloc((size_t)st.st_size + 1);
		ssize_t got = pve_read_full(fd, text, (size_t)st.st_size);
		if (got < 0)
			return pve_error_set(err, -got, "unable to read '%s': %s", path,
					     strerror((int)-got));
		size_t skipped = 0;
		if (pved_aplinfo_parse(text, (size_t)got, source, all, &skipped, err) < 0) {
			if (err && *err)
				pve_error_prefix(*err, "%s: ", path);
			return -EINVAL;
		}
		if (skipped)
			log_warning("%s: %zu appliance records skipped (incomplete or unparsable)",
				    path, skipped);
	}
	*ret = TAKE_PTR(all);
	return 0;
}

/* ---- GET -------------------------------------------------------------------------------------------------- */

typedef struct apl_job {
	pved_call *c;
	cJSON *all;
	/* POST */
	char *storage_id, *template;
	pve_sectioncfg *cfg;
	pve_storage st;
	char *path, *url, *algorithm, *expected;
	pve_error *st_err; /* the storage's error, answered after the template's as Proxmox does */
	int r;
	pve_error *err;
} apl_job;

static void apl_job_free(apl_job *j)
{
	cJSON_Delete(j->all);
	free(j->storage_id);
	free(j->template);
	pve_sectioncfg_free(j->cfg);
	free(j->path);
	free(j->url);
	free(j->algorithm);
	free(j->expected);
	pve_error_free(j->st_err);
	pve_error_free(j->err);
	free(j);
}

static void list_work(void *arg)
{
	apl_job *j = arg;
	j->r = aplinfo_load(j->c->d, &j->all, &j->err);
}

static void list_done(void *arg)
{
	apl_job *j = arg;
	if (j->r < 0) {
		pved_call_fail(j->c, TAKE_PTR(j->err));
		return apl_job_free(j);
	}
	cJSON *out = cJSON_CreateArray();
	cJSON *rec;
	cJSON_ArrayForEach (rec, j->all) {
		const char *pkg = pve_json_str(rec, "package");
		if (pkg && streq(pkg, "pve-web-news"))
			continue;
		cJSON_AddItemToArray(out, cJSON_Duplicate(rec, true));
	}
	pved_call_reply(j->c, out);
	apl_job_free(j);
}

static void h_aplinfo(pved_call *c)
{
	apl_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_STORAGE, list_work, list_done, j, &err) < 0) {
		apl_job_free(j);
		pved_call_fail(c, err);
	}
}

/* ---- POST ------------------------------------------------------------------------------------------------- */

/* The storage to download to, enabled on this node, holding templates. Proxmox's
 * storage_check_enabled dies for these: plain 500s. */
static int load_storage(pved *d, const char *id, pve_sectioncfg **ret_cfg, pve_storage *st,
			pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = pve_store_read(d->store, "storage.cfg", &text, &len, NULL, NULL);
	if (r == -ENOENT)
		return pve_error_set(err, EIO, "storage '%s' does not exist", id);
	if (r < 0)
		return pve_error_set(err, EIO, "unable to read storage.cfg: %s", strerror(-r));
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	if (pve_storage_cfg_parse(text, len, &cfg, err) < 0)
		return -EIO;
	if (pve_storage_get(cfg, id, st, err) < 0) {
		if (err && *err)
			(*err)->code = EIO;
		return -ENOENT;
	}
	if (!pve_storage_on_node(st, d->node))
		return pve_error_set(err, EIO, "storage '%s' is not available on node '%s'", id,
				     d->node);
	if (st->disabled)
		return pve_error_set(err, EIO, "storage '%s' is disabled", id);
	*ret_cfg = TAKE_PTR(cfg);
	return 0;
}

static void download_work(void *arg)
{
	apl_job *j = arg;
	j->r = aplinfo_load(j->c->d, &j->all, &j->err);
	if (j->r < 0)
		return;
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(j->all, j->template);
	if (!rec) {
		j->r = pve_error_set_param(&j->err, EINVAL, "template", "no such template");
		return;
	}
	if (j->st_err) {
		j->err = TAKE_PTR(j->st_err);
		j->r = -EIO;
		return;
	}
	const char *type = pve_json_str(rec, "type");
	if (!type || (!streq(type, "openvz") && !streq(type, "lxc"))) {
		j->r = pve_error_set(&j->err, EIO, "unknown template type '%s'", type ? type : "");
		return;
	}
	if (!(j->st.content & PVE_CONTENT_VZTMPL)) {
		j->r = pve_error_set(&j->err, EIO, "storage '%s' does not support templates",
				     j->st.id);
		return;
	}
	const char *url = pve_json_str(rec, "location");
	if (!url || !startswith(url, "file:///") || strstr(url, "/../") || strpbrk(url, "%?#")) {
		j->r = pve_error_set(
			&j->err, EIO,
			"unable to download '%s': this node downloads nothing, only file:// "
			"locations are supported",
			url ? url : "");
		return;
	}
	/* Proxmox's download_file_from_url with hash_required: sha512sum first, else md5sum. */
	const char *sha = pve_json_str(rec, "sha512sum"), *md5 = pve_json_str(rec, "md5sum");
	if (!sha && !md5) {
		j->r = pve_error_set(&j->err, EIO, "missing checksum for template '%s'",
				     j->template);
		return;
	}
	j->algorithm = xstrdup(sha ? "sha512" : "md5");
	j->expected = xstrdup(sha ? sha : md5);
	j->url = xstrdup(url);
	if (pve_storage_activate(&j->st, &j->err) < 0) {
		j->r = -EIO;
		return;
	}
	_cleanup_free_ char *volname = xasprintf("vztmpl/%s", j->template);
	j->r = pve_storage_path(&j->st, volname, NULL, &j->path, &j->err);
}

static void download_done(void *arg)
{
	apl_job *j = arg;
	pved_call *c = j->c;
	if (j->r < 0) {
		pved_call_fail(c, TAKE_PTR(j->err));
		return apl_job_free(j);
	}
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "source", j->url + strlen("file://"));
	cJSON_AddStringToObject(args, "path", j->path);
	cJSON_AddStringToObject(args, "content", "vztmpl");
	cJSON_AddStringToObject(args, "algorithm", j->algorithm);
	cJSON_AddStringToObject(args, "expected", j->expected);
	/* The storage area's "download" task (download-url's), with Proxmox's task type and id. */
	_cleanup_free_ char *upid = NULL;
	pve_error *err = NULL;
	if (pved_task_start(c->d, "download", j->template, c->authid, args, &upid, &err) < 0)
		pved_call_fail(c, err);
	else
		pved_call_reply(c, cJSON_CreateString(upid));
	apl_job_free(j);
}

static void h_apl_download(pved_call *c)
{
	apl_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->template = xstrdup(pved_call_str(c, "template"));
	j->storage_id = xstrdup(pved_call_str(c, "storage"));
	if (load_storage(c->d, j->storage_id, &j->cfg, &j->st, &j->st_err) < 0 && !j->st_err)
		pve_error_set(&j->st_err, EIO, "storage '%s' does not exist", j->storage_id);
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_STORAGE, download_work, download_done, j, &err) <
	    0) {
		apl_job_free(j);
		pved_call_fail(c, err);
	}
}

const pved_handler pved_handlers_aplinfo[] = {
	{ "aplinfo", h_aplinfo },
	{ "apl_download", h_apl_download },
	{ NULL, NULL },
};
