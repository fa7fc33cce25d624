/* pvectl: what its files share: the one context of the process, the transports and the printers. */
#pragma once

#include <cjson/cJSON.h>

#include "api/api.h"
#include "client/client.h"
#include "common/common.h"

/* Exit codes: an API or transport error is 1, a mistake on the command line is 2. */
enum { PVECTL_EXIT_OK = 0, PVECTL_EXIT_FAIL = 1, PVECTL_EXIT_USAGE = 2 };

enum pvectl_output { PVECTL_OUT_TEXT, PVECTL_OUT_JSON, PVECTL_OUT_JSON_PRETTY, PVECTL_OUT_YAML };

/* pvesh's output options, and what the terminal says */
typedef struct pvectl_format {
	enum pvectl_output output;
	bool noborder, noheader, quiet;
	bool human; /* --human-readable, on unless turned off: the schema's renderers */
	bool utf8; /* the locale's charset is UTF-8: the table's lines are box-drawing characters */
	size_t columns; /* the terminal's width; 0: the output is no terminal, no limit */
} pvectl_format;

/* A whole response body is held in memory to be printed; this is its ceiling. */
#define PVECTL_MAX_BODY PVE_CLIENT_MAX_BODY

/* The one context of the process. */
typedef struct pvectl {
	pve_routes *routes;
	pvectl_format fmt;
	bool async;
	/* run as pvesh: the options are pvesh's alone (no --url, --user...: the API's parameters of those
	 * names reach the API, as on a Proxmox host) */
	bool as_pvesh;
	bool as_qm; /* run as qm: a task's log without its status line, qm's own listings */

	/* transport 1: the node's local socket */
	char *root;

	/* transport 2: HTTPS (client/), made at the first call */
	char *url;
	char *host; /* as given in the URL, without brackets */
	char *port;
	char *user;
	char *password_file;
	char *token;
	char *fingerprint; /* normalised: 32 bytes as upper-case hex pairs joined by ':' */
	pve_client *https;
	bool logged_in; /* the ticket is https's */
} pvectl;

/* pvectl-transport.c: one API call over whichever transport the context names. params holds strings
 * (arrays of strings for list parameters). Fails only when no response came; an HTTP error is a
 * response. */
int pvectl_call(pvectl *c, const char *method, const char *path, const cJSON *params,
		pve_client_response *ret, pve_error **err);
void pvectl_transport_done(pvectl *c);

/* pvectl-format.c: API results as pvesh prints them (Proxmox's CLIFormatter). */
void pvectl_format_init(pvectl_format *f);
/* data in f's format; returns: the route's "returns" schema (NULL: none); props: the columns of a list
 * (NULL: from the schema or the data); sort_key: the column rows are sorted by (NULL: the first; "":
 * unsorted). */
void pvectl_print_result(FILE *fp, const cJSON *data, const cJSON *returns,
			 const char *const *props, size_t n_props, const char *sort_key,
			 const pvectl_format *f);
void pvectl_print_data(FILE *fp, const cJSON *data, const cJSON *returns, const pvectl_format *f);
/* rows (objects) as a table of the columns props, as CLIFormatter's print_text_table. */
void pvectl_print_table(FILE *fp, const cJSON *data, const cJSON *returnprops,
			const char *const *props, size_t n_props, const char *sort_key,
			const pvectl_format *f);
/* Canonical JSON (keys sorted); pretty as JSON::XS's: three-space indents and " : ". */
void pvectl_json(pve_buf *b, const cJSON *v, bool pretty);
/* One cell of a table: a scalar as text, anything else as compact JSON. Caller frees. */
char *pvectl_value_text(const cJSON *v);
/* PVE::Format's renderers: "23.54 GiB", "1d 2h 3m". */
char *pvectl_render_bytes(double value);
char *pvectl_render_duration(double seconds);

/* pvectl-doc.c: everything generated from the route table. */
/* "<string>", "<integer> (1 - 100)", "<a | b>": the schema's typetext or one made from the type. */
char *pvectl_typetext(const cJSON *schema);
/* A path's child names with the "Drwcd" flags of pvesh ls, for one child. */
char *pvectl_child_flags(const pve_routes *t, const char *child_path);
int pvectl_cmd_usage(pvectl *c, const char *path, const char *only_method, bool verbose);
int pvectl_cmd_man(pvectl *c, const char *which);
int pvectl_cmd_bashcomplete(pvectl *c, int argc, char **argv);
void pvectl_print_completion_script(FILE *f);
void pvectl_print_help(FILE *f);

/* pvectl-storage.c: pvesm's verbs. words: the verb and its positional words; opts: the --name value
 * options that are not pvectl's own. */
typedef struct pvectl_opt {
	const char *name;
	const char *value; /* NULL: given alone */
} pvectl_opt;
int pvectl_cmd_storage(pvectl *c, const char *const *words, size_t n_words, const pvectl_opt *opts,
		       size_t n_opts);
/* pvectl-vm.c: qm's verbs (showcmd). */
int pvectl_cmd_vm(pvectl *c, const char *const *words, size_t n_words, const pvectl_opt *opts,
		  size_t n_opts);

/* pvectl-firewall.c: firewall compile|status. */
int pvectl_cmd_firewall(pvectl *c, const char *const *words, size_t n_words, const pvectl_opt *opts,
			size_t n_opts);

/* pvectl-cluster.c: create, join, status, nodes, delnode; argv[0] is "cluster". */
int pvectl_cluster(pvectl *c, int argc, char **argv);
/* The first line of a file holding a password or a token (pvectl-transport.c). */
int pvectl_read_secret_file(const char *path, char **ret, pve_error **err);

/* qm's verbs: the API's calls through pvectl_run, qm's own listings (list, config, status, pending). */
int pvectl_qm(pvectl *c, int argc, char **argv);
/* pct's verbs (tools/pvectl-ct.c); argv[1] is the verb. */
int pvectl_pct(pvectl *c, int argc, char **argv);

/* pvectl-main.c */
/* pvectl's command line (argv[0] is the program), as main runs it. */
int pvectl_run(pvectl *c, int argc, char **argv);
const char *pvectl_verb_method(const char *verb);
/* A user's path normalised: a leading '/', no trailing '/', no "/api2/json", no empty segments. */
char *pvectl_normalize_path(const char *path);
