/*
 * Tearing stress across processes (issue 2, test 2): a forked writer publishes frames
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

struct shared {
	_Atomic int readers_ready;
	_Atomic int done;
	uint64_t frames_published;
	uint64_t overwrites;
	int writer_error;
	struct reader_result readers[READER_COUNT];
};

struct context {
	struct shared *shared;
	char name[VSHM_NAME_MAX + 1];
	int index;
};

static int writer_main(void *argument)
{
	struct context *context = argument;
	struct shared *shared = context->shared;
	struct vshm_writer_options options = {
		.slot_count = SLOT_COUNT,
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = FRAME_WIDTH,
		.max_height = FRAME_HEIGHT,
	};
	struct vshm_writer *writer = vshm_writer_create(context->name, &options);
	if (!writer) {
		fprintf(stderr, "writer: vshm_writer_create: %s\n", vshm_error());
		shared->writer_error = 1;
		atomic_store(&shared->done, 1);
		return 1;
	}
	uint64_t start = test_now_ns();
	while (atomic_load(&shared->readers_ready) < READER_COUNT) {
		if (test_now_ns() - start > START_TIMEOUT_NS) {
			shared->writer_error = 2;
			atomic_store(&shared->done, 1);
			vshm_writer_destroy(writer);
			return 1;
		}
		test_sleep_us(1000);
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
	atomic_store(&shared->done, 1);
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

static int reader_main(void *argument)
{
	struct context *context = argument;
	struct shared *shared = context->shared;
	struct reader_result *result = &shared->readers[context->index];
	uint64_t random_state = 0x5eed0000u + (uint64_t)context->index;

	struct vshm_reader *reader = test_reader_attach_retry(context->name, 5000);
	if (!reader) {
		fprintf(stderr, "reader %d: vshm_reader_attach: %s\n", context->index,
		        vshm_error());
		result->attach_error = errno ? errno : 1;
		atomic_fetch_add(&shared->readers_ready, 1);
		return 1;
	}
	atomic_fetch_add(&shared->readers_ready, 1);

	uint64_t last_sequence = 0;
	while (!atomic_load(&shared->done)) {
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
	struct shared *shared = test_shared_alloc(sizeof(*shared));
	struct context contexts[READER_COUNT + 1];
	char name[VSHM_NAME_MAX + 1];
	test_unique_name(name, sizeof(name), "tearing");
	for (int i = 0; i <= READER_COUNT; i++) {
		contexts[i].shared = shared;
		contexts[i].index = i;
		snprintf(contexts[i].name, sizeof(contexts[i].name), "%s", name);
	}

	uint64_t start = test_now_ns();
	pid_t writer = test_fork_tied(writer_main, &contexts[READER_COUNT]);
	pid_t readers[READER_COUNT];
	for (int i = 0; i < READER_COUNT; i++)
		readers[i] = test_fork_tied(reader_main, &contexts[i]);

	int writer_status = test_wait(writer, 50000);
	int reader_status[READER_COUNT];
	for (int i = 0; i < READER_COUNT; i++)
		reader_status[i] = test_wait(readers[i], 10000);
	test_segment_remove(name);
	double seconds = (double)(test_now_ns() - start) / 1e9;

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

	assert_int_equal(writer_status, 0);
	assert_int_equal(shared->writer_error, 0);
	assert_int_equal(shared->frames_published, FRAME_COUNT);
	for (int i = 0; i < READER_COUNT; i++) {
		struct reader_result *result = &shared->readers[i];
		assert_int_equal(reader_status[i], 0);
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
	assert_false(test_segment_exists(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_torn_frame_is_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
