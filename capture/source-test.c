/* The test-pattern source: pattern.c drawn straight into each slot, at a steady rate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "source.h"

#define DEFAULT_WIDTH  640
#define DEFAULT_HEIGHT 360
#define DEFAULT_FPS    30.0

struct capture_source {
	uint32_t format, width, height;
	uint64_t interval_ns;
	uint64_t next_number;
	enum pattern_kind kind;
};

static struct capture_source *test_open(const char *location,
                                        const struct capture_settings *settings,
                                        struct capture_description *description)
{
	/* "test" is the colour bars; "test:NAME" chooses another pattern. */
	int kind = PATTERN_BARS;
	if (strncmp(location, "test:", 5) == 0) {
		kind = pattern_from_name(location + 5);
		if (kind < 0) {
			fprintf(stderr,
			        "vshm-capture: unknown test pattern '%s'; there are test:bars, "
			        "test:gradient and test:checkers\n",
			        location + 5);
			return NULL;
		}
	}
	struct capture_source *source = calloc(1, sizeof(*source));
	if (!source) {
		fprintf(stderr, "vshm-capture: out of memory\n");
		return NULL;
	}
	source->kind = (enum pattern_kind)kind;
	source->format = settings->format ? settings->format : VSHM_FORMAT_I420;
	source->width = settings->width ? settings->width : DEFAULT_WIDTH;
	source->height = settings->height ? settings->height : DEFAULT_HEIGHT;
	double fps = settings->fps > 0 ? settings->fps : DEFAULT_FPS;
	source->interval_ns = (uint64_t)(1e9 / fps + 0.5);
	source->next_number = 0;

	description->format = source->format;
	description->width = source->width;
	description->height = source->height;
	description->frame_interval_ns = source->interval_ns;
	snprintf(description->summary, sizeof(description->summary),
	         "test pattern '%s' (moving square, frame number) at %.3g fps",
	         pattern_name(source->kind), fps);
	return source;
}

static int test_next(struct capture_source *source, struct vshm_writer *writer,
                     struct vshm_frame *frame, uint64_t *media_ns)
{
	int result =
	    vshm_writer_begin(writer, source->format, source->width, source->height, frame);
	if (result < 0) {
		fprintf(stderr, "vshm-capture: cannot begin a frame: %s\n", vshm_error());
		return result;
	}
	uint64_t n = source->next_number++;
	/* Drawn in the slot itself: the pattern's only pass over the pixels. */
	pattern_draw_kind(frame, n, source->kind);
	frame->frame_number = n;
	*media_ns = n * source->interval_ns;
	return CAPTURE_FRAME;
}

static void test_get_stats(const struct capture_source *source, struct capture_source_stats *stats)
{
	(void)source;
	stats->frames_skipped = 0;
	stats->frames_damaged = 0;
	stats->loops = 0;
}

static void test_close(struct capture_source *source)
{
	free(source);
}

const struct capture_source_ops capture_source_test = {
	.name = "test",
	.open = test_open,
	.next = test_next,
	.get_stats = test_get_stats,
	.close = test_close,
};
