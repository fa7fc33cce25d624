/* Tests of kvm's VM configs: parsing and printing Proxmox's files unchanged, the checks against the
 * schema with Proxmox's messages, GET config and pending answers, pending changes and deletions, drives
 * and NICs, the boot order. */
#include "tests/unit/kvm-schema-test.h"
#include "tests/unit/test.h"

static const char sample[] = "#web server\n"
			     "#second line%0A\n"
			     "boot: order=scsi0;ide2;net0\n"
			     "cores: 2\n"
			     "cpu: x86-64-v2-AES\n"
			     "ide2: local:iso/debian.iso,media=cdrom,size=600M\n"
			     "memory: 4096\n"
			     "meta: creation-qemu=9.0.2,ctime=1737549549\n"
			     "name: web1\n"
			     "net0: virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1\n"
			     "numa: 0\n"
			     "onboot: 1\n"
			     "ostype: l26\n"
			     "parent: before\n"
			     "scsi0: local:100/vm-100-disk-0.qcow2,iothread=1,size=32G\n"
			     "scsihw: virtio-scsi-single\n"
			     "smbios1: uuid=b3247ab1-1a2b-4c5d-8e9f-0123456789ab\n"
			     "sockets: 1\n"
			     "unused0: local:100/vm-100-disk-1.raw\n"
			     "vmgenid: 7079e97c-1a2b-4c5d-8e9f-0123456789ab\n"
			     "\n"
			     "[PENDING]\n"
			     "delete: numa,!unused0\n"
			     "memory: 8192\n"
			     "tags: web;prod\n"
			     "\n"
			     "[before]\n"
			     "cores: 1\n"
			     "memory: 2048\n"
			     "scsi0: local:100/vm-100-disk-0.qcow2,size=32G\n"
			     "snaptime: 1737549549\n"
			     "vmstate: local:100/vm-100-state-before.raw\n";

static kvm_schema *schema;

static void test_roundtrip(void)
{
	pve_config *c = NULL;
	check_int(kvm_config_parse(sample, strlen(sample), &c, NULL), 0);
	char *out = pve_config_print(c);
	check_streq(out, sample);
	free(out);
	cJSON *errors = NULL;
	check_int(kvm_config_check(c, NULL, schema, &errors), 0);
	check_int(kvm_config_check(c, KVM_SECTION_PENDING, schema, &errors), 0);
	check_int(kvm_config_check(c, "before", schema, &errors), 0);
	pve_config_free(c);
}

static void test_check_errors(void)
{
	static const char bad[] = "cores: two\n"
				  "bogus: 1\n"
				  "net0: virtio=xx,bridge=vmbr0\n"
				  "scsi0: local:100/vm.raw,cache=fast\n"
				  "hotplug: disk,nonsense\n"
				  "boot: order=scsi0;floppy\n"
				  "ostype: beos\n"
				  "cpu: host,flags=+aes;pcid\n"
				  "delete: x\n";
	pve_config *c = NULL;
	check_int(kvm_config_parse(bad, strlen(bad), &c, NULL), 0);
	cJSON *errors = NULL;
	check_int(kvm_config_check(c, NULL, schema, &errors), -EINVAL);
	check_streq(pve_json_str(errors, "cores"), "type check ('integer') failed - got 'two'");
	check_streq(pve_json_str(errors, "bogus"), "unknown setting 'bogus'");
	check(pve_json_str(errors, "net0") != NULL);
	check(pve_json_str(errors, "scsi0") && strstr(pve_json_str(errors, "scsi0"), "cache"));
	check_streq(pve_json_str(errors, "hotplug"),
		    "invalid format - unable to parse hotplug option");
	check_streq(pve_json_str(errors, "boot"), "invalid format - invalid boot device 'floppy'");
	check(pve_json_str(errors, "ostype") != NULL);
	check(pve_json_str(errors, "cpu") != NULL);
	check_streq(pve_json_str(errors, "delete"),
		    "property 'delete' is only allowed in [PENDING]");
	check_int(cJSON_GetArraySize(errors), 9);
	cJSON_Delete(errors);
	pve_config_free(c);

	pve_error *e = NULL;
	check_int(kvm_config_check_value(schema, "vmid", "100", NULL, &e), -EINVAL);
	check_streq(e->param, "vmid");
	pve_error_free(e);
	e = NULL;
	check_int(kvm_config_check_value(schema, "scsi0", "nostorage", NULL, &e), -EINVAL);
	check_streq(e->message, "invalid format - unable to parse volume ID 'nostorage'");
	pve_error_free(e);
	check_int(kvm_config_check_value(schema, "scsi0", "local:32", NULL, NULL), 0);
	check_int(kvm_config_check_value(schema, "virtio0",
					 "local:0,import-from=local:import/x.qcow2", NULL, NULL),
		  0);
	check_int(kvm_config_check_value(schema, "affinity", "0,2-3", NULL, NULL), 0);
	check_int(kvm_config_check_value(schema, "affinity", "3-1", NULL, NULL), -EINVAL);
	check_int(kvm_config_check_value(schema, "net31", "e1000,bridge=vmbr0", NULL, NULL), 0);
	check_int(kvm_config_check_value(schema, "net32", "e1000,bridge=vmbr0", NULL, NULL),
		  -EINVAL);
	check_int(kvm_config_check_value(schema, "ipconfig0", "ip=10.0.0.2/24,gw=10.0.0.1", NULL,
					 NULL),
		  0);
	check_int(kvm_config_check_value(schema, "name", "a b", NULL, NULL), -EINVAL);
	check_int(kvm_config_check_value(schema, "memory", "8", NULL, NULL), -EINVAL);
}

