/*
 * Another local user squats a stream's name. As uid 65534, in the sticky /dev/shm, it
 * puts under the name a FIFO, a symbolic link to a file only root may read, a link to a
 * FIFO that blocks whoever opens it, a directory, a socket, or a world-writable file of
 * garbage. Every opener of stream names must fail closed: the writer (vshm-capture and
 * the library's), the viewer, a filter (its input and its output), a library reader, and
 * vshm-ls in every mode each return within 2 s, the programs with one line that says
 * what the file is and whose. Nothing is followed: the link targets are watched with
 * inotify and must never be opened, and a FIFO nobody may open is probed (a FIFO opened
 * for reading lets a writer in). Nothing of the target shows in any output. Nothing is
 * removed but a stale vshm stream of the caller's own.
 *
 * Also: a FIFO put under a name after its writer left, under readers attached to it
 * (one FIFO used to freeze every reader for good); and a writer running as uid 65534
 * against a stale segment of root's, which must say at once whose it is.
 *
 * Needs root, to act as uid 65534 (the test reports SKIP otherwise). Runs in a private
 * /dev/shm when the kernel allows it (a mount namespace of its own), so that vshm-ls
 * --clean sees this test's files only and no other test's.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "program-util.h"
#include "squat.h"
#include "test-util.h"

/* Every opener answers within this; a hang is killed after HANG_MS. */
#define ANSWER_SECONDS 2.0
#define HANG_MS        10000

static struct squat_world world;
static int problems;

/* Notes a failed check and goes on, so that one run shows every opener's behaviour. */
static void problem(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *format, ...)
{
	char text[1024];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(text, sizeof(text), format, arguments);
	va_end(arguments);
	print_error("PROBLEM: %s\n", text);
	problems++;
}

struct outcome {
	int status; /* exit status, 128 + signal, or -1 if it hung and was killed */
	double seconds;
	char out[16384];
	char err[4096];
};

static void read_text(const char *path, char *text, size_t size)
{
	size_t length = 0;
	char *data = (char *)program_read_file(path, &length);
	length = length < size - 1 ? length : size - 1;
	if (data)
		memcpy(text, data, length);
	text[length] = '\0';
	free(data);
	unlink(path);
}

/* Runs argv to its end (killed after HANG_MS), as root or as the attacker. */
static void run_program(char *const argv[], bool as_attacker, struct outcome *outcome)
{
	char out[512], err[512];
	snprintf(out, sizeof(out), "%s/victim.out", program_temporary_directory());
	snprintf(err, sizeof(err), "%s/victim.err", program_temporary_directory());
	uint64_t start = vshm_now_ns();
	pid_t pid;
	if (!as_attacker) {
		pid = program_start(argv, out, err);
	} else {
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			int err_fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (out_fd < 0 || err_fd < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
				_exit(126);
			program_exec_as(world.attacker, argv);
		}
	}
	outcome->status = test_wait(pid, HANG_MS);
	outcome->seconds = (double)(vshm_now_ns() - start) / 1e9;
	read_text(out, outcome->out, sizeof(outcome->out));
	read_text(err, outcome->err, sizeof(outcome->err));
}

/* What a library call in a forked child reports back through shared memory. */
struct library_result {
	int error; /* errno, or a negative errno returned */
	int value;
	char message[768];
};

struct library_run {
	const char *name;
	struct library_result *result;
	bool as_attacker;
};

static void run_library(int (*function)(void *), const char *name, bool as_attacker,
                        struct outcome *outcome, struct library_result *result)
{
	memset(result, 0, sizeof(*result));
	struct library_run run = { .name = name, .result = result, .as_attacker = as_attacker };
	uint64_t start = vshm_now_ns();
	pid_t pid = test_fork_tied(function, &run);
	outcome->status = test_wait(pid, HANG_MS);
	outcome->seconds = (double)(vshm_now_ns() - start) / 1e9;
	outcome->out[0] = '\0';
	snprintf(outcome->err, sizeof(outcome->err), "%s\n", result->message);
}

static void say(struct library_result *result, int error)
{
	result->error = error;
	snprintf(result->message, sizeof(result->message), "%s", vshm_error());
}

static bool become_attacker(const struct library_run *run)
{
	return !run->as_attacker || squat_become(world.attacker) == 0;
}

