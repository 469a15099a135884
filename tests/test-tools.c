/*
 * vshm-ls and vshm-run as a user runs them: the lister on live, stale, foreign and
 * damaged segments and --clean removing only the stale one; the launcher started and
 * stopped with SIGINT, SIGTERM, after a stage was SIGKILLed, with --restart, and
 * refusing bad pipelines before starting anything. Leftovers are checked by pid and by
 * segment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "program-util.h"
#include "test-util.h"

static char *tool(const char *name)
{
	static char paths[4][512];
	static int next;
	char *path = paths[next++ % 4];
	snprintf(path, 512, "%s/%s", program_path("VSHM_TOOLS"), name);
	return path;
}

/* Runs vshm-ls with one option; returns its standard output (static). */
static const char *run_ls(const char *option, int expected_status)
{
	static char output[16384];
	char path[512];
	snprintf(path, sizeof(path), "%s/ls.out", program_temporary_directory());
	char *argv[] = { tool("vshm-ls"), option[0] ? (char *)option : NULL, NULL };
	pid_t pid = program_start(argv, path, NULL);
	assert_int_equal(test_wait(pid, 20000), expected_status);
	size_t size;
	char *text = (char *)program_read_file(path, &size);
	assert_non_null(text);
	size = size < sizeof(output) - 1 ? size : sizeof(output) - 1;
	memcpy(output, text, size);
	output[size] = '\0';
	free(text);
	return output;
}

/* The JSON object of stream name in vshm-ls --json output, or NULL. */
static const char *json_object(const char *json, const char *name)
{
	static char object[2048];
	char key[128];
	snprintf(key, sizeof(key), "{\"name\": \"%s\"", name);
	const char *start = strstr(json, key);
	if (!start)
		return NULL;
	const char *end = strchr(start, '}');
	size_t length = (size_t)(end - start + 1);
	memcpy(object, start, length < sizeof(object) ? length : sizeof(object) - 1);
	object[length < sizeof(object) ? length : sizeof(object) - 1] = '\0';
	return object;
}

static int live_writer_until_killed(void *argument)
{
	struct vshm_writer_options options = { .max_format = VSHM_FORMAT_GRAY8,
		                               .max_width = 32,
		                               .max_height = 32 };
	struct vshm_writer *writer = vshm_writer_create(argument, &options);
	if (!writer)
		return 1;
	struct vshm_frame frame;
	vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 32, 32, &frame);
	vshm_writer_publish(writer, &frame);
	pause();
	return 0;
}

static void ls_tells_live_stale_and_foreign_apart(void **state)
{
	(void)state;
	char live[64], stale[64], foreign[64], damaged[64], path[256];
	test_unique_name(live, sizeof(live), "ls-live");
	test_unique_name(damaged, sizeof(damaged), "ls-damaged");
	test_unique_name(stale, sizeof(stale), "ls-stale");
	test_unique_name(foreign, sizeof(foreign), "ls-foreign");
	struct vshm_writer *writer = test_writer_create(live, VSHM_FORMAT_NV12, 64, 48, 3);
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_NV12, 64, 48, &frame), 0);
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	struct vshm_reader *reader = vshm_reader_attach(live, NULL);
	assert_non_null(reader);
	pid_t child = test_fork(live_writer_until_killed, stale);
	for (int tries = 0; tries < 500 && !test_segment_exists(stale); tries++)
		test_sleep_us(2000);
	test_sleep_us(50000);
	kill(child, SIGKILL);
	assert_int_equal(test_wait(child, 5000), 128 + SIGKILL);
	test_segment_path(foreign, path, sizeof(path));
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello, not a stream", 19), 19);
	close(fd);
	/* A live writer's stream whose header was scribbled on (a slot count of 0): damaged,
	 * and not ours to remove while its writer lives. */
	struct vshm_writer *scribbled = test_writer_create(damaged, VSHM_FORMAT_GRAY8, 16, 16, 3);
	char damaged_path[256];
	test_segment_path(damaged, damaged_path, sizeof(damaged_path));
	fd = open(damaged_path, O_WRONLY);
	assert_true(fd >= 0);
	uint32_t zero = 0;
	assert_int_equal(pwrite(fd, &zero, sizeof(zero), 12), (ssize_t)sizeof(zero));
	close(fd);

	const char *json = run_ls("--json", 0);
	const char *object = json_object(json, live);
	assert_non_null(object);
	assert_non_null(strstr(object, "\"state\": \"live\""));
	assert_non_null(strstr(object, "\"format\": \"nv12\", \"width\": 64, \"height\": 48"));
	assert_non_null(strstr(object, "\"readers\": 1"));
	object = json_object(json, stale);
	assert_non_null(object);
	assert_non_null(strstr(object, "\"state\": \"stale\""));
	object = json_object(json, foreign);
	assert_non_null(object);
	assert_non_null(strstr(object, "\"state\": \"foreign\""));
	object = json_object(json, damaged);
	assert_non_null(object);
	assert_non_null(strstr(object, "\"state\": \"damaged\""));
	const char *table = run_ls("", 0);
	assert_non_null(strstr(table, "NAME"));
	assert_non_null(strstr(table, "nv12 64x48"));

	const char *cleaned = run_ls("--clean", 0);
	assert_non_null(strstr(cleaned, stale));
	assert_null(strstr(cleaned, live));
	assert_null(strstr(cleaned, foreign));
	assert_null(strstr(cleaned, damaged));
	assert_false(test_segment_exists(stale));
	assert_true(test_segment_exists(damaged));
	assert_true(test_segment_exists(live));
	assert_true(test_segment_exists(foreign));
	print_message("vshm-ls: live, stale, foreign and damaged told apart; --clean removed only "
	              "%s\n",
	              stale);
	unlink(path);
	vshm_writer_destroy(scribbled);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

