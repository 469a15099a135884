/*
 * The SDL2 side of vshm-view. Where pixels go:
 *   - formats the renderer takes natively (NV12, I420, packed 32-bit RGB, and YUYV,
 *     UYVY or 24-bit RGB where the renderer lists them) are uploaded with
 *     SDL_UpdateTexture / SDL_UpdateNVTexture / SDL_UpdateYUVTexture given pointers
 *     into the slot: the upload is the only copy, made by the renderer itself;
 *   - GRAY8 goes up as the Y plane of an IYUV texture straight from the slot, with a
 *     constant neutral chroma plane made once (SDL2 has no luma-only update, so that
 *     half-size chroma is uploaded with every frame too);
 *   - anything else (packed 4:2:2 or 24-bit RGB on renderers without them, YUV with a
 *     matrix or range SDL cannot express, formats SDL2 has no texture for: P010, I444)
 *     is converted in one pass from the slot into the locked texture (convert.c): no
 *     intermediate buffer. VSHM_VIEW_CONVERT=1 in the environment sends every format
 *     this way (to XRGB8888).
 * Pixels that are not square are drawn at the frame's display aspect: the renderer
 * stretches the texture when it draws it, in the copy to the screen.
 * Two textures: the frame goes into the back one, and becomes the front one only when
 * the ring says it stayed intact, so a torn frame is never presented.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL2/SDL.h>

#include "convert.h"
#include "display.h"
#include "font.h"

/* The widest a frame is drawn, whatever aspect its metadata claims. */
#define DISPLAY_WIDTH_MAX VSHM_FORMAT_DIMENSION_MAX

enum upload_method {
	UPLOAD_PACKED,       /* SDL_UpdateTexture straight from the slot */
	UPLOAD_NV12,         /* SDL_UpdateNVTexture straight from the slot */
	UPLOAD_I420,         /* SDL_UpdateYUVTexture straight from the slot */
	UPLOAD_GRAY_AS_IYUV, /* the Y plane from the slot, neutral chroma */
	CONVERT_PACKED_422,  /* one pass into a locked IYUV texture */
	CONVERT_TO_XRGB,     /* one pass into a locked XRGB8888 texture */
};

static const char *const method_names[] = {
	[UPLOAD_PACKED] = "direct upload",
	[UPLOAD_NV12] = "direct NV12 upload",
	[UPLOAD_I420] = "direct YUV upload",
	[UPLOAD_GRAY_AS_IYUV] = "direct upload as Y",
	[CONVERT_PACKED_422] = "one pass 4:2:2 to 4:2:0",
	[CONVERT_TO_XRGB] = "one pass to RGB",
};

struct texture {
	SDL_Texture *texture;
	uint32_t format, width, height;
	uint32_t display_width; /* the width the frame is drawn at: its pixels' shape */
	uint8_t matrix, range;
	enum upload_method method;
};

struct display {
	SDL_Window *window;
	SDL_Renderer *renderer;
	SDL_RendererInfo info;
	struct texture textures[2];
	int front;
	bool has_frame;
	bool fullscreen;
	bool sized_by_frame;
	uint8_t *neutral_chroma;
	size_t neutral_chroma_size;
	bool convert_always; /* VSHM_VIEW_CONVERT: every format takes CONVERT_TO_XRGB */
};

static bool renderer_takes(const struct display *display, uint32_t sdl_format)
{
	for (uint32_t i = 0; i < display->info.num_texture_formats; i++) {
		if (display->info.texture_formats[i] == sdl_format)
			return true;
	}
	return false;
}

/* The SDL conversion mode for a YUV frame, or false if SDL has none for it. */
static bool yuv_mode_for(const struct vshm_frame *frame, SDL_YUV_CONVERSION_MODE *mode)
{
	int matrix = frame->color_matrix;
	if (matrix == VSHM_COLOR_MATRIX_UNSPECIFIED)
		matrix = frame->height >= 720 ? VSHM_COLOR_MATRIX_BT709 : VSHM_COLOR_MATRIX_BT601;
	bool full = frame->color_range == VSHM_COLOR_RANGE_FULL;
	if (matrix == VSHM_COLOR_MATRIX_BT601) {
		*mode = full ? SDL_YUV_CONVERSION_JPEG : SDL_YUV_CONVERSION_BT601;
		return true;
	}
	if (matrix == VSHM_COLOR_MATRIX_BT709 && !full) {
		*mode = SDL_YUV_CONVERSION_BT709;
		return true;
	}
	return false; /* full-range BT.709, BT.2020: converted by us */
}

