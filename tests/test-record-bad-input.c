/*
 * Every bad input to vshm-record gets one clear line on stderr and a non-zero exit,
 * and leaves nothing behind: bad options (status 2), unknown codecs and containers, a
 * codec the container cannot hold, an unwritable path, a file that exists, an
 * unreachable receiver, a stream that never comes or is not a stream (status 1, no file
 * created). A full disk stops the recording, says so, and keeps what was written
 * playable.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "program-util.h"
#include "record-util.h"
#include "test-util.h"

struct case_ {
	const char *arguments[8]; /* after the program; "@" is replaced by the output path */
	int status;
	const char *words; /* the message must contain this */
};

static bool exists(const char *path)
{
	struct stat status;
	return stat(path, &status) == 0;
}

/* Runs vshm-record with the case's arguments; checks status, one line, no file. */
static void run_case(const struct case_ *c, const char *output)
{
	char *argv[16] = { (char *)program_path("VSHM_RECORD") };
	int count = 1;
	for (int i = 0; c->arguments[i]; i++)
		argv[count++] =
		    strcmp(c->arguments[i], "@") == 0 ? (char *)output : (char *)c->arguments[i];
	argv[count] = NULL;
	char errors[4096];
	int status = program_run(argv, 30000, errors, sizeof(errors));
	char command[512] = "";
	for (int i = 1; i < count; i++) {
		strncat(command, argv[i], sizeof(command) - strlen(command) - 2);
		strcat(command, " ");
	}
	if (status != c->status || record_count_lines(errors) != 1 || !strstr(errors, c->words))
		fail_msg("vshm-record %s: status %d (expected %d), stderr:\n%s(expected one line "
		         "with '%s')",
		         command, status, c->status, errors, c->words);
	print_message("%-60.60s -> %d: %s", command, status, errors);
}

static void usage_errors(void **state)
{
	(void)state;
	static const struct case_ cases[] = {
		{ { NULL }, 2, "say which stream" },
		{ { "cam", NULL }, 2, "NAME OUTPUT" },
		{ { "cam", "a.mp4", "b.mp4", NULL }, 2, "exactly NAME and OUTPUT" },
		{ { "bad/name", "@", NULL }, 2, "bad/name" },
		{ { "cam", "", NULL }, 2, "OUTPUT is empty" },
		{ { "cam", "@", "--crf", "99", NULL }, 2, "--crf" },
		{ { "cam", "@", "--crf", "x", NULL }, 2, "--crf" },
		{ { "cam", "@", "--bitrate", "abc", NULL }, 2, "--bitrate 'abc'" },
		{ { "cam", "@", "--bitrate", "10", NULL }, 2, "--bitrate '10'" },
		{ { "cam", "@", "--bitrate", "4Q", NULL }, 2, "--bitrate '4Q'" },
		{ { "cam", "@", "--gop", "0", NULL }, 2, "--gop" },
		{ { "cam", "@", "--frames", "0", NULL }, 2, "--frames" },
		{ { "cam", "@", "--duration", "0", NULL }, 2, "--duration" },
		{ { "cam", "@", "--timeout", "soon", NULL }, 2, "--timeout" },
	};
	char output[512];
	snprintf(output, sizeof(output), "%s/usage.mp4", program_temporary_directory());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i], output);
		assert_false(exists(output));
	}
}

static void codec_and_container_errors(void **state)
{
	(void)state;
	static const struct case_ cases[] = {
		{ { "cam", "@", "--codec", "nosuchcodec", NULL },
		  1,
		  "'nosuchcodec' is not an encoder" },
		{ { "cam", "@", "--codec", "aac", NULL }, 1, "not a video encoder" },
		{ { "cam", "@", "--codec", "ffv1", "--crf", "10", NULL }, 1, "ffv1 is lossless" },
		{ { "cam", "@", "--codec", "ffv1", "--bitrate", "1M", NULL },
		  1,
		  "ffv1 is lossless" },
		{ { "cam", "@", "--crf", "20", "--bitrate", "1M", NULL }, 1, "exclude each other" },
		{ { "cam", "@", "--codec", "mjpeg", "--crf", "20", NULL }, 1, "no constant rate" },
		{ { "cam", "@", "--codec", "mjpeg", "--preset", "fast", NULL },
		  1,
		  "has no presets" },
		{ { "cam", "@", "--preset", "fastest", NULL },
		  1,
		  "'fastest' is not one of h264's" },
		{ { "cam", "@", "--codec", "rawvideo", NULL }, 1, "mp4 cannot hold rawvideo" },
		{ { "cam", "@", "--format", "nosuchformat", NULL },
		  1,
		  "'nosuchformat' is not a container" },
		{ { "cam", "@", "--split", NULL }, 1, "must hold one %d" },
		{ { "cam", "udp://127.0.0.1:9", "--split", NULL }, 1, "--split writes files" },
	};
	char output[512], unknown[512];
	snprintf(output, sizeof(output), "%s/codec.mp4", program_temporary_directory());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i], output);
		assert_false(exists(output));
	}
	snprintf(unknown, sizeof(unknown), "%s/clip.nosuchextension",
	         program_temporary_directory());
	static const struct case_ extension = { { "cam", "@", NULL },
		                                1,
		                                "cannot tell the container" };
	run_case(&extension, unknown);
	assert_false(exists(unknown));
}

/* Paths that cannot be written, a file that exists, receivers that are not there: said
 * before any stream is looked for (no stream 'cam' exists). */
