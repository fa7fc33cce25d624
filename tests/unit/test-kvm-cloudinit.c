/* Tests of kvm's cloud-init files against what Proxmox's Cloudinit.pm writes for the same config (the
 * expected texts were worked out from its code, line by line): NoCloud's user data, network config
 * and instance id, ConfigDrive v2's ENI and meta data, the NIC order, the host's resolver as the
 * fallback, cicustom's snippets replacing the generated files, the size limit, and the ISO image. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "tests/unit/kvm-schema-test.h"
#include "tests/unit/test.h"

static const char conf_text[] =
	"name: ci-guest\n"
	"ciuser: tester\n"
	"cipassword: $5$abc$def\n"
	"sshkeys: ssh-ed25519%20AAAAC3Nza%20a%40b%0A%0Assh-rsa%20AAAAB3%20c%40d%0A\n"
	"ipconfig0: ip=10.0.0.5/24,gw=10.0.0.1\n"
	"ipconfig1: ip=dhcp,ip6=auto\n"
	"net0: virtio=BC:24:11:AA:BB:CC,bridge=vmbr0\n"
	"net1: virtio=BC:24:11:00:00:01\n"
	"nameserver: 10.0.0.53 10.0.0.54\n"
	"searchdomain: example.com\n";

static const char user_data[] = "#cloud-config\n"
				"hostname: ci-guest\n"
				"manage_etc_hosts: true\n"
				"fqdn: ci-guest.example.com\n"
				"user: tester\n"
				"password: $5$abc$def\n"
				"ssh_authorized_keys:\n"
				"  - ssh-ed25519 AAAAC3Nza a@b\n"
				"  - ssh-rsa AAAAB3 c@d\n"
				"chpasswd:\n"
				"  expire: False\n"
				"users:\n"
				"  - default\n"
				"package_upgrade: true\n";

static const char nocloud_net[] = "version: 1\n"
				  "config:\n"
				  "    - type: physical\n"
				  "      name: eth0\n"
				  "      mac_address: 'bc:24:11:aa:bb:cc'\n"
				  "      subnets:\n"
				  "      - type: static\n"
				  "        address: '10.0.0.5'\n"
				  "        netmask: '255.255.255.0'\n"
				  "        gateway: '10.0.0.1'\n"
				  "    - type: physical\n"
				  "      name: eth1\n"
				  "      mac_address: 'bc:24:11:00:00:01'\n"
				  "      subnets:\n"
				  "      - type: dhcp4\n"
				  "      - type: ipv6_slaac\n"
				  "    - type: nameserver\n"
				  "      address:\n"
				  "      - '10.0.0.53'\n"
				  "      - '10.0.0.54'\n"
				  "      search:\n"
				  "      - 'example.com'\n";

static const char eni_net[] = "auto lo\n"
			      "iface lo inet loopback\n"
			      "\n"
			      "        dns_nameservers 10.0.0.53 10.0.0.54\n"
			      "        dns_search example.com\n"
			      "auto eth0\n"
			      "iface eth0 inet static\n"
			      "        address 10.0.0.5\n"
			      "        netmask 255.255.255.0\n"
			      "        gateway 10.0.0.1\n"
			      "auto eth1\n"
			      "iface eth1 inet dhcp\n"
			      "iface eth1 inet6 auto\n";

static pve_config *conf(const char *text)
{
	pve_config *c = NULL;
	check_int(kvm_config_parse(text, strlen(text), &c, NULL), 0);
	return c;
}

static const char *file_of(const kvm_ci_files *f, const char *path)
{
	for (size_t i = 0; i < f->n; i++)
		if (streq(f->files[i].path, path))
			return f->files[i].content;
	return NULL;
}

static void test_nocloud(void)
{
	_cleanup_kvm_schema_ kvm_schema *s = test_kvm_schema();
	_cleanup_config_ pve_config *c = conf(conf_text);
	check_streq(kvm_cloudinit_format(c), "nocloud");
	_cleanup_free_ char *user = kvm_cloudinit_user_data(c, 100, false);
	check_streq(user, user_data);
	_cleanup_free_ char *masked = kvm_cloudinit_user_data(c, 100, true);
	check(strstr(masked, "password: **********\n") != NULL);
	const char *none[KVM_CI_CUSTOM_COUNT] = { NULL };
	kvm_ci_files f;
	check_int(kvm_cloudinit_files(c, s, 100, NULL, none, &f, NULL), 0);
	check_streq(f.label, "cidata");
	check_int(f.n, 4);
	check_streq(file_of(&f, "user-data"), user_data);
	check_streq(file_of(&f, "network-config"), nocloud_net);
	check_streq(file_of(&f, "meta-data"),
		    "instance-id: b8cfef142b5f0d6409b1c33186d1f5d0e8203570\n");
	check_streq(file_of(&f, "vendor-data"), "");
	kvm_ci_files_clear(&f);
}

static void test_configdrive2(void)
{
	_cleanup_kvm_schema_ kvm_schema *s = test_kvm_schema();
	_cleanup_free_ char *text = xasprintf("%scitype: configdrive2\n", conf_text);
	_cleanup_config_ pve_config *c = conf(text);
	const char *none[KVM_CI_CUSTOM_COUNT] = { NULL };
	kvm_ci_files f;
	check_int(kvm_cloudinit_files(c, s, 100, NULL, none, &f, NULL), 0);
	check_streq(f.label, "config-2");
	check_streq(file_of(&f, "openstack/latest/user_data"), user_data);
	check_streq(file_of(&f, "openstack/content/0000"), eni_net);
	check_streq(file_of(&f, "openstack/latest/meta_data.json"),
		    "{\n     \"uuid\": \"2dffe8e06f7c6856def4d777272604c9180a995a\",\n"
		    "     \"network_config\": { \"content_path\": \"/content/0000\" }\n}\n");
	check_streq(file_of(&f, "openstack/latest/vendor_data.json"), "");
	kvm_ci_files_clear(&f);

	/* a Windows guest gets configdrive2 by default, and cloudbase-init's meta data */
	_cleanup_config_ pve_config *w =
		conf("ostype: win11\ncipassword: secret\nnet0: e1000=BC:24:11:00:00:02\n"
		     "ipconfig0: ip=192.168.1.2/16\nnameserver: 1.1.1.1\n");
	check_streq(kvm_cloudinit_format(w), "configdrive2");
	check_int(kvm_cloudinit_files(w, s, 7001, NULL, none, &f, NULL), 0);
	check_streq(file_of(&f, "openstack/content/0000"),
		    "auto eth0\niface eth0 inet static\n        address 192.168.1.2\n"
		    "        netmask 255.255.0.0\n        dns-nameservers 1.1.1.1\n");
	_cleanup_json_ cJSON *meta = cJSON_Parse(file_of(&f, "openstack/latest/meta_data.json"));
	check_streq(pve_json_str(meta, "admin_pass"), "secret");
	check(strstr(file_of(&f, "openstack/latest/user_data"), "hostname: VM7001\n") != NULL);
	kvm_ci_files_clear(&f);
}

