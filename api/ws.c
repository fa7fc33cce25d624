/* api: wslay's I/O on a bufferevent, shared by the front (the client's websocket) and pved (a
 * websocket forwarded to another node). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <wslay/wslay.h>

#include "api/api.h"

ssize_t pve_ws_bev_recv(struct wslay_event_context *ctx, struct bufferevent *bev, uint8_t *buf,
			size_t len)
{
	int n = evbuffer_remove(bufferevent_get_input(bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

ssize_t pve_ws_bev_send(struct wslay_event_context *ctx, struct bufferevent *bev,
			const uint8_t *data, size_t len, size_t max)
{
	/* Bounded: a peer that stops reading stops the relay until its socket drains. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) > max) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	bufferevent_write(bev, data, len);
	return (ssize_t)len;
}
