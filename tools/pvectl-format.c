/* pvectl's output: API data as JSON, or as text the way pvesh prints it (scalars as they are,
 * objects and lists of objects as bordered tables). */
#include <langinfo.h>
#include <locale.h>
#include <math.h>

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

/* Columns on a terminal: UTF-8 code points, which is right for what the API returns. */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static bool locale_is_utf8(void)
{
	/* Only LC_CTYPE: LC_NUMERIC would change how cJSON reads and prints numbers. */
	setlocale(LC_CTYPE, "");
	const char *cs = nl_langinfo(CODESET);
	return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

struct border {
	const char *h, *v; /* horizontal and vertical line */
	const char *tl, *tm, *tr; /* top */
	const char *hh, *hl, *hm, *hr; /* below the header */
	const char *ml, *mm, *mr; /* between rows */
	const char *bl, *bm, *br; /* bottom */
};

static const struct border border_utf8 = {
	"─", "│", "┌", "┬", "┐", "═", "╞", "╪", "╡", "├", "┼", "┤", "└", "┴", "┘",
};
static const struct border border_ascii = {
	"-", "|", "+", "+", "+", "=", "+", "+", "+", "+", "+", "+", "+", "+", "+",
};

static void rule(FILE *f, const size_t *w, size_t n_cols, const char *l, const char *line,
		 const char *m, const char *r)
{
	fputs(l, f);
	for (size_t c = 0; c < n_cols; c++) {
		for (size_t i = 0; i < w[c] + 2; i++)
			fputs(line, f);
		fputs(c + 1 < n_cols ? m : r, f);
	}
	fputc('\n', f);
}

void pvectl_print_table(FILE *f, char ***rows, size_t n_rows, size_t n_cols)
{
	if (n_rows == 0 || n_cols == 0)
		return;
	const struct border *b = locale_is_utf8() ? &border_utf8 : &border_ascii;
	_cleanup_free_ size_t *w = xcalloc(n_cols, sizeof(size_t));
	for (size_t r = 0; r < n_rows; r++)
		for (size_t c = 0; c < n_cols; c++) {
			size_t tw = text_width(rows[r][c]);
			if (tw > w[c])
				w[c] = tw;
		}
	rule(f, w, n_cols, b->tl, b->h, b->tm, b->tr);
	for (size_t r = 0; r < n_rows; r++) {
		if (r == 1)
			rule(f, w, n_cols, b->hl, b->hh, b->hm, b->hr);
		else if (r > 1)
			rule(f, w, n_cols, b->ml, b->h, b->mm, b->mr);
		fputs(b->v, f);
		for (size_t c = 0; c < n_cols; c++)
			fprintf(f, " %s%*s %s", rows[r][c], (int)(w[c] - text_width(rows[r][c])),
				"", b->v);
		fputc('\n', f);
	}
	rule(f, w, n_cols, b->bl, b->h, b->bm, b->br);
}

static void free_rows(char ***rows, size_t n_rows, size_t n_cols)
{
	for (size_t r = 0; r < n_rows; r++) {
		for (size_t c = 0; c < n_cols; c++)
			free(rows[r][c]);
		free(rows[r]);
	}
	free(rows);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_item_key(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* Columns as pvesh orders them: the properties always there first, then the optional ones. */
static int cmp_column(const void *a, const void *b, void *props)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	const cJSON *ox = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(props, x), "optional");
	const cJSON *oy = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(props, y), "optional");
	int optx = cJSON_IsTrue(ox) || (cJSON_IsNumber(ox) && ox->valuedouble != 0);
	int opty = cJSON_IsTrue(oy) || (cJSON_IsNumber(oy) && oy->valuedouble != 0);
	if (optx != opty)
		return optx - opty;
	return strcmp(x, y);
}

static int cmp_row(const void *a, const void *b)
{
	const char *x = (*(char **const *)a)[0], *y = (*(char **const *)b)[0];
	char *ex, *ey;
	double dx = strtod(x, &ex), dy = strtod(y, &ey);
	if (*x && *y && !*ex && !*ey)
		return dx < dy ? -1 : dx > dy;
	return strcmp(x, y);
}

