/*
 * vshm-glass-to-glass SENDER RECEIVER FRAMES: the latency from a frame's capture on
 * one side of a network link to its publication on the other, for two streams of the
 * same machine (one clock): SENDER is the test pattern a vshm-record sends, RECEIVER
 * the stream a vshm-capture makes of what it receives. The receiver's frames carry no
 * trace of the sender's metadata, but the pattern draws each frame's number into it
 * (tests/pattern-digits.c reads it back); the sender's capture time of that number,
 * noted as the sender published it, is subtracted from the receiver's publish time.
 * Prints "frames p50_us p99_us" on standard output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <vshm/vshm.h>

#include "pattern-digits.h"

/* Capture times of the sender's latest frames, by frame number modulo this. */
#define REMEMBERED 4096

struct sent {
	uint64_t number;
	uint64_t capture_ns;
};

static int compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Notes the capture time of the sender's latest frame. */
static void note_sender(struct vshm_reader *sender, struct sent *sent)
{
	struct vshm_frame frame;
	if (vshm_reader_acquire(sender, &frame) < 0)
		return;
	struct sent *slot = &sent[frame.frame_number % REMEMBERED];
	slot->number = frame.frame_number;
	slot->capture_ns = frame.capture_ns;
	vshm_reader_release(sender);
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long count = argc == 4 ? strtoul(argv[3], &end, 10) : 0;
	if (argc != 4 || *end || count == 0 || count > 100000) {
		fprintf(stderr, "usage: vshm-glass-to-glass SENDER RECEIVER FRAMES (1..100000)\n");
		return 2;
	}
	struct vshm_reader *sender = vshm_reader_attach_wait(argv[1], NULL, 10000, NULL, NULL);
	struct vshm_reader *receiver = vshm_reader_attach_wait(argv[2], NULL, 30000, NULL, NULL);
	if (!sender || !receiver) {
		fprintf(stderr, "vshm-glass-to-glass: cannot attach to '%s': %s\n",
		        sender ? argv[2] : argv[1], vshm_error());
		return 1;
	}
	static struct sent sent[REMEMBERED];
	uint64_t *latencies = calloc(count, sizeof(*latencies));
	unsigned long measured = 0, unknown = 0, silent_turns = 0;
	while (measured < count && silent_turns < 2000) {
		/* Short waits on the receiver, so that no frame of the sender (30 fps) goes
		 * by unnoted; the receiver's own publish time is in its frame, so when we look
		 * does not change what is measured. */
		int result = vshm_reader_wait(receiver, 5);
		note_sender(sender, sent);
		if (result == -ESTALE)
			vshm_reader_reattach(receiver);
		if (result != 0) {
			silent_turns++;
			continue;
		}
		silent_turns = 0;
		struct vshm_frame frame;
		if (vshm_reader_acquire(receiver, &frame) < 0)
			continue;
		uint64_t number;
		bool legible = frame.format == VSHM_FORMAT_I420 ||
		               frame.format == VSHM_FORMAT_NV12 ||
		               frame.format == VSHM_FORMAT_GRAY8;
		legible = legible && pattern_digits_read(frame.plane[0], frame.stride[0],
		                                         frame.width, frame.height, &number);
		uint64_t published = frame.publish_ns;
		if (vshm_reader_release(receiver) != 1 || !legible)
			continue;
		const struct sent *origin = &sent[number % REMEMBERED];
		if (origin->number != number || !origin->capture_ns ||
		    published < origin->capture_ns) {
			unknown++;
			continue;
		}
		latencies[measured++] = published - origin->capture_ns;
	}
	vshm_reader_detach(receiver);
	vshm_reader_detach(sender);
	if (measured == 0) {
		fprintf(stderr, "vshm-glass-to-glass: no frame of '%s' was matched (%lu unknown)\n",
		        argv[2], unknown);
		return 1;
	}
	qsort(latencies, measured, sizeof(*latencies), compare);
	printf("%lu %.1f %.1f\n", measured, (double)latencies[measured / 2] / 1e3,
	       (double)latencies[(measured * 99) / 100] / 1e3);
	free(latencies);
	return 0;
}