static int library_writer(void *argument)
{
	struct library_run *run = argument;
	if (!become_attacker(run))
		return 126;
	struct vshm_writer_options options = { .max_frame_bytes = 4096 };
	struct vshm_writer *writer = vshm_writer_create(run->name, &options);
	say(run->result, writer ? 0 : errno);
	vshm_writer_destroy(writer);
	return 0;
}

static int library_reader(void *argument)
{
	struct library_run *run = argument;
	struct vshm_reader *reader = vshm_reader_attach(run->name, NULL);
	say(run->result, reader ? 0 : errno);
	vshm_reader_detach(reader);
	return 0;
}

/* A reader started before its writer waits while the name is missing; a squatted name
 * is a final answer, given at once, not after the 10 s it was prepared to wait. */
static int library_waiting_reader(void *argument)
{
	struct library_run *run = argument;
	struct vshm_reader *reader = vshm_reader_attach_wait(run->name, NULL, 10000, NULL, NULL);
	say(run->result, reader ? 0 : errno);
	vshm_reader_detach(reader);
	return 0;
}

static int library_inspect(void *argument)
{
	struct library_run *run = argument;
	struct vshm_stream_info info;
	int result = vshm_stream_inspect(run->name, &info);
	run->result->error = result;
	run->result->value = (int)info.status;
	snprintf(run->result->message, sizeof(run->result->message), "%s (owner uid %u)",
	         info.problem, info.owner_uid);
	return 0;
}

static int library_remove(void *argument)
{
	struct library_run *run = argument;
	say(run->result, vshm_stream_remove_stale(run->name));
	return 0;
}

/*
 * The lines of text that say something went wrong. A filter also prints its summary
 * ("NAME: done: ... 0 frames ...") after a failure, even with --quiet, on purpose: it
 * says how far the filter got. That line is not counted.
 */
static int error_lines(const char *text)
{
	int count = 0;
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		if (!end)
			return -1; /* an unfinished line */
		const char *colon = strstr(line, ": done: ");
		if (!colon || colon > end)
			count++;
		line = end + 1;
	}
	return count;
}

/* The checks every answer to a squatted name must pass. */
static void check_answer(const struct squat *squat, const char *opener,
                         const struct outcome *outcome, int expected_status, const char *text,
                         bool one_line)
{
	const char *what = squat_kind_label(squat->kind);
	if (outcome->status < 0)
		problem("%s on %s: hung (killed after %d ms)", opener, what, HANG_MS);
	else if (outcome->seconds >= ANSWER_SECONDS)
		problem("%s on %s: answered after %.2f s", opener, what, outcome->seconds);
	if (expected_status >= 0 && outcome->status != expected_status)
		problem("%s on %s: status %d, expected %d (stderr: %s)", opener, what,
		        outcome->status, expected_status, outcome->err);
	if (one_line && error_lines(text) != 1)
		problem("%s on %s: not one line: \"%s\"", opener, what, text);
	if (!squat_says_what(squat, text))
		problem("%s on %s: does not say what the file is: \"%s\"", opener, what, text);
	char json_owner[64];
	snprintf(json_owner, sizeof(json_owner), "\"owner_uid\": %u", (unsigned)world.attacker);
	if (!squat_says_whose(&world, text) && !strstr(text, json_owner))
		problem("%s on %s: does not name the owner (%s): \"%s\"", opener, what,
		        world.owner_words, text);
	if (strstr(outcome->out, SQUAT_SECRET) || strstr(outcome->err, SQUAT_SECRET))
		problem("%s on %s: the link target's content leaked into its output", opener, what);
	char why[256];
	if (!squat_untouched(&world, squat, why, sizeof(why)))
		problem("%s on %s: %s", opener, what, why);
	print_message("  %-24s %.3f s  %s", opener, outcome->seconds, text[0] ? text : "\n");
}

/* The line of vshm-ls's table, or the object of its JSON, that names name. */
static void listing_entry(const char *listing, const char *name, bool json, char *out, size_t size)
{
	char key[128];
	snprintf(key, sizeof(key), json ? "{\"name\": \"%s\"" : "\n%s ", name);
	const char *start = strstr(listing, key);
	out[0] = '\0';
	if (!start)
		return;
	start += json ? 0 : 1;
	const char *end = strchr(start, json ? '}' : '\n');
	size_t length = end ? (size_t)(end - start) + 1 : strlen(start);
	snprintf(out, size, "%.*s%s", (int)length, start, json ? "\n" : "");
}

