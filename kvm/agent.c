/* One command to a VM's guest agent (qemu-ga on the virtio-serial port, its host end the unix socket
 * <run>/<vmid>.qga), blocking, for task workers: first guest-sync-delimited, whose answer follows a 0xFF
 * byte, so that what an earlier client left unread in the channel is skipped; then the command. The
 * agent's lines are parsed by kvm_qmp_parse, QMP's own reader (fuzzed), with a limit on their length. */
#include <cjson/cJSON.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "kvm/kvm.h"

/* An agent's answer line longer than this is refused (guest-fsfreeze and guest-sync are tiny). */
#define AGENT_MAX_LINE (64 * 1024)

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

typedef struct agent {
	int fd;
	pve_buf in;
	uint64_t deadline;
} agent;

int kvm_agent_parse_line(const char *line, size_t len, kvm_qmp_msg *ret, pve_error **err)
{
	/* guest-sync-delimited's answer follows a 0xFF; a line may end in \r */
	while (len && (unsigned char)*line == 0xff)
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return pve_error_set(err, EINVAL, "guest agent: an empty line");
	if (len > AGENT_MAX_LINE)
		return pve_error_set(err, E2BIG, "guest agent: an answer longer than %d bytes",
				     AGENT_MAX_LINE);
	return kvm_qmp_parse(line, len, ret, err);
}

/* The next line (without its newline), into *ret (owned by the caller). */
static int next_line(agent *a, char **ret, size_t *ret_len, pve_error **err)
{
	for (;;) {
		char *nl = a->in.len ? memchr(a->in.data, '\n', a->in.len) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - a->in.data);
			*ret = xstrndup(a->in.data, len);
			*ret_len = len;
			memmove(a->in.data, nl + 1, a->in.len - len - 1);
			a->in.len -= len + 1;
			return 0;
		}
		if (a->in.len > AGENT_MAX_LINE)
			return pve_error_set(err, E2BIG,
					     "guest agent: an answer longer than %d bytes",
					     AGENT_MAX_LINE);
		uint64_t now = mono_ms();
		if (now >= a->deadline)
			return pve_error_set(err, ETIMEDOUT,
					     "guest agent not running - got timeout");
		struct pollfd p = { .fd = a->fd, .events = POLLIN };
		int n = poll(&p, 1, (int)(a->deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pve_error_set(err, errno, "guest agent: poll: %m");
		if (n == 0)
			continue;
		char buf[4096];
		ssize_t k = read(a->fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return pve_error_set(err, EPIPE, "guest agent: the channel closed");
		pve_buf_append(&a->in, buf, (size_t)k);
	}
}

static int send_command(agent *a, const char *command, cJSON *args, pve_error **err)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "execute", command);
	if (args)
		cJSON_AddItemToObject(o, "arguments", args);
	_cleanup_free_ char *text = pve_json_print(o);
	cJSON_Delete(o);
	_cleanup_free_ char *line = xasprintf("%s\n", text);
	if (pve_write_all(a->fd, line, strlen(line)) < 0)
		return pve_error_set(err, EPIPE, "guest agent: can't write: %m");
	return 0;
}

/* The answer to the last command: RETURN or ERROR; lines that are neither are skipped. */
static int answer(agent *a, const char *command, cJSON **ret, pve_error **err)
{
	for (;;) {
		_cleanup_free_ char *line = NULL;
		size_t len = 0;
		int r = next_line(a, &line, &len, err);
		if (r < 0)
			return r;
		kvm_qmp_msg m;
		if (kvm_agent_parse_line(line, len, &m, NULL) < 0)
			continue;
		if (m.kind == KVM_QMP_ERROR) {
			r = pve_error_set(err, EIO, "guest agent command '%s' failed - %s", command,
					  m.error_desc);
			kvm_qmp_msg_clear(&m);
			return r;
		}
		if (m.kind == KVM_QMP_RETURN) {
			if (ret)
				*ret = cJSON_Duplicate(m.value, true);
			kvm_qmp_msg_clear(&m);
			return 0;
		}
		kvm_qmp_msg_clear(&m);
	}
}

int kvm_agent_command(const char *path, const char *command, cJSON *args, int timeout_ms,
		      cJSON **ret, pve_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		cJSON_Delete(args);
		return pve_error_set(err, ENAMETOOLONG, "guest agent socket path too long");
	}
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cJSON_Delete(args);
		return pve_error_set(err, errno, "guest agent not running - can't connect: %m");
	}
	agent a = { .fd = fd, .deadline = mono_ms() + (uint64_t)timeout_ms };
	/* guest-sync-delimited: its answer, after a 0xFF, carries our id */
	long long id = (long long)(mono_ms() % 1000000000) + 1;
	cJSON *sync_args = cJSON_CreateObject();
	cJSON_AddNumberToObject(sync_args, "id", (double)id);
	int r = send_command(&a, "guest-sync-delimited", sync_args, err);
	for (bool synced = false; r >= 0 && !synced;) {
		cJSON *v = NULL;
		r = answer(&a, "guest-sync-delimited", &v, err);
		synced = r >= 0 && cJSON_IsNumber(v) && (long long)v->valuedouble == id;
		cJSON_Delete(v);
	}
	if (r >= 0)
		r = send_command(&a, command, args, err);
	else
		cJSON_Delete(args);
	if (r >= 0)
		r = answer(&a, command, ret, err);
	pve_buf_free(&a.in);
	return r;
}
