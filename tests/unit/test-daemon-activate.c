/* Tests of pved's activation gate: one activation of a storage at a time (two jobs never mount it twice),
 * while other storages are activated side by side. The plugin is a stand-in that counts how many
 * activations of each storage run at once; the lab test (test-scan.py) does the same with real NFS. */
#include <pthread.h>

#include "daemon/storage/storage-internal.h"
#include "tests/unit/test.h"

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int running_a, running_b, max_a, max_b, max_total, running_total;

static int slow_activate(const pve_storage *s, pve_error **err)
{
	(void)err;
	bool a = streq(s->id, "a");
	pthread_mutex_lock(&count_lock);
	int *running = a ? &running_a : &running_b, *max = a ? &max_a : &max_b;
	if (++*running > *max)
		*max = *running;
	if (++running_total > max_total)
		max_total = running_total;
	pthread_mutex_unlock(&count_lock);
	usleep(50000);
	pthread_mutex_lock(&count_lock);
	--*running;
	--running_total;
	pthread_mutex_unlock(&count_lock);
	return 0;
}

static const pve_storage_plugin slow_plugin = { .type = "slow", .activate = slow_activate };

typedef struct arg {
	pved *d;
	pve_storage st;
} arg;

static void *activate_thread(void *p)
{
	arg *a = p;
	check_int(pved_storage_activate(a->d, &a->st, NULL), 0);
	return NULL;
}

static void test_one_activation_per_storage(void)
{
	pved d = { 0 };
	check_int(pved_area_storage.init(&d, NULL), 0);
	enum { N = 8 };
	pthread_t t[N];
	arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = (arg){ &d, { .id = i % 2 ? "a" : "b", .plugin = &slow_plugin } };
		check_int(pthread_create(&t[i], NULL, activate_thread, &args[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	check_int(max_a, 1);
	check_int(max_b, 1);
	/* a and b went side by side */
	check_int(max_total, 2);
	pved_area_storage.stop(&d);
}

TEST_MAIN(TEST(test_one_activation_per_storage))
