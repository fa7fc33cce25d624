/* pvectl's output as Proxmox's pvesh prints the same data (tools/pvectl-format.c): the expected texts
 * are written from CLIFormatter's and PVE::Format's rules (tables with and without border and header,
 * UTF-8 and ASCII rules, column order, alignment, sorting, the width of the terminal, renderers) and
 * from what YAML::XS and JSON::XS make of the data. */
#include "tests/unit/test.h"
#include "tools/pvectl-internal.h"

/* What pvectl_print_result prints for the JSON texts data and returns (NULL: none). */
static char *print(const char *data, const char *returns, const pvectl_format *f,
		   const char *const *props, size_t n_props, const char *sort_key)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);
	cJSON *d = cJSON_Parse(data);
	cJSON *r = returns ? cJSON_Parse(returns) : NULL;
	if (!fp || !d || (returns && !r))
		abort();
	pvectl_print_result(fp, d, r, props, n_props, sort_key, f);
	fclose(fp);
	cJSON_Delete(d);
	cJSON_Delete(r);
	return out;
}

static pvectl_format fmt(bool utf8)
{
	return (pvectl_format){ .output = PVECTL_OUT_TEXT, .human = true, .utf8 = utf8 };
}

static const char version[] = "{\"version\": \"9.2.0\", \"release\": \"9.2\", \"repoid\": null}";

static void object_utf8(void)
{
	pvectl_format f = fmt(true);
	_cleanup_free_ char *s = print(version, NULL, &f, NULL, 0, NULL);
	check_streq(s, "┌─────────┬───────┐\n"
		       "│ key     │ value │\n"
		       "╞═════════╪═══════╡\n"
		       "│ release │ 9.2   │\n"
		       "├─────────┼───────┤\n"
		       "│ version │ 9.2.0 │\n"
		       "└─────────┴───────┘\n");
}

static void object_ascii(void)
{
	pvectl_format f = fmt(false);
	_cleanup_free_ char *s = print(version, NULL, &f, NULL, 0, NULL);
	check_streq(s, "+---------+-------+\n"
		       "| key     | value |\n"
		       "+=========+=======+\n"
		       "| release | 9.2   |\n"
		       "+---------+-------+\n"
		       "| version | 9.2.0 |\n"
		       "+---------+-------+\n");
}

static void object_noborder_noheader(void)
{
	pvectl_format f = fmt(true);
	f.noborder = true;
	_cleanup_free_ char *s = print(version, NULL, &f, NULL, 0, NULL);
	check_streq(s, "key     value\n"
		       "release 9.2\n"
		       "version 9.2.0\n");
	f.noheader = true;
	_cleanup_free_ char *t = print(version, NULL, &f, NULL, 0, NULL);
	check_streq(t, "release 9.2\n"
		       "version 9.2.0\n");
	/* a border without a header: no header rule, a rule between rows */
	f.noborder = false;
	_cleanup_free_ char *u = print(version, NULL, &f, NULL, 0, NULL);
	check_streq(u, "┌─────────┬───────┐\n"
		       "│ release │ 9.2   │\n"
		       "├─────────┼───────┤\n"
		       "│ version │ 9.2.0 │\n"
		       "└─────────┴───────┘\n");
}

/* An object's schema names what is printed (required first, then optional, then sorted by key) and
 * renders it; keys the schema lacks are not printed. */
static void object_schema_renderers(void)
{
	static const char returns[] =
		"{\"type\": \"object\", \"properties\": {"
		"\"mem\": {\"type\": \"integer\", \"renderer\": \"bytes\", \"optional\": 1},"
		"\"uptime\": {\"type\": \"integer\", \"renderer\": \"duration\"},"
		"\"cpu\": {\"type\": \"number\", \"renderer\": \"fraction_as_percentage\"},"
		"\"agent\": {\"type\": \"boolean\", \"optional\": 1}}}";
	static const char data[] = "{\"mem\": 25275838464, \"uptime\": 93784, \"cpu\": 0.0079, "
				   "\"agent\": true, \"extra\": \"not in the schema\"}";
	pvectl_format f = fmt(true);
	f.noborder = true;
	_cleanup_free_ char *s = print(data, returns, &f, NULL, 0, NULL);
	check_streq(s, "key    value\n"
		       "agent  1\n"
		       "cpu    0.79%\n"
		       "mem    23.54 GiB\n"
		       "uptime 1d 2h 3m\n");
	f.human = false;
	_cleanup_free_ char *t = print(data, returns, &f, NULL, 0, NULL);
	check_streq(t, "key    value\n"
		       "agent  true\n"
		       "cpu    0.0079\n"
		       "mem    25275838464\n"
		       "uptime 93784\n");
}

