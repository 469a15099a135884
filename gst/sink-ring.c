/*
 * The writer behind a vshmsink, and the slots it lends upstream (see sink-ring.h).
 *
 * Pixel data is copied in at most one place per frame, sink_ring_publish_copy(), for
 * buffers that are not lent slots (or that something besides the sink still holds);
 * a lent slot that reaches the sink alone is published with no copy at all. The end of
 * stream copies the last frame once more, from its slot to another, so the frame that
 * says end-of-stream has pixels too.
 */
#include <errno.h>
#include <string.h>

#include "sink-ring.h"

struct sink_ring {
	gatomicrefcount references;
	GMutex lock; /* guards everything below; the writer is used by one thread at a time */
	char name[VSHM_NAME_MAX + 1];
	uint32_t slot_count;
	bool group_access;
	struct vshm_writer *writer; /* NULL until the first format */
	uint32_t lendable, lent;

	/* The format of the frames to come, as the ring lays them out. */
	uint32_t format, width, height;
	struct vshm_format_layout layout;

	uint64_t next_frame_number;
	bool discontinuity; /* a frame was dropped since the last publish */
	/* The last frame published, for the end-of-stream frame, and the segment it lies in
	 * (its plane pointers are valid only as long as that segment is the writer's). */
	struct vshm_frame last;
	uint64_t last_segment;
	bool have_last;

	uint64_t in_place, copied, dropped;
};

/* A slot lent out as a buffer's memory: the memory's user data, freed with it. */
struct lent_slot {
	struct sink_ring *ring;
	struct vshm_frame frame; /* as begun; its slot names it for publish and cancel */
	bool published;
};

/* Marks the memories that are lent slots, so that the sink recognises them. */
static GQuark lent_slot_quark(void)
{
	static gsize quark;
	if (g_once_init_enter(&quark))
		g_once_init_leave(&quark, g_quark_from_static_string("vshm-lent-slot"));
	return (GQuark)quark;
}

struct sink_ring *sink_ring_new(const char *name, uint32_t slot_count, bool group_access,
                                int *error)
{
	int result = vshm_name_check(name);
	if (result < 0) {
		*error = result;
		return NULL;
	}
	struct sink_ring *ring = g_new0(struct sink_ring, 1);
	g_atomic_ref_count_init(&ring->references);
	g_mutex_init(&ring->lock);
	g_strlcpy(ring->name, name, sizeof(ring->name));
	ring->slot_count = slot_count;
	ring->group_access = group_access;
	return ring;
}

struct sink_ring *sink_ring_ref(struct sink_ring *ring)
{
	g_atomic_ref_count_inc(&ring->references);
	return ring;
}

void sink_ring_unref(struct sink_ring *ring)
{
	if (!ring || !g_atomic_ref_count_dec(&ring->references))
		return;
	/* Nothing is lent any more (each lent buffer holds a reference), so no slot is
	 * begun: destroying removes the stream, and its readers keep the last frame. */
	vshm_writer_destroy(ring->writer);
	g_mutex_clear(&ring->lock);
	g_free(ring);
}

static uint64_t segment_of(const struct vshm_writer *writer)
{
	struct vshm_writer_stats stats;
	vshm_writer_get_stats(writer, &stats);
	return stats.segments_created;
}

int sink_ring_set_format(struct sink_ring *ring, const GstVideoInfo *info)
{
	uint32_t format = vshm_gst_format_from_video(GST_VIDEO_INFO_FORMAT(info));
	struct vshm_format_layout layout;
	if (format == VSHM_FORMAT_INVALID ||
	    vshm_format_layout(format, GST_VIDEO_INFO_WIDTH(info), GST_VIDEO_INFO_HEIGHT(info),
	                       &layout) < 0) {
		/* The pad template admits only what the ring carries; this is a safeguard. */
		return -EINVAL;
	}
	int result = 0;
	g_mutex_lock(&ring->lock);
	if (!ring->writer) {
		uint32_t in_flight = ring->slot_count > 3 ? ring->slot_count - 2 : 1;
		struct vshm_writer_options options = {
			.slot_count = ring->slot_count,
			.frames_in_flight = in_flight,
			.max_frame_bytes = layout.total_size,
			.group_access = ring->group_access,
		};
		if (GST_VIDEO_INFO_FPS_N(info) > 0)
			options.frame_interval_ns = gst_util_uint64_scale_int(
			    GST_SECOND, GST_VIDEO_INFO_FPS_D(info), GST_VIDEO_INFO_FPS_N(info));
		ring->writer = vshm_writer_create(ring->name, &options);
		if (!ring->writer) {
			result = -errno;
			goto out;
		}
		ring->lendable = in_flight - 1;
	}
	ring->format = format;
	ring->width = GST_VIDEO_INFO_WIDTH(info);
	ring->height = GST_VIDEO_INFO_HEIGHT(info);
	ring->layout = layout;
out:
	g_mutex_unlock(&ring->lock);
	return result;
}

