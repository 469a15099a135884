/* Helpers for the tests of vshm-record (see record-util.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pattern.h"
#include "program-util.h"
#include "record-util.h"
#include "test-util.h"

size_t record_i420_size(uint32_t width, uint32_t height)
{
	return (size_t)width * height + 2 * (size_t)((width + 1) / 2) * ((height + 1) / 2);
}

void record_pattern_i420(uint64_t n, uint32_t width, uint32_t height, uint8_t *picture)
{
	struct vshm_frame frame = {
		.format = VSHM_FORMAT_I420,
		.width = width,
		.height = height,
		.plane_count = 3,
		.stride = { width, (width + 1) / 2, (width + 1) / 2 },
	};
	size_t luma = (size_t)width * height,
	       chroma = (size_t)((width + 1) / 2) * ((height + 1) / 2);
	frame.plane[0] = picture;
	frame.plane[1] = picture + luma;
	frame.plane[2] = picture + luma + chroma;
	pattern_draw_kind(&frame, n, PATTERN_BARS);
}

double record_psnr(const uint8_t *a, const uint8_t *b, size_t size)
{
	double sum = 0;
	for (size_t i = 0; i < size; i++) {
		double difference = (double)a[i] - (double)b[i];
		sum += difference * difference;
	}
	if (sum == 0)
		return 99;
	return 10 * log10(255.0 * 255.0 * (double)size / sum);
}

uint8_t *record_decode(const char *path, const char *pixel_format, uint32_t width, uint32_t height,
                       size_t frame_size, size_t *frames)
{
	char output[512], size[32];
	static unsigned counter;
	snprintf(output, sizeof(output), "%s/decoded-%u.raw", program_temporary_directory(),
	         counter++);
	snprintf(size, sizeof(size), "%ux%u", width, height);
	char *argv[] = { (char *)program_path("VSHM_FFMPEG"),
		         "-nostdin",
		         "-loglevel",
		         "error",
		         "-protocol_whitelist",
		         "file,udp,rtp",
		         "-i",
		         (char *)path,
		         "-fps_mode",
		         "passthrough",
		         "-s",
		         size,
		         "-pix_fmt",
		         (char *)pixel_format,
		         "-f",
		         "rawvideo",
		         "-y",
		         output,
		         NULL };
	char errors[2048];
	int status = program_run(argv, 60000, errors, sizeof(errors));
	if (status != 0)
		fail_msg("ffmpeg could not decode %s (%d): %s", path, status, errors);
	size_t bytes;
	uint8_t *pixels = program_read_file(output, &bytes);
	assert_non_null(pixels);
	unlink(output);
	*frames = bytes / frame_size;
	return pixels;
}

size_t record_framecrc(const char *path, uint32_t *adlers, size_t max)
{
	char output[512];
	snprintf(output, sizeof(output), "%s/framecrc.txt", program_temporary_directory());
	char *argv[] = { (char *)program_path("VSHM_FFMPEG"),
		         "-nostdin",
		         "-loglevel",
		         "error",
		         "-i",
		         (char *)path,
		         "-fps_mode",
		         "passthrough",
		         "-f",
		         "framecrc",
		         "-y",
		         output,
		         NULL };
	char errors[2048];
	int status = program_run(argv, 60000, errors, sizeof(errors));
	if (status != 0)
		fail_msg("ffmpeg -f framecrc failed on %s (%d): %s", path, status, errors);
	FILE *text = fopen(output, "r");
	assert_non_null(text);
	char line[256];
	size_t count = 0;
	while (fgets(line, sizeof(line), text) && count < max) {
		unsigned stream, size, adler;
		long long dts, pts, duration;
		if (sscanf(line, "%u, %lld, %lld, %lld, %u, 0x%x", &stream, &dts, &pts, &duration,
		           &size, &adler) == 6)
			adlers[count++] = adler;
	}
	fclose(text);
	unlink(output);
	return count;
}

size_t record_probe_times(const char *path, double *times, size_t max)
{
	char output[512];
	snprintf(output, sizeof(output), "%s/probe.txt", program_temporary_directory());
	char *argv[] = { (char *)program_path("VSHM_FFPROBE"),
		         "-v",
		         "error",
		         "-select_streams",
		         "v:0",
		         "-show_entries",
		         "frame=pts_time",
		         "-of",
		         "csv=p=0",
		         (char *)path,
		         NULL };
	pid_t pid = program_start(argv, output, NULL);
	int status = test_wait(pid, 60000);
	if (status != 0)
		fail_msg("ffprobe failed on %s (%d)", path, status);
	FILE *text = fopen(output, "r");
	assert_non_null(text);
	char line[128];
	size_t count = 0;
	while (fgets(line, sizeof(line), text)) {
		double time;
		if (sscanf(line, "%lf", &time) != 1)
			continue;
		if (count < max)
			times[count] = time;
		count++;
	}
	fclose(text);
	unlink(output);
	return count;
}

int record_free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	assert_true(fd >= 0);
	struct sockaddr_in address = { .sin_family = AF_INET,
		                       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	socklen_t length = sizeof(address);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
	close(fd);
	return ntohs(address.sin_port);
}

/* True if one of /proc/net's socket tables (udp, udp6, tcp, tcp6) holds a socket whose
 * local port is port, on any address. */
