/* Fuzzes the nflog packet parser and the log line made of it: the input is what a recv on the nflog
 * socket gives, one or more netlink messages. */
#include "fw/fw.h"
#include "tests/fuzz/fuzz-netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fake_ifname(uint32_t index, char name[17], void *ctx)
{
	(void)ctx;
	if (index % 2)
		return false;
	snprintf(name, 17, "tap%ui0", index);
	return true;
}

static void one(const struct nlmsghdr *nlh)
{
	pve_fw_nflog_pkt p;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_fw_nflog_parse(nlh, nlh->nlmsg_len, &p, &err) < 0) {
		if (!err)
			abort();
		return;
	}
	_cleanup_free_ char *line = pve_fw_nflog_format(&p, 1700000000, fake_ifname, NULL);
	fuzz_check_line(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size <= 65536)
		fuzz_netlink_messages(data, size, one);
	return 0;
}
