/*
 * vshmsrc: a vshm stream as a live GStreamer source.
 *
 * Caps come from the frames themselves (format, size and colour travel with each frame,
 * the rate with the stream): a frame in another format or size renegotiates before it
 * is pushed. The source waits for the stream to appear, follows a writer that restarts
 * or moves to larger slots (the ring's reattach), and ends with EOS after a frame that
 * says end-of-stream, or, with eos-when-gone, when the writer goes.
 *
 * No torn frame goes downstream. copy=true (the default): the frame is copied into a
 * buffer of the negotiated pool, and pushed only if the ring says, after the copy, that
 * the writer did not touch it meanwhile; torn copies are dropped and counted. This copy
 * is the one that takes pixels out of the ring, and the only one. copy=false: the
 * buffer wraps the slot itself (read-only), with no copy, and the frame stays held
 * until downstream frees the buffer: the source takes no next frame before that, and
 * the held slot is one the writer cannot use. The writer never waits, so if readers
 * hold more slots than it has spare it overwrites one of them; a frame overwritten
 * while downstream held it cannot be recalled, only counted (frames-torn-late).
 *
 * lossless=true (with copy=true): the source pushes every frame published after it
 * attached, in order, and the writer waits for it (within its lossless timeout) rather
 * than overwrite a frame the source has not taken yet.
 */
#include <errno.h>
#include <string.h>

#include <gst/video/gstvideopool.h>

#include "src.h"

#define GST_CAT_DEFAULT vshm_gst_debug

enum {
	PROP_0,
	PROP_STREAM_NAME,
	PROP_TIMEOUT,
	PROP_COPY,
	PROP_EOS_WHEN_GONE,
	PROP_LOSSLESS,
	PROP_FRAMES_PUSHED,
	PROP_FRAMES_TORN,
	PROP_FRAMES_TORN_LATE,
};

G_DEFINE_TYPE(GstVshmSrc, gst_vshm_src, GST_TYPE_PUSH_SRC)

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(VSHM_GST_CAPS));

static gboolean start(GstBaseSrc *base)
{
	GstVshmSrc *src = GST_VSHM_SRC(base);
	GST_OBJECT_LOCK(src);
	g_free(src->name);
	src->name = g_strdup(src->stream_name);
	src->pushed = src->torn = src->torn_late = 0;
	src->take_every_frame = src->lossless;
	gboolean copy = src->copy;
	GST_OBJECT_UNLOCK(src);
	if (vshm_name_check(src->name) < 0) {
		GST_ELEMENT_ERROR(src, RESOURCE, SETTINGS, ("%s", vshm_error()),
		                  ("stream-name=%s", src->name ? src->name : "(null)"));
		return FALSE;
	}
	/* A lent frame stays held while a sink keeps it as its last sample, and a lossless
	 * reader takes no next frame before it lets go: the stream would stall until the
	 * writer gave up on us. */
	if (src->take_every_frame && !copy) {
		GST_ELEMENT_ERROR(src, RESOURCE, SETTINGS,
		                  ("lossless=true needs copy=true: a lossless reader takes each "
		                   "frame in turn, so it cannot wait for downstream to free a "
		                   "wrapped one"),
		                  ("stream-name=%s", src->name));
		return FALSE;
	}
	src->last_sequence = 0;
	src->discontinuity = false;
	src->ended = false;
	src->frame_interval_ns = 0;
	return TRUE;
}

static gboolean stop(GstBaseSrc *base)
{
	GstVshmSrc *src = GST_VSHM_SRC(base);
	GST_OBJECT_LOCK(src);
	struct src_reader *holder = src->holder;
	src->holder = NULL;
	if (holder)
		src->torn_late += src_reader_torn_while_lent(holder);
	gst_clear_caps(&src->caps);
	GST_OBJECT_UNLOCK(src);
	/* Detaches now, or when downstream frees the buffer that still wraps a slot. */
	src_reader_unref(holder);
	return TRUE;
}

