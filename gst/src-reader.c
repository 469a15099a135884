/* The readers behind a vshmsrc, and the frames they lend downstream with copy=false. */
#include "src-reader.h"

struct src_reader {
	gatomicrefcount references;
	/* Guards lent[], count, waiting and torn_while_lent: frames come back from other
	 * threads. */
	GMutex lock;
	GCond returned;
	unsigned waiting; /* threads in src_reader_free_one() waiting for a frame to come back */
	struct vshm_reader *readers[SRC_READERS];
	bool lent[SRC_READERS];
	unsigned count;
	uint64_t torn_while_lent;
};

/* What a lent buffer's memory needs to give its frame back. */
struct lent_frame {
	struct src_reader *holder;
	unsigned index;
};

struct src_reader *src_reader_new(struct vshm_reader *reader)
{
	struct src_reader *holder = g_new0(struct src_reader, 1);
	g_atomic_ref_count_init(&holder->references);
	g_mutex_init(&holder->lock);
	g_cond_init(&holder->returned);
	holder->readers[0] = reader;
	holder->count = 1;
	return holder;
}

void src_reader_unref(struct src_reader *holder)
{
	if (!holder || !g_atomic_ref_count_dec(&holder->references))
		return;
	/* Nothing is lent any more: a lent buffer holds a reference. */
	for (unsigned i = 0; i < holder->count; i++)
		vshm_reader_detach(holder->readers[i]);
	g_cond_clear(&holder->returned);
	g_mutex_clear(&holder->lock);
	g_free(holder);
}

bool src_reader_add(struct src_reader *holder, struct vshm_reader *reader)
{
	g_mutex_lock(&holder->lock);
	bool room = holder->count < SRC_READERS;
	if (room)
		holder->readers[holder->count++] = reader;
	g_mutex_unlock(&holder->lock);
	if (!room)
		vshm_reader_detach(reader);
	return room;
}

unsigned src_reader_count(struct src_reader *holder)
{
	g_mutex_lock(&holder->lock);
	unsigned count = holder->count;
	g_mutex_unlock(&holder->lock);
	return count;
}

/* With the lock held: the first reader with nothing lent, or NULL. */
static struct vshm_reader *first_free(struct src_reader *holder)
{
	for (unsigned i = 0; i < holder->count; i++) {
		if (!holder->lent[i])
			return holder->readers[i];
	}
	return NULL;
}

struct vshm_reader *src_reader_free_one(struct src_reader *holder, int slice_ms)
{
	g_mutex_lock(&holder->lock);
	struct vshm_reader *reader = first_free(holder);
	if (!reader) {
		holder->waiting++;
		g_cond_wait_until(&holder->returned, &holder->lock,
		                  g_get_monotonic_time() +
		                      (gint64)slice_ms * G_TIME_SPAN_MILLISECOND);
		holder->waiting--;
		reader = first_free(holder);
	}
	g_mutex_unlock(&holder->lock);
	return reader;
}

/* A lent buffer's memory is freed: downstream is done with the slot. */
static void lent_frame_free(gpointer data)
{
	struct lent_frame *lent = data;
	struct src_reader *holder = lent->holder;
	g_mutex_lock(&holder->lock);
	/* Too late to drop the frame, but not to count it: the writer had to take the
	 * slot while downstream used it (readers held more slots than it had spare). */
	if (vshm_reader_release(holder->readers[lent->index]) == 0)
		holder->torn_while_lent++;
	holder->lent[lent->index] = false;
	/* GLib's broadcast is a futex system call even when nobody waits, and a lent frame
	 * comes back once per frame: wake only a source that is waiting for it. */
	if (holder->waiting > 0)
		g_cond_broadcast(&holder->returned);
	g_mutex_unlock(&holder->lock);
	src_reader_unref(holder);
	g_free(lent);
}

GstBuffer *src_reader_lend(struct src_reader *holder, struct vshm_reader *reader,
                           const struct vshm_frame *frame, const GstVideoInfo *info,
                           const struct vshm_format_layout *layout)
{
	struct lent_frame *lent = g_new0(struct lent_frame, 1);
	g_atomic_ref_count_inc(&holder->references);
	lent->holder = holder;
	g_mutex_lock(&holder->lock);
	for (unsigned i = 0; i < holder->count; i++) {
		if (holder->readers[i] == reader)
			lent->index = i;
	}
	holder->lent[lent->index] = true;
	g_mutex_unlock(&holder->lock);
	/* The buffer starts at the frame's lowest plane, where layout's offsets start. It is
	 * read-only: the payload is mapped PROT_READ, and a writable mapping request must
	 * fail in GStreamer (which then copies) rather than fault. */
	uint8_t *base = frame->plane[0] - layout->offset[0];
	GstMemory *memory =
	    gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, base, layout->total_size, 0,
	                           layout->total_size, lent, lent_frame_free);
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
