/*
 * The reader behind one vshmsrc, shared by the element and, with copy=false, the one
 * buffer that wraps the frame it holds.
 *
 * A vshm reader holds one frame at a time. With copy=true the element holds it only for
 * the copy into a buffer of its own. With copy=false the frame is lent downstream as a
 * buffer whose memory is the slot itself, and it is released when that buffer is freed:
 * the element waits for that (src_reader_wait_returned()) before it takes the next
 * frame, and it is the only moment the reader is touched from another thread.
 *
 * Thread-safety: the struct vshm_reader is used by the streaming thread only while no
 * frame is lent; the free of a lent buffer releases it under the holder's mutex. The
 * reader is detached when the last reference goes (the element's, or a lent buffer's,
 * which points into the segment).
 */
#ifndef VSHM_GST_SRC_READER_H
#define VSHM_GST_SRC_READER_H

#include "vshm-gst.h"

struct src_reader;

/* Takes ownership of reader. */
struct src_reader *src_reader_new(struct vshm_reader *reader);
/* Accepts NULL. */
void src_reader_unref(struct src_reader *holder);

/* The reader, for waiting, acquiring and reattaching while no frame is lent. */
struct vshm_reader *src_reader_get(struct src_reader *holder);

/*
 * Waits until the lent frame (if any) is back, in slices of slice_ms so that the
 * caller can look at its flushing flag; returns true once nothing is lent, false after
 * one slice with the frame still out.
 */
bool src_reader_wait_returned(struct src_reader *holder, int slice_ms);

/*
 * Lends the frame the reader holds as a read-only buffer over the slot, laid out by a
 * GstVideoMeta (layout: the frame's own). The frame is released when the buffer is
 * freed; whether it stayed intact until then is counted (src_reader_torn_while_lent()).
 */
GstBuffer *src_reader_lend(struct src_reader *holder, const struct vshm_frame *frame,
                           const GstVideoInfo *info, const struct vshm_format_layout *layout);

/* Lent frames the writer overwrote while downstream still held them. */
uint64_t src_reader_torn_while_lent(struct src_reader *holder);

#endif
