/* pvectl: what its files share: the one context of the process, the transports and the printers. */
#pragma once

#include <cjson/cJSON.h>
#include <openssl/ssl.h>

#include "api/api.h"
#include "common/common.h"

/* Exit codes: an API or transport error is 1, a mistake on the command line is 2. */
enum { PVECTL_EXIT_OK = 0, PVECTL_EXIT_FAIL = 1, PVECTL_EXIT_USAGE = 2 };

enum pvectl_output { PVECTL_OUT_TEXT, PVECTL_OUT_JSON, PVECTL_OUT_JSON_PRETTY };

/* A whole response body is held in memory to be printed; this is its ceiling. */
#define PVECTL_MAX_BODY (64u << 20)

/* The one context of the process. */
typedef struct pvectl {
	pve_routes *routes;
	enum pvectl_output output;
	bool async;

	/* transport 1: the node's local socket */
	char *root;

	/* transport 2: HTTPS */
	char *url;
	char *host; /* as given in the URL, without brackets */
	char *port;
	char *user;
	char *password_file;
	char *token;
	char *fingerprint; /* normalised: 32 bytes as upper-case hex pairs joined by ':' */
	SSL_CTX *ssl_ctx;
	char *ticket; /* after login */
	char *csrf;
} pvectl;

/* A response: the status line and the body parsed as JSON (NULL when it was empty or not JSON). */
typedef struct pvectl_response {
	int status;
	char *reason;
	cJSON *body;
} pvectl_response;

void pvectl_response_clear(pvectl_response *r);

/* pvectl-transport.c: one API call over whichever transport the context names. params holds strings
 * (arrays of strings for list parameters). Fails only when no response came; an HTTP error is a
 * response. */
int pvectl_call(pvectl *c, const char *method, const char *path, const cJSON *params,
		pvectl_response *ret, pve_error **err);
void pvectl_transport_done(pvectl *c);
/* "AA:bb:..." or "aabb..." to the canonical "AA:BB:..."; NULL when it is not 32 bytes of hex. */
char *pvectl_fingerprint_normalize(const char *s);

/* pvectl-format.c: prints data (the envelope's "data") in the chosen format; returns the route's
 * "returns" schema for column choice, or NULL. */
void pvectl_print_data(FILE *f, const cJSON *data, const cJSON *returns, enum pvectl_output out);
/* One cell of a table: a scalar as text, anything else as compact JSON. Caller frees. */
char *pvectl_value_text(const cJSON *v);
/* Prints rows of cells as a bordered table (first row is the header). */
void pvectl_print_table(FILE *f, char ***rows, size_t n_rows, size_t n_cols);

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

/* pvectl-main.c */
const char *pvectl_verb_method(const char *verb);
/* A user's path normalised: a leading '/', no trailing '/', no "/api2/json", no empty segments. */
char *pvectl_normalize_path(const char *path);
