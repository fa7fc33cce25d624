/* oci: a container's rootfs from an OCI image archive (oci-archive: oci-layout, index.json, blobs; or
 * docker-archive: manifest.json and layer tars), its layers unpacked in order with whiteouts through
 * template.c's confined unpack, each layer's sha256 checked, and the image config's process. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "lxc/rootfs-internal.h"

#define OCI_MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_MEDIA_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

void lxc_oci_manifest_clear(lxc_oci_manifest *m)
{
	free(m->config_member);
	for (size_t i = 0; i < m->n_layers; i++)
		free(m->layers[i].member);
	memset(m, 0, sizeof(*m));
}

/* "sha256:<64 lowercase hex>" into hex; false for anything else (other algorithms included). */
static bool digest_hex(const char *d, char ret[65])
{
	if (!d || !startswith(d, "sha256:") || strlen(d) != 7 + 64)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	memcpy(ret, d + 7, 65);
	return true;
}

static cJSON *parse(const char *json, size_t len, const char *what, pve_error **err)
{
	cJSON *v = pve_json_parse(json, len, LXC_OCI_MAX_JSON, LXC_OCI_MAX_DEPTH, err);
	if (!v && err && *err)
		pve_error_prefix(*err, "%s: ", what);
	return v;
}

int lxc_oci_parse_index(const char *json, size_t len, char ret_digest[65], bool *ret_nested,
			pve_error **err)
{
	_cleanup_json_ cJSON *v = parse(json, len, "OCI index.json", err);
	if (!v)
		return -EINVAL;
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(v, "manifests");
	if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) == 0)
		return pve_error_set(err, EINVAL, "OCI index.json lists no manifests");
	if (cJSON_GetArraySize(ms) > LXC_OCI_MAX_LAYERS)
		return pve_error_set(err, E2BIG, "OCI index.json lists more than %d manifests",
				     LXC_OCI_MAX_LAYERS);
	/* The linux/amd64 one, else one without a platform: what this node can run. */
	const cJSON *pick = NULL;
	const cJSON *m;
	cJSON_ArrayForEach (m, ms) {
		if (!cJSON_IsObject(m))
			return pve_error_set(err, EINVAL,
					     "OCI index.json: a manifest is not an object");
		const cJSON *pl = cJSON_GetObjectItemCaseSensitive(m, "platform");
		if (!pl) {
			if (!pick)
				pick = m;
			continue;
		}
		const char *os = pve_json_str(pl, "os"), *arch = pve_json_str(pl, "architecture");
		if (os && arch && streq(os, "linux") && streq(arch, "amd64")) {
			pick = m;
			break;
		}
	}
	if (!pick)
		return pve_error_set(err, EINVAL, "OCI image has no manifest for linux/amd64");
	const char *media = pve_json_str(pick, "mediaType");
	char hex[65];
	if (!digest_hex(pve_json_str(pick, "digest"), hex))
		return pve_error_set(err, EINVAL,
				     "OCI index.json: a manifest without a sha256 digest");
	memcpy(ret_digest, hex, sizeof(hex));
	*ret_nested = media && (streq(media, OCI_MEDIA_INDEX) || streq(media, DOCKER_MEDIA_LIST));
	if (media && !*ret_nested && !streq(media, OCI_MEDIA_MANIFEST) &&
	    !streq(media, DOCKER_MEDIA_MANIFEST))
		return pve_error_set(err, EINVAL,
				     "OCI index.json: unsupported manifest type '%.100s'", media);
	return 0;
}

/* A layer's media type: a tar, plain or compressed (libarchive finds out which from the content). */
static bool layer_media_ok(const char *media)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
	};
	if (!media)
		return true;
	for (size_t i = 0; i < ELEMENTSOF(ok); i++)
		if (streq(media, ok[i]))
			return true;
	return false;
}

