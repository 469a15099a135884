/*
 * vshmsrc's state, shared by the element (src.c) and the code that finds its next frame
 * (src-next.c). Private to the plugin.
 */
#ifndef VSHM_GST_SRC_H
#define VSHM_GST_SRC_H

#include <gst/base/gstpushsrc.h>

#include "src-reader.h"

/* How long one wait lasts before the flushing flag and the timeout are looked at again. */
#define SLICE_MS 20

#define GST_TYPE_VSHM_SRC (gst_vshm_src_get_type())
G_DECLARE_FINAL_TYPE(GstVshmSrc, gst_vshm_src, GST, VSHM_SRC, GstPushSrc)

struct _GstVshmSrc {
	GstPushSrc parent;

	/* Properties, under the object lock. */
	gchar *stream_name;
	guint64 timeout_ns;
	gboolean copy;
	gboolean eos_when_gone;
	gboolean lossless;

	gint flushing; /* atomic: unlock() was called */

	/* Streaming thread; caps and counters also read under the object lock. */
	gchar *name;
	bool take_every_frame; /* lossless, as it was set at start() */
	struct src_reader *holder;
	GstCaps *caps; /* of the frames pushed now, NULL before the first */
	struct caps_key {
		uint32_t format, width, height;
		uint8_t color_matrix, color_range, color_primaries, color_transfer;
		struct vshm_ratio sample_aspect;
		uint64_t frame_interval_ns;
	} caps_key; /* what caps were made from */
	GstVideoInfo info;
	uint64_t frame_interval_ns;
	bool video_meta;        /* downstream reads GstVideoMeta */
	uint64_t last_sequence; /* of the last frame taken from this segment, 0: none */
	uint64_t last_frame_number;
	bool discontinuity;
	bool ended;
	guint64 pushed, torn;
	guint64 torn_late; /* of readers detached already */
};

/* True once unlock() was called: the streaming thread must return GST_FLOW_FLUSHING. */
static inline bool src_flushing(GstVshmSrc *src)
{
	return g_atomic_int_get(&src->flushing) != 0;
}

/*
 * Waits for the next frame and acquires it. Returns GST_FLOW_OK with the frame held by
 * *taken_by, GST_FLOW_EOS (the writer went, with eos-when-gone), GST_FLOW_FLUSHING, or
 * GST_FLOW_ERROR after posting an element error. Streaming thread only.
 */
GstFlowReturn src_next_frame(GstVshmSrc *src, struct vshm_frame *frame,
                             struct vshm_reader **taken_by);

#endif
