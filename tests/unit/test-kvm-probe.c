/* Tests of the /dev/kvm probe: a missing device is absent with the reason; a real /dev/kvm runs the test
 * guest to its output and halt, and the verdict follows the measured share of the host's speed. */
#include "kvm/kvm.h"
#include "tests/unit/test.h"

static void test_absent(void)
{
	kvm_probe_result r;
	char path[256];
	snprintf(path, sizeof(path), "%s/no-kvm", test_tmpdir());
	kvm_probe(path, &r);
	check_int(r.state, KVM_STATE_ABSENT);
	check(strstr(r.detail, "No such file") != NULL);
	check_streq(kvm_state_name(r.state), "absent");
	kvm_probe("/dev/null", &r);
	check_int(r.state, KVM_STATE_ABSENT);
}

static void test_real(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return test_skip("no usable /dev/kvm here");
	kvm_probe_result r;
	kvm_probe("/dev/kvm", &r);
	printf("# %s: %s\n", kvm_state_name(r.state), r.detail);
	check(r.state != KVM_STATE_ABSENT);
	check_int(r.api_version, 12);
	check(r.iterations >= 65536);
	check(r.guest_ms > 0 && r.host_ms > 0);
	check(r.percent > 0 && r.percent <= 100);
	check_int(r.state, r.percent >= KVM_OK_PERCENT ? KVM_STATE_OK : KVM_STATE_DEGRADED);
}

TEST_MAIN(TEST(test_absent), TEST(test_real))
