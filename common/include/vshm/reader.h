/*
 * The reader side of a stream: attach by name, take the latest frame, use its pixels
 * where the writer left them, give it back and learn whether it stayed intact.
 *
 * Any number of readers, in any processes, may attach to one stream; each takes one
 * entry of the segment's reader table for as long as it is attached. A struct
 * vshm_reader is used by one thread at a time and holds at most one frame at a time.
 */
#ifndef VSHM_READER_H
#define VSHM_READER_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/export.h>

#include <vshm/frame.h>

struct vshm_reader;

struct vshm_reader_options {
	/*
	 * Accept a segment owned by another user, or one that others may write. Off by
	 * default: such a segment could be changed under us by someone else.
	 */
	bool allow_foreign_owner;
	bool allow_world_writable;
	/*
	 * Survive the segment being truncated under us (a bug of a writer of the same user
	 * or group). Off by default, because it installs a process-wide SIGBUS handler
	 * (chaining to any handler installed before). On, an access past the file's new
	 * end reads zeros instead of killing the process; release then says the frame was
	 * torn, and wait returns -ESTALE, so the reader moves to the next segment of the
	 * name. vshm-view and vshm_filter_main() turn it on.
	 */
	bool guard_truncation;
	/*
	 * Take every frame, not only the latest: acquire hands out the frame after the
	 * last one taken, and the writer waits (on a futex) before it reuses the slot of a
	 * frame this reader has not released yet. The reader takes every frame published
	 * after it attached (or re-attached), in order. A lossless reader that
	 * does not take its next frame within the writer's lossless timeout (1 s by
	 * default), or dies, is demoted: the writer goes on, and the reader gets the latest
	 * frames from then on (vshm_reader_stats.demoted). A writer with no lossless reader
	 * never waits.
	 */
	bool lossless;
};

/*
 * Attaches to the stream called name, validating everything in the segment before
 * trusting it: magic, layout version, sizes and offsets against the file size, slot
 * count, owner and permissions. options may be NULL.
 * Returns NULL and sets errno: EINVAL for a bad name, ENOENT if no such stream,
 * EAGAIN if its writer is still creating it or a new writer is replacing it (try again
 * shortly), ENODATA for a segment left unfinished by a writer that died while creating
 * it (the next writer replaces it), EPROTO for a segment that is not a vshm stream or
 * is damaged, EPERM for a foreign owner or world-writable segment, EUSERS if its
 * reader table is full. vshm_error() says which check failed.
 */
VSHM_EXPORT struct vshm_reader *vshm_reader_attach(const char *name,
                                                   const struct vshm_reader_options *options);

/*
 * Called by vshm_reader_attach_wait() before each pause while the stream is not there:
 * attempt counts from 0, so attempt 0 is the place to tell the user what is awaited.
 * Returning false stops the wait, as a program asked to shut down does.
 */
typedef bool (*vshm_attach_wait_callback)(const char *name, unsigned attempt, void *data);

/*
 * Attaches like vshm_reader_attach(), but waits while the stream is missing, being
 * created or replaced, or left unfinished (ENOENT, EAGAIN, ENODATA): the usual case for
 * a viewer or filter started before its writer. Polls every millisecond at first, then
 * less often, down to every 50 ms, for up to timeout_ms
 * (negative: no limit). keep_waiting, if not NULL, is called before each pause (see
 * vshm_attach_wait_callback) with data.
 * Returns NULL and sets errno: ETIMEDOUT, EINTR (keep_waiting said stop), or a final
 * error of vshm_reader_attach() (EPROTO, EPERM, EUSERS, EINVAL ...) with vshm_error()
 * set.
 */
VSHM_EXPORT struct vshm_reader *
vshm_reader_attach_wait(const char *name, const struct vshm_reader_options *options, int timeout_ms,
                        vshm_attach_wait_callback keep_waiting, void *data);

/* Releases a held frame, frees the reader table entry and unmaps. Accepts NULL. */
VSHM_EXPORT void vshm_reader_detach(struct vshm_reader *reader);

/*
 * Takes the latest complete frame without blocking (a lossless reader: the frame after
 * the last one it took) and fills *frame with its metadata and read-only pointers to its
 * planes in shared memory. The slot is held: the writer avoids it while it has another
 * free.
 * Returns 0; -EAGAIN if nothing has been published yet (a lossless reader: if its next
 * frame has not been), or the writer kept rewriting the slot faster than we could take
 * it; -EBADMSG if the frame was rejected (bad metadata from a broken writer: it is
 * consumed like a frame taken, and said at most once a second through the log); -EBUSY
 * if this reader already holds a frame. A lossy reader's frame may be the same one as
 * last time: compare frame->sequence.
 */
VSHM_EXPORT int vshm_reader_acquire(struct vshm_reader *reader, struct vshm_frame *frame);

/*
 * Gives the held frame back. Returns 1 if it stayed intact while it was held, 0 if the
 * writer overwrote it (the pixels read may be torn: drop whatever was made from them),
 * -EINVAL if no frame is held.
 */