static gboolean unlock(GstBaseSrc *base)
{
	g_atomic_int_set(&GST_VSHM_SRC(base)->flushing, 1);
	return TRUE;
}

static gboolean unlock_stop(GstBaseSrc *base)
{
	g_atomic_int_set(&GST_VSHM_SRC(base)->flushing, 0);
	return TRUE;
}

static GstCaps *get_caps(GstBaseSrc *base, GstCaps *filter)
{
	GstVshmSrc *src = GST_VSHM_SRC(base);
	GST_OBJECT_LOCK(src);
	GstCaps *caps = src->caps ? gst_caps_ref(src->caps)
	                          : gst_pad_get_pad_template_caps(GST_BASE_SRC_PAD(base));
	GST_OBJECT_UNLOCK(src);
	if (filter) {
		GstCaps *both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
		gst_caps_unref(caps);
		caps = both;
	}
	return caps;
}

/* The caps are the current frame's; before the first frame there is nothing to agree on. */
static gboolean negotiate(GstBaseSrc *base)
{
	GstVshmSrc *src = GST_VSHM_SRC(base);
	GST_OBJECT_LOCK(src);
	GstCaps *caps = src->caps ? gst_caps_ref(src->caps) : NULL;
	GST_OBJECT_UNLOCK(src);
	if (!caps)
		return TRUE;
	gboolean result = gst_base_src_set_caps(base, caps);
	gst_caps_unref(caps);
	return result;
}

static gboolean decide_allocation(GstBaseSrc *base, GstQuery *query)
{
	GstVshmSrc *src = GST_VSHM_SRC(base);
	GstCaps *caps = NULL;
	gst_query_parse_allocation(query, &caps, NULL);
	src->video_meta = gst_query_find_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
	GST_DEBUG_OBJECT(src, "downstream %s GstVideoMeta", src->video_meta ? "reads" : "ignores");
	GstVideoInfo info;
	if (!caps || !gst_video_info_from_caps(&info, caps)) {
		/* Before the first frame: no pool yet. */
		while (gst_query_get_n_allocation_pools(query) > 0)
			gst_query_remove_nth_allocation_pool(query, 0);
		return TRUE;
	}
	GstBufferPool *pool = NULL;
	guint size = GST_VIDEO_INFO_SIZE(&info), min = 0, max = 0;
	bool update = gst_query_get_n_allocation_pools(query) > 0;
	if (update) {
		gst_query_parse_nth_allocation_pool(query, 0, &pool, &size, &min, &max);
		size = MAX(size, GST_VIDEO_INFO_SIZE(&info));
	}
	if (!pool)
		pool = gst_video_buffer_pool_new();
	GstStructure *config = gst_buffer_pool_get_config(pool);
	gst_buffer_pool_config_set_params(config, caps, size, min, max);
	if (src->video_meta)
		gst_buffer_pool_config_add_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
	gst_buffer_pool_set_config(pool, config);
	if (update)
		gst_query_set_nth_allocation_pool(query, 0, pool, size, min, max);
	else
		gst_query_add_allocation_pool(query, pool, size, min, max);
	gst_object_unref(pool);
	return GST_BASE_SRC_CLASS(gst_vshm_src_parent_class)->decide_allocation(base, query);
}

static gboolean query(GstBaseSrc *base, GstQuery *query)
{
	GstVshmSrc *src = GST_VSHM_SRC(base);
	if (GST_QUERY_TYPE(query) != GST_QUERY_LATENCY)
		return GST_BASE_SRC_CLASS(gst_vshm_src_parent_class)->query(base, query);
	/* A frame is pushed as soon as it is published, up to one frame interval after it
	 * was captured. Frames never queue up in the ring (a late reader takes the newest
	 * one), so there is no upper bound to what downstream may add. */
	GST_OBJECT_LOCK(src);
	GstClockTime interval = src->frame_interval_ns;
	GST_OBJECT_UNLOCK(src);
	gst_query_set_latency(query, TRUE, interval, GST_CLOCK_TIME_NONE);
	return TRUE;
}