int lxc_oci_parse_manifest(const char *json, size_t len, lxc_oci_manifest *ret, pve_error **err)
{
	_cleanup_json_ cJSON *v = parse(json, len, "OCI manifest", err);
	if (!v)
		return -EINVAL;
	lxc_oci_manifest m = { 0 };
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(v, "config");
	if (!digest_hex(pve_json_str(cfg, "digest"), m.config_digest))
		return pve_error_set(err, EINVAL, "OCI manifest: the config has no sha256 digest");
	const cJSON *ls = cJSON_GetObjectItemCaseSensitive(v, "layers");
	if (!cJSON_IsArray(ls))
		return pve_error_set(err, EINVAL, "OCI manifest: no layers");
	if (cJSON_GetArraySize(ls) > LXC_OCI_MAX_LAYERS)
		return pve_error_set(err, E2BIG, "OCI manifest: more than %d layers",
				     LXC_OCI_MAX_LAYERS);
	const cJSON *l;
	int r = 0;
	cJSON_ArrayForEach (l, ls) {
		lxc_oci_layer *y = &m.layers[m.n_layers];
		const char *media = pve_json_str(l, "mediaType");
		if (!layer_media_ok(media)) {
			r = pve_error_set(err, EINVAL,
					  "OCI manifest: unsupported layer type '%.100s'", media);
			break;
		}
		if (!digest_hex(pve_json_str(l, "digest"), y->digest)) {
			r = pve_error_set(err, EINVAL,
					  "OCI manifest: a layer without a sha256 digest");
			break;
		}
		if (!pve_json_int(l, "size", &y->size) || y->size < 0)
			y->size = -1;
		y->member = xasprintf("blobs/sha256/%s", y->digest);
		m.n_layers++;
	}
	if (r < 0) {
		lxc_oci_manifest_clear(&m);
		return r;
	}
	m.config_member = xasprintf("blobs/sha256/%s", m.config_digest);
	*ret = m;
	return 0;
}

/* A member name from docker's manifest.json, made relative; NULL for one leaving the archive. */
static char *member_name(const char *s)
{
	if (!s || !s[0])
		return NULL;
	char *c = lxc_path_clean(s);
	if (c && !c[0]) {
		free(c);
		return NULL;
	}
	return c;
}

int lxc_oci_parse_docker(const char *json, size_t len, lxc_oci_manifest *ret, pve_error **err)
{
	_cleanup_json_ cJSON *v = parse(json, len, "docker-archive manifest.json", err);
	if (!v)
		return -EINVAL;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1)
		return pve_error_set(err, EINVAL, "docker-archive manifest.json lists no image");
	/* The archive's first image, as `docker load` of one image archive has it. */
	const cJSON *img = cJSON_GetArrayItem(v, 0);
	lxc_oci_manifest m = { 0 };
	m.config_member = member_name(pve_json_str(img, "Config"));
	if (!m.config_member)
		return pve_error_set(err, EINVAL, "docker-archive manifest.json: no usable Config");
	const cJSON *ls = cJSON_GetObjectItemCaseSensitive(img, "Layers");
	int r = 0;
	if (!cJSON_IsArray(ls))
		r = pve_error_set(err, EINVAL, "docker-archive manifest.json: no Layers");
	else if (cJSON_GetArraySize(ls) > LXC_OCI_MAX_LAYERS)
		r = pve_error_set(err, E2BIG, "docker-archive manifest.json: more than %d layers",
				  LXC_OCI_MAX_LAYERS);
	const cJSON *l;
	if (r == 0)
		cJSON_ArrayForEach (l, ls) {
			char *name = member_name(cJSON_IsString(l) ? l->valuestring : NULL);
			if (!name) {
				r = pve_error_set(
					err, EINVAL,
					"docker-archive manifest.json: a layer without a usable name");
				break;
			}
			m.layers[m.n_layers].member = name;
			m.layers[m.n_layers].size = -1;
			m.n_layers++;
		}
	if (r < 0) {
		lxc_oci_manifest_clear(&m);
		return r;
	}
	*ret = m;
	return 0;
}

