/*
 * vshmsink: raw video into a vshm stream, for vshm-view, filters, vshmsrc and any other
 * reader of the ring.
 *
 * Zero copy where upstream allows it: the sink proposes a buffer pool whose buffers
 * are the ring's slots (sink-pool.c); an element that takes it (videotestsrc,
 * videoconvert, videoscale, decoders that output into a downstream pool) writes each
 * frame straight into shared memory, and the frame is published where it lies.
 * Otherwise, and whenever something besides the sink still holds a lent buffer (a tee's
 * other branch, enable-last-sample), the frame is copied once into a slot. The
 * read-only properties frames-in-place and frames-copied tell which happened.
 *
 * Metadata: colorimetry gives the frame's matrix and range; the PTS, as a clock time
 * (running time + base time), gives capture_ns on CLOCK_MONOTONIC (clock.c); a DISCONT
 * buffer (after the first) gives VSHM_FRAME_DISCONTINUITY. EOS publishes the last frame
 * again with VSHM_FRAME_END_OF_STREAM, as vshm-capture's last frame carries it.
 */
#include <errno.h>
#include <string.h>

#include <gst/base/gstbasesink.h>

#include "sink-pool.h"
#include "sink-ring.h"

#define DEFAULT_SLOTS 4

#define GST_CAT_DEFAULT vshm_gst_debug

#define GST_TYPE_VSHM_SINK (gst_vshm_sink_get_type())
G_DECLARE_FINAL_TYPE(GstVshmSink, gst_vshm_sink, GST, VSHM_SINK, GstBaseSink)

struct _GstVshmSink {
	GstBaseSink parent;

	/* Properties, under the object lock. */
	gchar *stream_name;
	guint slots;
	gboolean group;

	/* Set by start() and stop(); read under the object lock from other threads. */
	struct sink_ring *ring;
	struct sink_ring_counts counts; /* of the last ring, kept after stop() */

	/* Streaming thread only. */
	GstVideoInfo info;
	struct vshm_gst_picture picture; /* colour and pixel aspect, from the caps */
	uint64_t rendered;
};

enum {
	PROP_0,
	PROP_STREAM_NAME,
	PROP_SLOTS,
	PROP_GROUP,
	PROP_FRAMES_IN_PLACE,
	PROP_FRAMES_COPIED,
	PROP_FRAMES_DROPPED,
};

G_DEFINE_TYPE(GstVshmSink, gst_vshm_sink, GST_TYPE_BASE_SINK)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(VSHM_GST_CAPS));

/* vshm_error()'s sentence, or a fallback when the failure did not come from libvshm. */
static const char *error_sentence(const char *fallback)
{
	const char *sentence = vshm_error();
	return sentence[0] ? sentence : fallback;
}

static struct sink_ring *current_ring(GstVshmSink *sink)
{
	GST_OBJECT_LOCK(sink);
	struct sink_ring *ring = sink->ring ? sink_ring_ref(sink->ring) : NULL;
	GST_OBJECT_UNLOCK(sink);
	return ring;
}

static gboolean start(GstBaseSink *base)
{
	GstVshmSink *sink = GST_VSHM_SINK(base);
	GST_OBJECT_LOCK(sink);
	gchar *name = g_strdup(sink->stream_name);
	guint slots = sink->slots;
	gboolean group = sink->group;
	GST_OBJECT_UNLOCK(sink);

	int error = 0;
	struct sink_ring *ring = sink_ring_new(name, slots, group, &error);
	if (!ring) {
		GST_ELEMENT_ERROR(sink, RESOURCE, SETTINGS,
		                  ("%s", error_sentence("bad stream-name")),
		                  ("stream-name=%s", name ? name : "(null)"));
		g_free(name);
		return FALSE;
	}
	g_free(name);
	GST_OBJECT_LOCK(sink);
	sink->ring = ring;
	memset(&sink->counts, 0, sizeof(sink->counts));
	GST_OBJECT_UNLOCK(sink);
	sink->rendered = 0;
	gst_video_info_init(&sink->info);
	return TRUE;
}

