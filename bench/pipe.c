/*
 * The alternative to shared memory that every pipeline can use: a pipe carrying the
 * same frames. This process writes each frame, from the same source buffer the writer
 * copies from, into a pipe; a child process reads it into a buffer of its own. That is
 * two copies per frame and reader (into the kernel's pipe buffer, and out of it), where
 * the ring has one per frame for all its readers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define CHILD_TIMEOUT_MS 5000
/* The largest pipe buffer an unprivileged process gets by default (pipe-max-size). */
#define PIPE_BUFFER_BYTES (1 << 20)

struct bench_pipe {
	uint64_t frame_bytes;
	int write_end;
	pid_t reader;
};

struct pipe_reader_argument {
	int read_end;
	int write_end; /* the child's copy, closed so that it sees the end */
	uint64_t frame_bytes;
};

/* Reads whole frames until the writer closes its end. */
static int pipe_reader(void *argument)
{
	const struct pipe_reader_argument *pipe_argument = argument;
	close(pipe_argument->write_end);
	uint8_t *frame = malloc(pipe_argument->frame_bytes);
	if (!frame)
		return 1;
	/* Faulted in now, as a reader's buffer would be after its first frame. */
	memset(frame, 0, pipe_argument->frame_bytes);
	uint64_t filled = 0;
	for (;;) {
		ssize_t got = read(pipe_argument->read_end, frame + filled,
		                   pipe_argument->frame_bytes - filled);
		if (got == 0)
			break;
		if (got < 0) {
			if (errno == EINTR && !bench_stopping())
				continue;
			break;
		}
		filled = (filled + (uint64_t)got) % pipe_argument->frame_bytes;
	}
	free(frame);
	return 0;
}

struct bench_pipe *bench_pipe_start(const struct bench_frame_size *size)
{
	struct bench_pipe *bench_pipe = calloc(1, sizeof(*bench_pipe));
	if (!bench_pipe)
		return NULL;
	bench_pipe->frame_bytes = bench_frame_bytes(size);
	int ends[2];
	if (pipe2(ends, O_CLOEXEC) < 0) {
		fprintf(stderr, "vshm-bench: cannot make a pipe: %s\n", strerror(errno));
		free(bench_pipe);
		return NULL;
	}
	/* The biggest buffer we may have, so that the pipe is at its best; a smaller one
	 * (a system that lowered the limit) is still a pipe. */
	fcntl(ends[1], F_SETPIPE_SZ, PIPE_BUFFER_BYTES);
	struct pipe_reader_argument argument = { ends[0], ends[1], bench_pipe->frame_bytes };
	bench_pipe->reader = bench_spawn(pipe_reader, &argument);
	close(ends[0]);
	if (bench_pipe->reader < 0) {
		close(ends[1]);
		free(bench_pipe);
		return NULL;
	}
	bench_pipe->write_end = ends[1];
	return bench_pipe;
}

int bench_pipe_run(struct bench_pipe *bench_pipe, const uint8_t *source, uint64_t duration_ns,
                   struct bench_rate *rate)
{
	uint64_t start = vshm_now_ns(), now;
	do {
		uint64_t written = 0;
		while (written < bench_pipe->frame_bytes) {
			ssize_t done = write(bench_pipe->write_end, source + written,
			                     bench_pipe->frame_bytes - written);
			if (done < 0 && errno == EINTR && !bench_stopping())
				continue;
			if (done < 0) {
				if (!bench_stopping())
					fprintf(stderr,
					        "vshm-bench: cannot write into the pipe: %s\n",
					        strerror(errno));
				return bench_stopping() ? -EINTR : -errno;
			}
			written += (uint64_t)done;
		}
		rate->frames++;
		now = vshm_now_ns();
	} while (now - start < duration_ns);
	rate->elapsed_ns += now - start;
	return 0;
}

int bench_pipe_stop(struct bench_pipe *bench_pipe)
{
	if (!bench_pipe)
		return 0;
	close(bench_pipe->write_end); /* the reader sees the end and exits */
	int result = bench_reap(bench_pipe->reader, CHILD_TIMEOUT_MS);
	free(bench_pipe);
	return result;
}