/* A JSON array of at most max strings, copied; absent or null: NULL. */
static int string_array(const cJSON *cfg, const char *key, size_t max, cJSON **ret, pve_error **err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(cfg, key);
	*ret = NULL;
	if (!a || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a))
		return pve_error_set(err, EINVAL, "OCI image config: %s is not a list", key);
	if ((size_t)cJSON_GetArraySize(a) > max)
		return pve_error_set(err, E2BIG, "OCI image config: %s has more than %zu entries",
				     key, max);
	const cJSON *s;
	cJSON_ArrayForEach (s, a)
		if (!cJSON_IsString(s))
			return pve_error_set(err, EINVAL,
					     "OCI image config: %s holds something not a string",
					     key);
	*ret = cJSON_Duplicate(a, true);
	if (!*ret)
		abort();
	return 0;
}

int lxc_oci_parse_config(const char *json, size_t len, cJSON **ret_cfg, char ***ret_diff_ids,
			 pve_error **err)
{
	_cleanup_json_ cJSON *v = parse(json, len, "OCI image config", err);
	if (!v)
		return -EINVAL;
	const char *os = pve_json_str(v, "os"), *arch = pve_json_str(v, "architecture");
	if ((os && !streq(os, "linux")) || (arch && !streq(arch, "amd64")))
		return pve_error_set(err, EINVAL, "OCI image is for %.32s/%.32s, not linux/amd64",
				     os ? os : "?", arch ? arch : "?");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "config");
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	if (!out)
		abort();
	static const struct {
		const char *from, *to;
		size_t max;
	} lists[] = {
		{ "Entrypoint", "entrypoint", LXC_MAX_ARGS },
		{ "Cmd", "cmd", LXC_MAX_ARGS },
		{ "Env", "env", LXC_MAX_ENV },
	};
	for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
		cJSON *a;
		int r = string_array(c, lists[i].from, lists[i].max, &a, err);
		if (r < 0)
			return r;
		if (a)
			cJSON_AddItemToObject(out, lists[i].to, a);
	}
	static const char *const strs[][2] = { { "WorkingDir", "workdir" },
					       { "User", "user" },
					       { "StopSignal", "stopsignal" } };
	for (size_t i = 0; i < ELEMENTSOF(strs); i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, strs[i][0]);
		if (!s || cJSON_IsNull(s))
			continue;
		if (!cJSON_IsString(s) || strlen(s->valuestring) >= LXC_UNPACK_MAX_PATH)
			return pve_error_set(err, EINVAL, "OCI image config: bad %s", strs[i][0]);
		if (s->valuestring[0] && !cJSON_AddStringToObject(out, strs[i][1], s->valuestring))
			abort();
	}
	_cleanup_strv_free_ char **ids = strv_new();
	const cJSON *rootfs = cJSON_GetObjectItemCaseSensitive(v, "rootfs");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(rootfs, "diff_ids");
	if (cJSON_IsArray(d)) {
		if (cJSON_GetArraySize(d) > LXC_OCI_MAX_LAYERS)
			return pve_error_set(err, E2BIG, "OCI image config: more than %d diff_ids",
					     LXC_OCI_MAX_LAYERS);
		const cJSON *x;
		cJSON_ArrayForEach (x, d) {
			char hex[65];
			if (!digest_hex(cJSON_IsString(x) ? x->valuestring : NULL, hex))
				return pve_error_set(
					err, EINVAL,
					"OCI image config: a diff_id is not a sha256 digest");
			strv_push(&ids, xstrdup(hex));
		}
	}
	*ret_cfg = TAKE_PTR(out);
	if (ret_diff_ids)
		*ret_diff_ids = TAKE_PTR(ids);
	return 0;
}

