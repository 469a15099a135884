#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "follow.h"
#include "test-util.h"

/* How long a reattach may keep finding the stream between its old and new segment. */
#define REATTACH_TRIES    200
#define REATTACH_PAUSE_US 10000

static void reattach(struct follow *follow)
{
	/* While the writer is between the old segment and the new one, reattach says try
	 * again (the name is missing or still holds the old segment). */
	int result = 0;
	for (int tries = 0; tries < REATTACH_TRIES; tries++) {
		result = vshm_reader_reattach(follow->reader);
		if (result != -EAGAIN && result != -ENOENT)
			break;
		test_sleep_us(REATTACH_PAUSE_US);
	}
	if (result != 0)
		fail_msg("stream '%s' moved and the reader cannot follow: %s (%s)",
		         vshm_reader_name(follow->reader), strerror(-result), vshm_error());
}

bool follow_next(struct follow *follow, struct vshm_frame *frame)
{
	if (follow->holding)
		follow_release(follow);
	if (follow->end_of_stream || follow->writer_gone)
		return false;
	const char *name = vshm_reader_name(follow->reader);
	for (;;) {
		uint64_t before = vshm_now_ns();
		int result = vshm_reader_wait(follow->reader, follow->wait_ms);
		uint64_t waited = vshm_now_ns() - before;
		if (waited > follow->longest_wait_ns)
			follow->longest_wait_ns = waited;
		if (result == -EPIPE) {
			follow->writer_gone = true;
			return false;
		}
		if (result == -ESTALE && follow->follow_moves) {
			reattach(follow);
			continue;
		}
		if (result == -ETIMEDOUT && !follow->retake_on_timeout)
			fail_msg("no new frame on stream '%s' for %d ms", name, follow->wait_ms);
		if (result != 0 && result != -ETIMEDOUT)
			fail_msg("waiting on stream '%s': %s", name, strerror(-result));
		/* Nothing taken (the writer kept rewriting the slot): wait for the next frame. */
		if (vshm_reader_acquire(follow->reader, frame) < 0)
			continue;
		follow->holding = true;
		/* The flags were read with the rest of the metadata under the slot's sequence
		 * count, so they are the frame's own even if its pixels are overwritten later. */
		if (frame->flags & VSHM_FRAME_END_OF_STREAM)
			follow->end_of_stream = true;
		return true;
	}
}

bool follow_release(struct follow *follow)
{
	assert_true(follow->holding);
	follow->holding = false;
	return vshm_reader_release(follow->reader) == 1;
}
