/* What the cluster area's files share. */
#pragma once

#include "common/corosync-conf.h"
#include "daemon/core/pved.h"

/* datacenter.cfg (options.c). */
extern const pved_cfgfile pved_datacenter_file;
/* datacenter.cfg as GET /cluster/options gives it to an auditor: property strings as objects, the
 * description from its # lines. A missing file is an empty object. */
int pved_datacenter_read(pved *d, cJSON **ret, pve_error **err);
extern const pved_handler pved_cluster_log_handlers[]; /* log.c: /cluster/log */
extern const pved_handler pved_cluster_options_handlers[];
extern const pved_handler pved_cluster_status_handlers[]; /* status.c */
extern const pved_handler pved_cluster_config_handlers[]; /* config.c: /cluster/config */
/* link0..link7 of a call, parsed with the route's link[n] format: the addresses by link number, ""
 * for a number not given, NULL after the last; *ret_n one past the highest given, *ret_given how many
 * were. An error names the parameter. (config.c) */
int pved_cluster_call_links(pved_call *c, char *links[PVE_COROSYNC_MAX_LINKS + 1], size_t *ret_n,
			    size_t *ret_given, pve_error **err);
/* The root's corosync key as text: pved's keys are hex, and a joining node gets the key in JSON, so
 * a key of other bytes is refused (config.c). */
int pved_cluster_authkey_read(pved *d, char **ret, pve_error **err);

/* The cluster join's API version, as Proxmox's (Cluster/Setup.pm): a node joins, and accepts a joining
 * node, whose version is at least VERSION - AGE. */
#define PVED_CLUSTER_JOIN_API_VERSION 1
#define PVED_CLUSTER_JOIN_API_AGE 1
/* The node's address as the root's etc/hosts names it (not a loopback one), or NULL (status.c). */
char *pved_node_ip(pved *d, const char *node);
/* Create and join (membership.c): their handlers and tasks, the restart after them, and the
 * installation of a newer corosync.conf from the tree. */
extern const pved_handler pved_cluster_membership_handlers[];
extern const pved_task_kind pved_cluster_tasks[];
void pved_cluster_task_ended(pved *d, const char *type, const char *id);
void pved_cluster_config_changed(pved *d, const char *path);
/* resources.c: GET /cluster/resources and /cluster/tasks, and this node's part of them published to
 * the others every few seconds while pvecfs runs in cluster mode (the area's init and stop). */
extern const pved_handler pved_cluster_resources_handlers[];
int pved_cluster_publish_start(pved *d, pve_error **err);
void pved_cluster_publish_stop(pved *d);
/* /cluster/bulk-action (bulk.c): its handlers and the bulk-start, bulk-shutdown and bulk-suspend
 * tasks. */
extern const pved_handler pved_cluster_bulk_handlers[];
extern const pved_task_kind pved_cluster_bulk_tasks[];