/*
 * Anyone who can write to the shm directory can name a file under our prefix with
 * escape sequences and line breaks: vshm-ls must not pass them to the terminal of
 * whoever runs it (clearing the screen, forging a line saying a stream is live), nor
 * write bytes that are not UTF-8 into its JSON.
 */
static void ls_shows_a_hostile_name_escaped(void **state)
{
	(void)state;
	char base[64], path[256], hostile[320];
	test_unique_name(base, sizeof(base), "ls-hostile");
	test_segment_path(base, path, sizeof(path));
	snprintf(hostile, sizeof(hostile), "%s\x1b[2J\nFORGED live 1\xff", path);
	int fd = open(hostile, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	char *table = strdup(run_ls("", 0));
	const char *json = run_ls("--json", 0);
	unlink(hostile);
	print_message("vshm-ls showed the hostile name as: %.80s\n", strstr(table, base));
	char expected[128];
	snprintf(expected, sizeof(expected), "%s\\x1b[2J\\x0aFORGED live 1\\xff", base);
	assert_non_null(strstr(table, expected));
	assert_null(strstr(table, "\nFORGED"));
	for (const unsigned char *c = (const unsigned char *)table; *c; c++)
		assert_true((*c >= 0x20 && *c < 0x7f) || *c == '\n');
	for (const unsigned char *c = (const unsigned char *)json; *c; c++)
		assert_true((*c >= 0x20 && *c < 0x7f) || *c == '\n');
	free(table);
}

/* The pids whose parent is pid, from /proc. */
static int children_of(pid_t parent, pid_t *children, int capacity)
{
	DIR *proc = opendir("/proc");
	assert_non_null(proc);
	int count = 0;
	struct dirent *entry;
	while ((entry = readdir(proc)) && count < capacity) {
		char path[300], text[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", entry->d_name);
		FILE *file = fopen(path, "r");
		if (!file)
			continue;
		size_t length = fread(text, 1, sizeof(text) - 1, file);
		fclose(file);
		text[length] = '\0';
		const char *rest = strrchr(text, ')');
		int ppid = 0;
		char state;
		if (rest && sscanf(rest + 2, "%c %d", &state, &ppid) == 2 && ppid == parent)
			children[count++] = (pid_t)atoi(entry->d_name);
	}
	closedir(proc);
	return count;
}

static bool pipeline_segments_left(const char *prefix)
{
	DIR *directory = opendir(VSHM_SHM_DIR);
	assert_non_null(directory);
	char start[128];
	snprintf(start, sizeof(start), VSHM_SHM_PREFIX "%s.", prefix);
	bool found = false;
	struct dirent *entry;
	while ((entry = readdir(directory)))
		found |= strncmp(entry->d_name, start, strlen(start)) == 0;
	closedir(directory);
	return found;
}

/* Starts a three-stage pipeline and waits until its last stream runs. */
static pid_t start_pipeline(const char *prefix, bool restart, pid_t *stages, int *count)
{
	char last[96];
	snprintf(last, sizeof(last), "%s.2", prefix);
	char *argv[] = { tool("vshm-run"),
		         "--name",
		         (char *)prefix,
		         restart ? "--restart" : "--verbose",
		         "test --size 160x120 --fps 60 ! grayscale ! invert",
		         NULL };
	pid_t launcher = program_start(argv, NULL, NULL);
	struct vshm_reader *reader = vshm_reader_attach_wait(last, NULL, 10000, NULL, NULL);
	assert_non_null(reader);
	assert_int_equal(vshm_reader_wait(reader, 5000), 0);
	vshm_reader_detach(reader);
	*count = children_of(launcher, stages, 8);
	assert_int_equal(*count, 3);
	return launcher;
}

static void assert_all_gone(const char *prefix, const pid_t *stages, int count)
{
	for (int i = 0; i < count; i++)
		assert_true(kill(stages[i], 0) < 0 && errno == ESRCH);
	assert_false(pipeline_segments_left(prefix));
}

static void launcher_stops_cleanly(int signal_number)
{
	char prefix[64];
	test_unique_name(prefix, sizeof(prefix), "run");
	pid_t stages[8];
	int count;
	pid_t launcher = start_pipeline(prefix, false, stages, &count);
	kill(launcher, signal_number);
	/* Stopped by a signal, it ends by that signal, once every stage is gone. */
	assert_int_equal(test_wait(launcher, 15000), 128 + signal_number);
	assert_all_gone(prefix, stages, count);
}

static void launcher_stops_on_sigint(void **state)
{
	(void)state;
	launcher_stops_cleanly(SIGINT);
}

static void launcher_stops_on_sigterm(void **state)
{
	(void)state;
	launcher_stops_cleanly(SIGTERM);
}

/*
 * A stage that ends in any way but passing the end of its stream on has failed: the
 * pipeline stops, exit status 1, nothing left. A stage stopped by SIGTERM used to exit
 * 0, which vshm-run took for the end of the stream: it stopped the stages after it and
 * then waited for ever, half alive.
 */
static void check_failed_stage_stops_pipeline(int stage, int signal_number)
{
	char prefix[64];
	test_unique_name(prefix, sizeof(prefix), "failed");
	pid_t stages[8];
	int count;
	pid_t launcher = start_pipeline(prefix, false, stages, &count);
	kill(stages[stage], signal_number);
	assert_int_equal(test_wait(launcher, 15000), 1);
	assert_all_gone(prefix, stages, count);
}

static void launcher_cleans_up_after_a_killed_stage(void **state)
{
	(void)state;
	check_failed_stage_stops_pipeline(1, SIGKILL);
}

static void launcher_stops_when_a_filter_is_terminated(void **state)
{
	(void)state;
	check_failed_stage_stops_pipeline(1, SIGTERM);
}

static void launcher_stops_when_the_source_is_terminated(void **state)
{
	(void)state;
	check_failed_stage_stops_pipeline(0, SIGTERM);
}

/* With --restart, a stage that fails in any way is started again, and frames flow. */
static void check_failed_stage_restarts(int stage, int signal_number)
{
	char prefix[64], last[96];
	test_unique_name(prefix, sizeof(prefix), "restarted");
	snprintf(last, sizeof(last), "%s.2", prefix);
	pid_t stages[8];
	int count;
	pid_t launcher = start_pipeline(prefix, true, stages, &count);
	struct vshm_reader *reader = vshm_reader_attach(last, NULL);
	assert_non_null(reader);
	kill(stages[stage], signal_number);
	test_sleep_us(500000);
	/* Frames flow again through the restarted stage. */
	uint64_t deadline = vshm_now_ns() + 10000000000u;
	uint64_t fresh = 0;
	while (fresh < 10 && vshm_now_ns() < deadline) {
		int result = vshm_reader_wait(reader, 1000);
		struct vshm_frame frame;
		if (result == 0 && vshm_reader_acquire(reader, &frame) == 0) {
			vshm_reader_release(reader);
			fresh++;
		} else if (result == -ESTALE) {
			vshm_reader_reattach(reader);
		}
	}
	vshm_reader_detach(reader);
	assert_int_equal(fresh, 10);
	pid_t now[8];
	int now_count = children_of(launcher, now, 8);
	assert_int_equal(now_count, 3);
	kill(launcher, SIGINT);
	assert_int_equal(test_wait(launcher, 15000), 128 + SIGINT);
	assert_all_gone(prefix, stages, count);
	assert_all_gone(prefix, now, now_count);
}

static void launcher_restarts_a_killed_stage(void **state)
{
	(void)state;
	check_failed_stage_restarts(1, SIGKILL);
}

static void launcher_restarts_a_terminated_stage(void **state)
{
	(void)state;
	check_failed_stage_restarts(1, SIGTERM);
}

/* The pid of the launcher's child whose program name ends with name, or 0. */
static pid_t child_running(pid_t launcher, const char *name)
{
	pid_t children[8];
	int count = children_of(launcher, children, 8);
	for (int i = 0; i < count; i++) {
		char path[64], command[4096] = "";
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)children[i]);
		FILE *file = fopen(path, "r");
		if (!file)
			continue;
		size_t length = fread(command, 1, sizeof(command) - 1, file);
		fclose(file);
		command[length] = '\0'; /* the program's path: up to the first NUL */
		size_t size = strlen(command), wanted = strlen(name);
		if (size >= wanted && strcmp(command + size - wanted, name) == 0)
			return children[i];
	}
	return 0;
}