/*
 * The layout of a frame as the writer laid it out (not necessarily vshm_format_layout()'s),
 * with offsets from its lowest plane: planes may lie in any order in the slot (protocol
 * 4.3), and a buffer over the frame starts at the first of them.
 */
static void frame_layout(const struct vshm_frame *frame, struct vshm_format_layout *layout)
{
	memset(layout, 0, sizeof(*layout));
	layout->plane_count = frame->plane_count;
	const uint8_t *base = frame->plane[0];
	for (uint32_t i = 1; i < frame->plane_count; i++)
		if (frame->plane[i] < base)
			base = frame->plane[i];
	for (uint32_t i = 0; i < frame->plane_count; i++) {
		layout->stride[i] = frame->stride[i];
		layout->offset[i] = (uint64_t)(frame->plane[i] - base);
		layout->size[i] = frame->plane_size[i];
		if (layout->offset[i] + layout->size[i] > layout->total_size)
			layout->total_size = layout->offset[i] + layout->size[i];
	}
}

/*
 * Makes the caps describe frame, renegotiating if they change. Returns false if
 * downstream refused them (an element error is posted).
 */
static bool follow_format(GstVshmSrc *src, const struct vshm_frame *frame)
{
	/* The common case, the same as the last frame, costs no caps to build. */
	const struct caps_key key = {
		frame->format,         frame->width,         frame->height,
		frame->color_matrix,   frame->color_range,   frame->color_primaries,
		frame->color_transfer, frame->sample_aspect, src->frame_interval_ns,
	};
	const struct caps_key *last = &src->caps_key;
	if (src->caps && key.format == last->format && key.width == last->width &&
	    key.height == last->height && key.color_matrix == last->color_matrix &&
	    key.color_range == last->color_range && key.color_primaries == last->color_primaries &&
	    key.color_transfer == last->color_transfer &&
	    key.sample_aspect.numerator == last->sample_aspect.numerator &&
	    key.sample_aspect.denominator == last->sample_aspect.denominator &&
	    key.frame_interval_ns == last->frame_interval_ns)
		return true;
	GstVideoInfo info;
	if (!vshm_gst_info_from_frame(frame, src->frame_interval_ns, &info))
		return false;
	GstCaps *caps = gst_video_info_to_caps(&info);
	GST_OBJECT_LOCK(src);
	bool same = src->caps && gst_caps_is_equal(caps, src->caps);
	if (!same)
		gst_caps_replace(&src->caps, caps);
	GST_OBJECT_UNLOCK(src);
	if (same) {
		gst_caps_unref(caps);
		return true;
	}
	GST_INFO_OBJECT(src, "frames are now %" GST_PTR_FORMAT, (void *)caps);
	src->info = info;
	src->caps_key = key;
	bool accepted = gst_base_src_negotiate(GST_BASE_SRC(src));
	if (!accepted)
		GST_ELEMENT_ERROR(src, CORE, NEGOTIATION,
		                  ("stream '%s' carries %s %dx%d frames, which downstream does not "
		                   "accept: add videoconvert after vshmsrc",
		                   src->name, GST_VIDEO_INFO_NAME(&info),
		                   GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info)),
		                  ("caps %" GST_PTR_FORMAT, (void *)caps));
	gst_caps_unref(caps);
	return accepted;
}

/*
 * Copies the held frame into a buffer of the negotiated pool and releases it. Returns
 * GST_FLOW_OK with *buffer set, or with *buffer NULL if the copy turned out torn (dropped
 * and counted); another flow return if no buffer could be had.
 */
