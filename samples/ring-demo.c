/*
 * vshm-ring-demo: the ring between two processes, in one short program.
 *
 * The parent is a writer that draws a moving gradient straight into each slot at a
 * steady rate; a forked child is a reader that sleeps on the stream's futex, takes
 * each new frame where the writer left it, checks every row, and measures how long
 * each frame took from publish to being seen. Both print what they did.
 *
 * It is also the shortest example of the API: vshm_writer_create / begin / publish /
 * destroy on one side, vshm_reader_attach / wait / acquire / release on the other.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vshm/vshm.h>

#define WIDTH  640
#define HEIGHT 360

/* Set by SIGINT or SIGTERM: the writer stops, and destroying it removes the stream. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int signal_number)
{
	stop_requested = signal_number;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: vshm-ring-demo [--seconds N] [--fps N] [--name NAME]\n"
	        "\n"
	        "Runs a writer and a reader process on one vshm stream: the writer draws a\n"
	        "%dx%d RGBA test image into shared memory, the reader checks every frame in\n"
	        "place and reports frames, torn frames and publish-to-read latency.\n"
	        "\n"
	        "  -s, --seconds N  how long to run (default 3)\n"
	        "  -r, --fps N      frames per second (default 60)\n"
	        "  -n, --name NAME  stream name (default ring-demo-<pid>)\n"
	        "  -h, --help       this text\n",
	        WIDTH, HEIGHT);
}

/* Each row holds its frame number and row index, so the reader can check all of it. */
static void draw(struct vshm_frame *frame, uint64_t n)
{
	for (uint32_t y = 0; y < frame->height; y++) {
		uint8_t *row = frame->plane[0] + (uint64_t)y * frame->stride[0];
		for (uint32_t x = 0; x < frame->width; x++) {
			row[4 * x + 0] = (uint8_t)(x + n * 4);
			row[4 * x + 1] = (uint8_t)(y + n * 2);
			row[4 * x + 2] = (uint8_t)(n);
			row[4 * x + 3] = 255;
		}
	}
}

static bool frame_is_right(const struct vshm_frame *frame)
{
	uint64_t n = frame->frame_number;
	for (uint32_t y = 0; y < frame->height; y++) {
		const uint8_t *row = frame->plane[0] + (uint64_t)y * frame->stride[0];
		for (uint32_t x = 0; x < frame->width; x += 37) {
			if (row[4 * x + 0] != (uint8_t)(x + n * 4) ||
			    row[4 * x + 1] != (uint8_t)(y + n * 2) || row[4 * x + 2] != (uint8_t)n)
				return false;
		}
	}
	return true;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int run_reader(const char *name)
{
	struct vshm_reader *reader = NULL;
	for (int tries = 0; !reader && tries < 100; tries++) {
		reader = vshm_reader_attach(name, NULL);
		if (!reader)
			usleep(10000);
	}
	if (!reader) {
		fprintf(stderr, "reader: cannot attach to stream '%s': %s\n", name, vshm_error());
		return 1;
	}
	static uint64_t latencies[1 << 16];
	size_t count = 0;
	uint64_t wrong = 0, torn = 0;
	for (;;) {
		int result = vshm_reader_wait(reader, 1000);
		if (result == -EPIPE || result == -EINTR)
			break;
		if (result < 0)
			continue;
		struct vshm_frame frame;
		if (vshm_reader_acquire(reader, &frame) < 0)
			continue;
		uint64_t seen = vshm_now_ns();
		/* The pixels are read where the writer put them: no copy. */
		bool right = frame_is_right(&frame);
		if (vshm_reader_release(reader) == 0) {
			torn++; /* overwritten while we looked: drop whatever we concluded */
			continue;
		}
		wrong += !right;
		if (count < sizeof(latencies) / sizeof(latencies[0]))
			latencies[count++] = seen - frame.publish_ns;
	}
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	vshm_reader_detach(reader);
	qsort(latencies, count, sizeof(latencies[0]), compare_u64);
	printf("reader: %zu frames checked in place, %llu wrong, %llu torn and dropped\n", count,
	       (unsigned long long)wrong, (unsigned long long)torn);
	if (count)
		printf("reader: publish-to-read latency p50 %.1f us, p99 %.1f us\n",
		       latencies[count / 2] / 1e3, latencies[count * 99 / 100] / 1e3);
	fflush(stdout);
	return wrong == 0 && count > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	double seconds = 3;
	int fps = 60;
	char name[VSHM_NAME_MAX + 1];
	snprintf(name, sizeof(name), "ring-demo-%d", (int)getpid());
	static const struct option options[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "fps", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int option;
	while ((option = getopt_long(argc, argv, "s:r:n:h", options, NULL)) != -1) {
		switch (option) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'r':
			fps = atoi(optarg);
			break;
		case 'n':
			snprintf(name, sizeof(name), "%s", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (seconds <= 0 || fps <= 0 || fps > 100000) {
		fprintf(stderr, "vshm-ring-demo: --seconds must be > 0 and --fps 1..100000\n");
		return 2;
	}
	if (vshm_name_check(name) < 0) {
		fprintf(stderr, "vshm-ring-demo: %s\n", vshm_error());
		return 2;
	}

	struct sigaction stop = { .sa_handler = on_stop_signal };
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	struct vshm_writer_options writer_options = {
		.max_format = VSHM_FORMAT_RGBA,
		.max_width = WIDTH,
		.max_height = HEIGHT,
		.frame_interval_ns = 1000000000u / (unsigned)fps,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &writer_options);
	if (!writer) {
		fprintf(stderr, "vshm-ring-demo: cannot create stream '%s': %s\n", name,
		        vshm_error());
		return 1;
	}
	printf("writer: stream '%s' (%s/%s%s), %dx%d RGBA at %d fps for %.1f s\n", name,
	       VSHM_SHM_DIR, VSHM_SHM_PREFIX, name, WIDTH, HEIGHT, fps, seconds);
	fflush(stdout);

	pid_t child = fork();
	if (child == 0)
		_exit(run_reader(name));

	uint64_t interval = 1000000000u / (unsigned)fps;
	uint64_t start = vshm_now_ns();
	uint64_t total = (uint64_t)(seconds * fps);
	uint64_t n;
	for (n = 1; n <= total && !stop_requested; n++) {
		/* Absolute deadlines: no drift however long it runs. */
		uint64_t deadline = start + n * interval;
		struct timespec until = { (time_t)(deadline / 1000000000u),
			                  (long)(deadline % 1000000000u) };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_RGBA, WIDTH, HEIGHT, &frame) < 0) {
			fprintf(stderr, "vshm-ring-demo: %s\n", vshm_error());
			break;
		}
		draw(&frame, n); /* straight into the slot: the only pass over the pixels */
		frame.frame_number = n;
		vshm_writer_publish(writer, &frame);
	}
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	printf("writer: published %llu frames, %llu slots overwritten under a reader\n",
	       (unsigned long long)stats.frames_published, (unsigned long long)stats.overwrites);
	fflush(stdout);
	/* Destroying tells the reader the writer is gone and removes the segment. */
	vshm_writer_destroy(writer);
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
	}
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	char path[128];
	snprintf(path, sizeof(path), "%s/%s%s", VSHM_SHM_DIR, VSHM_SHM_PREFIX, name);
	bool left = access(path, F_OK) == 0;
	if (left)
		fprintf(stderr, "vshm-ring-demo: %s was left behind\n", path);
	ok = ok && !left;
	printf("%s\n",
	       ok ? "demo passed: every frame checked, no segment left behind" : "demo FAILED");
	return ok ? 0 : 1;
}
