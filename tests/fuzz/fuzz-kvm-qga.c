/* Fuzzes what a guest agent sends: the bytes go through the reader in pieces of varying size (the first
 * byte picks them), with a sync id it must find; what comes out must be an answer with its fields, and
 * base64 that decodes must come back the same through its encoding. */
#include <cjson/cJSON.h>

#include "kvm/kvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = 1 + data[0] % 64;
	data++, size--;
	kvm_qga_reader r;
	kvm_qga_reader_init(&r, 4242);
	bool dead = false;
	for (size_t off = 0; off < size && !dead; off += step) {
		size_t n = size - off < step ? size - off : step;
		kvm_qga_reader_add(&r, data + off, n);
		for (;;) {
			kvm_qmp_msg m;
			_cleanup_error_ pve_error *err = NULL;
			int rc = kvm_qga_reader_next(&r, &m, &err);
			if (rc < 0) {
				if (!err || !err->message)
					abort();
				dead = true;
				break;
			}
			if (rc == 0)
				break;
			if (rc == 2) {
				if (!r.synced)
					abort();
				continue;
			}
			if (!r.synced || (m.kind != KVM_QMP_RETURN && m.kind != KVM_QMP_ERROR) ||
			    (m.kind == KVM_QMP_RETURN && !m.value) ||
			    (m.kind == KVM_QMP_ERROR && !m.error_desc))
				abort();
			kvm_qmp_msg_clear(&m);
		}
	}
	kvm_qga_reader_clear(&r);

	size_t len;
	_cleanup_free_ char *plain = kvm_base64_decode((const char *)data, size, &len);
	if (plain) {
		_cleanup_free_ char *again = kvm_base64_encode(plain, len);
		size_t len2;
		_cleanup_free_ char *back = again ? kvm_base64_decode(again, strlen(again), &len2) :
						    NULL;
		if (!back || len2 != len || memcmp(back, plain, len) != 0)
			abort();
	}
	return 0;
}
