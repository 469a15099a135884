/*
 * Readers survive writer crashes: the writer is SIGKILLed at random instants, most of
 * them in the middle of writing a frame (it writes 1 MiB frames page by page, slowly),
 * and a new writer process takes the stale segment over each time. Two long-lived
 * readers, never restarted, must:
 *  - never spend more than 1 s in any library call;
 *  - never accept a torn frame (every page and the checksum are checked, as in the
 *    tearing test, and must match whenever vshm_reader_release() says intact);
 *  - report the writer gone (vshm_reader_wait() -> -EPIPE) within 1 s of the kill;
 *  - follow each new writer (-ESTALE -> vshm_reader_reattach()) and get its frames.
 * The parent starts a writer, waits until both readers got one of its frames, kills it,
 * and waits until both readers said it is gone before starting the next.
 *
 * Regressions it pins: a reader woken by the takeover reattached to the dead writer's
 * segment (marked superseded, not yet unlinked) and took its old frames again; and a
 * reader that opened the new segment before its writer had locked it got EPROTO
 * ("damaged") instead of EAGAIN.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "test-util.h"

#define KILL_COUNT       200
#define GENERATION_COUNT (KILL_COUNT + 1) /* generations are numbered from 1 */
#define READER_COUNT     2
#define FRAME_PAGES      256 /* 1 MiB frames */
#define FRAME_WIDTH      TEST_PATTERN_PAGE_SIZE
#define FRAME_HEIGHT     FRAME_PAGES
#define FRAME_BYTES      ((size_t)FRAME_WIDTH * FRAME_HEIGHT)
/* The writer spins this long after each page, so a frame takes about a millisecond
 * and most kills land in the middle of one. */
#define PAGE_DELAY_NS   3000
#define WAIT_TIMEOUT_MS 250
#define SECOND_NS       UINT64_C(1000000000)
#define CALL_LIMIT_NS   SECOND_NS /* no call may block longer */
#define DETECT_LIMIT_NS SECOND_NS /* the writer must be reported gone within this */
/* How long the parent waits for readers before calling the run failed. */
#define FOLLOW_TIMEOUT_NS (5 * SECOND_NS)

struct reader_state {
	_Atomic uint32_t received_generation; /* generation of the last frame accepted */
	_Atomic uint32_t gone_generation;     /* last generation reported gone */
	uint64_t detect_ns[GENERATION_COUNT + 1];
	uint64_t max_call_ns;
	uint64_t accepted;
	uint64_t torn_dropped;
	uint64_t torn_content_bad;
	uint64_t intact_but_corrupt;
	uint64_t backwards;
	uint64_t gone_while_alive; /* -EPIPE for a writer that was not killed */
	uint64_t reattaches;
	uint64_t reattach_retries;
	uint64_t reattach_eproto;
	uint64_t old_segment_reattaches; /* reattach landed on the dead writer's segment */
	uint64_t frames_after_gone;      /* frames taken from a writer already reported gone */
	uint64_t errors;
};

/* The harness's state: the run as the parent steers it, and what the readers saw. */
struct shared {
	_Atomic uint32_t generation; /* the writer generation the parent started last */
	_Atomic pid_t generation_pid[GENERATION_COUNT + 1];
	_Atomic uint64_t kill_ns[GENERATION_COUNT + 1];
	/* Progress of the current writer, for aiming kills and for counting them. */
	_Atomic int writer_writing;         /* between begin and the end of publish */
	_Atomic uint32_t writer_pages_done; /* pages of the current frame written */
	_Atomic int writer_error;
	struct reader_state readers[READER_COUNT];
};

