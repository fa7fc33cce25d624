/* Tests of hot-plug's view of the command line: the options of one config key picked out of a built
 * argv (its -drive, -device, -netdev, no other key's even when names share a prefix: scsi1 is not
 * scsi10), and nothing for a key the line does not have. */
#include <cjson/cJSON.h>

#include "tests/unit/kvm-schema-test.h"
#include "tests/unit/test.h"

static kvm_schema *schema;

static int fake_resolve(void *ud, const char *volid, char **ret_path, char **ret_format,
			pve_error **err)
{
	(void)ud, (void)err;
	*ret_path = xasprintf("/img/%s", strchr(volid, ':') + 1);
	*ret_format = xstrdup("qcow2");
	return 0;
}

static char **build(const char *text)
{
	pve_config *c = NULL;
	if (kvm_config_parse(text, strlen(text), &c, NULL) < 0)
		abort();
	kvm_cmdline_info info = { .vmid = 100,
				  .run_dir = "/run/qemu-server",
				  .qemu = "/usr/bin/qemu-system-x86_64",
				  .resolve = fake_resolve };
	char **argv = NULL;
	pve_error *err = NULL;
	int r = kvm_cmdline_build(c, schema, &info, &argv, &err);
	if (r < 0)
		fprintf(stderr, "build: %s\n", err->message);
	pve_error_free(err);
	pve_config_free(c);
	return argv;
}

static void test_pick(void)
{
	char **argv = build("memory: 256\n"
			    "scsihw: virtio-scsi-pci\n"
			    "scsi0: local:100/vm-100-disk-0.qcow2,size=1G\n"
			    "scsi1: local:100/vm-100-disk-1.qcow2,size=1G\n"
			    "scsi10: local:100/vm-100-disk-2.qcow2,size=1G\n"
			    "virtio1: local:100/vm-100-disk-3.qcow2,size=1G\n"
			    "net1: virtio=BC:24:11:00:00:01\n");
	check(argv != NULL);
	if (!argv)
		return;
	char **p = kvm_cmdline_pick(argv, "scsi1");
	check_int((int)strv_length(p), 4);
	if (strv_length(p) == 4) {
		check_streq(p[0], "-drive");
		check(strstr(p[1], "file=/img/100/vm-100-disk-1.qcow2,") != NULL);
		check(strstr(p[1], "id=drive-scsi1,") != NULL);
		check_streq(p[2], "-device");
		check(startswith(p[3], "scsi-hd,") && strstr(p[3], ",id=scsi1") &&
		      !strstr(p[3], "scsi10"));
	}
	strv_free(p);
	p = kvm_cmdline_pick(argv, "virtio1");
	check_int((int)strv_length(p), 4);
	if (strv_length(p) == 4)
		check(startswith(p[3], "virtio-blk-pci,drive=drive-virtio1,id=virtio1"));
	strv_free(p);
	p = kvm_cmdline_pick(argv, "net1");
	check_int((int)strv_length(p), 4);
	if (strv_length(p) == 4) {
		check_streq(p[0], "-netdev");
		check(startswith(p[1], "type=user,id=net1"));
		check(startswith(p[3], "virtio-net-pci,netdev=net1,id=net1,mac=BC:24:11:00:00:01"));
	}
	strv_free(p);
	p = kvm_cmdline_pick(argv, "scsi2");
	check(p && !p[0]);
	strv_free(p);
	strv_free(argv);
}

static void test_setup(void)
{
	schema = test_kvm_schema();
}

TEST_MAIN(TEST(test_setup), TEST(test_pick))
