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
#define TAKE_PTR(p)                       \
	({                                \
		__typeof__(p) _tp_ = (p); \
		(p) = NULL;               \
		_tp_;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _tf_ = (fd); \
		(fd) = -1;       \
		_tf_;            \
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
/* An empty vector; one more string at the end (taken); whether one equals s; every one equal to s
 * removed (true if there was one). */
char **strv_new(void);
void strv_push(char ***v, char *s);
bool strv_contains(char *const *v, const char *s);
bool strv_remove(char **v, const char *s);
static inline void strv_freep(char ***v)
{
	strv_free(*v);
}

/* ---- errors ---------------------------------------------------------------------------------------- */

/* A failing call returns a negative errno (or NULL) and fills *err, when err is not NULL, with the errno and
 * a message a user can act on. `param` names the API parameter at fault, when there is one. The first
 * error set wins: callers may pass an err that is already set, and it is left alone. */
typedef struct pve_error {
	int code; /* positive errno */
	char *message; /* for the user */
	char *param; /* the parameter at fault, or NULL */
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

enum {
	PVE_LOG_ERR = 3,
	PVE_LOG_WARNING = 4,
	PVE_LOG_NOTICE = 5,
	PVE_LOG_INFO = 6,
	PVE_LOG_DEBUG = 7
};

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

/* ---- whole reads and writes on a blocking fd (common/io.c) ------------------------------------------ */

/* Writes all len bytes, again after EINTR and short writes: 0, or a negative errno (-EIO if write
 * returned 0). */
int pve_write_all(int fd, const void *data, size_t len);
/* Reads len bytes, fewer only at the end of the stream: how many came, or a negative errno. */
ssize_t pve_read_full(int fd, void *buf, size_t len);
/* The data of file from (its holes skipped: SEEK_DATA, SEEK_HOLE) written at the same offsets into the
 * existing file to, at most rate bytes a second (0: as fast as it goes), then to synced. Blocking and
 * sleeping: for a task's worker, never pved's loop. An error names the file. */
int pve_copy_sparse(const char *from, const char *to, uint64_t rate, pve_error **err);
/* A whole file (to its end, whatever size it reports) as a NUL-terminated string: E2BIG past max bytes,
 * else an error naming the file. */
int pve_read_file(const char *path, size_t max, char **ret, size_t *ret_len, pve_error **err);
/* path replaced atomically by len bytes of data (created with mode): a temporary file beside it, fsync,
 * rename, fsync of the directory, which is created when missing. */
int pve_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			  pve_error **err);
/* Creates path and its missing parents (mode for each): 0, or an error naming the one that failed. */
int pve_mkdir_p(const char *path, mode_t mode, pve_error **err);
/* CLOCK_MONOTONIC, in milliseconds. */
int64_t pve_now_ms(void);

/* ---- cgroup2 (common/cgroup.c) -------------------------------------------------------------------- */
/* The cgroup2 mount point from /proc/self/mountinfo, or NULL when there is none. */
char *pve_cgroup2_mount(void);
/* The same from mountinfo's text (for tests and the fuzz target). */
char *pve_cgroup2_mount_parse(const char *text, size_t len);
/* "pved-<hash>.slice" for a node whose root is not "/" (so test nodes never share cgroups), else NULL. */
char *pve_cgroup_node_slice(const char *root);

/* ---- starting programs (common/io.c) ---------------------------------------------------------------- */

#define PVE_SPAWN_MAX_FDS 32
typedef struct pve_spawn_opts {
	const char *
		path; /* an absolute path, or a bare name searched in /usr/sbin:/usr/bin:/sbin:/bin */
	char *const *argv;
	char *const *envp; /* NULL: this process's environment */
	int stdin_fd, stdout_fd, stderr_fd; /* -1: this process's own */
	const int *fds; /* fds[i] becomes fd 3 + i in the child; it gets no other fd */
	size_t n_fds;
	bool new_session; /* setsid */
	bool new_group; /* a process group of its own (its pid) */
} pve_spawn_opts;
/* Starts a program as a fresh process image with posix_spawn, which runs nothing of ours between fork
 * and exec, as a process with threads requires; every signal at its default and unblocked. */
int pve_spawn(const pve_spawn_opts *o, pid_t *ret_pid, pve_error **err);

/* ==== the sections below are written by their owners; keep each to its own section ==================== */

/* ---- strings and numbers (owner: common strings) --------------------------------------------------- */

#define streq(a, b) (strcmp((a), (b)) == 0)
bool startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);
/* Equal, where two NULLs are equal and NULL differs from every string. */
bool streq_ptr(const char *a, const char *b);

/* Whole-string decimal numbers with an optional sign, no spaces: -EINVAL if not a number, -ERANGE when
 * outside [min, max] (or outside what the type holds). *ret is written only on success. */
int pve_parse_int(const char *s, long long min, long long max, long long *ret);
int pve_parse_uint(const char *s, unsigned long long max, unsigned long long *ret);
/* Perl's number syntax as Proxmox checks it ([+-]digits[.digits][e[+-]digits]); no inf, nan or hex. */
int pve_parse_double(const char *s, double *ret);
/* 1|on|yes|true and 0|off|no|false, case-insensitive; -EINVAL otherwise. */
int pve_parse_bool(const char *s, bool *ret);
/* Proxmox disk sizes: ^\d+(\.\d+)?[KMGT]?$, no unit = bytes, units are powers of 1024; a fraction is
 * rounded down to whole bytes. -EINVAL if malformed, -ERANGE past 2^64-1. */
int pve_parse_size(const char *s, uint64_t *ret_bytes);
/* The largest unit that divides exactly: 34359738368 -> "32G", 1536 -> "1536" ... as Proxmox prints. */
char *pve_format_size(uint64_t bytes);

/* Splits at any of the separator characters, skipping empty fields; never NULL (an empty vector for "").
 * pve_strv_join: NULL v is "". */
char **pve_strv_split(const char *s, const char *separators);
char *pve_strv_join(char *const *v, const char *sep);
/* Proxmox's split_list: a list separated by any run of ',', ';', NUL or whitespace. */
char **pve_split_list(const char *s);

/* Percent-decoding of len bytes: NULL on a malformed %xx and on %00 (so the result is a C string). */
char *pve_uri_decode(const char *s, size_t len, bool plus_is_space);
/* Encodes everything but the unreserved A-Za-z0-9-._~ as %XX. */
char *pve_uri_encode(const char *s);
char *pve_hex_encode(const void *data, size_t len, bool upper);
/* Kernel randomness (getrandom), blocking until the pool is ready. */
int pve_random_bytes(void *buf, size_t len, pve_error **err);
/* A random unicast, locally administered MAC address ("BC:24:11:5E:0A:3F"), its leading characters
 * replaced by prefix (datacenter.cfg's mac_prefix; NULL: none), as Proxmox's random_ether_addr. */
void pve_random_mac(const char *prefix, char ret[18]);
/* len characters of [A-Za-z0-9], uniformly drawn; NULL only if the kernel gives no randomness. */
char *pve_random_password(size_t len);

/* ---- JSON with limits (owner: common json) --------------------------------------------------------- */

typedef struct cJSON cJSON;
/* The one reader of JSON text from outside. Parses exactly len bytes: E2BIG if len > max_len; EINVAL if
 * nested deeper than max_depth (checked before cJSON recurses), not strictly UTF-8, holding a NUL (a raw
 * byte or \u0000, which would cut a string short), not JSON, or followed by anything but whitespace. */
cJSON *pve_json_parse(const char *s, size_t len, size_t max_len, int max_depth, pve_error **err);
/* PVE_JSON_NAME_MEMBER: invalid UTF-8 or a NUL inside a member of a top-level object names that member
 * as err->param (a request body's parameter). */
#define PVE_JSON_NAME_MEMBER 0x1u
cJSON *pve_json_parse_ex(const char *s, size_t len, size_t max_len, int max_depth, unsigned flags,
			 pve_error **err);
/* Whether len bytes are well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or values past
 * U+10FFFF); NUL bytes are the caller's business. The prefix form returns how many bytes are. */
bool pve_utf8_valid(const char *s, size_t len);
size_t pve_utf8_valid_prefix(const char *s, size_t len);
/* Unformatted; never NULL (aborts on OOM). */
char *pve_json_print(const cJSON *v);
/* obj[key] when it is a string, else NULL. */
const char *pve_json_str(const cJSON *obj, const char *key);
/* obj[key] when it is an integral number (or a string holding a decimal integer) that fits. */
bool pve_json_int(const cJSON *obj, const char *key, long long *ret);
void pve_json_free(cJSON *v);
static inline void pve_json_freep(cJSON **p)
{
	pve_json_free(*p);
}
#define _cleanup_json_ _cleanup_(pve_json_freep)

/* ---- config files and property strings (owner: common config) -------------------------------------- */

/* Limits on files we parse: whole text, one line, keys per section, sections per file. */
#define PVE_CONFIG_MAX_TEXT (1024 * 1024)
#define PVE_CONFIG_MAX_LINE (64 * 1024)
#define PVE_CONFIG_MAX_KEYS 4096
#define PVE_CONFIG_MAX_SECTIONS 1024

/* Guest configs and datacenter.cfg: `key: value` lines, `#` description lines, `[section]` headers
 * (snapshots, [PENDING], [special:cloudinit], [pve:pending]). Order, comments and blank lines are kept,
 * so an unchanged canonical file prints back to the same bytes and a change touches only its line.
 * Keys are ^[a-z][a-z0-9_-]*$; container keys `lxc.*` may also hold dots and may repeat.
 * section NULL (or "") means the main section. */
typedef struct pve_config pve_config;
pve_config *pve_config_new(void);
int pve_config_parse(const char *text, size_t len, pve_config **ret, pve_error **err);
char *pve_config_print(const pve_config *c);
void pve_config_free(pve_config *c);
static inline void pve_config_freep(pve_config **c)
{
	pve_config_free(*c);
}
#define _cleanup_config_ _cleanup_(pve_config_freep)
/* NULL when the section or key is absent; for a repeated lxc.* key, the first one. */
const char *pve_config_get(const pve_config *c, const char *section, const char *key);
/* Every value of a key, in file order (for repeated lxc.* keys); an empty vector if none. */
char **pve_config_get_all(const pve_config *c, const char *section, const char *key);
/* Replaces the value in place (the first, deleting repeats), or appends; creates the section.
 * -EINVAL (and no change) for an invalid key or section name, or a value holding a newline or NUL. */
int pve_config_set(pve_config *c, const char *section, const char *key, const char *value);
/* Appends another line even if the key exists (only lxc.* keys may repeat: -EEXIST otherwise). */
int pve_config_add(pve_config *c, const char *section, const char *key, const char *value);
/* Deletes every line of the key; false if there was none. */
bool pve_config_delete(pve_config *c, const char *section, const char *key);
/* Keys of a section in file order (a repeated key once); empty if the section does not exist. */
char **pve_config_keys(const pve_config *c, const char *section);
/* Section names in file order, without the main section. */
char **pve_config_sections(const pve_config *c);
bool pve_config_has_section(const pve_config *c, const char *section);
/* Removes a whole section (not the main one); false if there was none. */
bool pve_config_delete_section(pve_config *c, const char *section);
/* The `#` lines of a section, %XX-decoded and joined with "\n" (Proxmox's `description`); NULL if none. */
char *pve_config_get_description(const pve_config *c, const char *section);
/* Replaces the section's `#` lines with the text's lines (%-encoding '%' and control characters);
 * NULL or "" removes them. */
void pve_config_set_description(pve_config *c, const char *section, const char *text);

/* Section configs (storage.cfg, domains.cfg, ...): a `TYPE: ID` line at column 0, then property lines
 * indented by whitespace (`\tkey value`, or a bare `\tkey` flag meaning "1"); a blank line ends a
 * section; `#` lines are kept but carry no meaning. Same limits as above. */
typedef struct pve_sectioncfg pve_sectioncfg;
typedef struct pve_section pve_section;
pve_sectioncfg *pve_sectioncfg_new(void);
int pve_sectioncfg_parse(const char *text, size_t len, pve_sectioncfg **ret, pve_error **err);
char *pve_sectioncfg_print(const pve_sectioncfg *c);
void pve_sectioncfg_free(pve_sectioncfg *c);
static inline void pve_sectioncfg_freep(pve_sectioncfg **c)
{
	pve_sectioncfg_free(*c);
}
#define _cleanup_sectioncfg_ _cleanup_(pve_sectioncfg_freep)
/* Sections in file order: for (size_t i = 0; i < pve_sectioncfg_count(c); i++) s = pve_sectioncfg_nth(c, i) */
size_t pve_sectioncfg_count(const pve_sectioncfg *c);
pve_section *pve_sectioncfg_nth(const pve_sectioncfg *c, size_t i);
pve_section *pve_sectioncfg_find(const pve_sectioncfg *c, const char *id);
/* A new empty section at the end: -EEXIST for a duplicate ID, -EINVAL for a malformed type or ID. The
 * pointer stays valid until the section is removed or the config freed. */
int pve_sectioncfg_add(pve_sectioncfg *c, const char *type, const char *id, pve_section **ret,
		       pve_error **err);
bool pve_sectioncfg_remove(pve_sectioncfg *c, const char *id);
const char *pve_section_type(const pve_section *s);
const char *pve_section_id(const pve_section *s);
/* Properties in order: key and value of the i-th. */
size_t pve_section_count(const pve_section *s);
const char *pve_section_key(const pve_section *s, size_t i);
const char *pve_section_value(const pve_section *s, size_t i);
const char *pve_section_get(const pve_section *s, const char *key);
/* Replaces in place or appends; -EINVAL for an invalid key, an empty value or one with a newline.
 * A value "1" set on a key that was a bare flag stays a bare flag. */
int pve_section_set(pve_section *s, const char *key, const char *value);
bool pve_section_delete(pve_section *s, const char *key);

/* Property strings: `virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1`, `local:100/vm-100-disk-0.qcow2,
 * size=32G`. format is an object of property schemas (or {"type":"object","properties":{...}}); a
 * property with `default_key: 1` takes the bare item, `alias` (with `keyAlias`) map one key to another.
 * The result holds typed values (integer and boolean as numbers, number as double). Errors name the key
 * (err->param) and use Proxmox's words. */
int pve_propstr_parse(const char *s, const cJSON *format, cJSON **ret_obj, pve_error **err);
/* Default key first without `key=`, then required keys, then the rest, each group sorted (as Proxmox);
 * disk-size values printed with pve_format_size. NULL if obj holds a key not in format or a value with a
 * comma. */
char *pve_propstr_print(const cJSON *obj, const cJSON *format);

/* ---- the schema type system and validator (owner: common schema) ----------------------------------- */

#define PVE_SCHEMA_MAX_PARAMS 256
#define PVE_SCHEMA_MAX_STRING (64 * 1024)

/* Validates API parameters against an object schema in Proxmox's dialect and converts them in place
 * (integer and boolean -> number, number -> double, array from a JSON array or one string; JSON null
 * values are dropped). 0 on success; -EINVAL (or -E2BIG for too many params) with *ret_errors =
 * {param: message} naming every bad parameter in Proxmox's words. */
int pve_schema_validate_params(const cJSON *schema, cJSON *params, cJSON **ret_errors);
/* One value against one property schema, converted in place; -EINVAL with *ret_msg on failure. */
int pve_schema_check_value(const cJSON *prop_schema, cJSON *value, char **ret_msg);
/* The CLI type text: typetext, <format_description>, <a | b | c>, <integer> (100 - 999999999), ... */
char *pve_schema_typetext(const cJSON *prop_schema);
/* Whether a property may be left out: optional, or has a default. */
bool pve_schema_is_optional(const cJSON *prop_schema);
/* The schema of parameter name in a map of property schemas. Besides plain names this resolves an
 * indexed family as Proxmox's API viewer folds it: "net[n]" with "count": 32 stands for net0 .. net31
 * (no leading zeros); "net[n]" itself is no parameter. NULL when there is none. */
const cJSON *pve_schema_property(const cJSON *props, const char *name);

/* A named format (pve-vmid, pve-node, ...; a `-list` suffix checks each item of a split_list, an
 * `-opt` suffix allows ""): 0, -EINVAL with *ret_msg (Proxmox's words, without "invalid format - "), or
 * -ENOENT for an unknown name. */
int pve_format_check(const char *format, const char *value, char **ret_msg);
bool pve_format_known(const char *format);

/* ---- UPIDs (owner: common upid) ----------------------------------------------------------------------- */

typedef struct pve_upid {
	char node[64];
	uint32_t pid;
	uint64_t pstart;
	uint32_t starttime;
	char type[64];
	char id[128];
	char user[128];
} pve_upid;
/* UPID:node:PID8:PSTART8+:STARTTIME8:type:id:user: (upper-case hex). */
char *pve_upid_format(const pve_upid *u);
/* Strict: EINVAL on anything malformed, on control characters, '/' or whitespace. */
int pve_upid_parse(const char *s, pve_upid *ret, pve_error **err);