/* Kills the grayscale stage `times` times, each time once it is back, `apart_us` apart.
 * Returns how many kills found it running. */
static int kill_stage_repeatedly(pid_t launcher, int times, long apart_us)
{
	int killed = 0;
	pid_t previous = 0;
	for (int i = 0; i < times; i++) {
		/* A new one each time: the one just killed may linger a moment. */
		pid_t stage = 0;
		for (int tries = 0; tries < 300 && !stage; tries++) {
			stage = child_running(launcher, "vshm-filter-grayscale");
			if (!stage || stage == previous) {
				stage = 0;
				test_sleep_us(10000);
			}
		}
		if (!stage)
			break;
		kill(stage, SIGKILL);
		previous = stage;
		killed++;
		test_sleep_us(apart_us);
	}
	return killed;
}

/*
 * --restart's budget is 10 restarts within a window (a minute by default, set here
 * with --restart-window): a stage that keeps failing stops the pipeline, but one that
 * fails now and then does not, however long the pipeline runs. The budget used to be 10
 * for the pipeline's whole life.
 */
static void restart_budget_is_per_window(void **state)
{
	(void)state;
	char prefix[64];
	test_unique_name(prefix, sizeof(prefix), "window");
	char *argv[] = { tool("vshm-run"),
		         "--name",
		         prefix,
		         "--restart",
		         "--restart-window",
		         "1",
		         "test --size 160x120 --fps 60 ! grayscale ! invert",
		         NULL };
	pid_t launcher = program_start(argv, NULL, NULL);
	/* 14 failures, at most three within any second: the pipeline goes on. */
	assert_int_equal(kill_stage_repeatedly(launcher, 14, 400000), 14);
	assert_true(kill(launcher, 0) == 0 && child_running(launcher, "vshm-filter-grayscale"));
	kill(launcher, SIGINT);
	assert_int_equal(test_wait(launcher, 15000), 128 + SIGINT);
	assert_false(pipeline_segments_left(prefix));

	/* 11 failures within the default minute: the pipeline stops, status 1. */
	test_unique_name(prefix, sizeof(prefix), "budget");
	char *quick[] = { tool("vshm-run"),
		          "--name",
		          prefix,
		          "--restart",
		          "test --size 160x120 --fps 60 ! grayscale ! invert",
		          NULL };
	launcher = program_start(quick, NULL, NULL);
	kill_stage_repeatedly(launcher, 11, 0);
	assert_int_equal(test_wait(launcher, 15000), 1);
	assert_false(pipeline_segments_left(prefix));
	print_message("--restart: 14 failures spread out were all restarted; 11 within a "
	              "minute stopped the pipeline\n");
}

