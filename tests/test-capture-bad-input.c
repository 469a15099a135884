/*
 * vshm-capture never crashes, hangs or leaves a segment on bad input: missing,
 * unreadable, non-video and audio-only files, a codec FFmpeg cannot decode, an
 * unreachable URL, every sample cut at 20 points and with random bytes flipped.
 * Each run is bounded by a timeout and must end with status 0 or 1 and one clear line.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "program-util.h"
#include "test-util.h"

#define RUN_TIMEOUT_MS 30000

static const char *const samples[] = {
	"testsrc2-h264.mp4",        "smptehdbars-vp9.webm", "mandelbrot-mjpeg422.avi",
	"testsrc-odd-rgb-ffv1.mkv", "size-change-h264.ts",
};

/* Runs vshm-capture on location; returns its status, with its stderr in errors. */
static int capture(const char *location, char *errors, size_t size)
{
	char name[64];
	test_unique_name(name, sizeof(name), "bad");
	char *argv[] = { (char *)program_path("VSHM_CAPTURE"),
		         (char *)location,
		         "--fast",
		         "--quiet",
		         "--name",
		         name,
		         NULL };
	int status = program_run(argv, RUN_TIMEOUT_MS, errors, size);
	if (test_segment_exists(name)) {
		test_segment_remove(name);
		fail_msg("'%s' left its segment behind", location);
	}
	if (status < 0)
		fail_msg("'%s' hung (killed after %d ms)", location, RUN_TIMEOUT_MS);
	if (status >= 128)
		fail_msg("'%s' died of signal %d: %s", location, status - 128, errors);
	return status;
}

static void fails_with(const char *location, const char *message)
{
	char errors[2048];
	int status = capture(location, errors, sizeof(errors));
	if (status != 1 || !strstr(errors, message))
		fail_msg("'%s': status %d, stderr \"%s\"; expected 1 and \"%s\"", location, status,
		         errors, message);
	/* One line naming the file. */
	assert_non_null(strstr(errors, "vshm-capture: "));
	assert_non_null(strchr(errors, '\n'));
	assert_null(strchr(strchr(errors, '\n') + 1, '\n'));
	print_message("%s\n", strtok(errors, "\n"));
}

/* As fails_with(), run as the unprivileged uid 65534: how root tests a file it could read. */
static void fails_as_nobody(const char *location, const char *message)
{
	char errors_path[512], errors[2048];
	snprintf(errors_path, sizeof(errors_path), "%s/nobody.err", program_temporary_directory());
	/* A copy that uid 65534 can run, wherever the build tree lies (/root is closed to it);
	 * the copy's directory also lets it reach files in the temporary directory. */
	char *argv[] = { (char *)program_copy_for_other_user(program_path("VSHM_CAPTURE")),
		         (char *)location,
		         "--fast",
		         "--quiet",
		         "--name",
		         "test-nobody",
		         NULL };
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(errors_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(126);
		program_exec_as(65534, argv);
	}
	int status = test_wait(pid, RUN_TIMEOUT_MS);
	size_t size = 0;
	char *text = (char *)program_read_file(errors_path, &size);
	snprintf(errors, sizeof(errors), "%.*s", (int)size, text ? text : "");
	free(text);
	if (status != 1 || !strstr(errors, message))
		fail_msg("'%s' as uid 65534: status %d, stderr \"%s\"; expected 1 and \"%s\"",
		         location, status, errors, message);
	print_message("%s", errors);
}

static void write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
}

static void make_with_ffmpeg(const char *output, const char *source, const char *codec,
                             const char *format)
{
	char *argv[] = { (char *)program_path("VSHM_FFMPEG"),
		         "-nostdin",
		         "-loglevel",
		         "error",
		         "-f",
		         "lavfi",
		         "-i",
		         (char *)source,
		         "-t",
		         "0.5",
		         "-c",
		         (char *)codec,
		         "-f",
		         (char *)format,
		         "-y",
		         (char *)output,
		         NULL };
	char errors[1024];
	if (program_run(argv, 60000, errors, sizeof(errors)) != 0)
		fail_msg("ffmpeg could not make %s: %s", output, errors);
}