static void test_json(void)
{
	pve_config *c = NULL;
	check_int(kvm_config_parse(sample, strlen(sample), &c, NULL), 0);
	cJSON *cur = kvm_config_to_json(c, NULL, schema, false);
	check(cJSON_IsNumber(cJSON_GetObjectItem(cur, "cores")));
	check_int(cJSON_GetObjectItem(cur, "cores")->valueint, 2);
	check_streq(pve_json_str(cur, "memory"), "4096");
	check_int(cJSON_GetObjectItem(cur, "onboot")->valueint, 1);
	check_streq(pve_json_str(cur, "description"), "web server\nsecond line\n");
	check(cJSON_GetObjectItem(cur, "numa") != NULL);
	check(!cJSON_GetObjectItem(cur, "tags"));
	cJSON_Delete(cur);

	cJSON *pend = kvm_config_to_json(c, NULL, schema, true);
	check_streq(pve_json_str(pend, "memory"), "8192");
	check_streq(pve_json_str(pend, "tags"), "web;prod");
	check(!cJSON_GetObjectItem(pend, "numa"));
	check(!cJSON_GetObjectItem(pend, "unused0"));
	cJSON_Delete(pend);

	cJSON *snap = kvm_config_to_json(c, "before", schema, false);
	check_int(cJSON_GetObjectItem(snap, "snaptime")->valuedouble, 1737549549);
	cJSON_Delete(snap);

	cJSON *list = kvm_config_pending_json(c, schema, "abc");
	int seen = 0;
	const cJSON *it;
	cJSON_ArrayForEach (it, list) {
		const char *k = pve_json_str(it, "key");
		if (streq(k, "memory")) {
			check_streq(pve_json_str(it, "value"), "4096");
			check_streq(pve_json_str(it, "pending"), "8192");
			seen++;
		} else if (streq(k, "numa")) {
			check_int(cJSON_GetObjectItem(it, "delete")->valueint, 1);
			seen++;
		} else if (streq(k, "unused0")) {
			check_int(cJSON_GetObjectItem(it, "delete")->valueint, 2);
			seen++;
		} else if (streq(k, "tags")) {
			check(!cJSON_GetObjectItem(it, "value"));
			check_streq(pve_json_str(it, "pending"), "web;prod");
			seen++;
		} else if (streq(k, "digest")) {
			check_streq(pve_json_str(it, "value"), "abc");
			seen++;
		}
	}
	check_int(seen, 5);
	cJSON_Delete(list);
	pve_config_free(c);
}

