/* Fuzzes the lvm2 JSON reports the lvm and lvmthin plugins read (storage/plugin-lvm.c): the first
 * byte picks the report (lvs of a volume group, vgs of one, the scans' vgs and thin-pool lvs), the
 * rest is the tool's output. What parses must hold sane numbers: used space within the size. */
#include "storage/lvm-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > LVM_REPORT_MAX)
		return 0;
	const char *out = (const char *)data + 1;
	size_t len = size - 1;
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_json_ cJSON *scan = NULL;
	const cJSON *e;
	switch (data[0] % 4) {
	case 0: {
		_cleanup_(lv_list_clear) lv_list l = { 0 };
		if (pve_lvm_parse_lvs(out, len, "vg", &l, &err) < 0) {
			if (!err)
				abort();
			break;
		}
		for (size_t i = 0; i < l.n; i++)
			if (!l.v[i].name || !l.v[i].attr || !l.v[i].pool || !l.v[i].origin)
				abort();
		break;
	}
	case 1: {
		uint64_t total, avail;
		(void)pve_lvm_parse_vg_space(out, len, &total, &avail);
		break;
	}
	case 2:
		if (pve_lvm_parse_scan_vgs(out, len, &scan, &err) < 0 && !err)
			abort();
		break;
	default:
		if (pve_lvm_parse_scan_thin(out, len, &scan, &err) < 0) {
			if (!err)
				abort();
			break;
		}
		cJSON_ArrayForEach (e, scan) {
			long long sz, used, msz, mused;
			if (!pve_json_int(e, "lv_size", &sz) || !pve_json_int(e, "used", &used) ||
			    !pve_json_int(e, "metadata_size", &msz) ||
			    !pve_json_int(e, "metadata_used", &mused))
				continue; /* sizes from 2^63 on do not fit a long long */
			if (used > sz || mused > msz)
				abort();
		}
		break;
	}
	return 0;
}
