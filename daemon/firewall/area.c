/* The firewall area: /cluster/firewall, /nodes/{node}/firewall and the guests' firewall; its state is
 * the ruleset in the kernel, replaced off the loop whenever a .fw file or a guest's config changes. */
#include <errno.h>

#include "cluster/cluster.h"
#include "daemon/firewall/firewall-internal.h"

static const pved_handler *const handlers[] = { pved_handlers_firewall, NULL };

/* ----- Reading the configuration through the store ----- */

static int src_read(void *ctx, const char *path, char **ret_text, size_t *ret_len, pve_error **err)
{
	return pve_store_read(ctx, path, ret_text, ret_len, NULL, err);
}

static int src_list(void *ctx, const char *dir, char ***ret_names, pve_error **err)
{
	return pve_store_list(ctx, dir, ret_names, err);
}

/* ----- The apply job ----- */

typedef struct {
	pved *d;
	uint64_t gen;
	bool all;
	unsigned *vmids;
	size_t n_vmids;
	const pve_fw_ruleset *old; /* the state's, unchanged while the job runs (one at a time) */
	pve_fw_ruleset *result;
	pve_error *err;
	char *warning; /* a conntrack setting not written; the ruleset is in force */
} apply_job;

static void apply_work(void *arg)
{
	apply_job *j = arg;
	pve_fw_source src = { .read = src_read, .list = src_list, .ctx = j->d->store };
	_cleanup_fw_config_ pve_fw_config *conf = NULL;
	if (pve_fw_config_load(&src, j->d->node, &conf, &j->err) < 0)
		return;
	pve_fw_ruleset *rs = NULL;
	if (pve_fw_compile(&conf->input, &rs, &j->err) < 0)
		return;
	int r = 0;
	/* One guest's change replaces only its chains, sets and map elements; anything else (or a
	 * first apply) the whole table, in one batch either way. */
	if (!j->all && j->old && pve_fw_ruleset_enabled(j->old) && pve_fw_ruleset_enabled(rs)) {
		for (size_t i = 0; i < j->n_vmids && r >= 0; i++)
			r = pve_fw_apply_guest(j->old, rs, j->vmids[i], &j->err);
		/* The kernel's table is not what pved put there (someone flushed it, or an earlier
		 * guest of this list went in): the whole table, once. */
		if (r < 0) {
			pve_error_free(j->err);
			j->err = NULL;
			r = pve_fw_apply(rs, &j->err);
		}
	} else if (!pve_fw_ruleset_enabled(rs) && !j->old) {
		r = pve_fw_remove(NULL, &j->err);
	} else {
		r = pve_fw_apply(rs, &j->err);
	}
	if (r < 0) {
		pve_fw_ruleset_free(rs);
		return;
	}
	_cleanup_error_ pve_error *se = NULL;
	if (pve_fw_sysctl_apply(rs, &se) < 0)
		j->warning = xstrdup(se->message);
	j->result = rs;
}

static void start_apply(pved *d);

static void answer_waiters(pved *d, const pve_error *err)
{
	struct pved_fw_state *s = d->firewall;
	pved_fw_waiter **p = &s->waiters;
	while (*p) {
		pved_fw_waiter *w = *p;
		if (w->gen > s->gen_done) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		if (err) {
			pve_error *e = NULL;
			pve_error_set(&e, err->code, "%s", err->message);
			if (err->param)
				e->param = xstrdup(err->param);
			pved_call_fail(w->call, e);
		} else {
			pved_call_reply(w->call, NULL);
		}
		free(w);
	}
}

static void apply_done(void *arg)
{
	apply_job *j = arg;
	pved *d = j->d;
	struct pved_fw_state *s = d->firewall;
	s->running = false;
	s->gen_done = j->gen;
	free(s->last_error);
	s->last_error = NULL;
	if (j->result) {
		pve_fw_ruleset_free(s->applied);
		s->applied = j->result;
		log_info("firewall: ruleset applied (%zu guests)",
			 pve_fw_ruleset_guest_count(j->result));
		if (pve_fw_ruleset_enabled(j->result) && !pve_fw_ruleset_bridged(j->result) &&
		    !s->told_inet) {
			log_warning(
				"firewall: this kernel refuses bridge-family conntrack or reject "
				"(nf_conntrack_bridge, nft_reject_bridge): the guests' rules are "
				"in the inet table, and bridged traffic between guests is not "
				"filtered");
			s->told_inet = true;
		}
		if (j->warning)
			log_warning("firewall: %s", j->warning);
		unsigned absent = pve_fw_ruleset_ct_helpers_absent(j->result) & ~s->told_helpers;
		for (size_t i = 0; pve_fw_ct_helper_names[i]; i++) {
			if (!(absent & (1u << i)))
				continue;
			char module[64];
			snprintf(module, sizeof(module), "nf_conntrack_%s",
				 pve_fw_ct_helper_names[i]);
			for (char *p = module; *p; p++)
				*p = *p == '-' ? '_' : *p;
			log_warning("firewall: this kernel has no conntrack helper '%s' (%s): "
				    "host.fw's nf_conntrack_helpers goes without it",
				    pve_fw_ct_helper_names[i], module);
		}
		s->told_helpers |= absent;
		pved_fw_log_conntrack(d, pve_fw_ruleset_log_conntrack(j->result));
	} else {
		/* The kernel kept what it had (or, when one of several guests failed, has the others'
		 * new parts): the next apply replaces the whole table. */
		s->all = true;
		s->last_error = xstrdup(j->err->message);
		log_error("firewall: %s", j->err->message);
	}
	answer_waiters(d, j->err);
	pve_error_free(j->err);
	free(j->vmids);
	free(j->warning);
	free(j);
	if (s->gen_requested > s->gen_done)
		start_apply(d);
}

