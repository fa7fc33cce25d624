/* What the netlink fuzz targets share: the input as a recv on a netlink socket gives it, walked
 * message by message, and the check of a log line made of one. */
#pragma once

#include <linux/netlink.h>

#include "fw/fw.h"

/* fn(message) for each message of data, copied first (netlink messages are 4-byte aligned, as the
 * socket's buffer is), walked as pved walks a recv's messages. */
static inline void fuzz_netlink_messages(const uint8_t *data, size_t size,
					 void (*fn)(const struct nlmsghdr *nlh))
{
	_cleanup_free_ void *buf = xmalloc(size ? size : 1);
	memcpy(buf, data, size);
	size_t off = 0;
	for (const struct nlmsghdr *nlh; (nlh = pve_fw_nlmsg_next(buf, size, &off));)
		fn(nlh);
}

/* A log line is one line, ending in its newline. */
static inline void fuzz_check_line(const char *line)
{
	size_t n = strlen(line);
	if (!n || line[n - 1] != '\n' || memchr(line, '\n', n - 1))
		abort();
}
