/* What the nodes of a cluster tell each other and the answers made of it: each pved publishes its
 * /cluster/resources entries and its newest tasks in pvecfs's volatile status, and GET
 * /cluster/resources and /cluster/tasks join this node's own (live) with what the others published. */
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "daemon/cluster/cluster-internal.h"
#include "daemon/core/guest.h"
#include "daemon/core/tasks-internal.h"
#include "storage/storage.h"

/* Published every PUBLISH_SEC; a node whose last publication is older than STALE_SEC (three missed
 * ones; Proxmox's pvestatd sends every 10 s) has its guests "unknown". The time is the publisher's
 * clock, as Proxmox's status carries it: the nodes' clocks must agree to a few seconds. */
#define PUBLISH_SEC 3
#define STALE_SEC 10
#define CHUNK_MAX (60 * 1024)
#define CHUNKS_MAX 200
#define TASKS_PUBLISHED 50
#define VMLIST_MAX (16 * 1024 * 1024)
#define VERSION_MAX (64 * 1024)
#define COUNT_KEY "resources.n"
#define TASKS_KEY "tasks"
/* pvecfs's .rrd: this node's lines every RRD_TICKS publications (about pvestatd's 10 s), in values
 * "rrd.0", "rrd.1", ... of at most CHUNK_MAX (a node has 256 keys: 200 chunks of resources, the
 * count, the tasks and these). */
#define RRD_TICKS 3
#define RRD_CHUNKS_MAX 48

typedef struct pved_published published;
static void published_list_free(published **v, size_t n);

struct pved_cluster_state {
	struct event *timer;
	bool busy; /* a publication's storage figures are being asked */
	bool orphan; /* the area stopped meanwhile: the publication frees the state */
	bool too_large_logged, failing;
	char *sent[CHUNKS_MAX]; /* each chunk as last set */
	char *tasks_sent;
	unsigned ticks; /* publications so far: .rrd's lines go with every RRD_TICKS-th */
	size_t rrd_sent; /* rrd.N values set last time, emptied when fewer are set */
	bool rrd_too_large_logged;
	published **pubs; /* the other nodes' publications, parsed (remote_resources) */
	size_t npubs;
	cJSON *vmlist; /* .vmlist parsed, and its version (vmlist_get) */
	double vmlist_version;
};

/* ---- this node's entries ---------------------------------------------------------------------------
 * Guests and the node come from their areas' memory (the resources hook); storages from storage.cfg, with
 * their figures asked on the storage queue, as they may wait on a tool or a server. */

typedef struct storage_fig {
	char *id;
	bool ok;
	pve_storage_status st;
} storage_fig;

typedef struct resources_job {
	pved *d;
	pved_call *c; /* NULL: a publication */
	char *type;
	pve_sectioncfg *cfg;
	storage_fig *figs;
	size_t n;
} resources_job;

static void resources_job_free(resources_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->figs[i].id);
	free(j->figs);
	pve_sectioncfg_free(j->cfg);
	free(j->type);
	free(j);
}

/* storage.cfg's storages of this node that c may audit (all of them for a publication). */
static void storages_pick(resources_job *j)
{
	pved *d = j->d;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (pve_store_read(d->store, "storage.cfg", &text, &len, NULL, NULL) < 0 ||
	    pve_storage_cfg_parse(text, len, &j->cfg, NULL) < 0 || !j->cfg)
		return;
	size_t n = pve_sectioncfg_count(j->cfg);
	j->figs = xcalloc(n + 1, sizeof(*j->figs));
	for (size_t i = 0; i < n; i++) {
		pve_storage st;
		const char *sid = pve_section_id(pve_sectioncfg_nth(j->cfg, i));
		_cleanup_free_ char *acl = xasprintf("/storage/%s", sid);
		if (pve_storage_get(j->cfg, sid, &st, NULL) < 0 || st.disabled ||
		    !pve_storage_on_node(&st, d->node) ||
		    (j->c && !pved_call_permitted(j->c, acl, "Datastore.Audit")))
			continue;
		j->figs[j->n++].id = xstrdup(sid);
	}
}

static void storage_work(void *arg)
{
	resources_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		pve_storage st;
		if (pve_storage_get(j->cfg, j->figs[i].id, &st, NULL) == 0)
			j->figs[i].ok = pve_storage_get_status(&st, &j->figs[i].st, NULL) == 0 &&
					j->figs[i].st.active;
	}
}

/* Appends o's text to the comma-separated entries in b, and frees o. */
static void entry_add(pve_buf *b, cJSON *o)
{
	_cleanup_free_ char *t = pve_json_print(o);
	cJSON_Delete(o);
	if (b->len)
		pve_buf_puts(b, ",");
	pve_buf_puts(b, t);
}

/* A storage's entry on node, as Proxmox's extract_storage_stats: "unknown" without figures. */
static cJSON *storage_entry(const pve_storage *st, const char *node, const pve_storage_status *fig)
{
	cJSON *o = cJSON_CreateObject();
	_cleanup_free_ char *id = xasprintf("storage/%s/%s", node, st->id);
	_cleanup_free_ char *content = pve_storage_content_print(st->content);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "storage", st->id);
	cJSON_AddStringToObject(o, "node", node);
	cJSON_AddStringToObject(o, "type", "storage");
	cJSON_AddStringToObject(o, "plugintype", st->type);
	cJSON_AddStringToObject(o, "status", fig ? "available" : "unknown");
	cJSON_AddNumberToObject(o, "shared", st->shared ? 1 : 0);
	cJSON_AddStringToObject(o, "content", content);
	if (fig) {
		cJSON_AddNumberToObject(o, "maxdisk", (double)fig->total);
		cJSON_AddNumberToObject(o, "disk", (double)fig->used);
	}
	return o;
}

