/* --wait-readers (see readers.h). */
#include <time.h>

#include "options.h"
#include "readers.h"
#include "shutdown.h"

/* Readers announce themselves in the stream's header as they attach: a short poll is
 * enough, and costs nothing once they are there. */
#define POLL_NS 1000000

bool program_wait_for_readers(struct vshm_writer *writer, uint32_t count, bool quiet)
{
	bool said = false;
	for (;;) {
		struct vshm_writer_stats stats;
		vshm_writer_get_stats(writer, &stats);
		if (stats.readers_attached >= count)
			return true;
		if (program_shutdown_requested())
			return false;
		if (!said && !quiet)
			program_say("waiting for %u reader%s of '%s' before the first frame", count,
			            count == 1 ? "" : "s", vshm_writer_name(writer));
		said = true;
		struct timespec pause = { 0, POLL_NS };
		nanosleep(&pause, NULL);
	}
}
