/*
 * vshmsrc's next frame: waiting for the stream to appear and for its frames, following
 * a writer that restarts or moves to larger slots (the ring's reattach), and, with
 * copy=false, a second reader for when downstream keeps the frame the first one holds.
 */
#include <errno.h>

#include "src.h"

#define GST_CAT_DEFAULT vshm_gst_debug

/*
 * The element lives in someone else's application: a segment its writer cuts short
 * (a bug) must not kill that process with SIGBUS, whether the copy or an element
 * downstream of a lent frame touches it. The guard reads zeros there instead; the frame
 * is then torn and the next wait moves on (vshm_reader_options).
 */
static const struct vshm_reader_options guarded = { .guard_truncation = true };

/* Tries to attach once. Returns 0, or a negative errno: -ENOENT, -EAGAIN and -ENODATA
 * mean "not there yet, try again"; others are final (vshm_error() says why). */
static int attach(GstVshmSrc *src)
{
	struct vshm_reader_options options = guarded;
	options.lossless = src->take_every_frame;
	struct vshm_reader *reader = vshm_reader_attach(src->name, &options);
	if (!reader)
		return -errno;
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	GST_OBJECT_LOCK(src);
	src->holder = src_reader_new(reader);
	src->frame_interval_ns = stats.frame_interval_ns;
	GST_OBJECT_UNLOCK(src);
	src->last_sequence = 0;
	GST_INFO_OBJECT(src, "attached to stream '%s'", src->name);
	return 0;
}

static int reattach(GstVshmSrc *src, struct vshm_reader *reader)
{
	int result = vshm_reader_reattach(reader);
	if (result < 0)
		return result;
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	GST_OBJECT_LOCK(src);
	src->frame_interval_ns = stats.frame_interval_ns;
	GST_OBJECT_UNLOCK(src);
	src->last_sequence = 0;
	src->discontinuity = true;
	GST_INFO_OBJECT(src, "followed stream '%s' to its new segment", src->name);
	return 0;
}

static bool is_retryable(int result)
{
	return result == -ENOENT || result == -EAGAIN || result == -ENODATA;
}

/* With copy=false and every reader's frame still downstream: one more reader, if the
 * stream lets us in; otherwise the source waits for a frame to come back. Returns 0, or
 * the negative errno of an attach that failed (vshm_error() says why). */
static int add_reader(GstVshmSrc *src)
{
	if (src->take_every_frame || src_reader_count(src->holder) >= SRC_READERS)
		return 0;
	struct vshm_reader *reader = vshm_reader_attach(src->name, &guarded);
	if (!reader)
		return -errno;
	if (src_reader_add(src->holder, reader))
		GST_DEBUG_OBJECT(src, "a second reader, for frames downstream keeps");
	return 0;
}

GstFlowReturn src_next_frame(GstVshmSrc *src, struct vshm_frame *frame,
                             struct vshm_reader **taken_by)
{
	GST_OBJECT_LOCK(src);
	guint64 timeout_ns = src->timeout_ns;
	gboolean eos_when_gone = src->eos_when_gone;
	GST_OBJECT_UNLOCK(src);
	uint64_t deadline = timeout_ns ? vshm_now_ns() + timeout_ns : 0;
	bool gone_said = false;
	char why[256] = "";

	for (;;) {
		if (src_flushing(src))
			return GST_FLOW_FLUSHING;
		if (deadline && vshm_now_ns() >= deadline) {
			GST_ELEMENT_ERROR(
			    src, RESOURCE, READ,
			    ("no frame from stream '%s' within %" G_GUINT64_FORMAT " ms%s%s",
			     src->name, timeout_ns / 1000000, why[0] ? ": " : "", why),
			    ("timeout=%" G_GUINT64_FORMAT, timeout_ns));
			return GST_FLOW_ERROR;
		}
		if (!src->holder) {
			int result = attach(src);
			if (result == 0)
				continue;
			if (!is_retryable(result)) {
				GST_ELEMENT_ERROR(src, RESOURCE, OPEN_READ, ("%s", vshm_error()),
				                  ("stream-name=%s", src->name));
				return GST_FLOW_ERROR;
			}
			g_strlcpy(why, vshm_error(), sizeof(why));
			g_usleep(SLICE_MS * 1000);
			continue;
		}
		struct vshm_reader *reader = src_reader_free_one(src->holder, SLICE_MS);
		if (!reader) {
			/* A sink keeps its last buffer until the next one: a stream that lets
			 * no second reader in (damaged, cut short, its table full) would stall
			 * the source for good, so that is an error. */
			int result = add_reader(src);
			if (result < 0 && !is_retryable(result)) {
				GST_ELEMENT_ERROR(src, RESOURCE, OPEN_READ, ("%s", vshm_error()),
				                  ("stream-name=%s", src->name));
				return GST_FLOW_ERROR;
			}
			continue;
		}
		/* The frame pushed last may have come from another of our readers (with
		 * copy=false, downstream keeps one while the next is taken): this reader waits
		 * for a newer one, rather than wake for that one and find it taken. */
		if (!src->take_every_frame)
			vshm_reader_skip(reader, src->last_sequence);
		int result = vshm_reader_wait(reader, SLICE_MS);
		if (result == 0 && vshm_reader_acquire(reader, frame) == 0) {
			/* Another reader may have taken this frame already. */
			if (frame->sequence != src->last_sequence) {
				*taken_by = reader;
				return GST_FLOW_OK;
			}
			vshm_reader_release(reader);
			continue;
		}
		if (result == -EPIPE) {
			if (eos_when_gone) {
				GST_INFO_OBJECT(src, "the writer of '%s' is gone: EOS", src->name);
				return GST_FLOW_EOS;
			}
			if (!gone_said)
				GST_INFO_OBJECT(src,
				                "the writer of '%s' is gone; waiting for a new one",
				                src->name);
			gone_said = true;
			g_snprintf(why, sizeof(why), "its writer is gone");
		} else if (result == -ESTALE) {
			result = reattach(src, reader);
			if (result < 0 && !is_retryable(result)) {
				GST_ELEMENT_ERROR(src, RESOURCE, OPEN_READ, ("%s", vshm_error()),
				                  ("stream-name=%s", src->name));
				return GST_FLOW_ERROR;
			}
			if (result < 0)
				g_usleep(SLICE_MS * 1000);
		}
	}
}