static int writer_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	uint32_t generation = atomic_load(&shared->generation);
	/* Before the segment exists, so a reader that sees it can tell whose it is. */
	atomic_store(&shared->generation_pid[generation], getpid());
	struct vshm_writer_options options = {
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = FRAME_WIDTH,
		.max_height = FRAME_HEIGHT,
	};
	/* Takes over the segment the previous, killed writer left. */
	struct vshm_writer *writer = harness_writer_create(harness, &options);
	if (!writer) {
		atomic_store(&shared->writer_error, 1);
		return 1;
	}
	for (uint64_t n = 1; !harness_stopping(harness); n++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, FRAME_WIDTH, FRAME_HEIGHT,
		                      &frame) < 0) {
			atomic_store(&shared->writer_error, 2);
			break;
		}
		atomic_store(&shared->writer_pages_done, 0);
		atomic_store(&shared->writer_writing, 1);
		struct test_pattern pattern;
		test_pattern_begin(&pattern, n, generation);
		for (uint32_t page = 0; page < FRAME_PAGES; page++) {
			test_pattern_fill_page(&pattern, frame.plane[0], FRAME_BYTES, page);
			atomic_store(&shared->writer_pages_done, page + 1);
			test_spin_ns(PAGE_DELAY_NS);
		}
		test_pattern_seal(&pattern, frame.plane[0], FRAME_BYTES);
		frame.frame_number = n;
		if (vshm_writer_publish(writer, &frame) < 0) {
			atomic_store(&shared->writer_error, 3);
			break;
		}
		atomic_store(&shared->writer_writing, 0);
	}
	vshm_writer_destroy(writer);
	return 0;
}

/* The generation whose writer made the segment this reader is on, or 0. */
static uint32_t generation_of(struct shared *shared, struct vshm_reader *reader)
{
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	uint32_t last = atomic_load(&shared->generation);
	for (uint32_t generation = last; generation >= 1 && generation <= GENERATION_COUNT;
	     generation--) {
		if ((uint32_t)atomic_load(&shared->generation_pid[generation]) == stats.writer_pid)
			return generation;
	}
	return 0;
}

struct reader_run {
	struct shared *shared;
	struct reader_state *state;
	struct vshm_reader *reader;
	uint32_t generation; /* of the segment we are on */
	uint64_t last_frame_number;
	uint64_t call_started;
};

static void call_begin(struct reader_run *run)
{
	run->call_started = vshm_now_ns();
}

static void call_end(struct reader_run *run, const char *what)
{
	uint64_t took = vshm_now_ns() - run->call_started;
	if (took > run->state->max_call_ns)
		run->state->max_call_ns = took;
	if (took > CALL_LIMIT_NS)
		fprintf(stderr, "reader: %s blocked for %.3f s\n", what, (double)took / 1e9);
}

static void take_frame(struct reader_run *run)
{
	struct reader_state *state = run->state;
	struct vshm_frame frame;
	call_begin(run);
	int status = vshm_reader_acquire(run->reader, &frame);
	call_end(run, "vshm_reader_acquire");
	if (status == -EAGAIN)
		return;
	if (status < 0) {
		state->errors++;
		return;
	}
	bool metadata_ok = frame.format == VSHM_FORMAT_GRAY8 && frame.width == FRAME_WIDTH &&
	                   frame.height == FRAME_HEIGHT && frame.plane_size[0] == FRAME_BYTES;
	enum test_pattern_result content = TEST_PATTERN_BAD_PAGE;
	if (metadata_ok)
		content = test_pattern_check(frame.plane[0], FRAME_BYTES, frame.frame_number,
		                             run->generation);
	call_begin(run);
	int intact = vshm_reader_release(run->reader);
	call_end(run, "vshm_reader_release");
	if (intact < 0) {
		state->errors++;
		return;
	}
	if (!intact) {
		state->torn_dropped++;
		if (content != TEST_PATTERN_OK)
			state->torn_content_bad++;
		return;
	}
	if (content != TEST_PATTERN_OK) {
		state->intact_but_corrupt++;
		fprintf(stderr, "reader: frame %llu of writer %u released intact but %s\n",
		        (unsigned long long)frame.frame_number, run->generation,
		        content == TEST_PATTERN_BAD_PAGE ? "has pages of another frame"
		                                         : "fails its checksum");
		return;
	}
	if (atomic_load(&state->gone_generation) >= run->generation)
		state->frames_after_gone++;
	if (frame.frame_number < run->last_frame_number)
		state->backwards++;
	run->last_frame_number = frame.frame_number;
	state->accepted++;
	atomic_store(&state->received_generation, run->generation);
}

static void report_gone(struct reader_run *run)
{
	struct reader_state *state = run->state;
	uint32_t generation = run->generation;
	if (generation == 0 || atomic_load(&state->gone_generation) >= generation)
		return;
	uint64_t killed = atomic_load(&run->shared->kill_ns[generation]);
	if (killed == 0) {
		state->gone_while_alive++;
		fprintf(stderr, "reader: writer %u reported gone but it was not killed\n",
		        generation);
		return;
	}
	state->detect_ns[generation] = vshm_now_ns() - killed;
	atomic_store(&state->gone_generation, generation);
}

