/*
 * Private: surviving a segment truncated under a reader.
 *
 * A mapping of a file that shrinks raises SIGBUS on the first access past the new end.
 * Only a writer of the same user (or group) can truncate a stream's file, but a viewer
 * or filter must not die for someone else's bug. Like Wayland compositors guarding
 * wl_shm pools, a reader may register its mappings here: a SIGBUS inside one of them
 * maps zero-filled pages over the rest of that mapping, so the faulting read goes on and
 * reads zeros, and marks the mapping broken; the reader then calls its frame torn and
 * the stream gone, and moves to whatever segment has the name next. A SIGBUS anywhere
 * else goes to the handler that was there before, or ends the process as it would have.
 */
#ifndef VSHM_SIGBUS_GUARD_H
#define VSHM_SIGBUS_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Guards length bytes at start (page aligned), installing the process-wide SIGBUS
 * handler the first time. writable: the mapping is written to as well as read (a
 * reader's header and reader table), so the zeros mapped in its place must take writes
 * too; otherwise the first write after a truncation would fault again, with SIGSEGV,
 * which no handler saves. Returns a handle (>= 0) for the calls below, or -ENOSPC when
 * too many mappings are guarded, or -errno if the handler cannot be installed; the
 * mapping is then simply not guarded. Thread-safe.
 */
int vshm_sigbus_guard_add(void *start, size_t length, bool writable);

/* Stops guarding; accepts a negative handle. Thread-safe. */
void vshm_sigbus_guard_remove(int handle);

/* True once a SIGBUS hit the guarded mapping (it now reads as zeros). */
bool vshm_sigbus_guard_broken(int handle);

#endif
