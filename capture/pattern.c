/*
 * The test patterns, drawn as horizontal spans of one colour: each row is a few spans
 * (bars, steps or squares, or background, square and digit strokes), found once per
 * distinct row, so drawing costs a few memsets per plane row.
 */
#include <string.h>

#include "pattern.h"

#define BAR_COUNT     7
#define DIGIT_COLUMNS 3
#define DIGIT_ROWS    5

static const struct pattern_rgb bars[BAR_COUNT] = {
	{ 255, 255, 255 }, { 255, 255, 0 }, { 0, 255, 255 }, { 0, 255, 0 },
	{ 255, 0, 255 },   { 255, 0, 0 },   { 0, 0, 255 },
};
static const struct pattern_rgb black = { 0, 0, 0 };
static const struct pattern_rgb checker_light = { 192, 192, 192 };
static const struct pattern_rgb checker_dark = { 64, 64, 64 };

#define GRADIENT_STEPS 64
static const struct pattern_rgb white = { 255, 255, 255 };

/* 3x5 digits, one row per entry, bit 2 is the left column. */
static const uint8_t digit_font[10][DIGIT_ROWS] = {
	{ 7, 5, 5, 5, 7 }, { 2, 6, 2, 2, 7 }, { 7, 1, 7, 4, 7 }, { 7, 1, 7, 1, 7 },
	{ 5, 5, 7, 1, 1 }, { 7, 4, 7, 1, 7 }, { 7, 4, 7, 5, 7 }, { 7, 1, 2, 2, 2 },
	{ 7, 5, 7, 5, 7 }, { 7, 5, 7, 1, 7 },
};

/* Where things are, for one frame size: all of it integer arithmetic. */
struct geometry {
	uint32_t width, height;
	uint32_t bars_end;    /* first row of the bottom third */
	uint32_t square_size; /* side of the moving square */
	uint32_t square_top;
	uint32_t scale; /* pixels per font dot */
	uint32_t digits_left, digits_top;
};

static struct geometry geometry_for(uint32_t width, uint32_t height)
{
	struct geometry g = { .width = width, .height = height };
	g.bars_end = height * 2 / 3;
	uint32_t bottom = height - g.bars_end;
	g.square_size = bottom / 2 ? bottom / 2 : 1;
	g.square_top = g.bars_end + (bottom - g.square_size) / 4;
	g.scale = height / 90 ? height / 90 : 1;
	g.digits_left = g.scale;
	uint32_t digits_height = DIGIT_ROWS * g.scale;
	g.digits_top = height > digits_height + g.scale ? height - digits_height - g.scale : 0;
	return g;
}

static uint32_t square_left(const struct geometry *g, uint64_t n)
{
	uint32_t travel = g->width > g->square_size ? g->width - g->square_size + 1 : 1;
	uint32_t step = g->width / 64 ? g->width / 64 : 1;
	return (uint32_t)((n * step) % travel);
}

/* The decimal digits of n, most significant first; returns how many. */
static unsigned digits_of(uint64_t n, uint8_t digits[20])
{
	uint8_t reversed[20];
	unsigned count = 0;
	do {
		reversed[count++] = (uint8_t)(n % 10);
		n /= 10;
	} while (n);
	for (unsigned i = 0; i < count; i++)
		digits[i] = reversed[count - 1 - i];
	return count;
}

/* True if (x, y) is a lit dot of the frame number. */
static int digit_dot(const struct geometry *g, const uint8_t *digits, unsigned count, uint32_t x,
                     uint32_t y)
{
	if (y < g->digits_top || x < g->digits_left)
		return 0;
	uint32_t row = (y - g->digits_top) / g->scale;
	uint32_t column = (x - g->digits_left) / g->scale;
	if (row >= DIGIT_ROWS)
		return 0;
	/* Each digit is 3 dots wide and followed by a blank column. */
	uint32_t digit = column / (DIGIT_COLUMNS + 1), dot = column % (DIGIT_COLUMNS + 1);
	if (digit >= count || dot == DIGIT_COLUMNS)
		return 0;
	return (digit_font[digits[digit]][row] >> (DIGIT_COLUMNS - 1 - dot)) & 1;
}

/* Side of a checker square, and how far the board moves each frame. */
static uint32_t checker_size(const struct geometry *g)
{
	return g->height / 12 > 4 ? g->height / 12 : 4;
}

