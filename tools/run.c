/*
 * vshm-run: starts a whole pipeline side by side, names the streams between its
 * stages, watches them, and takes everything down again: no process and no segment of
 * the pipeline is left when it exits, even if a stage was killed.
 *
 *   vshm-run 'samples/testsrc2-h264.mp4 --loop ! grayscale ! view'
 *
 * The first stage is a vshm-capture source with its options; the middle stages are
 * filters (NAME runs vshm-filter-NAME); the last may be `view` (vshm-view) or
 * `record OUTPUT` (vshm-record).
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vshm/vshm.h>

#include "options.h"
#include "run-paths.h"
#include "run.h"
#include "shutdown.h"

#define RESTART_WINDOW_DEFAULT 60.0

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: vshm-run [options] 'SOURCE [options] ! STAGE [options] ! ...'\n"
	    "\n"
	    "Starts a pipeline of vshm processes side by side, connected by shared-memory\n"
	    "streams it names PREFIX.0, PREFIX.1, ... Stages are separated by '!', given as\n"
	    "one argument or as separate arguments:\n"
	    "  SOURCE   what vshm-capture reads: test, a video file, a URL, with its options\n"
	    "  NAME     a filter: runs vshm-filter-NAME (grayscale, invert, mirror, edges, ...)\n"
	    "           or a path to any filter program\n"
	    "  view     vshm-view, as the last stage\n"
	    "  record OUTPUT  vshm-record into a file or URL, as the last stage\n"
	    "\n"
	    "Example: vshm-run 'samples/testsrc2-h264.mp4 --loop ! grayscale ! view'\n"
	    "\n"
	    "Options:\n"
	    "  -n, --name PREFIX   stream name prefix (default run-PID)\n"
	    "      --restart       restart a stage that fails instead of stopping the\n"
	    "                      pipeline, at most %d times in a window of time\n"
	    "      --restart-window SEC  that window (default %.0f s): a stage that keeps\n"
	    "                      failing stops the pipeline, one that fails now and\n"
	    "                      then over days does not\n"
	    "      --lossless      every stage after the source takes every frame (the\n"
	    "                      filters get --lossless): nothing is dropped between\n"
	    "                      stages, and a source that can go faster (a file with\n"
	    "                      --fast) goes at the pace of the slowest stage\n"
	    "      --dry-run       print the commands and stop\n"
	    "  -v, --verbose       let the stages print their status lines\n" PROGRAM_INFO_HELP "\n"
	    "Ctrl-C or SIGTERM stop every stage. The pipeline also ends when its last stage\n"
	    "does (a closed viewer, or a finite source's end passed down the chain: a\n"
	    "filter whose input ended is stopped after %d s). A stage that ends any other\n"
	    "way (killed, stopped by a signal from elsewhere, or failing) has failed: it is\n"
	    "restarted with --restart; without it the pipeline stops, saying which stage.\n"
	    "Programs are looked up in $VSHM_PATH, beside vshm-run (and in the build\n"
	    "tree, whose Python module Python stages then import), then in $PATH.\n"
	    "Exit status: 0 done, 1 a stage failed, 2 bad usage; stopped by a signal,\n"
	    "vshm-run ends by that signal once every stage is gone.\n",
	    RESTARTS_MAX, RESTART_WINDOW_DEFAULT, UPSTREAM_GONE_GRACE_MS / 1000);
}

/* True if this vshm-run is the one the build tree made (it is run from there). */
static bool running_from_build_tree(void)
{
	char self[PATH_MAX];
	ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (length <= 0)
		return false;
	self[length] = '\0';
	return strcmp(dirname(self), RUN_BUILD_TOOLS_DIRECTORY) == 0;
}

/*
 * A Python stage (a run_filter() script) of a build tree imports the vshm module that
 * build made: its folder goes first on the stages' PYTHONPATH, if the build made one.
 * An installed vshm-run leaves PYTHONPATH alone; the module is installed then.
 */
static void add_build_python_path(void)
{
	char package[PATH_MAX];
	snprintf(package, sizeof(package), "%s/vshm/__init__.py", RUN_BUILD_PYTHON_DIRECTORY);
	if (!running_from_build_tree() || access(package, R_OK) != 0)
		return;
	const char *existing = getenv("PYTHONPATH");
	char path[8192];
	snprintf(path, sizeof(path), "%s%s%s", RUN_BUILD_PYTHON_DIRECTORY,
	         existing && *existing ? ":" : "", existing && *existing ? existing : "");
	setenv("PYTHONPATH", path, 1);
}

/*
 * Finds a stage's program. Looks in $VSHM_PATH, then beside vshm-run (installed, all
 * programs share one directory), then, for the vshm-run of a build tree, where that
 * build put each program (run-paths.h, generated from the build's own targets, so it
 * follows any folder a program moves to), then in $PATH.
 */
