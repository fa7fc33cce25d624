/* Tests of the QEMU command line: what a config turns into (machine, CPU, memory, drives on each bus,
 * NICs, consoles, the agent, the monitors), the errors that name a key (a missing bridge, a disk never
 * allocated, devices pved does not drive), and a real QEMU accepting a generated command line. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/wait.h>

#include "tests/unit/kvm-schema-test.h"
#include "tests/unit/test.h"

static kvm_schema *schema;

static int fake_resolve(void *ud, const char *volid, char **ret_path, char **ret_format,
			pve_error **err)
{
	(void)ud;
	if (startswith(volid, "gone:"))
		return pve_error_set(err, ENOENT, "storage 'gone' does not exist");
	const char *name = strchr(volid, ':') + 1;
	*ret_path = xasprintf("/img/%s", name);
	*ret_format = endswith(name, ".qcow2") ? xstrdup("qcow2") : xstrdup("raw");
	return 0;
}

static bool fake_bridge(void *ud, const char *bridge)
{
	(void)ud;
	return streq(bridge, "vmbr0");
}

static int warnings;
static void count_warn(void *ud, const char *msg)
{
	(void)ud, (void)msg;
	warnings++;
}

static kvm_cmdline_info info(bool kvm)
{
	return (kvm_cmdline_info){ .vmid = 100,
				   .run_dir = "/run/qemu-server",
				   .qemu = "/usr/bin/qemu-system-x86_64",
				   .kvm = kvm,
				   .allow_args = true,
				   .resolve = fake_resolve,
				   .bridge_exists = fake_bridge,
				   .warn = count_warn };
}

static pve_config *conf(const char *text)
{
	pve_config *c = NULL;
	if (kvm_config_parse(text, strlen(text), &c, NULL) < 0)
		abort();
	return c;
}

/* Whether argv holds opt immediately followed by val. */
static bool has(char **argv, const char *opt, const char *val)
{
	for (char **a = argv; *a && a[1]; a++)
		if (streq(a[0], opt) && streq(a[1], val))
			return true;
	return false;
}