/*
 * SDL's YUV texture formats and how each is filled. The one place the viewer names
 * formats: SDL has no generic description of YUV layouts. A YUV format without a row
 * here takes the one-pass conversion, so a new format shows correctly without one.
 */
static const struct {
	uint32_t format;
	uint32_t sdl_format;
	enum upload_method method;
} sdl_yuv_formats[] = {
	{ VSHM_FORMAT_NV12, SDL_PIXELFORMAT_NV12, UPLOAD_NV12 },
	{ VSHM_FORMAT_I420, SDL_PIXELFORMAT_IYUV, UPLOAD_I420 },
	{ VSHM_FORMAT_YUYV, SDL_PIXELFORMAT_YUY2, UPLOAD_PACKED },
	{ VSHM_FORMAT_UYVY, SDL_PIXELFORMAT_UYVY, UPLOAD_PACKED },
};

/* SDL's packed RGB format with the same bytes as format (SDL's masks are in memory
 * order on this little-endian machine), or SDL_PIXELFORMAT_UNKNOWN. */
static uint32_t sdl_rgb_format(const struct vshm_format_description *format)
{
	const struct vshm_format_component *c = format->components;
	if (format->plane_count != 1)
		return SDL_PIXELFORMAT_UNKNOWN;
	uint32_t alpha = format->component_count == 4 ? 0xffu << (8 * c[3].offset) : 0;
	return SDL_MasksToPixelFormatEnum(8 * c[0].step, 0xffu << (8 * c[0].offset),
	                                  0xffu << (8 * c[1].offset), 0xffu << (8 * c[2].offset),
	                                  alpha);
}

static enum upload_method choose_method(const struct display *display,
                                        const struct vshm_frame *frame, uint32_t *sdl_format,
                                        SDL_YUV_CONVERSION_MODE *mode)
{
	const struct vshm_format_description *format = vshm_format_describe(frame->format);
	*mode = SDL_YUV_CONVERSION_BT601;
	if (display->convert_always)
		return *sdl_format = SDL_PIXELFORMAT_RGB888, CONVERT_TO_XRGB;
	bool sdl_yuv = yuv_mode_for(frame, mode);
	if (format->family == VSHM_FORMAT_FAMILY_YUV) {
		for (size_t i = 0; i < sizeof(sdl_yuv_formats) / sizeof(sdl_yuv_formats[0]); i++) {
			if (sdl_yuv_formats[i].format == frame->format && sdl_yuv &&
			    renderer_takes(display, sdl_yuv_formats[i].sdl_format))
				return *sdl_format = sdl_yuv_formats[i].sdl_format,
				       sdl_yuv_formats[i].method;
		}
		bool packed_422 = format->plane_count == 1 && format->chroma_shift_x == 1 &&
		                  format->chroma_shift_y == 0;
		if (packed_422 && sdl_yuv && renderer_takes(display, SDL_PIXELFORMAT_IYUV))
			return *sdl_format = SDL_PIXELFORMAT_IYUV, CONVERT_PACKED_422;
	} else if (format->family == VSHM_FORMAT_FAMILY_RGB) {
		uint32_t rgb = sdl_rgb_format(format);
		/* SDL takes any 32-bit RGB texture, converting inside the renderer where it
		 * must; 24-bit ones only where the renderer lists them. */
		if (rgb != SDL_PIXELFORMAT_UNKNOWN &&
		    (SDL_BITSPERPIXEL(rgb) == 32 || renderer_takes(display, rgb)))
			return *sdl_format = rgb, UPLOAD_PACKED;
	} else if (format->family == VSHM_FORMAT_FAMILY_GRAY && format->components[0].step == 1 &&
	           renderer_takes(display, SDL_PIXELFORMAT_IYUV)) {
		*mode = SDL_YUV_CONVERSION_JPEG; /* full range: R = G = B = Y */
		return *sdl_format = SDL_PIXELFORMAT_IYUV, UPLOAD_GRAY_AS_IYUV;
	}
	return *sdl_format = SDL_PIXELFORMAT_RGB888, CONVERT_TO_XRGB;
}