/* A finite source ends the whole pipeline: each filter passes the end on and stops. */
static void finite_pipeline_ends_by_itself(void **state)
{
	(void)state;
	char prefix[64];
	test_unique_name(prefix, sizeof(prefix), "finite");
	char *argv[] = { tool("vshm-run"), "--name", prefix,
		         "test --size 160x120 --frames 40 --fps 100 ! invert ! mirror", NULL };
	char errors[2048];
	uint64_t start = vshm_now_ns();
	assert_int_equal(program_run(argv, 30000, errors, sizeof(errors)), 0);
	assert_false(pipeline_segments_left(prefix));
	print_message("a 40-frame source through two filters ended by itself in %.1f s\n",
	              (double)(vshm_now_ns() - start) / 1e9);
}

/*
 * vshm-run of the build tree finds every stage of the build tree by itself: with PATH
 * holding only the system's directories and no VSHM_PATH, each stage resolves to the
 * program of that name which this build made. Moving a program's folder must not
 * break this silently.
 */
static void launcher_finds_every_stage_of_its_build(void **state)
{
	(void)state;
	const char *build_root = program_path("VSHM_BUILD_ROOT");
	bool with_viewer = getenv("VSHM_VIEW") != NULL;
	const char *expected[] = { "vshm-capture",       "vshm-filter-grayscale",
		                   "vshm-filter-invert", "vshm-filter-mirror",
		                   "vshm-filter-edges",  "vshm-filter-template",
		                   "vshm-view" };
	int stage_count = with_viewer ? 7 : 6;
	char *argv[] = { tool("vshm-run"), "--dry-run",
		         with_viewer
		             ? "test ! grayscale ! invert ! mirror ! edges ! template ! view"
		             : "test ! grayscale ! invert ! mirror ! edges ! template",
		         NULL };
	char output_path[512];
	snprintf(output_path, sizeof(output_path), "%s/dry-run.out", program_temporary_directory());

	/* The child inherits this environment: the system's PATH only, no VSHM_PATH. */
	char *saved_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char *saved_vshm_path = getenv("VSHM_PATH") ? strdup(getenv("VSHM_PATH")) : NULL;
	setenv("PATH", "/usr/bin:/bin", 1);
	unsetenv("VSHM_PATH");
	pid_t pid = program_start(argv, output_path, NULL);
	int status = test_wait(pid, 20000);
	if (saved_path)
		setenv("PATH", saved_path, 1);
	if (saved_vshm_path)
		setenv("VSHM_PATH", saved_vshm_path, 1);
	free(saved_path);
	free(saved_vshm_path);
	assert_int_equal(status, 0);

	size_t size;
	char *text = (char *)program_read_file(output_path, &size);
	assert_non_null(text);
	text[size] = '\0';
	char root[PATH_MAX];
	assert_non_null(realpath(build_root, root));
	int stages = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), stages++) {
		assert_true(stages < stage_count);
		char *program = strtok(line, " ");
		char resolved[PATH_MAX];
		if (!realpath(program, resolved) || access(resolved, X_OK) != 0)
			fail_msg("stage %d: '%s' is not an executable program", stages, program);
		const char *base = strrchr(resolved, '/') + 1;
		if (strcmp(base, expected[stages]) != 0 ||
		    strncmp(resolved, root, strlen(root)) != 0 || resolved[strlen(root)] != '/')
			fail_msg("stage %d: %s, expected %s from the build tree %s", stages,
			         resolved, expected[stages], root);
	}
	free(text);
	assert_int_equal(stages, stage_count);
	print_message("vshm-run found all %d stages in its build tree with PATH=/usr/bin:/bin\n",
	              stages);
}

