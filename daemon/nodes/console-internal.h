/* The node shell's xterm.js messages, parsed apart from the pty so that a fuzz target reaches them. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* The most one input message ("0:<len>:<data>") may carry: one relay chunk. */
#define XTERM_INPUT_MAX (64 * 1024)

typedef enum xterm_msg_type {
	XTERM_INPUT, /* "0:<len>:<data>" */
	XTERM_RESIZE, /* "1:<cols>:<rows>:" */
	XTERM_PING, /* "2" */
} xterm_msg_type;

typedef struct xterm_msg {
	xterm_msg_type type;
	const char *data; /* XTERM_INPUT: points into the buffer parsed */
	size_t len;
	unsigned cols, rows; /* XTERM_RESIZE */
} xterm_msg;

/* Parses the message at the start of buf[0..len): returns the bytes it takes (> 0) and fills ret, 0
 * when the message is not complete yet, -EBADMSG when it is malformed (the console then closes). */
ssize_t pved_xterm_msg_parse(const char *buf, size_t len, xterm_msg *ret);

/* ---- shared with the VMs' consoles (daemon/qemu/console.c) ---- */

#include "daemon/core/pved.h"

/* Proxmox hands out console ports from 5900 up. */
#define CONSOLE_PORT_MIN 5900
#define CONSOLE_PORT_MAX 5999

/* A listening socket on localhost at the first free console port: made by pved, so the port is taken
 * before the client is told it, and handed to the task. -EADDRINUSE when all are taken. */
int pved_console_listen(int *ret_port, pve_error **err);
/* Answers a console call as Proxmox's: {port, ticket, upid, user}, with cert (the cluster's CA) for a
 * VNC console, and password when one was generated. */
void pved_console_reply(pved_call *c, int port, const char *ticket, const char *upid, bool cert,
			const char *password);
/* vncwebsocket: checks the call's vncticket against path and port, then relays the upgraded websocket
 * to the port on localhost. Answers the call. */
void pved_console_websocket(pved_call *c, const char *path);
/* In a console task: waits for the client on the listening socket, reads its "<user>:<vncticket>\n"
 * (checked against authid, path and port) and answers "OK"; *ret_fd is the connection, rest what came
 * after the line. */
int pved_console_xterm_accept(pved *d, int lfd, int port, const char *authid, const char *path,
			      int *ret_fd, pve_buf *rest, pve_error **err);
/* Relays until either side ends: the client's xterm.js messages (in: what came already) to target,
 * target's output to the client as it is. */
void pved_console_xterm_relay(int fd, int target, pve_buf *in);
/* A connection to a console's (or a monitor's) unix socket: an error naming it otherwise. */
int pved_console_connect(const char *path, pve_error **err);
/* The task of a console shown as a terminal over VNC (pved's vncterm: term/), for a container's
 * console and a VM's serial port; the listening socket is PVED_TASK_FD(0). args (made by
 * pved_console_vncterm_args): the port, the console socket's path, the VNC password (the ticket) and
 * ServerInit's name. Waits for one client as the node shell does, then serves it until either side
 * ends. */
int pved_console_vncterm_task(pved *d, const cJSON *args, pve_error **err);
cJSON *pved_console_vncterm_args(int port, const char *console, const char *password,
				 const char *title);
/* The task of a console shown as a terminal over SPICE (pved's spiceterm: term/spice.c), args as
 * vncterm's with the SPICE ticket's password; PVED_TASK_FD(0) holds the port until libspice binds it
 * (TLS with the node's certificate). Waits SPICE_CLIENT_TIMEOUT_S for the client, serves it until
 * either side ends. */
#define SPICE_CLIENT_TIMEOUT_S 40
int pved_console_spiceterm_task(pved *d, const cJSON *args, pve_error **err);
/* remote-viewer's settings for a SPICE console on port, as Proxmox's remote_viewer_config: host the
 * proxy ticket, proxy the call's or NULL (this node, on the SPICE proxy's port), title "CT 100" or
 * "VM 100 - name". The containers' and the VMs' spiceproxy answer. */
int pved_console_spice_config(pved *d, int port, const char *password, const char *host,
			      const char *proxy, const char *title, cJSON **ret, pve_error **err);
