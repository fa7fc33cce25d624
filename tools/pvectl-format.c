/* pvectl's output: API data as pvesh prints it (Proxmox's CLIFormatter): text tables with or without
 * borders and header, the returns schema's renderers (bytes, durations, percentages, timestamps),
 * canonical JSON, and YAML as YAML::XS dumps it (through the same libyaml emitter). */
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <sys/ioctl.h>
#include <time.h>
#include <yaml.h>

#include "tools/pvectl-internal.h"

char *pvectl_value_text(const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return xstrdup("");
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "1" : "0");
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (isfinite(d) && d == trunc(d) && fabs(d) < 1e17)
			return xasprintf("%.0f", d);
		return xasprintf("%.15g", d);
	}
	char *s = cJSON_PrintUnformatted(v);
	if (!s)
		abort();
	return s;
}

/* Columns on a terminal: UTF-8 code points, which is what Perl's length() counts on decoded text. */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* The first max code points of s (a copy). */
static char *text_cut(const char *s, size_t max)
{
	const char *p = s;
	size_t n = 0;
	for (; *p; p++)
		if (((unsigned char)*p & 0xc0) != 0x80 && n++ == max)
			break;
	return xstrndup(s, (size_t)(p - s));
}

static bool locale_is_utf8(void)
{
	/* Only LC_CTYPE: LC_NUMERIC would change how cJSON reads and prints numbers. */
	setlocale(LC_CTYPE, "");
	const char *cs = nl_langinfo(CODESET);
	return cs && strcmp(cs, "UTF-8") == 0;
}

void pvectl_format_init(pvectl_format *f)
{
	*f = (pvectl_format){ .output = PVECTL_OUT_TEXT, .human = true };
	f->utf8 = locale_is_utf8();
	/* as pvesh: lines are cut to the terminal's width only when the output is a terminal; COLUMNS,
	 * when set, says the width there (as for ls) */
	if (!isatty(STDOUT_FILENO))
		return;
	const char *env = getenv("COLUMNS");
	long long v;
	if (env && pve_parse_int(env, 1, 100000, &v) == 0) {
		f->columns = (size_t)v;
		return;
	}
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		f->columns = ws.ws_col;
}

static const char *schema_type(const cJSON *schema)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(schema, "type");
	return cJSON_IsString(t) ? t->valuestring : NULL;
}

static bool schema_flag(const cJSON *schema, const char *name)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(schema, name);
	return cJSON_IsTrue(o) || (cJSON_IsNumber(o) && o->valuedouble != 0);
}

static bool is_numeric_type(const cJSON *schema)
{
	const char *t = schema_type(schema);
	return t && (streq(t, "integer") || streq(t, "number"));
}

/* A value as Perl turns it into a number (0 when it is none). */
static double num_value(const cJSON *v)
{
	if (cJSON_IsNumber(v))
		return v->valuedouble;
	if (cJSON_IsTrue(v))
		return 1;
	if (cJSON_IsString(v))
		return strtod(v->valuestring, NULL);
	return 0;
}

/* Perl's "$x" of a number: integers whole, others with 15 significant digits. */
static char *num_text(double d)
{
	if (isfinite(d) && d == trunc(d) && fabs(d) < 1e17)
		return xasprintf("%.0f", d);
	if (isinf(d))
		return xstrdup(d < 0 ? "-Inf" : "Inf");
	if (isnan(d))
		return xstrdup("NaN");
	return xasprintf("%.15g", d);
}

/* Perl's truth of a value. */
static bool truthy(const cJSON *v)
{
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0;
	if (cJSON_IsString(v))
		return v->valuestring[0] && !streq(v->valuestring, "0");
	return v && !cJSON_IsNull(v);
}

/* ---- PVE::Format's renderers ---- */

char *pvectl_render_bytes(double value)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int unit = 0;
	if (value > 1023) {
		unit = (int)(log(value) / log(1024));
		if (unit > 5)
			unit = 5;
		value /= pow(1024, unit);
	}
	return xasprintf("%.2f %s", value, units[unit]);
}

