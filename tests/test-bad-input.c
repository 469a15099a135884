/*
 * Bad input never crashes, never creates anything, and always says what is wrong:
 * bad names and options, a second writer, foreign and damaged segments, and bad
 * values appearing in a live segment while streaming.
 */
#include <dirent.h>
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

static int count_segments(void)
{
	DIR *directory = opendir(VSHM_SHM_DIR);
	assert_non_null(directory);
	int count = 0;
	struct dirent *entry;
	while ((entry = readdir(directory)))
		count += strncmp(entry->d_name, VSHM_SHM_PREFIX, strlen(VSHM_SHM_PREFIX)) == 0;
	closedir(directory);
	return count;
}

static void assert_error_mentions(const char *needle)
{
	if (!strstr(vshm_error(), needle))
		fail_msg("error \"%s\" does not mention \"%s\"", vshm_error(), needle);
}

static void bad_names_are_refused_with_the_rule_and_create_nothing(void **state)
{
	(void)state;
	char long_name[VSHM_NAME_MAX + 2];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	const struct {
		const char *name;
		const char *message;
	} cases[] = {
		{ "", "empty" },
		{ long_name, "longer than 64" },
		{ "a/b", "'/'" },
		{ "/etc", "'/'" },
		{ "..", "'.'" },
		{ "a..b", "'..'" },
		{ ".hidden", "starts with '.'" },
		{ "with space", "' '" },
		{ "tab\there", "control character 0x09" },
		{ "bell\x07", "control character 0x07" },
		{ "new\nline", "control character 0x0a" },
		{ "caf\xc3\xa9", "byte 0xc3, not ASCII: only [A-Za-z0-9._-]" },
		{ "star*", "'*'" },
		/* The name is quoted in the message only once it is known to be printable:
		 * neither a line break nor an escape sequence reaches the one line printed. */
		{ "with space\nnext line", "control character 0x0a" },
		{ "star*\x1b[2J", "control character 0x1b" },
		{ "star*\xff", "byte 0xff" },
	};
	int before = count_segments();
	struct vshm_writer_options options = { .max_frame_bytes = 4096 };
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		assert_null(vshm_writer_create(cases[i].name, &options));
		assert_int_equal(errno, EINVAL);
		assert_error_mentions(cases[i].message);
		for (const unsigned char *c = (const unsigned char *)vshm_error(); *c; c++)
			assert_true(*c >= 0x20 && *c < 0x7f);
		errno = 0;
		assert_null(vshm_reader_attach(cases[i].name, NULL));
		assert_int_equal(errno, EINVAL);
		assert_int_equal(vshm_name_check(cases[i].name), -EINVAL);
	}
	assert_null(vshm_writer_create(NULL, &options));
	assert_int_equal(count_segments(), before);

	/* The longest allowed name works. */
	char longest[VSHM_NAME_MAX + 1];
	memset(longest, 'z', VSHM_NAME_MAX);
	longest[VSHM_NAME_MAX] = '\0';
	test_segment_remove(longest);
	struct vshm_writer *writer = vshm_writer_create(longest, &options);
	assert_non_null(writer);
	struct vshm_reader *reader = vshm_reader_attach(longest, NULL);
	assert_non_null(reader);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
	assert_int_equal(vshm_name_check("cam0.left_raw-1"), 0);
}

static void bad_writer_options_are_refused_and_create_nothing(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "options");
	const struct vshm_writer_options cases[] = {
		{ .slot_count = 2, .max_frame_bytes = 4096 },
		{ .slot_count = 65, .max_frame_bytes = 4096 },
		{ .reader_capacity = 1025, .max_frame_bytes = 4096 },
		{ .max_frame_bytes = 0 },
		{ .max_frame_bytes = UINT64_MAX },
		{ .max_format = VSHM_FORMAT_NV12, .max_width = 20000, .max_height = 20000 },
		{ .max_format = 0x41414141, .max_width = 64, .max_height = 64 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		assert_null(vshm_writer_create(name, &cases[i]));
		assert_int_equal(errno, EINVAL);
		assert_true(strlen(vshm_error()) > 0);
		assert_false(test_segment_exists(name));
	}
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 8, 8, 3);
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, 0x41414141, 8, 8, &frame), -EINVAL);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 0, 8, &frame), -EINVAL);
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_GRAY8, 8, 99999, &frame), -EINVAL);
	vshm_writer_destroy(writer);
	vshm_writer_destroy(NULL);
	vshm_reader_detach(NULL);
}

static void a_second_writer_is_refused_naming_the_first(void **state)
{
	(void)state;
	char name[64], pid[32];
	test_unique_name(name, sizeof(name), "second");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 8, 8, 3);
	struct vshm_writer_options options = { .max_frame_bytes = 64 };
	errno = 0;
	assert_null(vshm_writer_create(name, &options));
	assert_int_equal(errno, EBUSY);
	assert_error_mentions("live writer");
	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	assert_error_mentions(pid);
	/* The refused attempt did not disturb the live stream. */
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);
	assert_int_equal(vshm_reader_writer_state(reader), VSHM_WRITER_ALIVE);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

