/* access/password.c: passwords of the pve realm (crypt SHA-256 hashes in priv/shadow.cfg) and of the pam
 * realm (a PAM conversation through the system's stack). */
#include <crypt.h>
#include <ctype.h>
#include <fcntl.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "access/access-internal.h"

#define PASSWORD_MAX 1024
#define SHADOW_MAX_SIZE (4 * 1024 * 1024)
#define SHADOW_MAX_ENTRIES 100000

char *pve_password_hash(const char *password)
{
	static const char salt_chars[] =
		"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	if (!password || strlen(password) > PASSWORD_MAX)
		return NULL;
	unsigned char raw[16];
	access_random(raw, sizeof(raw));
	char setting[3 + 16 + 1] = "$5$";
	for (size_t i = 0; i < sizeof(raw); i++)
		setting[3 + i] = salt_chars[raw[i] & 63];
	setting[19] = 0;

	_cleanup_free_ struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = crypt_r(password, setting, cd);
	if (!h || h[0] != '$')
		return NULL;
	return xstrdup(h);
}

bool pve_password_check(const char *hash, const char *password)
{
	if (!hash || !password || strlen(password) > PASSWORD_MAX)
		return false;
	/* Locked ("!..." or "*") and empty hashes never match; crypt also returns "*0"-like failures. */
	if (hash[0] != '$' || strlen(hash) > 512)
		return false;
	_cleanup_free_ struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = crypt_r(password, hash, cd);
	if (!h || h[0] != '$')
		return false;
	return access_streq_ct(h, hash);
}

/* ---- shadow.cfg ------------------------------------------------------------------------------------ */

struct pve_shadowcfg {
	access_kvtab t; /* userid -> crypt hash */
};

pve_shadowcfg *pve_shadowcfg_new(void)
{
	return xcalloc(1, sizeof(pve_shadowcfg));
}

void pve_shadowcfg_free(pve_shadowcfg *c)
{
	if (!c)
		return;
	access_kvtab_clear(&c->t);
	free(c);
}

const char *pve_shadowcfg_get(const pve_shadowcfg *c, const char *userid)
{
	return c ? access_kvtab_get(&c->t, userid) : NULL;
}

/* Keys and hashes: no whitespace, no ':', printable, so a line splits back the same way. */
static bool shadow_field_ok(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len == 0 || len > max)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == 0x7f || c == ':')
			return false;
	}
	return true;
}

int pve_shadowcfg_set(pve_shadowcfg *c, const char *userid, const char *hash, pve_error **err)
{
	if (!shadow_field_ok(userid, 64))
		return pve_error_set(err, EINVAL, "invalid user name '%s'", userid);
	if (!shadow_field_ok(hash, 512))
		return pve_error_set(err, EINVAL, "invalid password hash for '%s'", userid);
	if (!access_kvtab_set(&c->t, userid, hash, SHADOW_MAX_ENTRIES))
		return pve_error_set(err, E2BIG, "too many users in shadow.cfg");
	return 0;
}

bool pve_shadowcfg_delete(pve_shadowcfg *c, const char *userid)
{
	return access_kvtab_delete(&c->t, userid);
}

char *pve_shadowcfg_print(const pve_shadowcfg *c)
{
	return access_kvtab_print(&c->t, ":", ":\n");
}

int pve_shadowcfg_parse(const char *text, size_t len, pve_shadowcfg **ret, pve_error **err)
{
	if (len > SHADOW_MAX_SIZE)
		return pve_error_set(err, E2BIG, "shadow.cfg is larger than %d bytes",
				     SHADOW_MAX_SIZE);
	if (memchr(text, 0, len))
		return pve_error_set(err, EINVAL, "shadow.cfg contains a NUL byte");
	pve_shadowcfg *c = pve_shadowcfg_new();
	size_t lineno = 0, pos = 0, ll;
	const char *line;
	int r;
	while (access_line_next(text, len, &pos, &line, &ll)) {
		lineno++;
		if (ll == 0)
			continue;
		/* "<user>:<hash>:" exactly, like Proxmox's m/^\S+:\S+:$/ with one ':' inside. */
		_cleanup_free_ char *l = xstrndup(line, ll);
		char *colon = strchr(l, ':');
		if (!colon || l[ll - 1] != ':' || colon == l + ll - 1) {
			r = pve_error_set(err, EINVAL,
					  "shadow.cfg line %zu: expected '<user>:<hash>:'", lineno);
			goto fail;
		}
		*colon = 0;
		l[ll - 1] = 0;
		r = pve_shadowcfg_set(c, l, colon + 1, err);
		if (r < 0) {
			if (err && *err)
				pve_error_prefix(*err, "shadow.cfg line %zu", lineno);
			goto fail;
		}
	}
	*ret = c;
	return 0;
fail:
	pve_shadowcfg_free(c);
	return r;
}