static void test_full(void)
{
	pve_config *c =
		conf("name: web1\n"
		     "memory: 2048\n"
		     "sockets: 2\n"
		     "cores: 2\n"
		     "cpu: x86-64-v2-AES,flags=+aes;-pcid\n"
		     "agent: 1\n"
		     "boot: order=scsi0;ide2;net0\n"
		     "ide2: local:iso/debian.iso,media=cdrom\n"
		     "scsihw: virtio-scsi-single\n"
		     "scsi0: local:100/vm-100-disk-0.qcow2,iothread=1,discard=on,ssd=1,size=8G\n"
		     "virtio1: local:100/vm-100-disk-1.raw,cache=writeback,size=1G\n"
		     "sata0: local:100/vm-100-disk-2.raw,size=1G\n"
		     "net0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n"
		     "net1: e1000=BC:24:11:00:00:02\n"
		     "serial0: socket\n"
		     "smbios1: uuid=b3247ab1-1a2b-4c5d-8e9f-0123456789ab\n"
		     "vmgenid: 7079e97c-1a2b-4c5d-8e9f-0123456789ab\n"
		     "balloon: 0\n");
	char **argv = NULL;
	pve_error *e = NULL;
	kvm_cmdline_info i = info(false);
	int fds[KVM_MAX_NETS];
	for (int k = 0; k < KVM_MAX_NETS; k++)
		fds[k] = -1;
	fds[0] = 17;
	i.tap_fds = fds;
	int r = kvm_cmdline_build(c, schema, &i, &argv, &e);
	check_int(r, 0);
	if (r < 0) {
		printf("# %s\n", e->message);
		pve_error_free(e);
		pve_config_free(c);
		return;
	}
	check_streq(argv[0], "/usr/bin/qemu-system-x86_64");
	check(has(argv, "-name", "web1,debug-threads=on"));
	check(has(argv, "-chardev",
		  "socket,id=qmp,path=/run/qemu-server/100.qmp,server=on,wait=off"));
	check(has(argv, "-chardev",
		  "socket,id=qmp-pved,path=/run/qemu-server/100.pved.qmp,server=on,wait=off"));
	check(has(argv, "-pidfile", "/run/qemu-server/100.pid"));
	check(has(argv, "-smp", "4,sockets=2,cores=2,maxcpus=4"));
	check(has(argv, "-cpu", "x86-64-v2-AES,+aes,-pcid"));
	check(has(argv, "-m", "2048"));
	check(has(argv, "-machine", "type=pc,accel=tcg"));
	check(has(argv, "-smbios", "type=1,uuid=b3247ab1-1a2b-4c5d-8e9f-0123456789ab"));
	check(has(argv, "-device", "vmgenid,guid=7079e97c-1a2b-4c5d-8e9f-0123456789ab"));
	check(has(argv, "-vnc", "unix:/run/qemu-server/100.vnc,password=on"));
	check(has(argv, "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"));
	check(has(argv, "-chardev",
		  "socket,id=serial0,path=/run/qemu-server/100.serial0,server=on,wait=off"));
	check(has(argv, "-drive",
		  "file=/img/iso/debian.iso,if=none,id=drive-ide2,media=cdrom,format=raw,"
		  "cache.direct=off,aio=io_uring,readonly=on"));
	check(has(argv, "-device",
		  "ide-cd,bus=ide.1,unit=0,drive=drive-ide2,id=ide2,bootindex=101"));
	check(has(argv, "-device", "virtio-scsi-pci,id=virtioscsi0,iothread=iothread-virtioscsi0"));
	check(has(argv, "-drive",
		  "file=/img/100/vm-100-disk-0.qcow2,if=none,id=drive-scsi0,format=qcow2,"
		  "cache.direct=on,aio=io_uring,discard=unmap,detect-zeroes=unmap"));
	check(has(argv, "-device",
		  "scsi-hd,bus=virtioscsi0.0,channel=0,scsi-id=0,lun=0,drive=drive-scsi0,id=scsi0,"
		  "rotation_rate=1,bootindex=100,write-cache=on"));
	check(has(argv, "-device", "virtio-blk-pci,drive=drive-virtio1,id=virtio1,write-cache=on"));
	check(has(argv, "-device", "ahci,id=ahci0,multifunction=on"));
	check(has(argv, "-device", "ide-hd,bus=ahci0.0,drive=drive-sata0,id=sata0"));
	check(has(argv, "-netdev", "type=tap,id=net0,fd=17"));
	check(has(argv, "-device",
		  "virtio-net-pci,netdev=net0,id=net0,mac=BC:24:11:00:00:01,bootindex=102"));
	check(has(argv, "-netdev", "type=user,id=net1,hostname=web1"));
	check(has(argv, "-device", "e1000,netdev=net1,id=net1,mac=BC:24:11:00:00:02"));
	for (char **a = argv; *a; a++)
		check(!strstr(*a, "balloon"));
	char *q = kvm_cmdline_quote(argv);
	check(strstr(q, "-cpu x86-64-v2-AES,+aes,-pcid ") != NULL);
	free(q);
	strv_free(argv);
	pve_config_free(c);
}

static void test_defaults_and_q35(void)
{
	pve_config *c =
		conf("machine: q35\nide0: none,media=cdrom\nide1: local:iso/a.iso,media=cdrom\n"
		     "kvm: 0\nargs: -S -global 'kvm-pit.lost_tick_policy=discard'\n");
	char **argv = NULL;
	kvm_cmdline_info i = info(true);
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	check(has(argv, "-machine", "type=q35,accel=kvm"));
	check(has(argv, "-cpu", "kvm64"));
	check(has(argv, "-m", "512"));
	check(has(argv, "-name", "vm100,debug-threads=on"));
	check(has(argv, "-smp", "1,sockets=1,cores=1,maxcpus=1"));
	check(has(argv, "-drive", "if=none,id=drive-ide0,media=cdrom"));
	/* q35: ide1 is bus 2, unit 0 */
	check(has(argv, "-device",
		  "ide-cd,bus=ide.2,unit=0,drive=drive-ide1,id=ide1,bootindex=101"));
	check(has(argv, "-device", "usb-tablet,id=tablet,bus=ehci.0,port=1"));
	check(has(argv, "-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on"));
	check(has(argv, "-global", "kvm-pit.lost_tick_policy=discard"));
	size_t n = strv_length(argv);
	check_streq(argv[n - 3], "-S");
	strv_free(argv);
	pve_config_free(c);
}

typedef struct refusal {
	const char *conf, *param, *msg;
} refusal;