static void bad_files_get_one_clear_line(void **state)
{
	(void)state;
	char path[512];
	const char *directory = program_temporary_directory();

	fails_with("/nonexistent/clip.mp4", "no such file");
	fails_with(directory, "cannot open"); /* a directory is not readable as a file */

	snprintf(path, sizeof(path), "%s/unreadable.mp4", directory);
	write_file(path, "x", 1);
	chmod(path, 0);
	if (geteuid() != 0)
		fails_with(path, "Permission denied");
	else
		fails_as_nobody(path, "Permission denied"); /* root would read it anyway */

	snprintf(path, sizeof(path), "%s/notes.mp4", directory);
	const char text[] = "These are not the frames you are looking for.\n";
	write_file(path, text, sizeof(text));
	fails_with(path, "not a video file");

	snprintf(path, sizeof(path), "%s/empty.mkv", directory);
	write_file(path, "", 0);
	fails_with(path, "not a video file");

	snprintf(path, sizeof(path), "%s/sound.wav", directory);
	make_with_ffmpeg(path, "sine=frequency=440", "pcm_s16le", "wav");
	fails_with(path, "has no video stream");

	/* a64_multi has an encoder in FFmpeg but no decoder. */
	snprintf(path, sizeof(path), "%s/commodore.nut", directory);
	make_with_ffmpeg(path, "testsrc=size=320x200:rate=5", "a64multi", "nut");
	fails_with(path, "is not supported by this FFmpeg");

	fails_with("http://127.0.0.1:9/clip.mp4", "cannot open");
}

/* A damaged file plays what can be played, or fails with a line; never worse. */
static void damaged_copies_never_crash_hang_or_leak_a_segment(void **state)
{
	(void)state;
	const char *directory = program_temporary_directory();
	uint64_t seed = 20261128;
	unsigned runs = 0, played = 0, refused = 0;
	for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
		char original[512], damaged[512];
		snprintf(original, sizeof(original), "%s/%s", program_path("VSHM_SAMPLES"),
		         samples[s]);
		snprintf(damaged, sizeof(damaged), "%s/damaged-%s", directory, samples[s]);
		size_t size;
		uint8_t *data = program_read_file(original, &size);
		assert_non_null(data);
		uint8_t *copy = malloc(size);
		assert_non_null(copy);

		/* Cut at 20 points, from the first bytes to the last. */
		for (unsigned cut = 0; cut < 20; cut++) {
			size_t length = (size_t)((double)size * (cut + 0.5) / 20.0);
			write_file(damaged, data, length);
			char errors[2048];
			int status = capture(damaged, errors, sizeof(errors));
			assert_true(status == 0 || status == 1);
			runs++;
			status == 0 ? played++ : refused++;
		}
		/* 10 copies with 1 to 64 random bytes flipped, not in the first 1 KiB
		 * only: anywhere in the file. */
		for (unsigned copy_index = 0; copy_index < 10; copy_index++) {
			memcpy(copy, data, size);
			unsigned flips = 1 + (unsigned)(test_random(&seed) % 64);
			for (unsigned f = 0; f < flips; f++)
				copy[test_random(&seed) % size] ^=
				    (uint8_t)(1 + test_random(&seed) % 255);
			write_file(damaged, copy, size);
			char errors[2048];
			int status = capture(damaged, errors, sizeof(errors));
			assert_true(status == 0 || status == 1);
			runs++;
			status == 0 ? played++ : refused++;
		}
		free(copy);
		free(data);
	}
	print_message("%u damaged files: %u played (what was decodable), %u refused with a "
	              "message, no crash, hang or leftover segment\n",
	              runs, played, refused);
}

/* A frame destroyed in the middle of a file is skipped and counted; the rest plays. */
static void corrupt_frame_in_the_middle_is_skipped_and_counted(void **state)
{
	(void)state;
	char original[512], damaged[512];
	snprintf(original, sizeof(original), "%s/mandelbrot-mjpeg422.avi",
	         program_path("VSHM_SAMPLES"));
	snprintf(damaged, sizeof(damaged), "%s/one-bad-frame.avi", program_temporary_directory());
	size_t size;
	uint8_t *data = program_read_file(original, &size);
	assert_non_null(data);
	/* Each MJPEG frame starts with FF D8 FF; wipe the start of the 26th of 50. */
	unsigned found = 0;
	for (size_t i = 0; i + 400 < size; i++) {
		if (data[i] == 0xff && data[i + 1] == 0xd8 && data[i + 2] == 0xff &&
		    ++found == 26) {
			memset(data + i, 0, 400);
			break;
		}
	}
	assert_int_equal(found, 26);
	write_file(damaged, data, size);
	free(data);

	char name[64];
	test_unique_name(name, sizeof(name), "one-bad");
	char *argv[] = {
		(char *)program_path("VSHM_CAPTURE"), damaged, "--fast", "--name", name, NULL
	};
	char errors[4096];
	assert_int_equal(program_run(argv, RUN_TIMEOUT_MS, errors, sizeof(errors)), 0);
	if (!strstr(errors, "| 49 frames | 1 skipped |"))
		fail_msg("expected 49 frames and 1 skipped in: %s", errors);
	assert_false(test_segment_exists(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_files_get_one_clear_line),
		cmocka_unit_test(damaged_copies_never_crash_hang_or_leak_a_segment),
		cmocka_unit_test(corrupt_frame_in_the_middle_is_skipped_and_counted),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
