/* Helpers for the tests of the GStreamer plugin: set-up, pipelines, reference frames. */
#ifndef VSHM_GST_TEST_H
#define VSHM_GST_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include <gst/gst.h>
#include <gst/video/video.h>

/*
 * Points GStreamer at the plugin in the build directory (VSHM_GST_PLUGIN_DIR) and at a
 * registry file of this test's own, so the user's registry is never touched, then
 * initialises it. Child processes (gst-launch-1.0) inherit both.
 */
void gst_test_init(int *argc, char ***argv);

/* gst_parse_launch() of description; the test fails with the parser's message. */
GstElement *gst_test_pipeline(const char *description);

/* The element called name in pipeline (a new reference); fails the test if none. */
GstElement *gst_test_element(GstElement *pipeline, const char *name);

/* Sets state and waits (up to 10 s) until the change is complete; fails on error. */
void gst_test_set_state(GstElement *pipeline, GstState state);

/*
 * Waits up to timeout_ms for EOS or an error on the pipeline's bus. Returns the error
 * message (the caller unrefs it), or NULL on EOS; fails the test on timeout.
 */
GstMessage *gst_test_wait_end(GstElement *pipeline, int timeout_ms);

/* The message text and debug string of an error message, in one string to g_free(). */
char *gst_test_error_text(GstMessage *error);

/* Runs description to its end and returns its error, as above, and sets it to NULL. */
GstMessage *gst_test_run(const char *description, int timeout_ms);

/*
 * GStreamer's own frames: runs "description ! appsink" and keeps every frame's visible
 * pixels, plane by plane with rows packed (no padding), in frames[i]. Returns the count.
 */
struct gst_test_frames {
	GstVideoInfo info;
	unsigned count;
	uint8_t **frames;
	size_t frame_size;
};
void gst_test_reference_frames(const char *description, struct gst_test_frames *frames);
void gst_test_frames_free(struct gst_test_frames *frames);

/*
 * Compares a frame given by plane pointers and strides with reference frame n, packed
 * as above. Returns the number of bytes that differ (the first is printed).
 */
uint64_t gst_test_compare(const struct gst_test_frames *frames, unsigned n, uint32_t vshm_format,
                          uint8_t *const plane[], const uint32_t stride[]);

#endif