static GstFlowReturn copy_frame(GstVshmSrc *src, struct vshm_reader *reader,
                                const struct vshm_frame *frame, GstBuffer **buffer)
{
	*buffer = NULL;
	GstBufferPool *pool = gst_base_src_get_buffer_pool(GST_BASE_SRC(src));
	GstFlowReturn flow =
	    pool ? gst_buffer_pool_acquire_buffer(pool, buffer, NULL) : GST_FLOW_NOT_NEGOTIATED;
	if (pool)
		gst_object_unref(pool);
	GstVideoFrame video_frame;
	if (flow == GST_FLOW_OK &&
	    !gst_video_frame_map(&video_frame, &src->info, *buffer, GST_MAP_WRITE)) {
		gst_clear_buffer(buffer);
		flow = GST_FLOW_ERROR;
	}
	if (flow != GST_FLOW_OK) {
		vshm_reader_release(reader);
		return flow;
	}
	uint8_t *destination[GST_VIDEO_MAX_PLANES] = { 0 };
	uint32_t destination_stride[GST_VIDEO_MAX_PLANES] = { 0 };
	for (uint32_t i = 0; i < frame->plane_count && i < GST_VIDEO_MAX_PLANES; i++) {
		destination[i] = GST_VIDEO_FRAME_PLANE_DATA(&video_frame, i);
		destination_stride[i] = (uint32_t)GST_VIDEO_FRAME_PLANE_STRIDE(&video_frame, i);
	}
	/* The one copy out of the ring. It races with a writer that may retake the slot;
	 * the release below tells, and a torn copy is never pushed. */
	vshm_gst_copy_planes(frame->format, frame->width, frame->height, destination,
	                     destination_stride, (const uint8_t *const *)frame->plane,
	                     frame->stride);
	gst_video_frame_unmap(&video_frame);
	if (vshm_reader_release(reader) != 1) {
		gst_clear_buffer(buffer);
		GST_OBJECT_LOCK(src);
		src->torn++;
		GST_OBJECT_UNLOCK(src);
		src->discontinuity = true;
		GST_DEBUG_OBJECT(src,
		                 "dropped frame %" G_GUINT64_FORMAT ": overwritten during the copy",
		                 frame->frame_number);
	}
	return GST_FLOW_OK;
}

/* Stamps buffer with the frame's times and number. */
static void stamp(GstVshmSrc *src, GstBuffer *buffer, const struct vshm_frame *frame)
{
	GST_BUFFER_PTS(buffer) = vshm_gst_running_time_from_monotonic(
	    GST_ELEMENT(src), frame->capture_ns ? frame->capture_ns : frame->publish_ns);
	GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
	GST_BUFFER_DURATION(buffer) =
	    src->frame_interval_ns ? src->frame_interval_ns : GST_CLOCK_TIME_NONE;
	GST_BUFFER_OFFSET(buffer) = frame->frame_number;
	GST_BUFFER_OFFSET_END(buffer) = frame->frame_number + 1;
	if (src->discontinuity || (frame->flags & VSHM_FRAME_DISCONTINUITY))
		GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
	src->discontinuity = false;
}

static GstFlowReturn create(GstPushSrc *push, GstBuffer **buffer)
{
	GstVshmSrc *src = GST_VSHM_SRC(push);
	if (src->ended)
		return GST_FLOW_EOS;
	GST_OBJECT_LOCK(src);
	gboolean copy = src->copy;
	GST_OBJECT_UNLOCK(src);

	for (;;) {
		struct vshm_frame frame;
		struct vshm_reader *reader = NULL;
		GstFlowReturn flow = src_next_frame(src, &frame, &reader);
		if (flow != GST_FLOW_OK)
			return flow;
		/* vshmsink ends a stream by publishing its last frame again with the flag:
		 * a frame already pushed is not pushed twice. */
		if ((frame.flags & VSHM_FRAME_END_OF_STREAM) && src->last_sequence != 0 &&
		    frame.frame_number == src->last_frame_number) {
			vshm_reader_release(reader);
			src->ended = true;
			return GST_FLOW_EOS;
		}
		if (!follow_format(src, &frame)) {
			vshm_reader_release(reader);
			return GST_FLOW_NOT_NEGOTIATED;
		}
		src->last_sequence = frame.sequence;
		src->last_frame_number = frame.frame_number;
		if (frame.flags & VSHM_FRAME_END_OF_STREAM)
			src->ended = true;

		struct vshm_format_layout layout;
		frame_layout(&frame, &layout);
		/* Without GstVideoMeta downstream assumes GStreamer's default layout. */
		if (!copy && (src->video_meta || vshm_gst_layout_is_default(&src->info, &layout))) {
			*buffer = src_reader_lend(src->holder, reader, &frame, &src->info, &layout);
		} else {
			flow = copy_frame(src, reader, &frame, buffer);
			if (flow != GST_FLOW_OK)
				return flow;
			if (!*buffer) {
				if (src->ended)
					return GST_FLOW_EOS;
				continue;
			}
		}
		stamp(src, *buffer, &frame);
		GST_OBJECT_LOCK(src);
		src->pushed++;
		GST_OBJECT_UNLOCK(src);
		return GST_FLOW_OK;
	}
}