/* Always with render_duration's "auto limit accuracy": pvesh passes its options there, a true value. */
char *pvectl_render_duration(double seconds)
{
	double r = round(seconds);
	if (!isfinite(r) || r == 0)
		return xstrdup("0s");
	long long rest = (long long)r;
	pve_buf b = { 0 };
	static const struct {
		const char *unit;
		long long len;
	} steps[] = {
		{ "w", 7 * 24 * 3600 }, { "d", 24 * 3600 }, { "h", 3600 }, { "m", 60 }, { "s", 1 }
	};
	bool weeks = false, days = false;
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		if ((streq(steps[i].unit, "m") && weeks) || (streq(steps[i].unit, "s") && days))
			continue;
		long long v = rest / steps[i].len;
		if (v > 0) {
			pve_buf_printf(&b, "%s%lld%s", b.len ? " " : "", v, steps[i].unit);
			rest -= v * steps[i].len;
		}
		if (i == 0)
			weeks = v > 0;
		if (i == 1)
			days = v > 0 || weeks;
	}
	if (!b.len)
		pve_buf_puts(&b, "");
	return pve_buf_steal(&b);
}

static char *render_timestamp(double epoch, bool gmt)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	char out[64];
	if (!(gmt ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) ||
	    !strftime(out, sizeof(out), "%F %H:%M:%S", &tm))
		return xstrdup("");
	return xstrdup(out);
}

static char *yaml_text(const cJSON *v, bool marker);

/* CLIFormatter's data_to_text: one value of a table, rendered as its schema says. */
static char *data_to_text(const cJSON *v, const cJSON *propdef, const pvectl_format *f)
{
	if (!v || cJSON_IsNull(v))
		return xstrdup("");
	if (f->human && propdef) {
		const char *type = schema_type(propdef);
		if (type && streq(type, "boolean"))
			return xstrdup(truthy(v) ? "1" : "0");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(propdef, "renderer");
		const char *rn = cJSON_IsString(r) ? r->valuestring : "";
		if (streq(rn, "bytes"))
			return pvectl_render_bytes(num_value(v));
		if (streq(rn, "duration"))
			return pvectl_render_duration(num_value(v));
		if (streq(rn, "fraction_as_percentage"))
			return xasprintf("%.2f%%", num_value(v) * 100);
		if (streq(rn, "timestamp") || streq(rn, "timestamp_gmt"))
			return render_timestamp(num_value(v), streq(rn, "timestamp_gmt"));
		if (streq(rn, "yaml"))
			return yaml_text(v, false);
	}
	if (cJSON_IsObject(v) || cJSON_IsArray(v) || cJSON_IsBool(v)) {
		/* a reference in Perl (JSON's booleans too): canonical JSON */
		pve_buf b = { 0 };
		pvectl_json(&b, v, false);
		return pve_buf_steal(&b);
	}
	if (cJSON_IsNumber(v))
		return num_text(v->valuedouble);
	return xstrdup(cJSON_IsString(v) ? v->valuestring : "");
}

/* ---- text tables: CLIFormatter's print_text_table ---- */

typedef struct cell {
	char **lines;
	size_t n_lines, width;
} cell;

typedef struct row {
	const cJSON *entry;
	size_t index; /* for a stable sort, as Perl's */
	size_t height;
	cell *cells;
} row;

typedef struct sort_ctx {
	const char *key;
	bool numeric;
} sort_ctx;