static void find_program(const char *name, char *out)
{
	out[0] = '\0';
	if (strchr(name, '/')) {
		if (access(name, X_OK) == 0)
			snprintf(out, PATH_MAX, "%s", name);
		return;
	}
	char directories[8192] = "";
	const char *path = getenv("VSHM_PATH");
	if (path)
		snprintf(directories, sizeof(directories), "%s:", path);
	char self[PATH_MAX];
	ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (length > 0) {
		self[length] = '\0';
		size_t used = strlen(directories);
		snprintf(directories + used, sizeof(directories) - used, "%s:", dirname(self));
	}
	if (running_from_build_tree()) {
		size_t used = strlen(directories);
		snprintf(directories + used, sizeof(directories) - used,
		         "%s:", RUN_BUILD_STAGE_DIRECTORIES);
	}
	const char *system_path = getenv("PATH");
	size_t used = strlen(directories);
	snprintf(directories + used, sizeof(directories) - used, "%s",
	         system_path ? system_path : "/usr/local/bin:/usr/bin:/bin");
	for (char *save = NULL, *directory = strtok_r(directories, ":", &save); directory;
	     directory = strtok_r(NULL, ":", &save)) {
		char candidate[PATH_MAX];
		int written = snprintf(candidate, sizeof(candidate), "%s/%s", directory, name);
		if (written > 0 && written < (int)sizeof(candidate) &&
		    access(candidate, X_OK) == 0) {
			snprintf(out, PATH_MAX, "%s", candidate);
			return;
		}
	}
}

static int add_argument(struct stage *stage, const char *argument)
{
	if (stage->argument_count + 1 >= ARGUMENTS_MAX) {
		program_say("stage %s has too many arguments", stage->label);
		return -1;
	}
	stage->arguments[stage->argument_count++] = strdup(argument);
	stage->arguments[stage->argument_count] = NULL;
	return 0;
}

/* Puts argument at index, the ones from there on moving one place up. */
static int insert_argument(struct stage *stage, int index, const char *argument)
{
	if (add_argument(stage, argument) < 0)
		return -1;
	char *added = stage->arguments[stage->argument_count - 1];
	memmove(&stage->arguments[index + 1], &stage->arguments[index],
	        (size_t)(stage->argument_count - 1 - index) * sizeof(char *));
	stage->arguments[index] = added;
	return 0;
}