struct display *display_create(const struct display_options *options)
{
	struct display *display = calloc(1, sizeof(*display));
	if (!display)
		return NULL;
	if (SDL_Init(SDL_INIT_VIDEO) < 0) {
		fprintf(stderr, "vshm-view: cannot start SDL video: %s\n", SDL_GetError());
		free(display);
		return NULL;
	}
	/* The fallback path, taken on every renderer: how its pixels are tested, and a way to
	 * tell a renderer's own colour conversion from ours. */
	const char *convert = getenv("VSHM_VIEW_CONVERT");
	display->convert_always = convert && convert[0] && strcmp(convert, "0") != 0;
	display->sized_by_frame = options->width == 0 || options->height == 0;
	int width = display->sized_by_frame ? 640 : (int)options->width;
	int height = display->sized_by_frame ? 360 : (int)options->height;
	Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI;
	if (options->fullscreen)
		flags |= SDL_WINDOW_FULLSCREEN_DESKTOP;
	display->fullscreen = options->fullscreen;
	display->window = SDL_CreateWindow(options->title, SDL_WINDOWPOS_CENTERED,
	                                   SDL_WINDOWPOS_CENTERED, width, height, flags);
	if (!display->window) {
		fprintf(stderr, "vshm-view: cannot open a window: %s\n", SDL_GetError());
		goto error;
	}
	display->renderer = SDL_CreateRenderer(display->window, -1, SDL_RENDERER_ACCELERATED);
	if (!display->renderer)
		display->renderer = SDL_CreateRenderer(display->window, -1, SDL_RENDERER_SOFTWARE);
	if (!display->renderer) {
		fprintf(stderr, "vshm-view: cannot create a renderer: %s\n", SDL_GetError());
		goto error;
	}
	SDL_GetRendererInfo(display->renderer, &display->info);
	SDL_SetRenderDrawColor(display->renderer, 0, 0, 0, 255);
	SDL_RenderClear(display->renderer);
	SDL_RenderPresent(display->renderer);
	return display;

error:
	display_destroy(display);
	return NULL;
}

void display_destroy(struct display *display)
{
	if (!display)
		return;
	for (int i = 0; i < 2; i++) {
		if (display->textures[i].texture)
			SDL_DestroyTexture(display->textures[i].texture);
	}
	if (display->renderer)
		SDL_DestroyRenderer(display->renderer);
	if (display->window)
		SDL_DestroyWindow(display->window);
	free(display->neutral_chroma);
	SDL_Quit();
	free(display);
}

/* Makes texture fit frame, recreating it when format, size or colour changed. */
static int prepare_texture(struct display *display, struct texture *texture,
                           const struct vshm_frame *frame)
{
	if (texture->texture && texture->format == frame->format &&
	    texture->width == frame->width && texture->height == frame->height &&
	    texture->matrix == frame->color_matrix && texture->range == frame->color_range)
		return 0;
	if (texture->texture)
		SDL_DestroyTexture(texture->texture);
	uint32_t sdl_format;
	SDL_YUV_CONVERSION_MODE mode;
	texture->method = choose_method(display, frame, &sdl_format, &mode);
	/* SDL fixes a YUV texture's colour conversion when it is created. */
	SDL_SetYUVConversionMode(mode);
	texture->texture =
	    SDL_CreateTexture(display->renderer, sdl_format, SDL_TEXTUREACCESS_STREAMING,
	                      (int)frame->width, (int)frame->height);
	if (!texture->texture) {
		fprintf(stderr, "vshm-view: cannot create a %ux%u texture: %s\n", frame->width,
		        frame->height, SDL_GetError());
		return -1;
	}
	SDL_SetTextureBlendMode(texture->texture, SDL_BLENDMODE_NONE);
	texture->format = frame->format;
	texture->width = frame->width;
	texture->height = frame->height;
	texture->matrix = frame->color_matrix;
	texture->range = frame->color_range;
	if (texture->method == UPLOAD_GRAY_AS_IYUV) {
		size_t size = (size_t)((frame->width + 1) / 2) * ((frame->height + 1) / 2);
		if (size > display->neutral_chroma_size) {
			free(display->neutral_chroma);
			display->neutral_chroma = malloc(size);
			if (!display->neutral_chroma)
				return -1;
			memset(display->neutral_chroma, 128, size);
			display->neutral_chroma_size = size;
		}
	}
	return 0;
}

