/* The device cgroup of cgroup v2: a BPF program attached to the container's cgroup that allows the
 * minimal /dev (null, zero, full, random, urandom, tty, console, ptmx, the pts), fuse and tun (as LXC's
 * common.conf does) and the spec's devices, and denies every other device node, whoever made it: a
 * privileged container's root, which can mount a devtmpfs, still cannot open the host's disks. */
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lxc/lxc-internal.h"

#define ANY_MINOR (-1)

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm
	};
}

int lxc_devices_attach(const lxc_spec *s, const char *cgroup_dir, pve_error **err)
{
	struct {
		int type, major, minor;
	} allow[9 + LXC_MAX_DEVS] = {
		{ BPF_DEVCG_DEV_CHAR, 1, 3 },		{ BPF_DEVCG_DEV_CHAR, 1, 5 },
		{ BPF_DEVCG_DEV_CHAR, 1, 7 },		{ BPF_DEVCG_DEV_CHAR, 1, 8 },
		{ BPF_DEVCG_DEV_CHAR, 1, 9 },		{ BPF_DEVCG_DEV_CHAR, 5, ANY_MINOR },
		{ BPF_DEVCG_DEV_CHAR, 136, ANY_MINOR }, { BPF_DEVCG_DEV_CHAR, 10, 229 },
	};
	size_t n = 8;
	allow[n++] = (typeof(allow[0])){ BPF_DEVCG_DEV_CHAR, 10, 200 }; /* tun */
	for (size_t i = 0; i < s->n_devs && n < ELEMENTSOF(allow); i++) {
		struct stat st;
		if (!s->devs[i].path || stat(s->devs[i].path, &st) < 0)
			return pve_error_set(err, errno, "device %s: %s",
					     s->devs[i].path ? s->devs[i].path : "",
					     strerror(errno));
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			return pve_error_set(err, EINVAL, "%s is not a device node",
					     s->devs[i].path);
		allow[n++] = (typeof(allow[0])){ S_ISCHR(st.st_mode) ? BPF_DEVCG_DEV_CHAR :
								       BPF_DEVCG_DEV_BLOCK,
						 (int)major(st.st_rdev), (int)minor(st.st_rdev) };
	}
	/* r2 = type, r4 = major, r5 = minor; per rule: a mismatch jumps to the next rule */
	struct bpf_insn prog[8 + 6 * ELEMENTSOF(allow)];
	size_t k = 0;
	prog[k++] = insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0);
	prog[k++] = insn(BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff);
	prog[k++] = insn(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0);
	prog[k++] = insn(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0);
	for (size_t i = 0; i < n; i++) {
		bool any = allow[i].minor == ANY_MINOR;
		int16_t skip = any ? 3 : 4; /* the rest of this rule */
		prog[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, 2, 0, skip, allow[i].type);
		prog[k++] =
			insn(BPF_JMP | BPF_JNE | BPF_K, 4, 0, (int16_t)(skip - 1), allow[i].major);
		if (!any)
			prog[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 2, allow[i].minor);
		prog[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
		prog[k++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	prog[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	prog[k++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

	char log[4096] = "";
	union bpf_attr load = { 0 };
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insns = (uint64_t)(uintptr_t)prog;
	load.insn_cnt = (uint32_t)k;
	load.license = (uint64_t)(uintptr_t) "GPL";
	_cleanup_close_ int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	if (pfd < 0 && errno == EINVAL) {
		/* the verifier's log costs a third of the load: asked for only to say why it failed */
		load.log_buf = (uint64_t)(uintptr_t)log;
		load.log_size = sizeof(log);
		load.log_level = 1;
		pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	}
	if (pfd < 0)
		return pve_error_set(err, errno, "can't load the device cgroup program: %s%s%s",
				     strerror(errno), log[0] ? ": " : "", log);
	_cleanup_close_ int cfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return pve_error_set(err, errno, "can't open %s: %s", cgroup_dir, strerror(errno));
	union bpf_attr at = { 0 };
	at.target_fd = (uint32_t)cfd;
	at.attach_bpf_fd = (uint32_t)pfd;
	at.attach_type = BPF_CGROUP_DEVICE;
	/* a nested container's runtime may add its own, stricter program below */
	at.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &at, sizeof(at)) < 0)
		return pve_error_set(err, errno, "can't attach the device program to %s: %s",
				     cgroup_dir, strerror(errno));
	return 0;
}
