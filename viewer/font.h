/* A 5x7 bitmap font for the info overlay, drawn with SDL rectangles (no SDL_ttf). */
#ifndef VSHM_VIEWER_FONT_H
#define VSHM_VIEWER_FONT_H

#include <SDL2/SDL.h>

#define FONT_WIDTH   5
#define FONT_HEIGHT  7
#define FONT_ADVANCE 6 /* glyph plus one blank column */

/* Draws text (upper case shown for lower case) with its top left at x, y, each dot
 * scale x scale pixels, in the renderer's current draw colour. */
void font_draw(SDL_Renderer *renderer, int x, int y, int scale, const char *text);

#endif
