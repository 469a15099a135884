/*
 * GstVshmSlotPool: the GstBufferPool vshmsink proposes upstream, whose buffers are
 * slots of its ring (see sink-pool.c). Thread-safe as GstBufferPool is; each pool holds
 * a reference to the ring.
 */
#ifndef VSHM_GST_SINK_POOL_H
#define VSHM_GST_SINK_POOL_H

#include "sink-ring.h"

#define GST_TYPE_VSHM_SLOT_POOL (gst_vshm_slot_pool_get_type())
G_DECLARE_FINAL_TYPE(GstVshmSlotPool, gst_vshm_slot_pool, GST, VSHM_SLOT_POOL, GstBufferPool)

/* A new, unconfigured pool lending slots of ring. */
GstBufferPool *gst_vshm_slot_pool_new(struct sink_ring *ring);

#endif