/*
 * The width a frame is meant to be shown at, at its own height: stretched or narrowed
 * by its sample aspect ratio, as FFmpeg's players draw it. An unknown aspect is square;
 * one read from shared memory that would make an absurd window is kept within limits.
 */
static uint32_t display_width_of(const struct vshm_frame *frame)
{
	const struct vshm_ratio *aspect = &frame->sample_aspect;
	if (!aspect->numerator || !aspect->denominator)
		return frame->width;
	uint64_t width = ((uint64_t)frame->width * aspect->numerator + aspect->denominator / 2) /
	                 aspect->denominator;
	return width < 1 ? 1 : width > DISPLAY_WIDTH_MAX ? DISPLAY_WIDTH_MAX : (uint32_t)width;
}

int display_upload(struct display *display, const struct vshm_frame *frame)
{
	struct texture *texture = &display->textures[1 - display->front];
	if (prepare_texture(display, texture, frame) < 0)
		return -1;
	texture->display_width = display_width_of(frame);
	int result = 0;
	switch (texture->method) {
	case UPLOAD_PACKED:
		result = SDL_UpdateTexture(texture->texture, NULL, frame->plane[0],
		                           (int)frame->stride[0]);
		break;
	case UPLOAD_NV12:
		result = SDL_UpdateNVTexture(texture->texture, NULL, frame->plane[0],
		                             (int)frame->stride[0], frame->plane[1],
		                             (int)frame->stride[1]);
		break;
	case UPLOAD_I420:
		result = SDL_UpdateYUVTexture(
		    texture->texture, NULL, frame->plane[0], (int)frame->stride[0], frame->plane[1],
		    (int)frame->stride[1], frame->plane[2], (int)frame->stride[2]);
		break;
	case UPLOAD_GRAY_AS_IYUV:
		result = SDL_UpdateYUVTexture(texture->texture, NULL, frame->plane[0],
		                              (int)frame->stride[0], display->neutral_chroma,
		                              (int)(frame->width + 1) / 2, display->neutral_chroma,
		                              (int)(frame->width + 1) / 2);
		break;
	case CONVERT_PACKED_422:
	case CONVERT_TO_XRGB: {
		void *pixels;
		int pitch;
		result = SDL_LockTexture(texture->texture, NULL, &pixels, &pitch);
		if (result < 0)
			break;
		uint8_t family = vshm_format_describe(frame->format)->family;
		if (texture->method == CONVERT_PACKED_422) {
			convert_packed_422_to_iyuv(frame, pixels, pitch);
		} else if (family == VSHM_FORMAT_FAMILY_RGB) {
			convert_rgb_to_xrgb(frame, pixels, pitch);
		} else if (family == VSHM_FORMAT_FAMILY_GRAY) {
			convert_gray_to_xrgb(frame, pixels, pitch);
		} else {
			struct yuv_coefficients coefficients = convert_coefficients(frame);
			convert_yuv_to_xrgb(frame, &coefficients, pixels, pitch);
		}
		SDL_UnlockTexture(texture->texture);
		break;
	}
	}
	if (result < 0) {
		fprintf(stderr, "vshm-view: texture upload failed: %s\n", SDL_GetError());
		return -1;
	}
	return 0;
}

void display_commit(struct display *display)
{
	const struct texture *previous = &display->textures[display->front];
	display->front = 1 - display->front;
	const struct texture *shown = &display->textures[display->front];
	/* The window follows the frame's display size (its pixels' shape applied), unless
	 * the user chose a size or full screen: when it still has the previous frame's
	 * size, it is ours to change. */
	bool resized = !display->has_frame || previous->display_width != shown->display_width ||
	               previous->height != shown->height;
	if (display->sized_by_frame && !display->fullscreen && resized) {
		int width, height;
		SDL_GetWindowSize(display->window, &width, &height);
		bool untouched =
		    !display->has_frame || ((uint32_t)width == previous->display_width &&
		                            (uint32_t)height == previous->height);
		if (untouched)
			SDL_SetWindowSize(display->window, (int)shown->display_width,
			                  (int)shown->height);
		if (!display->has_frame)
			SDL_SetWindowPosition(display->window, SDL_WINDOWPOS_CENTERED,
			                      SDL_WINDOWPOS_CENTERED);
	}
	/* Letterboxing keeps the frame's display aspect in any window size: the renderer
	 * stretches the texture to the display size, in the one copy to the screen. */
	if (resized)
		SDL_RenderSetLogicalSize(display->renderer, (int)shown->display_width,
		                         (int)shown->height);
	display->has_frame = true;
}

