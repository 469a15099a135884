/*
 * Layout 2.1 next to 2.0. The version rules (docs/protocol.md, section 3.9) let a minor
 * version give meaning only to bytes an older reader ignores, and make a reader drop a
 * frame whose format it does not know. Checked from both sides:
 *  - the new per-frame fields (colour primaries, transfer, sample aspect ratio) travel
 *    from writer to reader;
 *  - a reader of layout 2.0, written here from the 2.0 text alone (it copies the 128
 *    bytes of metadata 2.0 defines, reads each field at its 2.0 offset, and knows 2.0's
 *    ten format codes), reads a 2.1 writer's frames field for field, and drops the
 *    frames of the two formats 2.1 added;
 *  - libvshm reads a 2.0 writer's frames (the new bytes zero) as "unspecified";
 *  - libvshm drops a frame of a format it does not know and says which format, and that
 *    a newer libvshm reads it when the stream's writer follows a newer minor version.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "test-util.h"

#define WIDTH  64
#define HEIGHT 48

/* The writer's own segment, mapped writable, to read it raw or play an older writer. */
static uint8_t *map_segment(const char *name, size_t *size)
{
	char path[128];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct stat status;
	assert_int_equal(fstat(fd, &status), 0);
	*size = (size_t)status.st_size;
	uint8_t *base = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(base != MAP_FAILED);
	return base;
}

static struct vshm_writer *create_writer(const char *name)
{
	struct vshm_writer_options options = { .max_format = VSHM_FORMAT_XRGB8888,
		                               .max_width = WIDTH,
		                               .max_height = HEIGHT };
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	return writer;
}

static void publish(struct vshm_writer *writer, uint32_t format, uint64_t number,
                    void (*tag)(struct vshm_frame *frame))
{
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, format, WIDTH, HEIGHT, &frame), 0);
	for (uint32_t p = 0; p < frame.plane_count; p++)
		memset(frame.plane[p], (int)(number + p), frame.plane_size[p]);
	frame.frame_number = number;
	frame.flags = VSHM_FRAME_DISCONTINUITY;
	frame.color_matrix = VSHM_COLOR_MATRIX_BT2020;
	frame.color_range = VSHM_COLOR_RANGE_LIMITED;
	if (tag)
		tag(&frame);
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
}

static void hdr_anamorphic(struct vshm_frame *frame)
{
	frame->color_primaries = VSHM_COLOR_PRIMARIES_BT2020;
	frame->color_transfer = VSHM_COLOR_TRANSFER_PQ;
	frame->sample_aspect = (struct vshm_ratio){ 16, 9 };
}

/* A writer that says 16/0 knows nothing: the ring carries 0/0. */
static void half_an_aspect(struct vshm_frame *frame)
{
	frame->sample_aspect = (struct vshm_ratio){ 16, 0 };
}

static void new_fields_travel_with_the_frame(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "layout");
	struct vshm_writer *writer = create_writer(name);
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);
	struct vshm_frame got;
	publish(writer, VSHM_FORMAT_P010, 1, hdr_anamorphic);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.format, VSHM_FORMAT_P010);
	assert_int_equal(got.color_primaries, VSHM_COLOR_PRIMARIES_BT2020);
	assert_int_equal(got.color_transfer, VSHM_COLOR_TRANSFER_PQ);
	assert_int_equal(got.sample_aspect.numerator, 16);
	assert_int_equal(got.sample_aspect.denominator, 9);
	assert_int_equal(got.color_matrix, VSHM_COLOR_MATRIX_BT2020);
	assert_int_equal(vshm_reader_release(reader), 1);

	publish(writer, VSHM_FORMAT_I444, 2, half_an_aspect);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.format, VSHM_FORMAT_I444);
	assert_int_equal(got.sample_aspect.numerator, 0);
	assert_int_equal(got.sample_aspect.denominator, 0);
	assert_int_equal(got.color_transfer, VSHM_COLOR_TRANSFER_UNSPECIFIED);
	assert_int_equal(vshm_reader_release(reader), 1);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);

	assert_string_equal(vshm_color_transfer_name(VSHM_COLOR_TRANSFER_HLG), "hlg");
	assert_string_equal(vshm_color_primaries_name(VSHM_COLOR_PRIMARIES_BT2020), "bt2020");
	assert_null(vshm_color_transfer_name(200));
}

