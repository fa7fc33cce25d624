/* The scan handlers: /nodes/{node}/scan/{nfs,cifs,iscsi}, asking a server what it offers before a
 * storage is defined on it, and /nodes/{node}/scan/{lvm,lvmthin}, the local volume groups and thin
 * pools. The tools wait on the network or the disks, so each scan runs on a worker thread. */
#include "daemon/nodes/nodes-internal.h"
#include "storage/storage-net.h"
#include "storage/storage.h"

typedef enum scan_kind { SCAN_NFS, SCAN_CIFS, SCAN_ISCSI, SCAN_LVM, SCAN_LVMTHIN } scan_kind;

typedef struct scan {
	pved_call *call;
	scan_kind kind;
	char *arg; /* the server, portal or volume group */
	char *username, *password, *domain;
	cJSON *result;
	pve_error *err;
} scan;

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Without device-mapper the LVM tools answer an empty list (or complain about each device), which
 * would look like a node without volume groups: the scan says why instead. */
static bool have_device_mapper(void)
{
	if (access("/dev/mapper/control", F_OK) == 0)
		return true;
	_cleanup_fclose_ FILE *f = fopen("/proc/misc", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " device-mapper"))
			return true;
	return false;
}

static void scan_work(void *arg)
{
	scan *s = arg;
	if ((s->kind == SCAN_LVM || s->kind == SCAN_LVMTHIN) && !have_device_mapper()) {
		pve_error_set(&s->err, ENODEV,
			      "LVM is not available on this node: the kernel has no device-mapper");
		return;
	}
	switch (s->kind) {
	case SCAN_NFS:
		pve_storage_scan_nfs(s->arg, &s->result, &s->err);
		break;
	case SCAN_CIFS:
		pve_storage_scan_cifs(s->arg, s->username, s->password, s->domain, &s->result,
				      &s->err);
		break;
	case SCAN_ISCSI:
		pve_storage_scan_iscsi(s->arg, &s->result, &s->err);
		break;
	case SCAN_LVM:
		pve_storage_scan_lvm(&s->result, &s->err);
		break;
	case SCAN_LVMTHIN:
		pve_storage_scan_lvmthin(s->arg, &s->result, &s->err);
		break;
	}
}

static void scan_free(scan *s)
{
	free(s->arg);
	free(s->username);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->domain);
	free(s);
}

static void scan_done(void *arg)
{
	scan *s = arg;
	if (s->result) {
		pve_error_free(s->err);
		pved_call_reply(s->call, s->result);
	} else {
		if (!s->err)
			pve_error_set(&s->err, EIO, "scan failed");
		pved_call_fail(s->call, s->err);
	}
	scan_free(s);
}

static void start_scan(pved_call *c, scan_kind kind, const char *arg)
{
	scan *s = xmalloc(sizeof(*s));
	*s = (scan){ .call = c, .kind = kind, .arg = dup_or_null(arg) };
	if (kind == SCAN_CIFS) {
		s->username = dup_or_null(pved_call_str(c, "username"));
		s->password = dup_or_null(pved_call_str(c, "password"));
		s->domain = dup_or_null(pved_call_str(c, "domain"));
	}
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_SCAN, scan_work, scan_done, s, &err) < 0) {
		scan_free(s);
		pved_call_fail(c, err);
	}
}

static void h_scan_nfs(pved_call *c)
{
	start_scan(c, SCAN_NFS, pved_call_str(c, "server"));
}

static void h_scan_cifs(pved_call *c)
{
	start_scan(c, SCAN_CIFS, pved_call_str(c, "server"));
}

static void h_scan_iscsi(pved_call *c)
{
	start_scan(c, SCAN_ISCSI, pved_call_str(c, "portal"));
}

static void h_scan_lvm(pved_call *c)
{
	start_scan(c, SCAN_LVM, NULL);
}

static void h_scan_lvmthin(pved_call *c)
{
	start_scan(c, SCAN_LVMTHIN, pved_call_str(c, "vg"));
}

const pved_handler pved_handlers_scan[] = {
	{ "scan_nfs", h_scan_nfs },	    { "scan_cifs", h_scan_cifs },
	{ "scan_iscsi", h_scan_iscsi },	    { "scan_lvm", h_scan_lvm },
	{ "scan_lvmthin", h_scan_lvmthin }, { NULL, NULL },
};
