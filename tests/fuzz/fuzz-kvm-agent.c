/* Fuzzes the guest agent's line reader: each line of the input as a guest could send it (a 0xFF
 * before a guest-sync-delimited answer, replies, errors, anything a hostile guest writes); what parses
 * must have the fields its kind promises. */
#include <cjson/cJSON.h>

#include "kvm/kvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		kvm_qmp_msg m;
		_cleanup_error_ pve_error *err = NULL;
		if (kvm_agent_parse_line(p, len, &m, &err) == 0) {
			if (m.kind == KVM_QMP_RETURN && !m.value)
				abort();
			if (m.kind == KVM_QMP_ERROR && (!m.error_desc || !m.error_class))
				abort();
			kvm_qmp_msg_clear(&m);
		} else if (!err || !err->message) {
			abort();
		}
		p += len + 1;
	}
	return 0;
}
