/* Fuzzes the QMP reader: each line of the input as QEMU would send it (greeting, replies, errors,
 * events); what parses must have the fields its kind promises. */
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
		if (kvm_qmp_parse(p, len, &m, &err) == 0) {
			switch (m.kind) {
			case KVM_QMP_GREETING:
				if (!cJSON_IsObject(m.value))
					abort();
				break;
			case KVM_QMP_RETURN:
				if (!m.value)
					abort();
				break;
			case KVM_QMP_ERROR:
				if (!m.error_desc || !m.error_class)
					abort();
				break;
			case KVM_QMP_EVENT:
				if (!m.event || !*m.event)
					abort();
				break;
			}
			kvm_qmp_msg_clear(&m);
		} else if (!err || !err->message) {
			abort();
		}
		p += len + 1;
	}
	return 0;
}