static const char vm_returns[] =
	"{\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
	"\"vmid\": {\"type\": \"integer\"},"
	"\"status\": {\"type\": \"string\"},"
	"\"name\": {\"type\": \"string\", \"optional\": 1},"
	"\"maxmem\": {\"type\": \"integer\", \"renderer\": \"bytes\", \"optional\": 1},"
	"\"cpu\": {\"type\": \"number\", \"renderer\": \"fraction_as_percentage\", \"optional\": 1},"
	"\"uptime\": {\"type\": \"integer\", \"renderer\": \"duration\", \"optional\": 1}}}}";
static const char vms[] =
	"[{\"vmid\": 100, \"status\": \"stopped\", \"name\": \"web\", \"maxmem\": 536870912, "
	"\"cpu\": 0, \"uptime\": 0},"
	" {\"vmid\": 99, \"status\": \"running\", \"name\": \"database\", \"maxmem\": 25275838464, "
	"\"cpu\": 0.0079, \"uptime\": 694861}]";

/* Columns: required sorted, then optional sorted; integers and numbers right-aligned (rendered too);
 * rows by the first column. */
static void list_bordered(void)
{
	pvectl_format f = fmt(true);
	_cleanup_free_ char *s = print(vms, vm_returns, &f, NULL, 0, NULL);
	check_streq(s, "┌─────────┬──────┬───────┬────────────┬──────────┬──────────┐\n"
		       "│ status  │ vmid │   cpu │     maxmem │ name     │   uptime │\n"
		       "╞═════════╪══════╪═══════╪════════════╪══════════╪══════════╡\n"
		       "│ running │   99 │ 0.79% │  23.54 GiB │ database │ 1w 1d 1h │\n"
		       "├─────────┼──────┼───────┼────────────┼──────────┼──────────┤\n"
		       "│ stopped │  100 │ 0.00% │ 512.00 MiB │ web      │       0s │\n"
		       "└─────────┴──────┴───────┴────────────┴──────────┴──────────┘\n");
}

static void list_noborder_sorted_numeric(void)
{
	/* sorted by vmid as numbers (99 before 100), the last column unpadded */
	static const char *const cols[] = { "vmid", "name", "maxmem" };
	pvectl_format f = fmt(true);
	f.noborder = true;
	_cleanup_free_ char *s = print(vms, vm_returns, &f, cols, 3, NULL);
	check_streq(s, "vmid name     maxmem\n"
		       "  99 database 23.54 GiB\n"
		       " 100 web      512.00 MiB\n");
}

/* Lines are cut to the terminal's width, as pvesh does on a terminal. */
static void list_terminal_width(void)
{
	pvectl_format f = fmt(true);
	f.columns = 20;
	_cleanup_free_ char *s = print(vms, vm_returns, &f, NULL, 0, NULL);
	check_streq(s, "┌─────────┬──────┬──\n"
		       "│ status  │ vmid │  \n"
		       "╞═════════╪══════╪══\n"
		       "│ running │   99 │ 0\n"
		       "├─────────┼──────┼──\n"
		       "│ stopped │  100 │ 0\n"
		       "└─────────┴──────┴──\n");
}

/* A value of several lines makes a row as high; a list of scalars is one column without header. */
static void multiline_and_scalars(void)
{
	pvectl_format f = fmt(false);
	_cleanup_free_ char *s =
		print("{\"a\": \"one\\ntwo\", \"b\": \"x\"}", NULL, &f, NULL, 0, NULL);
	check_streq(s, "+-----+-------+\n"
		       "| key | value |\n"
		       "+=====+=======+\n"
		       "| a   | one   |\n"
		       "|     | two   |\n"
		       "+-----+-------+\n"
		       "| b   | x     |\n"
		       "+-----+-------+\n");
	_cleanup_free_ char *t = print("[\"beta\", \"alpha\"]", NULL, &f, NULL, 0, NULL);
	check_streq(t, "+-------+\n"
		       "| alpha |\n"
		       "+-------+\n"
		       "| beta  |\n"
		       "+-------+\n");
	/* a scalar as it is; JSON's true as Perl prints it */
	_cleanup_free_ char *u = print("\"UPID:n:1\"", NULL, &f, NULL, 0, NULL);
	check_streq(u, "UPID:n:1\n");
	_cleanup_free_ char *v = print("true", NULL, &f, NULL, 0, NULL);
	check_streq(v, "1\n");
	/* a scalar where the schema promised an object: printed as it is, not dropped */
	_cleanup_free_ char *x = print("\"text\"", "{\"type\": \"object\"}", &f, NULL, 0, NULL);
	check_streq(x, "text\n");
	/* nothing for a null result */
	_cleanup_free_ char *w = print("null", "{\"type\": \"null\"}", &f, NULL, 0, NULL);
	check_streq(w, "");
}

