/* Work that would block the main loop runs on the threads of bounded queues, one queue per kind of work
 * (logins, storage, scans), so one kind that waits on a dead server cannot hold up another; completions
 * come back to the loop through one pipe. */
#include <fcntl.h>
#include <pthread.h>

#include "daemon/core/pved.h"

typedef struct job job;
struct job {
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
	job *next;
};

/* Threads and the most jobs waiting, per queue: logins are quick but PAM may wait on a directory; a
 * storage job may wait seconds for a server, and the status list asks up to 16 at once on its own
 * threads. */
static const struct {
	const char *name;
	unsigned threads, max_waiting;
} queue_spec[PVED_QUEUE_COUNT] = {
	[PVED_QUEUE_AUTH] = { "login", 2, 256 },
	[PVED_QUEUE_STORAGE] = { "storage", 4, 256 },
	[PVED_QUEUE_SCAN] = { "scan", 2, 32 },
	[PVED_QUEUE_GUEST] = { "guest", 2, 256 },
};

#define MAX_THREADS 4

typedef struct queue {
	pved_blocking *b;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	job *head, *tail;
	unsigned waiting;
	pthread_t threads[MAX_THREADS];
	unsigned n_threads;
} queue;

struct pved_blocking {
	queue q[PVED_QUEUE_COUNT];
	bool stop; /* under each queue's lock when it is set */
	int pipe[2]; /* workers write finished jobs' pointers; the loop reads them */
	struct event *ev;
};

static void *worker(void *arg)
{
	queue *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->head && !q->b->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->b->stop) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		job *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->waiting--;
		pthread_mutex_unlock(&q->lock);

		j->work(j->arg);
		/* A pointer is written whole: pipe writes up to PIPE_BUF are atomic. */
		ssize_t r;
		do
			r = write(q->b->pipe[1], &j, sizeof(j));
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
	for (size_t i = 0; i < PVED_QUEUE_COUNT; i++) {
		b->q[i].b = b;
		pthread_mutex_init(&b->q[i].lock, NULL);
		pthread_cond_init(&b->q[i].cond, NULL);
	}
	if (pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		int r = pve_error_set(err, errno, "pipe: %m");
		free(b);
		return r;
	}
	/* The workers' end blocks: a finished job must never be lost to EAGAIN. */
	fcntl(b->pipe[1], F_SETFL, 0);
	b->ev = event_new(d->base, b->pipe[0], EV_READ | EV_PERSIST, done_cb, b);
	event_add(b->ev, NULL);
	d->blocking = b;
	for (size_t i = 0; i < PVED_QUEUE_COUNT; i++) {
		queue *q = &b->q[i];
		for (; q->n_threads < queue_spec[i].threads; q->n_threads++) {
			int r = pthread_create(&q->threads[q->n_threads], NULL, worker, q);
			if (r != 0) {
				pved_blocking_free(b);
				d->blocking = NULL;
				return pve_error_set(err, r, "cannot start the %s threads: %s",
						     queue_spec[i].name, strerror(r));
			}
		}
	}
	return 0;
}

void pved_blocking_free(pved_blocking *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < PVED_QUEUE_COUNT; i++) {
		pthread_mutex_lock(&b->q[i].lock);
		b->stop = true;
		pthread_cond_broadcast(&b->q[i].cond);
		pthread_mutex_unlock(&b->q[i].lock);
	}
	for (size_t i = 0; i < PVED_QUEUE_COUNT; i++) {
		queue *q = &b->q[i];
		for (unsigned t = 0; t < q->n_threads; t++)
			pthread_join(q->threads[t], NULL);
		while (q->head) {
			job *j = q->head;
			q->head = j->next;
			free(j);
		}
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->cond);
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

int pved_run_blocking(pved *d, pved_queue which, void (*work)(void *arg), void (*done)(void *arg),
		      void *arg, pve_error **err)
{
	queue *q = &d->blocking->q[which];
	pthread_mutex_lock(&q->lock);
	if (q->waiting >= queue_spec[which].max_waiting) {
		pthread_mutex_unlock(&q->lock);
		return pve_error_set(err, EAGAIN, "too many %s requests waiting; try again later",
				     queue_spec[which].name);
	}
	job *j = xcalloc(1, sizeof(*j));
	j->work = work;
	j->done = done;
	j->arg = arg;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->waiting++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return 0;
}
