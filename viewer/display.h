/*
 * The window and what is drawn in it: an SDL2 renderer with two textures, so a frame
 * uploaded into the back texture is shown only once the ring said it stayed intact,
 * and the last good frame stays on screen otherwise.
 */
#ifndef VSHM_VIEWER_DISPLAY_H
#define VSHM_VIEWER_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <vshm/frame.h>

struct display;

struct display_options {
	const char *title;
	bool fullscreen;
	uint32_t width, height; /* initial window size, 0: the first frame's */
};

/* Creates the window and renderer. Returns NULL after printing why on stderr. */
struct display *display_create(const struct display_options *options);
void display_destroy(struct display *display);

/*
 * Uploads frame into the back texture, reading the pixels straight from the slot (or
 * converting them in one pass into the locked texture when the renderer cannot take
 * the format). Returns 0, or -1 after printing why.
 */
int display_upload(struct display *display, const struct vshm_frame *frame);

/* The uploaded frame stayed intact: it becomes the one shown. */
void display_commit(struct display *display);

struct display_picture {
	uint8_t *rgb; /* RGB24 rows, width * 3 bytes each; malloc'd, the caller frees */
	int width, height;
};

/*
 * Draws the shown frame, letterboxed at its display aspect (its sample aspect ratio
 * applied), then the overlay lines if any, and presents. With snapshot, also reads back
 * the frame as drawn, at its display size: its own height, and its width stretched by
 * its sample aspect ratio (rgb NULL on failure).
 */
void display_render(struct display *display, const char *const *overlay_lines,
                    int overlay_line_count, struct display_picture *snapshot);

void display_set_title(struct display *display, const char *title);
void display_toggle_fullscreen(struct display *display);

/* The renderer's name and how the current format reaches it, for the overlay. */
const char *display_renderer_name(const struct display *display);
const char *display_upload_method(const struct display *display);

/* True once a frame was committed. */
bool display_has_frame(const struct display *display);

#endif
