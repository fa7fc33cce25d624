/* Work that would block the main loop (PAM, password hashing) runs on a few threads; its completion comes
 * back to the loop through a pipe. */
#include <fcntl.h>
#include <pthread.h>

#include "daemon/core/pved.h"

#define BLOCKING_THREADS 4

typedef struct job job;
struct job {
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
	job *next;
};

struct pved_blocking {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	job *head, *tail;
	bool stop;
	int pipe[2]; /* workers write finished jobs' pointers; the loop reads them */
	struct event *ev;
	pthread_t threads[BLOCKING_THREADS];
	size_t n_threads;
};

static void *worker(void *arg)
{
	pved_blocking *b = arg;
	for (;;) {
		pthread_mutex_lock(&b->lock);
		while (!b->head && !b->stop)
			pthread_cond_wait(&b->cond, &b->lock);
		if (b->stop) {
			pthread_mutex_unlock(&b->lock);
			return NULL;
		}
		job *j = b->head;
		b->head = j->next;
		if (!b->head)
			b->tail = NULL;
		pthread_mutex_unlock(&b->lock);

		j->work(j->arg);
		/* A pointer is written whole: pipe writes up to PIPE_BUF are atomic. */
		ssize_t r;
		do
			r = write(b->pipe[1], &j, sizeof(j));
		while (r < 0 && errno == EINTR);
	}
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what, (void)arg;
	job *jobs[64];
	ssize_t n = read(fd, jobs, sizeof(jobs));
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(job *); i++) {
		jobs[i]->done(jobs[i]->arg);
		free(jobs[i]);
	}
}

int pved_blocking_init(pved *d, pve_error **err)
{
	pved_blocking *b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	if (pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		int r = pve_error_set(err, errno, "pipe: %m");
		free(b);
		return r;
	}
	/* The workers' end blocks: a finished job must never be lost to EAGAIN. */
	fcntl(b->pipe[1], F_SETFL, 0);
	b->ev = event_new(d->base, b->pipe[0], EV_READ | EV_PERSIST, done_cb, b);
	event_add(b->ev, NULL);
	for (; b->n_threads < BLOCKING_THREADS; b->n_threads++) {
		int r = pthread_create(&b->threads[b->n_threads], NULL, worker, b);
		if (r != 0) {
			d->blocking = b;
			pved_blocking_free(b);
			d->blocking = NULL;
			return pve_error_set(err, r, "cannot start worker threads: %s",
					     strerror(r));
		}
	}
	d->blocking = b;
	return 0;
}

void pved_blocking_free(pved_blocking *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < b->n_threads; i++)
		pthread_join(b->threads[i], NULL);
	while (b->head) {
		job *j = b->head;
		b->head = j->next;
		free(j);
	}
	/* Jobs that finished but whose done the loop never ran: their callers are going away too. */
	job *finished[64];
	ssize_t n;
	while ((n = read(b->pipe[0], finished, sizeof(finished))) > 0)
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(job *); i++)
			free(finished[i]);
	event_free(b->ev);
	close(b->pipe[0]);
	close(b->pipe[1]);
	free(b);
}

void pved_run_blocking(pved *d, void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
	pved_blocking *b = d->blocking;
	job *j = xcalloc(1, sizeof(*j));
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&b->lock);
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}