/* Each config's build fails naming param (when set) with msg (when set). */
static void check_refused(const refusal *cases, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		pve_config *c = conf(cases[k].conf);
		char **argv = NULL;
		pve_error *e = NULL;
		kvm_cmdline_info i = info(false);
		check(kvm_cmdline_build(c, schema, &i, &argv, &e) < 0);
		check(e != NULL);
		if (e) {
			if (cases[k].param)
				check_streq(e->param, cases[k].param);
			if (cases[k].msg)
				check_streq(e->message, cases[k].msg);
		}
		pve_error_free(e);
		pve_config_free(c);
	}
}

static void test_errors(void)
{
	static const refusal cases[] = {
		{ "net0: virtio=BC:24:11:00:00:01,bridge=vmbr9\n", "net0",
		  "bridge 'vmbr9' does not exist" },
		{ "scsi0: local:4\n", "scsi0", "scsi0: the disk 'local:4' was never allocated" },
		{ "hostpci0: 01:00.0\n", "hostpci0",
		  "hostpci0: PCI passthrough are not supported by pved yet" },
		{ "cpu: host\n", "cpu", "CPU model 'host' needs KVM, and this VM runs without it" },
		{ "virtio0: gone:1/vm-1-disk-0.raw\n", NULL, "storage 'gone' does not exist" },
		{ "args: -foo 'bar\n", "args", "unbalanced quotes in args" },
	};
	check_refused(cases, ELEMENTSOF(cases));
	/* OVMF's code image missing */
	pve_config *c = conf("bios: ovmf\n");
	char **argv = NULL;
	pve_error *e = NULL;
	kvm_cmdline_info i = info(false);
	i.ovmf_code = "/nonexistent/OVMF_CODE.fd";
	check(kvm_cmdline_build(c, schema, &i, &argv, &e) < 0);
	check(e && streq_ptr(e->param, "bios"));
	pve_error_free(e);
	pve_config_free(c);
	warnings = 0;
	c = conf("net0: virtio,bridge=vmbr0,tag=7\n");
	i = info(false);
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	check(has(argv, "-netdev", "type=tap,id=net0,ifname=tap100i0,script=no,downscript=no"));
	check_int(warnings, 1);
	strv_free(argv);
	pve_config_free(c);
}

/* SPICE as Proxmox gives it a qxl or virtio display: the agent's port, the TLS port with the node's
 * certificate, no tablet for qxl; four displays on one qxl device; none for std. */
static void test_spice(void)
{
	pve_config *c = conf("vga: qxl2\nostype: l26\n");
	char **argv = NULL;
	kvm_cmdline_info i = info(false);
	i.spice_port = 61005;
	i.pve_dir = "/etc/pve";
	i.node = "n1";
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	check(has(argv, "-device", "qxl-vga,id=vga,max_outputs=4"));
	check(has(argv, "-global", "qxl-vga.ram_size=134217728"));
	check(has(argv, "-global", "qxl-vga.vram_size=67108864"));
	check(has(argv, "-device", "virtio-serial,id=spice"));
	check(has(argv, "-chardev", "spicevmc,id=vdagent,name=vdagent"));
	check(has(argv, "-device", "virtserialport,chardev=vdagent,name=com.redhat.spice.0"));
	check(has(argv, "-spice",
		  "tls-port=61005,addr=127.0.0.1,tls-ciphers=HIGH,seamless-migration=on,"
		  "x509-cert-file=/etc/pve/nodes/n1/pve-ssl.pem,"
		  "x509-key-file=/etc/pve/nodes/n1/pve-ssl.key,"
		  "x509-cacert-file=/etc/pve/pve-root-ca.pem"));
	for (char **a = argv; *a; a++)
		check(!strstr(*a, "usb-tablet"));
	strv_free(argv);
	pve_config_free(c);
	c = conf("vga: type=virtio,memory=32\n");
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	check(has(argv, "-device", "virtio-serial,id=spice"));
	strv_free(argv);
	pve_config_free(c);
	c = conf("vga: std\naudio0: device=AC97,driver=none\n");
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	for (char **a = argv; *a; a++)
		check(!streq(*a, "-spice"));
	check(has(argv, "-device", "AC97,id=audiodev0,audiodev=none-backend0"));
	check(has(argv, "-audiodev", "none,id=none-backend0"));
	strv_free(argv);
	pve_config_free(c);
	/* spice_enhancements and SPICE audio, as Proxmox renders them */
	c = conf("vga: qxl\nspice_enhancements: foldersharing=1,videostreaming=all\n"
		 "audio0: device=ich9-intel-hda\n");
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	check(has(argv, "-chardev", "spiceport,id=foldershare,name=org.spice-space.webdav.0"));
	check(has(argv, "-device",
		  "virtserialport,chardev=foldershare,name=org.spice-space.webdav.0"));
	check(has(argv, "-device", "ich9-intel-hda,id=audiodev0"));
	check(has(argv, "-device",
		  "hda-duplex,id=audiodev0-codec1,bus=audiodev0.0,cad=1,audiodev=spice-backend0"));
	check(has(argv, "-audiodev", "spice,id=spice-backend0"));
	bool streaming = false;
	for (char **a = argv; *a; a++)
		streaming |= endswith(*a, ",streaming-video=all");
	check(streaming);
	strv_free(argv);
	pve_config_free(c);
	check(kvm_vga_has_spice("qxl") && kvm_vga_has_spice("qxl4,memory=16") &&
	      kvm_vga_has_spice("memory=16,type=virtio-gl") && kvm_vga_has_spice("type=qxl3"));
	check(!kvm_vga_has_spice(NULL) && !kvm_vga_has_spice("std") && !kvm_vga_has_spice("qxl5") &&
	      !kvm_vga_has_spice("serial0") && !kvm_vga_has_spice("memory=16") &&
	      !kvm_vga_has_spice(""));
}

