/*
 * A fuzz target for everything a reader checks in the bytes it maps: the header
 * (vshm_reader_attach(), vshm_stream_inspect(), the writer's look at a stale segment),
 * the reader table, the slot descriptors and the frame geometry in them (acquire's
 * checks, vshm_format_check_layout()).
 *
 * Each input describes a segment compactly, so that mutations land on fields rather
 * than on the megabytes of pixels around them:
 *
 *   0      options: bit 0 the file has the size the header claims (if that is at most
 *          MAX_FILE_PAGES pages), else the size in bytes 1-2; bit 1 a writer holds the
 *          segment's lock
 *   1      the file size in pages (16 bits, little-endian; at least 1)
 *   3      the header, 320 bytes
 *   835    the reader table's first READER_TABLE_BYTES bytes, where the header's
 *          geometry puts it (at its alignment), else at 4096
 *   1859   slot descriptors, up to 64 of 256 bytes, where the header's geometry puts them;
 *          past the header's slot count, the first slot_count repeat
 *
 * Missing bytes are zeros, and so is the payload. The segment is written to
 * /dev/shm/vshm.fuzz-<pid>, attached to and read as every reader does: acquire, check
 * that every plane lies inside its slot, read every byte of it, release, wait, ask
 * whether the writer lives, reattach; then inspected, and removed as a stale stream.
 * Any plane outside its slot, or any layout that vshm_format_check_layout() accepts
 * and that breaks its promises, aborts.
 *
 * Built two ways: with clang's libFuzzer (scripts/fuzz.sh), and as the program
 * tests/fuzz-reader-replay (FUZZ_REPLAY), which runs the files it is given once each,
 * the committed corpus in the test suite; `--make-corpus DIR` writes seeds made from
 * segments of the real writer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "segment.h"
#include "vshm/format.h"
#include "vshm/reader.h"
#include "vshm/stream.h"
#include "vshm/util.h"
#include "vshm/writer.h"

#define OPTION_CLAIMED_SIZE (1u << 0)
#define OPTION_WRITER_ALIVE (1u << 1)
#define MAX_FILE_PAGES      256
#define HEADER_AT           3
#define HEADER_BYTES        sizeof(struct vshm_shm_header)
#define READER_TABLE_AT     (HEADER_AT + HEADER_BYTES)
#define READER_TABLE_BYTES  (16 * sizeof(struct vshm_shm_reader))
#define SLOTS_AT            (READER_TABLE_AT + READER_TABLE_BYTES)
#define SLOTS_BYTES         (VSHM_SLOTS_MAX * sizeof(struct vshm_shm_slot))
#define INPUT_MAX           (SLOTS_AT + SLOTS_BYTES)

#define PAGE VSHM_ALIGNMENT_MIN

_Static_assert(READER_TABLE_AT == 835 && SLOTS_AT == 1859, "the input layout above");

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char name[VSHM_NAME_MAX + 1];
static char shm_name[VSHM_SHM_NAME_MAX];
static char path[128];
static unsigned long frames_checked; /* for the replay's report: how deep the inputs go */

static void quiet(enum vshm_log_level level, const char *message, void *context)
{
	(void)level, (void)message, (void)context;
}

static void setup(void)
{
	if (name[0])
		return;
	snprintf(name, sizeof(name), "fuzz-%d", (int)getpid());
	vshm_shm_name(name, shm_name);
	snprintf(path, sizeof(path), "%s%s", VSHM_SHM_DIR, shm_name);
	/* Rejections are the point; a warning per input would only slow the run. */
	vshm_log_set_handler(quiet, NULL);
}

static void copy_into(int fd, uint64_t file_size, uint64_t at, const uint8_t *from, size_t length)
{
	if (at >= file_size || length == 0)
		return;
	if (length > file_size - at)
		length = (size_t)(file_size - at);
	if (pwrite(fd, from, length, (off_t)at) != (ssize_t)length)
		abort();
}

