/* Guest config files (`key: value` lines in `[sections]`), kept line by line so that printing an
 * unchanged file gives back its bytes and a change touches only its own line. */
#include <ctype.h>

#include "common/common.h"
#include "common/schema-internal.h"

enum line_kind { LINE_KV, LINE_COMMENT, LINE_BLANK };

struct cfg_line {
	enum line_kind kind;
	char *key; /* LINE_KV */
	char *value; /* LINE_KV: the value; LINE_COMMENT: the text after '#' */
};

struct cfg_section {
	char *name; /* NULL for the main section */
	struct cfg_line *lines;
	size_t n, cap;
};

struct pve_config {
	struct cfg_section *sections; /* [0] is the main section */
	size_t n, cap;
};

static bool is_lxc_key(const char *key)
{
	return startswith(key, "lxc.");
}

static bool key_valid(const char *key, size_t len)
{
	if (len == 0 || len > 256)
		return false;
	if (len > 4 && strncmp(key, "lxc.", 4) == 0) {
		for (size_t i = 4; i < len; i++)
			if (!(islower((unsigned char)key[i]) || isdigit((unsigned char)key[i]) ||
			      (key[i] && strchr("_-.", key[i]))))
				return false;
		return true;
	}
	if (!islower((unsigned char)key[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(islower((unsigned char)key[i]) || isdigit((unsigned char)key[i]) ||
		      key[i] == '_' || key[i] == '-'))
			return false;
	return true;
}

/* Snapshot names, PENDING, special:cloudinit, pve:pending. */
static bool section_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > 128 || !isalpha((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)name[i]) || (name[i] && strchr("_-.:", name[i]))))
			return false;
	return true;
}

static bool value_valid(const char *value)
{
	return !strpbrk(value, "\n\r");
}

/* A short printable rendering of untrusted text for error messages. */
static char *quote(const char *s, size_t len)
{
	if (len > 64)
		len = 64;
	char *q = xstrndup(s, len);
	for (char *p = q; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return q;
}

static void line_clear(struct cfg_line *l)
{
	free(l->key);
	free(l->value);
}

static void section_clear(struct cfg_section *s)
{
	for (size_t i = 0; i < s->n; i++)
		line_clear(&s->lines[i]);
	free(s->lines);
	free(s->name);
}

void pve_config_free(pve_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		section_clear(&c->sections[i]);
	free(c->sections);
	free(c);
}

static struct cfg_section *section_append(pve_config *c, const char *name, size_t len)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4;
		c->sections = xrealloc(c->sections, c->cap * sizeof(*c->sections));
	}
	struct cfg_section *s = &c->sections[c->n++];
	*s = (struct cfg_section){ .name = name ? xstrndup(name, len) : NULL };
	return s;
}

pve_config *pve_config_new(void)
{
	pve_config *c = xcalloc(1, sizeof(*c));
	section_append(c, NULL, 0);
	return c;
}

static struct cfg_line *line_insert(struct cfg_section *s, size_t at)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->lines = xrealloc(s->lines, s->cap * sizeof(*s->lines));
	}
	memmove(&s->lines[at + 1], &s->lines[at], (s->n - at) * sizeof(*s->lines));
	s->n++;
	s->lines[at] = (struct cfg_line){ 0 };
	return &s->lines[at];
}

static void line_remove(struct cfg_section *s, size_t at)
{
	line_clear(&s->lines[at]);
	memmove(&s->lines[at], &s->lines[at + 1], (s->n - at - 1) * sizeof(*s->lines));
	s->n--;
}

struct key_ref {
	const char *key;
	unsigned lineno;
};

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int r = strcmp(x->key, y->key);
	if (r)
		return r;
	return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

/* Sorting finds duplicates in n log n: a file of 4096-key sections stays cheap to parse. */
static int check_duplicates(struct key_ref *refs, size_t n, pve_error **err)
{
	if (n < 2)
		return 0;
	qsort(refs, n, sizeof(*refs), key_ref_cmp);
	unsigned worst = 0;
	const char *key = NULL;
	for (size_t i = 1; i < n; i++)
		if (strcmp(refs[i].key, refs[i - 1].key) == 0 &&
		    (!worst || refs[i].lineno < worst)) {
			worst = refs[i].lineno;
			key = refs[i].key;
		}
	if (worst)
		return pve_error_set(err, EINVAL, "line %u: duplicate key '%s'", worst, key);
	return 0;
}