static int cmp_rows(const void *a, const void *b, void *ud)
{
	const row *x = a, *y = b;
	const sort_ctx *s = ud;
	const cJSON *vx = cJSON_GetObjectItemCaseSensitive(x->entry, s->key);
	const cJSON *vy = cJSON_GetObjectItemCaseSensitive(y->entry, s->key);
	bool nx = !vx || cJSON_IsNull(vx), ny = !vy || cJSON_IsNull(vy);
	int c = 0;
	if (nx || ny) {
		/* PVE::Tools::safe_compare: an undefined value first */
		c = nx && ny ? 0 : nx ? -1 : 1;
	} else if (s->numeric) {
		double dx = num_value(vx), dy = num_value(vy);
		c = dx < dy ? -1 : dx > dy;
	} else {
		pvectl_format plain = { .human = false };
		_cleanup_free_ char *tx = data_to_text(vx, NULL, &plain);
		_cleanup_free_ char *ty = data_to_text(vy, NULL, &plain);
		c = strcmp(tx, ty);
	}
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void split_lines(cell *c, const char *text)
{
	/* Perl's split(/\n/): inner empty lines stay, trailing ones go */
	c->lines = NULL;
	c->n_lines = 0;
	const char *p = text;
	size_t cap = 0;
	while (*p) {
		size_t len = strcspn(p, "\n");
		if (c->n_lines == cap) {
			cap = cap ? 2 * cap : 4;
			c->lines = xrealloc(c->lines, cap * sizeof(char *));
		}
		c->lines[c->n_lines++] = xstrndup(p, len);
		p += len;
		if (*p == '\n')
			p++;
	}
	while (c->n_lines && !c->lines[c->n_lines - 1][0])
		free(c->lines[--c->n_lines]);
	c->width = 0;
	for (size_t i = 0; i < c->n_lines; i++) {
		size_t w = text_width(c->lines[i]);
		if (w > c->width)
			c->width = w;
	}
}

typedef struct out_line {
	FILE *f;
	size_t columns;
} out_line;

static void writeln(const out_line *o, const char *text)
{
	if (o->columns) {
		_cleanup_free_ char *cut = text_cut(text, o->columns);
		fprintf(o->f, "%s\n", cut);
	} else {
		fprintf(o->f, "%s\n", text);
	}
}

static void repeat(pve_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pve_buf_puts(b, s);
}

/* One line of cells: sprintf with CLIFormatter's format string, "%-Ns" padding by code points. */
static void format_line(pve_buf *b, const pvectl_format *f, const char *const *texts,
			const size_t *cutoff, const bool *right, size_t n)
{
	const char *v = f->utf8 ? "│" : "|";
	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;
		size_t w = text_width(texts[i]);
		size_t pad = w < cutoff[i] ? cutoff[i] - w : 0;
		if (!f->noborder)
			pve_buf_printf(b, "%s ", v);
		if (!f->noborder || !last) {
			if (right[i])
				pve_buf_printf(b, "%*s%s", (int)pad, "", texts[i]);
			else
				pve_buf_printf(b, "%s%*s", texts[i], (int)pad, "");
			pve_buf_puts(b, " ");
		} else {
			pve_buf_puts(b, texts[i]);
		}
		if (!f->noborder && last)
			pve_buf_puts(b, v);
	}
}

