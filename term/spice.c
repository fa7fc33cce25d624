/* One SPICE session, pved's spiceterm: libspice-server speaks the protocol (TLS, the ticket, the
 * channels); this file runs its core interface on a poll loop of its own, shows the terminal's screen
 * as a QXL device's primary surface drawn by bitmap copies, and types the keyboard's scancodes. */
#include <poll.h>
#include <pthread.h>
#include <spice.h>
#include <time.h>

#include "term/term-internal.h"

#define CONSOLE_CHUNK 4096
/* Draw commands waiting for libspice's worker: past this the damage waits and grows instead, so a
 * console that writes faster than the client reads costs memory once, not per write. */
#define DRAWS_MAX 32
/* How often damage that had to wait is tried again. */
#define DRAW_RETRY_MS 20
#define MEMSLOT_GROUP 0

/* ---- the core interface: watches and timers on poll() ---- */

struct SpiceWatch {
	struct SpiceWatch *next;
	int fd, mask;
	SpiceWatchFunc func;
	void *opaque;
	bool removed; /* freed after the round that may still hold it */
};

struct SpiceTimer {
	struct SpiceTimer *next;
	uint64_t due_ms; /* 0: not running */
	SpiceTimerFunc func;
	void *opaque;
	bool removed;
};

typedef struct core_loop {
	struct SpiceWatch *watches;
	struct SpiceTimer *timers;
	bool client_came, client_left;
} core_loop;

/* The core interface's callbacks carry no context: the one loop of this process is here, set only
 * while term_spice_serve runs. */
static core_loop *core;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static SpiceTimer *core_timer_add(SpiceTimerFunc func, void *opaque)
{
	struct SpiceTimer *t = xcalloc(1, sizeof(*t));
	t->func = func;
	t->opaque = opaque;
	t->next = core->timers;
	core->timers = t;
	return t;
}

static void core_timer_start(SpiceTimer *t, uint32_t ms)
{
	t->due_ms = now_ms() + ms;
}

static void core_timer_cancel(SpiceTimer *t)
{
	t->due_ms = 0;
}

static void core_timer_remove(SpiceTimer *t)
{
	t->due_ms = 0;
	t->removed = true;
}

static SpiceWatch *core_watch_add(int fd, int mask, SpiceWatchFunc func, void *opaque)
{
	struct SpiceWatch *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->mask = mask;
	w->func = func;
	w->opaque = opaque;
	w->next = core->watches;
	core->watches = w;
	return w;
}

static void core_watch_update_mask(SpiceWatch *w, int mask)
{
	w->mask = mask;
}

static void core_watch_remove(SpiceWatch *w)
{
	w->removed = true;
}

static void core_channel_event(int event, SpiceChannelEventInfo *info)
{
	/* A stream has its channel type once its link succeeded (INITIALIZED): a client that failed
	 * the password or left before its link neither came nor leaves. */
	if (info->type != SPICE_CHANNEL_MAIN)
		return;
	if (event == SPICE_CHANNEL_EVENT_INITIALIZED)
		core->client_came = true;
	else if (event == SPICE_CHANNEL_EVENT_DISCONNECTED && core->client_came)
		core->client_left = true;
}

static SpiceCoreInterface core_interface = {
	.base = { .type = SPICE_INTERFACE_CORE,
		  .description = "pved spiceterm core",
		  .major_version = SPICE_INTERFACE_CORE_MAJOR,
		  .minor_version = SPICE_INTERFACE_CORE_MINOR },
	.timer_add = core_timer_add,
	.timer_start = core_timer_start,
	.timer_cancel = core_timer_cancel,
	.timer_remove = core_timer_remove,
	.watch_add = core_watch_add,
	.watch_update_mask = core_watch_update_mask,
	.watch_remove = core_watch_remove,
	.channel_event = core_channel_event,
};

static void core_sweep(core_loop *l)
{
	for (struct SpiceWatch **p = &l->watches; *p;) {
		struct SpiceWatch *w = *p;
		if (w->removed) {
			*p = w->next;
			free(w);
		} else {
			p = &w->next;
		}
	}
	for (struct SpiceTimer **p = &l->timers; *p;) {
		struct SpiceTimer *t = *p;
		if (t->removed) {
			*p = t->next;
			free(t);
		} else {
			p = &t->next;
		}
	}
}