VSHM_EXPORT int vshm_reader_release(struct vshm_reader *reader);

/*
 * Returns 1 if a frame newer than the last one acquired is published, else 0; never
 * blocks and makes no system call. For a reader that spins instead of sleeping: poll
 * with this, then acquire once it says 1. Polling only reads the word the writer
 * publishes through, while every acquire writes it (a reader enters and leaves the
 * frame there), so a loop of acquires would take that cache line from the writer on
 * each turn and delay the very publish it waits for.
 * 0 also once the segment was found truncated under a reader with guard_truncation, as
 * acquire then has nothing to take. Poll says nothing of the writer or the segment: a
 * spinning reader that has seen no frame for a while calls vshm_reader_wait(), which
 * tells (-EPIPE, -ESTALE), with a timeout of 0 if it must not sleep.
 */
VSHM_EXPORT int vshm_reader_poll(struct vshm_reader *reader);

/*
 * Sleeps until a frame newer than the last one acquired is published, at most
 * timeout_ms milliseconds (a negative value waits without limit). Uses a futex on the
 * segment, so it costs no CPU while it sleeps and the writer makes no system call for
 * readers that do not sleep.
 * Returns 0 when a newer frame is there; -ETIMEDOUT; -EINTR if a signal arrived;
 * -EPIPE when the writer is gone (it exited or died; noticed within 50 ms, also by
 * calls with a timeout of 0, which ask the kernel at most once per 50 ms), returned
 * at once the first time it is seen and afterwards after sleeping timeout_ms while
 * looking for a new writer; -ESTALE when a new segment has taken the stream's name, or
 * when the segment was truncated under a reader with guard_truncation
 * (a restarted writer, or one that needed bigger slots): call vshm_reader_reattach().
 */
VSHM_EXPORT int vshm_reader_wait(struct vshm_reader *reader, int timeout_ms);

/*
 * Counts every frame up to publish number `sequence` (a struct vshm_frame's) as seen by
 * this reader: wait and poll then look for a newer one. For a program that reads one
 * stream through several readers, one for each frame it lends out (vshmsrc does): a
 * reader whose frame came back would otherwise wake, and enter and leave the latest
 * frame, for one that another of its readers took already. A number past the stream's
 * latest frame counts as that frame (the caller's readers may be on different segments
 * for a moment when the writer restarts), so each call skips at most the frame that is
 * latest as it is made, never the ones to come. A held frame, the stats and the segment
 * are untouched; one load of the latest word, no system call. vshm_reader_reattach()
 * starts afresh, forgetting what was skipped. Not thread-safe with other calls on the
 * same reader.
 * Returns 0 (also, doing nothing, on a segment found truncated under a reader with
 * guard_truncation); -EINVAL, changing nothing, for a lossless reader, which must consume
 * each frame itself (one the writer demoted may skip).
 */
VSHM_EXPORT int vshm_reader_skip(struct vshm_reader *reader, uint64_t sequence);

/*
 * Moves this reader to the segment now under the stream's name, releasing any held
 * frame. On failure the reader stays on the old segment and the error is returned
 * (-ENOENT, -EAGAIN, -EPROTO, ... as for attach); -EAGAIN also when the name still
 * holds the segment already attached (its writer died and no new one came yet).
 */
VSHM_EXPORT int vshm_reader_reattach(struct vshm_reader *reader);

enum vshm_writer_state {
	VSHM_WRITER_ALIVE, /* a writer holds the segment */
	VSHM_WRITER_GONE,  /* it exited or died, and no new segment has the name yet */
	/* A new segment has the name, or ours was found cut short under a reader with
	 * guard_truncation: vshm_reader_reattach(). */
	VSHM_WRITER_REPLACED,
};

/* Asks the kernel whether the writer is alive (one fcntl, and a stat if it is not). */
VSHM_EXPORT enum vshm_writer_state vshm_reader_writer_state(struct vshm_reader *reader);

struct vshm_reader_stats {
	uint64_t frames_acquired;
	uint64_t frames_torn;     /* released with vshm_reader_release() answering 0 */
	uint64_t acquire_retries; /* slots found being rewritten while taking them */
	uint64_t frames_invalid;  /* metadata that failed bounds checks, never handed out */
	uint64_t reattaches;
	/* From the segment: */
	uint64_t frames_published;
	uint64_t overwrites;
	uint64_t frames_dropped;
	uint32_t readers_attached;
	uint32_t slot_count;
	bool lossless; /* taking every frame */
	bool demoted;  /* was lossless, until the writer stopped waiting for it */
	uint32_t writer_pid;
	uint64_t frame_interval_ns;
};

VSHM_EXPORT void vshm_reader_get_stats(const struct vshm_reader *reader,
                                       struct vshm_reader_stats *stats);

/* The stream's name, as given to vshm_reader_attach(). */
VSHM_EXPORT const char *vshm_reader_name(const struct vshm_reader *reader);

#endif