/* With the lock held: info describes the frames the ring now takes. */
static bool is_current_format(const struct sink_ring *ring, const GstVideoInfo *info)
{
	return ring->writer &&
	       vshm_gst_format_from_video(GST_VIDEO_INFO_FORMAT(info)) == ring->format &&
	       GST_VIDEO_INFO_WIDTH(info) == (int)ring->width &&
	       GST_VIDEO_INFO_HEIGHT(info) == (int)ring->height;
}

bool sink_ring_can_lend(struct sink_ring *ring, const GstVideoInfo *info, bool video_meta)
{
	g_mutex_lock(&ring->lock);
	bool can = ring->lendable > 0 && is_current_format(ring, info) &&
	           (video_meta || vshm_gst_layout_is_default(info, &ring->layout));
	g_mutex_unlock(&ring->lock);
	return can;
}

/* The memory of a lent slot is freed: unless it was published, the slot goes back. */
static void lent_slot_free(gpointer data)
{
	struct lent_slot *slot = data;
	struct sink_ring *ring = slot->ring;
	g_mutex_lock(&ring->lock);
	if (!slot->published) {
		/* Nothing writes to it any more: the buffer that did is gone. */
		vshm_writer_cancel_frame(ring->writer, &slot->frame);
		ring->lent--;
	}
	g_mutex_unlock(&ring->lock);
	sink_ring_unref(ring);
	g_free(slot);
}

GstBuffer *sink_ring_lend(struct sink_ring *ring, const GstVideoInfo *info)
{
	struct vshm_frame frame;
	g_mutex_lock(&ring->lock);
	if (ring->lent >= ring->lendable || !is_current_format(ring, info) ||
	    vshm_writer_begin(ring->writer, ring->format, ring->width, ring->height, &frame) < 0) {
		g_mutex_unlock(&ring->lock);
		return NULL;
	}
	ring->lent++;
	struct vshm_format_layout layout = ring->layout;
	g_mutex_unlock(&ring->lock);

	struct lent_slot *slot = g_new0(struct lent_slot, 1);
	slot->ring = sink_ring_ref(ring);
	slot->frame = frame;
	/* NO_SHARE: a copy of the buffer copies the pixels rather than sharing the slot,
	 * so the slot is never reachable from two buffers. */
	GstMemory *memory =
	    gst_memory_new_wrapped(GST_MEMORY_FLAG_NO_SHARE, frame.plane[0], layout.total_size, 0,
	                           layout.total_size, slot, lent_slot_free);
	gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(memory), lent_slot_quark(), slot, NULL);
	GstBuffer *buffer = gst_buffer_new();
	gst_buffer_append_memory(buffer, memory);
	vshm_gst_add_video_meta(buffer, info, &layout);
	return buffer;
}

/* With the lock held: publishes frame with the sink's metadata and remembers it. */
static int publish(struct sink_ring *ring, struct vshm_frame *frame,
                   const struct sink_ring_frame_info *frame_info)
{
	frame->frame_number = ring->next_frame_number;
	frame->capture_ns = frame_info->capture_ns ? frame_info->capture_ns : vshm_now_ns();
	frame->flags = frame_info->flags;
	if (ring->discontinuity)
		frame->flags |= VSHM_FRAME_DISCONTINUITY;
	vshm_gst_picture_to_frame(&frame_info->picture, frame);
	int result = vshm_writer_publish(ring->writer, frame);
	if (result < 0)
		return result;
	ring->next_frame_number++;
	ring->discontinuity = false;
	ring->last = *frame;
	ring->last_segment = segment_of(ring->writer);
	ring->have_last = true;
	return 0;
}

/* True if the buffer's GstVideoMeta (if any) still describes the slot as lent. */
static bool laid_out_as_lent(GstBuffer *buffer, const struct vshm_frame *frame)
{
	GstVideoMeta *meta = gst_buffer_get_video_meta(buffer);
	if (!meta)
		return true;
	if (meta->width != frame->width || meta->height != frame->height ||
	    meta->n_planes != frame->plane_count)
		return false;
	for (uint32_t i = 0; i < frame->plane_count; i++) {
		if ((uint64_t)meta->stride[i] != frame->stride[i] ||
		    meta->offset[i] != (gsize)(frame->plane[i] - frame->plane[0]))
			return false;
	}
	return true;
}

