/* The /dev/kvm probe: the API version, a VM with one page of memory and one vCPU, and a tiny real-mode
 * guest timed through KVM_RUN against the same loop on the host, so a KVM that works but runs guests far
 * slower than the hardware (a software KVM, nested without support) is told from a good one. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "kvm/kvm-internal.h"

#define GUEST_ADDR 0x1000
/* The first run; when it takes under RETRY_BELOW_MS, a longer one follows so the vCPU's start-up
 * cost does not dominate. */
#define ITER_FIRST (1ul << 16)
#define ITER_SECOND (1ul << 22)
#define RETRY_BELOW_MS 2.0

/* Real mode at 0x1000: mov ecx, N; 1: dec ecx; jnz 1b; mov al, '*'; mov dx, 0x3f8; out dx, al; hlt */
static const unsigned char guest_code[] = {
	0x66, 0xb9, 0,	  0, 0, 0, /* mov ecx, imm32 (patched) */
	0x66, 0x49, /* dec ecx */
	0x75, 0xfc, /* jnz -4 */
	0xb0, '*', /* mov al, '*' */
	0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
	0xee, /* out dx, al */
	0xf4, /* hlt */
};

const char *kvm_state_name(kvm_state s)
{
	switch (s) {
	case KVM_STATE_OK:
		return "ok";
	case KVM_STATE_DEGRADED:
		return "degraded";
	case KVM_STATE_ABSENT:
		break;
	}
	return "absent";
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The same loop on the host: the best of three, so a preemption does not count. */
static double host_loop_ms(unsigned long n)
{
	double best = -1;
	for (int i = 0; i < 3; i++) {
		unsigned long c = n;
		double t0 = now_ms();
#if defined(__x86_64__) || defined(__i386__)
		__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(c));
#else
		while (c) {
			__asm__ volatile("" : "+r"(c));
			c--;
		}
#endif
		double t = now_ms() - t0;
		if (best < 0 || t < best)
			best = t;
	}
	return best;
}

typedef struct probe_vm {
	int kvm, vm, vcpu;
	unsigned char *mem;
	struct kvm_run *run;
	size_t run_size;
} probe_vm;

static void probe_vm_close(probe_vm *p)
{
	if (p->run && p->run != MAP_FAILED)
		munmap(p->run, p->run_size);
	if (p->mem && p->mem != MAP_FAILED)
		munmap(p->mem, 0x1000);
	if (p->vcpu >= 0)
		close(p->vcpu);
	if (p->vm >= 0)
		close(p->vm);
	if (p->kvm >= 0)
		close(p->kvm);
}

static int fail(kvm_probe_result *ret, const char *what)
{
	int e = errno;
	snprintf(ret->detail, sizeof(ret->detail), "%s: %s", what, strerror(e));
	ret->state = KVM_STATE_ABSENT;
	return -e;
}