static void bad_pipelines_start_nothing(void **state)
{
	(void)state;
	char prefix[64];
	test_unique_name(prefix, sizeof(prefix), "bad");
	const char *pipelines[][2] = {
		{ "test ! nosuchfilter ! view", "unknown stage 'nosuchfilter'" },
		{ "test ! ! view", "empty stage" },
		{ "view ! invert", "starts with a source" },
		{ "test ! view ! invert", "only be the last stage" },
		{ "test !! invert", "put spaces around each '!'" },
		{ "test!invert", "put spaces around each '!'" },
	};
	for (size_t i = 0; i < sizeof(pipelines) / sizeof(pipelines[0]); i++) {
		char *argv[] = { tool("vshm-run"), "--name", prefix, (char *)pipelines[i][0],
			         NULL };
		char errors[2048];
		assert_int_equal(program_run(argv, 10000, errors, sizeof(errors)), 2);
		if (!strstr(errors, pipelines[i][1]))
			fail_msg("'%s': %s", pipelines[i][0], errors);
		assert_false(pipeline_segments_left(prefix));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ls_tells_live_stale_and_foreign_apart),
		cmocka_unit_test(ls_shows_a_hostile_name_escaped),
		cmocka_unit_test(launcher_stops_on_sigint),
		cmocka_unit_test(launcher_stops_on_sigterm),
		cmocka_unit_test(launcher_cleans_up_after_a_killed_stage),
		cmocka_unit_test(launcher_restarts_a_killed_stage),
		cmocka_unit_test(launcher_stops_when_a_filter_is_terminated),
		cmocka_unit_test(launcher_stops_when_the_source_is_terminated),
		cmocka_unit_test(launcher_restarts_a_terminated_stage),
		cmocka_unit_test(restart_budget_is_per_window),
		cmocka_unit_test(finite_pipeline_ends_by_itself),
		cmocka_unit_test(launcher_finds_every_stage_of_its_build),
		cmocka_unit_test(bad_pipelines_start_nothing),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);
	program_cleanup();
	return failures;
}