static void test_order_and_host_dns(void)
{
	_cleanup_kvm_schema_ kvm_schema *s = test_kvm_schema();
	/* net10 comes before net2, as Proxmox sorts the keys as strings; a NIC without an ipconfig is
	 * left out; the host's resolver fills in */
	_cleanup_config_ pve_config *c =
		conf("name: web.example.org\nnet2: virtio=BC:24:11:00:00:02\n"
		     "net10: virtio=BC:24:11:00:00:10\nnet3: virtio=BC:24:11:00:00:03\n"
		     "ipconfig2: ip6=fd00::2/64,gw6=fd00::1\nipconfig10: ip=10.1.0.2/8\n"
		     "ciupgrade: 0\n");
	kvm_ci_dns host = { .search = "lab.test", .nameservers = { "192.0.2.53", NULL, NULL } };
	_cleanup_free_ char *net = NULL;
	check_int(kvm_cloudinit_network(c, s, &host, &net, NULL), 0);
	check_streq(net, "version: 1\nconfig:\n"
			 "    - type: physical\n      name: eth10\n"
			 "      mac_address: 'bc:24:11:00:00:10'\n      subnets:\n"
			 "      - type: static\n        address: '10.1.0.2'\n"
			 "        netmask: '255.0.0.0'\n"
			 "    - type: physical\n      name: eth2\n"
			 "      mac_address: 'bc:24:11:00:00:02'\n      subnets:\n"
			 "      - type: static6\n        address: 'fd00::2/64'\n"
			 "        gateway: 'fd00::1'\n"
			 "    - type: nameserver\n      address:\n      - '192.0.2.53'\n"
			 "      search:\n      - 'lab.test'\n");
	_cleanup_free_ char *user = kvm_cloudinit_user_data(c, 100, false);
	check_streq(user, "#cloud-config\nhostname: web\nmanage_etc_hosts: true\n"
			  "fqdn: web.example.org\nchpasswd:\n  expire: False\nusers:\n"
			  "  - default\n");
	/* root as the user: no default user, root may log in */
	_cleanup_config_ pve_config *r = conf("ciuser: root\n");
	_cleanup_free_ char *ru = kvm_cloudinit_user_data(r, 5, false);
	check_streq(ru, "#cloud-config\nhostname: VM5\nmanage_etc_hosts: true\nfqdn: VM5\n"
			"user: root\ndisable_root: False\nchpasswd:\n  expire: False\n"
			"package_upgrade: true\n");
	/* a NIC without a MAC address is an error, as Proxmox's */
	_cleanup_config_ pve_config *nomac =
		conf("net0: virtio,bridge=vmbr0\nipconfig0: ip=dhcp\n");
	pve_error *err = NULL;
	char *t = NULL;
	check(kvm_cloudinit_network(nomac, s, NULL, &t, &err) < 0);
	check(err && streq(err->message, "network interface 'net0' has no mac address"));
	pve_error_free(err);
}

