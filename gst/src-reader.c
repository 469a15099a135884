/* The reader behind a vshmsrc, and the frame it lends downstream with copy=false. */
#include "src-reader.h"

struct src_reader {
	gatomicrefcount references;
	GMutex lock; /* guards lent, torn_while_lent and releases from other threads */
	GCond returned;
	struct vshm_reader *reader;
	bool lent;
	uint64_t torn_while_lent;
};

struct src_reader *src_reader_new(struct vshm_reader *reader)
{
	struct src_reader *holder = g_new0(struct src_reader, 1);
	g_atomic_ref_count_init(&holder->references);
	g_mutex_init(&holder->lock);
	g_cond_init(&holder->returned);
	holder->reader = reader;
	return holder;
}

void src_reader_unref(struct src_reader *holder)
{
	if (!holder || !g_atomic_ref_count_dec(&holder->references))
		return;
	/* Nothing is lent any more: a lent buffer holds a reference. */
	vshm_reader_detach(holder->reader);
	g_cond_clear(&holder->returned);
	g_mutex_clear(&holder->lock);
	g_free(holder);
}

struct vshm_reader *src_reader_get(struct src_reader *holder)
{
	return holder->reader;
}

bool src_reader_wait_returned(struct src_reader *holder, int slice_ms)
{
	g_mutex_lock(&holder->lock);
	if (holder->lent)
		g_cond_wait_until(&holder->returned, &holder->lock,
		                  g_get_monotonic_time() +
		                      (gint64)slice_ms * G_TIME_SPAN_MILLISECOND);
	bool back = !holder->lent;
	g_mutex_unlock(&holder->lock);
	return back;
}

/* The lent buffer's memory is freed: downstream is done with the slot. */
static void lent_frame_free(gpointer data)
{
	struct src_reader *holder = data;
	g_mutex_lock(&holder->lock);
	/* Too late to drop the frame, but not to count it: the writer had to take the
	 * slot while downstream used it (more readers held slots than it had spare). */
	if (vshm_reader_release(holder->reader) == 0)
		holder->torn_while_lent++;
	holder->lent = false;
	g_cond_broadcast(&holder->returned);
	g_mutex_unlock(&holder->lock);
	src_reader_unref(holder);
}

GstBuffer *src_reader_lend(struct src_reader *holder, const struct vshm_frame *frame,
                           const GstVideoInfo *info, const struct vshm_format_layout *layout)
{
	g_atomic_ref_count_inc(&holder->references);
	g_mutex_lock(&holder->lock);
	holder->lent = true;
	g_mutex_unlock(&holder->lock);
	/* Read-only: the payload is mapped PROT_READ, and a writable mapping request must
	 * fail in GStreamer (which then copies) rather than fault. */
	GstMemory *memory =
	    gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, frame->plane[0], layout->total_size, 0,
	                           layout->total_size, holder, lent_frame_free);
	GstBuffer *buffer = gst_buffer_new();
	gst_buffer_append_memory(buffer, memory);
	vshm_gst_add_video_meta(buffer, info, layout);
	return buffer;
}

uint64_t src_reader_torn_while_lent(struct src_reader *holder)
{
	g_mutex_lock(&holder->lock);
	uint64_t torn = holder->torn_while_lent;
	g_mutex_unlock(&holder->lock);
	return torn;
}
