/* Unit tests of lxc_oci_extract and lxc_oci_is_image: OCI and docker archives the test writes (layers
 * with whiteouts, digests right and wrong, hostile whiteouts), the JSON limits, and the images
 * tools/ct/mk-oci-app builds. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "lxc/lxc.h"
#include "lxc/rootfs-internal.h"
#include "tests/unit/test.h"

typedef struct ent {
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK; 0 ends */
	const char *path;
	const char *data;
} ent;

typedef struct blob {
	char *data;
	size_t len;
} blob;

static blob tar_mem(int filter, const ent *ents)
{
	size_t cap = 16 << 20, used = 0;
	char *buf = xmalloc(cap);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter(a, filter);
	archive_write_set_bytes_in_last_block(a, 1);
	check(archive_write_open_memory(a, buf, cap, &used) == ARCHIVE_OK);
	for (const ent *e = ents; e->type; e++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e->path);
		archive_entry_set_filetype(ae, e->type);
		archive_entry_set_perm(ae, e->type == AE_IFDIR ? 0755 : 0644);
		size_t len = e->type == AE_IFREG && e->data ? strlen(e->data) : 0;
		if (e->type == AE_IFLNK)
			archive_entry_set_symlink(ae, e->data);
		archive_entry_set_size(ae, (la_int64_t)len);
		check(archive_write_header(a, ae) == ARCHIVE_OK);
		if (len)
			check(archive_write_data(a, e->data, len) == (ssize_t)len);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return (blob){ buf, used };
}

static char *sha(const blob *b)
{
	unsigned char md[32];
	unsigned n;
	check(EVP_Digest(b->data, b->len, md, &n, EVP_sha256(), NULL));
	return pve_hex_encode(md, 32, false);
}

/* An outer archive of named members. */
static void write_outer(const char *path, const char *const *names, const blob *blobs, size_t n)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	check(archive_write_open_filename(a, path) == ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, names[i]);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, (la_int64_t)blobs[i].len);
		check(archive_write_header(a, ae) == ARCHIVE_OK);
		check(archive_write_data(a, blobs[i].data, blobs[i].len) == (ssize_t)blobs[i].len);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static blob str_blob(char *s)
{
	return (blob){ s, strlen(s) };
}

static const ent layer1[] = {
	{ AE_IFDIR, "etc/", NULL },
	{ AE_IFREG, "etc/motd", "lower\n" },
	{ AE_IFREG, "etc/keep", "kept\n" },
	{ AE_IFDIR, "opt/data/", NULL },
	{ AE_IFREG, "opt/data/old", "old\n" },
	{ 0, NULL, NULL },
};
static const ent layer2[] = {
	{ AE_IFREG, "etc/.wh.motd", "" },
	{ AE_IFREG, "opt/data/new", "new\n" },
	{ AE_IFREG, "opt/data/.wh..wh..opq", "" },
	{ AE_IFREG, "app/run.sh", "#!/bin/sh\necho hi\n" },
	{ 0, NULL, NULL },
};

static const char config_fmt[] =
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/app/run.sh\"],"
	"\"Cmd\":[\"serve\"],\"Env\":[\"PATH=/bin\",\"A=b\"],\"WorkingDir\":\"/app\",\"User\":\"0\"},"
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\",\"sha256:%s\"]}}";

