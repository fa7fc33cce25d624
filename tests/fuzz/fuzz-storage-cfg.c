/* Fuzzes storage.cfg's model: parse and check every section, then for each storage the volume-name parser
 * on names made from the input, and a print that parses back to the same sections. */
#include "storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pve_sectioncfg *c = NULL;
	pve_error *err = NULL;
	if (pve_storage_cfg_parse((const char *)data, size, &c, &err) < 0) {
		if (!err || !err->message)
			abort();
		pve_error_free(err);
	} else {
		for (size_t i = 0; i < pve_sectioncfg_count(c); i++) {
			pve_section *s = pve_sectioncfg_nth(c, i);
			pve_storage st;
			if (pve_storage_get(c, pve_section_id(s), &st, NULL) < 0)
				abort();
			_cleanup_free_ char *content = pve_storage_content_print(st.content);
			unsigned back;
			if (pve_storage_content_parse(content, &back, NULL) < 0 ||
			    back != st.content)
				abort();
		}
		char *out = pve_sectioncfg_print(c);
		pve_sectioncfg *c2 = NULL;
		if (pve_storage_cfg_parse(out, strlen(out), &c2, NULL) < 0 ||
		    pve_sectioncfg_count(c2) != pve_sectioncfg_count(c))
			abort();
		pve_sectioncfg_free(c2);
		free(out);
		pve_sectioncfg_free(c);
	}

	/* the input as a volume ID and as a volume name: nothing accepted may climb out */
	char *s = strndup((const char *)data, size < 600 ? size : 600);
	if (!s)
		return 0;
	pve_volname v = { 0 };
	if (pve_storage_parse_volname(s, &v, NULL) == 0) {
		/* a name holds a '/' only as a disk inside an OVA: "x.ova/disk.vmdk" */
		bool ova = v.vtype == PVE_CONTENT_IMPORT && v.format &&
			   startswith(v.format, "ova+");
		if (s[0] == '/' || strncmp(s, "../", 3) == 0 || strstr(s, "/../") ||
		    strstr(s, "//") || !v.name || !v.format ||
		    (strchr(v.name, '/') && (!ova || strchr(strchr(v.name, '/') + 1, '/'))))
			abort();
		pve_volname_clear(&v);
	}
	/* and as a backup archive's name */
	pve_archive_info a = { 0 };
	if (pve_storage_archive_info(s, &a, NULL) == 0) {
		if (!a.filename || !a.type || !a.format || (a.is_std_name && !a.logfilename))
			abort();
		pve_archive_info_clear(&a);
	}
	char *sid = NULL, *vn = NULL;
	if (pve_storage_volid_split(s, &sid, &vn, NULL) == 0) {
		if (vn[0] == '/' || strstr(vn, "/../") || strncmp(vn, "../", 3) == 0)
			abort();
		free(sid);
		free(vn);
	}
	free(s);
	return 0;
}
