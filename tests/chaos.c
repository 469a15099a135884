/*
 * vshm-chaos: a pipeline under random signals. It starts
 *
 *   vshm-run --restart 'test --size 160x120 --fps 30 --format rgb24 ! grayscale ! invert'
 *
 * and checks, as a reader of the last stream, that every intact frame it takes is the
 * inverted gray of the test pattern (docs/test-pattern.md) for its frame number, pixel
 * for pixel. Meanwhile, for SECONDS (default 60), it hits a random stage with SIGKILL,
 * SIGTERM, or SIGSTOP and SIGCONT a random moment later, one event at a time, and
 * measures how long the pipeline takes to recover: from the signal (from SIGCONT for a
 * stop) until a frame captured after it reaches the checker, verified. Kills of a stage
 * stay within vshm-run's restart budget (10 a minute). Then it measures the frame rate
 * for 5 s, stops vshm-run with SIGINT, and looks for what is left.
 *
 * Pass: every recovery under 2 s; no intact frame with wrong pixels (a torn frame
 * accepted); frames at 90% of the nominal 30 fps or better at the end; after SIGINT,
 * vshm-run ends by it and no process, zombie or segment of the pipeline is left (the
 * checker is a child subreaper, so a stage orphaned by vshm-run would be its child).
 *
 *   vshm-chaos --run PATH/vshm-run [--seconds N] [--seed N]
 *
 * scripts/chaos.sh builds and runs it; CI runs it for 60 s. Exit status 0 on a pass.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vshm/vshm.h>

#include "pattern.h"

#define WIDTH            160
#define HEIGHT           120
#define FPS              30
#define STAGE_COUNT      3
#define SECOND_NS        UINT64_C(1000000000)
#define RECOVERY_LIMIT   (2 * SECOND_NS)
#define NEVER_NS         (15 * SECOND_NS) /* no recovery by then: give up the run */
#define QUIET_NS         (5 * SECOND_NS)
#define RATE_SHARE       0.9
#define KILLS_PER_MINUTE 8 /* vshm-run allows 10 restarts a minute; stay below */
#define EVENTS_MAX       1024

static const char *const stage_programs[STAGE_COUNT] = {
	"vshm-capture",
	"vshm-filter-grayscale",
	"vshm-filter-invert",
};

enum event_kind { EVENT_KILL, EVENT_TERM, EVENT_STOP, EVENT_KIND_COUNT };
static const char *const event_names[] = { "SIGKILL", "SIGTERM", "SIGSTOP+SIGCONT" };

struct event {
	enum event_kind kind;
	int stage;
	uint64_t start_ns;    /* the signal, or SIGCONT for a stop */
	uint64_t recovery_ns; /* until a frame captured after start was verified */
};

struct checker {
	struct vshm_reader *reader;
	uint64_t last_sequence;
	uint64_t frames, wrong, torn;
	uint64_t last_capture_ns; /* capture time of the newest verified frame */
	char wrong_example[160];
};

static uint64_t random_state;

static uint64_t next_random(void)
{
	/* xorshift64* */
	random_state ^= random_state >> 12;
	random_state ^= random_state << 25;
	random_state ^= random_state >> 27;
	return random_state * UINT64_C(2685821657736338717);
}

static uint64_t random_between_ns(double low_seconds, double high_seconds)
{
	double share = (double)(next_random() % 1000000) / 1e6;
	return (uint64_t)((low_seconds + (high_seconds - low_seconds) * share) * 1e9);
}

static void sleep_ns(uint64_t nanoseconds)
{
	struct timespec pause = { (time_t)(nanoseconds / SECOND_NS),
		                  (long)(nanoseconds % SECOND_NS) };
	while (nanosleep(&pause, &pause) < 0 && errno == EINTR) {
	}
}