/* This node's entries that c may see, comma-separated. */
static void local_resources(pved_call *c, const resources_job *j, pve_buf *b)
{
	pved *d = c->d;
	for (const pved_area *const *a = d->areas; *a; a++)
		if ((*a)->resources)
			(*a)->resources(c, j->type, b);
	for (size_t i = 0; i < j->n; i++) {
		pve_storage st;
		if (pve_storage_get(j->cfg, j->figs[i].id, &st, NULL) == 0)
			entry_add(b, storage_entry(&st, d->node,
						   j->figs[i].ok ? &j->figs[i].st : NULL));
	}
}

/* ---- publishing ------------------------------------------------------------------------------------ */

/* The caller the hooks print everything for (root@pam may see all); the answers filter per caller. */
static pved_call all_seeing(pved *d)
{
	return (pved_call){ .d = d, .authid = "root@pam", .userid = "root@pam", .client = "local" };
}

/* Where each top-level entry of the hooks' comma-separated text ends (they print JSON objects, so a
 * comma outside strings and braces separates two). */
static size_t entry_end(const char *s, size_t len, size_t pos)
{
	int depth = 0;
	bool str = false;
	for (; pos < len; pos++) {
		char ch = s[pos];
		if (str) {
			if (ch == '\\')
				pos++;
			else if (ch == '"')
				str = false;
		} else if (ch == '"') {
			str = true;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		} else if (ch == ',' && depth == 0) {
			return pos;
		}
	}
	return len;
}

static void set_status(pved *d, const char *key, const char *text)
{
	struct pved_cluster_state *cs = d->cluster;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_store_status_set(d->store, key, text, strlen(text), &err) < 0) {
		if (!cs->failing)
			log_warning("can't publish this node's '%s' to the cluster: %s", key,
				    err->message);
		cs->failing = true;
		return;
	}
	cs->failing = false;
}

/* Sets the chunks that changed since their last publication, then the count with the time (each
 * time: the others tell a silent node by it). */
static void publish_resources(pved *d, const pve_buf *b)
{
	struct pved_cluster_state *cs = d->cluster;
	/* pvecfs keeps the values in RAM only: after its restart, everything is sent again */
	_cleanup_free_ char *mine = NULL;
	size_t mlen;
	if (pve_store_status_get(d->store, d->node, COUNT_KEY, &mine, &mlen, NULL) == -ENOENT) {
		for (size_t i = 0; i < CHUNKS_MAX; i++) {
			free(cs->sent[i]);
			cs->sent[i] = NULL;
		}
		free(cs->tasks_sent);
		cs->tasks_sent = NULL;
	}
	size_t n = 0, pos = 0;
	const char *text = b->data ? b->data : "";
	while (pos < b->len && n < CHUNKS_MAX) {
		pve_buf chunk = { 0 };
		pve_buf_puts(&chunk, "[");
		while (pos < b->len) {
			size_t end = entry_end(text, b->len, pos);
			/* no entry is near 60 KiB; one that were would be left out rather than split */
			if (end == pos || end - pos + 2 > CHUNK_MAX) {
				pos = end + 1;
				continue;
			}
			if (chunk.len + (end - pos) + 2 > CHUNK_MAX)
				break;
			if (chunk.len > 1)
				pve_buf_puts(&chunk, ",");
			pve_buf_append(&chunk, text + pos, end - pos);
			pos = end + 1;
		}
		pve_buf_puts(&chunk, "]");
		if (!cs->sent[n] || !streq(cs->sent[n], chunk.data)) {
			char key[32];
			snprintf(key, sizeof(key), "resources.%zu", n);
			set_status(d, key, chunk.data);
			free(cs->sent[n]);
			cs->sent[n] = cs->failing ? NULL : pve_buf_steal(&chunk);
		}
		pve_buf_free(&chunk);
		n++;
	}
	if (pos < b->len && !cs->too_large_logged) {
		log_warning(
			"this node's /cluster/resources entries exceed %d chunks of %d KiB: the "
			"other nodes see only the first",
			CHUNKS_MAX, CHUNK_MAX / 1024);
		cs->too_large_logged = true;
	}
	_cleanup_free_ char *count =
		xasprintf("{\"count\":%zu,\"time\":%lld}", n, (long long)time(NULL));
	set_status(d, COUNT_KEY, count);
}

/* The newest tasks, as /nodes/{node}/tasks prints them, as many as fit one value. */
static void publish_tasks(pved *d)
{
	struct pved_cluster_state *cs = d->cluster;
	pved_tasks_refresh(d);
	size_t n = pved_tasks_count(d);
	const pved_task **v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = pved_tasks_nth(d, i);
	qsort(v, n, sizeof(*v), pved_task_cmp_newest);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < n && i < TASKS_PUBLISHED; i++)
		cJSON_AddItemToArray(list, pved_task_to_json(v[i]));
	free(v);
	char *text = pve_json_print(list);
	while (strlen(text) > PVE_STORE_STATUS_MAX_VALUE && cJSON_GetArraySize(list) > 0) {
		cJSON_DeleteItemFromArray(list, cJSON_GetArraySize(list) - 1);
		free(text);
		text = pve_json_print(list);
	}
	cJSON_Delete(list);
	if (cs->tasks_sent && streq(cs->tasks_sent, text)) {
		free(text);
		return;
	}
	set_status(d, TASKS_KEY, text);
	free(cs->tasks_sent);
	cs->tasks_sent = NULL;
	if (cs->failing)
		free(text);
	else
		cs->tasks_sent = text;
}

