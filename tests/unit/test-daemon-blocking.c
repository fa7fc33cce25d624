/* Tests of the blocking queues: each kind of work has its own threads, so a storage queue stuck on a dead
 * server leaves logins alone; a queue refuses work past its limit; every done runs on the loop. */
#include <event2/event.h>
#include <pthread.h>

#include "daemon/core/pved.h"
#include "tests/unit/test.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static unsigned done_count, auth_done;

/* A job stuck until the test opens the gate, as one waiting on an unreachable NFS server. */
static void stuck_work(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void quick_work(void *arg)
{
	(void)arg;
}

static void count_done(void *arg)
{
	(void)arg;
	done_count++;
}

static void auth_job_done(void *arg)
{
	(void)arg;
	auth_done++;
}

static void run_loop_until(pved *d, unsigned *counter, unsigned want, int max_ms)
{
	for (int i = 0; i < max_ms && *counter < want; i++)
		event_base_loop(d->base, EVLOOP_NONBLOCK), usleep(1000);
}

static void test_queues_apart_and_bounded(void)
{
	pved *d = xcalloc(1, sizeof(*d));
	d->base = event_base_new();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pved_blocking_init(d, &err), 0);
	gate_open = false;
	done_count = auth_done = 0;

	/* the storage queue's threads all wait on the gate, and its waiting list fills up */
	unsigned queued = 0;
	while (pved_run_blocking(d, PVED_QUEUE_STORAGE, stuck_work, count_done, NULL, &err) == 0)
		queued++;
	check(err && err->code == EAGAIN);
	check(err && strstr(err->message, "too many storage requests waiting"));
	check_int(pve_error_http_status(EAGAIN), 503);
	pve_error_freep(&err);
	/* 4 running, 256 waiting (the threads may not have taken theirs yet: 256 to 260) */
	check(queued >= 256 && queued <= 260);

	/* a login meanwhile is done at once */
	check_int(pved_run_blocking(d, PVED_QUEUE_AUTH, quick_work, auth_job_done, NULL, &err), 0);
	check_int(pved_run_blocking(d, PVED_QUEUE_SCAN, quick_work, auth_job_done, NULL, &err), 0);
	run_loop_until(d, &auth_done, 2, 2000);
	check_int(auth_done, 2);
	check_int(done_count, 0);

	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	run_loop_until(d, &done_count, queued, 5000);
	check_int(done_count, queued);
	/* and it takes work again */
	check_int(pved_run_blocking(d, PVED_QUEUE_STORAGE, quick_work, count_done, NULL, &err), 0);
	run_loop_until(d, &done_count, queued + 1, 2000);
	check_int(done_count, queued + 1);
	pved_blocking_free(d->blocking);
	event_base_free(d->base);
	free(d);
}

TEST_MAIN(TEST(test_queues_apart_and_bounded))