static void core_free(core_loop *l)
{
	for (struct SpiceWatch *w = l->watches; w; w = l->watches) {
		l->watches = w->next;
		free(w);
	}
	for (struct SpiceTimer *t = l->timers; t; t = l->timers) {
		l->timers = t->next;
		free(t);
	}
}

/* Runs the timers that are due; answers how long poll may wait for the next one (-1: none). */
static int core_run_timers(core_loop *l)
{
	uint64_t now = now_ms();
	for (struct SpiceTimer *t = l->timers; t; t = t->next)
		if (!t->removed && t->due_ms && t->due_ms <= now) {
			t->due_ms = 0;
			t->func(t->opaque); /* may start itself again, add or remove timers */
		}
	int wait = -1;
	now = now_ms();
	for (struct SpiceTimer *t = l->timers; t; t = t->next)
		if (!t->removed && t->due_ms) {
			uint64_t left = t->due_ms > now ? t->due_ms - now : 0;
			if (wait < 0 || left < (uint64_t)wait)
				wait = left > INT32_MAX ? INT32_MAX : (int)left;
		}
	return wait;
}

/* ---- the display: a QXL device whose commands are copies of the terminal's pixels ---- */

typedef struct draw {
	struct draw *next;
	QXLDrawable drawable;
	QXLImage image;
	uint32_t pixels[]; /* the rectangle's, row after row: 0x00RRGGBB is SPICE's 32-bit xRGB */
} draw;

typedef struct spice_term {
	QXLInstance qxl;
	SpiceKbdInstance kbd;
	SpiceServer *server;
	term_screen *screen;
	term_kbd keys;
	int console;
	unsigned width, height;
	uint32_t *surface; /* the primary surface's memory: libspice draws the commands into it */
	/* the commands not taken yet: filled here, emptied by libspice's worker thread */
	pthread_mutex_t lock;
	draw *head, **tail;
	unsigned queued;
	uint64_t image_id;
	/* damage that waits for the queue */
	term_rect pending;
	bool has_pending;
} spice_term;

static QXLDevMemSlot memslot = {
	/* commands point at this process's memory: one slot over all of it */
	.slot_group_id = MEMSLOT_GROUP,
	.slot_id = 0,
	.generation = 0,
	.virt_start = 0,
	.virt_end = ~(uint64_t)0,
	.addr_delta = 0,
	.qxl_ram_size = ~(uint32_t)0,
};

static void qxl_attached_worker(QXLInstance *qin)
{
	spice_term *t = SPICE_CONTAINEROF(qin, spice_term, qxl);
	spice_qxl_add_memslot(qin, &memslot);
	QXLDevSurfaceCreate s = {
		.format = SPICE_SURFACE_FMT_32_xRGB,
		.width = t->width,
		.height = t->height,
		/* a negative stride is a top-down surface starting at mem, as QEMU gives it */
		.stride = -(int32_t)(t->width * 4),
		.mouse_mode = true,
		.mem = (uintptr_t)t->surface,
		.group_id = MEMSLOT_GROUP,
	};
	spice_qxl_create_primary_surface(qin, 0, &s);
}

static void qxl_set_compression_level(QXLInstance *qin, int level)
{
	(void)qin;
	(void)level;
}

static void qxl_get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
	(void)qin;
	memset(info, 0, sizeof(*info));
	info->num_memslots = 1;
	info->num_memslots_groups = 1;
	info->memslot_id_bits = 1;
	info->memslot_gen_bits = 1;
	info->n_surfaces = 1;
}

/* The worker's thread. */
static int qxl_get_command(QXLInstance *qin, struct QXLCommandExt *ext)
{
	spice_term *t = SPICE_CONTAINEROF(qin, spice_term, qxl);
	pthread_mutex_lock(&t->lock);
	draw *d = t->head;
	if (d) {
		t->head = d->next;
		if (!t->head)
			t->tail = &t->head;
		t->queued--;
	}
	pthread_mutex_unlock(&t->lock);
	if (!d)
		return 0;
	*ext = (struct QXLCommandExt){ .cmd = { .type = QXL_CMD_DRAW,
						.data = (uintptr_t)&d->drawable },
				       .group_id = MEMSLOT_GROUP };
	return 1;
}

/* The worker's thread: true asks for spice_qxl_wakeup when a command comes, which push_draw does
 * every time. */