/* pvesh ls: two columns, sorted by name, no border or header. */
static void ls_form(void)
{
	static const char *const cols[] = { "capabilities", "name" };
	pvectl_format f = fmt(true);
	f.noborder = f.noheader = true;
	_cleanup_free_ char *s = print("[{\"name\": \"version\", \"capabilities\": \"-r---\"},"
				       " {\"name\": \"access\", \"capabilities\": \"Dr---\"}]",
				       NULL, &f, cols, 2, "name");
	check_streq(s, "Dr---        access\n"
		       "-r---        version\n");
}

static void json_forms(void)
{
	static const char data[] = "{\"b\": [1, 2.5, \"x\"], \"a\": {}, \"c\": true}";
	pvectl_format f = fmt(true);
	f.output = PVECTL_OUT_JSON;
	_cleanup_free_ char *s = print(data, NULL, &f, NULL, 0, NULL);
	check_streq(s, "{\"a\":{},\"b\":[1,2.5,\"x\"],\"c\":true}\n");
	f.output = PVECTL_OUT_JSON_PRETTY;
	_cleanup_free_ char *t = print(data, NULL, &f, NULL, 0, NULL);
	check_streq(t, "{\n"
		       "   \"a\" : {},\n"
		       "   \"b\" : [\n"
		       "      1,\n"
		       "      2.5,\n"
		       "      \"x\"\n"
		       "   ],\n"
		       "   \"c\" : true\n"
		       "}\n");
	/* quiet: nothing at all */
	f.quiet = true;
	_cleanup_free_ char *u = print(data, NULL, &f, NULL, 0, NULL);
	check_streq(u, "");
}

/* YAML as YAML::XS dumps it: keys sorted, strings that read as numbers or words quoted. */
static void yaml_form(void)
{
	pvectl_format f = fmt(true);
	f.output = PVECTL_OUT_YAML;
	_cleanup_free_ char *s =
		print("{\"a\": \"1\", \"b\": 1, \"c\": \"\", \"d\": true, \"e\": null,"
		      " \"f\": \"x: y\", \"g\": [1, \"2\"], \"h\": {\"k\": \"v\"},"
		      " \"i\": \"null\", \"j\": \"plain text\"}",
		      NULL, &f, NULL, 0, NULL);
	check_streq(s, "---\n"
		       "a: '1'\n"
		       "b: 1\n"
		       "c: ''\n"
		       "d: true\n"
		       "e: ~\n"
		       "f: 'x: y'\n"
		       "g:\n"
		       "- 1\n"
		       "- '2'\n"
		       "h:\n"
		       "  k: v\n"
		       "i: 'null'\n"
		       "j: plain text\n");
	_cleanup_free_ char *t = print("\"UPID:n:1\"", NULL, &f, NULL, 0, NULL);
	check_streq(t, "--- UPID:n:1\n");
	_cleanup_free_ char *u = print("[]", NULL, &f, NULL, 0, NULL);
	check_streq(u, "--- []\n");
}

static void renderers(void)
{
	static const struct {
		double v;
		const char *bytes;
	} b[] = { { 0, "0.00 B" },
		  { 1023, "1023.00 B" },
		  { 1024, "1.00 KiB" },
		  { 536870912, "512.00 MiB" },
		  { 25275838464.0, "23.54 GiB" } };
	for (size_t i = 0; i < ELEMENTSOF(b); i++) {
		_cleanup_free_ char *s = pvectl_render_bytes(b[i].v);
		check_streq(s, b[i].bytes);
	}
	static const struct {
		double v;
		const char *text;
	} d[] = { { 0, "0s" },
		  { 0.4, "0s" },
		  { 59, "59s" },
		  { 3600, "1h" },
		  { 3725, "1h 2m 5s" },
		  { 90061, "1d 1h 1m" },
		  { 694861, "1w 1d 1h" },
		  { 604800, "1w" },
		  { 86400 + 5, "1d" } };
	for (size_t i = 0; i < ELEMENTSOF(d); i++) {
		_cleanup_free_ char *s = pvectl_render_duration(d[i].v);
		check_streq(s, d[i].text);
	}
}

TEST_MAIN(TEST(object_utf8), TEST(object_ascii), TEST(object_noborder_noheader),
	  TEST(object_schema_renderers), TEST(list_bordered), TEST(list_noborder_sorted_numeric),
	  TEST(list_terminal_width), TEST(multiline_and_scalars), TEST(ls_form), TEST(json_forms),
	  TEST(yaml_form), TEST(renderers))