static void set_property(GObject *object, guint id, const GValue *value, GParamSpec *spec)
{
	GstVshmSrc *src = GST_VSHM_SRC(object);
	GST_OBJECT_LOCK(src);
	switch (id) {
	case PROP_STREAM_NAME:
		g_free(src->stream_name);
		src->stream_name = g_value_dup_string(value);
		break;
	case PROP_TIMEOUT:
		src->timeout_ns = g_value_get_uint64(value);
		break;
	case PROP_COPY:
		src->copy = g_value_get_boolean(value);
		break;
	case PROP_EOS_WHEN_GONE:
		src->eos_when_gone = g_value_get_boolean(value);
		break;
	case PROP_LOSSLESS:
		src->lossless = g_value_get_boolean(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec);
		break;
	}
	GST_OBJECT_UNLOCK(src);
}

static void get_property(GObject *object, guint id, GValue *value, GParamSpec *spec)
{
	GstVshmSrc *src = GST_VSHM_SRC(object);
	GST_OBJECT_LOCK(src);
	switch (id) {
	case PROP_STREAM_NAME:
		g_value_set_string(value, src->stream_name);
		break;
	case PROP_TIMEOUT:
		g_value_set_uint64(value, src->timeout_ns);
		break;
	case PROP_COPY:
		g_value_set_boolean(value, src->copy);
		break;
	case PROP_EOS_WHEN_GONE:
		g_value_set_boolean(value, src->eos_when_gone);
		break;
	case PROP_LOSSLESS:
		g_value_set_boolean(value, src->lossless);
		break;
	case PROP_FRAMES_PUSHED:
		g_value_set_uint64(value, src->pushed);
		break;
	case PROP_FRAMES_TORN:
		g_value_set_uint64(value, src->torn);
		break;
	case PROP_FRAMES_TORN_LATE:
		g_value_set_uint64(value,
		                   src->torn_late +
		                       (src->holder ? src_reader_torn_while_lent(src->holder) : 0));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec);
		break;
	}
	GST_OBJECT_UNLOCK(src);
}

static void finalize(GObject *object)
{
	GstVshmSrc *src = GST_VSHM_SRC(object);
	g_free(src->stream_name);
	g_free(src->name);
	gst_clear_caps(&src->caps);
	src_reader_unref(src->holder);
	G_OBJECT_CLASS(gst_vshm_src_parent_class)->finalize(object);
}