/* Moves to the new segment; retries while the new writer is still creating it. */
static void follow_new_writer(struct reader_run *run)
{
	struct reader_state *state = run->state;
	uint64_t started = vshm_now_ns();
	for (;;) {
		call_begin(run);
		int status = vshm_reader_reattach(run->reader);
		call_end(run, "vshm_reader_reattach");
		if (status == 0)
			break;
		if ((status != -ENOENT && status != -EAGAIN && status != -EPROTO) ||
		    vshm_now_ns() - started > FOLLOW_TIMEOUT_NS) {
			fprintf(stderr, "reader: vshm_reader_reattach: %s (%s)\n",
			        strerror(-status), vshm_error());
			state->errors++;
			return;
		}
		state->reattach_retries++;
		if (status == -EPROTO)
			state->reattach_eproto++;
		test_sleep_us(500);
	}
	uint32_t previous = run->generation;
	run->generation = generation_of(run->shared, run->reader);
	if (run->generation == previous)
		state->old_segment_reattaches++;
	else
		state->reattaches++;
	run->last_frame_number = 0;
}

static int reader_main(struct harness *harness, int index)
{
	struct shared *shared = harness->state;
	struct reader_run run = {
		.shared = shared,
		.state = &shared->readers[index],
	};
	run.reader = harness_reader_attach(harness, index, 5000);
	if (!run.reader) {
		run.state->errors++;
		return 1;
	}
	run.generation = generation_of(shared, run.reader);

	while (!harness_stopping(harness) && run.state->errors == 0) {
		call_begin(&run);
		int status = vshm_reader_wait(run.reader, WAIT_TIMEOUT_MS);
		call_end(&run, "vshm_reader_wait");
		switch (status) {
		case 0:
			take_frame(&run);
			break;
		case -ETIMEDOUT:
		case -EINTR:
			break;
		case -EPIPE:
			report_gone(&run);
			break;
		case -ESTALE:
			/* A new writer took the name: ours is certainly gone. */
			report_gone(&run);
			follow_new_writer(&run);
			break;
		default:
			fprintf(stderr, "reader: vshm_reader_wait: %s\n", strerror(-status));
			run.state->errors++;
			break;
		}
	}
	vshm_reader_detach(run.reader);
	return 0;
}

/* Waits until every reader's counter reaches value; false after the timeout. */
static bool readers_reach(struct shared *shared, size_t offset, uint32_t value)
{
	uint64_t start = vshm_now_ns();
	for (;;) {
		bool all = true;
		for (int i = 0; i < READER_COUNT; i++) {
			_Atomic uint32_t *counter =
			    (_Atomic uint32_t *)((char *)&shared->readers[i] + offset);
			if (atomic_load(counter) < value)
				all = false;
		}
		if (all)
			return true;
		if (vshm_now_ns() - start > FOLLOW_TIMEOUT_NS)
			return false;
		test_sleep_us(200);
	}
}

