/*
 * No torn frame is ever accepted, across processes: a forked writer publishes frames
 * as fast as it can into a 3-slot ring while forked readers take them, sometimes hold
 * them long enough for the writer to run out of free slots and overwrite one, and check
 * every page and the checksum of each frame. A frame that vshm_reader_release() calls
 * intact must really be intact; one it calls torn is dropped (and we count how many of
 * those really were damaged, to show the detection is not idle).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "test-util.h"

#define FRAME_COUNT  100000
#define READER_COUNT 3
#define SLOT_COUNT   3
#define FRAME_PAGES  16 /* 64 KiB frames: 16 pages, each carrying the frame number */
#define FRAME_WIDTH  TEST_PATTERN_PAGE_SIZE
#define FRAME_HEIGHT FRAME_PAGES
#define FRAME_BYTES  ((size_t)FRAME_WIDTH * FRAME_HEIGHT)
#define SALT         0x7ea1
/* Readers hold one frame in HOLD_ONE_IN for 50..500 us before checking it. */
#define HOLD_ONE_IN      24
#define START_TIMEOUT_NS (10 * UINT64_C(1000000000))

struct reader_result {
	uint64_t accepted;           /* released intact, content checked and right */
	uint64_t torn_dropped;       /* released torn: dropped */
	uint64_t torn_content_bad;   /* of those, how many the content check also caught */
	uint64_t intact_but_corrupt; /* released intact with wrong content: the failure */
	uint64_t bad_metadata;       /* format, size or numbers that do not match */
	uint64_t backwards;          /* frame numbers that went back */
	uint64_t holds;              /* frames held for a while before checking */
	uint64_t acquire_errors;     /* unexpected errors from the library */
	uint64_t last_frame_number;
	int attach_error;
};

/* The harness's state: what the writer and readers leave for the test to check. */
struct shared {
	uint64_t frames_published;
	uint64_t overwrites;
	int writer_error;
	struct reader_result readers[READER_COUNT];
};

static int writer_main(struct harness *harness)
{
	struct shared *shared = harness->state;
	struct vshm_writer_options options = {
		.slot_count = SLOT_COUNT,
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = FRAME_WIDTH,
		.max_height = FRAME_HEIGHT,
	};
	struct vshm_writer *writer = harness_writer_create(harness, &options);
	if (!writer) {
		shared->writer_error = 1;
		return 1;
	}
	/* Every reader takes part from the first frame. */
	if (!harness_wait_readers(harness, START_TIMEOUT_NS)) {
		shared->writer_error = 2;
		harness_stop(harness);
		vshm_writer_destroy(writer);
		return 1;
	}

	for (uint64_t n = 1; n <= FRAME_COUNT; n++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, FRAME_WIDTH, FRAME_HEIGHT,
		                      &frame) < 0) {
			shared->writer_error = 3;
			break;
		}
		struct test_pattern pattern;
		test_pattern_begin(&pattern, n, SALT);
		for (size_t page = 0; page < FRAME_PAGES; page++)
			test_pattern_fill_page(&pattern, frame.plane[0], FRAME_BYTES, page);
		test_pattern_seal(&pattern, frame.plane[0], FRAME_BYTES);
		frame.frame_number = n;
		if (vshm_writer_publish(writer, &frame) < 0 || frame.sequence != n) {
			shared->writer_error = 4;
			break;
		}
	}
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	shared->frames_published = stats.frames_published;
	shared->overwrites = stats.overwrites;
	harness_stop(harness);
	vshm_writer_destroy(writer);
	return shared->writer_error ? 1 : 0;
}

static void check_frame(struct vshm_reader *reader, struct reader_result *result,
                        uint64_t *random_state, const struct vshm_frame *frame)
{
	bool metadata_ok = frame->format == VSHM_FORMAT_GRAY8 && frame->width == FRAME_WIDTH &&
	                   frame->height == FRAME_HEIGHT && frame->plane_count == 1 &&
	                   frame->stride[0] == FRAME_WIDTH && frame->plane_size[0] == FRAME_BYTES &&
	                   frame->frame_number == frame->sequence && frame->slot < SLOT_COUNT;
	if (test_random(random_state) % HOLD_ONE_IN == 0) {
		/* Keep the slot while the writer goes on: with the other readers doing the
		 * same, it runs out of free slots and has to overwrite a held one. */
		result->holds++;
		test_sleep_us(50 + (long)(test_random(random_state) % 450));
	}
	enum test_pattern_result content = TEST_PATTERN_BAD_PAGE;
	if (metadata_ok)
		content =
		    test_pattern_check(frame->plane[0], FRAME_BYTES, frame->frame_number, SALT);
	int intact = vshm_reader_release(reader);
	if (intact < 0) {
		result->acquire_errors++;
		return;
	}
	if (!intact) {
		result->torn_dropped++;
		if (content != TEST_PATTERN_OK)
			result->torn_content_bad++;
		return;
	}
	if (!metadata_ok) {
		result->bad_metadata++;
		return;
	}
	if (content != TEST_PATTERN_OK) {
		result->intact_but_corrupt++;
		fprintf(stderr, "reader: frame %llu released intact but its content is %s\n",
		        (unsigned long long)frame->frame_number,
		        content == TEST_PATTERN_BAD_PAGE ? "from another frame" : "damaged");
		return;
	}
	if (frame->frame_number < result->last_frame_number)
		result->backwards++;
	result->last_frame_number = frame->frame_number;
	result->accepted++;
}

