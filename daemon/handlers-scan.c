/* The scan handlers: /nodes/{node}/scan/{nfs,cifs,iscsi}, asking a server what it offers before a
 * storage is defined on it. The tools wait on the network, so each scan runs on a worker thread. */
#include "daemon/pved-internal.h"
#include "storage/storage-net.h"

typedef enum scan_kind { SCAN_NFS, SCAN_CIFS, SCAN_ISCSI } scan_kind;

typedef struct scan {
	pved_call *call;
	scan_kind kind;
	char *server, *username, *password, *domain;
	cJSON *result;
	pve_error *err;
} scan;

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void scan_work(void *arg)
{
	scan *s = arg;
	switch (s->kind) {
	case SCAN_NFS:
		pve_storage_scan_nfs(s->server, &s->result, &s->err);
		break;
	case SCAN_CIFS:
		pve_storage_scan_cifs(s->server, s->username, s->password, s->domain, &s->result,
				      &s->err);
		break;
	case SCAN_ISCSI:
		pve_storage_scan_iscsi(s->server, &s->result, &s->err);
		break;
	}
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
	free(s->server);
	free(s->username);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->domain);
	free(s);
}

static void start_scan(pved_call *c, scan_kind kind, const char *server)
{
	scan *s = xmalloc(sizeof(*s));
	*s = (scan){ .call = c, .kind = kind, .server = xstrdup(server) };
	if (kind == SCAN_CIFS) {
		s->username = dup_or_null(pved_call_str(c, "username"));
		s->password = dup_or_null(pved_call_str(c, "password"));
		s->domain = dup_or_null(pved_call_str(c, "domain"));
	}
	pved_run_blocking(c->d, scan_work, scan_done, s);
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

const pved_handler pved_handlers_scan[] = {
	{ "scan_nfs", h_scan_nfs },
	{ "scan_cifs", h_scan_cifs },
	{ "scan_iscsi", h_scan_iscsi },
	{ NULL, NULL },
};