/* ---- reading members of the outer archive ---------------------------------------------------------- */

/* A new pass over the archive, stopped at member name: 0 and *ret positioned at its data, -ENOENT when
 * it is not there. */
static int member_open(const char *archive, const char *name, struct archive **ret,
		       la_int64_t *ret_size, pve_error **err)
{
	struct archive *a = lxc_archive_reader();
	if (!a)
		return pve_error_set(err, ENOMEM, "libarchive: out of memory");
	if (archive_read_open_filename(a, archive, 64 * 1024) != ARCHIVE_OK) {
		int r = pve_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : EINVAL,
				      "OCI archive '%s': %s", archive, archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	for (size_t n = 0;; n++) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN || n > LXC_UNPACK_MAX_ENTRIES) {
			r = pve_error_set(err, EINVAL, "OCI archive '%s': %s", archive,
					  n > LXC_UNPACK_MAX_ENTRIES ? "too many entries" :
								       archive_error_string(a));
			archive_read_free(a);
			return r;
		}
		const char *p = archive_entry_pathname(e);
		_cleanup_free_ char *c = p ? lxc_path_clean(p) : NULL;
		if (c && streq(c, name) && archive_entry_filetype(e) == AE_IFREG) {
			*ret = a;
			*ret_size = archive_entry_size(e);
			return 0;
		}
	}
	archive_read_free(a);
	return -ENOENT;
}

/* A small member (JSON) read whole. */
static int member_read(const char *archive, const char *name, char **ret, size_t *ret_len,
		       pve_error **err)
{
	struct archive *a;
	la_int64_t size;
	int r = member_open(archive, name, &a, &size, err);
	if (r == -ENOENT)
		return pve_error_set(err, ENOENT, "OCI archive '%s' has no '%s'", archive, name);
	if (r < 0)
		return r;
	if (size < 0 || size > LXC_OCI_MAX_JSON) {
		archive_read_free(a);
		return pve_error_set(err, E2BIG, "OCI archive: '%s' is larger than %d bytes", name,
				     LXC_OCI_MAX_JSON);
	}
	char *buf = xmalloc((size_t)size + 1);
	la_ssize_t n = archive_read_data(a, buf, (size_t)size);
	archive_read_free(a);
	if (n != size) {
		free(buf);
		return pve_error_set(err, EIO, "OCI archive: '%s' is cut short", name);
	}
	buf[size] = 0;
	*ret = buf;
	*ret_len = (size_t)size;
	return 0;
}

static bool sha256_hex_of(const char *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned mdlen = 0;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return false;
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return true;
}

/* A layer streamed from the outer archive into the inner reader, hashed on the way. */
typedef struct layer_stream {
	struct archive *outer;
	EVP_MD_CTX *md;
	uint64_t bytes;
	char buf[64 * 1024];
} layer_stream;

static la_ssize_t layer_read(struct archive *a, void *ctx, const void **ret_buf)
{
	(void)a;
	layer_stream *s = ctx;
	la_ssize_t n = archive_read_data(s->outer, s->buf, sizeof(s->buf));
	if (n > 0) {
		EVP_DigestUpdate(s->md, s->buf, (size_t)n);
		s->bytes += (uint64_t)n;
	}
	*ret_buf = s->buf;
	return n;
}

