/* access: the layout of the loaded ticket keys, shared by keys.c (loading) and ticket.c (signing). */
#pragma once

#include <openssl/evp.h>

#include "access/access.h"

struct pve_authkeys {
	EVP_PKEY *priv; /* NULL in a verifier */
	EVP_PKEY *pub; /* the current key */
	EVP_PKEY *old_pub; /* before the last rotation, or NULL */
};