/* ---- pvecfs's .rrd -------------------------------------------------------------------------------
 * Each line as pvestatd broadcasts it for Proxmox VE 9 (its "pve-*-9.0" keys), "U" for what is
 * unknown: the node's from the nodes area's hook, a guest's and a storage's from the entry
 * /cluster/resources has of it, which holds the figures this publication sampled. */

static void rrd_num(pve_buf *b, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v)) {
		pve_buf_puts(b, ":U");
		return;
	}
	double x = v->valuedouble;
	if (x == (double)(long long)x && x > -9e15 && x < 9e15)
		pve_buf_printf(b, ":%lld", (long long)x);
	else
		pve_buf_printf(b, ":%.6g", x);
}

/* A name as one field: a ':' or a control character would split the line. */
static void rrd_str(pve_buf *b, const char *s)
{
	pve_buf_puts(b, ":");
	for (; s && *s; s++)
		pve_buf_append(b, (unsigned char)*s < 0x20 || *s == ':' ? "_" : s, 1);
}

/* pvestatd's update_qemu_status and update_lxc_status: uptime, name, status, template, time, CPUs,
 * CPU, memory max and used, disk max and used, net in and out, disk read and written, the host's
 * memory of the guest and six pressure figures; a stopped guest has only what its config says. */
static void rrd_guest(pve_buf *b, const cJSON *o, bool qemu, time_t now)
{
	long long vmid;
	const char *status = pve_json_str(o, "status");
	if (!pve_json_int(o, "vmid", &vmid) || !status)
		return;
	bool running = streq(status, "running");
	long long tmpl = 0;
	(void)pve_json_int(o, "template", &tmpl);
	pve_buf_printf(b, "pve-vm-9.0/%lld", vmid);
	if (running)
		rrd_num(b, o, "uptime");
	else
		pve_buf_puts(b, ":0");
	rrd_str(b, pve_json_str(o, "name"));
	rrd_str(b, status);
	pve_buf_printf(b, ":%lld:%lld", tmpl ? 1LL : 0LL, (long long)now);
	rrd_num(b, o, "maxcpu");
	if (running)
		rrd_num(b, o, "cpu");
	else
		pve_buf_puts(b, ":U");
	rrd_num(b, o, "maxmem");
	if (running)
		rrd_num(b, o, "mem");
	else
		pve_buf_puts(b, ":U");
	rrd_num(b, o, "maxdisk");
	rrd_num(b, o, "disk");
	if (running) {
		rrd_num(b, o, "netin");
		rrd_num(b, o, "netout");
		/* a VM's block statistics are not asked of QEMU: unknown, not 0 */
		if (qemu) {
			pve_buf_puts(b, ":U:U");
		} else {
			rrd_num(b, o, "diskread");
			rrd_num(b, o, "diskwrite");
		}
	} else {
		pve_buf_puts(b, ":U:U:U:U");
	}
	pve_buf_puts(b, ":U:U:U:U:U:U:U\n");
}

/* pvestatd's update_storage_status: time, total, used; an active storage's only. */
static void rrd_storage(pve_buf *b, const cJSON *o, const char *node, time_t now)
{
	const char *sid = pve_json_str(o, "storage"), *status = pve_json_str(o, "status");
	if (!sid || !status || !streq(status, "available"))
		return;
	pve_buf_printf(b, "pve-storage-9.0/%s/%s:%lld", node, sid, (long long)now);
	rrd_num(b, o, "maxdisk");
	rrd_num(b, o, "disk");
	pve_buf_puts(b, "\n");
}

/* This node's lines: the areas' hooks', then one for each guest and storage entry of res (the
 * comma-separated entries local_resources printed). */
static void rrd_lines(pved *d, const pve_buf *res, pve_buf *b)
{
	time_t now = time(NULL);
	for (const pved_area *const *a = d->areas; *a; a++)
		if ((*a)->rrd)
			(*a)->rrd(d, now, b);
	const char *text = res->data ? res->data : "";
	for (size_t pos = 0; pos < res->len;) {
		size_t end = entry_end(text, res->len, pos);
		const char *e = text + pos;
		size_t len = end - pos;
		pos = end + 1;
		/* every entry starts with its id: only these are parsed */
		bool qemu = len > 12 && startswith(e, "{\"id\":\"qemu/");
		bool lxc = len > 11 && startswith(e, "{\"id\":\"lxc/");
		bool storage = len > 15 && startswith(e, "{\"id\":\"storage/");
		if (!qemu && !lxc && !storage)
			continue;
		cJSON *o = cJSON_ParseWithLength(e, len);
		if (o && storage)
			rrd_storage(b, o, d->node, now);
		else if (o)
			rrd_guest(b, o, qemu, now);
		cJSON_Delete(o);
	}
}

/* Sets rrd.0, rrd.1, ... with whole lines, each time (their time changes), and empties the values
 * a longer list set before. */
