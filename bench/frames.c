/* The frame sizes the benchmark moves, and the source frames it copies from. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

const struct bench_frame_size bench_frame_480p_nv12 = { "480p NV12", VSHM_FORMAT_NV12, 640, 480 };
const struct bench_frame_size bench_frame_720p_nv12 = { "720p NV12", VSHM_FORMAT_NV12, 1280, 720 };
const struct bench_frame_size bench_frame_1080p_nv12 = { "1080p NV12", VSHM_FORMAT_NV12, 1920,
	                                                 1080 };
const struct bench_frame_size bench_frame_1080p_rgba = { "1080p RGBA", VSHM_FORMAT_RGBA, 1920,
	                                                 1080 };
const struct bench_frame_size bench_frame_2160p_nv12 = { "2160p NV12", VSHM_FORMAT_NV12, 3840,
	                                                 2160 };
/* 64 bytes of pixels; rows are padded to the 64-byte stride alignment in the slot. */
const struct bench_frame_size bench_frame_64_bytes = { "GRAY8 8x8", VSHM_FORMAT_GRAY8, 8, 8 };

uint64_t bench_frame_bytes(const struct bench_frame_size *size)
{
	struct vshm_format_layout layout;
	if (vshm_format_layout(size->format, size->width, size->height, &layout) < 0)
		return 0;
	return layout.total_size;
}

uint8_t *bench_frame_source_create(const struct bench_frame_size *size)
{
	uint64_t bytes = bench_frame_bytes(size);
	/* Private memory, as a decoder's or a camera's buffer would be; faulted in now. */
	uint8_t *source = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (source == MAP_FAILED) {
		fprintf(stderr, "vshm-bench: cannot map a %s source frame: %s\n", size->label,
		        strerror(errno));
		return NULL;
	}
	memset(source, 0x5a, bytes);
	return source;
}

void bench_frame_source_free(uint8_t *source, const struct bench_frame_size *size)
{
	if (source)
		munmap(source, bench_frame_bytes(size));
}