/* Checks what vshm_format_check_layout() promises of a layout it accepts. */
static void check_layout_promises(const uint8_t *bytes, uint64_t capacity)
{
	struct vshm_shm_frame_info info;
	memcpy(&info, bytes, sizeof(info));
	struct vshm_format_layout layout = { .plane_count = info.plane_count };
	for (uint32_t i = 0; i < VSHM_PLANES_MAX; i++) {
		layout.stride[i] = info.stride[i];
		layout.offset[i] = info.plane_offset[i];
		layout.size[i] = info.plane_size[i];
	}
	if (vshm_format_check_layout(info.format, info.width, info.height, &layout, capacity) != 0)
		return;
	if (layout.plane_count != vshm_format_plane_count(info.format) ||
	    layout.plane_count > VSHM_PLANES_MAX)
		abort();
	for (uint32_t i = 0; i < layout.plane_count; i++) {
		uint64_t row_bytes;
		uint32_t rows;
		if (vshm_format_plane_extent(info.format, i, info.width, info.height, &row_bytes,
		                             &rows) != 0)
			abort();
		/* Every row a reader walks lies in the plane, and the plane in the slot. */
		if (layout.stride[i] < row_bytes ||
		    (uint64_t)(rows - 1) * layout.stride[i] + row_bytes > layout.size[i] ||
		    layout.offset[i] > capacity || layout.size[i] > capacity - layout.offset[i])
			abort();
		for (uint32_t j = 0; j < i; j++) {
			if (layout.offset[i] < layout.offset[j] + layout.size[j] &&
			    layout.offset[j] < layout.offset[i] + layout.size[i])
				abort();
		}
	}
}

/* The start of the reader's read-only mapping of our file (slot descriptors onwards). */
static uintptr_t slots_mapping(uint64_t slot_table_offset)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[1024];
	uintptr_t found = 0;
	while (maps && fgets(line, sizeof(line), maps)) {
		unsigned long start, offset;
		char file[512] = "";
		if (sscanf(line, "%lx-%*x %*s %lx %*s %*s %511s", &start, &offset, file) == 3 &&
		    strcmp(file, path) == 0 && offset == slot_table_offset)
			found = start;
	}
	if (maps)
		fclose(maps);
	return found;
}

/* Takes the latest frame as a reader does; aborts if a plane lies outside its slot. */
static void take_frame(struct vshm_reader *reader, const struct vshm_segment_geometry *geometry)
{
	struct vshm_frame frame;
	if (vshm_reader_acquire(reader, &frame) != 0)
		return;
	uintptr_t mapping = slots_mapping(geometry->slot_table_offset);
	if (!mapping || frame.slot >= geometry->slot_count || frame.plane_count > VSHM_PLANES_MAX)
		abort();
	uintptr_t slot = mapping + (geometry->payload_offset - geometry->slot_table_offset) +
	                 frame.slot * geometry->slot_payload_size;
	uint64_t sum = 0;
	for (uint32_t p = 0; p < frame.plane_count; p++) {
		uintptr_t plane = (uintptr_t)frame.plane[p];
		if (plane < slot || plane - slot > geometry->slot_payload_size ||
		    frame.plane_size[p] > geometry->slot_payload_size - (plane - slot))
			abort();
		for (uint64_t i = 0; i < frame.plane_size[p]; i++)
			sum += frame.plane[p][i];
	}
	__asm__ volatile("" : : "r"(sum)); /* the reads must happen */
	frames_checked++;
	vshm_reader_release(reader);
}