static void publish_rrd(pved *d, const pve_buf *res)
{
	struct pved_cluster_state *cs = d->cluster;
	pve_buf lines = { 0 };
	rrd_lines(d, res, &lines);
	const char *text = lines.data ? lines.data : "";
	size_t n = 0, pos = 0;
	while (pos < lines.len && n < RRD_CHUNKS_MAX) {
		size_t start = pos;
		while (pos < lines.len) {
			const char *nl = memchr(text + pos, '\n', lines.len - pos);
			size_t next = nl ? (size_t)(nl - text) + 1 : lines.len;
			/* a line past CHUNK_MAX alone is left out (none is near it) */
			if (next - start > CHUNK_MAX) {
				if (pos == start)
					start = pos = next;
				else
					break;
			} else {
				pos = next;
			}
		}
		if (pos == start)
			break;
		char key[32];
		snprintf(key, sizeof(key), "rrd.%zu", n++);
		_cleanup_free_ char *chunk = xstrndup(text + start, pos - start);
		set_status(d, key, chunk);
	}
	if (pos < lines.len && !cs->rrd_too_large_logged) {
		log_warning(
			"this node's RRD lines exceed %d values of %d KiB: the rest is left out",
			RRD_CHUNKS_MAX, CHUNK_MAX / 1024);
		cs->rrd_too_large_logged = true;
	}
	for (size_t i = n; i < cs->rrd_sent; i++) {
		char key[32];
		snprintf(key, sizeof(key), "rrd.%zu", i);
		set_status(d, key, "");
	}
	cs->rrd_sent = n;
	pve_buf_free(&lines);
}

static void cluster_state_free(struct pved_cluster_state *cs)
{
	if (cs->timer)
		event_free(cs->timer);
	for (size_t i = 0; i < CHUNKS_MAX; i++)
		free(cs->sent[i]);
	free(cs->tasks_sent);
	published_list_free(cs->pubs, cs->npubs);
	cJSON_Delete(cs->vmlist);
	free(cs);
}

static void publish_done(void *arg)
{
	resources_job *j = arg;
	pved *d = j->d;
	struct pved_cluster_state *cs = d->cluster;
	if (cs->orphan) {
		/* the area stopped while the figures were asked; the state waited for this */
		d->cluster = NULL;
		cluster_state_free(cs);
		return resources_job_free(j);
	}
	cs->busy = false;
	/* the areas may be gone already: the others would see a node without guests */
	if (d->stopping)
		return resources_job_free(j);
	pved_call all = all_seeing(d);
	pve_buf b = { 0 };
	local_resources(&all, j, &b);
	resources_job_free(j);
	if (cs->ticks++ % RRD_TICKS == 0)
		publish_rrd(d, &b);
	/* a node alone (pvecfs in local mode) has nobody to tell but its own .rrd */
	if (pved_pvecfs_clustered(d)) {
		publish_resources(d, &b);
		publish_tasks(d);
	}
	pve_buf_free(&b);
}

static void publish_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved *d = arg;
	struct pved_cluster_state *cs = d->cluster;
	if (cs->busy || d->stopping)
		return;
	if (!pved_pvecfs_clustered(d) && cs->ticks % RRD_TICKS != 0) {
		cs->ticks++;
		return;
	}
	resources_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	storages_pick(j);
	cs->busy = true;
	if (pved_run_blocking(d, PVED_QUEUE_STORAGE, storage_work, publish_done, j, NULL) < 0) {
		/* the storage queue is full: this round is skipped */
		cs->busy = false;
		resources_job_free(j);
	}
}

int pved_cluster_publish_start(pved *d, pve_error **err)
{
	(void)err;
	/* without pvecfs, nobody reads what would be published */
	if (!d->base || !d->pvecfs)
		return 0;
	struct pved_cluster_state *cs = xcalloc(1, sizeof(*cs));
	d->cluster = cs;
	cs->timer = event_new(d->base, -1, EV_PERSIST, publish_tick, d);
	struct timeval tv = { PUBLISH_SEC, 0 };
	event_add(cs->timer, &tv);
	/* the first at once: the others see this node's entries from its start */
	event_active(cs->timer, EV_TIMEOUT, 0);
	return 0;
}

void pved_cluster_publish_stop(pved *d)
{
	struct pved_cluster_state *cs = d->cluster;
	if (!cs)
		return;
	event_free(cs->timer);
	cs->timer = NULL;
	if (cs->busy) {
		/* its job still runs and holds d: the state goes when it is done */
		cs->orphan = true;
		return;
	}
	cluster_state_free(cs);
	d->cluster = NULL;
}

/* ---- what the other nodes published ----------------------------------------------------------------
 * Parsed once per entry text: each request reads the chunks again (from pvecfs's RAM); in a chunk
 * whose text changed, only the entries whose text is new are parsed (a node's figures change each
 * publication and move every later entry to another chunk), so an answer joins the kept texts. */

typedef struct pub_entry {
	char *id;
	char *text; /* the entry as published: one JSON object that passed pve_json_parse */
	char *pool; /* its pool, for the caller's Pool.Audit; NULL without one */
} pub_entry;

typedef struct pub_chunk {
	char *raw; /* the chunk's text as read last */
	size_t rawlen;
	pub_entry *v;
	size_t n;
} pub_chunk;

struct pved_published {
	char *node;
	bool fresh; /* published within STALE_SEC */
	pub_chunk chunks[CHUNKS_MAX];
	size_t nchunks;
	const pub_entry **by_id; /* every chunk's entries, sorted by id */
	size_t n;
};

static void pub_chunk_clear(pub_chunk *ch)
{
	for (size_t i = 0; i < ch->n; i++) {
		free(ch->v[i].id);
		free(ch->v[i].text);
		free(ch->v[i].pool);
	}
	free(ch->v);
	free(ch->raw);
	*ch = (pub_chunk){ 0 };
}

static void published_free(published *p)
{
	for (size_t i = 0; i < p->nchunks; i++)
		pub_chunk_clear(&p->chunks[i]);
	free(p->by_id);
	free(p->node);
	*p = (published){ 0 };
}

