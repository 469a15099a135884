/*
 * Shutdown on signals (see shutdown.h): the handler only records the signal; the
 * program's loop notices it and cleans up. Nothing unsafe happens in the handler.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "shutdown.h"

static volatile sig_atomic_t requested_signal;

static void on_signal(int signal_number)
{
	requested_signal = signal_number;
	/* A second Ctrl-C ends the program at once, for a user whose first went unheard. */
	signal(signal_number, SIG_DFL);
}

int program_shutdown_install(void)
{
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_signal;
	sigemptyset(&action.sa_mask);
	/* No SA_RESTART: a futex wait or a read must return EINTR so the loop can stop. */
	action.sa_flags = 0;
	const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	for (unsigned i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (sigaction(signals[i], &action, NULL) < 0)
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
