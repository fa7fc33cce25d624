/* daemon/nodes: the handler tables of the nodes area's files. */
#pragma once

#include "daemon/core/pved.h"

extern const pved_handler pved_handlers_node[];
extern const pved_handler pved_handlers_tasks[];
extern const pved_handler pved_handlers_console[];
extern const pved_handler pved_handlers_scan[];
extern const pved_handler pved_handlers_aplinfo[];
extern const pved_task_kind pved_tasks_node[];
extern const pved_task_kind pved_tasks_console[];

void pved_node_sample_free(struct pved_node_sample *s);
void pved_node_resources(pved_call *c, const char *type, pve_buf *out);
void pved_node_rrd(pved *d, time_t now, pve_buf *out);
/* An appliance index text (aplinfo.c) into all, {template: record}; skipped records counted. */
int pved_aplinfo_parse(const char *text, size_t len, const char *source, cJSON *all,
		       size_t *ret_skipped, pve_error **err);