/* The firmware volumes: OVMF's images as Proxmox picks them, the efidisk as pflash 1, a TPM on swtpm's
 * socket. */
static void test_firmware(void)
{
	const char *code, *vars;
	kvm_ovmf_files(schema, NULL, NULL, &code, &vars);
	check_streq(code, KVM_OVMF_DIR "/OVMF_CODE.fd");
	check_streq(vars, KVM_OVMF_DIR "/OVMF_VARS.fd");
	kvm_ovmf_files(schema, "local:100/vm-100-disk-0.raw,efitype=4m", "pc", &code, &vars);
	check_streq(code, KVM_OVMF_DIR "/OVMF_CODE_4M.fd");
	check_streq(vars, KVM_OVMF_DIR "/OVMF_VARS_4M.fd");
	kvm_ovmf_files(schema, "local:100/vm-100-disk-0.raw,efitype=4m,pre-enrolled-keys=1", "q35",
		       &code, &vars);
	check_streq(code, KVM_OVMF_DIR "/OVMF_CODE_4M.secboot.fd");
	check_streq(vars, KVM_OVMF_DIR "/OVMF_VARS_4M.ms.fd");

	pve_config *c =
		conf("bios: ovmf\nefidisk0: local:100/vm-100-disk-0.raw,efitype=4m,size=528K\n"
		     "tpmstate0: local:100/vm-100-disk-1.raw,size=4M,version=v2.0\n");
	char **argv = NULL;
	kvm_cmdline_info i = info(false);
	i.ovmf_code = "/dev/null"; /* readable: the build does not depend on the host's ovmf */
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	check(has(argv, "-drive", "if=pflash,unit=0,format=raw,readonly=on,file=/dev/null"));
	check(has(argv, "-drive",
		  "if=pflash,unit=1,id=drive-efidisk0,format=raw,file=/img/100/vm-100-disk-0.raw"));
	check(has(argv, "-chardev", "socket,id=tpmchar,path=/run/qemu-server/100.swtpm"));
	check(has(argv, "-tpmdev", "emulator,id=tpmdev,chardev=tpmchar"));
	check(has(argv, "-device", "tpm-tis,tpmdev=tpmdev"));
	strv_free(argv);
	pve_config_free(c);
}

/* hotplug cpu,memory with numa: 1 on two sockets: -smp 1 and cpu2..cpuN devices, 1 GiB static RAM split
 * over the two nodes, dimms of 512 MiB alternating between them (Proxmox's layout), and what it
 * refuses. */
