/*
 * The processes of the viewer tests (see viewer-run.h): a private Xvfb for the whole
 * test program, vshm-capture publishing into a stream, vshm-view, and what it prints.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "program-util.h"
#include "test-util.h"
#include "viewer-run.h"
#include "vshm/stream.h"

/* True while pid has not exited; leaves it to be reaped by test_wait(). */
bool still_running(pid_t pid)
{
	siginfo_t info = { 0 };
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == 0;
}

/* Every capture started, so that a failed test's leftovers are stopped at the end. */
static pid_t captures[64];
static int capture_count;
static pid_t xvfb;

pid_t start_capture(const char *name, char *const extra[])
{
	char *argv[32] = { (char *)program_path("VSHM_CAPTURE") };
	int count = 1;
	for (int i = 0; extra[i]; i++)
		argv[count++] = extra[i];
	argv[count++] = "--name";
	argv[count++] = (char *)name;
	argv[count++] = "--quiet";
	argv[count] = NULL;
	pid_t pid = program_start(argv, NULL, NULL);
	if (capture_count < 64)
		captures[capture_count++] = pid;
	return pid;
}

/* Runs vshm-view NAME with arguments; returns its status and stderr. */
int run_viewer(const char *name, char *const extra[], char *errors, size_t size)
{
	char *argv[32] = { (char *)program_path("VSHM_VIEW") };
	int count = 1;
	for (int i = 0; extra[i]; i++)
		argv[count++] = extra[i];
	argv[count++] = (char *)name;
	argv[count] = NULL;
	return program_run(argv, 60000, errors, size);
}

uint64_t snapshot_frame_number(const char *errors)
{
	const char *found = strstr(errors, "snapshot of frame ");
	if (!found)
		fail_msg("no snapshot line in: %s", errors);
	return strtoull(found + strlen("snapshot of frame "), NULL, 10);
}

uint64_t torn_dropped(const char *errors)
{
	const char *found = strstr(errors, "frames shown, ");
	if (!found)
		fail_msg("no summary line in: %s", errors);
	return strtoull(found + strlen("frames shown, "), NULL, 10);
}

/* Waits, up to 20 s, until a live reader is attached to stream name (the viewer has
 * started, however slowly); fails the test if none comes. */
void wait_for_a_reader(const char *name)
{
	struct vshm_stream_info info = { 0 };
	for (int waited = 0; waited < 20000; waited += 20) {
		if (vshm_stream_inspect(name, &info) == 0 && info.readers_alive >= 1)
			return;
		test_sleep_us(20000);
	}
	fail_msg("no reader attached to '%s' within 20 s", name);
}

int viewer_setup(void **state)
{
	(void)state;
	xvfb = program_start_xvfb();
	return 0;
}

int viewer_teardown(void **state)
{
	(void)state;
	/* Captures a failed test did not stop: waitpid() answers 0 only for a child of
	 * ours still running, never for a reaped pid some other process may now have. */
	for (int i = 0; i < capture_count; i++) {
		if (waitpid(captures[i], NULL, WNOHANG) == 0) {
			kill(captures[i], SIGINT);
			test_wait(captures[i], 5000);
		}
	}
	program_stop_xvfb(xvfb);
	program_cleanup();
	return 0;
}