static gboolean stop(GstBaseSink *base)
{
	GstVshmSink *sink = GST_VSHM_SINK(base);
	GST_OBJECT_LOCK(sink);
	struct sink_ring *ring = sink->ring;
	sink->ring = NULL;
	if (ring)
		sink_ring_get_counts(ring, &sink->counts);
	GST_OBJECT_UNLOCK(sink);
	/* The stream goes with the last reference: now, unless upstream still holds a
	 * lent buffer, which points into it. */
	sink_ring_unref(ring);
	return TRUE;
}

static gboolean set_caps(GstBaseSink *base, GstCaps *caps)
{
	GstVshmSink *sink = GST_VSHM_SINK(base);
	GstVideoInfo info;
	if (!gst_video_info_from_caps(&info, caps)) {
		GST_ELEMENT_ERROR(sink, CORE, NEGOTIATION,
		                  ("caps are not raw video: %" GST_PTR_FORMAT, (void *)caps),
		                  (NULL));
		return FALSE;
	}
	if (sink_ring_set_format(sink->ring, &info) < 0) {
		GST_ELEMENT_ERROR(sink, RESOURCE, OPEN_WRITE,
		                  ("%s", error_sentence("cannot create the stream")),
		                  ("caps %" GST_PTR_FORMAT, (void *)caps));
		return FALSE;
	}
	sink->info = info;
	vshm_gst_picture_from_info(&info, &sink->picture);
	return TRUE;
}

static gboolean propose_allocation(GstBaseSink *base, GstQuery *query)
{
	GstVshmSink *sink = GST_VSHM_SINK(base);
	GstCaps *caps = NULL;
	gboolean need_pool = FALSE;
	gst_query_parse_allocation(query, &caps, &need_pool);
	/* Lent slots have the ring's strides, which upstream learns from GstVideoMeta. */
	gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
	GstVideoInfo info;
	if (!need_pool || !caps || !gst_video_info_from_caps(&info, caps))
		return TRUE;
	struct sink_ring *ring = current_ring(sink);
	if (!ring)
		return TRUE;
	if (sink_ring_can_lend(ring, &info, true)) {
		GstBufferPool *pool = gst_vshm_slot_pool_new(ring);
		GstStructure *config = gst_buffer_pool_get_config(pool);
		gst_buffer_pool_config_set_params(config, caps, GST_VIDEO_INFO_SIZE(&info), 0, 0);
		gst_buffer_pool_config_add_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
		if (gst_buffer_pool_set_config(pool, config))
			gst_query_add_allocation_pool(query, pool, GST_VIDEO_INFO_SIZE(&info), 0,
			                              0);
		gst_object_unref(pool);
	}
	sink_ring_unref(ring);
	return TRUE;
}

