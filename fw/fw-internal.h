/* What the firewall's files share inside fw/. */
#pragma once

#include "fw/fw.h"

bool pve_fw_log_level_valid(const char *s);
bool pve_fw_name_valid(const char *s, size_t max);
int pve_fw_parse_addr_elem(const char *s, int *ret_family, pve_error **err);