void pvectl_print_table(FILE *fp, const cJSON *data, const cJSON *returnprops,
			const char *const *props, size_t n_props, const char *sort_key,
			const pvectl_format *f)
{
	size_t n_rows = (size_t)cJSON_GetArraySize(data);
	if (n_props == 0)
		return;
	row *rows = xcalloc(n_rows ? n_rows : 1, sizeof(row));
	size_t r = 0;
	const cJSON *entry;
	cJSON_ArrayForEach (entry, data) {
		rows[r].entry = entry;
		rows[r].index = r;
		r++;
	}
	if (!sort_key)
		sort_key = props[0];
	if (sort_key[0]) {
		sort_ctx sc = { sort_key, is_numeric_type(cJSON_GetObjectItemCaseSensitive(
						  returnprops, sort_key)) };
		qsort_r(rows, n_rows, sizeof(row), cmp_rows, &sc);
	}
	for (r = 0; r < n_rows; r++) {
		rows[r].cells = xcalloc(n_props, sizeof(cell));
		rows[r].height = 1;
		for (size_t c = 0; c < n_props; c++) {
			const cJSON *propinfo =
				cJSON_GetObjectItemCaseSensitive(returnprops, props[c]);
			static const char empty_schema[] = "{}";
			_cleanup_json_ cJSON *none = propinfo ? NULL : cJSON_Parse(empty_schema);
			_cleanup_free_ char *text = data_to_text(
				cJSON_GetObjectItemCaseSensitive(rows[r].entry, props[c]),
				propinfo ? propinfo : none, f);
			split_lines(&rows[r].cells[c], text);
			if (rows[r].cells[c].n_lines > rows[r].height)
				rows[r].height = rows[r].cells[c].n_lines;
		}
	}

	_cleanup_free_ size_t *cutoff = xcalloc(n_props, sizeof(size_t));
	_cleanup_free_ bool *right = xcalloc(n_props, sizeof(bool));
	_cleanup_free_ const char **titles = xcalloc(n_props, sizeof(char *));
	pve_buf top = { 0 }, head = { 0 }, mid = { 0 }, bottom = { 0 };
	for (size_t c = 0; c < n_props; c++) {
		const cJSON *propinfo = cJSON_GetObjectItemCaseSensitive(returnprops, props[c]);
		right[c] = is_numeric_type(propinfo);
		const cJSON *title = cJSON_GetObjectItemCaseSensitive(propinfo, "title");
		titles[c] = cJSON_IsString(title) ? title->valuestring : props[c];
		const cJSON *cut = cJSON_GetObjectItemCaseSensitive(propinfo, "print_width");
		if (!cJSON_IsNumber(cut))
			cut = cJSON_GetObjectItemCaseSensitive(propinfo, "maxLength");
		size_t longest = text_width(titles[c]);
		for (r = 0; r < n_rows; r++)
			if (rows[r].cells[c].width > longest)
				longest = rows[r].cells[c].width;
		cutoff[c] = cJSON_IsNumber(cut) && cut->valuedouble >= 0 &&
					    (size_t)cut->valuedouble < longest ?
				    (size_t)cut->valuedouble :
				    longest;
		if (f->noborder)
			continue;
		bool first = c == 0, last = c + 1 == n_props;
		size_t w = cutoff[c];
		if (f->utf8) {
			pve_buf_puts(&top, first ? "┌─" : "┬─");
			repeat(&top, "─", w);
			pve_buf_puts(&top, last ? "─┐" : "─");
			pve_buf_puts(&head, first ? "╞═" : "╪═");
			repeat(&head, "═", w);
			pve_buf_puts(&head, last ? "═╡" : "═");
			pve_buf_puts(&mid, first ? "├─" : "┼─");
			repeat(&mid, "─", w);
			pve_buf_puts(&mid, last ? "─┤" : "─");
			pve_buf_puts(&bottom, first ? "└─" : "┴─");
			repeat(&bottom, "─", w);
			pve_buf_puts(&bottom, last ? "─┘" : "─");
		} else {
			/* the ASCII header rule of a table of one column has no closing '+' in pvesh */
			pve_buf_puts(&mid, "+-");
			repeat(&mid, "-", w);
			pve_buf_puts(&mid, last ? "-+" : "-");
			pve_buf_puts(&head, "+=");
			repeat(&head, "=", w);
			pve_buf_puts(&head, last && !first ? "=+" : "=");
		}
	}
	if (!f->utf8) {
		pve_buf_puts(&top, mid.data ? mid.data : "");
		pve_buf_puts(&bottom, mid.data ? mid.data : "");
	}

	out_line o = { fp, f->columns };
	if (!f->noborder)
		writeln(&o, top.data);
	const char *sep = mid.data;
	if (!f->noheader) {
		pve_buf b = { 0 };
		format_line(&b, f, titles, cutoff, right, n_props);
		writeln(&o, b.data);
		pve_buf_free(&b);
		sep = head.data;
	}
	_cleanup_free_ const char **texts = xcalloc(n_props, sizeof(char *));
	for (r = 0; r < n_rows; r++) {
		if (!f->noborder && (r != 0 || !f->noheader)) {
			writeln(&o, sep);
			sep = mid.data;
		}
		for (size_t l = 0; l < rows[r].height; l++) {
			char **cuts = xcalloc(n_props, sizeof(char *));
			for (size_t c = 0; c < n_props; c++) {
				const cell *ce = &rows[r].cells[c];
				cuts[c] = text_cut(l < ce->n_lines ? ce->lines[l] : "", cutoff[c]);
				texts[c] = cuts[c];
			}
			pve_buf b = { 0 };
			format_line(&b, f, texts, cutoff, right, n_props);
			writeln(&o, b.data);
			pve_buf_free(&b);
			for (size_t c = 0; c < n_props; c++)
				free(cuts[c]);
			free(cuts);
		}
	}
	if (!f->noborder)
		writeln(&o, bottom.data);

	for (r = 0; r < n_rows; r++) {
		for (size_t c = 0; c < n_props; c++) {
			for (size_t l = 0; l < rows[r].cells[c].n_lines; l++)
				free(rows[r].cells[c].lines[l]);
			free(rows[r].cells[c].lines);
		}
		free(rows[r].cells);
	}
	free(rows);
	pve_buf_free(&top);
	pve_buf_free(&head);
	pve_buf_free(&mid);
	pve_buf_free(&bottom);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* extract_properties_to_print: the required properties sorted, then the optional ones sorted. */
static const char **props_to_print(const cJSON *props, size_t *ret_n)
{
	size_t n = (size_t)cJSON_GetArraySize(props);
	const char **out = xcalloc(n + 1, sizeof(char *));
	size_t k = 0;
	const cJSON *p;
	for (int pass = 0; pass < 2; pass++) {
		size_t from = k;
		cJSON_ArrayForEach (p, props)
			if (schema_flag(p, "optional") == (pass == 1))
				out[k++] = p->string;
		qsort(out + from, k - from, sizeof(char *), cmp_str);
	}
	*ret_n = k;
	return out;
}

/* print_api_list: a list of objects as a table. */
static void print_list(FILE *fp, const cJSON *data, const cJSON *schema, const char *const *props,
		       size_t n_props, const char *sort_key, const pvectl_format *f)
{
	const cJSON *returnprops = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(schema, "items"), "properties");
	_cleanup_free_ const char **own = NULL;
	if (!props) {
		own = props_to_print(returnprops, &n_props);
		if (n_props == 0) {
			/* every key any item has */
			size_t cap = 0;
			const cJSON *it, *p;
			cJSON_ArrayForEach (it, data)
				cap += (size_t)cJSON_GetArraySize(it);
			free(own);
			own = xcalloc(cap + 1, sizeof(char *));
			cJSON_ArrayForEach (it, data)
				cJSON_ArrayForEach (p, it) {
					bool have = false;
					for (size_t i = 0; i < n_props && !have; i++)
						have = streq(own[i], p->string);
					if (!have)
						own[n_props++] = p->string;
				}
			qsort(own, n_props, sizeof(char *), cmp_str);
		}
		props = own;
	}
	if (n_props == 0) {
		fprintf(stderr, "unable to detect list properties\n");
		return;
	}
	pvectl_print_table(fp, data, returnprops, props, n_props, sort_key, f);
}