/* What a layout 2.0 reader takes from a frame: the fields 2.0 defines, at their offsets. */
struct frame_2_0 {
	uint32_t format, width, height, plane_count;
	uint32_t stride[4];
	uint64_t plane_offset[4], plane_size[4];
	uint64_t frame_number, capture_ns, publish_ns;
	uint32_t flags;
	uint8_t color_matrix, color_range;
};

static uint32_t u32_at(const uint8_t *bytes, size_t offset)
{
	return (uint32_t)bytes[offset] | (uint32_t)bytes[offset + 1] << 8 |
	       (uint32_t)bytes[offset + 2] << 16 | (uint32_t)bytes[offset + 3] << 24;
}

static uint64_t u64_at(const uint8_t *bytes, size_t offset)
{
	return (uint64_t)u32_at(bytes, offset) | (uint64_t)u32_at(bytes, offset + 4) << 32;
}

/* The codes docs/protocol.md section 4.1 listed in layout 2.0. */
static bool known_in_2_0(uint32_t format)
{
	static const char codes[][5] = { "NV12", "YU12", "YUYV", "UYVY", "RGB3",
		                         "BGR3", "RGBA", "BGRA", "XR24", "GREY" };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (format == VSHM_FOURCC(codes[i][0], codes[i][1], codes[i][2], codes[i][3]))
			return true;
	return false;
}

/*
 * Acquire as a 2.0 reader does it (docs/protocol.md 2.0, sections 3 and 7.2), on one
 * thread with the writer idle: major 2, the latest slot, its even count, the 128 bytes
 * of metadata, the count unchanged, the format known. Returns 0, or -EBADMSG for a
 * frame it drops.
 */
static int acquire_as_2_0(const uint8_t *segment, struct frame_2_0 *frame)
{
	const struct vshm_shm_header *header = (const struct vshm_shm_header *)segment;
	assert_int_equal(u32_at(segment, 0), VSHM_MAGIC);
	assert_int_equal(segment[4] | segment[5] << 8, 2); /* major: 2.0 reads any 2.x */
	uint64_t latest = u64_at(segment, 64);
	uint32_t slot = (uint32_t)(latest & 0xff);
	uint64_t n = (latest >> 8) & ((UINT64_C(1) << 40) - 1);
	assert_true(n > 0 && slot < u32_at(segment, 12));
	const uint8_t *descriptor = segment + u64_at(segment, 40) + 256 * (uint64_t)slot;
	assert_int_equal(u64_at(descriptor, 0), 2 * n);
	uint8_t info[128];
	memcpy(info, descriptor + 8, sizeof(info));
	assert_int_equal(u64_at(descriptor, 0), 2 * n);
	*frame = (struct frame_2_0){
		.format = u32_at(info, 0),
		.width = u32_at(info, 4),
		.height = u32_at(info, 8),
		.plane_count = u32_at(info, 12),
		.frame_number = u64_at(info, 96),
		.capture_ns = u64_at(info, 104),
		.publish_ns = u64_at(info, 112),
		.flags = u32_at(info, 120),
		.color_matrix = info[124],
		.color_range = info[125],
	};
	if (!known_in_2_0(frame->format) || frame->plane_count > 4)
		return -EBADMSG;
	struct vshm_format_layout layout = { .plane_count = frame->plane_count };
	for (uint32_t p = 0; p < frame->plane_count; p++) {
		frame->stride[p] = layout.stride[p] = u32_at(info, 16 + 4 * p);
		frame->plane_offset[p] = layout.offset[p] = u64_at(info, 32 + 8 * p);
		frame->plane_size[p] = layout.size[p] = u64_at(info, 64 + 8 * p);
	}
	if (vshm_format_check_layout(frame->format, frame->width, frame->height, &layout,
	                             header->slot_payload_size) < 0)
		return -EBADMSG;
	return 0;
}

