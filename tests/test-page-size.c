/*
 * Segments on kernels whose pages are larger than 4 KiB (16 or 64 KiB, common on
 * AArch64). This machine's pages are 4 KiB, so the test plays such a kernel: it is
 * linked with -Wl,--wrap=sysconf,--wrap=mmap, so every call libvshm makes reports the
 * simulated page size and refuses, as the kernel would, to map at a file offset that is
 * not a multiple of it. A layout that put a region at a 4 KiB offset would fail here
 * exactly as it fails on a 64 KiB kernel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "layout.h"
#include "test-util.h"

/* The page size the wrapped calls report; 0 means the machine's own. */
static long simulated_page_size;
/* How many mmap() calls the wrapper refused: none may be, when the layout is right. */
static unsigned refused_mappings;

long __real_sysconf(int name);
void *__real_mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset);
long __wrap_sysconf(int name);
void *__wrap_mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset);

long __wrap_sysconf(int name)
{
	if (name == _SC_PAGESIZE && simulated_page_size)
		return simulated_page_size;
	return __real_sysconf(name);
}

void *__wrap_mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset)
{
	if (simulated_page_size && offset % simulated_page_size != 0) {
		refused_mappings++;
		errno = EINVAL;
		return MAP_FAILED;
	}
	return __real_mmap(address, length, protection, flags, fd, offset);
}

static int use_page_size(void **state)
{
	simulated_page_size = (long)(intptr_t)*state;
	refused_mappings = 0;
	return 0;
}

static int use_machine_page_size(void **state)
{
	(void)state;
	simulated_page_size = 0;
	return 0;
}

/* The header fields that place the regions, read from the file itself. */
static void read_header(const char *name, struct vshm_shm_header *header)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, header, sizeof(*header), 0), (ssize_t)sizeof(*header));
	close(fd);
}

static void publish_numbered(struct vshm_writer *writer, uint64_t n)
{
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 320, 240, &frame), 0);
	for (uint32_t row = 0; row < 240; row++)
		memset(frame.plane[0] + (size_t)row * frame.stride[0], (int)(n + row) & 0xff, 320);
	frame.frame_number = n;
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
}

static void check_numbered(struct vshm_reader *reader, uint64_t n)
{
	struct vshm_frame frame;
	assert_int_equal(vshm_reader_wait(reader, 1000), 0);
	assert_int_equal(vshm_reader_acquire(reader, &frame), 0);
	assert_int_equal(frame.frame_number, n);
	for (uint32_t row = 0; row < 240; row++)
		for (uint32_t column = 0; column < 320; column++)
			assert_int_equal(frame.plane[0][(size_t)row * frame.stride[0] + column],
			                 (n + row) & 0xff);
	assert_int_equal(vshm_reader_release(reader), 1);
}

/* Writes frames through a writer made with the given alignment (0: the default) and
 * reads them back; the regions must sit at multiples of expected_alignment. */
static void round_trip(uint32_t alignment, uint32_t expected_alignment)
{
	char name[64];
	test_unique_name(name, sizeof(name), "page");
	struct vshm_writer_options options = {
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = 320,
		.max_height = 240,
		.alignment = alignment,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	if (!writer)
		fail_msg("create with alignment %u: %s", alignment, vshm_error());

	struct vshm_shm_header header;
	read_header(name, &header);
	assert_int_equal(header.payload_alignment, expected_alignment);
	assert_int_equal(header.reader_table_offset % expected_alignment, 0);
	assert_int_equal(header.slot_table_offset % expected_alignment, 0);
	assert_int_equal(header.payload_offset % expected_alignment, 0);
	assert_int_equal(header.slot_payload_size % expected_alignment, 0);

	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	if (!reader)
		fail_msg("attach with alignment %u: %s", expected_alignment, vshm_error());
	for (uint64_t n = 1; n <= 5; n++) {
		publish_numbered(writer, n);
		check_numbered(reader, n);
	}
	assert_int_equal(refused_mappings, 0);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
	assert_false(test_segment_exists(name));
}

/* On a 64 KiB (or 16 KiB) kernel, a default writer aligns to the page and readers map. */
static void the_default_alignment_follows_the_page_size(void **state)
{
	uint32_t page = (uint32_t)(intptr_t)*state;
	round_trip(0, page);
}

/* A 64 KiB alignment forced on a 4 KiB kernel works as well. */
static void a_forced_64k_alignment_round_trips(void **state)
{
	(void)state;
	round_trip(65536, 65536);
}

/* A segment aligned below the page size cannot be mapped; the reader says why, rather
 * than failing in mmap(). */
static void a_segment_aligned_below_the_page_size_is_refused_by_name(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "page-small");
	struct vshm_writer_options options = {
		.max_format = VSHM_FORMAT_GRAY8,
		.max_width = 320,
		.max_height = 240,
		.alignment = 4096,
	};
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	publish_numbered(writer, 1);

	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_null(reader);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(vshm_error(), "4096"));
	assert_non_null(strstr(vshm_error(), "65536"));
	assert_non_null(strstr(vshm_error(), name));
	vshm_writer_destroy(writer);
	assert_false(test_segment_exists(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(
		    the_default_alignment_follows_the_page_size, use_page_size,
		    use_machine_page_size, (void *)(intptr_t)65536),
		cmocka_unit_test_prestate_setup_teardown(
		    the_default_alignment_follows_the_page_size, use_page_size,
		    use_machine_page_size, (void *)(intptr_t)16384),
		cmocka_unit_test_prestate_setup_teardown(a_forced_64k_alignment_round_trips,
		                                         use_page_size, use_machine_page_size,
		                                         (void *)(intptr_t)4096),
		cmocka_unit_test_prestate_setup_teardown(
		    a_segment_aligned_below_the_page_size_is_refused_by_name, use_page_size,
		    use_machine_page_size, (void *)(intptr_t)65536),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
