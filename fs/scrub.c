/* The scrub: every pack of the store checked chunk by chunk on a schedule
 * (-o scrub=INTERVAL), so damage that leaves a pack file's size, mtime and ctime
 * alone (a failing disk) is found and, from then on, read as EIO rather
 * than served from the unchecked fast path (see core/store/verified.c). */
#include "fs.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "tsmedia/log.h"
#include "tsmedia/store.h"

static void scrub_pass(struct fs *fs, struct tsm_store *store)
{
	/* Unmounting stops a pass between chunks. */
	struct tsm_pack_verify_options opts = { .since = 0, .record = true,
						.cancel = &fs->scrub_stopping };
	struct tsm_pack_verify_result res;
	int rc = tsm_store_verify_packs(store, &opts, NULL, &res);

	tsm_store_reads_done(store);
	if (rc < 0) {
		tsm_error("scrub of %s could not run: %s", fs->store_dir, strerror(-rc));
		return;
	}
	if (__atomic_load_n(&fs->scrub_stopping, __ATOMIC_RELAXED))
		return; /* cut short: counts of part of a pass */
	if (res.packs_bad)
		tsm_error("scrub: %llu damaged chunks in %llu of %llu packs of %s; reads of them"
			  " fail with EIO (see above; 'tsmedia verify' names the content)",
			  (unsigned long long)res.chunks_bad, (unsigned long long)res.packs_bad,
			  (unsigned long long)res.packs_checked, fs->store_dir);
	else
		tsm_info("scrub: %llu packs, %llu chunks, %llu bytes checked: intact",
			 (unsigned long long)res.packs_checked, (unsigned long long)res.chunks_checked,
			 (unsigned long long)res.bytes_checked);
}

static void *scrub_main(void *arg)
{
	struct fs *fs = arg;
	struct tsm_store *store = NULL;

	if (tsm_store_open(fs->store_dir, &store) < 0) {
		tsm_error("scrub: cannot open %s; no scrub", fs->store_dir);
		return NULL;
	}
	pthread_mutex_lock(&fs->lock);
	while (!fs->scrub_stopping) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)fs->scrub_interval;
		while (!fs->scrub_stopping &&
		       pthread_cond_timedwait(&fs->scrub_wake, &fs->lock, &until) != ETIMEDOUT)
			;
		if (fs->scrub_stopping)
			break;
		pthread_mutex_unlock(&fs->lock);
		scrub_pass(fs, store);
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	tsm_store_close(store);
	return NULL;
}

int fs_scrub_start(struct fs *fs)
{
	if (fs->scrub_interval <= 0)
		return 0;
	pthread_cond_init(&fs->scrub_wake, NULL);
	if (pthread_create(&fs->scrubber, NULL, scrub_main, fs) != 0)
		return -EAGAIN;
	fs->scrub_running = true;
	return 0;
}

void fs_scrub_stop(struct fs *fs)
{
	if (!fs->scrub_running)
		return;
	pthread_mutex_lock(&fs->lock);
	__atomic_store_n(&fs->scrub_stopping, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&fs->scrub_wake);
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->scrubber, NULL);
	fs->scrub_running = false;
}