static const char *tool(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", program_path("VSHM_TOOLS"), name);
	return path;
}

static const char *filter_program(void)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/vshm-filter-invert", program_path("VSHM_FILTERS"));
	return path;
}

static void listers_answer(const struct squat *squat)
{
	struct outcome outcome;
	char entry[2048];
	char *plain[] = { (char *)tool("vshm-ls"), NULL };
	run_program(plain, false, &outcome);
	listing_entry(outcome.out, squat->name, false, entry, sizeof(entry));
	check_answer(squat, "vshm-ls", &outcome, 0, entry, true);

	char *json[] = { (char *)tool("vshm-ls"), "--json", NULL };
	run_program(json, false, &outcome);
	listing_entry(outcome.out, squat->name, true, entry, sizeof(entry));
	if (!strstr(entry, "\"state\": \"foreign\""))
		problem("vshm-ls --json on %s: not listed as foreign: %s",
		        squat_kind_label(squat->kind), entry);
	check_answer(squat, "vshm-ls --json", &outcome, 0, entry, true);

	/* --watch until its first listing shows the name, then Ctrl-C. */
	char out[512];
	snprintf(out, sizeof(out), "%s/watch.out", program_temporary_directory());
	char *watch[] = { (char *)tool("vshm-ls"), "--watch=0.2", NULL };
	uint64_t start = vshm_now_ns();
	pid_t pid = program_start(watch, out, NULL);
	for (int waited = 0; waited < HANG_MS; waited += 10) {
		size_t size = 0;
		char *text = (char *)program_read_file(out, &size);
		bool listed = text && memmem(text, size, squat->name, strlen(squat->name));
		free(text);
		if (listed)
			break;
		test_sleep_us(10000);
	}
	outcome.seconds = (double)(vshm_now_ns() - start) / 1e9;
	kill(pid, SIGINT);
	uint64_t interrupted = vshm_now_ns();
	outcome.status = test_wait(pid, HANG_MS);
	double stop_seconds = (double)(vshm_now_ns() - interrupted) / 1e9;
	if (outcome.status != 128 + SIGINT && outcome.status != 0)
		problem("vshm-ls --watch on %s: Ctrl-C gave status %d",
		        squat_kind_label(squat->kind), outcome.status);
	if (stop_seconds >= ANSWER_SECONDS)
		problem("vshm-ls --watch on %s: took %.2f s to stop on Ctrl-C",
		        squat_kind_label(squat->kind), stop_seconds);
	read_text(out, outcome.out, sizeof(outcome.out));
	outcome.err[0] = '\0';
	listing_entry(outcome.out, squat->name, false, entry, sizeof(entry));
	outcome.status = 0;
	check_answer(squat, "vshm-ls --watch", &outcome, 0, entry, true);

	/* --clean leaves a squat alone; check_answer() looks that it is there. */
	char *clean[] = { (char *)tool("vshm-ls"), "--clean", NULL };
	run_program(clean, false, &outcome);
	if (outcome.status < 0 || outcome.seconds >= ANSWER_SECONDS)
		problem("vshm-ls --clean on %s: status %d after %.2f s",
		        squat_kind_label(squat->kind), outcome.status, outcome.seconds);
	char why[256];
	if (!squat_untouched(&world, squat, why, sizeof(why)))
		problem("vshm-ls --clean on %s: %s", squat_kind_label(squat->kind), why);
	print_message("  %-24s %.3f s  %s", "vshm-ls --clean", outcome.seconds, outcome.out);
}

