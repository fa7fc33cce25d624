/* daemon/core: what the task table (tasks.c) shows the API handlers of tasks (daemon/nodes/tasks.c,
 * daemon/cluster/cluster.c). */
#pragma once

#include "daemon/core/pved.h"

/* Keep this many finished tasks in memory (newest); the index file holds them all. */
#define PVED_TASKS_MAX_ARCHIVE 10000
/* The active file lists the running tasks and this many recently finished ones, as Proxmox does. */
#define PVED_TASKS_ACTIVE_RECENT 25

typedef struct pved_task {
	char *upid_str;
	pve_upid upid;
	bool running;
	bool ours; /* forked by this pved: reaped on SIGCHLD; else watched through /proc */
	time_t endtime; /* when finished */
	/* when finished: "OK", "WARNINGS: n", the error text, "unexpected status" */
	char *status;
	struct event *kill_timer;
} pved_task;

/* A line of the index file ("UPID ENDHEX status") or of the active file (the same with " 0|1", or a
 * bare UPID for a running task), as a task (status NULL when running); NULL for a malformed line. The
 * line is changed in place. */
pved_task *pved_task_parse_line(char *line, bool active);
void pved_task_free(pved_task *t);

/* Takes note of tasks of an earlier pved that have ended meanwhile (checked through /proc). */
void pved_tasks_refresh(pved *d);
/* All known tasks, oldest first (by when they were recorded). */
size_t pved_tasks_count(const pved *d);
const pved_task *pved_tasks_nth(const pved *d, size_t i);
/* The task with this UPID, or NULL. */
const pved_task *pved_task_find(const pved *d, const char *upid);
/* Whether the task is among the active ones (running, or one of the most recently finished). */
bool pved_task_is_active(const pved *d, const pved_task *t);
/* <root>/var/log/pve/tasks/<last hex digit of starttime>/<UPID> */
char *pved_task_log_path(const pved *d, const pve_upid *u, const char *upid_str);
/* The status a finished task's log reports in its last line ("OK", "WARNINGS: n", the error, or
 * "unexpected status"), as Proxmox's upid_read_status. */
char *pved_task_read_status(const char *log_path);
/* Proxmox's normalize_status_type: "ok", "warning", "error" or "unknown". */
const char *pved_task_status_type(const char *status);
/* SIGTERM to the worker's process group, SIGKILL 5 s later if it still runs. 0 also when it has ended. */
int pved_task_stop(pved *d, const char *upid, pve_error **err);
/* {upid,node,pid,pstart,starttime,type,id,user[,endtime,status]} */
cJSON *pved_task_to_json(const pved_task *t);
/* Proxmox's check_task_user: whether authid owns a task started by task_user. */
bool pved_task_owned_by(const char *authid, const char *task_user);
/* For qsort of const pved_task *: the newest first, as task lists are answered. */
int pved_task_cmp_newest(const void *a, const void *b);
