/*
 * libvshm from several threads of one process, as a program with one reader per
 * thread uses it (a media framework's elements, each in its own thread): a writer
 * thread publishes while reader threads attach, take frames, detach, attach again
 * (half of them with the truncation guard, which registers each mapping in a
 * process-wide table), fail on purpose on a stream that is not there, inspect the
 * stream and log, over and over. Every thread's vshm_error() must stay its own and
 * every frame it takes must be whole.
 *
 * Under ThreadSanitizer (scripts/tsan.sh runs this suite so) any race on the library's
 * process-wide state shows here: the log handler and its settings, the error text, the
 * SIGBUS guard's table. The shared memory itself is out of its sight (every reader maps
 * the segment at its own address; ThreadSanitizer knows memory by address), which is
 * why the protocol's ordering is checked by test-interleavings instead.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "test-util.h"

#define READER_THREADS 4
#define ROUNDS         40
#define WIDTH          64
#define HEIGHT         48

struct run {
	char name[VSHM_NAME_MAX + 1];
	atomic_int stop;
};

struct reader_thread {
	struct run *run;
	int index;
	pthread_t thread;
	/* What the thread found, read by the test once it has joined. */
	int frames, wrong_frames, foreign_errors, attach_failures;
};

static void *write_frames(void *argument)
{
	struct run *run = argument;
	struct vshm_writer_options options = {
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = WIDTH,
		.max_height = HEIGHT,
		.reader_capacity = 16,
		.slot_count = 8,
	};
	struct vshm_writer *writer = vshm_writer_create(run->name, &options);
	if (!writer)
		return (void *)1;
	for (uint64_t n = 1; !atomic_load(&run->stop); n++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, WIDTH, HEIGHT, &frame) < 0)
			break;
		memset(frame.plane[0], (int)(n & 0xff), frame.plane_size[0]);
		frame.frame_number = n;
		vshm_writer_publish(writer, &frame);
		test_sleep_us(500);
	}
	vshm_writer_destroy(writer);
	return NULL;
}

/* True if every byte of the frame is its number's low byte, as the writer made it. */
static bool frame_is_whole(const struct vshm_frame *frame)
{
	for (uint64_t i = 0; i < frame->plane_size[0]; i++) {
		if (frame->plane[0][i] != (uint8_t)(frame->frame_number & 0xff))
			return false;
	}
	return true;
}

static void *read_frames(void *argument)
{
	struct reader_thread *self = argument;
	char missing[VSHM_NAME_MAX + 16];
	snprintf(missing, sizeof(missing), "%s-missing-%d", self->run->name, self->index);
	struct vshm_reader_options options = { .guard_truncation = self->index % 2 == 0 };
	for (int round = 0; round < ROUNDS; round++) {
		/* A failure of this thread's own, and the error text that says so. */
		if (vshm_reader_attach(missing, NULL) || !strstr(vshm_error(), missing))
			self->foreign_errors++;
		struct vshm_reader *reader =
		    vshm_reader_attach_wait(self->run->name, &options, 5000, NULL, NULL);
		if (!reader) {
			self->attach_failures++;
			continue;
		}
		for (int i = 0; i < 5; i++) {
			struct vshm_frame frame;
			if (vshm_reader_wait(reader, 100) != 0 ||
			    vshm_reader_acquire(reader, &frame) != 0)
				continue;
			bool whole = frame_is_whole(&frame);
			if (vshm_reader_release(reader) == 1) {
				self->frames++;
				self->wrong_frames += !whole;
			}
		}
		struct vshm_stream_info info;
		vshm_stream_inspect(self->run->name, &info);
		vshm_reader_detach(reader);
	}
	return NULL;
}

static void threads_share_the_library(void **state)
{
	(void)state;
	struct run run = { 0 };
	test_unique_name(run.name, sizeof(run.name), "threads");
	pthread_t writer;
	assert_int_equal(pthread_create(&writer, NULL, write_frames, &run), 0);
	struct reader_thread readers[READER_THREADS];
	for (int i = 0; i < READER_THREADS; i++) {
		readers[i] = (struct reader_thread){ .run = &run, .index = i };
		assert_int_equal(pthread_create(&readers[i].thread, NULL, read_frames, &readers[i]),
		                 0);
	}
	int frames = 0, wrong = 0, foreign = 0, failures = 0;
	for (int i = 0; i < READER_THREADS; i++) {
		assert_int_equal(pthread_join(readers[i].thread, NULL), 0);
		frames += readers[i].frames;
		wrong += readers[i].wrong_frames;
		foreign += readers[i].foreign_errors;
		failures += readers[i].attach_failures;
	}
	atomic_store(&run.stop, 1);
	void *writer_result;
	assert_int_equal(pthread_join(writer, &writer_result), 0);
	print_message("%d threads, %d rounds each: %d frames taken whole, %d not, %d errors "
	              "that were not the thread's own, %d failed attaches\n",
	              READER_THREADS, ROUNDS, frames, wrong, foreign, failures);
	assert_null(writer_result);
	assert_true(frames > 0);
	assert_int_equal(wrong, 0);
	assert_int_equal(foreign, 0);
	assert_int_equal(failures, 0);
	assert_false(test_segment_exists(run.name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(threads_share_the_library),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
