/*
 * The readers behind one vshmsrc, shared by the element and, with copy=false, the
 * buffers that wrap the frames they hold.
 *
 * A vshm reader holds one frame at a time. With copy=true the element uses one reader
 * and holds a frame only for the copy into a buffer of its own. With copy=false a frame
 * is lent downstream as a buffer whose memory is the slot itself, and it is released
 * when that buffer is freed. Sinks keep the last buffer they rendered (basesink's
 * last-sample) until the next one comes, so one held frame would stop the source: it
 * has SRC_READERS readers (reader table entries), each holding at most one lent frame,
 * and takes the next frame with one that is free.
 *
 * Thread-safety: a struct vshm_reader is used by the streaming thread only while it
 * has no frame lent; the free of a lent buffer releases its frame under the holder's
 * mutex, from whatever thread frees it. The readers are detached when the last
 * reference goes (the element's, or a lent buffer's, which points into the segment).
 */
#ifndef VSHM_GST_SRC_READER_H
#define VSHM_GST_SRC_READER_H

#include "vshm-gst.h"

/* One frame a sink keeps as its last sample, and one on its way. */
#define SRC_READERS 2

struct src_reader;

/* Takes ownership of reader, the first one. */
struct src_reader *src_reader_new(struct vshm_reader *reader);
/* Accepts NULL. */
void src_reader_unref(struct src_reader *holder);

/* Adds another reader (taking ownership), if there is room; false if not (it is detached). */
bool src_reader_add(struct src_reader *holder, struct vshm_reader *reader);

/* How many readers there are. */
unsigned src_reader_count(struct src_reader *holder);

/*
 * A reader with no frame lent, for waiting, acquiring and reattaching: the first one
 * free, else waits up to slice_ms for one to come back (so that the caller can look at
 * its flushing flag) and returns NULL if none did.
 */
struct vshm_reader *src_reader_free_one(struct src_reader *holder, int slice_ms);

/*
 * Lends the frame reader holds as a read-only buffer over the slot, laid out by a
 * GstVideoMeta (layout: the frame's own, its offsets from the lowest plane). The frame is
 * released when the buffer is freed; whether it stayed intact until then is counted
 * (src_reader_torn_while_lent()).
 */
GstBuffer *src_reader_lend(struct src_reader *holder, struct vshm_reader *reader,
                           const struct vshm_frame *frame, const GstVideoInfo *info,
                           const struct vshm_format_layout *layout);

/* Lent frames the writer overwrote while downstream still held them. */
uint64_t src_reader_torn_while_lent(struct src_reader *holder);

#endif
