/* Fuzzes the nflog packet parser and the log line made of it: the input is what a recv on the nflog
 * socket gives, one or more netlink messages. A line is one line, ending in its newline. */
#include <linux/netlink.h>

#include "fw/fw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fake_ifname(uint32_t index, char name[17], void *ctx)
{
	(void)ctx;
	if (index % 2)
		return false;
	snprintf(name, 17, "tap%ui0", index);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	/* Netlink messages are 4-byte aligned, as the socket's buffer is. */
	_cleanup_free_ void *buf = xmalloc(size ? size : 1);
	memcpy(buf, data, size);
	size_t left = size;
	for (const struct nlmsghdr *nlh = buf; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
		pve_fw_nflog_pkt p;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_fw_nflog_parse(nlh, nlh->nlmsg_len, &p, &err) < 0) {
			if (!err)
				abort();
			continue;
		}
		_cleanup_free_ char *line = pve_fw_nflog_format(&p, 1700000000, fake_ifname, NULL);
		size_t n = strlen(line);
		if (!n || line[n - 1] != '\n' || memchr(line, '\n', n - 1))
			abort();
	}
	return 0;
}