/* The colour of the top two thirds, which is where the patterns differ. */
static struct pattern_rgb top_color(enum pattern_kind kind, uint64_t n, uint32_t x, uint32_t y,
                                    const struct geometry *g)
{
	switch (kind) {
	case PATTERN_GRADIENT: {
		/* 64 steps from red to green, with a blue ramp the other way. */
		uint8_t v = (uint8_t)((uint64_t)x * GRADIENT_STEPS / g->width * 4 + 2);
		return (struct pattern_rgb){ (uint8_t)(255 - v), v, (uint8_t)(v / 2) };
	}
	case PATTERN_CHECKERS: {
		uint32_t size = checker_size(g);
		uint64_t column = ((uint64_t)x + n * (g->width / 64 ? g->width / 64 : 1)) / size;
		return ((column + y / size) & 1) ? checker_light : checker_dark;
	}
	case PATTERN_BARS:
	default:
		return bars[(uint64_t)x * BAR_COUNT / g->width];
	}
}

struct pattern_rgb pattern_color_of(enum pattern_kind kind, uint64_t n, uint32_t x, uint32_t y,
                                    uint32_t width, uint32_t height)
{
	struct geometry g = geometry_for(width, height);
	if (y < g.bars_end)
		return top_color(kind, n, x, y, &g);
	uint8_t digits[20];
	unsigned count = digits_of(n, digits);
	if (digit_dot(&g, digits, count, x, y))
		return white;
	uint32_t left = square_left(&g, n);
	if (y >= g.square_top && y < g.square_top + g.square_size && x >= left &&
	    x < left + g.square_size)
		return white;
	return black;
}

struct pattern_rgb pattern_color_at(uint64_t n, uint32_t x, uint32_t y, uint32_t width,
                                    uint32_t height)
{
	return pattern_color_of(PATTERN_BARS, n, x, y, width, height);
}

static const char *const kind_names[] = {
	[PATTERN_BARS] = "bars",
	[PATTERN_GRADIENT] = "gradient",
	[PATTERN_CHECKERS] = "checkers",
};

int pattern_from_name(const char *name)
{
	for (int kind = 0; kind < PATTERN_KIND_COUNT; kind++) {
		if (strcmp(kind_names[kind], name) == 0)
			return kind;
	}
	return -1;
}

const char *pattern_name(enum pattern_kind kind)
{
	return kind < PATTERN_KIND_COUNT ? kind_names[kind] : "?";
}

uint8_t pattern_luma(struct pattern_rgb c)
{
	return (uint8_t)(((66 * c.r + 129 * c.g + 25 * c.b + 128) >> 8) + 16);
}

uint8_t pattern_chroma_u(struct pattern_rgb c)
{
	return (uint8_t)(((-38 * c.r - 74 * c.g + 112 * c.b + 128) >> 8) + 128);
}

uint8_t pattern_chroma_v(struct pattern_rgb c)
{
	return (uint8_t)(((112 * c.r - 94 * c.g - 18 * c.b + 128) >> 8) + 128);
}

uint8_t pattern_gray(struct pattern_rgb c)
{
	return (uint8_t)((77 * c.r + 150 * c.g + 29 * c.b + 128) >> 8);
}

/*
 * Writes value into component c's samples for pixels [x0, x1) of row y, where the
 * format's description says they lie. A subsampled chroma sample k covers pixels
 * k << shift ... and takes the colour of its first pixel: it is written from the top
 * row of its block, for the spans that hold that first pixel. The 8-bit value becomes
 * a deeper format's value as FFmpeg scales 8-bit video up (times 4 for 10 bits), in its
 * place in a little-endian word: P010 gets the bytes 0 and value.
 */
static void fill_component(struct vshm_frame *frame, const struct vshm_format_description *format,
                           const struct vshm_format_component *component, bool chroma, uint32_t y,
                           uint32_t x0, uint32_t x1, uint8_t value)
{
	uint32_t shift_x = chroma ? format->chroma_shift_x : 0;
	uint32_t shift_y = chroma ? format->chroma_shift_y : 0;
	if (y & ((1u << shift_y) - 1))
		return;
	uint32_t first = (x0 + (1u << shift_x) - 1) >> shift_x;
	uint32_t end = (x1 + (1u << shift_x) - 1) >> shift_x;
	uint8_t *samples = frame->plane[component->plane] +
	                   (uint64_t)(y >> shift_y) * frame->stride[component->plane] +
	                   component->offset + (uint64_t)first * component->step;
	if (format->sample_bytes == 2) {
		uint16_t word = (uint16_t)(value << (format->depth - 8 + format->sample_shift));
		for (uint32_t k = first; k < end; k++, samples += component->step) {
			samples[0] = (uint8_t)word;
			samples[1] = (uint8_t)(word >> 8);
		}
		return;
	}
	if (component->step == 1) {
		memset(samples, value, end - first);
		return;
	}
	for (uint32_t k = first; k < end; k++, samples += component->step)
		*samples = value;
}

