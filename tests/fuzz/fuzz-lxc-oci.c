/* Fuzzes the JSON side of OCI image archives: the first byte picks index.json, an image manifest,
 * docker-archive's manifest.json or an image config; the rest is the document. Each either fails with
 * a message or gives a result within the limits (layers, member names inside the archive). */
#include <cjson/cJSON.h>

#include "lxc/rootfs-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A member name the reader may look up: relative, without a ".." component. */
static bool member_ok(const char *m)
{
	if (!m || !m[0] || m[0] == '/')
		return false;
	for (const char *p = m; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		p += *p == '/';
	}
	return true;
}

static void check_manifest(const lxc_oci_manifest *m)
{
	if (m->n_layers > LXC_OCI_MAX_LAYERS || !member_ok(m->config_member))
		abort();
	for (size_t i = 0; i < m->n_layers; i++)
		if (!member_ok(m->layers[i].member))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *json = (const char *)data + 1;
	size_t len = size - 1;
	pve_error *err = NULL;
	int r;
	switch (data[0] % 4) {
	case 0: {
		char hex[65];
		bool nested;
		r = lxc_oci_parse_index(json, len, hex, &nested, &err);
		if (r == 0 && strlen(hex) != 64)
			abort();
		break;
	}
	case 1:
	case 2: {
		lxc_oci_manifest m;
		r = data[0] % 4 == 1 ? lxc_oci_parse_manifest(json, len, &m, &err) :
				       lxc_oci_parse_docker(json, len, &m, &err);
		if (r == 0) {
			check_manifest(&m);
			lxc_oci_manifest_clear(&m);
		}
		break;
	}
	default: {
		cJSON *cfg = NULL;
		char **ids = NULL;
		r = lxc_oci_parse_config(json, len, &cfg, &ids, &err);
		if (r == 0) {
			if (!cJSON_IsObject(cfg) || strv_length(ids) > LXC_OCI_MAX_LAYERS)
				abort();
			pve_json_free(cfg);
			strv_free(ids);
		}
		break;
	}
	}
	if (r < 0) {
		if (!err || !err->message[0])
			abort();
		pve_error_free(err);
	}
	return 0;
}
