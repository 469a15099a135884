/*
 * Shutdown on signals (see shutdown.h): the handler records the first signal; the
 * program's loop notices it and cleans up, which must not be cut short by the next
 * signal that tools such as timeout(1) send soon after the first. Only a signal that
 * comes after the grace period, when the program has failed to stop, ends it at once.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shutdown.h"

/* How long cleanup may take before a repeated signal ends the program the hard way. */
#define GRACE_SECONDS 3

static volatile sig_atomic_t requested_signal;
static struct timespec first_signal_time; /* written by the handler only */

static void on_signal(int signal_number)
{
	/* clock_gettime(), signal() and raise() are async-signal-safe; the handler runs
	 * with the other shutdown signals blocked, so it is never re-entered. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!requested_signal) {
		first_signal_time = now;
		requested_signal = signal_number;
		return;
	}
	if (now.tv_sec - first_signal_time.tv_sec >= GRACE_SECONDS) {
		/* The program did not stop: a user pressing Ctrl-C again means it. */
		signal(signal_number, SIG_DFL);
		raise(signal_number);
	}
}

static const int shutdown_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define SHUTDOWN_SIGNAL_COUNT (sizeof(shutdown_signals) / sizeof(shutdown_signals[0]))

int program_shutdown_install(void)
{
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_signal;
	sigemptyset(&action.sa_mask);
	for (unsigned i = 0; i < SHUTDOWN_SIGNAL_COUNT; i++)
		sigaddset(&action.sa_mask, shutdown_signals[i]);
	/* No SA_RESTART: a futex wait or a read must return EINTR so the loop can stop. */
	action.sa_flags = 0;
	for (unsigned i = 0; i < SHUTDOWN_SIGNAL_COUNT; i++) {
		if (sigaction(shutdown_signals[i], &action, NULL) < 0)
			return -errno;
	}
	return 0;
}

bool program_shutdown_requested(void)
{
	return requested_signal != 0;
}

int program_shutdown_signal(void)
{
	return requested_signal;
}

void program_shutdown_finish(void)
{
	int signal_number = requested_signal;
	if (!signal_number)
		return;
	fflush(NULL);
	signal(signal_number, SIG_DFL);
	sigset_t unblock;
	sigemptyset(&unblock);
	sigaddset(&unblock, signal_number);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
	raise(signal_number);
}