/* The pid of our child process whose program is name's, or 0; children lists them. */
static pid_t find_process(pid_t parent, const char *program)
{
	DIR *proc = opendir("/proc");
	struct dirent *entry;
	pid_t found = 0;
	while (proc && (entry = readdir(proc)) && !found) {
		char path[300], text[4096];
		snprintf(path, sizeof(path), "/proc/%s/stat", entry->d_name);
		FILE *file = fopen(path, "r");
		if (!file)
			continue;
		size_t length = fread(text, 1, sizeof(text) - 1, file);
		fclose(file);
		text[length] = '\0';
		const char *rest = strrchr(text, ')');
		int ppid = 0;
		char state = '?';
		if (!rest || sscanf(rest + 2, "%c %d", &state, &ppid) != 2 || ppid != parent)
			continue;
		if (!program) {
			found = atoi(entry->d_name);
			fprintf(stderr, "chaos: pid %d (state %c) is still our child\n", found,
			        state);
			break;
		}
		snprintf(path, sizeof(path), "/proc/%s/cmdline", entry->d_name);
		file = fopen(path, "r");
		if (!file)
			continue;
		length = fread(text, 1, sizeof(text) - 1, file);
		fclose(file);
		text[length] = '\0';
		const char *base = strrchr(text, '/');
		if (state != 'Z' && strcmp(base ? base + 1 : text, program) == 0)
			found = atoi(entry->d_name);
	}
	if (proc)
		closedir(proc);
	return found;
}

/* Counts pixels of a gray frame that are not the inverted gray of the pattern. */
static uint64_t wrong_pixels(const struct vshm_frame *frame)
{
	if (frame->format != VSHM_FORMAT_GRAY8 || frame->width != WIDTH || frame->height != HEIGHT)
		return (uint64_t)WIDTH * HEIGHT;
	uint64_t wrong = 0;
	for (uint32_t y = 0; y < HEIGHT; y++) {
		const uint8_t *row = frame->plane[0] + (uint64_t)y * frame->stride[0];
		for (uint32_t x = 0; x < WIDTH; x++) {
			uint8_t gray = pattern_gray(
			    pattern_color_at(frame->frame_number, x, y, WIDTH, HEIGHT));
			uint8_t inverted = (uint8_t)(255 - gray);
			wrong += row[x] != inverted;
		}
	}
	return wrong;
}