static void a_2_0_reader_reads_2_1_frames(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "layout");
	struct vshm_writer *writer = create_writer(name);
	size_t size;
	uint8_t *segment = map_segment(name, &size);
	assert_true((segment[6] | segment[7] << 8) >= 1); /* this writer follows 2.1 or later */

	unsigned read = 0, dropped = 0;
	for (unsigned i = 0; vshm_format_at(i) != VSHM_FORMAT_INVALID; i++) {
		uint32_t format = vshm_format_at(i);
		publish(writer, format, 100 + i, hdr_anamorphic);
		struct vshm_reader *reader = vshm_reader_attach(name, NULL);
		assert_non_null(reader);
		struct vshm_frame want;
		assert_int_equal(vshm_reader_acquire(reader, &want), 0);
		struct frame_2_0 got;
		int result = acquire_as_2_0(segment, &got);
		if (!known_in_2_0(format)) {
			/* P010, I444: the old reader drops them, as 2.0 says it must. */
			assert_int_equal(result, -EBADMSG);
			dropped++;
		} else {
			assert_int_equal(result, 0);
			assert_int_equal(got.format, want.format);
			assert_int_equal(got.width, want.width);
			assert_int_equal(got.height, want.height);
			assert_int_equal(got.plane_count, want.plane_count);
			for (uint32_t p = 0; p < got.plane_count; p++) {
				assert_int_equal(got.stride[p], want.stride[p]);
				assert_int_equal(got.plane_size[p], want.plane_size[p]);
				assert_ptr_equal(want.plane[0] + got.plane_offset[p],
				                 want.plane[p]);
			}
			assert_int_equal(got.frame_number, 100 + i);
			assert_int_equal(got.capture_ns, want.capture_ns);
			assert_int_equal(got.publish_ns, want.publish_ns);
			assert_int_equal(got.flags, VSHM_FRAME_DISCONTINUITY);
			assert_int_equal(got.color_matrix, VSHM_COLOR_MATRIX_BT2020);
			assert_int_equal(got.color_range, VSHM_COLOR_RANGE_LIMITED);
			read++;
		}
		assert_int_equal(vshm_reader_release(reader), 1);
		vshm_reader_detach(reader);
	}
	print_message("a layout 2.0 reader read %u formats of a 2.1 writer field for field and "
	              "dropped %u\n",
	              read, dropped);
	assert_int_equal(read, 10);
	assert_int_equal(dropped, 2);
	munmap(segment, size);
	vshm_writer_destroy(writer);
}

/* A 2.0 writer left the new bytes zero and said minor 0 in its header. */
static void a_2_0_writers_frames_read_as_unspecified(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "layout");
	struct vshm_writer *writer = create_writer(name);
	size_t size;
	uint8_t *segment = map_segment(name, &size);
	struct vshm_shm_header *header = (struct vshm_shm_header *)segment;
	header->layout_minor = 0;
	publish(writer, VSHM_FORMAT_NV12, 7, hdr_anamorphic);
	uint32_t slot = (uint32_t)(atomic_load(&header->latest) & VSHM_LATEST_SLOT_MASK);
	struct vshm_shm_slot *slots = (struct vshm_shm_slot *)(segment + header->slot_table_offset);
	memset((uint8_t *)&slots[slot].info + 126, 0, sizeof(slots[slot].info) - 126);

	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);
	struct vshm_frame got;
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.frame_number, 7);
	assert_int_equal(got.color_matrix, VSHM_COLOR_MATRIX_BT2020);
	assert_int_equal(got.color_primaries, VSHM_COLOR_PRIMARIES_UNSPECIFIED);
	assert_int_equal(got.color_transfer, VSHM_COLOR_TRANSFER_UNSPECIFIED);
	assert_int_equal(got.sample_aspect.numerator, 0);
	assert_int_equal(got.sample_aspect.denominator, 0);
	assert_int_equal(vshm_reader_release(reader), 1);
	vshm_reader_detach(reader);
	munmap(segment, size);
	vshm_writer_destroy(writer);
}

