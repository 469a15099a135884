/*
 * The buffer pool vshmsink offers upstream: its buffers are the ring's slots, lent by
 * sink_ring_lend(), so upstream draws or decodes straight into shared memory.
 *
 * It does not keep a queue of buffers as GstBufferPool does: a slot is chosen by the
 * writer at the moment a frame begins (never the latest, never one a reader holds), so
 * every acquire begins a new frame and every release frees the buffer, which publishes
 * nothing and gives an unpublished slot back. When no slot may be lent (the pools'
 * share of frames in flight is out, or upstream cannot read GstVideoMeta and the
 * ring's layout is not GStreamer's default for the caps), acquire hands out an ordinary
 * buffer in system memory, which the sink then copies: upstream never waits for a
 * slot, as the writer never waits for a reader.
 */
#include "sink-pool.h"

#define GST_CAT_DEFAULT vshm_gst_debug

struct _GstVshmSlotPool {
	GstBufferPool parent;
	struct sink_ring *ring;
	GstVideoInfo info;
	bool video_meta; /* upstream reads GstVideoMeta */
	bool lend;       /* set_config found that slots may be lent for these caps */
};

G_DEFINE_TYPE(GstVshmSlotPool, gst_vshm_slot_pool, GST_TYPE_BUFFER_POOL)

GstBufferPool *gst_vshm_slot_pool_new(struct sink_ring *ring)
{
	GstVshmSlotPool *pool = g_object_new(GST_TYPE_VSHM_SLOT_POOL, NULL);
	pool->ring = sink_ring_ref(ring);
	return GST_BUFFER_POOL_CAST(pool);
}

static const gchar **get_options(GstBufferPool *pool)
{
	static const gchar *options[] = { GST_BUFFER_POOL_OPTION_VIDEO_META, NULL };
	return options;
}

static gboolean set_config(GstBufferPool *buffer_pool, GstStructure *config)
{
	GstVshmSlotPool *pool = GST_VSHM_SLOT_POOL(buffer_pool);
	GstCaps *caps = NULL;
	if (!gst_buffer_pool_config_get_params(config, &caps, NULL, NULL, NULL) || !caps ||
	    !gst_video_info_from_caps(&pool->info, caps)) {
		GST_WARNING_OBJECT(pool, "no raw video caps in the configuration");
		return FALSE;
	}
	pool->video_meta =
	    gst_buffer_pool_config_has_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
	pool->lend = sink_ring_can_lend(pool->ring, &pool->info, pool->video_meta);
	GST_DEBUG_OBJECT(pool, "%s slots for %" GST_PTR_FORMAT,
	                 pool->lend ? "lending" : "not lending", (void *)caps);
	return GST_BUFFER_POOL_CLASS(gst_vshm_slot_pool_parent_class)
	    ->set_config(buffer_pool, config);
}

/* Nothing is allocated ahead: a slot is begun when a buffer is acquired. */
static gboolean start(GstBufferPool *pool)
{
	return TRUE;
}

static GstFlowReturn acquire_buffer(GstBufferPool *buffer_pool, GstBuffer **buffer,
                                    GstBufferPoolAcquireParams *params)
{
	GstVshmSlotPool *pool = GST_VSHM_SLOT_POOL(buffer_pool);
	if (GST_BUFFER_POOL_IS_FLUSHING(buffer_pool))
		return GST_FLOW_FLUSHING;
	*buffer = pool->lend ? sink_ring_lend(pool->ring, &pool->info) : NULL;
	if (*buffer)
		return GST_FLOW_OK;
	*buffer = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&pool->info), NULL);
	if (!*buffer)
		return GST_FLOW_ERROR;
	if (pool->video_meta)
		gst_buffer_add_video_meta(
		    *buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&pool->info),
		    GST_VIDEO_INFO_WIDTH(&pool->info), GST_VIDEO_INFO_HEIGHT(&pool->info));
	return GST_FLOW_OK;
}

/* A buffer is never reused: its flags, timestamps and metadata go with it. */
static void reset_buffer(GstBufferPool *pool, GstBuffer *buffer)
{
}

/*
 * The last reference to a buffer of this pool is gone (GStreamer cleared its pool
 * pointer before calling this): freeing it frees its memory, which gives back a lent
 * slot that was never published.
 */
static void release_buffer(GstBufferPool *pool, GstBuffer *buffer)
{
	gst_buffer_unref(buffer);
}

static void finalize(GObject *object)
{
	GstVshmSlotPool *pool = GST_VSHM_SLOT_POOL(object);
	sink_ring_unref(pool->ring);
	G_OBJECT_CLASS(gst_vshm_slot_pool_parent_class)->finalize(object);
}

static void gst_vshm_slot_pool_class_init(GstVshmSlotPoolClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS(klass);
	object_class->finalize = finalize;
	pool_class->get_options = get_options;
	pool_class->set_config = set_config;
	pool_class->start = start;
	pool_class->acquire_buffer = acquire_buffer;
	pool_class->reset_buffer = reset_buffer;
	pool_class->release_buffer = release_buffer;
}

static void gst_vshm_slot_pool_init(GstVshmSlotPool *pool)
{
}