static void test_custom(void)
{
	_cleanup_kvm_schema_ kvm_schema *s = test_kvm_schema();
	_cleanup_config_ pve_config *c = conf(conf_text);
	const char *custom[KVM_CI_CUSTOM_COUNT] = { NULL };
	custom[KVM_CI_USER] = "#cloud-config\nhostname: custom\n";
	custom[KVM_CI_VENDOR] = "#cloud-config\npackages: [htop]\n";
	kvm_ci_files f;
	check_int(kvm_cloudinit_files(c, s, 100, NULL, custom, &f, NULL), 0);
	check_streq(file_of(&f, "user-data"), custom[KVM_CI_USER]);
	check_streq(file_of(&f, "network-config"), nocloud_net);
	check_streq(file_of(&f, "vendor-data"), custom[KVM_CI_VENDOR]);
	/* the instance id follows the files that go on the drive */
	check(!streq(file_of(&f, "meta-data"),
		     "instance-id: b8cfef142b5f0d6409b1c33186d1f5d0e8203570\n"));
	kvm_ci_files_clear(&f);

	char *big = xmalloc(KVM_CI_MAX_FILES + 2);
	memset(big, 'x', KVM_CI_MAX_FILES + 1);
	big[KVM_CI_MAX_FILES + 1] = '\0';
	custom[KVM_CI_META] = big;
	pve_error *err = NULL;
	check(kvm_cloudinit_files(c, s, 100, NULL, custom, &f, &err) < 0);
	check(err && streq(err->message, "Cloud-Init sum of snippets too big (> 3 MiB)"));
	pve_error_free(err);
	free(big);
}

