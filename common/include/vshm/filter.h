/*
 * Writing a filter process: one function that turns an input frame into an output
 * frame, and vshm_filter_main(), which does everything else: the standard options,
 * attaching to the input stream and creating the output stream, waiting for each new
 * input frame, giving the function both frames in place (the input slot and the
 * output slot: the transform is the only pass over the pixels), dropping the output
 * when the input turned out torn, publishing with the input's frame number and capture
 * time (so latency can be measured across a whole chain), following an upstream writer
 * that restarts, stopping cleanly on SIGINT and SIGTERM, and printing statistics.
 *
 *   static int invert(const struct vshm_frame *in, struct vshm_frame *out, void *data)
 *   { ... read in->plane[], write out->plane[] ... return 0; }
 *
 *   int main(int argc, char **argv)
 *   {
 *           static const struct vshm_filter filter = { .name = "invert", .process = invert };
 *           return vshm_filter_main(argc, argv, &filter);
 *   }
 */
#ifndef VSHM_FILTER_H
#define VSHM_FILTER_H

#include <stdint.h>

#include <vshm/export.h>
#include <vshm/frame.h>

struct vshm_filter {
	/* Short name, used in messages, in --help and for the default output stream name
	 * "<input>.<name>". */
	const char *name;
	/* One line for --help: what the filter does. */
	const char *description;
	/* The input formats it takes, ending with VSHM_FORMAT_INVALID (0); NULL for all. A
	 * stream in another format stops the filter with a message naming both. */
	const uint32_t *input_formats;
	/*
	 * The output format for an input format, given the format the user asked for with
	 * --format (VSHM_FORMAT_INVALID if none). Returns VSHM_FORMAT_INVALID if the filter
	 * cannot make that output. NULL: the output has the input's format, and --format
	 * is refused.
	 */
	uint32_t (*output_format)(uint32_t input_format, uint32_t requested, void *data);
	/*
	 * The transform. input's planes are read-only shared memory that the upstream
	 * writer may overwrite at any moment (the helper then drops the output); output's
	 * planes are the slot to fill, already laid out for the format and input's size.
	 * Returns 0, or a negative errno to stop the filter (after saying why on stderr).
	 */
	int (*process)(const struct vshm_frame *input, struct vshm_frame *output, void *data);
	void *data;
};

/*
 * Runs the filter as a program: parses argv (`NAME INPUT [OUTPUT] [options]`, see
 * --help), then processes frames until SIGINT or SIGTERM, or until it has passed on a
 * frame that says end-of-stream. Returns the process exit
 * status: 0 after a clean stop, 1 on a stream or format error, 2 on bad usage.
 * Prints to stderr only. Removes the output stream before returning.
 */
VSHM_EXPORT int vshm_filter_main(int argc, char **argv, const struct vshm_filter *filter);

#endif
