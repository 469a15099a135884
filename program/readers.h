/*
 * Program scaffolding, not part of libvshm: --wait-readers, for a writer that must not
 * publish before its readers are there (a file replayed into a lossless pipeline, whose
 * first frames would otherwise go to nobody).
 */
#ifndef VSHM_PROGRAM_READERS_H
#define VSHM_PROGRAM_READERS_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/vshm.h>

/* The help line of --wait-readers, for usage texts. */
#define PROGRAM_WAIT_READERS_HELP                                                                  \
	"      --wait-readers N  publish nothing until N readers have attached\n"

/*
 * Waits until at least count readers are attached to the writer's stream (at once if
 * count is 0), saying so once unless quiet. Returns true, or false if a shutdown signal
 * came first.
 */
bool program_wait_for_readers(struct vshm_writer *writer, uint32_t count, bool quiet);

#endif