static void openers_answer(enum squat_kind kind)
{
	problems = 0;
	struct squat squat;
	squat_make(&world, kind, &squat);
	print_message("%s, uid %u, under '%s':\n", squat_kind_label(kind), world.attacker,
	              squat.name);
	struct outcome outcome;
	struct library_result *result = world.shared;

	char *capture[] = { (char *)program_path("VSHM_CAPTURE"),
		            "test",
		            "--name",
		            squat.name,
		            "--frames",
		            "3",
		            "--fast",
		            "--quiet",
		            NULL };
	run_program(capture, false, &outcome);
	check_answer(&squat, "vshm-capture", &outcome, 1, outcome.err, true);

	run_library(library_writer, squat.name, false, &outcome, result);
	if (result->error == 0)
		problem("library writer on %s: created the stream", squat_kind_label(kind));
	check_answer(&squat, "vshm_writer_create", &outcome, 0, outcome.err, true);

	if (getenv("VSHM_VIEW")) {
		/* Without a display, the viewer renders offscreen for --snapshot. */
		char snapshot[512];
		snprintf(snapshot, sizeof(snapshot), "%s/view.png", program_temporary_directory());
		char *view[] = { (char *)program_path("VSHM_VIEW"),
			         "--quiet",
			         squat.name,
			         "--snapshot",
			         snapshot,
			         NULL };
		run_program(view, false, &outcome);
		check_answer(&squat, "vshm-view", &outcome, 1, outcome.err, true);
	}

	char output[96];
	snprintf(output, sizeof(output), "%s.out", squat.name);
	char *filter_input[] = { (char *)filter_program(), "--quiet", squat.name, output, NULL };
	run_program(filter_input, false, &outcome);
	check_answer(&squat, "filter (input)", &outcome, 1, outcome.err, true);

	/* A filter whose output name is squatted, reading a live input. */
	char input[64];
	test_unique_name(input, sizeof(input), "squat-input");
	struct vshm_writer *writer = test_writer_create(input, VSHM_FORMAT_GRAY8, 64, 48, 3);
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 64, 48, &frame), 0);
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	char *filter_output[] = { (char *)filter_program(), "--quiet", input, squat.name, NULL };
	run_program(filter_output, false, &outcome);
	vshm_writer_destroy(writer);
	check_answer(&squat, "filter (output)", &outcome, 1, outcome.err, true);

	run_library(library_reader, squat.name, false, &outcome, result);
	if (result->error == 0)
		problem("library reader on %s: attached", squat_kind_label(kind));
	check_answer(&squat, "vshm_reader_attach", &outcome, 0, outcome.err, true);

	run_library(library_waiting_reader, squat.name, false, &outcome, result);
	if (result->error == 0 || result->error == ETIMEDOUT)
		problem("waiting library reader on %s: %s", squat_kind_label(kind),
		        strerror(result->error));
	check_answer(&squat, "vshm_reader_attach_wait", &outcome, 0, outcome.err, true);

	run_library(library_inspect, squat.name, false, &outcome, result);
	if (result->error != 0 || result->value != VSHM_STREAM_FOREIGN)
		problem("vshm_stream_inspect on %s: returned %d, status %d, not foreign",
		        squat_kind_label(kind), result->error, result->value);
	check_answer(&squat, "vshm_stream_inspect", &outcome, 0, outcome.err, true);

	run_library(library_remove, squat.name, false, &outcome, result);
	if (result->error != -EEXIST)
		problem("vshm_stream_remove_stale on %s: returned %d, not -EEXIST",
		        squat_kind_label(kind), result->error);
	check_answer(&squat, "vshm_stream_remove_stale", &outcome, 0, outcome.err, true);

	listers_answer(&squat);
	squat_remove(&squat);
}

static void fifo(void **state)
{
	(void)state;
	openers_answer(SQUAT_FIFO);
	assert_int_equal(problems, 0);
}

static void symbolic_link_to_a_secret(void **state)
{
	(void)state;
	openers_answer(SQUAT_LINK_TO_SECRET);
	assert_int_equal(problems, 0);
}

static void symbolic_link_to_a_fifo(void **state)
{
	(void)state;
	openers_answer(SQUAT_LINK_TO_FIFO);
	assert_int_equal(problems, 0);
}

static void directory(void **state)
{
	(void)state;
	openers_answer(SQUAT_DIRECTORY);
	assert_int_equal(problems, 0);
}

static void socket_file(void **state)
{
	(void)state;
	openers_answer(SQUAT_SOCKET);
	assert_int_equal(problems, 0);
}

static void world_writable_garbage(void **state)
{
	(void)state;
	openers_answer(SQUAT_GARBAGE);
	assert_int_equal(problems, 0);
}

