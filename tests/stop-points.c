/*
 * Stop points for the tests that run the real programs: preloaded (LD_PRELOAD) under
 * vshm-capture or vshm-view, this module stops the program (SIGSTOP to itself) at an
 * exact place of the protocol, so that the test can look at the stream, or rewrite it,
 * while the program waits, and then let it go on with SIGCONT. Without it a test could
 * only hope to catch a fast program at the right instant.
 *
 *   VSHM_STOP_AFTER_PUBLISH=0,1,42  stop right after publishing each of these frame
 *                                   numbers (a writer: the frame is the latest until
 *                                   the program goes on);
 *   VSHM_STOP_AFTER_ACQUIRE=1       stop right after each frame taken (a reader: it
 *                                   holds the frame and has not read its pixels yet).
 *
 * Both wrap libvshm's public functions, which the programs call through the dynamic
 * linker; the real functions do the work, unchanged.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <vshm/vshm.h>

/* True if number is in the comma-separated list of decimal numbers. */
static bool listed(const char *list, uint64_t number)
{
	while (list && *list) {
		char *end;
		unsigned long long value = strtoull(list, &end, 10);
		if (end == list)
			return false;
		if (value == number)
			return true;
		list = *end == ',' ? end + 1 : end;
	}
	return false;
}

int vshm_writer_publish(struct vshm_writer *writer, struct vshm_frame *frame)
{
	static int (*real)(struct vshm_writer *, struct vshm_frame *);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "vshm_writer_publish");
	uint64_t number = frame->frame_number;
	int result = real(writer, frame);
	if (result == 0 && listed(getenv("VSHM_STOP_AFTER_PUBLISH"), number))
		raise(SIGSTOP);
	return result;
}

int vshm_reader_acquire(struct vshm_reader *reader, struct vshm_frame *frame)
{
	static int (*real)(struct vshm_reader *, struct vshm_frame *);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "vshm_reader_acquire");
	int result = real(reader, frame);
	const char *stop = getenv("VSHM_STOP_AFTER_ACQUIRE");
	if (result == 0 && stop && strcmp(stop, "1") == 0)
		raise(SIGSTOP);
	return result;
}
