/* What the firewall area's files share: its state and the apply that follows every change. */
#pragma once

#include <event2/event.h>

#include "daemon/core/pved.h"
#include "fw/fw.h"

/* Someone waiting for the next apply: an API edit answers when its change is in the kernel. */
typedef struct pved_fw_waiter {
	pved_call *call;
	uint64_t gen; /* answered by the first apply that covers this request generation */
	struct pved_fw_waiter *next;
} pved_fw_waiter;

struct pved_fw_state {
	pve_fw_ruleset *applied; /* what the kernel has, as pved put it there; NULL: nothing yet */
	uint64_t gen_requested; /* bumped by every change */
	uint64_t gen_done; /* the last generation an apply covered */
	bool running; /* an apply is on the guest queue */
	bool all; /* the pending change needs the whole table */
	unsigned *vmids; /* else: the guests whose files changed */
	size_t n_vmids;
	struct event
		*timer; /* runs the pending apply on the next loop turn: changes come in bursts */
	pved_fw_waiter *waiters;
	char *last_error; /* why the last apply failed, or NULL */
	struct pved_fw_log *log; /* the log file's writer and its readers (log.c) */
	bool told_inet; /* the log says the guests' rules are in the inet table */
	unsigned told_helpers; /* the conntrack helpers the log said this kernel lacks */
};

/* A change to apply: the whole table (vmid 0) or one guest's part. Runs off the loop; a waiter (may be
 * NULL) is answered when it is in force, or with the reason it is not. */
void pved_fw_schedule(pved *d, unsigned vmid, pved_call *waiter);

extern const pved_handler pved_handlers_firewall[];

/* log.c: the nflog reader on the loop, and the log endpoints. */
void pved_fw_log_start(pved *d);
void pved_fw_log_stop(pved *d);
/* Subscribes to conntrack's events (on) or closes the subscription, as host.fw's log_nf_conntrack
 * says after each apply. */
void pved_fw_log_conntrack(pved *d, bool on);
void pved_fw_host_log(pved_call *c);
void pved_fw_vm_log(pved_call *c);
