/* storage: the lvm2 JSON reports the lvm and lvmthin plugins read (lvs, vgs), parsed apart from
 * running the tools, so that a fuzz target reaches them. */
#pragma once

#include <cjson/cJSON.h>

#include "common/common.h"

/* A report of one volume group stays far below this (the tool runner's own limit). */
#define LVM_REPORT_MAX (4 * 1024 * 1024)

typedef struct lv_info {
	char *name, *attr, *pool, *origin;
	char *tags; /* comma-separated, "" for none */
	uint64_t size;
	double data_percent; /* 0..100 */
} lv_info;

typedef struct lv_list {
	lv_info *v;
	size_t n;
} lv_list;

void lv_list_clear(lv_list *l);

/* `lvs -o lv_name,lv_size,lv_attr,pool_lv,origin,data_percent,lv_tags` of volume group vg (named in
 * the error). */
int pve_lvm_parse_lvs(const char *out, size_t len, const char *vg, lv_list *ret, pve_error **err);
/* `vgs -o vg_size,vg_free` of one volume group: false when the report has no row. */
bool pve_lvm_parse_vg_space(const char *out, size_t len, uint64_t *ret_size, uint64_t *ret_free);
/* The scans' reports: `vgs -o vg_name,vg_size,vg_free` as [{vg, size, free}], and `lvs -o
 * lv_name,lv_size,data_percent,lv_metadata_size,metadata_percent` of thin pools as [{lv, lv_size,
 * used, metadata_size, metadata_used}]. */
int pve_lvm_parse_scan_vgs(const char *out, size_t len, cJSON **ret, pve_error **err);
int pve_lvm_parse_scan_thin(const char *out, size_t len, cJSON **ret, pve_error **err);
/* size * percent / 100, percent (lvm2 prints it as text) held to 0..100, the result to size. */
uint64_t pve_lvm_percent_of(uint64_t size, const char *percent);