static char last_warning[512];

static void keep_warning(enum vshm_log_level level, const char *message, void *data)
{
	(void)data;
	if (level <= VSHM_LOG_WARNING)
		snprintf(last_warning, sizeof(last_warning), "%s", message);
}

/*
 * A frame of a format this library does not know, published by hand into the slot after
 * the latest, as a writer of a later minor version would. The reader must drop it
 * (counted invalid, as any bad frame), and its warning must name the format and say
 * what to do, rather than call the metadata broken.
 */
static void drop_unknown_format(uint16_t writer_minor, bool says_newer)
{
	char name[64];
	test_unique_name(name, sizeof(name), "layout");
	struct vshm_writer *writer = create_writer(name);
	size_t size;
	uint8_t *segment = map_segment(name, &size);
	struct vshm_shm_header *header = (struct vshm_shm_header *)segment;
	header->layout_minor = writer_minor;
	publish(writer, VSHM_FORMAT_GRAY8, 1, NULL);
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);

	struct vshm_shm_slot *slots = (struct vshm_shm_slot *)(segment + header->slot_table_offset);
	uint64_t latest = atomic_load(&header->latest);
	uint32_t slot = (uint32_t)(latest & VSHM_LATEST_SLOT_MASK);
	uint64_t next = ((latest >> VSHM_LATEST_SLOT_BITS) & VSHM_LATEST_NUMBER_MASK) + 1;
	uint32_t target = (slot + 1) % header->slot_count;
	slots[target].info = slots[slot].info;
	slots[target].info.format = VSHM_FOURCC('Z', '9', '9', '9');
	atomic_store(&slots[target].sequence, 2 * next);
	atomic_store(&header->latest, next << VSHM_LATEST_SLOT_BITS | target);

	last_warning[0] = '\0';
	vshm_log_set_handler(keep_warning, NULL);
	struct vshm_frame got;
	assert_int_equal(vshm_reader_acquire(reader, &got), -EBADMSG);
	vshm_log_set_handler(NULL, NULL);
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	assert_int_equal(stats.frames_invalid, 1);
	print_message("writer at 2.%u: %s\n", writer_minor, last_warning);
	assert_non_null(strstr(last_warning, "pixel format 'Z999' (0x3939395a)"));
	char versions[96];
	snprintf(versions, sizeof(versions), "(layout %d.%d; the stream's writer follows %d.%u",
	         VSHM_LAYOUT_MAJOR, VSHM_LAYOUT_MINOR, VSHM_LAYOUT_MAJOR, writer_minor);
	assert_non_null(strstr(last_warning, versions));
	assert_true((strstr(last_warning, "a newer libvshm reads it") != NULL) == says_newer);
	vshm_reader_detach(reader);
	munmap(segment, size);
	vshm_writer_destroy(writer);
}

static void unknown_formats_are_dropped_and_named(void **state)
{
	(void)state;
	drop_unknown_format(VSHM_LAYOUT_MINOR + 1, true);
	drop_unknown_format(VSHM_LAYOUT_MINOR, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_fields_travel_with_the_frame),
		cmocka_unit_test(a_2_0_reader_reads_2_1_frames),
		cmocka_unit_test(a_2_0_writers_frames_read_as_unspecified),
		cmocka_unit_test(unknown_formats_are_dropped_and_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