static void test_iso(void)
{
	if (access("/usr/bin/genisoimage", X_OK) != 0 && access("/usr/bin/xorriso", X_OK) != 0)
		return test_skip("neither genisoimage nor xorriso is installed");
	_cleanup_kvm_schema_ kvm_schema *s = test_kvm_schema();
	_cleanup_config_ pve_config *c = conf(conf_text);
	const char *none[KVM_CI_CUSTOM_COUNT] = { NULL };
	kvm_ci_files f;
	check_int(kvm_cloudinit_files(c, s, 100, NULL, none, &f, NULL), 0);
	_cleanup_free_ char *iso = xasprintf("%s/ci.iso", test_tmpdir());
	check_int(kvm_cloudinit_iso(&f, test_tmpdir(), iso, KVM_CI_DISK_SIZE, NULL), 0);
	kvm_ci_files_clear(&f);
	struct stat st;
	check(stat(iso, &st) == 0 && st.st_size == KVM_CI_DISK_SIZE);
	/* the primary volume descriptor at 32 KiB: "CD001" and the label guests look for */
	_cleanup_close_ int fd = open(iso, O_RDONLY | O_CLOEXEC);
	char pvd[64];
	check(pread(fd, pvd, sizeof(pvd), 32768) == (ssize_t)sizeof(pvd));
	check(memcmp(pvd + 1, "CD001", 5) == 0);
	check(memcmp(pvd + 40, "cidata ", 7) == 0);
	/* the work directory's files are gone */
	_cleanup_free_ char *files = xasprintf("%s/files", test_tmpdir());
	check(access(files, F_OK) != 0);
}

/* GET .../cloudinit/dump: the drive's texts; ENI and ConfigDrive's meta data for configdrive2 */
static void test_dump(void)
{
	_cleanup_kvm_schema_ kvm_schema *s = test_kvm_schema();
	_cleanup_config_ pve_config *c = conf(conf_text);
	_cleanup_free_ char *user = NULL, *net = NULL, *meta = NULL, *masked = NULL;
	check_int(kvm_cloudinit_dump(c, s, 100, NULL, "user", false, &user, NULL), 0);
	check_streq(user, user_data);
	check_int(kvm_cloudinit_dump(c, s, 100, NULL, "user", true, &masked, NULL), 0);
	check(strstr(masked, "password: **********\n") != NULL);
	check_int(kvm_cloudinit_dump(c, s, 100, NULL, "network", false, &net, NULL), 0);
	check_streq(net, nocloud_net);
	check_int(kvm_cloudinit_dump(c, s, 100, NULL, "meta", false, &meta, NULL), 0);
	check_streq(meta, "instance-id: b8cfef142b5f0d6409b1c33186d1f5d0e8203570\n");
	_cleanup_free_ char *text = xasprintf("%scitype: configdrive2\n", conf_text);
	_cleanup_config_ pve_config *cd = conf(text);
	_cleanup_free_ char *eni = NULL, *cdmeta = NULL;
	check_int(kvm_cloudinit_dump(cd, s, 100, NULL, "network", false, &eni, NULL), 0);
	check_streq(eni, eni_net);
	check_int(kvm_cloudinit_dump(cd, s, 100, NULL, "meta", true, &cdmeta, NULL), 0);
	check(strstr(cdmeta, "2dffe8e06f7c6856def4d777272604c9180a995a") != NULL);
}

/* Proxmox's drive_is_cloudinit on a drive's file */
static void test_volume_is_cloudinit(void)
{
	check(kvm_volume_is_cloudinit("local:cloudinit"));
	check(kvm_volume_is_cloudinit("local:100/vm-100-cloudinit.qcow2"));
	check(kvm_volume_is_cloudinit("local-lvm:vm-100-cloudinit"));
	check(kvm_volume_is_cloudinit("/var/lib/vz/images/100/vm-100-cloudinit.raw"));
	check(!kvm_volume_is_cloudinit("local:100/vm-100-disk-0.qcow2"));
	check(!kvm_volume_is_cloudinit("local:100/vm-100-cloudinit.iso"));
	check(!kvm_volume_is_cloudinit("local:iso/cloudinit-x.iso"));
	check(!kvm_volume_is_cloudinit(NULL));
}

TEST_MAIN(TEST(test_nocloud), TEST(test_configdrive2), TEST(test_order_and_host_dns),
	  TEST(test_custom), TEST(test_iso), TEST(test_dump), TEST(test_volume_is_cloudinit))