static void print_object(FILE *f, const cJSON *o)
{
	size_t n = (size_t)cJSON_GetArraySize(o);
	if (n == 0)
		return;
	_cleanup_free_ char **keys = xcalloc(n, sizeof(char *));
	size_t k = 0;
	const cJSON *it;
	cJSON_ArrayForEach (it, o)
		keys[k++] = it->string;
	qsort(keys, k, sizeof(char *), cmp_str);
	char ***rows = xcalloc(k + 1, sizeof(char **));
	rows[0] = xcalloc(2, sizeof(char *));
	rows[0][0] = xstrdup("key");
	rows[0][1] = xstrdup("value");
	for (size_t i = 0; i < k; i++) {
		rows[i + 1] = xcalloc(2, sizeof(char *));
		rows[i + 1][0] = xstrdup(keys[i]);
		rows[i + 1][1] = pvectl_value_text(cJSON_GetObjectItemCaseSensitive(o, keys[i]));
	}
	pvectl_print_table(f, rows, k + 1, 2);
	free_rows(rows, k + 1, 2);
}

static void print_list(FILE *f, const cJSON *a, const cJSON *returns)
{
	size_t n_items = (size_t)cJSON_GetArraySize(a);
	if (n_items == 0)
		return;
	const cJSON *it;
	bool all_objects = true;
	cJSON_ArrayForEach (it, a)
		all_objects &= cJSON_IsObject(it);
	if (!all_objects) {
		cJSON_ArrayForEach (it, a) {
			_cleanup_free_ char *s = pvectl_value_text(it);
			fprintf(f, "%s\n", s);
		}
		return;
	}

	/* Columns: the schema's item properties when it has them, else every key seen. */
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(returns, "items"), "properties");
	char **cols = NULL;
	size_t n_cols = 0;
	const cJSON *p;
	if (cJSON_IsObject(props) && cJSON_GetArraySize(props) > 0) {
		cols = xcalloc((size_t)cJSON_GetArraySize(props), sizeof(char *));
		cJSON_ArrayForEach (p, props)
			cols[n_cols++] = p->string;
	} else {
		cJSON_ArrayForEach (it, a)
			n_cols += (size_t)cJSON_GetArraySize(it);
		cols = xcalloc(n_cols + 1, sizeof(char *));
		n_cols = 0;
		cJSON_ArrayForEach (it, a)
			cJSON_ArrayForEach (p, it)
				if (!strv_contains(cols, p->string)) /* cols is NULL-terminated */
					cols[n_cols++] = p->string;
	}
	qsort_r(cols, n_cols, sizeof(char *), cmp_column, (void *)props);
	if (n_cols == 0) {
		free(cols);
		return;
	}

	char ***rows = xcalloc(n_items + 1, sizeof(char **));
	rows[0] = xcalloc(n_cols, sizeof(char *));
	for (size_t c = 0; c < n_cols; c++)
		rows[0][c] = xstrdup(cols[c]);
	size_t r = 1;
	cJSON_ArrayForEach (it, a) {
		rows[r] = xcalloc(n_cols, sizeof(char *));
		for (size_t c = 0; c < n_cols; c++)
			rows[r][c] =
				pvectl_value_text(cJSON_GetObjectItemCaseSensitive(it, cols[c]));
		r++;
	}
	/* rows by the first column, as pvesh sorts them */
	qsort(rows + 1, r - 1, sizeof(*rows), cmp_row);
	pvectl_print_table(f, rows, r, n_cols);
	free_rows(rows, r, n_cols);
	free(cols);
}

/* JSON as Proxmox's CLI prints it: keys sorted (canonical); pretty: three-space indents, " : ". */
static void print_json(pve_buf *b, const cJSON *v, bool pretty, int depth)
{
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

void pvectl_print_data(FILE *f, const cJSON *data, const cJSON *returns, enum pvectl_output out)
{
	if (out != PVECTL_OUT_TEXT) {
		/* JSON always prints something, "null" too, so a script can parse every answer */
		cJSON *null = data ? NULL : cJSON_CreateNull();
		pve_buf b = { 0 };
		print_json(&b, data ? data : null, out == PVECTL_OUT_JSON_PRETTY, 0);
		cJSON_Delete(null);
		fprintf(f, "%s\n", b.data);
		pve_buf_free(&b);
		return;
	}
	if (!data || cJSON_IsNull(data))
		return;
	if (cJSON_IsObject(data))
		print_object(f, data);
	else if (cJSON_IsArray(data))
		print_list(f, data, returns);
	else {
		_cleanup_free_ char *s = pvectl_value_text(data);
		fprintf(f, "%s\n", s);
	}
}