static void start_apply(pved *d)
{
	struct pved_fw_state *s = d->firewall;
	if (s->running || s->gen_requested <= s->gen_done)
		return;
	apply_job *j = xcalloc(1, sizeof(*j));
	*j = (apply_job){ .d = d,
			  .gen = s->gen_requested,
			  .all = s->all,
			  .vmids = s->vmids,
			  .n_vmids = s->n_vmids,
			  .old = s->applied };
	s->all = false;
	s->vmids = NULL;
	s->n_vmids = 0;
	s->running = true;
	pve_error *err = NULL;
	if (pved_run_blocking(d, PVED_QUEUE_GUEST, apply_work, apply_done, j, &err) < 0) {
		/* The queue is full: try again on the timer, with the same change. */
		s->running = false;
		s->all = true;
		free(j->vmids);
		free(j);
		pve_error_free(err);
		struct timeval tv = { 0, 200000 };
		evtimer_add(s->timer, &tv);
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_apply(arg);
}

void pved_fw_schedule(pved *d, unsigned vmid, pved_call *waiter)
{
	struct pved_fw_state *s = d->firewall;
	s->gen_requested++;
	if (!vmid || s->n_vmids >= 64) {
		s->all = true;
	} else {
		bool have = false;
		for (size_t i = 0; i < s->n_vmids; i++)
			have |= s->vmids[i] == vmid;
		if (!have) {
			s->vmids = xrealloc(s->vmids, (s->n_vmids + 1) * sizeof(*s->vmids));
			s->vmids[s->n_vmids++] = vmid;
		}
	}
	if (waiter) {
		pved_fw_waiter *w = xcalloc(1, sizeof(*w));
		*w = (pved_fw_waiter){ .call = waiter,
				       .gen = s->gen_requested,
				       .next = s->waiters };
		s->waiters = w;
	}
	struct timeval tv = { 0, 0 };
	evtimer_add(s->timer, &tv);
}

/* ----- Hooks ----- */

static int firewall_init(pved *d, pve_error **err)
{
	(void)err;
	struct pved_fw_state *s = xcalloc(1, sizeof(*s));
	s->timer = evtimer_new(d->base, timer_cb, d);
	d->firewall = s;
	pved_fw_log_start(d);
	/* The first apply puts the configuration in force (or removes a table a disabled firewall
	 * left behind). */
	pved_fw_schedule(d, 0, NULL);
	return 0;
}

static void firewall_stop(pved *d)
{
	struct pved_fw_state *s = d->firewall;
	if (!s)
		return;
	pved_fw_log_stop(d);
	/* The rules stay in the kernel: guests keep their protection while pved restarts. */
	if (s->timer)
		event_free(s->timer);
	pve_fw_ruleset_free(s->applied);
	free(s->vmids);
	free(s->last_error);
	while (s->waiters) {
		pved_fw_waiter *w = s->waiters;
		s->waiters = w->next;
		free(w);
	}
	free(s);
	d->firewall = NULL;
}

/* Which guest a path belongs to (firewall/<vmid>.fw, nodes/<node>/{qemu-server,lxc}/<vmid>.conf), 0
 * for a file of the whole table, -1 for a file the firewall does not read. */
static long long path_scope(pved *d, const char *path)
{
	if (!*path || streq(path, "firewall/cluster.fw"))
		return 0;
	_cleanup_free_ char *host = xasprintf("nodes/%s/host.fw", d->node);
	if (streq(path, host))
		return 0;
	_cleanup_free_ char *qdir = xasprintf("nodes/%s/qemu-server/", d->node);
	_cleanup_free_ char *ldir = xasprintf("nodes/%s/lxc/", d->node);
	const char *name = NULL, *suffix = NULL;
	if (startswith(path, "firewall/")) {
		name = path + 9;
		suffix = ".fw";
	} else if (startswith(path, qdir)) {
		name = path + strlen(qdir);
		suffix = ".conf";
	} else if (startswith(path, ldir)) {
		name = path + strlen(ldir);
		suffix = ".conf";
	}
	if (!name || !endswith(name, suffix))
		return -1;
	_cleanup_free_ char *num = xstrndup(name, strlen(name) - strlen(suffix));
	long long vmid;
	if (num[0] == '0' || pve_parse_int(num, 100, 999999999, &vmid) < 0)
		return -1;
	return vmid;
}

static void firewall_config_changed(pved *d, const char *path)
{
	if (!d->firewall)
		return;
	long long scope = path_scope(d, path);
	if (scope >= 0)
		pved_fw_schedule(d, (unsigned)scope, NULL);
}

const pved_area pved_area_firewall = {
	.name = "firewall",
	.handlers = handlers,
	.init = firewall_init,
	.stop = firewall_stop,
	.config_changed = firewall_config_changed,
};
