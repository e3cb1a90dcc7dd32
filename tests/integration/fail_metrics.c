/* For s3_hygiene.sh, loaded into tsmediafs with LD_PRELOAD: the metrics
 * server fails to start, as libmicrohttpd's MHD_start_daemon() does when it
 * cannot make its thread, after FAIL_METRICS_DELAY_MS (default 1500), so
 * that the mount's watcher has polled and the frontend's lease thread has
 * stored its lease by then.  A stand-in with the library's signature
 * (microhttpd.h); nothing is started. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct MHD_Daemon;

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, ...);

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, ...)
{
	const char *env = getenv("FAIL_METRICS_DELAY_MS");
	long ms = env ? atol(env) : 1500;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	(void)flags;
	(void)port;
	nanosleep(&ts, NULL);
	return NULL;
}
