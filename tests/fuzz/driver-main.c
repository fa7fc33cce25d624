/* A standalone driver for the fuzz targets: runs LLVMFuzzerTestOneInput over each file named on the command
 * line (or each file in a named directory), so `make check` exercises every target without libFuzzer. */
#include <dirent.h>
#include <sys/stat.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "rbe");
	if (!f) {
		fprintf(stderr, "%s: %m\n", path);
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	_cleanup_free_ uint8_t *buf = xmalloc(cap);
	size_t r;
	while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	/* An exact-size copy, so ASan sees any read past the end. */
	_cleanup_free_ uint8_t *exact = xmalloc(len);
	memcpy(exact, buf, len);
	LLVMFuzzerTestOneInput(exact, len);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "%s: %m\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				return 1;
			n++;
			continue;
		}
		struct dirent **names;
		int k = scandir(argv[i], &names, NULL, alphasort);
		if (k < 0)
			return 1;
		for (int j = 0; j < k; j++) {
			if (names[j]->d_name[0] != '.') {
				_cleanup_free_ char *p =
					xasprintf("%s/%s", argv[i], names[j]->d_name);
				if (run_file(p) < 0)
					return 1;
				n++;
			}
			free(names[j]);
		}
		free(names);
	}
	printf("ran %d inputs\n", n);
	return 0;
}
