/* What the cluster area's files share. */
#pragma once

#include "daemon/core/pved.h"

/* datacenter.cfg (options.c). */
extern const pved_cfgfile pved_datacenter_file;
/* datacenter.cfg as GET /cluster/options gives it to an auditor: property strings as objects, the
 * description from its # lines. A missing file is an empty object. */
int pved_datacenter_read(pved *d, cJSON **ret, pve_error **err);
extern const pved_handler pved_cluster_log_handlers[]; /* log.c: /cluster/log */
extern const pved_handler pved_cluster_options_handlers[];
extern const pved_handler pved_cluster_status_handlers[]; /* status.c */