static GstFlowReturn render(GstBaseSink *base, GstBuffer *buffer)
{
	GstVshmSink *sink = GST_VSHM_SINK(base);
	struct sink_ring_frame_info frame_info = { .picture = sink->picture };
	GstClockTime pts = GST_BUFFER_PTS(buffer);
	if (GST_CLOCK_TIME_IS_VALID(pts))
		frame_info.capture_ns = vshm_gst_monotonic_from_running_time(
		    GST_ELEMENT(sink),
		    gst_segment_to_running_time(&base->segment, GST_FORMAT_TIME, pts));
	/* The first buffer is always DISCONT; only a gap after it is news to readers. */
	if (sink->rendered > 0 && GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DISCONT))
		frame_info.flags |= VSHM_FRAME_DISCONTINUITY;
	sink->rendered++;

	if (sink_ring_publish_in_place(sink->ring, buffer, &frame_info) == 1) {
		GST_LOG_OBJECT(sink, "published in place");
		return GST_FLOW_OK;
	}
	GST_LOG_OBJECT(sink, "copying a buffer that is not a lent slot held by the sink alone");
	int result = sink_ring_publish_copy(sink->ring, buffer, &sink->info, &frame_info);
	if (result == -EINVAL) {
		GST_ELEMENT_ERROR(sink, STREAM, FORMAT,
		                  ("a buffer of %" G_GSIZE_FORMAT " bytes does not hold a %dx%d %s "
		                   "frame",
		                   gst_buffer_get_size(buffer), GST_VIDEO_INFO_WIDTH(&sink->info),
		                   GST_VIDEO_INFO_HEIGHT(&sink->info),
		                   GST_VIDEO_INFO_NAME(&sink->info)),
		                  (NULL));
		return GST_FLOW_ERROR;
	}
	if (result < 0) {
		GST_ELEMENT_ERROR(sink, RESOURCE, WRITE,
		                  ("%s", error_sentence("cannot write into the stream")), (NULL));
		return GST_FLOW_ERROR;
	}
	if (result == 1)
		GST_WARNING_OBJECT(sink, "dropped a frame: the stream is moving to larger slots "
		                         "while buffers of the old size are still upstream");
	return GST_FLOW_OK;
}

/* Called for EOS once the clock has reached the end of the last frame. */
static GstFlowReturn wait_event(GstBaseSink *base, GstEvent *event)
{
	GstVshmSink *sink = GST_VSHM_SINK(base);
	GstFlowReturn flow =
	    GST_BASE_SINK_CLASS(gst_vshm_sink_parent_class)->wait_event(base, event);
	if (flow == GST_FLOW_OK && GST_EVENT_TYPE(event) == GST_EVENT_EOS && sink->ring &&
	    sink_ring_end(sink->ring) < 0)
		GST_ELEMENT_WARNING(
		    sink, RESOURCE, WRITE,
		    ("could not mark the end of the stream: %s", error_sentence("no slot")),
		    (NULL));
	return flow;
}

static void set_property(GObject *object, guint id, const GValue *value, GParamSpec *spec)
{
	GstVshmSink *sink = GST_VSHM_SINK(object);
	GST_OBJECT_LOCK(sink);
	switch (id) {
	case PROP_STREAM_NAME:
		g_free(sink->stream_name);
		sink->stream_name = g_value_dup_string(value);
		break;
	case PROP_SLOTS:
		sink->slots = g_value_get_uint(value);
		break;
	case PROP_GROUP:
		sink->group = g_value_get_boolean(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec);
		break;
	}
	GST_OBJECT_UNLOCK(sink);
}

static void get_property(GObject *object, guint id, GValue *value, GParamSpec *spec)
{
	GstVshmSink *sink = GST_VSHM_SINK(object);
	GST_OBJECT_LOCK(sink);
	struct sink_ring_counts counts = sink->counts;
	if (sink->ring)
		sink_ring_get_counts(sink->ring, &counts);
	switch (id) {
	case PROP_STREAM_NAME:
		g_value_set_string(value, sink->stream_name);
		break;
	case PROP_SLOTS:
		g_value_set_uint(value, sink->slots);
		break;
	case PROP_GROUP:
		g_value_set_boolean(value, sink->group);
		break;
	case PROP_FRAMES_IN_PLACE:
		g_value_set_uint64(value, counts.in_place);
		break;
	case PROP_FRAMES_COPIED:
		g_value_set_uint64(value, counts.copied);
		break;
	case PROP_FRAMES_DROPPED:
		g_value_set_uint64(value, counts.dropped);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec);
		break;
	}
	GST_OBJECT_UNLOCK(sink);
}

static void finalize(GObject *object)
{
	GstVshmSink *sink = GST_VSHM_SINK(object);
	g_free(sink->stream_name);
	sink_ring_unref(sink->ring);
	G_OBJECT_CLASS(gst_vshm_sink_parent_class)->finalize(object);
}

