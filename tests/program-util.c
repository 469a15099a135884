#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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

/* Starts argv; in the child, preload (if not NULL) goes first in LD_PRELOAD and setting
 * ("NAME=value", if not NULL) into the environment. */
static pid_t start(char *const argv[], const char *output_path, const char *error_path,
                   const char *preload, const char *setting)
{
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Tied to the test: a test that fails or times out leaves no program running,
		 * and SIGTERM lets the program remove its streams. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		redirect(STDOUT_FILENO, output_path);
		redirect(STDERR_FILENO, error_path);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (preload) {
			const char *others = getenv("LD_PRELOAD");
			char list[4096];
			snprintf(list, sizeof(list), "%s%s%s", preload, others ? ":" : "",
			         others ? others : "");
			setenv("LD_PRELOAD", list, 1);
		}
		if (setting)
			putenv((char *)setting);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

pid_t program_start(char *const argv[], const char *output_path, const char *error_path)
{
	return start(argv, output_path, error_path, NULL, NULL);
}

pid_t program_start_with_stop_points(char *const argv[], const char *output_path,
                                     const char *error_path, const char *setting)
{
	return start(argv, output_path, error_path, program_path("VSHM_STOP_POINTS_PRELOAD"),
	             setting);
}

bool program_wait_stopped(pid_t pid, int timeout_ms)
{
	uint64_t deadline = vshm_now_ns() + (uint64_t)timeout_ms * 1000000u;
	do {
		siginfo_t info = { 0 };
		if (waitid(P_PID, (id_t)pid, &info, WSTOPPED | WNOHANG) == 0 && info.si_pid == pid)
			return true;
		info.si_pid = 0;
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    info.si_pid == pid)
			return false; /* it exited (left for test_wait() to reap) */
		test_sleep_us(200);
	} while (vshm_now_ns() < deadline);
	return false;
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

const char *program_other_user_directory(void)
{
	static char directory[300];
	if (!directory[0] || access(directory, F_OK) != 0) {
		/* The temporary directory is 0700: let others through it, not list it. */
		assert_int_equal(chmod(program_temporary_directory(), 0711), 0);
		snprintf(directory, sizeof(directory), "%s/other-user",
		         program_temporary_directory());
		assert_true(mkdir(directory, 0755) == 0 || errno == EEXIST);
		assert_int_equal(chmod(directory, 0755), 0);
	}
	return directory;
}

static void copy_file(const char *from, const char *to)
{
	size_t size;
	uint8_t *data = program_read_file(from, &size);
	if (!data)
		fail_msg("cannot read %s to copy it: %s", from, strerror(errno));
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	assert_int_equal(fchmod(fd, 0755), 0);
	close(fd);
	free(data);
}

/* True for the directories a system keeps its libraries in, which every user may read. */
static bool system_library(const char *path)
{
	static const char *const directories[] = { "/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/" };
	for (size_t i = 0; i < sizeof(directories) / sizeof(directories[0]); i++) {
		if (strncmp(path, directories[i], strlen(directories[i])) == 0)
			return true;
	}
	return false;
}

const char *program_copy_for_other_user(const char *program)
{
	const char *directory = program_other_user_directory();
	static char copy[600];
	const char *base = strrchr(program, '/');
	snprintf(copy, sizeof(copy), "%s/%s", directory, base ? base + 1 : program);
	copy_file(program, copy);

	/* The dynamic loader lists what it would load, as ldd asks it to: one line
	 * "\tSONAME => PATH (ADDRESS)" a library. */
	char listing[600];
	snprintf(listing, sizeof(listing), "%s/libraries.txt", directory);
	char *argv[] = { (char *)program, NULL };
	setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
	pid_t pid = program_start(argv, listing, NULL);
	unsetenv("LD_TRACE_LOADED_OBJECTS");
	assert_int_equal(test_wait(pid, 30000), 0);
	FILE *file = fopen(listing, "r");
	assert_non_null(file);
	char line[1024];
	while (fgets(line, sizeof(line), file)) {
		char soname[256], path[700];
		if (sscanf(line, " %255s => %699s", soname, path) != 2 || path[0] != '/' ||
		    system_library(path))
			continue;
		char target[1000];
		snprintf(target, sizeof(target), "%s/%s", directory, soname);
		copy_file(path, target);
	}
	fclose(file);
	unlink(listing);
	return copy;
}

void program_exec_as(uid_t uid, char *const argv[])
{
	setenv("LD_LIBRARY_PATH", program_other_user_directory(), 1);
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
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
	if (data)
		data[length] = '\0'; /* text files read as strings */
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

uint32_t program_read_framecrc(const char *path, uint32_t size[], uint32_t adler[], uint32_t max)
{
	FILE *text = fopen(path, "r");
	if (!text)
		fail_msg("cannot read ffmpeg's framecrc output %s: %s", path, strerror(errno));
	char line[256];
	uint32_t count = 0;
	while (fgets(line, sizeof(line), text) && count < max) {
		unsigned stream, frame_size, frame_adler;
		long long dts, pts, duration;
		/* "stream, dts, pts, duration, size, 0xadler"; comment lines do not match. */
		if (sscanf(line, "%u, %lld, %lld, %lld, %u, 0x%x", &stream, &dts, &pts, &duration,
		           &frame_size, &frame_adler) == 6) {
			size[count] = frame_size;
			adler[count] = frame_adler;
			count++;
		}
	}
	fclose(text);
	return count;
}

/*
 * True once the server behind a Unix socket path accepts connections. The socket file
 * appears before the server listens on it: a client started in between is refused, so
 * readiness is a connection that succeeds, not the file, nor a pause after it.
 */
static bool accepts_connections(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool accepted = connect(fd, (const struct sockaddr *)&address, sizeof(address)) == 0;
	close(fd);
	return accepted;
}

pid_t program_start_xvfb(void)
{
	const char *xvfb = program_path("VSHM_XVFB");
	for (int number = 90 + getpid() % 100; number < 400; number++) {
		char lock[64], socket[64], display[16];
		snprintf(lock, sizeof(lock), "/tmp/.X%d-lock", number);
		snprintf(socket, sizeof(socket), "/tmp/.X11-unix/X%d", number);
		if (access(lock, F_OK) == 0 || access(socket, F_OK) == 0)
			continue;
		snprintf(display, sizeof(display), ":%d", number);
		char *argv[] = { (char *)xvfb, display, "-screen",  "0", "1920x1080x24",
			         "-nolisten",  "tcp",   "-noreset", NULL };
		pid_t pid = program_start(argv, NULL, NULL);
		for (int waited = 0; waited < 10000; waited += 20) {
			if (accepts_connections(socket)) {
				setenv("DISPLAY", display, 1);
				return pid;
			}
			if (waitpid(pid, NULL, WNOHANG) == pid)
				break; /* lost a race for this number: try the next */
			test_sleep_us(20000);
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	fail_msg("could not start Xvfb");
	return -1;
}

void program_stop_xvfb(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	if (test_wait(pid, 5000) < 0)
		fprintf(stderr, "Xvfb %d did not stop\n", (int)pid);
}

void program_read_picture(const char *path, struct program_picture *picture)
{
	char raw[512];
	snprintf(raw, sizeof(raw), "%s/picture.rgb", program_temporary_directory());
	char *argv[] = { (char *)program_path("VSHM_FFMPEG"),
		         "-nostdin",
		         "-loglevel",
		         "error",
		         "-i",
		         (char *)path,
		         "-f",
		         "rawvideo",
		         "-pix_fmt",
		         "rgb24",
		         "-y",
		         raw,
		         NULL };
	char errors[1024];
	if (program_run(argv, 30000, errors, sizeof(errors)) != 0)
		fail_msg("ffmpeg cannot read %s: %s", path, errors);
	/* The size is in the PNG header: width and height at bytes 16..23, big-endian. */
	size_t png_size;
	uint8_t *png = program_read_file(path, &png_size);
	assert_non_null(png);
	assert_true(png_size > 24 && memcmp(png + 1, "PNG", 3) == 0);
	picture->width = (png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19];
	picture->height = (png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23];
	free(png);
	size_t size;
	picture->rgb = program_read_file(raw, &size);
	assert_non_null(picture->rgb);
	assert_int_equal(size, (size_t)picture->width * 3 * (size_t)picture->height);
	unlink(raw);
}

double program_cpu_seconds(pid_t pid)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *file = fopen(path, "r");
	assert_non_null(file);
	size_t length = fread(text, 1, sizeof(text) - 1, file);
	fclose(file);
	text[length] = '\0';
	/* Fields after the command name (which may hold spaces) start after the last ')'. */
	char *rest = strrchr(text, ')');
	assert_non_null(rest);
	unsigned long user = 0, system_time = 0;
	int field = 2;
	for (char *token = strtok(rest + 2, " "); token; token = strtok(NULL, " ")) {
		field++;
		if (field == 14)
			user = strtoul(token, NULL, 10);
		if (field == 15) {
			system_time = strtoul(token, NULL, 10);
			break;
		}
	}
	return (double)(user + system_time) / (double)sysconf(_SC_CLK_TCK);
}

bool program_wait_quiet(pid_t pid, double share, int timeout_ms)
{
	const int interval_ms = 500;
	double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);
	for (int waited = 0; waited < timeout_ms; waited += interval_ms) {
		double before = program_cpu_seconds(pid);
		test_sleep_us(interval_ms * 1000L);
		if (program_cpu_seconds(pid) - before <= share * interval_ms / 1000.0 + tick)
			return true;
	}
	return false;
}
