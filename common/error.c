/* The error object: an errno and a message for the user, set once and passed up. */
#include "common/common.h"

int pve_error_setv(pve_error **err, int code, const char *fmt, va_list ap)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		code = EIO;
	if (err && !*err) {
		pve_error *e = xcalloc(1, sizeof(*e));
		e->code = code;
		e->message = xvasprintf(fmt, ap);
		*err = e;
	}
	return -code;
}

int pve_error_set(pve_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = pve_error_setv(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int pve_error_set_param(pve_error **err, int code, const char *param, const char *fmt, ...)
{
	bool was_set = err && *err;
	va_list ap;
	va_start(ap, fmt);
	int r = pve_error_setv(err, code, fmt, ap);
	va_end(ap);
	if (err && !was_set && param)
		(*err)->param = xstrdup(param);
	return r;
}

void pve_error_prefix(pve_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *prefix = xvasprintf(fmt, ap);
	va_end(ap);
	char *m = xasprintf("%s: %s", prefix, err->message);
	free(err->message);
	err->message = m;
}

void pve_error_free(pve_error *err)
{
	if (!err)
		return;
	free(err->message);
	free(err->param);
	free(err);
}

int pve_error_http_status(int code)
{
	switch (code < 0 ? -code : code) {
	case EINVAL:
		return 400;
	case EACCES:
	case EPERM:
		return 403;
	case ENOENT:
		return 404;
	case EEXIST:
	case EBUSY:
		return 409;
	case E2BIG:
	case EMSGSIZE:
		return 413;
	case ENOSYS:
		return 501;
	case EAGAIN:
		return 503;
	default:
		return 500;
	}
}
