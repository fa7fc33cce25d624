/* storage: running qemu-img, through the storage layer's tool runner. */
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