static void test_readers_survive_writer_kills(void **state)
{
	(void)state;
	struct harness *harness =
	    harness_create("writer-crash", READER_COUNT, sizeof(struct shared));
	struct shared *shared = harness->state;
	uint64_t random_state = 0xc4a54001;

	/* The first writer, then the readers, which stay for the whole run. */
	atomic_store(&shared->generation, 1);
	harness_start(harness, writer_main, reader_main);

	const char *failure = NULL;
	uint32_t kills = 0, kills_mid_write = 0;
	for (uint32_t generation = 1; generation <= KILL_COUNT; generation++) {
		if (generation > 1) {
			atomic_store(&shared->generation, generation);
			harness_start_writer(harness, writer_main);
		}
		if (!readers_reach(shared, offsetof(struct reader_state, received_generation),
		                   generation)) {
			failure = atomic_load(&shared->writer_error)
			              ? "a new writer could not start"
			              : "readers did not get frames from a new writer";
			harness_kill_writer(harness);
			break;
		}
		/* Three kills in four are aimed at a random page of a frame being written;
		 * the others land at a random instant. */
		if (test_random(&random_state) % 4 != 0) {
			uint32_t page =
			    1 + (uint32_t)(test_random(&random_state) % (FRAME_PAGES - 1));
			uint64_t aim_start = vshm_now_ns();
			while (!(atomic_load(&shared->writer_writing) &&
			         atomic_load(&shared->writer_pages_done) >= page) &&
			       vshm_now_ns() - aim_start < SECOND_NS)
				sched_yield();
		} else {
			test_sleep_us((long)(test_random(&random_state) % 3000));
		}
		atomic_store(&shared->kill_ns[generation], vshm_now_ns());
		int status = harness_kill_writer(harness);
		kills++;
		if (status != 128 + SIGKILL) {
			failure = "the writer ended otherwise than by our SIGKILL";
			break;
		}
		/* Its last word on the matter, now that it is dead. */
		if (atomic_load(&shared->writer_writing) &&
		    atomic_load(&shared->writer_pages_done) < FRAME_PAGES)
			kills_mid_write++;
		atomic_store(&shared->writer_writing, 0);
		if (!readers_reach(shared, offsetof(struct reader_state, gone_generation),
		                   generation)) {
			failure = "readers did not report the writer gone";
			break;
		}
	}
	/* The last writer was killed too: its segment stays, and harness_wait_all()
	 * removes it. */
	harness_stop(harness);
	harness_wait_all(harness, 0, 5000);
	double seconds = harness_seconds(harness);

	static uint64_t latencies[READER_COUNT * GENERATION_COUNT];
	size_t count = 0;
	for (int i = 0; i < READER_COUNT; i++) {
		struct reader_state *reader = &shared->readers[i];
		for (uint32_t generation = 1; generation <= kills; generation++)
			latencies[count++] = reader->detect_ns[generation];
		print_message("reader %d: %llu frames accepted, %llu torn (dropped; %llu visibly "
		              "damaged), followed %llu new writers (%llu reattach retries, %llu of "
		              "them EPROTO, %llu "
		              "onto the old segment, %llu frames taken after the writer was "
		              "gone), longest call %.1f ms\n",
		              i, (unsigned long long)reader->accepted,
		              (unsigned long long)reader->torn_dropped,
		              (unsigned long long)reader->torn_content_bad,
		              (unsigned long long)reader->reattaches,
		              (unsigned long long)reader->reattach_retries,
		              (unsigned long long)reader->reattach_eproto,
		              (unsigned long long)reader->old_segment_reattaches,
		              (unsigned long long)reader->frames_after_gone,
		              (double)reader->max_call_ns / 1e6);
	}
	test_sort_u64(latencies, count);
	print_message("%u writer kills (%u in the middle of writing a frame) in %.1f s; writer "
	              "gone reported after median %.1f ms, max %.1f ms\n",
	              kills, kills_mid_write, seconds,
	              count ? (double)latencies[count / 2] / 1e6 : 0.0,
	              count ? (double)latencies[count - 1] / 1e6 : 0.0);
	if (failure)
		fail_msg("%s (after %u kills)", failure, kills);

	assert_int_equal(kills, KILL_COUNT);
	/* Most kills hit a frame being written: the torn-slot path is what this is about. */
	assert_true(kills_mid_write >= KILL_COUNT / 2);
	for (int i = 0; i < READER_COUNT; i++) {
		struct reader_state *reader = &shared->readers[i];
		assert_int_equal(harness->reader_status[i], 0);
		assert_int_equal(reader->errors, 0);
		assert_int_equal(reader->intact_but_corrupt, 0);
		assert_int_equal(reader->backwards, 0);
		assert_int_equal(reader->gone_while_alive, 0);
		/* vshm_reader_reattach() moves to the new writer's segment, never back
		 * onto the dead one's, so no frame of a writer known gone comes again. */
		assert_int_equal(reader->old_segment_reattaches, 0);
		assert_int_equal(reader->frames_after_gone, 0);
		/* A live writer's brand-new segment is "being created" (EAGAIN), never
		 * "damaged" (EPROTO), even before its writer has locked it. */
		assert_int_equal(reader->reattach_eproto, 0);
		assert_true(reader->max_call_ns < CALL_LIMIT_NS);
		/* Followed every new writer (the first one it attached to directly). */
		assert_int_equal(reader->reattaches, KILL_COUNT - 1);
		for (uint32_t generation = 1; generation <= KILL_COUNT; generation++) {
			assert_true(reader->detect_ns[generation] > 0);
			assert_true(reader->detect_ns[generation] < DETECT_LIMIT_NS);
		}
	}
	harness_destroy(harness);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_survive_writer_kills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
