/*
 * Program scaffolding, not part of libvshm, for programs that write a stream:
 * --wait-readers, for a writer that must not publish before its readers are there (a
 * file replayed into a lossless pipeline, whose first frames would otherwise go to
 * nobody); and publishing so that the readers woken by a frame get to it first.
 */
#ifndef VSHM_PROGRAM_READERS_H
#define VSHM_PROGRAM_READERS_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/vshm.h>

/* The help line of --wait-readers, for usage texts. */
#define PROGRAM_WAIT_READERS_HELP                                                                  \
	"      --wait-readers N  publish nothing until N readers have attached\n"

/* Parses the count of --wait-readers, 0..the default reader capacity; says why not and
 * returns -1 if it is not one. */
int program_parse_wait_readers(const char *text, uint32_t *count);

/*
 * Waits until at least count readers are attached to the writer's stream (at once if
 * count is 0), saying so once unless quiet. Returns true, or false if a shutdown signal
 * came first.
 */
bool program_wait_for_readers(struct vshm_writer *writer, uint32_t count, bool quiet);

/*
 * vshm_writer_publish(), then a yield of the CPU to whoever is waiting for it, such as a
 * reader the frame just woke, before the caller goes on to its next frame. Returns what
 * vshm_writer_publish() returns.
 */
int program_publish(struct vshm_writer *writer, struct vshm_frame *frame);

#endif
