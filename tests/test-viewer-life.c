/*
 * How vshm-view lives, under a private Xvfb: a writer restart (it follows the new
 * writer), bad input (a clear message), two viewers on one stream, almost no CPU while
 * the writer is paused, and its keys doing what its --help says.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "program-util.h"
#include "test-util.h"
#include "viewer-run.h"

/* Kill the writer, start another: the viewer goes on and shows the new one's frames. */
static void viewer_survives_a_writer_restart(void **state)
{
	(void)state;
	char name[64], snapshot[512];
	test_unique_name(name, sizeof(name), "restart");
	snprintf(snapshot, sizeof(snapshot), "%s/restart.png", program_temporary_directory());
	char *first_arguments[] = { "test", "--size", "320x240", "--fps", "30", NULL };
	pid_t capture = start_capture(name, first_arguments);
	char *argv[] = { (char *)program_path("VSHM_VIEW"),
		         "--snapshot",
		         snapshot,
		         "--after",
		         "60",
		         "--timeout",
		         "30",
		         name,
		         NULL };
	char errors_path[512];
	snprintf(errors_path, sizeof(errors_path), "%s/restart.err", program_temporary_directory());
	pid_t viewer = program_start(argv, NULL, errors_path);
	/* The viewer must be reading the first writer when it dies, or the restart is not
	 * what it sees: wait for it to attach, however slowly it starts. Then some frames
	 * (fewer than the 60 of the snapshot) before the kill. */
	wait_for_a_reader(name);
	test_sleep_us(500000);
	kill(capture, SIGKILL);
	test_wait(capture, 5000);
	test_sleep_us(500000); /* the viewer keeps the last frame, source lost */
	char *second_arguments[] = { "test", "--size", "200x150", "--format",
		                     "rgba", "--fps",  "30",      NULL };
	capture = start_capture(name, second_arguments);
	int status = test_wait(viewer, 30000);
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	size_t size;
	char *errors = (char *)program_read_file(errors_path, &size);
	assert_non_null(errors);
	errors[size] = '\0';
	if (status != 0)
		fail_msg("vshm-view failed (%d): %s", status, errors);
	free(errors);
	struct program_picture picture;
	program_read_picture(snapshot, &picture);
	/* The snapshot is the second writer's frame: its size. */
	assert_int_equal(picture.width, 200);
	assert_int_equal(picture.height, 150);
	free(picture.rgb);
	assert_false(test_segment_exists(name));
}

static void bad_input_gets_a_clear_message(void **state)
{
	(void)state;
	char errors[4096];
	char *no_arguments[] = { NULL };
	assert_int_equal(run_viewer("bad name", no_arguments, errors, sizeof(errors)), 2);
	assert_non_null(strstr(errors, "only [A-Za-z0-9._-] are allowed"));

	char name[64];
	test_unique_name(name, sizeof(name), "never");
	char *timeout[] = { "--timeout", "1", NULL };
	uint64_t start = vshm_now_ns();
	assert_int_equal(run_viewer(name, timeout, errors, sizeof(errors)), 1);
	assert_non_null(strstr(errors, "did not appear within 1 s"));
	assert_true(vshm_now_ns() - start < 10000000000u);

	char path[256];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	static uint8_t garbage[8192];
	memset(garbage, 0x5a, sizeof(garbage));
	assert_int_equal(write(fd, garbage, sizeof(garbage)), (ssize_t)sizeof(garbage));
	close(fd);
	assert_int_equal(run_viewer(name, timeout, errors, sizeof(errors)), 1);
	assert_non_null(strstr(errors, "not a vshm stream"));
	unlink(path);
	print_message("bad name, missing stream and foreign segment refused with a message\n");
}

static void two_viewers_watch_one_stream(void **state)
{
	(void)state;
	char name[64], first[512], second[512];
	test_unique_name(name, sizeof(name), "two");
	snprintf(first, sizeof(first), "%s/first.png", program_temporary_directory());
	snprintf(second, sizeof(second), "%s/second.png", program_temporary_directory());
	char *capture_arguments[] = { "test", "--size", "160x120", "--fps", "60", NULL };
	pid_t capture = start_capture(name, capture_arguments);
	char *argv_first[] = { (char *)program_path("VSHM_VIEW"),
		               "--snapshot",
		               first,
		               "--after",
		               "30",
		               "--timeout",
		               "20",
		               "--quiet",
		               name,
		               NULL };
	char *argv_second[] = { (char *)program_path("VSHM_VIEW"),
		                "--snapshot",
		                second,
		                "--after",
		                "30",
		                "--timeout",
		                "20",
		                "--quiet",
		                name,
		                NULL };
	pid_t one = program_start(argv_first, NULL, NULL);
	pid_t two = program_start(argv_second, NULL, NULL);
	assert_int_equal(test_wait(one, 30000), 0);
	assert_int_equal(test_wait(two, 30000), 0);
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	struct program_picture a, b;
	program_read_picture(first, &a);
	program_read_picture(second, &b);
	assert_int_equal(a.width, 160);
	assert_int_equal(b.width, 160);
	free(a.rgb);
	free(b.rgb);
}