static void test_cpu_memory_hotplug(void)
{
	pve_config *c = conf("memory: 2560\nnuma: 1\nsockets: 2\ncores: 2\nvcpus: 3\n"
			     "hotplug: network,disk,cpu,memory\n");
	char **argv = NULL;
	kvm_cmdline_info i = info(false);
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	check(has(argv, "-smp", "1,sockets=2,cores=2,maxcpus=4"));
	check(has(argv, "-device", "kvm64-x86_64-cpu,id=cpu2,socket-id=0,core-id=1,thread-id=0"));
	check(has(argv, "-device", "kvm64-x86_64-cpu,id=cpu3,socket-id=1,core-id=0,thread-id=0"));
	_cleanup_free_ char *m = xasprintf("size=1024,slots=255,maxmem=%lluM",
					   (unsigned long long)kvm_memory_max_mib(c, schema));
	check(has(argv, "-m", m));
	check(has(argv, "-object", "memory-backend-ram,id=ram-node1,size=512M"));
	check(has(argv, "-numa", "node,nodeid=1,cpus=2-3,memdev=ram-node1"));
	check(has(argv, "-device", "pc-dimm,id=dimm1,memdev=mem-dimm1,node=1"));
	check(has(argv, "-device", "pc-dimm,id=dimm2,memdev=mem-dimm2,node=0"));
	_cleanup_free_ char *all = kvm_cmdline_quote(argv);
	check(strstr(all, "dimm3") == NULL && strstr(all, "id=cpu4") == NULL);
	strv_free(argv);
	pve_config_free(c);

	/* the 33rd dimm is 1 GiB; 512 MiB dimms past 1 GiB of static RAM */
	c = conf("numa: 1\n");
	kvm_dimm d;
	check(kvm_dimm_nth(c, 31, &d) && d.size_mib == 512 && d.total_mib == 1024 + 32 * 512);
	check(kvm_dimm_nth(c, 32, &d) && d.size_mib == 1024 && d.node == 0);
	check(!kvm_dimm_nth(c, KVM_MAX_DIMMS, &d));
	pve_config_free(c);

	static const refusal cases[] = {
		{ "memory: 2048\nhotplug: memory\n", "hotplug",
		  "NUMA needs to be enabled for memory hotplug" },
		{ "memory: 512\nnuma: 1\nhotplug: memory\n", "memory",
		  "minimum memory must be 1024MB" },
		{ "memory: 1300\nnuma: 1\nhotplug: memory\n", "memory",
		  "memory size (1300) must be aligned to 512 for hotplugging" },
	};
	check_refused(cases, ELEMENTSOF(cases));
}

/* numaN: the config's own guest nodes, their memory adding up, Proxmox's refusals; the dimms go to
 * those nodes in turn. */
static void test_numa_nodes(void)
{
	pve_config *c = conf("memory: 768\nnuma: 1\nsockets: 1\ncores: 4\n"
			     "numa0: cpus=0-1;3,memory=512\nnuma2: cpus=2,memory=256\n");
	char **argv = NULL;
	kvm_cmdline_info i = info(false);
	check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
	check(has(argv, "-object", "memory-backend-ram,id=ram-node0,size=512M"));
	check(has(argv, "-numa", "node,nodeid=0,cpus=0-1,cpus=3,memdev=ram-node0"));
	check(has(argv, "-numa", "node,nodeid=2,cpus=2,memdev=ram-node2"));
	check(!has(argv, "-object", "memory-backend-ram,id=ram-node1,size=384M"));
	strv_free(argv);
	pve_config_free(c);
	/* host node 0 exists wherever there is a /sys/devices/system/node */
	if (access("/sys/devices/system/node/node0", F_OK) == 0) {
		c = conf(
			"memory: 512\nnuma: 1\nnuma0: cpus=0,memory=512,hostnodes=0,policy=bind\n");
		check_int(kvm_cmdline_build(c, schema, &i, &argv, NULL), 0);
		check(has(argv, "-object",
			  "memory-backend-ram,id=ram-node0,size=512M,host-nodes=0,policy=bind"));
		strv_free(argv);
		pve_config_free(c);
	}
	c = conf("memory: 3072\nnuma: 1\nhotplug: memory\n"
		 "numa0: cpus=0,memory=512\nnuma3: cpus=0,memory=512\n");
	kvm_dimm d;
	check(kvm_dimm_nth(c, 0, &d) && d.node == 0);
	check(kvm_dimm_nth(c, 1, &d) && d.node == 3);
	check(kvm_dimm_nth(c, 2, &d) && d.node == 0);
	pve_config_free(c);
	static const refusal cases[] = {
		{ "memory: 1024\nnuma: 1\nnuma0: cpus=0,memory=512\n", "memory",
		  "total memory for NUMA nodes must be equal to vm static memory" },
		{ "memory: 512\nnuma: 1\nnuma0: cpus=0\n", "numa0",
		  "missing NUMA node0 memory value" },
		{ "memory: 512\nnuma: 1\nnuma0: cpus=0,memory=512,hostnodes=0\n", "numa0", NULL },
		{ "memory: 512\nnuma: 1\nnuma0: cpus=0,memory=512,hostnodes=77,policy=bind\n",
		  "numa0", "host NUMA node77 doesn't exist" },
	};
	check_refused(cases, ELEMENTSOF(cases));
}

