/* --wait-readers, and publishing (see readers.h). */
#include <sched.h>
#include <time.h>

#include "options.h"
#include "readers.h"
#include "shutdown.h"

/* Readers announce themselves in the stream's header as they attach: a short poll is
 * enough, and costs nothing once they are there. */
#define POLL_NS 1000000

int program_parse_wait_readers(const char *text, uint32_t *count)
{
	uint64_t value;
	/* More readers than a stream has room for by default would never all attach. */
	if (program_parse_count("--wait-readers", text, 0, VSHM_READER_CAPACITY_DEFAULT, &value) <
	    0)
		return -1;
	*count = (uint32_t)value;
	return 0;
}

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

/*
 * The kernel wakes a sleeping reader on the CPU of the process that woke it, the
 * writer, because that CPU's caches hold what the writer just wrote; and it often lets
 * the writer run on until its time slice ends. A writer that goes straight on to its
 * next frame (drawing a test pattern, decoding, a filter's next input) so keeps its
 * reader waiting for up to a millisecond while the other CPU may be idle: on a
 * two-CPU machine that was most of what a filter stage added to a chain's latency
 * beyond its own work. Yielding here lets the woken reader run at once; with nobody
 * waiting for this CPU it costs one system call.
 */
int program_publish(struct vshm_writer *writer, struct vshm_frame *frame)
{
	int result = vshm_writer_publish(writer, frame);
	if (result == 0)
		sched_yield();
	return result;
}
