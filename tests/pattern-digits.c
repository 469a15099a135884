/* The test pattern's frame number, read back (see pattern-digits.h). */
#include <string.h>

#include "pattern-digits.h"

/* The pattern's 3 x 5 dot font (docs/test-pattern.md), bit 2 the left column. */
static const uint8_t font[10][5] = {
	{ 7, 5, 5, 5, 7 }, { 2, 6, 2, 2, 7 }, { 7, 1, 7, 4, 7 }, { 7, 1, 7, 1, 7 },
	{ 5, 5, 7, 1, 1 }, { 7, 4, 7, 1, 7 }, { 7, 4, 7, 5, 7 }, { 7, 1, 2, 2, 2 },
	{ 7, 5, 7, 5, 7 }, { 7, 5, 7, 1, 7 },
};

/* The dots of digit cell `digit`, one row of 3 bits each; false past the frame's edge. */
static bool read_cell(const uint8_t *luma, uint32_t stride, uint32_t width, uint32_t top,
                      uint32_t scale, uint32_t digit, uint8_t rows[5])
{
	for (uint32_t row = 0; row < 5; row++) {
		rows[row] = 0;
		for (uint32_t dot = 0; dot < 3; dot++) {
			/* Left margin of one dot, four dot columns a digit, the dot's centre. */
			uint32_t x = scale + (digit * 4 + dot) * scale + scale / 2;
			uint32_t y = top + row * scale + scale / 2;
			if (x >= width)
				return false;
			if (luma[(uint64_t)y * stride + x] > 128)
				rows[row] |= (uint8_t)(4 >> dot);
		}
	}
	return true;
}

bool pattern_digits_read(const uint8_t *luma, uint32_t stride, uint32_t width, uint32_t height,
                         uint64_t *number)
{
	uint32_t scale = height / 90 ? height / 90 : 1;
	if (height <= 6 * scale)
		return false;
	uint32_t top = height - 6 * scale;
	uint64_t value = 0;
	uint32_t digits = 0;
	for (;; digits++) {
		uint8_t rows[5];
		if (!read_cell(luma, stride, width, top, scale, digits, rows))
			return false; /* the digits cannot run off the picture */
		if (!(rows[0] | rows[1] | rows[2] | rows[3] | rows[4]))
			break; /* a dark cell: the number ended */
		int digit = -1;
		for (int d = 0; d < 10; d++) {
			if (memcmp(rows, font[d], 5) == 0)
				digit = d;
		}
		if (digit < 0)
			return false;
		value = value * 10 + (uint64_t)digit;
	}
	if (digits == 0)
		return false;
	*number = value;
	return true;
}
