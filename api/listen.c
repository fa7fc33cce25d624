/* Listening sockets for the HTTPS API, made by pved once and handed to each pved-api it starts, so a
 * port already in use fails at pved's start and a replacing front takes over the very same socket. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "api/api.h"

int pve_listen_socket(const char *spec, pve_error **err)
{
	_cleanup_free_ char *host = NULL;
	const char *port;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || end[1] != ':')
			return pve_error_set(err, EINVAL, "bad listen address '%s'", spec);
		host = xstrndup(spec + 1, (size_t)(end - spec - 1));
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon)
			return pve_error_set(err, EINVAL, "bad listen address '%s'", spec);
		host = xstrndup(spec, (size_t)(colon - spec));
		port = colon + 1;
	}
	char *end;
	long p = strtol(port, &end, 10);
	if (*port == '\0' || *end || p < 1 || p > 65535)
		return pve_error_set(err, EINVAL, "bad port in listen address '%s'", spec);
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		sl = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		sl = sizeof(*in6);
	} else {
		return pve_error_set(err, EINVAL, "bad address in listen address '%s'", spec);
	}
	_cleanup_close_ int fd =
		socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pve_error_set(err, errno, "socket: %m");
	/* No SO_REUSEPORT: another process must never share the port unnoticed. */
	int one = 1, zero = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return pve_error_set(err, errno, "setsockopt: %m");
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		return pve_error_set(err, errno, "IPV6_V6ONLY: %m");
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		return pve_error_set(err, errno, "cannot listen on %s: %m", spec);
	if (listen(fd, 511) < 0)
		return pve_error_set(err, errno, "cannot listen on %s: %m", spec);
	return TAKE_FD(fd);
}

int pve_listen_local_port(int min, int max, int *ret_port, pve_error **err)
{
	for (int port = min; port <= max; port++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return pve_error_set(err, errno, "socket: %m");
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons((uint16_t)port) };
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(fd, 1) == 0) {
			*ret_port = port;
			return fd;
		}
		close(fd);
	}
	return pve_error_set(err, EADDRINUSE, "no free port between %d and %d", min, max);
}
