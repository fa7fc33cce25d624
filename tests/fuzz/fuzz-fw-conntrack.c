/* Fuzzes the conntrack event parser and the log line made of it: the input is what a recv on the
 * conntrack event socket gives, one or more netlink messages. */
#include "fw/fw.h"
#include "tests/fuzz/fuzz-netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const struct nlmsghdr *nlh)
{
	pve_fw_ct_event e;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_fw_ct_parse(nlh, nlh->nlmsg_len, &e, &err) < 0) {
		if (!err)
			abort();
		return;
	}
	_cleanup_free_ char *line = pve_fw_ct_format(&e, 1700000000);
	fuzz_check_line(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size <= 65536)
		fuzz_netlink_messages(data, size, one);
	return 0;
}