/* Waits up to 10 ms for a new frame of the last stream and checks it. */
static void check_step(struct checker *checker)
{
	int result = vshm_reader_wait(checker->reader, 10);
	if (result == -ESTALE) {
		/* A stage restarted and made its stream anew: follow it (or retry soon). */
		if (vshm_reader_reattach(checker->reader) < 0)
			sleep_ns(5000000);
		return;
	}
	struct vshm_frame frame;
	if (result != 0 || vshm_reader_acquire(checker->reader, &frame) != 0)
		return;
	if (frame.sequence == checker->last_sequence) {
		vshm_reader_release(checker->reader);
		return;
	}
	checker->last_sequence = frame.sequence;
	/* Read in place; what was read counts only if release says it stayed intact. */
	uint64_t wrong = wrong_pixels(&frame);
	if (vshm_reader_release(checker->reader) != 1) {
		checker->torn++;
		return;
	}
	if (wrong) {
		if (checker->wrong++ == 0)
			snprintf(checker->wrong_example, sizeof(checker->wrong_example),
			         "frame %llu: %llu of %d pixels wrong (%s %ux%u)",
			         (unsigned long long)frame.frame_number, (unsigned long long)wrong,
			         WIDTH * HEIGHT, vshm_format_name(frame.format), frame.width,
			         frame.height);
		return;
	}
	checker->frames++;
	checker->last_capture_ns = frame.capture_ns;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void show_log(const char *path)
{
	char command[600];
	snprintf(command, sizeof(command), "tail -n 30 '%s' >&2", path);
	if (system(command) != 0)
		fprintf(stderr, "chaos: cannot show %s\n", path);
}

/* Picks the next event: a stage and a signal, kills within the restart budget. */
static struct event pick_event(uint64_t kill_times[STAGE_COUNT][EVENTS_MAX],
                               const int kill_counts[STAGE_COUNT], uint64_t now)
{
	struct event event = { .stage = (int)(next_random() % STAGE_COUNT),
		               .kind = (enum event_kind)(next_random() % EVENT_KIND_COUNT) };
	if (event.kind != EVENT_STOP) {
		int recent = 0;
		for (int i = 0; i < kill_counts[event.stage]; i++)
			recent += now - kill_times[event.stage][i] < 60 * SECOND_NS;
		if (recent >= KILLS_PER_MINUTE)
			event.kind = EVENT_STOP;
	}
	return event;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ 0 },
	};
	const char *run = NULL;
	double seconds = 60;
	random_state = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	int option;
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (option == 'r')
			run = optarg;
		else if (option == 's')
			seconds = atof(optarg);
		else if (option == 'S')
			random_state = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	if (!run || seconds <= 0) {
		fprintf(stderr, "usage: vshm-chaos --run PATH/vshm-run [--seconds N] [--seed N]\n");
		return 2;
	}
	uint64_t seed = random_state;
	vshm_log_set_handler(NULL, NULL);
	/* Orphans of vshm-run become our children: none may be left at the end. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	char prefix[64], last_stream[80], log_path[128];
	snprintf(prefix, sizeof(prefix), "chaos-%d", (int)getpid());
	snprintf(last_stream, sizeof(last_stream), "%s.%d", prefix, STAGE_COUNT - 1);
	snprintf(log_path, sizeof(log_path), "/tmp/vshm-chaos-%d.log", (int)getpid());
	printf("chaos: seed %llu, %.0f s of signals to 'test ! grayscale ! invert' (streams "
	       "%s.*), vshm-run's output in %s\n",
	       (unsigned long long)seed, seconds, prefix, log_path);
	fflush(stdout);
	pid_t launcher = fork();
	if (launcher == 0) {
		FILE *log = freopen(log_path, "w", stderr);
		if (!log || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		char size[16], fps[16];
		snprintf(size, sizeof(size), "%dx%d", WIDTH, HEIGHT);
		snprintf(fps, sizeof(fps), "%d", FPS);
		execl(run, run, "--restart", "--name", prefix, "test", "--size", size, "--fps", fps,
		      "--format", "rgb24", "!", "grayscale", "!", "invert", (char *)NULL);
		_exit(127);
	}
	struct checker checker = { 0 };
	checker.reader = vshm_reader_attach_wait(last_stream, NULL, 20000, NULL, NULL);
	if (!checker.reader) {
		fprintf(stderr, "chaos: stream '%s' never came: %s\n", last_stream, vshm_error());
		show_log(log_path);
		kill(launcher, SIGKILL);
		return 1;
	}

	static struct event events[EVENTS_MAX];
	static uint64_t kill_times[STAGE_COUNT][EVENTS_MAX];
	int event_count = 0, kill_counts[STAGE_COUNT] = { 0 };
	const char *failure = NULL;
	uint64_t start = vshm_now_ns(), chaos_end = start + (uint64_t)(seconds * 1e9);
	uint64_t next_event = start + SECOND_NS, cont_at = 0;
	struct event *current = NULL;
	pid_t stopped = 0;
	while (!failure) {
		check_step(&checker);
		uint64_t now = vshm_now_ns();
		if (waitpid(launcher, NULL, WNOHANG) == launcher) {
			failure = "vshm-run ended by itself";
			launcher = 0;
			break;
		}
		if (stopped && now >= cont_at) {
			kill(stopped, SIGCONT);
			stopped = 0;
			current->start_ns = now;
		} else if (current && !stopped && checker.last_capture_ns > current->start_ns) {
			current->recovery_ns = now - current->start_ns;
			current = NULL;
			next_event = now + random_between_ns(0.2, 1.5);
		} else if (current && !stopped && now - current->start_ns > NEVER_NS) {
			failure = "the pipeline did not recover";
		} else if (!current && now >= chaos_end) {
			break;
		} else if (!current && now >= next_event && event_count < EVENTS_MAX) {
			struct event event = pick_event(kill_times, kill_counts, now);
			pid_t pid = find_process(launcher, stage_programs[event.stage]);
			if (!pid)
				continue; /* that stage is between two lives: pick again */
			events[event_count] = event;
			current = &events[event_count++];
			current->start_ns = now;
			if (event.kind == EVENT_STOP) {
				kill(pid, SIGSTOP);
				stopped = pid;
				cont_at = now + random_between_ns(0.2, 1.5);
			} else {
				kill(pid, event.kind == EVENT_KILL ? SIGKILL : SIGTERM);
				kill_times[event.stage][kill_counts[event.stage]++] = now;
			}
		}
	}

	if (stopped)
		kill(stopped, SIGCONT); /* after a failure: let it be stopped with the rest */

	/* The rate at the end, with nothing disturbing the pipeline. */
	uint64_t frames_before = checker.frames, quiet_start = vshm_now_ns();
	while (!failure && vshm_now_ns() - quiet_start < QUIET_NS)
		check_step(&checker);
	double fps =
	    (double)(checker.frames - frames_before) * 1e9 / (double)(vshm_now_ns() - quiet_start);
	vshm_reader_detach(checker.reader);

	/* Ctrl-C: vshm-run stops every stage and ends by the signal. */
	int launcher_status = -1;
	if (launcher) {
		kill(launcher, SIGINT);
		for (int waited = 0; waited < 15000; waited += 10) {
			int status;
			if (waitpid(launcher, &status, WNOHANG) == launcher) {
				launcher_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status)
				                                      : WEXITSTATUS(status);
				break;
			}
			sleep_ns(10000000);
		}
	}
	bool children_left = find_process(getpid(), NULL) != 0;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
	bool segments_left = false;
	for (int i = 0; i < STAGE_COUNT; i++) {
		char name[80];
		snprintf(name, sizeof(name), "%s.%d", prefix, i);
		struct vshm_stream_info info;
		if (vshm_stream_inspect(name, &info) != -ENOENT) {
			fprintf(stderr, "chaos: stream '%s' is left\n", name);
			segments_left = true;
		}
	}

	uint64_t recoveries[EVENTS_MAX];
	int recovered = 0, counts[EVENT_KIND_COUNT] = { 0 }, slow = 0;
	for (int i = 0; i < event_count; i++) {
		counts[events[i].kind]++;
		if (events[i].recovery_ns) {
			recoveries[recovered++] = events[i].recovery_ns;
			slow += events[i].recovery_ns >= RECOVERY_LIMIT;
		}
	}
	qsort(recoveries, (size_t)recovered, sizeof(recoveries[0]), compare_u64);
	printf("chaos: %d events (%d %s, %d %s, %d %s), %d recovered: recovery p50 %.3f s, "
	       "max %.3f s, %d over %.0f s\n",
	       event_count, counts[EVENT_KILL], event_names[EVENT_KILL], counts[EVENT_TERM],
	       event_names[EVENT_TERM], counts[EVENT_STOP], event_names[EVENT_STOP], recovered,
	       recovered ? (double)recoveries[recovered / 2] / 1e9 : 0.0,
	       recovered ? (double)recoveries[recovered - 1] / 1e9 : 0.0, slow,
	       (double)RECOVERY_LIMIT / 1e9);
	printf("chaos: %llu frames verified pixel for pixel, %llu with wrong pixels, %llu torn "
	       "(dropped); at the end %.1f fps (nominal %d)\n",
	       (unsigned long long)checker.frames, (unsigned long long)checker.wrong,
	       (unsigned long long)checker.torn, fps, FPS);
	printf("chaos: after SIGINT vshm-run ended with status %d (%d is by SIGINT); %s "
	       "process left, %s segment left\n",
	       launcher_status, 128 + SIGINT, children_left ? "a" : "no",
	       segments_left ? "a" : "no");

	if (!failure && recovered < event_count)
		failure = "an event has no recovery";
	if (!failure && slow)
		failure = "a recovery took too long";
	if (!failure && checker.wrong)
		failure = checker.wrong_example;
	if (!failure && fps < RATE_SHARE * FPS)
		failure = "frames do not flow at the nominal rate at the end";
	if (!failure && launcher_status != 128 + SIGINT)
		failure = "vshm-run did not end by SIGINT";
	if (!failure && (children_left || segments_left))
		failure = "something of the pipeline is left";
	if (failure) {
		fprintf(stderr, "chaos: FAILED: %s (seed %llu); vshm-run said:\n", failure,
		        (unsigned long long)seed);
		show_log(log_path);
		return 1;
	}
	unlink(log_path);
	printf("chaos: passed\n");
	return 0;
}
