/*
 * Segments are created 0600 (0660 on request) whatever the umask, and readers refuse
 * segments that another user owns or that everyone may write, unless told otherwise.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-util.h"

static mode_t segment_mode(const char *name)
{
	char path[256];
	test_segment_path(name, path, sizeof(path));
	struct stat status;
	assert_int_equal(stat(path, &status), 0);
	return status.st_mode & 07777;
}

static void segments_are_private_whatever_the_umask(void **state)
{
	(void)state;
	char name[64];
	test_unique_name(name, sizeof(name), "mode");
	mode_t old_umask = umask(0);
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 8, 8, 3);
	assert_int_equal(segment_mode(name), 0600);
	vshm_writer_destroy(writer);

	umask(0077); /* would strip the group bits we ask for */
	struct vshm_writer_options options = { .max_frame_bytes = 64, .group_access = true };
	writer = vshm_writer_create(name, &options);
	assert_non_null(writer);
	assert_int_equal(segment_mode(name), 0660);
	struct vshm_reader *reader = vshm_reader_attach(name, NULL);
	assert_non_null(reader); /* group-writable is the owner's choice, not refused */
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
	umask(old_umask);
}

static void world_writable_segment_is_refused(void **state)
{
	(void)state;
	char name[64], path[256];
	test_unique_name(name, sizeof(name), "world");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 8, 8, 3);
	test_segment_path(name, path, sizeof(path));
	assert_int_equal(chmod(path, 0602), 0);
	errno = 0;
	assert_null(vshm_reader_attach(name, NULL));
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(vshm_error(), "writable by every user"));
	struct vshm_reader_options options = { .allow_world_writable = true };
	struct vshm_reader *reader = vshm_reader_attach(name, &options);
	assert_non_null(reader);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
}

static void segment_of_another_user_is_refused(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* only root can hand a file to another user */
	char name[64], path[256];
	test_unique_name(name, sizeof(name), "owner");
	struct vshm_writer *writer = test_writer_create(name, VSHM_FORMAT_GRAY8, 8, 8, 3);
	test_segment_path(name, path, sizeof(path));
	assert_int_equal(chown(path, 65534, 65534), 0);
	errno = 0;
	assert_null(vshm_reader_attach(name, NULL));
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(vshm_error(), "belongs to uid 65534"));
	struct vshm_reader_options options = { .allow_foreign_owner = true };
	struct vshm_reader *reader = vshm_reader_attach(name, &options);
	assert_non_null(reader);
	vshm_reader_detach(reader);
	vshm_writer_destroy(writer);
	assert_false(test_segment_exists(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(segments_are_private_whatever_the_umask),
		cmocka_unit_test(world_writable_segment_is_refused),
		cmocka_unit_test(segment_of_another_user_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