static void published_list_free(published **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]) {
			published_free(v[i]);
			free(v[i]);
		}
	free(v);
}

static const char *id_of(const cJSON *o)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
}

static int by_id_cmp(const void *a, const void *b)
{
	return strcmp((*(const pub_entry *const *)a)->id, (*(const pub_entry *const *)b)->id);
}

/* A value another node published, parsed: cluster input, so its size and depth are bounded here. */
static cJSON *status_json(pved *d, const char *node, const char *key)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (pve_store_status_get(d->store, node, key, &text, &len, NULL) < 0)
		return NULL;
	return pve_json_parse(text, len, PVE_STORE_STATUS_MAX_VALUE, 8, NULL);
}

/* The entries of the chunks a load replaces, by text: an entry published again unchanged is taken
 * over rather than parsed again. */
typedef struct pub_reuse_item {
	const char *text; /* kept for the search after the entry is taken */
	size_t len;
	pub_entry *e; /* NULL once taken */
} pub_reuse_item;

typedef struct pub_reuse {
	pub_reuse_item *v; /* sorted by text */
	size_t n;
} pub_reuse;

/* Bytes, then length: a chunk's text is cluster input and may hold a NUL, where strcmp would stop. */
static int text_cmp(const char *s, size_t slen, const char *t, size_t tlen)
{
	int c = memcmp(s, t, slen < tlen ? slen : tlen);
	if (c)
		return c;
	return slen < tlen ? -1 : slen > tlen ? 1 : 0;
}

static int by_text_cmp(const void *a, const void *b)
{
	const pub_reuse_item *x = a, *y = b;
	return text_cmp(x->text, x->len, y->text, y->len);
}

/* The kept entry whose text is s[0..len), moved out of its old chunk (which then frees none of it). */
static bool pub_reuse_take(pub_reuse *r, const char *s, size_t len, pub_entry *ret)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = text_cmp(s, len, r->v[mid].text, r->v[mid].len);
		if (c == 0) {
			if (!r->v[mid].e)
				return false; /* the same entry twice: parsed again */
			*ret = *r->v[mid].e;
			*r->v[mid].e = (pub_entry){ 0 };
			r->v[mid].e = NULL;
			return true;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* One entry's text, s[0..len), parsed: kept when it is an object with an id that names node. */
static bool pub_entry_parse(const char *s, size_t len, const char *node, pub_entry *ret)
{
	cJSON *e = pve_json_parse(s, len, CHUNK_MAX, 7, NULL);
	const char *en = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "node"));
	bool ok = cJSON_IsObject(e) && id_of(e) && en && streq(en, node);
	if (ok) {
		const char *pool =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "pool"));
		*ret = (pub_entry){ .id = xstrdup(id_of(e)),
				    .text = xstrndup(s, len),
				    .pool = pool ? xstrdup(pool) : NULL };
	}
	cJSON_Delete(e);
	return ok;
}

/* ch's entries from its text, raw (taken): the JSON array's objects that name node, each taken from
 * r when its text was published before. */
static void pub_chunk_parse(pub_chunk *ch, const char *node, char *raw, size_t len, pub_reuse *r)
{
	ch->raw = raw;
	ch->rawlen = len;
	/* the entries are cut where the publisher joined them (entry_end) and each parsed alone */
	if (len < 2 || raw[0] != '[' || raw[len - 1] != ']')
		return;
	const char *body = raw + 1;
	size_t blen = len - 2, cap = 16;
	ch->v = xcalloc(cap, sizeof(*ch->v));
	for (size_t pos = 0; pos < blen;) {
		size_t end = entry_end(body, blen, pos);
		if (ch->n == cap) {
			cap *= 2;
			ch->v = xrealloc(ch->v, cap * sizeof(*ch->v));
		}
		if (pub_reuse_take(r, body + pos, end - pos, &ch->v[ch->n]) ||
		    pub_entry_parse(body + pos, end - pos, node, &ch->v[ch->n]))
			ch->n++;
		pos = end + 1;
	}
}

/* p brought up to what node published now: its chunks read again, the entries of changed ones
 * parsed unless they were published before. */
