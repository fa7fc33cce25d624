/* storage: running qemu-img, through the storage layer's tool runner, and reading its info. */
#include <cjson/cJSON.h>

#include "storage/qemu-img-internal.h"
#include "storage/storage.h"

int pve_qemu_img(const char *const argv[], char **ret_out, pve_error **err)
{
	/* always the system's binary, whatever argv[0] says */
	const char *args[32];
	size_t n = 0;
	args[n++] = "/usr/bin/qemu-img";
	for (size_t i = 1; argv[i]; i++) {
		if (n + 1 >= ELEMENTSOF(args))
			return pve_error_set(err, E2BIG, "qemu-img: too many arguments");
		args[n++] = argv[i];
	}
	args[n] = NULL;
	return pve_storage_run(args, ret_out, err);
}

void pve_qemu_img_info_clear(pve_qemu_img_info *i)
{
	free(i->format);
	strv_free(i->extents);
	strv_free(i->snapshots);
	*i = (pve_qemu_img_info){ .virtual_size = -1 };
}

/* The string items' key of each object in arr, as a NULL-terminated list. */
static char **strings_of(const cJSON *arr, const char *key)
{
	size_t n = 0;
	const cJSON *e;
	cJSON_ArrayForEach (e, arr)
		n++;
	char **v = xcalloc(n + 1, sizeof(*v));
	n = 0;
	cJSON_ArrayForEach (e, arr) {
		const char *s = pve_json_str(e, key);
		/* an entry without one still counts: the callers compare every entry */
		v[n++] = xstrdup(s ? s : "");
	}
	return v;
}

int pve_qemu_img_info_parse(const char *out, size_t len, const char *path, pve_qemu_img_info *ret,
			    pve_error **err)
{
	_cleanup_json_ cJSON *j = pve_json_parse(out, len, QEMU_IMG_INFO_MAX, 32, err);
	if (!cJSON_IsObject(j))
		return pve_error_set(err, EIO, "qemu-img info: unreadable output for '%s'", path);
	pve_qemu_img_info i = { .virtual_size = -1 };
	const char *f = pve_json_str(j, "format");
	i.format = f ? xstrdup(f) : NULL;
	long long vs;
	if (pve_json_int(j, "virtual-size", &vs) && vs >= 0)
		i.virtual_size = vs;
	i.backing_file = cJSON_GetObjectItemCaseSensitive(j, "backing-filename") != NULL;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(j, "format-specific");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(spec, "data");
	i.data_file = cJSON_GetObjectItemCaseSensitive(data, "data-file") != NULL;
	i.extents = strings_of(cJSON_GetObjectItemCaseSensitive(data, "extents"), "filename");
	i.snapshots = strings_of(cJSON_GetObjectItemCaseSensitive(j, "snapshots"), "name");
	*ret = i;
	return 0;
}

int pve_qemu_img_read_info(const char *path, const char *fmt, pve_qemu_img_info *ret,
			   pve_error **err)
{
	const char *argv[] = { "qemu-img", "info", "--output=json", "-f", fmt, path, NULL };
	_cleanup_free_ char *out = NULL;
	if (pve_qemu_img(argv, &out, err) < 0)
		return -EIO;
	return pve_qemu_img_info_parse(out, strlen(out), path, ret, err);
}