static int qxl_req_cmd_notification(QXLInstance *qin)
{
	spice_term *t = SPICE_CONTAINEROF(qin, spice_term, qxl);
	pthread_mutex_lock(&t->lock);
	bool empty = !t->head;
	pthread_mutex_unlock(&t->lock);
	return empty;
}

static void qxl_release_resource(QXLInstance *qin, struct QXLReleaseInfoExt release)
{
	(void)qin;
	free((draw *)(uintptr_t)release.info->id);
}

static int qxl_get_cursor_command(QXLInstance *qin, struct QXLCommandExt *ext)
{
	(void)qin;
	(void)ext;
	return 0; /* the terminal draws its own cursor */
}

static int qxl_req_cursor_notification(QXLInstance *qin)
{
	(void)qin;
	return 1;
}

static void qxl_notify_update(QXLInstance *qin, uint32_t update_id)
{
	(void)qin;
	(void)update_id;
}

static int qxl_flush_resources(QXLInstance *qin)
{
	(void)qin;
	return 0;
}

static int qxl_client_monitors_config(QXLInstance *qin, VDAgentMonitorsConfig *config)
{
	(void)qin;
	(void)config;
	return 0; /* the terminal's size is fixed */
}

static void qxl_set_client_capabilities(QXLInstance *qin, uint8_t present, uint8_t caps[])
{
	(void)qin;
	(void)present;
	(void)caps;
}

static const QXLInterface qxl_interface = {
	.base = { .type = SPICE_INTERFACE_QXL,
		  .description = "pved spiceterm display",
		  .major_version = SPICE_INTERFACE_QXL_MAJOR,
		  .minor_version = SPICE_INTERFACE_QXL_MINOR },
	.attached_worker = qxl_attached_worker,
	.set_compression_level = qxl_set_compression_level,
	.get_init_info = qxl_get_init_info,
	.get_command = qxl_get_command,
	.req_cmd_notification = qxl_req_cmd_notification,
	.release_resource = qxl_release_resource,
	.get_cursor_command = qxl_get_cursor_command,
	.req_cursor_notification = qxl_req_cursor_notification,
	.notify_update = qxl_notify_update,
	.flush_resources = qxl_flush_resources,
	.set_client_capabilities = qxl_set_client_capabilities,
	.client_monitors_config = qxl_client_monitors_config,
};

/* A copy of the frame buffer's rectangle r onto the surface, queued for the worker. */
static void push_draw(spice_term *t, term_rect r)
{
	draw *d = xcalloc(1, sizeof(*d) + (size_t)r.w * r.h * sizeof(uint32_t));
	const uint32_t *fb = term_screen_pixels(t->screen);
	for (unsigned y = 0; y < r.h; y++)
		memcpy(d->pixels + (size_t)y * r.w, fb + (size_t)(r.y + y) * t->width + r.x,
		       (size_t)r.w * sizeof(uint32_t));
	QXLDrawable *dr = &d->drawable;
	dr->release_info.id = (uintptr_t)d;
	dr->surface_id = 0;
	dr->effect = QXL_EFFECT_OPAQUE;
	dr->type = QXL_DRAW_COPY;
	dr->surfaces_dest[0] = dr->surfaces_dest[1] = dr->surfaces_dest[2] = -1;
	dr->bbox = (QXLRect){ .left = (int32_t)r.x,
			      .top = (int32_t)r.y,
			      .right = (int32_t)(r.x + r.w),
			      .bottom = (int32_t)(r.y + r.h) };
	dr->clip.type = SPICE_CLIP_TYPE_NONE;
	dr->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
	dr->u.copy.src_bitmap = (uintptr_t)&d->image;
	dr->u.copy.src_area = (QXLRect){ .right = (int32_t)r.w, .bottom = (int32_t)r.h };
	QXLImage *im = &d->image;
	QXL_SET_IMAGE_ID(im, QXL_IMAGE_GROUP_DEVICE, ++t->image_id);
	im->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
	im->descriptor.width = im->bitmap.x = r.w;
	im->descriptor.height = im->bitmap.y = r.h;
	im->bitmap.format = SPICE_BITMAP_FMT_32BIT;
	im->bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
	im->bitmap.stride = r.w * 4;
	im->bitmap.data = (uintptr_t)d->pixels;

	pthread_mutex_lock(&t->lock);
	*t->tail = d;
	t->tail = &d->next;
	t->queued++;
	pthread_mutex_unlock(&t->lock);
	spice_qxl_wakeup(&t->qxl);
}

