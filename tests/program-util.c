#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "program-util.h"
#include "test-util.h"

const char *program_path(const char *variable)
{
	const char *path = getenv(variable);
	if (!path || !*path)
		fail_msg("%s is not set: run this test through meson test", variable);
	return path;
}

static void redirect(int target, const char *path)
{
	int fd = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, target);
		close(fd);
	}
}

pid_t program_start(char *const argv[], const char *output_path, const char *error_path)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		redirect(STDOUT_FILENO, output_path);
		redirect(STDERR_FILENO, error_path);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int program_run(char *const argv[], int timeout_ms, char *error_text, size_t error_size)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/stderr-%d", program_temporary_directory(), (int)getpid());
	pid_t pid = program_start(argv, NULL, path);
	int status = test_wait(pid, timeout_ms);
	if (error_text && error_size) {
		error_text[0] = '\0';
		FILE *file = fopen(path, "r");
		if (file) {
			size_t length = fread(error_text, 1, error_size - 1, file);
			error_text[length] = '\0';
			fclose(file);
		}
	}
	unlink(path);
	return status;
}

struct vshm_reader *program_attach(const char *name, int timeout_ms)
{
	uint64_t deadline = vshm_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		struct vshm_reader *reader = vshm_reader_attach(name, NULL);
		if (reader || vshm_now_ns() > deadline)
			return reader;
		test_sleep_us(2000);
	}
}

static char temporary[256];

const char *program_temporary_directory(void)
{
	if (!temporary[0]) {
		snprintf(temporary, sizeof(temporary), "/tmp/vshm-test-XXXXXX");
		assert_non_null(mkdtemp(temporary));
	}
	return temporary;
}

void program_cleanup(void)
{
	if (!temporary[0])
		return;
	char command[300];
	snprintf(command, sizeof(command), "rm -rf '%s'", temporary);
	if (system(command) != 0)
		fprintf(stderr, "could not remove %s\n", temporary);
	temporary[0] = '\0';
}

uint8_t *program_read_file(const char *path, size_t *size)
{
	FILE *file = fopen(path, "rb");
	if (!file)
		return NULL;
	struct stat status;
	if (fstat(fileno(file), &status) < 0) {
		fclose(file);
		return NULL;
	}
	uint8_t *data = malloc((size_t)status.st_size + 1);
	size_t length = data ? fread(data, 1, (size_t)status.st_size, file) : 0;
	fclose(file);
	*size = length;
	return data;
}

uint32_t program_adler32(uint32_t adler, const uint8_t *data, size_t size)
{
	uint32_t a = adler & 0xffff, b = adler >> 16;
	for (size_t i = 0; i < size; i++) {
		a = (a + data[i]) % 65521;
		b = (b + a) % 65521;
	}
	return (b << 16) | a;
}
