/*
 * The processes of the viewer tests: a private Xvfb for the whole test program (its
 * cmocka group setup and teardown), the stream a vshm-capture publishes, vshm-view
 * itself, and the lines it prints.
 */
#ifndef VSHM_TEST_VIEWER_RUN_H
#define VSHM_TEST_VIEWER_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Group setup: starts the private Xvfb the viewers draw on. */
int viewer_setup(void **state);

/* Group teardown: stops any capture a failed test left running, then the Xvfb. */
int viewer_teardown(void **state);

/* True while pid has not exited; leaves it to be reaped by test_wait(). */
bool still_running(pid_t pid);

/* vshm-capture EXTRA... --name name --quiet, started in the background. */
pid_t start_capture(const char *name, char *const extra[]);

/* Runs vshm-view EXTRA... name to its end; returns its status, its stderr in errors. */
int run_viewer(const char *name, char *const extra[], char *errors, size_t size);

/* The frame number of the viewer's "snapshot of frame N" line; fails if there is none. */
uint64_t snapshot_frame_number(const char *errors);

/* The torn frames the viewer's summary says it dropped; fails if there is no summary. */
uint64_t torn_dropped(const char *errors);

/* Waits, up to 20 s, until a live reader is attached to stream name; fails if none. */
void wait_for_a_reader(const char *name);

#endif