/* --clean removes the caller's own stale stream, and only as its owner or root. */
static void clean_removes_only_the_callers_stale_streams(void **state)
{
	(void)state;
	char mine[64];
	test_unique_name(mine, sizeof(mine), "squat-stale");
	squat_make_stale(mine);
	struct squat squat;
	squat_make(&world, SQUAT_FIFO, &squat);

	/* As the attacker: root's stale stream is not its to remove. */
	struct outcome outcome;
	char *clean[] = { (char *)program_copy_for_other_user(tool("vshm-ls")), "--clean", NULL };
	run_program(clean, true, &outcome);
	print_message("vshm-ls --clean as uid %u: status %d: %s%s", world.attacker, outcome.status,
	              outcome.out, outcome.err);
	assert_int_equal(outcome.status, 0);
	assert_true(test_segment_exists(mine));

	/* As root: the stale stream goes, the squat stays. */
	char *root_clean[] = { (char *)tool("vshm-ls"), "--clean", NULL };
	run_program(root_clean, false, &outcome);
	print_message("vshm-ls --clean as root: status %d: %s%s", outcome.status, outcome.out,
	              outcome.err);
	assert_int_equal(outcome.status, 0);
	assert_false(test_segment_exists(mine));
	assert_non_null(strstr(outcome.out, mine));
	char why[256];
	if (!squat_untouched(&world, &squat, why, sizeof(why)))
		fail_msg("%s", why);
	squat_remove(&squat);
}

/* A non-root writer meets a stale segment of root's: it may not remove it (sticky
 * /dev/shm), and must say so at once, naming the owner, also when the segment's mode
 * would let it open the file. */
static void unprivileged_writer_names_the_owner_at_once(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "squat-root");
	squat_make_stale(name);
	struct outcome outcome;
	struct library_result *result = world.shared;
	run_library(library_writer, name, true, &outcome, result);
	print_message("library writer as uid %u: %.3f s: %s\n", world.attacker, outcome.seconds,
	              result->message);
	assert_int_equal(outcome.status, 0);
	assert_int_equal(result->error, EPERM);
	assert_non_null(strstr(result->message, "belongs to uid 0"));
	assert_true(outcome.seconds < ANSWER_SECONDS);

	char *capture[] = { (char *)program_copy_for_other_user(program_path("VSHM_CAPTURE")),
		            "test",
		            "--name",
		            name,
		            "--frames",
		            "3",
		            "--fast",
		            "--quiet",
		            NULL };
	run_program(capture, true, &outcome);
	print_message("vshm-capture as uid %u: status %d, %.3f s: %s", world.attacker,
	              outcome.status, outcome.seconds, outcome.err);
	assert_int_equal(outcome.status, 1);
	assert_non_null(strstr(outcome.err, "belongs to uid 0"));
	assert_non_null(strchr(outcome.err, '\n'));
	assert_string_equal(strchr(outcome.err, '\n'), "\n");
	assert_true(outcome.seconds < ANSWER_SECONDS);
	assert_true(test_segment_exists(name));

	/* The same segment readable and writable by all: it opens now, and is still not
	 * the writer's to take over. */
	char path[256];
	test_segment_path(name, path, sizeof(path));
	assert_int_equal(chmod(path, 0666), 0);
	run_library(library_writer, name, true, &outcome, result);
	print_message("library writer as uid %u, the segment 0666: %s\n", world.attacker,
	              result->message);
	assert_int_equal(outcome.status, 0);
	assert_int_equal(result->error, EPERM);
	assert_non_null(strstr(result->message, "belongs to uid 0"));
	assert_true(test_segment_exists(name));
	assert_int_equal(vshm_stream_remove_stale(name), 0);
}

static int group_setup(void **state)
{
	(void)state;
	squat_world_setup(&world, sizeof(struct library_result));
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	squat_world_teardown(&world);
	program_cleanup();
	return 0;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP test-squat: needs root, to squat names as uid %u\n", SQUAT_ATTACKER);
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo),
		cmocka_unit_test(symbolic_link_to_a_secret),
		cmocka_unit_test(symbolic_link_to_a_fifo),
		cmocka_unit_test(directory),
		cmocka_unit_test(socket_file),
		cmocka_unit_test(world_writable_garbage),
		cmocka_unit_test(clean_removes_only_the_callers_stale_streams),
		cmocka_unit_test(unprivileged_writer_names_the_owner_at_once),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