/* ---- PAM ------------------------------------------------------------------------------------------- */

struct pam_answers {
	const char *user;
	const char *password;
};

static int pam_conv_fn(int n, const struct pam_message **msg, struct pam_response **resp,
		       void *data)
{
	const struct pam_answers *a = data;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	/* PAM frees the answers with free(), so plain calloc/strdup. */
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *answer = NULL;
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			answer = a->password;
			break;
		case PAM_PROMPT_ECHO_ON:
			answer = a->user;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			continue;
		default:
			goto fail;
		}
		r[i].resp = strdup(answer);
		if (!r[i].resp)
			goto fail;
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++) {
		if (r[i].resp) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
	return PAM_CONV_ERR;
}

int pve_pam_authenticate(const char *service, const char *user, const char *password,
			 pve_error **err)
{
	if (!service || !access_valid_id(service))
		return pve_error_set(err, EINVAL, "invalid PAM service");
	if (!user || !*user || strlen(user) > 64 || strpbrk(user, " \t\r\n:/"))
		return pve_error_set(err, EINVAL, "invalid user name");
	if (!password || strlen(password) > PASSWORD_MAX)
		return pve_error_set(err, EACCES, "authentication failure");

	struct pam_answers answers = { user, password };
	struct pam_conv conv = { pam_conv_fn, &answers };
	pam_handle_t *h = NULL;
	int rc = pam_start(service, user, &conv, &h);
	if (rc != PAM_SUCCESS)
		return pve_error_set(err, EIO, "PAM service '%s' cannot start: %s", service,
				     pam_strerror(h, rc));
	rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	int r = 0;
	if (rc != PAM_SUCCESS)
		/* The PAM reason stays with us (debug callers may want it); the user gets no hint. */
		r = pve_error_set(err, EACCES, "authentication failure (%s)", pam_strerror(h, rc));
	pam_end(h, rc);
	return r;
}

/* chpasswd waits for the shadow file's lock (lckpwdf: 15 s at most); a little more, then it is killed. */
#define CHPASSWD_TIMEOUT_MS 20000

int pve_pam_set_password(const char *user, const char *password, pve_error **err)
{
	if (!user || !*user || strlen(user) > 64 || strpbrk(user, " \t\r\n:/"))
		return pve_error_set(err, EINVAL, "invalid user name");
	_cleanup_free_ char *hash = pve_password_hash(password);
	if (!hash)
		return pve_error_set(err, EINVAL, "cannot hash the password");
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return pve_error_set(err, errno, "pipe: %m");
	char *const argv[] = { (char *)"chpasswd", (char *)"-e", NULL };
	pve_spawn_opts so = {
		.path = "chpasswd", .argv = argv, .stdin_fd = p[0], .stdout_fd = -1, .stderr_fd = -1
	};
	pid_t pid;
	int r = pve_spawn(&so, &pid, err);
	close(p[0]);
	if (r < 0) {
		close(p[1]);
		return r;
	}
	/* "user:hash\n" is far less than a pipe holds: the write never waits. */
	_cleanup_free_ char *line = xasprintf("%s:%s\n", user, hash);
	ssize_t n = write(p[1], line, strlen(line));
	explicit_bzero(line, strlen(line));
	explicit_bzero(hash, strlen(hash));
	close(p[1]);
	int status = 0;
	int64_t deadline = pve_now_ms() + CHPASSWD_TIMEOUT_MS;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (pve_now_ms() > deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return pve_error_set(err, ETIMEDOUT, "change password failed: timeout");
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	if (n < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		/* Proxmox's run_command(errmsg => 'change password failed'). */
		return pve_error_set(err, EIO, "change password failed: chpasswd %s %d",
				     WIFEXITED(status) ? "exited with" : "killed by signal",
				     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}
