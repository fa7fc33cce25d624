/* Section config files (storage.cfg, domains.cfg, ...): `type: id` headers with indented properties,
 * kept item by item so that an unchanged file prints back to its bytes. */
#include <ctype.h>

#include "common/common.h"
#include "common/schema-internal.h"

struct sc_prop {
	char *key; /* NULL for a `#` line inside the section */
	char *value; /* the comment text after '#' for a comment */
	bool bare; /* written as a flag without value */
};

struct pve_section {
	char *type, *id;
	struct sc_prop *props;
	size_t n, cap;
	size_t ncomments;
};

enum item_kind { ITEM_SECTION, ITEM_COMMENT, ITEM_BLANK };

struct sc_item {
	enum item_kind kind;
	pve_section *section; /* ITEM_SECTION */
	char *text; /* ITEM_COMMENT: after '#' */
};

struct pve_sectioncfg {
	struct sc_item *items; /* print order */
	size_t n, cap;
	pve_section **sections; /* iteration order */
	size_t nsec, capsec;
};

static bool prop_key_valid(const char *key, size_t len)
{
	if (len == 0 || len > 128 || !isalpha((unsigned char)key[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)key[i]) || (key[i] && strchr("_-.", key[i]))))
			return false;
	return true;
}

static bool type_valid(const char *type, size_t len)
{
	if (len == 0 || len > 64 || !islower((unsigned char)type[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(islower((unsigned char)type[i]) || isdigit((unsigned char)type[i]) ||
		      (type[i] && strchr("_-", type[i]))))
			return false;
	return true;
}

/* IDs differ per file (storage IDs, realms, `vm:100`), so only what breaks the format is refused. */
static bool id_valid(const char *id, size_t len)
{
	if (len == 0 || len > 256)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)id[i] <= 0x20 || id[i] == 0x7f)
			return false;
	return true;
}

/* strspn/strcspn bounded by n: the input is not NUL-terminated. */
static size_t span(const char *s, size_t n, const char *set, bool in)
{
	size_t i = 0;
	while (i < n && (memchr(set, s[i], strlen(set)) != NULL) == in)
		i++;
	return i;
}

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

static void section_free(pve_section *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->props[i].key);
		free(s->props[i].value);
	}
	free(s->props);
	free(s->type);
	free(s->id);
	free(s);
}

void pve_sectioncfg_free(pve_sectioncfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		section_free(c->items[i].section);
		free(c->items[i].text);
	}
	free(c->items);
	free(c->sections);
	free(c);
}

pve_sectioncfg *pve_sectioncfg_new(void)
{
	return xcalloc(1, sizeof(pve_sectioncfg));
}

static struct sc_item *item_append(pve_sectioncfg *c, enum item_kind kind)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->items = xrealloc(c->items, c->cap * sizeof(*c->items));
	}
	struct sc_item *it = &c->items[c->n++];
	*it = (struct sc_item){ .kind = kind };
	return it;
}

static pve_section *section_append(pve_sectioncfg *c, const char *type, size_t tl, const char *id,
				   size_t il)
{
	pve_section *s = xcalloc(1, sizeof(*s));
	s->type = xstrndup(type, tl);
	s->id = xstrndup(id, il);
	item_append(c, ITEM_SECTION)->section = s;
	if (c->nsec == c->capsec) {
		c->capsec = c->capsec ? c->capsec * 2 : 8;
		c->sections = xrealloc(c->sections, c->capsec * sizeof(*c->sections));
	}
	c->sections[c->nsec++] = s;
	return s;
}

static struct sc_prop *prop_append(pve_section *s)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->props = xrealloc(s->props, s->cap * sizeof(*s->props));
	}
	struct sc_prop *p = &s->props[s->n++];
	*p = (struct sc_prop){ 0 };
	return p;
}

pve_section *pve_sectioncfg_find(const pve_sectioncfg *c, const char *id)
{
	for (size_t i = 0; i < c->nsec; i++)
		if (streq(c->sections[i]->id, id))
			return c->sections[i];
	return NULL;
}

