/*
 * vshm-filter-template: copy this file to start your own filter. As it is, it copies
 * each frame unchanged (a pass-through), which shows the three things to fill in:
 * which formats you take, which format you make, and the transform itself.
 */
#include <string.h>

#include <vshm/vshm.h>

/* 1. The formats your transform understands (VSHM_FORMAT_INVALID ends the list). A
 *    transform that works on any format (this copy could) leaves .input_formats NULL;
 *    vshm_format_describe() says where each component of a format lies. */
static const uint32_t inputs[] = {
	VSHM_FORMAT_NV12,  VSHM_FORMAT_I420,    VSHM_FORMAT_RGBA,
	VSHM_FORMAT_GRAY8, VSHM_FORMAT_INVALID,
};

/* 2. The transform: read in->plane[] (shared memory, read-only), write out->plane[].
 *    Both frames have the same width and height; out is laid out for its format.
 *    Rows are stride[] bytes apart. This is the only pass over the pixels. */
static int transform(const struct vshm_frame *in, struct vshm_frame *out, void *data)
{
	(void)data;
	for (uint32_t p = 0; p < in->plane_count; p++) {
		/* The bytes a row of plane p holds, and its rows; strides may differ. */
		uint64_t row_bytes;
		uint32_t rows;
		vshm_format_plane_extent(in->format, p, in->width, in->height, &row_bytes, &rows);
		for (uint32_t y = 0; y < rows; y++)
			memcpy(out->plane[p] + (uint64_t)y * out->stride[p],
			       in->plane[p] + (uint64_t)y * in->stride[p], row_bytes);
	}
	return 0; /* a negative errno stops the filter */
}

int main(int argc, char **argv)
{
	/* 3. Name it; with .output_format you could make another format than the input's. */
	static const struct vshm_filter filter = {
		.name = "template",
		.description = "Copies frames unchanged: a starting point for your own filter.",
		.input_formats = inputs,
		.process = transform,
	};
	return vshm_filter_main(argc, argv, &filter);
}