/* Writes pixels [x0, x1) of row y in colour c, in every plane the format has. */
static void fill_span(struct vshm_frame *frame, uint32_t y, uint32_t x0, uint32_t x1,
                      struct pattern_rgb c)
{
	if (x0 >= x1)
		return;
	const struct vshm_format_description *format = vshm_format_describe(frame->format);
	/* Each component's value: BT.601 limited YUV, full-range gray, or RGB with opaque
	 * alpha. */
	uint8_t values[4] = { c.r, c.g, c.b, 255 };
	if (format->family == VSHM_FORMAT_FAMILY_YUV) {
		values[0] = pattern_luma(c);
		values[1] = pattern_chroma_u(c);
		values[2] = pattern_chroma_v(c);
	} else if (format->family == VSHM_FORMAT_FAMILY_GRAY) {
		values[0] = pattern_gray(c);
	}
	for (uint32_t i = 0; i < format->component_count; i++)
		fill_component(frame, format, &format->components[i],
		               format->family == VSHM_FORMAT_FAMILY_YUV && i > 0, y, x0, x1,
		               values[i]);
	/* Padding bytes of packed RGB (XRGB8888's X) are 255, like an opaque alpha. */
	const struct vshm_format_component *first = &format->components[0];
	if (format->family == VSHM_FORMAT_FAMILY_RGB && first->step > format->component_count) {
		uint32_t taken = 0;
		for (uint32_t i = 0; i < format->component_count; i++)
			taken |= 1u << format->components[i].offset;
		for (uint8_t offset = 0; offset < first->step; offset++) {
			struct vshm_format_component padding = { first->plane, first->step,
				                                 offset };
			if (!(taken & (1u << offset)))
				fill_component(frame, format, &padding, false, y, x0, x1, 255);
		}
	}
}

/* The runs of one colour in a top row; at most one per checker square (side >= 4). */
struct span {
	uint32_t start, end;
	struct pattern_rgb color;
};
static struct span top_spans[VSHM_FORMAT_DIMENSION_MAX / 4 + 2];

static unsigned find_top_spans(enum pattern_kind kind, uint64_t n, uint32_t y,
                               const struct geometry *g)
{
	unsigned count = 0;
	struct pattern_rgb current = top_color(kind, n, 0, y, g);
	uint32_t start = 0;
	for (uint32_t x = 1; x <= g->width; x++) {
		struct pattern_rgb next = x < g->width ? top_color(kind, n, x, y, g) : current;
		if (x < g->width && next.r == current.r && next.g == current.g &&
		    next.b == current.b)
			continue;
		top_spans[count++] = (struct span){ start, x, current };
		start = x;
		current = next;
	}
	return count;
}

void pattern_draw_kind(struct vshm_frame *frame, uint64_t n, enum pattern_kind kind)
{
	struct geometry g = geometry_for(frame->width, frame->height);
	uint8_t digits[20];
	unsigned count = digits_of(n, digits);
	uint32_t left = square_left(&g, n);
	uint32_t right = left + g.square_size < g.width ? left + g.square_size : g.width;
	/* Top rows repeat: all of them for bars and gradient, a board row for checkers. */
	uint64_t spans_key = UINT64_MAX;
	unsigned span_count = 0;

	for (uint32_t y = 0; y < g.height; y++) {
		if (y < g.bars_end) {
			uint64_t key = kind == PATTERN_CHECKERS ? y / checker_size(&g) : 0;
			if (key != spans_key) {
				span_count = find_top_spans(kind, n, y, &g);
				spans_key = key;
			}
			for (unsigned i = 0; i < span_count; i++)
				fill_span(frame, y, top_spans[i].start, top_spans[i].end,
				          top_spans[i].color);
			continue;
		}
		fill_span(frame, y, 0, g.width, black);
		if (y >= g.square_top && y < g.square_top + g.square_size)
			fill_span(frame, y, left, right, white);
		if (y < g.digits_top || (y - g.digits_top) / g.scale >= DIGIT_ROWS)
			continue;
		/* Digit strokes: runs of lit dots, each `scale` pixels wide. */
		for (uint32_t x = g.digits_left; x < g.width; x++) {
			if (!digit_dot(&g, digits, count, x, y))
				continue;
			uint32_t end = x;
			while (end < g.width && digit_dot(&g, digits, count, end, y))
				end++;
			fill_span(frame, y, x, end, white);
			x = end;
		}
	}
	int yuv = vshm_format_describe(frame->format)->family == VSHM_FORMAT_FAMILY_YUV;
	frame->color_matrix = yuv ? VSHM_COLOR_MATRIX_BT601 : VSHM_COLOR_MATRIX_UNSPECIFIED;
	frame->color_range = yuv ? VSHM_COLOR_RANGE_LIMITED : VSHM_COLOR_RANGE_FULL;
}
