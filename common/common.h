/* common: the one public header of what every pved subsystem shares (errors, logging, cleanup, strings,
 * numbers, JSON with limits, Proxmox config files and property strings, the schema type system). */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- attributes and cleanup ---------------------------------------------------------------------- */

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void strv_freep(char ***v);

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Hands ownership on: returns the value and leaves the variable empty, so its cleanup does nothing. */
#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _tp_ = (p);    \
		(p) = NULL;                  \
		_tp_;                        \
	})
#define TAKE_FD(fd)                  \
	({                           \
		int _tf_ = (fd);     \
		(fd) = -1;           \
		_tf_;                \
	})

/* Allocation failures are not recoverable in a daemon that must not half-apply a change: abort. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

/* NULL-terminated string vectors. */
void strv_free(char **v);
size_t strv_length(char *const *v);
static inline void strv_freep(char ***v)
{
	strv_free(*v);
}

/* ---- errors ---------------------------------------------------------------------------------------- */

/* A failing call returns a negative errno (or NULL) and fills *err, when err is not NULL, with the errno and
 * a message a user can act on. `param` names the API parameter at fault, when there is one. The first
 * error set wins: callers may pass an err that is already set, and it is left alone. */
typedef struct pve_error {
	int code;      /* positive errno */
	char *message; /* for the user */
	char *param;   /* the parameter at fault, or NULL */
} pve_error;

int pve_error_set(pve_error **err, int code, const char *fmt, ...) _printf_(3, 4);
int pve_error_setv(pve_error **err, int code, const char *fmt, va_list ap) _printf_(3, 0);
int pve_error_set_param(pve_error **err, int code, const char *param, const char *fmt, ...)
	_printf_(4, 5);
/* Prefixes an existing message: "storage 'local': <old message>". */
void pve_error_prefix(pve_error *err, const char *fmt, ...) _printf_(2, 3);
void pve_error_free(pve_error *err);
static inline void pve_error_freep(pve_error **err)
{
	pve_error_free(*err);
	*err = NULL;
}
#define _cleanup_error_ _cleanup_(pve_error_freep)
/* The HTTP status an error maps to: EINVAL 400, EACCES/EPERM 403, ENOENT 404, EEXIST/EBUSY 409,
 * E2BIG/EMSGSIZE 413, ENOSYS 501, else 500. */
int pve_error_http_status(int code);

/* ---- logging --------------------------------------------------------------------------------------- */

enum { PVE_LOG_ERR = 3, PVE_LOG_WARNING = 4, PVE_LOG_NOTICE = 5, PVE_LOG_INFO = 6, PVE_LOG_DEBUG = 7 };

/* label: the process's name in each line ("pved", "pved-api"); to syslog when use_syslog, else stderr. */
void pve_log_init(const char *label, bool use_syslog, int max_level);
void pve_log_set_level(int max_level);
bool pve_log_enabled(int level);
void pve_log(int level, const char *fmt, ...) _printf_(2, 3);
#define log_debug(...) pve_log(PVE_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) pve_log(PVE_LOG_INFO, __VA_ARGS__)
#define log_notice(...) pve_log(PVE_LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) pve_log(PVE_LOG_WARNING, __VA_ARGS__)
#define log_error(...) pve_log(PVE_LOG_ERR, __VA_ARGS__)

/* ---- growable buffers ------------------------------------------------------------------------------- */

/* A byte buffer that grows; data is always NUL-terminated past len, so it doubles as a string builder. */
typedef struct pve_buf {
	char *data;
	size_t len, cap;
} pve_buf;
void pve_buf_append(pve_buf *b, const void *data, size_t len);
void pve_buf_puts(pve_buf *b, const char *s);
void pve_buf_printf(pve_buf *b, const char *fmt, ...) _printf_(2, 3);
/* Hands the bytes over (NUL-terminated) and leaves the buffer empty. */
char *pve_buf_steal(pve_buf *b);
void pve_buf_free(pve_buf *b);

/* ==== the sections below are written by their owners; keep each to its own section ==================== */

/* ---- strings and numbers (owner: common strings) --------------------------------------------------- */

/* ---- JSON with limits (owner: common json) --------------------------------------------------------- */

/* ---- config files and property strings (owner: common config) -------------------------------------- */

/* ---- the schema type system and validator (owner: common schema) ----------------------------------- */

/* ---- UPIDs (owner: common upid) ----------------------------------------------------------------------- */