/* print_api_result's text format. */
static void print_text(FILE *fp, const cJSON *data, const cJSON *schema, const pvectl_format *f)
{
	const char *type = schema_type(schema);
	/* the schema's word where the data agree with it, else the data's own type */
	const char *guess = cJSON_IsObject(data) ? "object" : cJSON_IsArray(data) ? "array" : NULL;
	bool structured = type && (streq(type, "object") || streq(type, "array"));
	bool none = !data || cJSON_IsNull(data);
	if (!type || (structured && !none && (!guess || !streq(type, guess))) ||
	    (!structured && guess))
		type = guess ? guess : "string";
	if (streq(type, "object")) {
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
		size_t n = 0;
		_cleanup_free_ const char **keys = props_to_print(props, &n);
		if (n == 0) {
			free(keys);
			keys = xcalloc((size_t)cJSON_GetArraySize(data) + 1, sizeof(char *));
			const cJSON *it;
			cJSON_ArrayForEach (it, data)
				keys[n++] = it->string;
			qsort(keys, n, sizeof(char *), cmp_str);
		}
		_cleanup_json_ cJSON *kv = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, keys[i]);
			if (!v || cJSON_IsNull(v))
				continue;
			_cleanup_free_ char *text = data_to_text(
				v, cJSON_GetObjectItemCaseSensitive(props, keys[i]), f);
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "key", keys[i]);
			cJSON_AddStringToObject(o, "value", text);
			cJSON_AddItemToArray(kv, o);
		}
		static const char *const cols[] = { "key", "value" };
		print_list(fp, kv, NULL, cols, 2, NULL, f);
		return;
	}
	if (streq(type, "array")) {
		if (cJSON_GetArraySize(data) == 0)
			return;
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
		const char *item_type = schema_type(items);
		if (!item_type)
			item_type = cJSON_IsObject(cJSON_GetArrayItem(data, 0)) ? "object" :
										  "string";
		if (streq(item_type, "object")) {
			print_list(fp, data, schema, NULL, 0, NULL, f);
			return;
		}
		/* a list of scalars: one column "value", without its header */
		_cleanup_json_ cJSON *kv = cJSON_CreateArray();
		const cJSON *it;
		cJSON_ArrayForEach (it, data) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToObject(o, "value", cJSON_Duplicate(it, true));
			cJSON_AddItemToArray(kv, o);
		}
		_cleanup_json_ cJSON *props = cJSON_CreateObject();
		cJSON_AddItemToObject(props, "value",
				      items ? cJSON_Duplicate(items, true) : cJSON_CreateObject());
		pvectl_format g = *f;
		g.noheader = true;
		static const char *const cols[] = { "value" };
		pvectl_print_table(fp, kv, props, cols, 1, NULL, &g);
		return;
	}
	/* a scalar as Perl prints "$data": JSON's true is 1, false 0, null an empty line */
	_cleanup_free_ char *s = cJSON_IsBool(data)   ? xstrdup(cJSON_IsTrue(data) ? "1" : "0") :
				 cJSON_IsNumber(data) ? num_text(data->valuedouble) :
				 cJSON_IsString(data) ? xstrdup(data->valuestring) :
							xstrdup("");
	fprintf(fp, "%s\n", s);
}

