/*
 * Following a stream to its end, as a reader program does, for the tests that check
 * what a writer program (vshm-capture, a filter chain) publishes: wait for each new
 * frame, take it, let the test check it where the writer left it, give it back, and
 * stop after the frame flagged end of stream or when the writer is gone.
 *
 *	struct follow follow = { .reader = reader, .wait_ms = 2000 };
 *	struct vshm_frame frame;
 *	while (follow_next(&follow, &frame)) {
 *		uint64_t differences = compare(&frame);  (the pixels, in place)
 *		if (follow_release(&follow))
 *			wrong += differences != 0;      (it stayed intact: the check counts)
 *	}
 *	assert_true(follow.end_of_stream);
 *
 * A loop, not a callback: each test's checks use its own locals and cmocka assertions,
 * and stay readable where they are.
 *
 * The reader stays the caller's (attach it first, detach it after). Anything the stream
 * must not do (a silence longer than wait_ms, a move to a new segment unless asked for,
 * any other error) fails the test through cmocka: use these in the test process only,
 * never in a forked child.
 */
#ifndef VSHM_TEST_FOLLOW_H
#define VSHM_TEST_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/vshm.h>

struct follow {
	/* Set by the caller before the first follow_next(). */
	struct vshm_reader *reader;
	int wait_ms; /* the longest wait for a new frame */
	/* As a viewer redraws: after wait_ms without a new frame, take the latest one again
	 * instead of failing the test. */
	bool retake_on_timeout;
	/* The stream may move to a new segment (bigger slots, a new writer): reattach on
	 * -ESTALE instead of failing the test. */
	bool follow_moves;

	/* Kept by follow_next() and follow_release(). */
	bool holding;             /* a frame is taken and not given back yet */
	bool end_of_stream;       /* the frame flagged VSHM_FRAME_END_OF_STREAM was taken */
	bool writer_gone;         /* vshm_reader_wait() said -EPIPE */
	uint64_t longest_wait_ns; /* the longest vshm_reader_wait() call */
};

/*
 * Gives back the frame still held from the last call, if the test did not; then waits
 * for a new frame and takes it into *frame. Returns false, holding nothing, once the
 * stream has ended: after the end-of-stream frame was taken, or when its writer is gone.
 */
bool follow_next(struct follow *follow, struct vshm_frame *frame);

/* Gives the held frame back. True if it stayed intact while held: what the test found
 * in it counts. False if the writer overwrote it meanwhile (drop what was found). */
bool follow_release(struct follow *follow);

#endif
