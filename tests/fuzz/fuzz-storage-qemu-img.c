/* Fuzzes the reading of `qemu-img info --output=json` (storage/qemu-img.c), whose answer describes
 * image files that clients upload and import. Whatever parses has a usable shape: lists end, sizes
 * are -1 or positive. */
#include "storage/qemu-img-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > QEMU_IMG_INFO_MAX)
		return 0;
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_(pve_qemu_img_info_clear) pve_qemu_img_info i = { 0 };
	if (pve_qemu_img_info_parse((const char *)data, size, "/x.qcow2", &i, &err) < 0) {
		if (!err || !err->message[0])
			abort();
		return 0;
	}
	if (i.virtual_size < -1 || !i.extents || !i.snapshots)
		abort();
	size_t n = 0;
	for (char **s = i.extents; *s; s++)
		n += strlen(*s);
	for (char **s = i.snapshots; *s; s++)
		n += strlen(*s);
	return n > size ? abort(), 1 : 0;
}