static void published_load(pved *d, const char *node, published *p)
{
	cJSON *count = status_json(d, node, COUNT_KEY);
	const cJSON *cn = cJSON_GetObjectItemCaseSensitive(count, "count");
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(count, "time");
	double now = (double)time(NULL);
	p->fresh = cJSON_IsNumber(cn) && cJSON_IsNumber(ct) && ct->valuedouble + STALE_SEC >= now &&
		   ct->valuedouble <= now + STALE_SEC;
	size_t n = p->fresh && cn->valuedouble >= 0 && cn->valuedouble <= CHUNKS_MAX ?
			   (size_t)cn->valuedouble :
			   0;
	cJSON_Delete(count);
	char *texts[CHUNKS_MAX] = { 0 };
	size_t lens[CHUNKS_MAX] = { 0 };
	bool changed[CHUNKS_MAX] = { 0 }, any = n != p->nchunks;
	for (size_t i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "resources.%zu", i);
		if (pve_store_status_get(d->store, node, key, &texts[i], &lens[i], NULL) < 0) {
			texts[i] = xstrdup("");
			lens[i] = 0;
		}
		changed[i] = i >= p->nchunks || !p->chunks[i].raw ||
			     text_cmp(p->chunks[i].raw, p->chunks[i].rawlen, texts[i], lens[i]);
		any |= changed[i];
	}
	for (size_t i = n; i < p->nchunks; i++)
		changed[i] = true;
	if (!any) {
		for (size_t i = 0; i < n; i++)
			free(texts[i]);
		return;
	}
	/* the entries of the chunks replaced or dropped, to take over by text */
	pub_reuse r = { 0 };
	size_t total = 0;
	for (size_t i = 0; i < p->nchunks; i++)
		if (changed[i])
			total += p->chunks[i].n;
	r.v = xcalloc(total + 1, sizeof(*r.v));
	for (size_t i = 0; i < p->nchunks; i++)
		for (size_t k = 0; changed[i] && k < p->chunks[i].n; k++)
			r.v[r.n++] = (pub_reuse_item){ p->chunks[i].v[k].text,
						       strlen(p->chunks[i].v[k].text),
						       &p->chunks[i].v[k] };
	qsort(r.v, r.n, sizeof(*r.v), by_text_cmp);
	pub_chunk fresh[CHUNKS_MAX] = { 0 };
	for (size_t i = 0; i < n; i++)
		if (changed[i])
			pub_chunk_parse(&fresh[i], node, texts[i], lens[i], &r);
		else
			free(texts[i]);
	for (size_t i = 0; i < n || i < p->nchunks; i++) {
		if (!changed[i])
			continue;
		pub_chunk_clear(&p->chunks[i]);
		p->chunks[i] = fresh[i];
	}
	free(r.v);
	p->nchunks = n;
	total = 0;
	for (size_t i = 0; i < n; i++)
		total += p->chunks[i].n;
	free(p->by_id);
	p->by_id = xcalloc(total + 1, sizeof(*p->by_id));
	p->n = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < p->chunks[i].n; k++)
			p->by_id[p->n++] = &p->chunks[i].v[k];
	qsort(p->by_id, p->n, sizeof(*p->by_id), by_id_cmp);
}

/* The node's published entry with this id; NULL when it has none or is silent. */
static const pub_entry *published_find(const published *p, const char *id)
{
	if (!p || !p->fresh || !p->n)
		return NULL;
	size_t lo = 0, hi = p->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(id, p->by_id[mid]->id);
		if (r == 0)
			return p->by_id[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* pvecfs's .vmlist: every guest's node and type. */
static cJSON *read_vmlist(pved *d)
{
	_cleanup_free_ char *path = pved_path(d, "etc/pve/.vmlist");
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (pve_read_file(path, VMLIST_MAX, &text, &len, NULL) < 0)
		return NULL;
	return pve_json_parse(text, len, VMLIST_MAX, 8, NULL);
}

/* The version .vmlist has now, from pvecfs's .version (a few hundred bytes); -1 when unknown. */
static double vmlist_version(pved *d)
{
	_cleanup_free_ char *path = pved_path(d, "etc/pve/.version");
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (pve_read_file(path, VERSION_MAX, &text, &len, NULL) < 0)
		return -1;
	cJSON *v = pve_json_parse(text, len, VERSION_MAX, 4, NULL);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "vmlist");
	double r = cJSON_IsNumber(n) ? n->valuedouble : -1;
	cJSON_Delete(v);
	return r;
}

/* .vmlist, parsed: kept in the publishing state until .version names another version (10,000 guests
 * are about 700 KB to read through FUSE and parse); without that state, read for the caller, who
 * frees *ret_own. */
static const cJSON *vmlist_get(pved *d, cJSON **ret_own)
{
	struct pved_cluster_state *cs = d->cluster;
	*ret_own = NULL;
	if (!cs)
		return *ret_own = read_vmlist(d);
	double v = vmlist_version(d);
	if (cs->vmlist && v >= 0 && v == cs->vmlist_version)
		return cs->vmlist;
	cJSON_Delete(cs->vmlist);
	cs->vmlist = read_vmlist(d);
	const cJSON *fv = cJSON_GetObjectItemCaseSensitive(cs->vmlist, "version");
	cs->vmlist_version = cJSON_IsNumber(fv) ? fv->valuedouble : -1;
	return cs->vmlist;
}

/* What the caller may see of a published entry, as the hooks filter theirs: a node's figures only
 * with Sys.Audit on it, a guest's pool only with Pool.Audit on the pool. */
static void node_figures_filter(pved_call *c, const char *node, cJSON *o)
{
	_cleanup_free_ char *acl = xasprintf("/nodes/%s", node);
	if (pved_call_permitted(c, acl, "Sys.Audit"))
		return;
	static const char *const figures[] = { "cpu",	 "maxcpu", "mem",    "maxmem",
					       "uptime", "disk",   "maxdisk" };
	for (size_t i = 0; i < ELEMENTSOF(figures); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(o, figures[i]);
}

/* A kept entry as JSON again, to take members out for a caller (the text is pved's own print of
 * what passed the limits once: it parses within its length and the same depth). */
static cJSON *pub_entry_json(const pub_entry *e)
{
	size_t len = strlen(e->text);
	return pve_json_parse(e->text, len, len, 8, NULL);
}

/* Appends a published entry's text for c: without its pool unless c may audit the pool. */
static void pub_entry_add(pved_call *c, const pub_entry *e, pve_buf *b)
{
	_cleanup_free_ char *acl = e->pool ? xasprintf("/pool/%s", e->pool) : NULL;
	if (acl && !pved_call_permitted(c, acl, "Pool.Audit")) {
		cJSON *o = pub_entry_json(e);
		if (!o)
			return;
		cJSON_DeleteItemFromObjectCaseSensitive(o, "pool");
		return entry_add(b, o);
	}
	if (b->len)
		pve_buf_puts(b, ",");
	pve_buf_puts(b, e->text);
}

/* The guests of .vmlist on other nodes that c may audit: as their node published them, "unknown"
 * when it has not lately. pubs: the nodelist's, in its order. */
static void guest_entries(pved_call *c, const cJSON *vmlist, const cJSON *nodelist,
			  published *const *pubs, pve_buf *b)
{
	pved *d = c->d;
	pved_guest_audit audit;
	pved_guest_audit_init(&audit, c);
	const cJSON *g;
	cJSON_ArrayForEach (g, cJSON_GetObjectItemCaseSensitive(vmlist, "ids")) {
		const char *node =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "node"));
		const char *type =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "type"));
		long long vmid;
		/* this node's guests are the hooks' (live) */
		if (!node || !type || streq(node, d->node) ||
		    (!streq(type, "qemu") && !streq(type, "lxc")) || !g->string ||
		    g->string[0] == '0' ||
		    pve_parse_int(g->string, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0 ||
		    !pved_guest_audit_may(&audit, vmid))
			continue;
		char id[64];
		snprintf(id, sizeof(id), "%s/%lld", type, vmid);
		const published *p = NULL;
		size_t i = 0;
		const cJSON *n;
		cJSON_ArrayForEach (n, nodelist) {
			if (streq(n->string, node))
				p = pubs[i];
			i++;
		}
		const pub_entry *e = published_find(p, id);
		if (e) {
			pub_entry_add(c, e, b);
			continue;
		}
		/* Proxmox's extract_vm_stats without the node's status */
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddNumberToObject(o, "vmid", (double)vmid);
		cJSON_AddStringToObject(o, "node", node);
		cJSON_AddStringToObject(o, "type", type);
		cJSON_AddStringToObject(o, "status", "unknown");
		entry_add(b, o);
	}
}

