/*
 * Program scaffolding, not part of libvshm: shutdown on SIGINT, SIGTERM and SIGHUP
 * for programs whose loop checks program_shutdown_requested() and then cleans up
 * (destroying a writer removes its segment). The handler only records the signal.
 */
#ifndef VSHM_PROGRAM_SHUTDOWN_H
#define VSHM_PROGRAM_SHUTDOWN_H

#include <stdbool.h>

/*
 * Installs the handlers, without SA_RESTART so that a blocking wait returns EINTR and
 * the loop can stop. Signals that follow the first within 3 seconds are absorbed, so
 * that cleanup (removing a segment) survives tools that signal twice; one that comes
 * later ends a program that failed to stop, the default way. Returns 0 or a negative
 * errno.
 */
int program_shutdown_install(void);

/* True once SIGINT, SIGTERM or SIGHUP arrived after program_shutdown_install(). */
bool program_shutdown_requested(void);

/* The signal that asked for shutdown, or 0. */
int program_shutdown_signal(void);

/*
 * Call last, after cleaning up: if a signal asked for the shutdown, ends the process by
 * that signal, as a shell or a launcher expects of a program that catches it (vshm-run
 * tells a stage that was stopped from one that reached the end of its stream this
 * way). Returns only when no signal came.
 */
void program_shutdown_finish(void);

#endif