static void test_pending(void)
{
	pve_config *c = NULL;
	check_int(kvm_config_parse(sample, strlen(sample), &c, NULL), 0);
	kvm_pending_delete_add(c, "onboot", false);
	check_streq(pve_config_get(c, KVM_SECTION_PENDING, "delete"), "numa,onboot,!unused0");
	kvm_pending_delete_add(c, "onboot", true);
	check_streq(pve_config_get(c, KVM_SECTION_PENDING, "delete"), "numa,!onboot,!unused0");
	kvm_pending_delete_remove(c, "onboot");
	check_streq(pve_config_get(c, KVM_SECTION_PENDING, "delete"), "numa,!unused0");

	/* a replaced disk becomes unused; a forced deletion of unused0 is the caller's to destroy */
	pve_config_set(c, KVM_SECTION_PENDING, "scsi0", "local:100/vm-100-disk-2.qcow2,size=4G");
	pve_config_set(c, KVM_SECTION_PENDING, "ide2", "none,media=cdrom");
	char **destroy = NULL;
	kvm_config_apply_pending(c, &destroy);
	check(!pve_config_has_section(c, KVM_SECTION_PENDING));
	check_streq(pve_config_get(c, NULL, "memory"), "8192");
	check(!pve_config_get(c, NULL, "numa"));
	check_streq(pve_config_get(c, NULL, "scsi0"), "local:100/vm-100-disk-2.qcow2,size=4G");
	/* disk-0 is still used by the snapshot: it does not become unused */
	check(!pve_config_get(c, NULL, "unused1"));
	check(destroy && destroy[0] && streq(destroy[0], "local:100/vm-100-disk-1.raw") &&
	      !destroy[1]);
	strv_free(destroy);
	check(!pve_config_get(c, NULL, "unused0"));
	pve_config_free(c);

	static const char simple[] = "scsi0: local:100/vm-100-disk-0.raw,size=1G\n"
				     "\n[PENDING]\nscsi0: local:100/vm-100-disk-1.raw,size=2G\n"
				     "delete: virtio1\n";
	check_int(kvm_config_parse(simple, strlen(simple), &c, NULL), 0);
	pve_config_set(c, NULL, "virtio1", "local:100/vm-100-disk-3.raw,size=1G");
	kvm_config_apply_pending(c, &destroy);
	check(destroy && !destroy[0]);
	strv_free(destroy);
	check_streq(pve_config_get(c, NULL, "unused0"), "local:100/vm-100-disk-0.raw");
	check_streq(pve_config_get(c, NULL, "unused1"), "local:100/vm-100-disk-3.raw");
	pve_config_free(c);
}

static void test_drives(void)
{
	kvm_drive d;
	check_int(kvm_drive_parse(
			  schema, "scsi3",
			  "local:100/vm-100-disk-0.qcow2,cache=writeback,ssd=1,size=34359738368",
			  &d, NULL),
		  0);
	check_streq(d.key, "scsi3");
	check_int(d.bus, KVM_BUS_SCSI);
	check_int(d.index, 3);
	check_streq(d.file, "local:100/vm-100-disk-0.qcow2");
	check(!d.cdrom);
	check_int(d.size, 32ULL << 30);
	char *p = kvm_drive_print(schema, &d);
	check_streq(p, "local:100/vm-100-disk-0.qcow2,cache=writeback,size=32G,ssd=1");
	free(p);
	kvm_drive_clear(&d);

	check_int(kvm_drive_parse(schema, "cdrom", "local:iso/x.iso", &d, NULL), 0);
	check_streq(d.key, "ide2");
	check(d.cdrom);
	kvm_drive_clear(&d);
	check_int(kvm_drive_parse(schema, "ide0", "file=none,media=cdrom", &d, NULL), 0);
	check(d.cdrom);
	check_streq(d.file, "none");
	kvm_drive_clear(&d);
	check_int(kvm_drive_parse(schema, "virtio0", "local:iso/x.iso,media=cdrom", &d, NULL),
		  -EINVAL);
	check_int(kvm_drive_parse(schema, "scsi31", "local:1", &d, NULL), -EINVAL);
	check_int(kvm_drive_parse(schema, "scsi01", "local:1", &d, NULL), -EINVAL);

	char *st = NULL;
	uint64_t bytes = 0;
	check_int(kvm_drive_alloc_request("local:32", &st, &bytes), 1);
	check_streq(st, "local");
	check_int(bytes, 32ULL << 30);
	free(st);
	check_int(kvm_drive_alloc_request("0.5", &st, &bytes), 1);
	check(st == NULL);
	check_int(bytes, 512ULL << 20);
	check_int(kvm_drive_alloc_request("local:100/vm-100-disk-0.raw", NULL, NULL), 0);
	check_int(kvm_drive_alloc_request("local:iso/x.iso", NULL, NULL), 0);
}