static int real_resolve(void *ud, const char *volid, char **ret_path, char **ret_format,
			pve_error **err)
{
	(void)err;
	*ret_path = xasprintf("%s/%s", (const char *)ud, strchr(volid, ':') + 1);
	*ret_format = xstrdup("qcow2");
	return 0;
}

static void test_real_qemu(void)
{
	if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0 ||
	    access("/usr/bin/qemu-img", X_OK) != 0)
		return test_skip("no qemu-system-x86_64 or qemu-img");
	const char *dir = test_tmpdir();
	_cleanup_free_ char *img = xasprintf("%s/disk.qcow2", dir);
	_cleanup_free_ char *cmd = xasprintf("/usr/bin/qemu-img create -q -f qcow2 %s 64M", img);
	check(system(cmd) == 0);
	pve_config *c =
		conf("name: t1\nmemory: 64\nagent: 1\nserial0: socket\nscsihw: virtio-scsi-pci\n"
		     "scsi0: xx:disk.qcow2,size=64M\nide2: none,media=cdrom\nnet0: e1000\n"
		     "vga: std\nargs: -S\n");
	kvm_cmdline_info i = info(false);
	i.run_dir = dir;
	i.resolve = real_resolve;
	i.ud = (void *)dir;
	char **argv = NULL;
	pve_error *e = NULL;
	check_int(kvm_cmdline_build(c, schema, &i, &argv, &e), 0);
	if (e) {
		printf("# %s\n", e->message);
		pve_error_free(e);
		pve_config_free(c);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	/* -daemonize: the first process exits 0 once QEMU runs */
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	kvm_proc p = { 0 };
	check_int(kvm_proc_find(dir, 100, &p), 1);
	check(kvm_proc_alive(&p));
	_cleanup_free_ char *sock = kvm_run_path(dir, 100, "qmp");
	kvm_qmp_sync *q = NULL;
	check_int(kvm_qmp_sync_open(sock, 5000, &q, NULL), 0);
	if (!q) {
		strv_free(argv);
		pve_config_free(c);
		return;
	}
	cJSON *ret = NULL;
	check_int(kvm_qmp_sync_command(q, "query-status", NULL, 5000, &ret, NULL), 0);
	check_streq(pve_json_str(ret, "status"), "prelaunch");
	cJSON_Delete(ret);
	/* pved's own monitor serves at the same time */
	_cleanup_free_ char *psock = kvm_run_path(dir, 100, "pved.qmp");
	kvm_qmp_sync *q2 = NULL;
	check_int(kvm_qmp_sync_open(psock, 5000, &q2, NULL), 0);
	check_int(kvm_qmp_sync_command(q2, "quit", NULL, 5000, NULL, NULL), 0);
	kvm_qmp_sync_close(q2);
	kvm_qmp_sync_close(q);
	for (int k = 0; k < 200 && kvm_proc_alive(&p); k++)
		usleep(10000);
	check(!kvm_proc_alive(&p));
	if (kvm_proc_alive(&p))
		kill(p.pid, SIGKILL);
	strv_free(argv);
	pve_config_free(c);
}

static void test_setup(void)
{
	schema = test_kvm_schema();
}

TEST_MAIN(TEST(test_setup), TEST(test_full), TEST(test_defaults_and_q35), TEST(test_errors),
	  TEST(test_firmware), TEST(test_cpu_memory_hotplug), TEST(test_numa_nodes),
	  TEST(test_spice), TEST(test_real_qemu))