static int apply_layer(lxc_unpack *u, const char *archive, const lxc_oci_layer *l,
		       const char *diff_id, size_t idx, pve_error **err)
{
	struct archive *outer;
	la_int64_t size;
	int r = member_open(archive, l->member, &outer, &size, err);
	if (r == -ENOENT)
		return pve_error_set(err, ENOENT, "OCI archive has no layer '%s'", l->member);
	if (r < 0)
		return r;
	if (l->size >= 0 && size != l->size) {
		archive_read_free(outer);
		return pve_error_set(err, EINVAL,
				     "OCI layer %zu is %lld bytes, its manifest says %lld", idx,
				     (long long)size, l->size);
	}
	layer_stream *s = xcalloc(1, sizeof(*s));
	s->outer = outer;
	s->md = EVP_MD_CTX_new();
	if (!s->md || !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL))
		abort();
	struct archive *in = lxc_archive_reader();
	if (!in)
		abort();
	_cleanup_free_ char *what = xasprintf("OCI layer %zu", idx);
	if (archive_read_open(in, s, NULL, layer_read, NULL) != ARCHIVE_OK)
		r = pve_error_set(err, EINVAL, "%s: %s", what, archive_error_string(in));
	else
		r = lxc_unpack_archive(u, in, what, err);
	archive_read_free(in);
	/* What follows the layer's end-of-archive blocks still counts for its digest. */
	const void *dummy;
	while (r == 0 && layer_read(NULL, s, &dummy) > 0)
		;
	if (r == 0) {
		unsigned char md[32];
		unsigned mdlen = 0;
		char hex[65];
		EVP_DigestFinal_ex(s->md, md, &mdlen);
		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		const char *want = l->digest[0] ? l->digest : diff_id;
		if (!want)
			r = pve_error_set(err, EINVAL, "OCI layer %zu has no digest to check", idx);
		else if (!streq(hex, want))
			r = pve_error_set(err, EINVAL, "OCI layer %zu: sha256 %s, expected %s", idx,
					  hex, want);
	}
	EVP_MD_CTX_free(s->md);
	archive_read_free(outer);
	free(s);
	return r;
}

/* Whether name could be a member of an image archive: the layout's files, blobs, docker's
 * "<hex>/layer.tar" and "<hex>.json". A rootfs's first entry ("./", "bin") is none of these. */
static bool image_member_name(const char *name)
{
	static const char *const names[] = { "oci-layout", "index.json", "manifest.json",
					     "repositories", "blobs" };
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(name, names[i]))
			return true;
	if (startswith(name, "blobs/"))
		return true;
	size_t hex = strspn(name, "0123456789abcdef");
	return hex == 64 && (name[64] == 0 || name[64] == '/' || streq(name + 64, ".json"));
}

typedef enum image_kind { IMAGE_NONE, IMAGE_OCI, IMAGE_DOCKER } image_kind;

/* One pass over the headers, stopped at the first entry no image archive has: a template is told
 * from an image by its first entry, without reading it through. */
static image_kind image_kind_of(const char *archive)
{
	struct stat st;
	if (stat(archive, &st) < 0 || !S_ISREG(st.st_mode))
		return IMAGE_NONE;
	struct archive *a = lxc_archive_reader();
	if (!a)
		return IMAGE_NONE;
	bool layout = false, docker = false;
	if (archive_read_open_filename(a, archive, 64 * 1024) == ARCHIVE_OK) {
		for (size_t n = 0; n < LXC_UNPACK_MAX_ENTRIES; n++) {
			struct archive_entry *e;
			if (archive_read_next_header(a, &e) != ARCHIVE_OK)
				break;
			const char *p = archive_entry_pathname(e);
			_cleanup_free_ char *c = p ? lxc_path_clean(p) : NULL;
			if (!c || !image_member_name(c)) {
				layout = docker = false;
				break;
			}
			layout = layout || streq(c, "oci-layout");
			docker = docker || streq(c, "manifest.json");
		}
	}
	archive_read_free(a);
	return layout ? IMAGE_OCI : docker ? IMAGE_DOCKER : IMAGE_NONE;
}

bool lxc_oci_is_image(const char *archive)
{
	return image_kind_of(archive) != IMAGE_NONE;
}