static int reader_main(struct harness *harness, int index)
{
	struct shared *shared = harness->state;
	struct reader_result *result = &shared->readers[index];
	uint64_t random_state = 0x5eed0000u + (uint64_t)index;

	struct vshm_reader *reader = harness_reader_attach(harness, index, 5000);
	if (!reader) {
		result->attach_error = errno ? errno : 1;
		return 1;
	}

	uint64_t last_sequence = 0;
	while (!harness_stopping(harness)) {
		struct vshm_frame frame;
		int status = vshm_reader_acquire(reader, &frame);
		if (status == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (status < 0) {
			result->acquire_errors++;
			break;
		}
		if (frame.sequence == last_sequence) {
			/* Nothing new yet: give the frame back and sleep until there is. */
			vshm_reader_release(reader);
			int waited = vshm_reader_wait(reader, 100);
			if (waited < 0 && waited != -ETIMEDOUT && waited != -EPIPE) {
				result->acquire_errors++;
				break;
			}
			continue;
		}
		last_sequence = frame.sequence;
		check_frame(reader, result, &random_state, &frame);
	}
	vshm_reader_detach(reader);
	return 0;
}

static void test_no_torn_frame_is_accepted(void **state)
{
	(void)state;
	struct harness *harness = harness_create("tearing", READER_COUNT, sizeof(struct shared));
	struct shared *shared = harness->state;
	harness_start(harness, writer_main, reader_main);
	harness_wait_all(harness, 50000, 10000);
	double seconds = harness_seconds(harness);

	uint64_t accepted = 0, torn = 0, torn_bad = 0, holds = 0;
	for (int i = 0; i < READER_COUNT; i++) {
		struct reader_result *result = &shared->readers[i];
		print_message("reader %d: %llu frames accepted and checked, %llu torn (dropped; "
		              "%llu of them visibly damaged), %llu held a while\n",
		              i, (unsigned long long)result->accepted,
		              (unsigned long long)result->torn_dropped,
		              (unsigned long long)result->torn_content_bad,
		              (unsigned long long)result->holds);
		accepted += result->accepted;
		torn += result->torn_dropped;
		torn_bad += result->torn_content_bad;
		holds += result->holds;
	}
	print_message("writer: %llu frames published, %llu overwrites of held slots; "
	              "readers: %llu accepted, %llu torn frames detected and dropped (%llu with "
	              "damaged content); %.1f s\n",
	              (unsigned long long)shared->frames_published,
	              (unsigned long long)shared->overwrites, (unsigned long long)accepted,
	              (unsigned long long)torn, (unsigned long long)torn_bad, seconds);

	assert_int_equal(harness->writer_status, 0);
	assert_int_equal(shared->writer_error, 0);
	assert_int_equal(shared->frames_published, FRAME_COUNT);
	for (int i = 0; i < READER_COUNT; i++) {
		struct reader_result *result = &shared->readers[i];
		assert_int_equal(harness->reader_status[i], 0);
		assert_int_equal(result->attach_error, 0);
		assert_int_equal(result->acquire_errors, 0);
		/* The assertions that matter: */
		assert_int_equal(result->intact_but_corrupt, 0);
		assert_int_equal(result->bad_metadata, 0);
		assert_int_equal(result->backwards, 0);
		/* Each reader really took part. */
		assert_true(result->accepted >= 1000);
	}
	/* The stress reached the paths it is meant to: the writer had to overwrite held
	 * slots, and releases said so. */
	assert_true(shared->overwrites > 0);
	assert_true(torn > 0);
	/* The writer's exit removed its segment. */
	assert_false(harness->segment_left);
	harness_destroy(harness);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_torn_frame_is_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