static pve_section *find_id_n(const pve_sectioncfg *c, const char *id, size_t len)
{
	for (size_t i = 0; i < c->nsec; i++)
		if (strlen(c->sections[i]->id) == len && memcmp(c->sections[i]->id, id, len) == 0)
			return c->sections[i];
	return NULL;
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

/* Sorting finds duplicate properties in n log n, whatever the section size. */
static int check_duplicates(const pve_section *s, struct key_ref *refs, size_t n, pve_error **err)
{
	if (!s || n < 2)
		return 0;
	qsort(refs, n, sizeof(*refs), key_ref_cmp);
	unsigned first = 0;
	const char *key = NULL;
	for (size_t i = 1; i < n; i++)
		if (strcmp(refs[i].key, refs[i - 1].key) == 0 &&
		    (!first || refs[i].lineno < first)) {
			first = refs[i].lineno;
			key = refs[i].key;
		}
	if (first)
		return pve_error_set(err, EINVAL,
				     "line %u: duplicate property '%s' in section '%s'", first, key,
				     s->id);
	return 0;
}

int pve_sectioncfg_parse(const char *text, size_t len, pve_sectioncfg **ret, pve_error **err)
{
	if (len > PVE_CONFIG_MAX_TEXT)
		return pve_error_set(err, E2BIG, "config too large (%zu bytes, at most %d)", len,
				     PVE_CONFIG_MAX_TEXT);
	_cleanup_(pve_sectioncfg_freep) pve_sectioncfg *c = pve_sectioncfg_new();
	_cleanup_free_ struct key_ref *refs = xmalloc(sizeof(*refs) * (PVE_CONFIG_MAX_KEYS + 1));
	size_t nrefs = 0;
	pve_section *cur = NULL;
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
			if (cur) {
				struct sc_prop *p = prop_append(cur);
				p->value = xstrndup(line + 1, ll - 1);
				cur->ncomments++;
			} else {
				item_append(c, ITEM_COMMENT)->text = xstrndup(line + 1, ll - 1);
			}
			continue;
		}
		size_t end = ll;
		while (end > 0 && isspace((unsigned char)line[end - 1]))
			end--;
		if (end == 0) {
			/* A blank line ends the section. */
			r = check_duplicates(cur, refs, nrefs, err);
			if (r < 0)
				return r;
			cur = NULL;
			nrefs = 0;
			item_append(c, ITEM_BLANK);
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (!cur)
				return pve_error_set(err, EINVAL,
						     "line %u: property line outside of a section",
						     lineno);
			size_t k = span(line, end, " \t", true);
			size_t kl = span(line + k, end - k, " \t", false);
			if (!prop_key_valid(line + k, kl)) {
				_cleanup_free_ char *q = quote(line + k, kl);
				return pve_error_set(err, EINVAL,
						     "line %u: invalid property name '%s'", lineno,
						     q);
			}
			if (cur->n - cur->ncomments >= PVE_CONFIG_MAX_KEYS)
				return pve_error_set(
					err, E2BIG,
					"line %u: more than %d properties in section '%s'", lineno,
					PVE_CONFIG_MAX_KEYS, cur->id);
			size_t v = k + kl;
			v += span(line + v, end - v, " \t", true);
			struct sc_prop *p = prop_append(cur);
			p->key = xstrndup(line + k, kl);
			if (v >= end) {
				p->value = xstrdup("1");
				p->bare = true;
			} else {
				p->value = xstrndup(line + v, end - v);
			}
			refs[nrefs++] = (struct key_ref){ p->key, lineno };
			continue;
		}
		/* A header: TYPE: ID */
		const char *colon = memchr(line, ':', end);
		size_t tl = colon ? (size_t)(colon - line) : 0;
		size_t i = tl + 1;
		if (colon)
			i += span(line + i, end - i, " \t", true);
		if (!colon || !type_valid(line, tl) || i >= end || !id_valid(line + i, end - i)) {
			_cleanup_free_ char *q = quote(line, end);
			return pve_error_set(
				err, EINVAL,
				"line %u: invalid section header '%s' (expected 'type: id')",
				lineno, q);
		}
		if (find_id_n(c, line + i, end - i)) {
			_cleanup_free_ char *q = quote(line + i, end - i);
			return pve_error_set(err, EINVAL, "line %u: duplicate section ID '%s'",
					     lineno, q);
		}
		if (c->nsec >= PVE_CONFIG_MAX_SECTIONS)
			return pve_error_set(err, E2BIG, "line %u: more than %d sections", lineno,
					     PVE_CONFIG_MAX_SECTIONS);
		r = check_duplicates(cur, refs, nrefs, err);
		if (r < 0)
			return r;
		nrefs = 0;
		cur = section_append(c, line, tl, line + i, end - i);
	}
	r = check_duplicates(cur, refs, nrefs, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

char *pve_sectioncfg_print(const pve_sectioncfg *c)
{
	pve_buf b = { 0 };
	for (size_t i = 0; i < c->n; i++) {
		const struct sc_item *it = &c->items[i];
		switch (it->kind) {
		case ITEM_BLANK:
			pve_buf_puts(&b, "\n");
			break;
		case ITEM_COMMENT:
			pve_buf_printf(&b, "#%s\n", it->text);
			break;
		case ITEM_SECTION: {
			const pve_section *s = it->section;
			pve_buf_printf(&b, "%s: %s\n", s->type, s->id);
			for (size_t j = 0; j < s->n; j++) {
				const struct sc_prop *p = &s->props[j];
				if (!p->key)
					pve_buf_printf(&b, "#%s\n", p->value);
				else if (p->bare && streq(p->value, "1"))
					pve_buf_printf(&b, "\t%s\n", p->key);
				else
					pve_buf_printf(&b, "\t%s %s\n", p->key, p->value);
			}
			break;
		}
		}
	}
	return pve_buf_steal(&b);
}

size_t pve_sectioncfg_count(const pve_sectioncfg *c)
{
	return c->nsec;
}

pve_section *pve_sectioncfg_nth(const pve_sectioncfg *c, size_t i)
{
	return i < c->nsec ? c->sections[i] : NULL;
}

int pve_sectioncfg_add(pve_sectioncfg *c, const char *type, const char *id, pve_section **ret,
		       pve_error **err)
{
	if (!type_valid(type, strlen(type)))
		return pve_error_set(err, EINVAL, "invalid section type '%s'", type);
	if (!id_valid(id, strlen(id)))
		return pve_error_set(err, EINVAL, "invalid section ID '%s'", id);
	if (pve_sectioncfg_find(c, id))
		return pve_error_set(err, EEXIST, "section ID '%s' already defined", id);
	if (c->nsec >= PVE_CONFIG_MAX_SECTIONS)
		return pve_error_set(err, E2BIG, "more than %d sections", PVE_CONFIG_MAX_SECTIONS);
	/* Proxmox ends every section with a blank line. */
	if (c->n > 0 && c->items[c->n - 1].kind == ITEM_SECTION)
		item_append(c, ITEM_BLANK);
	pve_section *s = section_append(c, type, strlen(type), id, strlen(id));
	item_append(c, ITEM_BLANK);
	if (ret)
		*ret = s;
	return 0;
}

bool pve_sectioncfg_remove(pve_sectioncfg *c, const char *id)
{
	pve_section *s = pve_sectioncfg_find(c, id);
	if (!s)
		return false;
	for (size_t i = 0; i < c->nsec; i++)
		if (c->sections[i] == s) {
			memmove(&c->sections[i], &c->sections[i + 1],
				(c->nsec - i - 1) * sizeof(*c->sections));
			c->nsec--;
			break;
		}
	for (size_t i = 0; i < c->n; i++)
		if (c->items[i].section == s) {
			size_t drop = i + 1 < c->n && c->items[i + 1].kind == ITEM_BLANK ? 2 : 1;
			memmove(&c->items[i], &c->items[i + drop],
				(c->n - i - drop) * sizeof(*c->items));
			c->n -= drop;
			break;
		}
	section_free(s);
	return true;
}

const char *pve_section_type(const pve_section *s)
{
	return s->type;
}

const char *pve_section_id(const pve_section *s)
{
	return s->id;
}

size_t pve_section_count(const pve_section *s)
{
	return s->n - s->ncomments;
}

static const struct sc_prop *nth_prop(const pve_section *s, size_t i)
{
	if (s->ncomments == 0)
		return i < s->n ? &s->props[i] : NULL;
	for (size_t j = 0; j < s->n; j++)
		if (s->props[j].key && i-- == 0)
			return &s->props[j];
	return NULL;
}

const char *pve_section_key(const pve_section *s, size_t i)
{
	const struct sc_prop *p = nth_prop(s, i);
	return p ? p->key : NULL;
}

const char *pve_section_value(const pve_section *s, size_t i)
{
	const struct sc_prop *p = nth_prop(s, i);
	return p ? p->value : NULL;
}

static struct sc_prop *find_prop(const pve_section *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->props[i].key && streq(s->props[i].key, key))
			return &s->props[i];
	return NULL;
}

const char *pve_section_get(const pve_section *s, const char *key)
{
	const struct sc_prop *p = find_prop(s, key);
	return p ? p->value : NULL;
}

int pve_section_set(pve_section *s, const char *key, const char *value)
{
	if (!prop_key_valid(key, strlen(key)) || !*value || strpbrk(value, "\r\n"))
		return -EINVAL;
	struct sc_prop *p = find_prop(s, key);
	if (p) {
		free(p->value);
		p->value = xstrdup(value);
		return 0;
	}
	p = prop_append(s);
	p->key = xstrdup(key);
	p->value = xstrdup(value);
	return 0;
}

bool pve_section_delete(pve_section *s, const char *key)
{
	struct sc_prop *p = find_prop(s, key);
	if (!p)
		return false;
	size_t i = (size_t)(p - s->props);
	free(p->key);
	free(p->value);
	memmove(&s->props[i], &s->props[i + 1], (s->n - i - 1) * sizeof(*s->props));
	s->n--;
	return true;
}