static term_rect rect_union(term_rect a, term_rect b)
{
	unsigned x0 = a.x < b.x ? a.x : b.x, y0 = a.y < b.y ? a.y : b.y;
	unsigned x1 = a.x + a.w > b.x + b.w ? a.x + a.w : b.x + b.w;
	unsigned y1 = a.y + a.h > b.y + b.h ? a.y + a.h : b.y + b.h;
	return (term_rect){ x0, y0, x1 - x0, y1 - y0 };
}

/* The screen's damage queued as a draw, or kept in pending while the queue is full. */
static void flush_damage(spice_term *t)
{
	term_rect r;
	if (term_screen_take_damage(t->screen, &r)) {
		t->pending = t->has_pending ? rect_union(t->pending, r) : r;
		t->has_pending = true;
	}
	if (!t->has_pending)
		return;
	pthread_mutex_lock(&t->lock);
	bool full = t->queued >= DRAWS_MAX;
	pthread_mutex_unlock(&t->lock);
	if (full)
		return;
	push_draw(t, t->pending);
	t->has_pending = false;
}

/* ---- the keyboard ---- */

static void kbd_push_scan_freg(SpiceKbdInstance *sin, uint8_t frag)
{
	spice_term *t = SPICE_CONTAINEROF(sin, spice_term, kbd);
	bool down;
	uint32_t keysym = term_kbd_scancode(&t->keys, frag, &down);
	if (keysym)
		term_screen_key(t->screen, keysym, down);
}

static uint8_t kbd_get_leds(SpiceKbdInstance *sin)
{
	spice_term *t = SPICE_CONTAINEROF(sin, spice_term, kbd);
	return (uint8_t)((t->keys.caps ? SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK : 0) |
			 (t->keys.numlock ? SPICE_KEYBOARD_MODIFIER_FLAGS_NUM_LOCK : 0));
}

static const SpiceKbdInterface kbd_interface = {
	.base = { .type = SPICE_INTERFACE_KEYBOARD,
		  .description = "pved spiceterm keyboard",
		  .major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
		  .minor_version = SPICE_INTERFACE_KEYBOARD_MINOR },
	.push_scan_freg = kbd_push_scan_freg,
	.get_leds = kbd_get_leds,
};

/* ---- the session ---- */

static int server_start(spice_term *t, const term_spice_opts *o, pve_error **err)
{
	t->server = spice_server_new();
	if (!t->server)
		return pve_error_set(err, ENOMEM, "can't make a SPICE server");
	spice_server_set_name(t->server, o->title);
	spice_server_set_addr(t->server, "127.0.0.1", SPICE_ADDR_FLAG_IPV4_ONLY);
	if (spice_server_set_tls(t->server, o->port, o->ca_file, o->cert_file, o->key_file, NULL,
				 NULL, "HIGH") < 0)
		return pve_error_set(err, EINVAL, "invalid SPICE TLS port %d", o->port);
	/* the first link must come with the ticket within its lifetime, as QEMU's password expires */
	if (spice_server_set_ticket(t->server, o->password, (int)o->password_lifetime, 0, 0) < 0)
		return pve_error_set(err, EINVAL, "the SPICE ticket is too long");
	/* raw bitmaps: a terminal's pixels are few, and any client reads them */
	spice_server_set_image_compression(t->server, SPICE_IMAGE_COMPRESSION_OFF);
	spice_server_set_jpeg_compression(t->server, SPICE_WAN_COMPRESSION_NEVER);
	spice_server_set_zlib_glz_compression(t->server, SPICE_WAN_COMPRESSION_NEVER);
	spice_server_set_streaming_video(t->server, SPICE_STREAM_VIDEO_OFF);
	spice_server_set_agent_mouse(t->server, 0);
	/* libspice binds the TLS port itself: pved's reservation is let go just before */
	if (o->reserved_fd >= 0)
		close(o->reserved_fd);
	if (spice_server_init(t->server, &core_interface) < 0)
		return pve_error_set(err, EADDRINUSE,
				     "can't start the SPICE server on 127.0.0.1:%d (TLS with %s)",
				     o->port, o->cert_file);
	t->qxl.base.sif = &qxl_interface.base;
	t->qxl.id = 0;
	t->kbd.base.sif = &kbd_interface.base;
	if (spice_server_add_interface(t->server, &t->qxl.base) < 0 ||
	    spice_server_add_interface(t->server, &t->kbd.base) < 0)
		return pve_error_set(err, EIO, "can't add the SPICE display or keyboard");
	spice_server_vm_start(t->server);
	return 0;
}