bool display_has_frame(const struct display *display)
{
	return display->has_frame;
}

static void draw_overlay(struct display *display, const char *const *lines, int count)
{
	const struct texture *shown = &display->textures[display->front];
	int height = display->has_frame ? (int)shown->height : 360;
	int scale = height >= 480 ? height / 240 : 1;
	int longest = 0;
	for (int i = 0; i < count; i++) {
		int length = (int)strlen(lines[i]);
		longest = length > longest ? length : longest;
	}
	int line_height = (FONT_HEIGHT + 3) * scale;
	SDL_Rect box = { 2 * scale, 2 * scale, (longest * FONT_ADVANCE + 4) * scale,
		         count * line_height + 3 * scale };
	SDL_SetRenderDrawBlendMode(display->renderer, SDL_BLENDMODE_BLEND);
	SDL_SetRenderDrawColor(display->renderer, 0, 0, 0, 170);
	SDL_RenderFillRect(display->renderer, &box);
	SDL_SetRenderDrawColor(display->renderer, 255, 255, 255, 255);
	for (int i = 0; i < count; i++)
		font_draw(display->renderer, 4 * scale, 4 * scale + i * line_height, scale,
		          lines[i]);
	SDL_SetRenderDrawColor(display->renderer, 0, 0, 0, 255);
	SDL_SetRenderDrawBlendMode(display->renderer, SDL_BLENDMODE_NONE);
}

static void draw(struct display *display, const char *const *overlay_lines, int count)
{
	SDL_SetRenderDrawColor(display->renderer, 0, 0, 0, 255);
	SDL_RenderClear(display->renderer);
	if (display->has_frame)
		SDL_RenderCopy(display->renderer, display->textures[display->front].texture, NULL,
		               NULL);
	if (count > 0)
		draw_overlay(display, overlay_lines, count);
}

/*
 * Draws the frame, as the window shows it (same textures, colour conversion and
 * overlay), into a texture of the frame's display size and reads that back: the picture
 * does not depend on the window's size, or on a window at all (SDL's offscreen driver
 * keeps its first surface size).
 */
static void read_back(struct display *display, const char *const *overlay_lines, int count,
                      struct display_picture *picture)
{
	picture->rgb = NULL;
	const struct texture *shown = &display->textures[display->front];
	int width = display->has_frame ? (int)shown->display_width : 640;
	int height = display->has_frame ? (int)shown->height : 360;
	SDL_Texture *target = SDL_CreateTexture(display->renderer, SDL_PIXELFORMAT_RGB888,
	                                        SDL_TEXTUREACCESS_TARGET, width, height);
	uint8_t *rgb = malloc((size_t)width * 3 * (size_t)height);
	int result = target && rgb ? SDL_SetRenderTarget(display->renderer, target) : -1;
	if (result == 0) {
		SDL_RenderSetLogicalSize(display->renderer, width, height);
		draw(display, overlay_lines, count);
		result = SDL_RenderReadPixels(display->renderer, NULL, SDL_PIXELFORMAT_RGB24, rgb,
		                              width * 3);
		SDL_SetRenderTarget(display->renderer, NULL);
		SDL_RenderSetLogicalSize(display->renderer, width, height);
	}
	if (target)
		SDL_DestroyTexture(target);
	if (result < 0) {
		fprintf(stderr, "vshm-view: cannot read back the picture: %s\n", SDL_GetError());
		free(rgb);
		return;
	}
	picture->rgb = rgb;
	picture->width = width;
	picture->height = height;
}

void display_render(struct display *display, const char *const *overlay_lines, int count,
                    struct display_picture *snapshot)
{
	if (snapshot)
		read_back(display, overlay_lines, count, snapshot);
	draw(display, overlay_lines, count);
	SDL_RenderPresent(display->renderer);
}

void display_set_title(struct display *display, const char *title)
{
	SDL_SetWindowTitle(display->window, title);
}

void display_toggle_fullscreen(struct display *display)
{
	display->fullscreen = !display->fullscreen;
	SDL_SetWindowFullscreen(display->window,
	                        display->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
}

const char *display_renderer_name(const struct display *display)
{
	return display->info.name;
}

const char *display_upload_method(const struct display *display)
{
	if (!display->has_frame)
		return "none yet";
	return method_names[display->textures[display->front].method];
}