static void missing_stream_is_enoent(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "missing");
	errno = 0;
	assert_null(vshm_reader_attach(name, NULL));
	assert_int_equal(errno, ENOENT);
	assert_error_mentions("is its writer running");
}

/* Writes a file of the given bytes as if it were a segment. */
static void write_foreign(const char *name, const void *bytes, size_t size)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, size), (ssize_t)size);
	close(fd);
}

static void foreign_files_are_refused_by_readers_and_left_alone_by_writers(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "foreign");
	static uint8_t noise[65536];
	uint64_t seed = 42;
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)test_random(&seed);

	write_foreign(name, noise, 0);
	errno = 0;
	assert_null(vshm_reader_attach(name, NULL));
	assert_int_equal(errno, ENODATA); /* a leftover: the next writer replaces it */
	assert_error_mentions("too small");

	write_foreign(name, noise, sizeof(noise));
	errno = 0;
	assert_null(vshm_reader_attach(name, NULL));
	assert_int_equal(errno, EPROTO);
	assert_error_mentions("not a vshm stream");
	/* A writer must not delete a file that is not ours. */
	struct vshm_writer_options options = { .max_frame_bytes = 4096 };
	errno = 0;
	assert_null(vshm_writer_create(name, &options));
	assert_int_equal(errno, EEXIST);
	assert_error_mentions("not a vshm stream");
	assert_true(test_segment_exists(name));

	/* An all-zero file is an unfinished segment whose creator died: replaced. */
	memset(noise, 0, sizeof(noise));
	write_foreign(name, noise, sizeof(noise));
	errno = 0;
	assert_null(vshm_reader_attach(name, NULL));
	assert_int_equal(errno, ENODATA);
	assert_error_mentions("never finished");
	struct vshm_writer *writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	vshm_writer_destroy(writer);
	assert_false(test_segment_exists(name));
}

static void attach_fails_with(const char *name, int error_number, const char *message)
{
	errno = 0;
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	if (reader)
		fail_msg("attach succeeded, expected: %s", message);
	assert_int_equal(errno, error_number);
	assert_error_mentions(message);
}

static void damaged_headers_are_refused_naming_the_problem(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "damaged");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_NV12, 320, 240, 3);
	size_t size;
	uint8_t *base = test_segment_map(name, &size);
	struct vshm_shm_header *header = (struct vshm_shm_header *)base;
	struct vshm_shm_header saved;
	memcpy(&saved, header, sizeof(saved));
#define RESTORE() memcpy(header, &saved, sizeof(saved))

	header->magic = 0x464c457f; /* an ELF file */
	attach_fails_with(name, EPROTO, "not a vshm stream (magic 0x464c457f");
	RESTORE();
	header->layout_major = VSHM_LAYOUT_MAJOR + 1;
	header->layout_minor = 0;
	attach_fails_with(name, EPROTO, "layout version 3.0");
	RESTORE();
	header->layout_major = 1; /* a 1.x writer: its latest word means something else */
	header->layout_minor = 0;
	attach_fails_with(name, EPROTO, "layout version 1.0");
	RESTORE();
	header->header_size = 12;
	attach_fails_with(name, EPROTO, "header size");
	RESTORE();
	header->slot_count = 0;
	attach_fails_with(name, EPROTO, "0 slots");
	RESTORE();
	header->slot_count = 100000;
	attach_fails_with(name, EPROTO, "100000 slots");
	RESTORE();
	header->reader_capacity = 0;
	attach_fails_with(name, EPROTO, "room for 0 readers");
	RESTORE();
	header->segment_size = saved.segment_size * 2;
	attach_fails_with(name, EPROTO, "claims");
	RESTORE();
	header->slot_payload_size = UINT64_MAX - 4095; /* page multiple that overflows */
	attach_fails_with(name, EPROTO, "do not fit");
	RESTORE();
	header->slot_payload_size = saved.slot_payload_size + 4096; /* past the file end */
	attach_fails_with(name, EPROTO, "do not fit");
	RESTORE();
	header->payload_offset = 0; /* payload over the header */
	attach_fails_with(name, EPROTO, "do not fit");
	RESTORE();
	header->slot_table_offset += 64;
	attach_fails_with(name, EPROTO, "do not fit");
	RESTORE();

	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);
	vshm_reader_detach(reader);
	munmap(base, size);
	vshm_writer_destroy(writer);
#undef RESTORE
}

