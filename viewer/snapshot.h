/* Saving what the viewer shows as a PNG file, through libavcodec's PNG encoder. */
#ifndef VSHM_VIEWER_SNAPSHOT_H
#define VSHM_VIEWER_SNAPSHOT_H

#include <stdint.h>

/*
 * Writes RGB24 rows (width * 3 bytes each) as a PNG to path, through a temporary file
 * renamed into place, so a reader never sees half a file. Returns 0, or -1 after
 * printing why on stderr (nothing is left at path then).
 */
int snapshot_save_png(const char *path, const uint8_t *rgb, int width, int height);

#endif