/* Splits the tokens at '!' into stages and resolves their programs. Starts nothing. */
static int build_pipeline(struct pipeline *pipeline, char **tokens, int token_count)
{
	int first = 0;
	for (int i = 0; i < token_count; i++) {
		if (strchr(tokens[i], '!') && strcmp(tokens[i], "!") != 0) {
			program_say("'%s': put spaces around each '!' between stages", tokens[i]);
			return -1;
		}
	}
	for (int i = 0; i <= token_count; i++) {
		if (i < token_count && strcmp(tokens[i], "!") != 0)
			continue;
		int length = i - first;
		if (length == 0) {
			program_say("empty stage %s: two '!' in a row, or one at an end",
			            pipeline->count == 0 ? "at the start" : "after a '!'");
			return -1;
		}
		if (pipeline->count == STAGES_MAX) {
			program_say("more than %d stages", STAGES_MAX);
			return -1;
		}
		struct stage *stage = &pipeline->stages[pipeline->count];
		int index = pipeline->count++;
		const char *word = tokens[first];
		bool last = i == token_count;
		snprintf(stage->label, sizeof(stage->label), "%d (%s)", index, word);
		const char *program;
		char filter_name[PATH_MAX];
		int options_from = first + 1;
		if (index == 0) {
			program = "vshm-capture";
			options_from = first; /* every token is the source and its options */
			if (strcmp(word, "view") == 0) {
				program_say("the pipeline starts with a source (test, a "
				            "file, a URL), not 'view'");
				return -1;
			}
		} else if (strcmp(word, "view") == 0) {
			if (!last) {
				program_say("'view' shows a stream; it can only be the "
				            "last stage");
				return -1;
			}
			program = "vshm-view";
		} else if (strcmp(word, "record") == 0) {
			if (!last) {
				program_say("'record' writes a file or a network stream; it can "
				            "only be the last stage");
				return -1;
			}
			program = "vshm-record";
		} else if (strchr(word, '/')) {
			program = word;
		} else {
			snprintf(filter_name, sizeof(filter_name), "vshm-filter-%s", word);
			program = filter_name;
		}
		find_program(program, stage->program);
		if (!stage->program[0]) {
			if (program == filter_name)
				program_say("unknown stage '%s': no program %s beside vshm-run, in "
				            "$VSHM_PATH or in $PATH",
				            word, filter_name);
			else
				program_say("cannot find the program %s for stage %s", program,
				            stage->label);
			return -1;
		}
		add_argument(stage, stage->program);
		for (int t = options_from; t < i; t++) {
			if (add_argument(stage, tokens[t]) < 0)
				return -1;
		}
		first = i + 1;
	}
	/* Name the streams and hand them to the stages. */
	for (int index = 0; index < pipeline->count; index++) {
		struct stage *stage = &pipeline->stages[index];
		bool viewer = strcmp(basename(stage->arguments[0]), "vshm-view") == 0;
		/* vshm-record writes no stream, and takes its input first: NAME OUTPUT. */
		bool recorder = strcmp(basename(stage->arguments[0]), "vshm-record") == 0;
		stage->viewer = viewer;
		/* Filters and vshm-record take --lossless; the viewer shows the latest frame
		 * whatever. A stage with a next one publishes nothing before that one is
		 * there, or the first frames would go to nobody. */
		if (pipeline->lossless && index > 0 && !viewer &&
		    add_argument(stage, "--lossless") < 0)
			return -1;
		if (pipeline->lossless && index + 1 < pipeline->count &&
		    (add_argument(stage, "--wait-readers") < 0 || add_argument(stage, "1") < 0))
			return -1;
		if (!pipeline->verbose && add_argument(stage, "--quiet") < 0)
			return -1;
		if (!viewer && !recorder)
			snprintf(stage->output, sizeof(stage->output), "%.61s.%d", pipeline->prefix,
			         index);
		if (index == 0) {
			if (add_argument(stage, "--name") < 0 ||
			    add_argument(stage, stage->output) < 0)
				return -1;
			continue;
		}
		if (recorder) {
			if (insert_argument(stage, 1, pipeline->stages[index - 1].output) < 0)
				return -1;
			continue;
		}
		if (add_argument(stage, pipeline->stages[index - 1].output) < 0)
			return -1;
		if (!viewer && add_argument(stage, stage->output) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "restart", no_argument, NULL, 'r' },
		{ "restart-window", required_argument, NULL, 'w' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "lossless", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		PROGRAM_INFO_LONG_OPTIONS,
		{ 0 },
	};
	program_set_name("vshm-run");
	static struct pipeline pipeline;
	pipeline.restart_window_ns = (uint64_t)(RESTART_WINDOW_DEFAULT * 1e9);
	snprintf(pipeline.prefix, sizeof(pipeline.prefix), "run-%d", (int)getpid());
	int option;
	/* '+': stop at the first non-option, so stage options stay with their stage. */
	while ((option = getopt_long(argc, argv, "+n:v" PROGRAM_INFO_SHORT_OPTIONS, long_options,
	                             NULL)) != -1) {
		switch (option) {
		case 'n':
			if (vshm_name_check(optarg) < 0 || strlen(optarg) > VSHM_NAME_MAX - 3) {
				program_say("--name: %s", vshm_name_check(optarg) < 0
				                              ? vshm_error()
				                              : "at most 61 characters");
				return 2;
			}
			snprintf(pipeline.prefix, sizeof(pipeline.prefix), "%s", optarg);
			break;
		case 'w': {
			double seconds;
			if (program_parse_seconds("--restart-window", optarg, 0.1, &seconds) < 0)
				return 2;
			pipeline.restart_window_ns = (uint64_t)(seconds * 1e9);
			break;
		}
		case 'r':
			pipeline.restart = true;
			break;
		case 'l':
			pipeline.lossless = true;
			break;
		case 'd':
			pipeline.dry_run = true;
			break;
		case 'v':
			pipeline.verbose = true;
			break;
		default:
			return program_common_option(option, NULL, usage) > 0 ? 0 : 2;
		}
	}
	if (optind == argc) {
		program_say("give a pipeline, e.g. vshm-run 'test ! invert ! view'");
		return 2;
	}
	/* One argument holding the whole pipeline is split at white space. */
	char *tokens[STAGES_MAX * ARGUMENTS_MAX];
	int token_count = 0;
	for (int i = optind; i < argc; i++) {
		bool split = argc - optind == 1;
		for (char *save = NULL,
		          *token = split ? strtok_r(argv[i], " \t\n", &save) : argv[i];
		     token; token = split ? strtok_r(NULL, " \t\n", &save) : NULL) {
			if (token_count == (int)(sizeof(tokens) / sizeof(tokens[0]))) {
				program_say("the pipeline is too long");
				return 2;
			}
			tokens[token_count++] = token;
		}
	}
	if (build_pipeline(&pipeline, tokens, token_count) < 0)
		return 2;
	if (pipeline.dry_run) {
		for (int i = 0; i < pipeline.count; i++) {
			for (int a = 0; a < pipeline.stages[i].argument_count; a++)
				printf("%s%s", a ? " " : "", pipeline.stages[i].arguments[a]);
			printf("\n");
		}
		return 0;
	}
	add_build_python_path();
	program_shutdown_install();
	int exit_code = run_pipeline(&pipeline);
	program_shutdown_finish();
	return exit_code;
}