static void test_nets(void)
{
	kvm_net n;
	check_int(kvm_net_parse(schema, "net1",
				"virtio=BC:24:11:2C:69:EC,bridge=vmbr0,tag=5,firewall=1", &n, NULL),
		  0);
	check_streq(n.model, "virtio");
	check_streq(n.macaddr, "BC:24:11:2C:69:EC");
	check_streq(n.bridge, "vmbr0");
	check_int(n.tag, 5);
	check(n.firewall);
	check_int(kvm_net_parse(schema, "net0", "model=e1000", &n, NULL), 0);
	check_streq(n.model, "e1000");
	check_streq(n.macaddr, "");
	check_int(kvm_net_parse(schema, "net0", "bridge=vmbr0", &n, NULL), -EINVAL);
	char *v = kvm_net_with_mac(schema, "net0", "virtio,bridge=vmbr1", "BC:24:11");
	check(v && startswith(v, "virtio=BC:24:11:") && endswith(v, ",bridge=vmbr1"));
	free(v);
	/* a prefix of any length replaces the start; the rest is a unicast, local address */
	v = kvm_net_with_mac(schema, "net0", "e1000", "0a:1");
	check(v && startswith(v, "e1000=0A:1") && strlen(v) == strlen("e1000=") + 17);
	free(v);
	char mac[18];
	for (int i = 0; i < 64; i++) {
		pve_random_mac(NULL, mac);
		unsigned first = (unsigned)strtoul(mac, NULL, 16);
		check((first & 1) == 0 && (first & 2) == 2 && mac[17] == '\0');
	}
}

static void test_values(void)
{
	pve_config *c = pve_config_new();
	check_int(kvm_config_memory_mib(c, NULL), 512);
	pve_config_set(c, NULL, "memory", "current=2048");
	check_int(kvm_config_memory_mib(c, NULL), 2048);
	pve_config_set(c, NULL, "sockets", "2");
	pve_config_set(c, NULL, "cores", "3");
	int vcpus;
	check_int(kvm_config_cpus(c, NULL, &vcpus), 6);
	check_int(vcpus, 6);
	pve_config_set(c, NULL, "vcpus", "4");
	kvm_config_cpus(c, NULL, &vcpus);
	check_int(vcpus, 4);
	check(kvm_config_bool(c, NULL, "acpi", true));

	pve_config_set(c, NULL, "net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0");
	pve_config_set(c, NULL, "ide2", "local:iso/x.iso,media=cdrom");
	pve_config_set(c, NULL, "virtio0", "local:100/vm-100-disk-0.raw");
	pve_config_set(c, NULL, "scsi1", "local:100/vm-100-disk-1.raw");
	char **order = kvm_config_boot_order(c, schema);
	char *j = pve_strv_join(order, ";");
	check_streq(j, "scsi1;ide2;net0");
	free(j);
	strv_free(order);
	pve_config_set(c, NULL, "boot", "order=virtio0;net0");
	order = kvm_config_boot_order(c, schema);
	j = pve_strv_join(order, ";");
	check_streq(j, "virtio0;net0");
	free(j);
	strv_free(order);

	unsigned f;
	check_int(kvm_hotplug_parse("1", &f), 0);
	check_int(f, KVM_HOTPLUG_NETWORK | KVM_HOTPLUG_DISK | KVM_HOTPLUG_USB);
	check_int(kvm_hotplug_parse("0", &f), 0);
	check_int(f, 0);
	check_int(kvm_hotplug_parse("cpu;memory", &f), 0);
	check_int(f, KVM_HOTPLUG_CPU | KVM_HOTPLUG_MEMORY);
	check_int(kvm_hotplug_parse("gpu", &f), -EINVAL);
	char *u = kvm_smbios1_new();
	check(startswith(u, "uuid=") && strlen(u) == 41);
	check_int(kvm_config_check_value(schema, "smbios1", u, NULL, NULL), 0);
	free(u);
	pve_config_free(c);
}

static void setup(void)
{
	if (!schema)
		schema = test_kvm_schema();
}

static void test_setup(void)
{
	setup();
	check(kvm_schema_key(schema, "scsi30") != NULL);
	check(kvm_schema_key(schema, "vmid") == NULL);
	check(kvm_schema_key(schema, "start") == NULL);
	check(kvm_schema_key(schema, "parent") != NULL);
}

TEST_MAIN(TEST(test_setup), TEST(test_roundtrip), TEST(test_check_errors), TEST(test_json),
	  TEST(test_pending), TEST(test_drives), TEST(test_nets), TEST(test_values))
