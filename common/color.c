/*
 * The names of the colour fields' values, as programs print them and take them: one
 * table per field, indexed by the enum's value (frame.h).
 */
#include <stddef.h>

#include "vshm/frame.h"

static const char *const matrix_names[] = {
	[VSHM_COLOR_MATRIX_UNSPECIFIED] = "unspecified",
	[VSHM_COLOR_MATRIX_BT601] = "bt601",
	[VSHM_COLOR_MATRIX_BT709] = "bt709",
	[VSHM_COLOR_MATRIX_BT2020] = "bt2020",
};

static const char *const range_names[] = {
	[VSHM_COLOR_RANGE_UNSPECIFIED] = "unspecified",
	[VSHM_COLOR_RANGE_LIMITED] = "limited",
	[VSHM_COLOR_RANGE_FULL] = "full",
};

static const char *const primaries_names[] = {
	[VSHM_COLOR_PRIMARIES_UNSPECIFIED] = "unspecified",
	[VSHM_COLOR_PRIMARIES_BT709] = "bt709",
	[VSHM_COLOR_PRIMARIES_BT601_625] = "bt601-625",
	[VSHM_COLOR_PRIMARIES_BT601_525] = "bt601-525",
	[VSHM_COLOR_PRIMARIES_BT2020] = "bt2020",
	[VSHM_COLOR_PRIMARIES_DISPLAY_P3] = "display-p3",
};

static const char *const transfer_names[] = {
	[VSHM_COLOR_TRANSFER_UNSPECIFIED] = "unspecified",
	[VSHM_COLOR_TRANSFER_BT709] = "bt709",
	[VSHM_COLOR_TRANSFER_SRGB] = "srgb",
	[VSHM_COLOR_TRANSFER_PQ] = "pq",
	[VSHM_COLOR_TRANSFER_HLG] = "hlg",
	[VSHM_COLOR_TRANSFER_LINEAR] = "linear",
};

#define NAME_OF(table, value)                                                                      \
	((size_t)(value) < sizeof(table) / sizeof(table[0]) ? table[value] : NULL)

const char *vshm_color_matrix_name(uint8_t matrix)
{
	return NAME_OF(matrix_names, matrix);
}

const char *vshm_color_range_name(uint8_t range)
{
	return NAME_OF(range_names, range);
}

const char *vshm_color_primaries_name(uint8_t primaries)
{
	return NAME_OF(primaries_names, primaries);
}

const char *vshm_color_transfer_name(uint8_t transfer)
{
	return NAME_OF(transfer_names, transfer);
}