/* Runs the guest loop n times from a fresh register state: the time to the `out`, or < 0. */
static double run_guest(probe_vm *p, unsigned long n, kvm_probe_result *ret)
{
	uint32_t count = (uint32_t)n;
	memcpy(p->mem, guest_code, sizeof(guest_code));
	memcpy(p->mem + 2, &count, sizeof(count));
	struct kvm_sregs sregs;
	if (ioctl(p->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail(ret, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(p->vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail(ret, "KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = GUEST_ADDR, .rflags = 0x2 };
	if (ioctl(p->vcpu, KVM_SET_REGS, &regs) < 0)
		return fail(ret, "KVM_SET_REGS");
	double t0 = now_ms(), t_io = -1;
	for (int exits = 0; exits < 100; exits++) {
		if (ioctl(p->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return fail(ret, "KVM_RUN");
		}
		switch (p->run->exit_reason) {
		case KVM_EXIT_IO:
			if (p->run->io.direction == KVM_EXIT_IO_OUT && p->run->io.port == 0x3f8 &&
			    p->run->io.size == 1 &&
			    *((char *)p->run + p->run->io.data_offset) == '*') {
				t_io = now_ms() - t0;
				continue;
			}
			snprintf(ret->detail, sizeof(ret->detail),
				 "the test guest wrote to an unexpected port 0x%x",
				 p->run->io.port);
			return -EIO;
		case KVM_EXIT_HLT:
			if (t_io < 0) {
				snprintf(ret->detail, sizeof(ret->detail),
					 "the test guest halted before its output");
				return -EIO;
			}
			return t_io;
		default:
			snprintf(ret->detail, sizeof(ret->detail),
				 "the test guest stopped with exit reason %u", p->run->exit_reason);
			return -EIO;
		}
	}
	snprintf(ret->detail, sizeof(ret->detail), "the test guest did not halt");
	return -EIO;
}

void kvm_probe(const char *path, kvm_probe_result *ret)
{
	*ret = (kvm_probe_result){ .state = KVM_STATE_ABSENT };
	probe_vm p = { .kvm = -1, .vm = -1, .vcpu = -1 };
	p.kvm = open(path, O_RDWR | O_CLOEXEC);
	if (p.kvm < 0) {
		fail(ret, path);
		return;
	}
	ret->api_version = ioctl(p.kvm, KVM_GET_API_VERSION, 0);
	if (ret->api_version != KVM_API_VERSION) {
		snprintf(ret->detail, sizeof(ret->detail), "KVM API version %d, expected %d",
			 ret->api_version, KVM_API_VERSION);
		probe_vm_close(&p);
		return;
	}
	p.vm = ioctl(p.kvm, KVM_CREATE_VM, 0);
	if (p.vm < 0) {
		fail(ret, "KVM_CREATE_VM");
		probe_vm_close(&p);
		return;
	}
	p.mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = GUEST_ADDR,
		.memory_size = 0x1000,
		.userspace_addr = (uintptr_t)p.mem,
	};
	if (p.mem == MAP_FAILED || ioctl(p.vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		fail(ret, "KVM_SET_USER_MEMORY_REGION");
		probe_vm_close(&p);
		return;
	}
	p.vcpu = ioctl(p.vm, KVM_CREATE_VCPU, 0);
	int size = p.vcpu >= 0 ? ioctl(p.kvm, KVM_GET_VCPU_MMAP_SIZE, 0) : -1;
	if (p.vcpu < 0 || size < (int)sizeof(struct kvm_run)) {
		fail(ret, p.vcpu < 0 ? "KVM_CREATE_VCPU" : "KVM_GET_VCPU_MMAP_SIZE");
		probe_vm_close(&p);
		return;
	}
	p.run_size = (size_t)size;
	p.run = mmap(NULL, p.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p.vcpu, 0);
	if (p.run == MAP_FAILED) {
		fail(ret, "mmap of the vCPU");
		probe_vm_close(&p);
		return;
	}
	unsigned long n = ITER_FIRST;
	double guest = run_guest(&p, n, ret);
	if (guest >= 0 && guest < RETRY_BELOW_MS) {
		n = ITER_SECOND;
		guest = run_guest(&p, n, ret);
	}
	probe_vm_close(&p);
	if (guest < 0) {
		ret->state = KVM_STATE_ABSENT;
		return;
	}
	double host = host_loop_ms(n);
	ret->iterations = n;
	ret->guest_ms = guest;
	ret->host_ms = host;
	ret->percent = guest > 0 ? host / guest * 100.0 : 100.0;
	if (ret->percent > 100.0)
		ret->percent = 100.0;
	ret->state = ret->percent >= KVM_OK_PERCENT ? KVM_STATE_OK : KVM_STATE_DEGRADED;
	snprintf(
		ret->detail, sizeof(ret->detail),
		"a %lu-iteration loop took %.3f ms in a KVM guest and %.3f ms on the host (%.3g%%)",
		n, guest, host, ret->percent);
}
