/* What common/'s files share among themselves: the error-collecting validator core and the property-string
 * parser it calls for object formats (schema.c, propstr.c, formats.c), the regex cache, and the line
 * reader of the config parsers (config.c, sectioncfg.c). */
#pragma once

#include <cjson/cJSON.h>

#include "common/common.h"

/* Adds msg under path ("_root" for ""), joining with "\n" if the path already has one. */
void schema_add_error(cJSON *errors, const char *path, const char *fmt, ...) _printf_(3, 4);
/* Checks one value (NULL or a JSON null when missing) against a property schema, converting it in
 * place; failures go into errors under path. */
void schema_check_prop(const cJSON *schema, cJSON *value, const char *path, cJSON *errors);
/* Checks an object against a map of property schemas. additional: NULL or false -> unknown keys are
 * errors; true -> allowed; an object -> the schema for them. */
void schema_check_object(const cJSON *props, cJSON *obj, const cJSON *additional,
			 bool forbid_unknown, const char *path, cJSON *errors);
/* The property map of a property-string format ({"type":"object","properties":{..}} or the map itself). */
const cJSON *propstr_format_props(const cJSON *format);
/* Parses a property string. On failure returns -EINVAL and either *ret_msg (a message as Proxmox's die
 * gives it) or *ret_errors ({path.key: msg}); *ret_key names the first bad key when known. */
int propstr_parse_internal(const char *s, const cJSON *format, const char *path, cJSON **ret_obj,
			   char **ret_msg, cJSON **ret_errors, char **ret_key);
/* Proxmox's generate_typetext for a property-string format. */
char *propstr_typetext(const cJSON *format, bool list_enums);
/* A number as Perl would print it in a message (100, 0.5, 1e+20). */
char *schema_number_str(double d);
/* 1 when the whole value matches the Perl-style pattern (m/^(?:PATTERN)$/, '$' only at the very end),
 * 0 when not, -EINVAL when it does not compile; compiled once. */
int schema_regex_match(const char *pattern, bool icase, const char *value);
/* The next line of text at *pos (without its newline), counting *lineno; 0 at the end, 1 with a line,
 * or an error naming the line when it is longer than PVE_CONFIG_MAX_LINE or holds a NUL byte. */
int config_next_line(const char *text, size_t len, size_t *pos, unsigned *lineno,
		     const char **ret_line, size_t *ret_len, pve_error **err);