/* The manifest of an oci-archive, through index.json (and one nested index at most). */
static int oci_manifest(const char *archive, lxc_oci_manifest *ret, pve_error **err)
{
	_cleanup_free_ char *json = NULL;
	size_t len;
	int r = member_read(archive, "index.json", &json, &len, err);
	if (r < 0)
		return r;
	char hex[65];
	bool nested;
	r = lxc_oci_parse_index(json, len, hex, &nested, err);
	for (int depth = 0; r == 0; depth++) {
		_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", hex);
		free(json);
		json = NULL;
		r = member_read(archive, name, &json, &len, err);
		if (r < 0)
			return r;
		char got[65];
		if (!sha256_hex_of(json, len, got) || !streq(got, hex))
			return pve_error_set(err, EINVAL,
					     "OCI archive: '%s' does not match its digest", name);
		if (!nested)
			return lxc_oci_parse_manifest(json, len, ret, err);
		if (depth >= 2)
			return pve_error_set(err, EINVAL, "OCI archive: indexes nested too deep");
		r = lxc_oci_parse_index(json, len, hex, &nested, err);
	}
	return r;
}

int lxc_oci_extract(const char *archive, const char *dir, const lxc_idmap *maps, size_t n_maps,
		    cJSON **ret_cfg, pve_error **err)
{
	struct stat st;
	if (stat(archive, &st) < 0 || access(archive, R_OK) < 0)
		return pve_error_set(err, errno, "OCI archive '%s': %m", archive);
	if (!S_ISREG(st.st_mode))
		return pve_error_set(err, EINVAL, "OCI archive '%s' is not a regular file",
				     archive);
	lxc_oci_manifest m = { 0 };
	image_kind kind = image_kind_of(archive);
	if (kind == IMAGE_NONE)
		return pve_error_set(
			err, EINVAL,
			"'%s' is not an OCI image archive (no oci-layout or manifest.json)",
			archive);
	bool docker = kind == IMAGE_DOCKER;
	int r;
	if (docker) {
		_cleanup_free_ char *json = NULL;
		size_t len;
		r = member_read(archive, "manifest.json", &json, &len, err);
		if (r == 0)
			r = lxc_oci_parse_docker(json, len, &m, err);
	} else {
		r = oci_manifest(archive, &m, err);
	}
	if (r < 0)
		return r;

	_cleanup_json_ cJSON *cfg = NULL;
	_cleanup_strv_free_ char **diff_ids = NULL;
	{
		_cleanup_free_ char *json = NULL;
		size_t len;
		char got[65];
		r = member_read(archive, m.config_member, &json, &len, err);
		if (r == 0 && m.config_digest[0] &&
		    (!sha256_hex_of(json, len, got) || !streq(got, m.config_digest)))
			r = pve_error_set(err, EINVAL,
					  "OCI image config does not match its digest");
		if (r == 0)
			r = lxc_oci_parse_config(json, len, &cfg, &diff_ids, err);
	}
	/* docker-archive's layers are checked against the config's diff_ids (their uncompressed sha256),
	 * so each needs one. */
	if (r == 0 && docker && strv_length(diff_ids) != m.n_layers)
		r = pve_error_set(err, EINVAL, "docker-archive: %zu layers but %zu diff_ids",
				  m.n_layers, strv_length(diff_ids));
	if (r < 0) {
		lxc_oci_manifest_clear(&m);
		return r;
	}

	lxc_unpack u;
	r = lxc_unpack_init(&u, dir, maps, n_maps, err);
	if (r < 0) {
		lxc_oci_manifest_clear(&m);
		return r;
	}
	u.whiteouts = true;
	for (size_t i = 0; i < m.n_layers && r == 0; i++) {
		r = apply_layer(&u, archive, &m.layers[i], docker ? diff_ids[i] : NULL, i, err);
		lxc_unpack_next_layer(&u);
	}
	if (r < 0)
		lxc_unpack_clear(u.root_fd);
	lxc_unpack_done(&u);
	lxc_oci_manifest_clear(&m);
	if (r < 0)
		return r;
	if (ret_cfg)
		*ret_cfg = TAKE_PTR(cfg);
	return 0;
}