static void gst_vshm_src_class_init(GstVshmSrcClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
	GstBaseSrcClass *base_class = GST_BASE_SRC_CLASS(klass);
	GstPushSrcClass *push_class = GST_PUSH_SRC_CLASS(klass);
	object_class->set_property = set_property;
	object_class->get_property = get_property;
	object_class->finalize = finalize;
	const GParamFlags settable =
	    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
	const GParamFlags counter = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
	g_object_class_install_property(
	    object_class, PROP_STREAM_NAME,
	    g_param_spec_string("stream-name", "Stream name",
	                        "Name of the vshm stream to read (/dev/shm/vshm.<name>). It need "
	                        "not exist yet: the source waits for it",
	                        VSHM_GST_DEFAULT_STREAM_NAME, settable));
	g_object_class_install_property(
	    object_class, PROP_TIMEOUT,
	    g_param_spec_uint64("timeout", "Timeout",
	                        "Post an error when no new frame came for this many nanoseconds "
	                        "(the stream missing, its writer gone or silent); 0 waits "
	                        "forever",
	                        0, G_MAXUINT64, 0, settable));
	g_object_class_install_property(
	    object_class, PROP_COPY,
	    g_param_spec_boolean(
	        "copy", "Copy",
	        "true: copy each frame into a buffer of its own, and push it only if the writer "
	        "left the frame intact during the copy (torn ones are dropped and counted in "
	        "frames-torn). false: push buffers that wrap the slot itself, read-only, with "
	        "no copy; the frame stays held until downstream frees the buffer, so the "
	        "source takes no newer frame before that and the writer has one slot fewer "
	        "meanwhile. When readers hold more slots than the writer has spare it "
	        "overwrites one of them, and a wrapped frame it overwrites is only counted "
	        "(frames-torn-late): use copy=false with slots to spare and downstream "
	        "elements that let go quickly",
	        TRUE, settable));
	g_object_class_install_property(
	    object_class, PROP_EOS_WHEN_GONE,
	    g_param_spec_boolean("eos-when-gone", "EOS when the writer is gone",
	                         "Send EOS when the stream's writer exits or dies, instead of "
	                         "waiting for a new writer of the same name. A frame that says "
	                         "end-of-stream always ends with EOS",
	                         FALSE, settable));
	g_object_class_install_property(
	    object_class, PROP_LOSSLESS,
	    g_param_spec_boolean(
	        "lossless", "Lossless",
	        "Push every frame published after the source attached, in order, instead of "
	        "the newest: the writer waits for this source before it reuses a slot, for at "
	        "most its lossless timeout (1 s by default), after which it stops waiting for "
	        "it and the source takes the newest frames again. Needs copy=true",
	        FALSE, settable));
	g_object_class_install_property(
	    object_class, PROP_FRAMES_PUSHED,
	    g_param_spec_uint64("frames-pushed", "Frames pushed",
	                        "Frames pushed downstream since the element started", 0,
	                        G_MAXUINT64, 0, counter));
	g_object_class_install_property(
	    object_class, PROP_FRAMES_TORN,
	    g_param_spec_uint64("frames-torn", "Frames torn",
	                        "Frames the writer overwrote while they were being copied: "
	                        "dropped, never pushed",
	                        0, G_MAXUINT64, 0, counter));
	g_object_class_install_property(
	    object_class, PROP_FRAMES_TORN_LATE,
	    g_param_spec_uint64("frames-torn-late", "Frames torn while downstream held them",
	                        "With copy=false: wrapped frames the writer overwrote while "
	                        "downstream still held them",
	                        0, G_MAXUINT64, 0, counter));

	gst_element_class_set_static_metadata(
	    element_class, "vshm shared-memory ring source", "Source/Video",
	    "Reads the newest frames of a vshm stream, never slowing its writer down, or with "
	    "lossless=true every frame, the writer waiting for it. Caps "
	    "follow the frames' own format; the source waits for the stream, follows a "
	    "restarted writer, and never pushes a torn frame (copy=true, the default) or "
	    "wraps the slot with no copy (copy=false)",
	    "vshm");
	gst_element_class_add_static_pad_template(element_class, &src_template);

	base_class->start = start;
	base_class->stop = stop;
	base_class->unlock = unlock;
	base_class->unlock_stop = unlock_stop;
	base_class->get_caps = get_caps;
	base_class->negotiate = negotiate;
	base_class->decide_allocation = decide_allocation;
	base_class->query = query;
	push_class->create = create;
}

static void gst_vshm_src_init(GstVshmSrc *src)
{
	src->stream_name = g_strdup(VSHM_GST_DEFAULT_STREAM_NAME);
	src->copy = TRUE;
	gst_base_src_set_live(GST_BASE_SRC(src), TRUE);
	gst_base_src_set_format(GST_BASE_SRC(src), GST_FORMAT_TIME);
}