/* A node's entry as Proxmox's extract_node_stats: "online" with its figures when it is in the view
 * and published lately, "unknown" when it is in the view but silent, else "offline". */
static cJSON *node_entry(pved_call *c, const char *node, bool online, const published *p)
{
	_cleanup_free_ char *id = xasprintf("node/%s", node);
	const pub_entry *e = online ? published_find(p, id) : NULL;
	cJSON *o = e ? pub_entry_json(e) : NULL;
	if (o) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
		cJSON_AddStringToObject(o, "status", "online");
		node_figures_filter(c, node, o);
		return o;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "node", node);
	cJSON_AddStringToObject(o, "type", "node");
	cJSON_AddStringToObject(o, "status", online ? "unknown" : "offline");
	return o;
}

/* Every storage enabled on node that the caller may audit, once per node as Proxmox lists them (a
 * shared one too), with the figures that node published. */
static void storage_entries(pved_call *c, const pve_sectioncfg *cfg, const char *node,
			    const published *p, pve_buf *b)
{
	size_t n = pve_sectioncfg_count(cfg);
	for (size_t i = 0; i < n; i++) {
		pve_storage st;
		const char *sid = pve_section_id(pve_sectioncfg_nth(cfg, i));
		_cleanup_free_ char *acl = xasprintf("/storage/%s", sid);
		if (pve_storage_get(cfg, sid, &st, NULL) < 0 || st.disabled ||
		    !pve_storage_on_node(&st, node) ||
		    !pved_call_permitted(c, acl, "Datastore.Audit"))
			continue;
		_cleanup_free_ char *id = xasprintf("storage/%s/%s", node, sid);
		const pub_entry *e = published_find(p, id);
		if (e)
			pub_entry_add(c, e, b);
		else
			entry_add(b, storage_entry(&st, node, NULL));
	}
}

/* The kept publications of the nodelist's nodes, in its order, each brought up to date (emptied for
 * this node and one not in the view); those of nodes that left the list are freed. Kept in the
 * publishing state; without one (pved alone on pvecfs) they live for one answer. */
static published **published_of_nodes(pved *d, const cJSON *nodelist, bool *online)
{
	struct pved_cluster_state *cs = d->cluster;
	size_t nn = (size_t)cJSON_GetArraySize(nodelist), i = 0;
	published **pubs = xcalloc(nn + 1, sizeof(*pubs));
	const cJSON *n;
	cJSON_ArrayForEach (n, nodelist) {
		for (size_t k = 0; cs && k < cs->npubs && !pubs[i]; k++)
			if (cs->pubs[k] && streq(cs->pubs[k]->node, n->string))
				pubs[i] = TAKE_PTR(cs->pubs[k]);
		if (!pubs[i]) {
			pubs[i] = xcalloc(1, sizeof(**pubs));
			pubs[i]->node = xstrdup(n->string);
		}
		const cJSON *on = cJSON_GetObjectItemCaseSensitive(n, "online");
		online[i] = cJSON_IsNumber(on) && on->valuedouble != 0;
		if (online[i] && !streq(n->string, d->node)) {
			published_load(d, n->string, pubs[i]);
		} else {
			_cleanup_free_ char *name = TAKE_PTR(pubs[i]->node);
			published_free(pubs[i]);
			pubs[i]->node = TAKE_PTR(name);
		}
		i++;
	}
	if (cs) {
		published_list_free(cs->pubs, cs->npubs);
		cs->pubs = pubs;
		cs->npubs = nn;
	}
	return pubs;
}