/* With the writer stopped (SIGSTOP), the viewer sleeps: under 2% of a core over 5 s. */
static void idle_viewer_uses_almost_no_cpu(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "idle");
	char *capture_arguments[] = { "test", "--size", "320x240", "--fps", "30", NULL };
	pid_t capture = start_capture(name, capture_arguments);
	char *argv[] = { (char *)program_path("VSHM_VIEW"), "--quiet", name, NULL };
	pid_t viewer = program_start(argv, NULL, NULL);
	/* Measured only once the viewer is attached and its start (window, first upload)
	 * is over, however long that takes on this machine: a fixed pause let a slow start
	 * count as idle time. A viewer that keeps spinning never gets quiet and fails. */
	wait_for_a_reader(name);
	kill(capture, SIGSTOP);
	bool quiet = program_wait_quiet(viewer, 0.02, 20000);
	double before = program_cpu_seconds(viewer);
	uint64_t start = vshm_now_ns();
	test_sleep_us(5000000);
	double used = program_cpu_seconds(viewer) - before;
	double elapsed = (double)(vshm_now_ns() - start) / 1e9;
	kill(capture, SIGCONT);
	kill(viewer, SIGTERM);
	assert_int_equal(test_wait(viewer, 10000), 128 + SIGTERM);
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	print_message("idle viewer used %.3f s of CPU in %.1f s (%.2f%% of a core)\n", used,
	              elapsed, 100.0 * used / elapsed);
	assert_true(quiet);
	assert_true(used / elapsed < 0.02);
}

/* Runs xdotool with arguments; returns its exit status and its output in out. */
static int xdotool(char *const arguments[], char *out, size_t size)
{
	char *argv[16] = { "/usr/bin/xdotool" };
	int count = 1;
	for (int i = 0; arguments[i] && count < 15; i++)
		argv[count++] = arguments[i];
	argv[count] = NULL;
	char path[512];
	snprintf(path, sizeof(path), "%s/xdotool.out", program_temporary_directory());
	pid_t pid = program_start(argv, path, NULL);
	int status = test_wait(pid, 20000);
	size_t length = 0;
	char *text = (char *)program_read_file(path, &length);
	if (out && size) {
		snprintf(out, size, "%.*s", (int)length, text ? text : "");
	}
	free(text);
	return status;
}

/* The keys a user presses: s saves a snapshot, f toggles full screen, q quits. */
static void keys_do_what_the_help_says(void **state)
{
	(void)state;
	if (access("/usr/bin/xdotool", X_OK) != 0)
		skip(); /* scripts/packages.txt installs it; without it keys cannot be sent */
	char name[64], directory[512], window[64];
	test_unique_name(name, sizeof(name), "keys");
	snprintf(directory, sizeof(directory), "%s/keys", program_temporary_directory());
	mkdir(directory, 0700);
	char *capture_arguments[] = { "test", "--size", "320x240", "--fps", "30", NULL };
	pid_t capture = start_capture(name, capture_arguments);
	pid_t viewer = fork();
	assert_true(viewer >= 0);
	if (viewer == 0) {
		/* 's' saves into the current directory. */
		if (chdir(directory) != 0)
			_exit(126);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDERR_FILENO);
		execl(program_path("VSHM_VIEW"), "vshm-view", name, (char *)NULL);
		_exit(127);
	}
	char *search[] = { "search", "--sync", "--name", name, NULL };
	assert_int_equal(xdotool(search, window, sizeof(window)), 0);
	window[strcspn(window, "\n")] = '\0';
	test_sleep_us(500000);

	char *save[] = { "key", "--window", window, "s", NULL };
	assert_int_equal(xdotool(save, NULL, 0), 0);
	bool saved = false;
	for (int tries = 0; tries < 100 && !saved; tries++) {
		DIR *listing = opendir(directory);
		struct dirent *entry;
		while (listing && (entry = readdir(listing)))
			saved |= strncmp(entry->d_name, name, strlen(name)) == 0 &&
			         strstr(entry->d_name, ".png") != NULL;
		if (listing)
			closedir(listing);
		test_sleep_us(50000);
	}
	assert_true(saved);

	char *full[] = { "key", "--window", window, "f", NULL };
	assert_int_equal(xdotool(full, NULL, 0), 0);
	/* Without a window manager X11 ignores a full-screen request, so only check that
	 * the viewer lives on and still answers: q below must still quit it. */
	test_sleep_us(300000);

	char *quit[] = { "key", "--window", window, "q", NULL };
	assert_int_equal(xdotool(quit, NULL, 0), 0);
	assert_int_equal(test_wait(viewer, 10000), 0);
	kill(capture, SIGINT);
	assert_int_equal(test_wait(capture, 10000), 128 + SIGINT);
	print_message("keys: s saved a snapshot, f was taken, q quit\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(viewer_survives_a_writer_restart),
		cmocka_unit_test(bad_input_gets_a_clear_message),
		cmocka_unit_test(two_viewers_watch_one_stream),
		cmocka_unit_test(idle_viewer_uses_almost_no_cpu),
		cmocka_unit_test(keys_do_what_the_help_says),
	};
	return cmocka_run_group_tests(tests, viewer_setup, viewer_teardown);
}
