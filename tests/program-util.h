/* Helpers for tests that run the real programs (vshm-capture, ffmpeg) as processes. */
#ifndef VSHM_TEST_PROGRAM_UTIL_H
#define VSHM_TEST_PROGRAM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vshm/vshm.h>

/* The path in environment variable name (set by meson), or the test fails/skips. */
const char *program_path(const char *variable);

/*
 * Starts argv[0] with argv, standard output and error to the given files (NULL:
 * /dev/null). The program gets SIGTERM if the test process dies. Returns the pid.
 */
pid_t program_start(char *const argv[], const char *output_path, const char *error_path);

/*
 * Starts argv like program_start(), with the stop points module (stop-points.c, path in
 * VSHM_STOP_POINTS_PRELOAD) preloaded and setting ("VSHM_STOP_AFTER_...=...") in its
 * environment: the program stops itself (SIGSTOP) at those points. The caller sends
 * SIGCONT to let it go on.
 */
pid_t program_start_with_stop_points(char *const argv[], const char *output_path,
                                     const char *error_path, const char *setting);

/*
 * Waits up to timeout_ms for pid, a child, to stop (and consumes that report). Returns
 * false if it exited instead (it is left for test_wait() to reap) or the time ran out.
 */
bool program_wait_stopped(pid_t pid, int timeout_ms);

/*
 * Runs argv to completion within timeout_ms (killed after), its standard error into
 * error_text (NUL-terminated, may be NULL). Returns the exit status, 128 + signal, or
 * -1 on timeout.
 */
int program_run(char *const argv[], int timeout_ms, char *error_text, size_t error_size);

/* A fresh temporary directory for this test process (removed by program_cleanup()). */
const char *program_temporary_directory(void);
void program_cleanup(void);

/*
 * Makes program startable by another user (uid 65534) wherever the checkout lies: a
 * build tree under /root is closed to that user, and exec fails with status 127. Copies
 * the program, and every library it loads from outside the system's library
 * directories (libvshm from the build tree), into program_other_user_directory(), which
 * every user may enter. Returns the copy's path (static storage, overwritten by the next
 * call). Run it with LD_LIBRARY_PATH set to that directory, as program_exec_as() does.
 */
const char *program_copy_for_other_user(const char *program);
const char *program_other_user_directory(void);

/*
 * In a forked child only: drops to uid and gid (no supplementary groups), points
 * LD_LIBRARY_PATH at program_other_user_directory() and executes argv; exits 126 if it
 * cannot become that user, 127 if the exec fails.
 */
void program_exec_as(uid_t uid, char *const argv[]);

/* Reads a whole file (malloc'd, caller frees, with a NUL after its bytes); NULL on
 * failure. */
uint8_t *program_read_file(const char *path, size_t *size);

/* Adler-32 as FFmpeg's framecrc computes it (starting from 0, not 1). */
uint32_t program_adler32(uint32_t adler, const uint8_t *data, size_t size);

/*
 * Reads the frames of a file ffmpeg wrote with -f framecrc: each frame's size and
 * Adler-32, in order, up to max of them. Returns how many; fails the test if the file
 * cannot be read.
 */
uint32_t program_read_framecrc(const char *path, uint32_t size[], uint32_t adler[], uint32_t max);

/*
 * Starts a private Xvfb server (path from VSHM_XVFB) on a free display number, waits
 * until it accepts clients and sets DISPLAY. Returns its pid; program_stop_xvfb() ends it.
 */
pid_t program_start_xvfb(void);
void program_stop_xvfb(pid_t pid);

/* An RGB24 picture read from a PNG (or any image) through the ffmpeg program. */
struct program_picture {
	int width, height;
	uint8_t *rgb; /* width * 3 bytes per row */
};

/* Decodes path with ffmpeg into *picture; the test fails if it cannot. */
void program_read_picture(const char *path, struct program_picture *picture);

/* CPU time (user + system) a process has used, in seconds, from /proc. */
double program_cpu_seconds(pid_t pid);

/*
 * Waits up to timeout_ms until pid uses at most share of a core over half a second
 * (give or take one clock tick, the resolution of the counts). True once it did; false
 * if it never did in that time (a process that keeps spinning).
 */
bool program_wait_quiet(pid_t pid, double share, int timeout_ms);

#endif
