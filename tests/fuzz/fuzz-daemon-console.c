/* Fuzzes the node shell's xterm.js message parser (daemon/nodes/console.c) as the console task feeds
 * it: the input arrives in two pieces split at the first byte, parsed as far as complete messages go,
 * the rest kept for the next read. Every message must lie inside the buffer, and parsing the whole
 * input at once must give the same messages as in pieces. */
#include "common/common.h"
#include "daemon/nodes/console-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses buf as the console does; a digest of the messages (type, fields, data) in *ret. Returns
 * false at a malformed message. */
static bool parse_all(const char *buf, size_t len, size_t *ret_used, uint64_t *digest)
{
	size_t off = 0;
	while (off < len) {
		xterm_msg m;
		ssize_t n = pved_xterm_msg_parse(buf + off, len - off, &m);
		if (n < 0) {
			*ret_used = off;
			return false;
		}
		if (n == 0)
			break;
		if ((size_t)n > len - off)
			abort();
		if (m.type == XTERM_INPUT) {
			if (m.len > XTERM_INPUT_MAX || m.data < buf + off ||
			    m.data + m.len != buf + off + (size_t)n)
				abort();
			for (size_t i = 0; i < m.len; i++)
				*digest = *digest * 31 + (unsigned char)m.data[i];
		}
		if (m.type == XTERM_RESIZE && (m.cols > 65535 || m.rows > 65535))
			abort();
		*digest = *digest * 131 + m.type * 7 + m.cols * 3 + m.rows;
		off += (size_t)n;
	}
	*ret_used = off;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4 * XTERM_INPUT_MAX)
		return 0;
	size_t split = data[0] % size;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	if (split > len)
		split = len;

	uint64_t whole = 0, pieces = 0;
	size_t used_whole, used;
	bool ok_whole = parse_all(in, len, &used_whole, &whole);

	/* In pieces: the first piece, then what it left over followed by the rest, in a buffer of its
	 * own each time so ASan sees any read past a piece. */
	_cleanup_free_ char *first = xmalloc(split ? split : 1);
	memcpy(first, in, split);
	bool ok = parse_all(first, split, &used, &pieces);
	if (ok) {
		size_t rest = len - used;
		_cleanup_free_ char *second = xmalloc(rest ? rest : 1);
		memcpy(second, in + used, rest);
		size_t used2;
		ok = parse_all(second, rest, &used2, &pieces);
		used += used2;
	}
	if (ok != ok_whole || (ok && (used != used_whole || pieces != whole)))
		abort();
	return 0;
}