/* ---- JSON ---- */

static int cmp_item_key(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* JSON as Proxmox's CLI prints it: keys sorted (canonical); pretty: three-space indents, " : ". */
static void print_json(pve_buf *b, const cJSON *v, bool pretty, int depth)
{
	if (cJSON_IsNumber(v)) {
		_cleanup_free_ char *s = num_text(v->valuedouble);
		pve_buf_puts(b, s);
		return;
	}
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
		char *s = cJSON_PrintUnformatted(v);
		if (!s)
			abort();
		pve_buf_puts(b, s);
		free(s);
		return;
	}
	bool obj = cJSON_IsObject(v);
	size_t n = (size_t)cJSON_GetArraySize(v);
	if (n == 0) {
		pve_buf_puts(b, obj ? "{}" : "[]");
		return;
	}
	_cleanup_free_ const cJSON **items = xcalloc(n, sizeof(*items));
	size_t k = 0;
	const cJSON *it;
	cJSON_ArrayForEach (it, v)
		items[k++] = it;
	if (obj)
		qsort(items, k, sizeof(*items), cmp_item_key);
	pve_buf_puts(b, obj ? "{" : "[");
	for (size_t i = 0; i < k; i++) {
		if (i)
			pve_buf_puts(b, ",");
		if (pretty)
			pve_buf_printf(b, "\n%*s", 3 * (depth + 1), "");
		if (obj) {
			cJSON *key = cJSON_CreateString(items[i]->string);
			print_json(b, key, false, 0);
			cJSON_Delete(key);
			pve_buf_puts(b, pretty ? " : " : ":");
		}
		print_json(b, items[i], pretty, depth + 1);
	}
	if (pretty)
		pve_buf_printf(b, "\n%*s", 3 * depth, "");
	pve_buf_puts(b, obj ? "}" : "]");
}

void pvectl_json(pve_buf *b, const cJSON *v, bool pretty)
{
	print_json(b, v, pretty, 0);
}

/* ---- YAML: the events YAML::XS's Dump gives libyaml for the same data ---- */

/* Perl's looks_like_number, for strings that come from JSON. */
static bool looks_like_number(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
		s++;
	const char *p = *s == '+' || *s == '-' ? s + 1 : s;
	if (strncasecmp(p, "inf", 3) == 0 || strncasecmp(p, "nan", 3) == 0) {
		const char *q = p + 3;
		if (strncasecmp(p, "infinity", 8) == 0)
			q = p + 8;
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		return !*q;
	}
	bool digits = false;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		const char *e = p + 1;
		if (*e == '+' || *e == '-')
			e++;
		if (!(*e >= '0' && *e <= '9'))
			return false;
		while (*e >= '0' && *e <= '9')
			e++;
		p = e;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v')
		p++;
	return !*p;
}

static int yaml_out(void *ud, unsigned char *buffer, size_t size)
{
	pve_buf_append(ud, buffer, size);
	return 1;
}

static int yaml_scalar(yaml_emitter_t *e, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)YAML_STR_TAG, (yaml_char_t *)s,
					  (int)strlen(s), 1, 1, style))
		return -1;
	return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int yaml_string(yaml_emitter_t *e, const char *s)
{
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
	if (!*s || streq(s, "~") || streq(s, "true") || streq(s, "false") || streq(s, "null") ||
	    looks_like_number(s))
		style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
	else if (strchr(s, '\n'))
		style = strlen(s) > 30 ? YAML_LITERAL_SCALAR_STYLE :
					 YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return yaml_scalar(e, s, style);
}