static void read_as_a_reader(const struct vshm_segment_geometry *geometry)
{
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	if (!reader)
		return;
	take_frame(reader, geometry);
	vshm_reader_wait(reader, 0);
	take_frame(reader, geometry); /* the second time with the geometry already checked */
	vshm_reader_writer_state(reader);
	vshm_reader_reattach(reader);
	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	vshm_reader_detach(reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	uint8_t input[INPUT_MAX];
	memset(input, 0, sizeof(input));
	memcpy(input, data, size < sizeof(input) ? size : sizeof(input));
	struct vshm_shm_header header;
	memcpy(&header, input + HEADER_AT, sizeof(header));

	uint64_t pages = (uint64_t)input[1] | (uint64_t)input[2] << 8;
	uint64_t file_size = (pages % MAX_FILE_PAGES + 1) * PAGE;
	if ((input[0] & OPTION_CLAIMED_SIZE) && header.segment_size >= PAGE &&
	    header.segment_size <= MAX_FILE_PAGES * PAGE)
		file_size = header.segment_size;
	/* Slot descriptors go where the header's counts put them, as a writer would. */
	struct vshm_segment_geometry geometry = { 0 };
	/* Otherwise where the header says, if that leaves the header and the first reader
	 * entries alone. */
	uint64_t table_at = PAGE, slots_at = header.slot_table_offset;
	if (slots_at < PAGE + READER_TABLE_BYTES)
		slots_at = UINT64_MAX;
	if (vshm_segment_geometry(header.slot_count, header.reader_capacity,
	                          header.slot_payload_size, header.payload_alignment,
	                          &geometry) == 0) {
		table_at = geometry.reader_table_offset;
		slots_at = geometry.slot_table_offset;
	}

	shm_unlink(shm_name);
	int fd = shm_open(shm_name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)file_size) < 0)
		abort();
	copy_into(fd, file_size, 0, input + HEADER_AT, HEADER_BYTES);
	copy_into(fd, file_size, table_at, input + READER_TABLE_AT, READER_TABLE_BYTES);
	/* Past the slot count, the descriptors repeat, up to the table's end: a slot index out
	 * of range then finds a stable frame there, and only the bound can refuse it. */
	uint8_t *descriptors = input + SLOTS_AT;
	uint32_t count = header.slot_count;
	if (count >= VSHM_SLOTS_MIN && count < VSHM_SLOTS_MAX) {
		size_t used = count * sizeof(struct vshm_shm_slot);
		for (size_t at = used; at < SLOTS_BYTES; at++)
			descriptors[at] = descriptors[at % used];
	}
	copy_into(fd, file_size, slots_at, descriptors, SLOTS_BYTES);
	/* A writer's lock, from another open file description, as a live writer holds it. */
	int writer_fd = -1;
	if (input[0] & OPTION_WRITER_ALIVE) {
		writer_fd = open(path, O_RDWR | O_CLOEXEC);
		if (writer_fd < 0 || vshm_segment_lock(writer_fd, VSHM_WRITER_LOCK_OFFSET) < 0)
			abort();
	}

	check_layout_promises(input + SLOTS_AT + offsetof(struct vshm_shm_slot, info),
	                      header.slot_payload_size);
	/* geometry is what a reader that attached has checked; only then is it read. */
	read_as_a_reader(&geometry);
	struct vshm_stream_info info;
	vshm_stream_inspect(name, &info);
	/* The writer's look at a segment in its way (also what vshm-ls --clean does). A
	 * header without magic is one being created, which it gives 200 ms to finish:
	 * too slow for a fuzzer, and nothing is read from it. */
	if (header.magic != 0)
		vshm_stream_remove_stale(name);

	if (writer_fd >= 0)
		close(writer_fd);
	close(fd);
	shm_unlink(shm_name);
	return 0;
}

#ifdef FUZZ_REPLAY

/* Writes the compact form of the segment of a real writer's stream. */
static int write_seed(const char *directory, const char *label, uint32_t format, uint32_t width,
                      uint32_t height, uint32_t slots, uint32_t capacity, bool with_reader)
{
	char stream[VSHM_NAME_MAX + 1];
	snprintf(stream, sizeof(stream), "fuzz-seed-%d", (int)getpid());
	struct vshm_writer_options options = { .slot_count = slots,
		                               .reader_capacity = capacity,
		                               .max_format = format,
		                               .max_width = width,
		                               .max_height = height,
		                               .frame_interval_ns = 33333333 };
	struct vshm_writer *writer = vshm_writer_create(stream, &options);
	if (!writer)
		return 1;
	struct vshm_reader *reader = with_reader ? vshm_reader_attach(stream, NULL) : NULL;
	for (uint64_t n = 0; n < slots + 1; n++) {
		struct vshm_frame frame;
		if (vshm_writer_begin(writer, format, width, height, &frame) < 0)
			return 1;
		frame.frame_number = n;
		vshm_writer_publish(writer, &frame);
	}
	struct vshm_frame held;
	if (reader && vshm_reader_acquire(reader, &held) != 0)
		return 1;

	char file[128];
	snprintf(file, sizeof(file), "%s/vshm.%s", VSHM_SHM_DIR, stream);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct vshm_shm_header header;
	if (fd < 0 || pread(fd, &header, sizeof(header), 0) != (ssize_t)sizeof(header))
		return 1;
	uint8_t seed[INPUT_MAX] = { OPTION_CLAIMED_SIZE | (with_reader ? OPTION_WRITER_ALIVE : 0) };
	uint64_t pages = header.segment_size / PAGE;
	seed[1] = (uint8_t)pages;
	seed[2] = (uint8_t)(pages >> 8);
	memcpy(seed + HEADER_AT, &header, sizeof(header));
	size_t slot_bytes = slots * sizeof(struct vshm_shm_slot);
	if (pread(fd, seed + READER_TABLE_AT, READER_TABLE_BYTES,
	          (off_t)header.reader_table_offset) != (ssize_t)READER_TABLE_BYTES ||
	    pread(fd, seed + SLOTS_AT, slot_bytes, (off_t)header.slot_table_offset) !=
	        (ssize_t)slot_bytes)
		return 1;
	close(fd);
	if (reader)
		vshm_reader_release(reader);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);

	char out[512];
	snprintf(out, sizeof(out), "%s/%s", directory, label);
	FILE *seed_file = fopen(out, "wb");
	if (!seed_file ||
	    fwrite(seed, 1, SLOTS_AT + slot_bytes, seed_file) != SLOTS_AT + slot_bytes)
		return 1;
	fclose(seed_file);
	printf("%s\n", out);
	return 0;
}