/* An oci-archive of layers l1 (gzip) and l2 (zstd); bad_layer: the second's digest is wrong. */
static char *make_oci(const ent *l1, const ent *l2, bool bad_layer)
{
	blob b[6];
	b[0] = tar_mem(ARCHIVE_FILTER_GZIP, l1);
	b[1] = tar_mem(ARCHIVE_FILTER_ZSTD, l2);
	_cleanup_free_ char *h0 = sha(&b[0]), *h1 = sha(&b[1]);
	b[2] = str_blob(xasprintf(config_fmt, h0, h1));
	_cleanup_free_ char *hc = sha(&b[2]);
	_cleanup_free_ char *h1m = xstrdup(h1);
	if (bad_layer)
		h1m[0] = h1m[0] == '0' ? '1' : '0';
	b[3] = str_blob(xasprintf(
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":"
		"\"sha256:%s\",\"size\":%zu},\"layers\":["
		"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:%s\","
		"\"size\":%zu},"
		"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"sha256:%s\","
		"\"size\":%zu}]}",
		hc, b[2].len, h0, b[0].len, h1m, b[1].len));
	_cleanup_free_ char *hm = sha(&b[3]);
	b[4] = str_blob(xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
				  "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":"
				  "\"sha256:%s\",\"size\":%zu}]}",
				  hm, b[3].len));
	b[5] = str_blob(xstrdup("{\"imageLayoutVersion\":\"1.0.0\"}"));
	/* Blobs before index.json: the reader may not rely on an order. */
	_cleanup_free_ char *n0 = xasprintf("blobs/sha256/%s", h0);
	_cleanup_free_ char *n1 = xasprintf("blobs/sha256/%s", bad_layer ? h1m : h1);
	_cleanup_free_ char *n2 = xasprintf("blobs/sha256/%s", hc);
	_cleanup_free_ char *n3 = xasprintf("blobs/sha256/%s", hm);
	const char *names[] = { n1, n0, n2, n3, "index.json", "oci-layout" };
	const blob ordered[] = { b[1], b[0], b[2], b[3], b[4], b[5] };
	char *path = xasprintf("%s/image-%d.tar", test_tmpdir(), bad_layer);
	write_outer(path, names, ordered, 6);
	for (size_t i = 0; i < 6; i++)
		free(b[i].data);
	return path;
}

static char *mkroot(const char *name)
{
	char *p = xasprintf("%s/%s", test_tmpdir(), name);
	check(mkdir(p, 0755) == 0);
	return p;
}

static bool exists_in(const char *root, const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

static void check_layers_applied(const char *root)
{
	check(!exists_in(root, "etc/motd"));
	check(exists_in(root, "etc/keep"));
	check(!exists_in(root, "opt/data/old"));
	check(exists_in(root, "opt/data/new"));
	check(exists_in(root, "app/run.sh"));
	check(!exists_in(root, "etc/.wh.motd"));
	check(!exists_in(root, "opt/data/.wh..wh..opq"));
}

static void test_oci_archive(void)
{
	_cleanup_free_ char *img = make_oci(layer1, layer2, false);
	_cleanup_free_ char *root = mkroot("root");
	check(lxc_oci_is_image(img));
	_cleanup_json_ cJSON *cfg = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_oci_extract(img, root, NULL, 0, &cfg, &err), 0);
	if (err)
		test_fail(__FILE__, __LINE__, "%s", err->message);
	check_layers_applied(root);
	_cleanup_free_ char *s = cfg ? pve_json_print(cfg) : NULL;
	check_streq(s,
		    "{\"entrypoint\":[\"/app/run.sh\"],\"cmd\":[\"serve\"],\"env\":[\"PATH=/bin\","
		    "\"A=b\"],\"workdir\":\"/app\",\"user\":\"0\"}");
}

static void test_docker_archive(void)
{
	blob b[4];
	b[0] = tar_mem(ARCHIVE_FILTER_NONE, layer1);
	b[1] = tar_mem(ARCHIVE_FILTER_NONE, layer2);
	_cleanup_free_ char *h0 = sha(&b[0]), *h1 = sha(&b[1]);
	b[2] = str_blob(xasprintf(config_fmt, h0, h1));
	_cleanup_free_ char *hc = sha(&b[2]);
	_cleanup_free_ char *cn = xasprintf("%s.json", hc);
	_cleanup_free_ char *l0 = xasprintf("%s/layer.tar", h0),
			    *l1 = xasprintf("%s/layer.tar", h1);
	b[3] = str_blob(
		xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"t:latest\"],\"Layers\":[\"%s\","
			  "\"%s\"]}]",
			  cn, l0, l1));
	const char *names[] = { "manifest.json", cn, l0, l1 };
	blob ordered[] = { b[3], b[2], b[0], b[1] };
	_cleanup_free_ char *img = xasprintf("%s/docker.tar", test_tmpdir());
	write_outer(img, names, ordered, 4);
	for (size_t i = 0; i < 4; i++)
		free(b[i].data);
	check(lxc_oci_is_image(img));
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_json_ cJSON *cfg = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_oci_extract(img, root, NULL, 0, &cfg, &err), 0);
	check_layers_applied(root);
	check_streq(pve_json_str(cfg, "workdir"), "/app");
}