static bool port_in_table(const char *table, int port)
{
	FILE *file = fopen(table, "r");
	if (!file)
		return false; /* no IPv6 here, say */
	char line[512];
	bool found = false;
	if (!fgets(line, sizeof(line), file)) /* the column titles */
		line[0] = '\0';
	while (!found && fgets(line, sizeof(line), file)) {
		/* "  12: 0100007F:1F90 00000000:0000 07 ...": slot, local address:port. */
		const char *local = strchr(line, ':');
		const char *colon = local ? strchr(local + 1, ':') : NULL;
		unsigned int local_port;
		if (colon && sscanf(colon + 1, "%x", &local_port) == 1)
			found = (int)local_port == port;
	}
	fclose(file);
	return found;
}

bool record_wait_port_bound(int port, int type, pid_t owner, int timeout_ms)
{
	/* The kernel's socket tables are read, not probed with a bind of our own: a probe
	 * holds the port for an instant, and a receiver binding in that instant fails. */
	const char *v4 = type == SOCK_DGRAM ? "/proc/net/udp" : "/proc/net/tcp";
	const char *v6 = type == SOCK_DGRAM ? "/proc/net/udp6" : "/proc/net/tcp6";
	uint64_t deadline = vshm_now_ns() + (uint64_t)timeout_ms * 1000000;
	do {
		if (port_in_table(v4, port) || port_in_table(v6, port))
			return true;
		siginfo_t info = { 0 };
		if (waitid(P_PID, (id_t)owner, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    info.si_pid != 0)
			return false; /* the owner is gone, and will not bind it */
		test_sleep_us(10000);
	} while (vshm_now_ns() < deadline);
	return false;
}

char *record_read_text(const char *path)
{
	size_t size = 0;
	uint8_t *data = program_read_file(path, &size);
	if (!data)
		data = calloc(1, 1);
	assert_non_null(data);
	data[size] = '\0';
	return (char *)data;
}

bool record_wait_for_text(const char *path, const char *text, int timeout_ms)
{
	uint64_t deadline = vshm_now_ns() + (uint64_t)timeout_ms * 1000000u;
	do {
		char *content = record_read_text(path);
		bool found = strstr(content, text) != NULL;
		free(content);
		if (found)
			return true;
		test_sleep_us(50000);
	} while (vshm_now_ns() < deadline);
	return false;
}

long record_status_frames(const char *text)
{
	const char *done = strstr(text, "done: ");
	if (!done)
		return -1;
	const char *frames = strstr(done, " frames |");
	if (!frames)
		return -1;
	const char *start = frames;
	while (start > done && start[-1] >= '0' && start[-1] <= '9')
		start--;
	return strtol(start, NULL, 10);
}

void record_publish_pattern(struct vshm_writer *writer, uint64_t n, uint32_t width, uint32_t height,
                            uint64_t capture_ns, uint32_t flags)
{
	struct vshm_frame frame;
	assert_int_equal(vshm_writer_begin(writer, VSHM_FORMAT_I420, width, height, &frame), 0);
	pattern_draw_kind(&frame, n, PATTERN_BARS);
	frame.frame_number = n;
	frame.capture_ns = capture_ns;
	frame.flags = flags;
	assert_int_equal(vshm_writer_publish(writer, &frame), 0);
}

bool record_wait_for_lossless_reader(struct vshm_writer *writer, int timeout_ms)
{
	uint64_t deadline = vshm_now_ns() + (uint64_t)timeout_ms * 1000000u;
	do {
		vshm_writer_scan_readers(writer);
		struct vshm_writer_stats stats;
		vshm_writer_get_stats(writer, &stats);
		if (stats.lossless_readers > 0)
			return true;
		test_sleep_us(5000);
	} while (vshm_now_ns() < deadline);
	return false;
}

int record_count_lines(const char *text)
{
	int lines = 0;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	return lines;
}