static int yaml_node(yaml_emitter_t *e, const cJSON *v, int depth)
{
	yaml_event_t ev;
	if (depth > 64)
		return -1;
	if (cJSON_IsObject(v)) {
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -1;
		size_t n = (size_t)cJSON_GetArraySize(v), k = 0;
		_cleanup_free_ const cJSON **items = xcalloc(n + 1, sizeof(*items));
		const cJSON *it;
		cJSON_ArrayForEach (it, v)
			items[k++] = it;
		qsort(items, k, sizeof(*items), cmp_item_key);
		for (size_t i = 0; i < k; i++)
			if (yaml_string(e, items[i]->string) < 0 ||
			    yaml_node(e, items[i], depth + 1) < 0)
				return -1;
		if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev))
			return -1;
		return 0;
	}
	if (cJSON_IsArray(v)) {
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -1;
		const cJSON *it;
		cJSON_ArrayForEach (it, v)
			if (yaml_node(e, it, depth + 1) < 0)
				return -1;
		if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev))
			return -1;
		return 0;
	}
	if (cJSON_IsString(v))
		return yaml_string(e, v->valuestring);
	if (cJSON_IsNumber(v)) {
		_cleanup_free_ char *s = num_text(v->valuedouble);
		return yaml_scalar(e, s, YAML_PLAIN_SCALAR_STYLE);
	}
	if (cJSON_IsBool(v))
		return yaml_scalar(e, cJSON_IsTrue(v) ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
	return yaml_scalar(e, "~", YAML_PLAIN_SCALAR_STYLE);
}

/* YAML::XS::Dump of v; without marker, CLIFormatter's render_yaml (the "---" line taken off). */
static char *yaml_text(const cJSON *v, bool marker)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	pve_buf b = { 0 };
	if (!yaml_emitter_initialize(&e))
		abort();
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, 2);
	yaml_emitter_set_output(&e, yaml_out, &b);
	bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
		  yaml_emitter_emit(&e, &ev) &&
		  yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0) &&
		  yaml_emitter_emit(&e, &ev) && yaml_node(&e, v, 0) == 0 &&
		  yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
		  yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev);
	yaml_emitter_delete(&e);
	if (!ok) {
		pve_buf_free(&b);
		return xstrdup("");
	}
	char *s = pve_buf_steal(&b);
	if (!s)
		return xstrdup("");
	if (!marker && startswith(s, "---") && (s[3] == '\n' || s[3] == ' '))
		memmove(s, s + 4, strlen(s + 4) + 1);
	return s;
}

void pvectl_print_result(FILE *fp, const cJSON *data, const cJSON *returns,
			 const char *const *props, size_t n_props, const char *sort_key,
			 const pvectl_format *f)
{
	if (f->quiet)
		return;
	const char *type = schema_type(returns);
	if (type && streq(type, "null"))
		return;
	if (type && schema_flag(returns, "optional") && (!data || cJSON_IsNull(data)))
		return;
	_cleanup_json_ cJSON *null = data ? NULL : cJSON_CreateNull();
	if (!data)
		data = null;
	switch (f->output) {
	case PVECTL_OUT_JSON:
	case PVECTL_OUT_JSON_PRETTY: {
		pve_buf b = { 0 };
		print_json(&b, data, f->output == PVECTL_OUT_JSON_PRETTY, 0);
		fprintf(fp, "%s\n", b.data);
		pve_buf_free(&b);
		return;
	}
	case PVECTL_OUT_YAML: {
		_cleanup_free_ char *s = yaml_text(data, true);
		fputs(s, fp);
		return;
	}
	case PVECTL_OUT_TEXT:
		break;
	}
	if (props && cJSON_IsArray(data)) {
		if (cJSON_GetArraySize(data) > 0)
			print_list(fp, data, returns, props, n_props, sort_key, f);
		return;
	}
	print_text(fp, data, returns, f);
}

void pvectl_print_data(FILE *fp, const cJSON *data, const cJSON *returns, const pvectl_format *f)
{
	pvectl_print_result(fp, data, returns, NULL, 0, NULL, f);
}
