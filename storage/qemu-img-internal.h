/* storage: what `qemu-img info --output=json` says about an image file, parsed apart from running
 * qemu-img, so that a fuzz target reaches it. The image file may come from a client (uploads,
 * imports), and so may everything qemu-img reads from its header. */
#pragma once

#include "common/common.h"

/* qemu-img's JSON for one image stays far below this. */
#define QEMU_IMG_INFO_MAX (4 * 1024 * 1024)

typedef struct pve_qemu_img_info {
	char *format; /* "format" */
	long long virtual_size; /* "virtual-size"; -1 when missing or not an integer */
	bool backing_file; /* "backing-filename" is there */
	bool data_file; /* "format-specific"."data"."data-file" is there */
	char **extents; /* the vmdk extents' filenames ("format-specific"."data"."extents") */
	char **snapshots; /* the internal snapshots' names ("snapshots") */
} pve_qemu_img_info;

/* Parses qemu-img info's JSON; EIO naming path when it is not a JSON object. */
int pve_qemu_img_info_parse(const char *out, size_t len, const char *path, pve_qemu_img_info *ret,
			    pve_error **err);
void pve_qemu_img_info_clear(pve_qemu_img_info *i);
/* Runs `qemu-img info --output=json -f fmt path` and parses its answer. */
int pve_qemu_img_read_info(const char *path, const char *fmt, pve_qemu_img_info *ret,
			   pve_error **err);
