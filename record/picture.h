/*
 * From a slot to the encoder's AVFrame, in exactly one of three ways:
 *
 *   - in place: the AVFrame's planes are the slot's own (no copy). Only for an encoder
 *     that takes the slot's format and size and is done with a frame when it returns
 *     its packet (encoder.h, in_place); the caller encodes before it releases the slot
 *     and drops the packet if the frame was torn meanwhile.
 *   - copied: the slot's planes are copied into a frame from a pool, the one copy of the
 *     recording. Encoders with delay (libx264 keeps frames for its lookahead and
 *     B-frames) read a frame long after it was handed over, when the slot has been
 *     reused; the copy is what they read, and it is only handed over once the slot's
 *     release said it was intact.
 *   - converted: swscale converts (another format) or scales (another size: the
 *     stream changed mid-recording) from the slot straight into a pooled frame, the one
 *     pass over the pixels; handed over like a copy.
 *
 * Pooled frames return to the pool when the encoder lets go of them, so a recording
 * allocates nothing per frame once the encoder's delay is filled. Not thread-safe.
 */
#ifndef VSHM_RECORD_PICTURE_H
#define VSHM_RECORD_PICTURE_H

#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <vshm/vshm.h>

#include "encoder.h"

enum picture_kind {
	PICTURE_IN_PLACE = 1, /* reads the slot: encode, then release */
	PICTURE_COPIED = 2,   /* a copy or conversion: release, then encode if intact */
};

struct picture_maker {
	AVBufferPool *pool;
	size_t pool_size;
	struct SwsContext *scaler;
	/* How many frames took each way, for the summary. */
	uint64_t in_place, copied, converted;
};

/*
 * Fills picture (an AVFrame without buffers) from slot for encoder: format, size,
 * planes and colour; the caller sets its timestamp. Returns an enum picture_kind, or a
 * negative AVERROR (out of memory, a conversion swscale cannot make) after printing one
 * line on stderr, picture left empty. A PICTURE_IN_PLACE picture points into the slot:
 * unreference it before releasing the slot.
 */
int picture_make(struct picture_maker *maker, const struct encoder *encoder,
                 const struct vshm_frame *slot, AVFrame *picture);

/* Frees the scaler and the pool (frames still out keep it alive until unreferenced). */
void picture_maker_finish(struct picture_maker *maker);

#endif