static void gst_vshm_sink_class_init(GstVshmSinkClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
	GstBaseSinkClass *base_class = GST_BASE_SINK_CLASS(klass);
	object_class->set_property = set_property;
	object_class->get_property = get_property;
	object_class->finalize = finalize;
	const GParamFlags settable =
	    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
	const GParamFlags counter = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
	g_object_class_install_property(
	    object_class, PROP_STREAM_NAME,
	    g_param_spec_string("stream-name", "Stream name",
	                        "Name of the vshm stream to create (/dev/shm/vshm.<name>): 1 to 64 "
	                        "characters from [A-Za-z0-9._-]. A stream of that name left by a "
	                        "writer that died is replaced; one with a live writer is an error",
	                        VSHM_GST_DEFAULT_STREAM_NAME, settable));
	g_object_class_install_property(
	    object_class, PROP_SLOTS,
	    g_param_spec_uint("slots", "Slots",
	                      "Frame slots in the ring. Readers hold the latest and the writer "
	                      "fills another; with 4 or more, slots - 3 of them may be lent "
	                      "upstream at once as buffers to write into (zero copy), and one is "
	                      "kept for frames that must be copied. Raise it when upstream keeps "
	                      "several buffers (a queue) or many readers hold frames",
	                      VSHM_SLOT_COUNT_MIN, VSHM_SLOT_COUNT_MAX, DEFAULT_SLOTS, settable));
	g_object_class_install_property(
	    object_class, PROP_GROUP,
	    g_param_spec_boolean("group", "Group access",
	                         "Create the stream with mode 0660 instead of 0600, so that "
	                         "readers running as other users of the owner's group may "
	                         "attach",
	                         FALSE, settable));
	g_object_class_install_property(
	    object_class, PROP_FRAMES_IN_PLACE,
	    g_param_spec_uint64("frames-in-place", "Frames published in place",
	                        "Frames that upstream wrote straight into a slot lent to it, "
	                        "published with no copy",
	                        0, G_MAXUINT64, 0, counter));
	g_object_class_install_property(
	    object_class, PROP_FRAMES_COPIED,
	    g_param_spec_uint64("frames-copied", "Frames copied",
	                        "Frames copied once into a slot: upstream did not use the "
	                        "proposed buffer pool, or something else still held the buffer",
	                        0, G_MAXUINT64, 0, counter));
	g_object_class_install_property(
	    object_class, PROP_FRAMES_DROPPED,
	    g_param_spec_uint64("frames-dropped", "Frames dropped",
	                        "Frames that found no slot: the stream had to move to larger "
	                        "slots while upstream still held buffers of the old size",
	                        0, G_MAXUINT64, 0, counter));

	gst_element_class_set_static_metadata(
	    element_class, "vshm shared-memory ring sink", "Sink/Video",
	    "Publishes raw video into a vshm shared-memory ring for any number of readers in "
	    "other processes, which never slow it down. Upstream writes straight into the "
	    "ring's slots when it uses the buffer pool this sink proposes (zero copy); other "
	    "buffers are copied once. EOS republishes the last frame flagged end-of-stream",
	    "vshm");
	gst_element_class_add_static_pad_template(element_class, &sink_template);

	base_class->start = start;
	base_class->stop = stop;
	base_class->set_caps = set_caps;
	base_class->propose_allocation = propose_allocation;
	base_class->render = render;
	base_class->wait_event = wait_event;
}

static void gst_vshm_sink_init(GstVshmSink *sink)
{
	sink->stream_name = g_strdup(VSHM_GST_DEFAULT_STREAM_NAME);
	sink->slots = DEFAULT_SLOTS;
	/* The last sample would hold each buffer past render(), so a lent slot could not
	 * be published in place; with it on (set enable-last-sample=true), frames are
	 * copied. */
	gst_base_sink_set_last_sample_enabled(GST_BASE_SINK(sink), FALSE);
}