int sink_ring_publish_in_place(struct sink_ring *ring, GstBuffer *buffer,
                               const struct sink_ring_frame_info *frame_info)
{
	if (gst_buffer_n_memory(buffer) != 1)
		return 0;
	GstMemory *memory = gst_buffer_peek_memory(buffer, 0);
	struct lent_slot *slot =
	    gst_mini_object_get_qdata(GST_MINI_OBJECT_CAST(memory), lent_slot_quark());
	if (!slot || slot->ring != ring)
		return 0;
	/* Held elsewhere too (a tee's other branch, a sink keeping its last sample):
	 * whoever holds it could still read the slot after the writer reuses it. */
	if (GST_MINI_OBJECT_REFCOUNT_VALUE(buffer) != 1 ||
	    GST_MINI_OBJECT_REFCOUNT_VALUE(memory) != 1)
		return 0;
	gsize offset = 0;
	gsize size = gst_memory_get_sizes(memory, &offset, NULL);
	if (offset != 0 ||
	    size != (gsize)(slot->frame.plane[slot->frame.plane_count - 1] - slot->frame.plane[0] +
	                    slot->frame.plane_size[slot->frame.plane_count - 1]))
		return 0;
	if (!laid_out_as_lent(buffer, &slot->frame))
		return 0;

	g_mutex_lock(&ring->lock);
	if (slot->published || slot->frame.format != ring->format ||
	    slot->frame.width != ring->width || slot->frame.height != ring->height) {
		g_mutex_unlock(&ring->lock);
		return 0;
	}
	struct vshm_frame frame = slot->frame;
	int result = publish(ring, &frame, frame_info);
	if (result == 0) {
		slot->published = true;
		ring->lent--;
		ring->in_place++;
	}
	g_mutex_unlock(&ring->lock);
	return result == 0 ? 1 : 0;
}

int sink_ring_publish_copy(struct sink_ring *ring, GstBuffer *buffer, const GstVideoInfo *info,
                           const struct sink_ring_frame_info *frame_info)
{
	GstVideoFrame video_frame;
	if (!gst_video_frame_map(&video_frame, info, buffer, GST_MAP_READ))
		return -EINVAL;
	struct vshm_frame frame;
	g_mutex_lock(&ring->lock);
	int result =
	    vshm_writer_begin(ring->writer, ring->format, ring->width, ring->height, &frame);
	if (result == -EBUSY) {
		/* Only a move to larger slots can fail like this: the copy's own slot is
		 * never lent. It waits until the lent slots of the old size are back. */
		ring->dropped++;
		ring->discontinuity = true;
		vshm_writer_count_dropped(ring->writer, 1);
		g_mutex_unlock(&ring->lock);
		gst_video_frame_unmap(&video_frame);
		return 1;
	}
	g_mutex_unlock(&ring->lock);
	if (result < 0) {
		gst_video_frame_unmap(&video_frame);
		return result;
	}

	/* The one copy of this frame: from upstream's buffer into the slot. The lock is
	 * not held, so pools may lend meanwhile; the slot is ours until published. */
	const uint8_t *source[GST_VIDEO_MAX_PLANES] = { 0 };
	uint32_t source_stride[GST_VIDEO_MAX_PLANES] = { 0 };
	for (uint32_t i = 0; i < frame.plane_count && i < GST_VIDEO_MAX_PLANES; i++) {
		source[i] = GST_VIDEO_FRAME_PLANE_DATA(&video_frame, i);
		source_stride[i] = (uint32_t)GST_VIDEO_FRAME_PLANE_STRIDE(&video_frame, i);
	}
	vshm_gst_copy_planes(frame.format, frame.width, frame.height, frame.plane, frame.stride,
	                     source, source_stride);
	gst_video_frame_unmap(&video_frame);

	g_mutex_lock(&ring->lock);
	result = publish(ring, &frame, frame_info);
	if (result == 0)
		ring->copied++;
	g_mutex_unlock(&ring->lock);
	return result;
}

int sink_ring_end(struct sink_ring *ring)
{
	int result = 0;
	g_mutex_lock(&ring->lock);
	if (!ring->writer || !ring->have_last || ring->last_segment != segment_of(ring->writer))
		goto out;
	const struct vshm_frame *last = &ring->last;
	struct vshm_frame frame;
	/* The same format and size as a frame of this segment: it fits, and begin never
	 * picks the latest slot, where the last frame lies. */
	result = vshm_writer_begin(ring->writer, last->format, last->width, last->height, &frame);
	if (result < 0)
		goto out;
	vshm_gst_copy_planes(frame.format, frame.width, frame.height, frame.plane, frame.stride,
	                     (const uint8_t *const *)last->plane, last->stride);
	frame.frame_number = last->frame_number;
	frame.capture_ns = last->capture_ns;
	frame.flags = last->flags | VSHM_FRAME_END_OF_STREAM;
	frame.color_matrix = last->color_matrix;
	frame.color_range = last->color_range;
	frame.color_primaries = last->color_primaries;
	frame.color_transfer = last->color_transfer;
	frame.sample_aspect = last->sample_aspect;
	result = vshm_writer_publish(ring->writer, &frame);
	if (result == 0)
		ring->last = frame;
out:
	g_mutex_unlock(&ring->lock);
	return result;
}

void sink_ring_get_counts(struct sink_ring *ring, struct sink_ring_counts *counts)
{
	g_mutex_lock(&ring->lock);
	counts->in_place = ring->in_place;
	counts->copied = ring->copied;
	counts->dropped = ring->dropped;
	counts->lent = ring->lent;
	counts->lendable = ring->lendable;
	g_mutex_unlock(&ring->lock);
}