static void truncated_segment_is_refused(void **state)
{
	(void)state;
	char name[64], path[256];
	test_unique_name(name, sizeof(name), "truncated");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_NV12, 320, 240, 3);
	test_segment_path(name, path, sizeof(path));
	struct stat status;
	assert_int_equal(stat(path, &status), 0);
	assert_int_equal(truncate(path, status.st_size - 4096), 0);
	attach_fails_with(name, EPROTO, "truncated");
	assert_int_equal(truncate(path, 100), 0);
	attach_fails_with(name, EAGAIN, "still being created"); /* writer alive, header cut */
	vshm_writer_destroy(writer);
}

static unsigned warnings;

static void count_warning(enum vshm_log_level level, const char *message, void *data)
{
	(void)message;
	(void)data;
	warnings += level == VSHM_LOG_WARNING;
}

/* Values that change under a reader while streaming make that frame invalid, said in
 * a warning at most once a second however many frames a broken writer sends. */
static void bad_values_while_streaming_invalidate_the_frame_only(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "streaming");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_NV12, 320, 240, 3);
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader);
	size_t size;
	uint8_t *base = test_segment_map(name, &size);
	struct vshm_shm_header *header = (struct vshm_shm_header *)base;
	struct vshm_frame frame, got;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_NV12, 320, 240, &frame), 0);
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	struct vshm_shm_slot *slot =
	    (struct vshm_shm_slot *)(base + header->slot_table_offset) + frame.slot;
	struct vshm_shm_frame_info saved = slot->info;

	struct vshm_shm_frame_info *info = &slot->info;
	int invalid = 0;
	warnings = 0;
	vshm_log_set_handler(count_warning, NULL);
	uint64_t start = vshm_now_ns();
#define EXPECT_INVALID(statement)                                                                  \
	do {                                                                                       \
		statement;                                                                         \
		assert_int_equal(vshm_reader_acquire(reader, &got), -EBADMSG);                     \
		invalid++;                                                                         \
		slot->info = saved;                                                                \
	} while (0)
	EXPECT_INVALID(info->plane_offset[1] = header->slot_payload_size);
	EXPECT_INVALID(info->plane_offset[1] = UINT64_MAX - 8);
	EXPECT_INVALID(info->plane_size[0] = UINT64_MAX);
	EXPECT_INVALID(info->stride[0] = 3);
	EXPECT_INVALID(info->width = 0);
	EXPECT_INVALID(info->height = 70000);
	EXPECT_INVALID(info->width = 4000); /* rows no longer fit the strides */
	EXPECT_INVALID(info->format = 0x21212121);
	EXPECT_INVALID(info->plane_count = 9);
	EXPECT_INVALID(info->plane_count = 1);
	EXPECT_INVALID(info->plane_offset[0] = info->plane_offset[1]);
#undef EXPECT_INVALID
	uint64_t latest = atomic_load(&header->latest);
	atomic_store(&header->latest, (latest & ~VSHM_LATEST_SLOT_MASK) | 200);
	assert_int_equal(vshm_reader_acquire(reader, &got), -EBADMSG);
	invalid++;
	atomic_store(&header->latest, latest);

	/* A bound on a count, not a timing: one warning, and one more for each second the
	 * rejections took (they take a millisecond). */
	uint64_t seconds = (vshm_now_ns() - start) / 1000000000u;
	vshm_log_set_handler(NULL, NULL);
	print_message("%d invalid frames in %llu s: %u warnings\n", invalid,
	              (unsigned long long)seconds, warnings);
	assert_true(warnings >= 1 && warnings <= 1 + seconds + 1);

	struct vshm_reader_stats stats;
	vshm_reader_get_stats(reader, &stats);
	assert_int_equal(stats.frames_invalid, invalid);
	assert_int_equal(stats.frames_acquired, 0);
	/* Restored, the same frame is fine: nothing was left broken. */
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(vshm_reader_release(reader), 1);
	/* The next frame is unaffected. */
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_NV12, 320, 240, &frame), 0);
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
	assert_int_equal(vshm_reader_acquire(reader, &got), 0);
	assert_int_equal(got.sequence, 2);
	assert_int_equal(vshm_reader_release(reader), 1);
	munmap(base, size);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

int main(void)
{
	vshm_log_set_handler(NULL, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_names_are_refused_with_the_rule_and_create_nothing),
		cmocka_unit_test(bad_writer_options_are_refused_and_create_nothing),
		cmocka_unit_test(a_second_writer_is_refused_naming_the_first),
		cmocka_unit_test(missing_stream_is_enoent),
		cmocka_unit_test(foreign_files_are_refused_by_readers_and_left_alone_by_writers),
		cmocka_unit_test(damaged_headers_are_refused_naming_the_problem),
		cmocka_unit_test(truncated_segment_is_refused),
		cmocka_unit_test(bad_values_while_streaming_invalidate_the_frame_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
