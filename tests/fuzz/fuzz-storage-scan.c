/* Fuzzes the parsers of the scan tools' output (storage/net-scan.c), which a remote NFS, SMB or iSCSI
 * server controls: the first byte picks the parser, the rest is the output. Every answer must be an
 * array of objects with string fields, within the entry and portal limits. */
#include "common/common.h"
#include "storage/net-scan-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const cJSON *list, const char *k1, const char *k2)
{
	if (!list)
		return;
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > PVE_SCAN_MAX_ENTRIES)
		abort();
	const cJSON *e;
	cJSON_ArrayForEach (e, list)
		if (!pve_json_str(e, k1) || !pve_json_str(e, k2))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (4 << 20))
		return 0;
	_cleanup_free_ char *out = xmalloc(size);
	memcpy(out, data + 1, size - 1);
	out[size - 1] = '\0';
	_cleanup_json_ cJSON *list = NULL;
	switch (data[0] % 3) {
	case 0:
		check(list = pve_scan_parse_nfs(out), "path", "options");
		break;
	case 1:
		check(list = pve_scan_parse_cifs(out), "share", "description");
		break;
	default:
		check(list = pve_scan_parse_iscsi(out), "target", "portal");
		/* a target's portals are capped: joining them is quadratic */
		const cJSON *e;
		cJSON_ArrayForEach (e, list) {
			size_t k = 1;
			for (const char *c = pve_json_str(e, "portal"); (c = strchr(c, ',')); c++)
				k++;
			if (k > PVE_SCAN_MAX_PORTALS)
				abort();
		}
		break;
	}
	return 0;
}
