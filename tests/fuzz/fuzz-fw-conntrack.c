/* Fuzzes the conntrack event parser and the log line made of it: the input is what a recv on the
 * conntrack event socket gives, one or more netlink messages. A line is one line, ending in its
 * newline. */
#include <linux/netlink.h>

#include "fw/fw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	/* Netlink messages are 4-byte aligned, as the socket's buffer is. */
	_cleanup_free_ void *buf = xmalloc(size ? size : 1);
	memcpy(buf, data, size);
	size_t left = size;
	for (const struct nlmsghdr *nlh = buf; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
		pve_fw_ct_event e;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_fw_ct_parse(nlh, nlh->nlmsg_len, &e, &err) < 0) {
			if (!err)
				abort();
			continue;
		}
		_cleanup_free_ char *line = pve_fw_ct_format(&e, 1700000000);
		size_t n = strlen(line);
		if (!n || line[n - 1] != '\n' || memchr(line, '\n', n - 1))
			abort();
	}
	return 0;
}