static void test_bad_digest(void)
{
	_cleanup_free_ char *img = make_oci(layer1, layer2, true);
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_json_ cJSON *cfg = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check(lxc_oci_extract(img, root, NULL, 0, &cfg, &err) < 0);
	check(err && strstr(err->message, "sha256"));
	check(!cfg);
	/* Nothing of the first layer is left either. */
	check(!exists_in(root, "etc"));
}

/* A lower layer's symlinks to a host directory and a host file, then a file over the second (it
 * replaces the symlink, never writes through it) and a whiteout and an opaque marker through the
 * first: the host's files stay as they were. */
static void test_whiteout_through_symlink(void)
{
	_cleanup_free_ char *host = xasprintf("%s/hostdir", test_tmpdir());
	check(mkdir(host, 0755) == 0);
	_cleanup_free_ char *victim = xasprintf("%s/victim", host);
	_cleanup_close_ int fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	check(fd >= 0);
	const ent l1[] = { { AE_IFLNK, "etc", host },
			   { AE_IFLNK, "f", victim },
			   { 0, NULL, NULL } };
	const ent l2[] = {
		{ AE_IFREG, "f", "replaced\n" },
		{ AE_IFREG, "etc/.wh.victim", "" },
		{ AE_IFREG, "etc/.wh..wh..opq", "" },
		{ 0, NULL, NULL },
	};
	_cleanup_free_ char *img = make_oci(l1, l2, false);
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_json_ cJSON *cfg = NULL;
	_cleanup_error_ pve_error *err = NULL;
	(void)lxc_oci_extract(img, root, NULL, 0, &cfg, &err);
	struct stat st;
	check(stat(victim, &st) == 0 && st.st_size == 0);
}

static void test_not_an_image(void)
{
	const ent ents[] = { { AE_IFREG, "./etc/hostname", "x\n" }, { 0, NULL, NULL } };
	blob b = tar_mem(ARCHIVE_FILTER_GZIP, ents);
	_cleanup_free_ char *p = xasprintf("%s/t.tar.gz", test_tmpdir());
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	check(fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len);
	free(b.data);
	check(!lxc_oci_is_image(p));
	check(!lxc_oci_is_image("/nonexistent"));
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_error_ pve_error *err = NULL;
	check(lxc_oci_extract(p, root, NULL, 0, NULL, &err) < 0);
	check(err && strstr(err->message, "not an OCI image archive"));
}

/* A template is told from an image by its first entry, not read through to the end: one that holds a
 * manifest.json further on is still a template. */
static void test_template_with_manifest(void)
{
	_cleanup_free_ char *p = xasprintf("%s/big.tar.gz", test_tmpdir());
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter(a, ARCHIVE_FILTER_GZIP);
	check(archive_write_open_filename(a, p) == ARCHIVE_OK);
	static char junk[1 << 16];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7919 % 251);
	for (int f = 0; f < 2; f++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, f ? "manifest.json" : "./bin/big");
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, f ? 2 : 1 << 20);
		check(archive_write_header(a, ae) == ARCHIVE_OK);
		for (int i = 0; i < (f ? 0 : 16); i++)
			archive_write_data(a, junk, sizeof(junk));
		if (f)
			archive_write_data(a, "[]", 2);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	check(!lxc_oci_is_image(p));
}

static void test_json_limits(void)
{
	_cleanup_error_ pve_error *err = NULL;
	lxc_oci_manifest m;
	/* 129 layers */
	pve_buf b = { 0 };
	pve_buf_puts(&b, "{\"config\":{\"digest\":\"sha256:");
	for (int i = 0; i < 64; i++)
		pve_buf_puts(&b, "a");
	pve_buf_puts(&b, "\"},\"layers\":[");
	for (int i = 0; i <= LXC_OCI_MAX_LAYERS; i++)
		pve_buf_printf(&b, "%s{\"digest\":\"sha256:%064d\"}", i ? "," : "", i);
	pve_buf_puts(&b, "]}");
	_cleanup_free_ char *s = pve_buf_steal(&b);
	check_int(lxc_oci_parse_manifest(s, strlen(s), &m, &err), -E2BIG);
	pve_error_free(err);
	err = NULL;
	/* a digest of another algorithm, a path out of the archive, a bad Entrypoint */
	const char *bad_index = "{\"manifests\":[{\"digest\":\"sha512:abc\"}]}";
	char hex[65];
	bool nested;
	check(lxc_oci_parse_index(bad_index, strlen(bad_index), hex, &nested, &err) < 0);
	pve_error_free(err);
	err = NULL;
	const char *bad_docker = "[{\"Config\":\"../../etc/shadow\",\"Layers\":[]}]";
	check(lxc_oci_parse_docker(bad_docker, strlen(bad_docker), &m, &err) < 0);
	pve_error_free(err);
	err = NULL;
	const char *bad_cfg = "{\"config\":{\"Entrypoint\":\"/bin/sh\"}}";
	cJSON *cfg = NULL;
	check(lxc_oci_parse_config(bad_cfg, strlen(bad_cfg), &cfg, NULL, &err) < 0);
	check(!cfg);
}

