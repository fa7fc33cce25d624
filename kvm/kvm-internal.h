/* kvm: what its files share among themselves. */
#pragma once

#include <cjson/cJSON.h>

#include "kvm/kvm.h"

/* A property-string format qemu-server registers by name ("pve-qm-boot", ...), or NULL. */
const cJSON *kvm_schema_named_format(const kvm_schema *s, const char *name);
/* The property-string format of a key's value (a drive's, net[n]'s, memory's; the named ones too), or
 * NULL when the value is no property string. */
const cJSON *kvm_key_format(const kvm_schema *s, const char *key);
