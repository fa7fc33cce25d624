/* Small helpers of pved: paths under the node's root, reading small system files. */
#include "daemon/core/pved.h"

char *pved_path(const pved *d, const char *rel)
{
	while (*rel == '/')
		rel++;
	size_t n = strlen(d->root);
	if (n > 0 && d->root[n - 1] == '/')
		return xasprintf("%s%s", d->root, rel);
	return xasprintf("%s/%s", d->root, rel);
}

char *pved_datacenter_option(pved *d, const char *key)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	_cleanup_config_ pve_config *c = NULL;
	if (pve_store_read(d->store, "datacenter.cfg", &text, &len, NULL, NULL) < 0 ||
	    pve_config_parse(text, len, &c, NULL) < 0)
		return NULL;
	const char *v = pve_config_get(c, NULL, key);
	return v ? xstrdup(v) : NULL;
}

char *pved_mac_prefix(pved *d)
{
	char *p = pved_datacenter_option(d, "mac_prefix");
	/* The API checked it; a hand-edited one that is no prefix is as none. */
	if (!p || pve_format_check("mac-prefix", p, NULL) < 0) {
		free(p);
		p = xstrdup("BC:24:11");
	}
	return p;
}

void pved_error_wrap(pve_error *err, const char *errmsg)
{
	if (!err || !errmsg)
		return;
	char *m;
	if (err->param && strcmp(err->param, "digest") != 0)
		m = xasprintf("%s: 400 Parameter verification failed.\n%s: %s", errmsg, err->param,
			      err->message);
	else if (err->code == EACCES || err->code == EPERM)
		m = xasprintf("%s: 403 %s", errmsg, err->message);
	else
		m = xasprintf("%s: %s", errmsg, err->message);
	free(err->message);
	err->message = m;
	free(err->param);
	err->param = NULL;
	err->code = EIO;
}