/* The other nodes' entries (.members' nodelist), filtered for c; nothing on a node alone. */
static void remote_resources(pved_call *c, const resources_job *j, pve_buf *b)
{
	pved *d = c->d;
	cJSON *members = pved_cluster_members(d);
	if (!members)
		return;
	const cJSON *nodelist = cJSON_GetObjectItemCaseSensitive(members, "nodelist");
	size_t nn = (size_t)cJSON_GetArraySize(nodelist), i = 0;
	bool *online = xcalloc(nn + 1, sizeof(*online));
	published **pubs = published_of_nodes(d, nodelist, online);
	const char *type = j->type;
	if (!type || streq(type, "vm")) {
		cJSON *own;
		guest_entries(c, vmlist_get(d, &own), nodelist, pubs, b);
		cJSON_Delete(own);
	}
	const cJSON *n;
	cJSON_ArrayForEach (n, nodelist) {
		if (!streq(n->string, d->node)) {
			if (!type || streq(type, "node"))
				entry_add(b, node_entry(c, n->string, online[i], pubs[i]));
			if ((!type || streq(type, "storage")) && j->cfg)
				storage_entries(c, j->cfg, n->string, pubs[i], b);
		}
		i++;
	}
	if (!d->cluster)
		published_list_free(pubs, nn);
	free(online);
	cJSON_Delete(members);
}

/* ---- GET /cluster/resources: this node's entries live, the others' as they published them ------------ */

static void resources_answer(resources_job *j)
{
	pved_call *c = j->c;
	pve_buf b = { 0 };
	local_resources(c, j, &b);
	remote_resources(c, j, &b);
	/* not xasprintf: with 10,000 guests its growing buffer took a fifth of the answer's time */
	pve_buf text = { 0 };
	pve_buf_puts(&text, "[");
	pve_buf_append(&text, b.data, b.len);
	pve_buf_puts(&text, "]");
	pve_buf_free(&b);
	pved_call_reply_json(c, text.data, text.len);
	pve_buf_free(&text);
	resources_job_free(j);
}

static void storage_done(void *arg)
{
	resources_answer(arg);
}

static void h_cluster_resources(pved_call *c)
{
	const char *type = pved_call_str(c, "type");
	resources_job *j = xcalloc(1, sizeof(*j));
	j->d = c->d;
	j->c = c;
	j->type = type ? xstrdup(type) : NULL;
	if (type && !streq(type, "storage"))
		return resources_answer(j);
	storages_pick(j);
	if (!j->n ||
	    pved_run_blocking(c->d, PVED_QUEUE_STORAGE, storage_work, storage_done, j, NULL) < 0)
		return resources_answer(j);
}

/* ---- GET /cluster/tasks: this node's running and recent tasks and the lists the others published ---- */

static double starttime_of(const cJSON *t)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "starttime");
	return cJSON_IsNumber(s) ? s->valuedouble : 0;
}

/* The newest first, as pved_task_cmp_newest orders this node's. */
static int task_cmp_newest(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	double sx = starttime_of(x), sy = starttime_of(y);
	if (sx != sy)
		return sx < sy ? 1 : -1;
	return strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(y, "upid")),
		      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "upid")));
}

/* node's published tasks that c may see (Sys.Audit on the node, or its own), into list. */
static void remote_tasks(pved_call *c, const char *node, cJSON *list)
{
	cJSON *tasks = status_json(c->d, node, TASKS_KEY);
	_cleanup_free_ char *acl = xasprintf("/nodes/%s", node);
	bool auditor = pved_call_permitted(c, acl, "Sys.Audit");
	cJSON *t;
	while (cJSON_IsArray(tasks) && (t = cJSON_DetachItemFromArray(tasks, 0))) {
		const char *tn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "node"));
		const char *user =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "user"));
		if (cJSON_IsObject(t) && tn && streq(tn, node) && user &&
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "upid")) &&
		    cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, "starttime")) &&
		    (auditor || pved_task_owned_by(c->authid, user)))
			cJSON_AddItemToArray(list, t);
		else
			cJSON_Delete(t);
	}
	cJSON_Delete(tasks);
}

static void h_cluster_tasks(pved_call *c)
{
	pved *d = c->d;
	pved_tasks_refresh(d);
	_cleanup_free_ char *node_path = xasprintf("/nodes/%s", d->node);
	bool auditor = pved_call_permitted(c, node_path, "Sys.Audit");
	cJSON *all = cJSON_CreateArray();
	size_t n = pved_tasks_count(d);
	for (size_t i = 0; i < n; i++) {
		const pved_task *t = pved_tasks_nth(d, i);
		if (!pved_task_is_active(d, t))
			continue;
		if (!auditor && !pved_task_owned_by(c->authid, t->upid.user))
			continue;
		cJSON_AddItemToArray(all, pved_task_to_json(t));
	}
	cJSON *members = pved_cluster_members(d);
	const cJSON *m;
	cJSON_ArrayForEach (m, cJSON_GetObjectItemCaseSensitive(members, "nodelist"))
		if (!streq(m->string, d->node))
			remote_tasks(c, m->string, all);
	cJSON_Delete(members);
	size_t k = (size_t)cJSON_GetArraySize(all);
	cJSON **v = xcalloc(k + 1, sizeof(*v));
	for (size_t i = 0; i < k; i++)
		v[i] = cJSON_DetachItemFromArray(all, 0);
	qsort(v, k, sizeof(*v), task_cmp_newest);
	for (size_t i = 0; i < k; i++)
		cJSON_AddItemToArray(all, v[i]);
	free(v);
	pved_call_reply(c, all);
}

const pved_handler pved_cluster_resources_handlers[] = {
	{ "cluster_resources", h_cluster_resources },
	{ "cluster_tasks", h_cluster_tasks },
	{ NULL, NULL },
};