/* One round of the loop: 1 to go on, 0 when the console or the client ended, else an error. */
static int serve_round(spice_term *t, core_loop *l, uint64_t deadline, const term_spice_opts *o,
		       pve_error **err)
{
	int wait = core_run_timers(l);
	core_sweep(l);
	if (l->client_left)
		return 0;
	uint64_t now = now_ms();
	if (!l->client_came) {
		if (now >= deadline)
			return pve_error_set(err, ETIMEDOUT, "no SPICE client came within %u s",
					     o->timeout);
		if (wait < 0 || deadline - now < (uint64_t)wait)
			wait = (int)(deadline - now);
	}
	if (t->has_pending && (wait < 0 || wait > DRAW_RETRY_MS))
		wait = DRAW_RETRY_MS;

	size_t n = 1;
	for (struct SpiceWatch *w = l->watches; w; w = w->next)
		n++;
	_cleanup_free_ struct pollfd *p = xcalloc(n, sizeof(*p));
	_cleanup_free_ struct SpiceWatch **ws = xcalloc(n, sizeof(*ws));
	p[0] = (struct pollfd){ .fd = t->console, .events = POLLIN };
	size_t i = 1;
	for (struct SpiceWatch *w = l->watches; w; w = w->next, i++) {
		ws[i] = w;
		p[i] = (struct pollfd){
			.fd = w->fd,
			.events = (short)((w->mask & SPICE_WATCH_EVENT_READ ? POLLIN : 0) |
					  (w->mask & SPICE_WATCH_EVENT_WRITE ? POLLOUT : 0))
		};
	}
	if (poll(p, n, wait) < 0) {
		if (errno == EINTR)
			return 1;
		return pve_error_set(err, errno, "poll: %m");
	}
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
		char buf[CONSOLE_CHUNK];
		ssize_t k = read(t->console, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			return 1;
		if (k <= 0)
			return 0; /* the console closed */
		term_screen_feed(t->screen, buf, (size_t)k);
	}
	for (i = 1; i < n; i++) {
		struct SpiceWatch *w = ws[i];
		int ev = 0;
		if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
			ev |= SPICE_WATCH_EVENT_READ;
		if (p[i].revents & (POLLOUT | POLLHUP | POLLERR))
			ev |= SPICE_WATCH_EVENT_WRITE;
		ev &= w->mask;
		/* an earlier callback of this round may have removed it */
		if (ev && !w->removed)
			w->func(w->fd, ev, w->opaque);
	}
	int r = term_screen_flush(t->screen, t->console, err);
	if (r < 0)
		return r;
	flush_damage(t);
	return 1;
}

int term_spice_serve(int console, const term_spice_opts *o, pve_error **err)
{
	core_loop loop = { 0 };
	_cleanup_free_ spice_term *t = xcalloc(1, sizeof(*t));
	t->console = console;
	t->screen = term_screen_new(o->font, TERM_COLS, TERM_ROWS);
	term_screen_size(t->screen, &t->width, &t->height);
	t->surface = xcalloc((size_t)t->width * t->height, sizeof(uint32_t));
	pthread_mutex_init(&t->lock, NULL);
	t->tail = &t->head;
	core = &loop;

	int r = server_start(t, o, err);
	if (r >= 0) {
		/* the whole screen first: the surface starts as the terminal does */
		push_draw(t, (term_rect){ 0, 0, t->width, t->height });
		uint64_t deadline = now_ms() + (uint64_t)o->timeout * 1000;
		while ((r = serve_round(t, &loop, deadline, o, err)) > 0)
			;
	}
	if (t->server)
		spice_server_destroy(
			t->server); /* stops the worker: nothing reads the queue after */
	core_free(&loop);
	core = NULL;
	for (draw *d = t->head; d; d = t->head) {
		t->head = d->next;
		free(d);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->surface);
	term_screen_free(t->screen);
	return r < 0 ? r : 0;
}