/* The images tools/ct/mk-oci-app builds (both formats) unpack to the same tree. */
static void test_mk_oci_app(void)
{
	if (access("tools/ct/mk-oci-app", X_OK) < 0 || access("/bin/busybox", X_OK) < 0) {
		test_skip("tools/ct/mk-oci-app or busybox-static missing (run from the checkout)");
		return;
	}
	static const char *const variants[] = { "", "--docker" };
	for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
		_cleanup_free_ char *img = xasprintf("%s/app%zu.tar", test_tmpdir(), i);
		_cleanup_free_ char *cmd = xasprintf("tools/ct/mk-oci-app %s %s", variants[i], img);
		check(system(cmd) == 0);
		_cleanup_free_ char *name = xasprintf("root%zu", i);
		_cleanup_free_ char *root = mkroot(name);
		static const lxc_idmap maps[] = {
			{ 'u', 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT },
			{ 'g', 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT },
		};
		_cleanup_json_ cJSON *cfg = NULL;
		_cleanup_error_ pve_error *err = NULL;
		check_int(lxc_oci_extract(img, root, maps, 2, &cfg, &err), 0);
		if (err)
			test_fail(__FILE__, __LINE__, "%s", err->message);
		check(exists_in(root, "bin/busybox") && exists_in(root, "app/run.sh"));
		check(!exists_in(root, "etc/motd") && !exists_in(root, "opt/data/old"));
		check(exists_in(root, "opt/data/new"));
		_cleanup_free_ char *rs = xasprintf("%s/app/run.sh", root);
		struct stat st;
		check(stat(rs, &st) == 0 && st.st_uid == LXC_UNPRIV_BASE && (st.st_mode & 0111));
		const cJSON *ep = cJSON_GetObjectItemCaseSensitive(cfg, "entrypoint");
		check(cJSON_IsArray(ep) &&
		      streq(cJSON_GetArrayItem(ep, 0)->valuestring, "/app/run.sh"));
	}
}

/* A hostile layer: hundreds of entries in one directory, then tens of thousands of opaque markers for
 * it. Each marker after the first finds the directory done; a search of the layer's entries per child
 * per marker would take minutes. */
static void test_many_opaque_markers(void)
{
	enum { FILES = 300, MARKERS = 20000 };
	ent *l2 = xcalloc(FILES + MARKERS + 1, sizeof(ent));
	char **names = xcalloc(FILES, sizeof(char *));
	for (size_t i = 0; i < FILES; i++) {
		names[i] = xasprintf("opt/data/f%zu", i);
		l2[i] = (ent){ AE_IFREG, names[i], "x" };
	}
	for (size_t i = 0; i < MARKERS; i++)
		l2[FILES + i] = (ent){ AE_IFREG, "opt/data/.wh..wh..opq", "" };
	_cleanup_free_ char *img = make_oci(layer1, l2, false);
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_json_ cJSON *cfg = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_oci_extract(img, root, NULL, 0, &cfg, &err), 0);
	check(!exists_in(root, "opt/data/old"));
	check(exists_in(root, "opt/data/f0") && exists_in(root, "opt/data/f299"));
	for (size_t i = 0; i < FILES; i++)
		free(names[i]);
	free(names);
	free(l2);
}

TEST_MAIN(TEST(test_oci_archive), TEST(test_docker_archive), TEST(test_bad_digest),
	  TEST(test_whiteout_through_symlink), TEST(test_not_an_image),
	  TEST(test_template_with_manifest), TEST(test_json_limits), TEST(test_many_opaque_markers),
	  TEST(test_mk_oci_app))