static int make_corpus(const char *directory)
{
	int failed = 0;
	failed |= write_seed(directory, "i420-320x240-3", VSHM_FORMAT_I420, 320, 240, 3, 4, false);
	failed |=
	    write_seed(directory, "nv12-64x48-4-reader", VSHM_FORMAT_NV12, 64, 48, 4, 16, true);
	failed |= write_seed(directory, "yuyv-33x17-3", VSHM_FORMAT_YUYV, 33, 17, 3, 1, false);
	failed |= write_seed(directory, "rgba-16x16-8", VSHM_FORMAT_RGBA, 16, 16, 8, 64, false);
	failed |= write_seed(directory, "rgb24-1x1-3", VSHM_FORMAT_RGB24, 1, 1, 3, 2, true);
	failed |= write_seed(directory, "gray8-4096x1-3", VSHM_FORMAT_GRAY8, 4096, 1, 3, 8, false);
	failed |= write_seed(directory, "xrgb8888-7x5-5", VSHM_FORMAT_XRGB8888, 7, 5, 5, 3, true);
	return failed;
}

static int replay(const char *file);

/* Replays every file of a directory, in name order. */
static int replay_directory(const char *directory)
{
	struct dirent **entries;
	int count = scandir(directory, &entries, NULL, alphasort);
	if (count < 0)
		return -1;
	int replayed = 0;
	for (int i = 0; i < count; i++) {
		char file[1024];
		snprintf(file, sizeof(file), "%s/%s", directory, entries[i]->d_name);
		struct stat status;
		if (entries[i]->d_name[0] != '.' && stat(file, &status) == 0 &&
		    S_ISREG(status.st_mode) && replay(file) == 0)
			replayed++;
		free(entries[i]);
	}
	free(entries);
	return replayed;
}

static int replay(const char *file)
{
	struct stat status;
	if (stat(file, &status) == 0 && S_ISDIR(status.st_mode)) {
		int replayed = replay_directory(file);
		printf("fuzz-reader: %d inputs of %s replayed, %lu frames taken and checked\n",
		       replayed, file, frames_checked);
		return replayed > 0 ? 0 : 1;
	}
	FILE *in = fopen(file, "rb");
	if (!in) {
		fprintf(stderr, "fuzz-reader: cannot read %s\n", file);
		return 1;
	}
	static uint8_t data[INPUT_MAX + 1];
	size_t size = fread(data, 1, sizeof(data), in);
	fclose(in);
	LLVMFuzzerTestOneInput(data, size);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--make-corpus") == 0)
		return make_corpus(argv[2]);
	if (argc < 2) {
		fprintf(stderr, "usage: fuzz-reader-replay FILE... | --make-corpus DIR\n");
		return 2;
	}
	int failed = 0;
	for (int i = 1; i < argc; i++)
		failed |= replay(argv[i]);
	return failed;
}

#endif