int pve_config_parse(const char *text, size_t len, pve_config **ret, pve_error **err)
{
	if (len > PVE_CONFIG_MAX_TEXT)
		return pve_error_set(err, E2BIG, "config too large (%zu bytes, at most %d)", len,
				     PVE_CONFIG_MAX_TEXT);
	_cleanup_(pve_config_freep) pve_config *c = pve_config_new();
	struct cfg_section *cur = &c->sections[0];
	_cleanup_free_ struct key_ref *refs = xmalloc(sizeof(*refs) * (PVE_CONFIG_MAX_KEYS + 1));
	size_t nrefs = 0, nkeys = 0;
	unsigned lineno = 0;
	size_t pos = 0;
	int r;

	for (;;) {
		const char *line;
		size_t ll;
		r = config_next_line(text, len, &pos, &lineno, &line, &ll, err);
		if (r < 0)
			return r;
		if (r == 0)
			break;

		if (ll > 0 && line[0] == '#') {
			struct cfg_line *l = line_insert(cur, cur->n);
			l->kind = LINE_COMMENT;
			l->value = xstrndup(line + 1, ll - 1);
			continue;
		}
		size_t end = ll;
		while (end > 0 && isspace((unsigned char)line[end - 1]))
			end--;
		if (end == 0) {
			line_insert(cur, cur->n)->kind = LINE_BLANK;
			continue;
		}
		if (line[0] == '[') {
			if (line[end - 1] != ']' || !section_name_valid(line + 1, end - 2)) {
				_cleanup_free_ char *q = quote(line, end);
				return pve_error_set(err, EINVAL,
						     "line %u: invalid section header '%s'", lineno,
						     q);
			}
			for (size_t i = 1; i < c->n; i++)
				if (strlen(c->sections[i].name) == end - 2 &&
				    memcmp(c->sections[i].name, line + 1, end - 2) == 0) {
					_cleanup_free_ char *q = quote(line + 1, end - 2);
					return pve_error_set(err, EINVAL,
							     "line %u: duplicate section '%s'",
							     lineno, q);
				}
			if (c->n > PVE_CONFIG_MAX_SECTIONS)
				return pve_error_set(err, E2BIG, "line %u: more than %d sections",
						     lineno, PVE_CONFIG_MAX_SECTIONS);
			r = check_duplicates(refs, nrefs, err);
			if (r < 0)
				return r;
			nrefs = nkeys = 0;
			cur = section_append(c, line + 1, end - 2);
			continue;
		}
		const char *colon = memchr(line, ':', end);
		if (!colon) {
			_cleanup_free_ char *q = quote(line, end);
			return pve_error_set(err, EINVAL,
					     "line %u: expected 'key: value', got '%s'", lineno, q);
		}
		size_t kl = (size_t)(colon - line);
		if (!key_valid(line, kl)) {
			_cleanup_free_ char *q = quote(line, kl);
			return pve_error_set(err, EINVAL, "line %u: invalid key '%s'", lineno, q);
		}
		if (++nkeys > PVE_CONFIG_MAX_KEYS)
			return pve_error_set(err, E2BIG, "line %u: more than %d keys in a section",
					     lineno, PVE_CONFIG_MAX_KEYS);
		const char *v = colon + 1;
		while (v < line + end && (*v == ' ' || *v == '\t'))
			v++;
		struct cfg_line *l = line_insert(cur, cur->n);
		l->kind = LINE_KV;
		l->key = xstrndup(line, kl);
		l->value = xstrndup(v, (size_t)(line + end - v));
		if (!is_lxc_key(l->key))
			refs[nrefs++] = (struct key_ref){ l->key, lineno };
	}
	r = check_duplicates(refs, nrefs, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

char *pve_config_print(const pve_config *c)
{
	pve_buf b = { 0 };
	for (size_t i = 0; i < c->n; i++) {
		const struct cfg_section *s = &c->sections[i];
		if (s->name)
			pve_buf_printf(&b, "[%s]\n", s->name);
		for (size_t j = 0; j < s->n; j++) {
			const struct cfg_line *l = &s->lines[j];
			switch (l->kind) {
			case LINE_KV:
				pve_buf_printf(&b, "%s: %s\n", l->key, l->value);
				break;
			case LINE_COMMENT:
				pve_buf_printf(&b, "#%s\n", l->value);
				break;
			case LINE_BLANK:
				pve_buf_puts(&b, "\n");
				break;
			}
		}
	}
	return pve_buf_steal(&b);
}

static struct cfg_section *find_section(const pve_config *c, const char *name)
{
	if (!name || !*name)
		return &c->sections[0];
	for (size_t i = 1; i < c->n; i++)
		if (streq(c->sections[i].name, name))
			return &c->sections[i];
	return NULL;
}

static struct cfg_section *get_or_create_section(pve_config *c, const char *name)
{
	struct cfg_section *s = find_section(c, name);
	if (s)
		return s;
	/* Proxmox writes a blank line before each section header. */
	struct cfg_section *last = &c->sections[c->n - 1];
	bool empty = c->n == 1 && last->n == 0;
	if (!empty && (last->n == 0 || last->lines[last->n - 1].kind != LINE_BLANK))
		line_insert(last, last->n)->kind = LINE_BLANK;
	return section_append(c, name, strlen(name));
}

static ssize_t find_key(const struct cfg_section *s, const char *key, size_t from)
{
	for (size_t i = from; i < s->n; i++)
		if (s->lines[i].kind == LINE_KV && streq(s->lines[i].key, key))
			return (ssize_t)i;
	return -1;
}

const char *pve_config_get(const pve_config *c, const char *section, const char *key)
{
	const struct cfg_section *s = find_section(c, section);
	if (!s)
		return NULL;
	ssize_t i = find_key(s, key, 0);
	return i < 0 ? NULL : s->lines[i].value;
}

char **pve_config_get_all(const pve_config *c, const char *section, const char *key)
{
	const struct cfg_section *s = find_section(c, section);
	size_t n = 0;
	char **v = xcalloc((s ? s->n : 0) + 1, sizeof(char *));
	for (ssize_t i = s ? find_key(s, key, 0) : -1; i >= 0; i = find_key(s, key, (size_t)i + 1))
		v[n++] = xstrdup(s->lines[i].value);
	return v;
}

/* Where a new key goes: after the last non-blank line, so the blank line before the next section stays
 * last. */
static size_t append_pos(const struct cfg_section *s)
{
	size_t at = s->n;
	while (at > 0 && s->lines[at - 1].kind == LINE_BLANK)
		at--;
	return at;
}

static int check_set_args(const char *section, const char *key, const char *value)
{
	if (section && *section && !section_name_valid(section, strlen(section)))
		return -EINVAL;
	if (!key_valid(key, strlen(key)) || !value_valid(value))
		return -EINVAL;
	return 0;
}

int pve_config_set(pve_config *c, const char *section, const char *key, const char *value)
{
	int r = check_set_args(section, key, value);
	if (r < 0)
		return r;
	struct cfg_section *s = get_or_create_section(c, section);
	ssize_t i = find_key(s, key, 0);
	if (i >= 0) {
		free(s->lines[i].value);
		s->lines[i].value = xstrdup(value);
		for (ssize_t j = find_key(s, key, (size_t)i + 1); j >= 0;
		     j = find_key(s, key, (size_t)j))
			line_remove(s, (size_t)j);
		return 0;
	}
	struct cfg_line *l = line_insert(s, append_pos(s));
	l->kind = LINE_KV;
	l->key = xstrdup(key);
	l->value = xstrdup(value);
	return 0;
}

int pve_config_add(pve_config *c, const char *section, const char *key, const char *value)
{
	int r = check_set_args(section, key, value);
	if (r < 0)
		return r;
	if (!is_lxc_key(key) && pve_config_get(c, section, key))
		return -EEXIST;
	struct cfg_section *s = get_or_create_section(c, section);
	struct cfg_line *l = line_insert(s, append_pos(s));
	l->kind = LINE_KV;
	l->key = xstrdup(key);
	l->value = xstrdup(value);
	return 0;
}

bool pve_config_delete(pve_config *c, const char *section, const char *key)
{
	struct cfg_section *s = find_section(c, section);
	if (!s)
		return false;
	bool found = false;
	for (ssize_t i = find_key(s, key, 0); i >= 0; i = find_key(s, key, (size_t)i)) {
		line_remove(s, (size_t)i);
		found = true;
	}
	return found;
}

char **pve_config_keys(const pve_config *c, const char *section)
{
	const struct cfg_section *s = find_section(c, section);
	size_t n = 0;
	char **v = xcalloc((s ? s->n : 0) + 1, sizeof(char *));
	for (size_t i = 0; s && i < s->n; i++) {
		if (s->lines[i].kind != LINE_KV)
			continue;
		/* Only lxc.* keys repeat, and rarely: a linear look-back is enough. */
		bool seen = false;
		if (is_lxc_key(s->lines[i].key))
			for (size_t j = 0; j < n && !seen; j++)
				seen = streq(v[j], s->lines[i].key);
		if (!seen)
			v[n++] = xstrdup(s->lines[i].key);
	}
	return v;
}

char **pve_config_sections(const pve_config *c)
{
	char **v = xcalloc(c->n, sizeof(char *));
	for (size_t i = 1; i < c->n; i++)
		v[i - 1] = xstrdup(c->sections[i].name);
	return v;
}

bool pve_config_has_section(const pve_config *c, const char *section)
{
	return find_section(c, section) != NULL;
}

bool pve_config_delete_section(pve_config *c, const char *section)
{
	if (!section || !*section)
		return false;
	struct cfg_section *s = find_section(c, section);
	if (!s)
		return false;
	size_t k = (size_t)(s - c->sections);
	section_clear(s);
	memmove(&c->sections[k], &c->sections[k + 1], (c->n - k - 1) * sizeof(*c->sections));
	c->n--;
	/* The blank line that separated the removed last section goes with it. */
	if (k == c->n) {
		struct cfg_section *prev = &c->sections[k - 1];
		if (prev->n > 0 && prev->lines[prev->n - 1].kind == LINE_BLANK)
			line_remove(prev, prev->n - 1);
	}
	return true;
}

static int unhex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

char *pve_config_get_description(const pve_config *c, const char *section)
{
	const struct cfg_section *s = find_section(c, section);
	if (!s)
		return NULL;
	pve_buf b = { 0 };
	bool any = false;
	for (size_t i = 0; i < s->n; i++) {
		const struct cfg_line *l = &s->lines[i];
		if (l->kind != LINE_COMMENT)
			continue;
		if (any)
			pve_buf_puts(&b, "\n");
		any = true;
		/* Proxmox's decode_text: %XX becomes the byte, anything else stays. */
		for (const char *p = l->value; *p; p++) {
			int hi, lo;
			if (p[0] == '%' && (hi = unhex(p[1])) >= 0 && (lo = unhex(p[2])) >= 0 &&
			    (hi || lo)) {
				char ch = (char)(hi << 4 | lo);
				pve_buf_append(&b, &ch, 1);
				p += 2;
			} else {
				pve_buf_append(&b, p, 1);
			}
		}
	}
	if (!any)
		return NULL;
	return pve_buf_steal(&b);
}

void pve_config_set_description(pve_config *c, const char *section, const char *text)
{
	if (section && *section && !section_name_valid(section, strlen(section)))
		return;
	struct cfg_section *s = get_or_create_section(c, section);
	for (size_t i = s->n; i > 0; i--)
		if (s->lines[i - 1].kind == LINE_COMMENT)
			line_remove(s, i - 1);
	if (!text || !*text)
		return;
	size_t at = 0;
	const char *p = text;
	for (;;) {
		size_t n = strcspn(p, "\n");
		pve_buf b = { 0 };
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)p[i];
			if (ch == '%' || ch < 0x20 || ch == 0x7f)
				pve_buf_printf(&b, "%%%02X", ch);
			else
				pve_buf_append(&b, &p[i], 1);
		}
		struct cfg_line *l = line_insert(s, at++);
		l->kind = LINE_COMMENT;
		l->value = pve_buf_steal(&b);
		if (!p[n])
			break;
		p += n + 1;
		if (!*p)
			break;
	}
}

int config_next_line(const char *text, size_t len, size_t *pos, unsigned *lineno,
		     const char **ret_line, size_t *ret_len, pve_error **err)
{
	if (*pos >= len)
		return 0;
	(*lineno)++;
	const char *line = text + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	size_t ll = nl ? (size_t)(nl - line) : len - *pos;
	*pos += ll + (nl ? 1 : 0);
	if (ll > PVE_CONFIG_MAX_LINE)
		return pve_error_set(err, E2BIG, "line %u: longer than %d bytes", *lineno,
				     PVE_CONFIG_MAX_LINE);
	if (memchr(line, '\0', ll))
		return pve_error_set(err, EINVAL, "line %u: contains a NUL byte", *lineno);
	*ret_line = line;
	*ret_len = ll;
	return 1;
}