static void output_errors(void **state)
{
	(void)state;
	const char *directory = program_temporary_directory();
	char under_file[600], missing[512], existing[512], refused[128], silent[128];
	snprintf(existing, sizeof(existing), "%s/existing.mkv", directory);
	FILE *file = fopen(existing, "w");
	assert_non_null(file);
	fputs("keep me", file);
	fclose(file);
	snprintf(under_file, sizeof(under_file), "%s/out.mkv", existing);
	snprintf(missing, sizeof(missing), "%s/no/such/directory/out.mkv", directory);
	snprintf(refused, sizeof(refused), "tcp://127.0.0.1:%d", record_free_port(SOCK_STREAM));
	snprintf(silent, sizeof(silent), "srt://127.0.0.1:%d?connect_timeout=500",
	         record_free_port(SOCK_DGRAM));
	const struct case_ cases[] = {
		{ { "cam", under_file, NULL }, 1, "cannot write" },
		{ { "cam", missing, NULL }, 1, "No such file or directory" },
		{ { "cam", existing, NULL }, 1, "exists: remove it" },
		{ { "cam", refused, NULL }, 1, "cannot reach tcp://" },
		{ { "cam", silent, NULL }, 1, "cannot reach srt://" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], NULL);
	assert_false(exists(missing));
	size_t size;
	char *kept = (char *)program_read_file(existing, &size);
	assert_non_null(kept);
	assert_int_equal(size, 7); /* untouched */
	free(kept);
}

/* A stream that never comes, and a file in its place that is no stream: the output,
 * created at the start, is removed again. */
static void stream_errors(void **state)
{
	(void)state;
	char name[64], output[512], segment[256];
	test_unique_name(name, sizeof(name), "rec-absent");
	snprintf(output, sizeof(output), "%s/absent.mkv", program_temporary_directory());
	const struct case_ absent = { { name, "@", "--timeout", "0.3", "--quiet", NULL },
		                      1,
		                      "did not appear within 0.3 s" };
	run_case(&absent, output);
	assert_false(exists(output));

	test_unique_name(name, sizeof(name), "rec-garbage");
	test_segment_path(name, segment, sizeof(segment));
	int fd = open(segment, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	char garbage[8192];
	memset(garbage, 0x5a, sizeof(garbage));
	assert_int_equal(write(fd, garbage, sizeof(garbage)), (ssize_t)sizeof(garbage));
	close(fd);
	const struct case_ foreign = { { name, "@", "--timeout", "2", NULL },
		                       1,
		                       "cannot record stream" };
	run_case(&foreign, output);
	unlink(segment);
	assert_false(exists(output));
}

/*
 * A full disk: a 256 KiB tmpfs in a private mount namespace (unshare -rm: a user
 * namespace, no root needed), or, where those are not allowed, a file size limit
 * (ulimit -f: EFBIG, the same path). vshm-record says the disk is full (or the file at
 * its largest), stops with status 1, and what it wrote decodes.
 */
static void full_disk(const char *file, const char *codec)
{
	char name[64], output[512], errors[512], script[1024];
	test_unique_name(name, sizeof(name), "rec-full");
	const char *directory = program_temporary_directory();
	snprintf(output, sizeof(output), "%s/%s", directory, file);
	snprintf(errors, sizeof(errors), "%s/full.err", directory);
	char *capture_argv[] = { (char *)program_path("VSHM_CAPTURE"),
		                 "test",
		                 "--size",
		                 "640x360",
		                 "--fps",
		                 "60",
		                 "--name",
		                 name,
		                 "--quiet",
		                 NULL };
	pid_t capture = program_start(capture_argv, NULL, NULL);
	bool tmpfs = system("/usr/bin/unshare -rm true 2>/dev/null") == 0;
	if (tmpfs)
		snprintf(script, sizeof(script),
		         "d=$(mktemp -d); mount -t tmpfs -o size=256k tmpfs \"$d\" || exit 99; "
		         "\"$0\" \"$1\" \"$d/%s\" --codec %s; s=$?; cp \"$d/%s\" \"$2\"; exit $s",
		         file, codec, file);
	else
		snprintf(script, sizeof(script),
		         "ulimit -f 256; exec \"$0\" \"$1\" \"$2\" --codec %s", codec);
	char *record_path = (char *)program_path("VSHM_RECORD");
	char *in_namespace[] = { "/usr/bin/unshare", "-rm", "/bin/sh", "-c", script,
		                 record_path,        name,  output,    NULL };
	char *limited[] = { "/bin/sh", "-c", script, record_path, name, output, NULL };
	char **argv = tmpfs ? in_namespace : limited;
	pid_t record = program_start(argv, NULL, errors);
	int status = test_wait(record, 60000);
	kill(capture, SIGTERM);
	test_wait(capture, 10000);
	char *text = record_read_text(errors);
	if (status != 1 ||
	    !strstr(text, tmpfs ? "the disk is full (No space left" : "largest file size"))
		fail_msg("vshm-record on a full %s: status %d, stderr:\n%s",
		         tmpfs ? "tmpfs" : "file size limit", status, text);
	long frames = record_status_frames(text);
	free(text);
	static uint32_t adlers[1024];
	size_t decoded = record_framecrc(output, adlers, 1024);
	print_message("%s on a full %s: %ld frames written before it filled up, %zu decode\n", file,
	              tmpfs ? "256 KiB tmpfs" : "256 KiB file size limit", frames, decoded);
	assert_true(decoded > 0);
}

static void full_disk_matroska(void **state)
{
	(void)state;
	full_disk("full.mkv", "ffv1");
}

/* MP4 is fragmented so that this holds for it too: a plain MP4 without its index,
 * written last, would not play at all. */
static void full_disk_mp4(void **state)
{
	(void)state;
	full_disk("full.mp4", "mjpeg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(usage_errors),       cmocka_unit_test(codec_and_container_errors),
		cmocka_unit_test(output_errors),      cmocka_unit_test(stream_errors),
		cmocka_unit_test(full_disk_matroska), cmocka_unit_test(full_disk_mp4),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
