/*
 * vshm-gst-bench: one side of a GStreamer pipeline pair for bench/gstreamer.sh, which
 * runs vshmsink -> vshmsrc and GStreamer's shmsink -> shmsrc on the same pipelines.
 *
 *   vshm-gst-bench write [--stamp] PIPELINE
 *       runs PIPELINE until SIGINT, SIGTERM or EOS. With --stamp, a probe on the sink
 *       pad of the element named "out" writes CLOCK_MONOTONIC (ns, 8 bytes) into the
 *       start of every buffer just before the sink takes it.
 *   vshm-gst-bench read [--warmup N] [--frames N] [--stream NAME] PIPELINE
 *       runs PIPELINE; a probe on the sink pad of the element named "in" counts buffers
 *       and reads the writer's stamp. After the warm-up it measures N frames and prints
 *       one line: frames, seconds, fps, the process's CPU per frame, and publish-to-
 *       observe latency percentiles (when stamped). With --stream, also the vshm
 *       stream's overwrites during the window.
 *   vshm-gst-bench bare [--warmup N] [--frames N] STREAM
 *       reads the vshm stream with libvshm alone, no GStreamer: wait, acquire, release,
 *       and prints the same line (no latency). What any reader that sleeps between
 *       frames pays on this machine, for scale next to vshmsrc and shmsrc.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gst/gst.h>
#include <vshm/vshm.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number)
{
	(void)signal_number;
	stop_requested = 1;
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec time;
	clock_gettime(clock, &time);
	return (uint64_t)time.tv_sec * 1000000000u + (uint64_t)time.tv_nsec;
}

static GstPadProbeReturn stamp_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
	GstMapInfo map;
	/* The sink is about to take the buffer: this is when the frame is handed over. */
	if (gst_buffer_map(buffer, &map, GST_MAP_WRITE)) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		if (map.size >= sizeof(now))
			memcpy(map.data, &now, sizeof(now));
		gst_buffer_unmap(buffer, &map);
	}
	return GST_PAD_PROBE_OK;
}

#define LATENCY_MAX 100000

struct measure {
	unsigned warmup, frames;
	unsigned seen, measured;
	uint64_t start_ns, end_ns, start_cpu_ns, end_cpu_ns;
	uint64_t *latency_ns;
	unsigned latency_count;
	bool done;
};

static GstPadProbeReturn count_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct measure *measure = data;
	GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	if (measure->done)
		return GST_PAD_PROBE_OK;
	measure->seen++;
	if (measure->seen == measure->warmup) {
		measure->start_ns = now;
		measure->start_cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		return GST_PAD_PROBE_OK;
	}
	if (measure->seen < measure->warmup)
		return GST_PAD_PROBE_OK;
	uint64_t stamp = 0;
	if (gst_buffer_extract(buffer, 0, &stamp, sizeof(stamp)) == sizeof(stamp) && stamp &&
	    stamp <= now && now - stamp < 1000000000u && measure->latency_count < LATENCY_MAX)
		measure->latency_ns[measure->latency_count++] = now - stamp;
	if (++measure->measured == measure->frames) {
		measure->end_ns = now;
		measure->end_cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		measure->done = true;
		/* Wakes the main thread, which otherwise sleeps: the window is over. */
		GstElement *element = gst_pad_get_parent_element(pad);
		if (element) {
			gst_element_post_message(
			    element, gst_message_new_application(
			                 GST_OBJECT(element), gst_structure_new_empty("measured")));
			gst_object_unref(element);
		}
	}
	return GST_PAD_PROBE_OK;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool probe(GstElement *pipeline, const char *name, GstPadProbeCallback callback, void *data)
{
	GstElement *element = gst_bin_get_by_name(GST_BIN(pipeline), name);
	if (!element) {
		fprintf(stderr, "vshm-gst-bench: the pipeline has no element named '%s'\n", name);
		return false;
	}
	GstPad *pad = gst_element_get_static_pad(element, "sink");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, callback, data, NULL);
	gst_object_unref(pad);
	gst_object_unref(element);
	return true;
}

/*
 * Runs until a signal, EOS, an error, or the end of the measured window (an application
 * message). Returns 0, or 1 after an error. The main thread wakes only for those and, to
 * see a signal, a few times a second: it is part of the reading process whose CPU time
 * is measured, so it must cost next to nothing per frame for either pair.
 */
static int run(GstElement *pipeline)
{
	GstBus *bus = gst_element_get_bus(pipeline);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	int status = 0;
	while (!stop_requested) {
		GstMessage *message = gst_bus_timed_pop_filtered(
		    bus, 250 * GST_MSECOND,
		    GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_APPLICATION);
		if (!message)
			continue;
		if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
			GError *error = NULL;
			gst_message_parse_error(message, &error, NULL);
			fprintf(stderr, "vshm-gst-bench: %s\n", error->message);
			g_error_free(error);
			status = 1;
		}
		gst_message_unref(message);
		break;
	}
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(bus);
	return status;
}

/* Prints the measured window's frames, rate and CPU per frame (no newline); false, with
 * a message, if the window was not complete. */
static bool print_window(const struct measure *measure)
{
	if (!measure->done) {
		fprintf(stderr, "vshm-gst-bench: only %u of %u frames came\n", measure->seen,
		        measure->warmup + measure->frames);
		return false;
	}
	double seconds = (double)(measure->end_ns - measure->start_ns) / 1e9;
	printf("frames=%u seconds=%.3f fps=%.1f cpu_us_per_frame=%.1f", measure->measured, seconds,
	       measure->measured / seconds,
	       (double)(measure->end_cpu_ns - measure->start_cpu_ns) / 1e3 / measure->measured);
	return true;
}

/* The bare reader: the measure of count_buffer(), without GStreamer. */
static int read_bare(const char *stream, struct measure *measure)
{
	struct vshm_reader *reader = vshm_reader_attach_wait(stream, NULL, 10000, NULL, NULL);
	if (!reader) {
		fprintf(stderr, "vshm-gst-bench: %s\n", vshm_error());
		return 1;
	}
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 60 * UINT64_C(1000000000);
	while (!stop_requested && measure->measured < measure->frames &&
	       now_ns(CLOCK_MONOTONIC) < deadline) {
		struct vshm_frame frame;
		int result = vshm_reader_wait(reader, 50);
		if (result == -ETIMEDOUT)
			continue;
		if (result < 0 || vshm_reader_acquire(reader, &frame) < 0)
			break;
		vshm_reader_release(reader);
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		if (++measure->seen == measure->warmup) {
			measure->start_ns = now;
			measure->start_cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		} else if (measure->seen > measure->warmup &&
		           ++measure->measured == measure->frames) {
			measure->end_ns = now;
			measure->end_cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);
			measure->done = true;
		}
	}
	vshm_reader_detach(reader);
	return 0;
}

static uint64_t overwrites_of(const char *stream)
{
	struct vshm_stream_info info;
	if (!stream || vshm_stream_inspect(stream, &info) < 0)
		return 0;
	return info.overwrites;
}

int main(int argc, char **argv)
{
	gst_init(&argc, &argv);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	bool write = argc > 1 && strcmp(argv[1], "write") == 0;
	bool read = argc > 1 && strcmp(argv[1], "read") == 0;
	bool bare = argc > 1 && strcmp(argv[1], "bare") == 0;
	bool stamp = false;
	const char *stream = NULL;
	struct measure measure = { .warmup = 30, .frames = 300 };
	int i = 2;
	for (; i < argc - 1; i++) {
		if (strcmp(argv[i], "--stamp") == 0)
			stamp = true;
		else if (strcmp(argv[i], "--warmup") == 0 && i + 2 < argc)
			measure.warmup = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--frames") == 0 && i + 2 < argc)
			measure.frames = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--stream") == 0 && i + 2 < argc)
			stream = argv[++i];
		else
			break;
	}
	if ((!write && !read && !bare) || i != argc - 1 || measure.frames == 0) {
		fprintf(stderr, "usage: vshm-gst-bench write [--stamp] PIPELINE\n"
		                "       vshm-gst-bench read [--warmup N] [--frames N] [--stream "
		                "NAME] PIPELINE\n"
		                "       vshm-gst-bench bare [--warmup N] [--frames N] STREAM\n");
		return 2;
	}
	if (bare) {
		if (read_bare(argv[i], &measure) != 0 || !print_window(&measure))
			return 1;
		printf("\n");
		return 0;
	}
	GError *error = NULL;
	GstElement *pipeline = gst_parse_launch(argv[i], &error);
	if (!pipeline || error) {
		fprintf(stderr, "vshm-gst-bench: cannot build '%s': %s\n", argv[i],
		        error ? error->message : "?");
		return 2;
	}
	int status;
	if (write) {
		if (stamp && !probe(pipeline, "out", stamp_buffer, NULL))
			return 2;
		status = run(pipeline);
	} else {
		measure.latency_ns = calloc(LATENCY_MAX, sizeof(uint64_t));
		if (!measure.latency_ns || !probe(pipeline, "in", count_buffer, &measure))
			return 2;
		uint64_t overwrites = overwrites_of(stream);
		status = run(pipeline);
		overwrites = overwrites_of(stream) - overwrites;
		if (!print_window(&measure))
			return 1;
		if (measure.latency_count > 0) {
			qsort(measure.latency_ns, measure.latency_count, sizeof(uint64_t),
			      compare_u64);
			printf(" latency_p50_us=%.1f latency_p99_us=%.1f",
			       measure.latency_ns[measure.latency_count / 2] / 1e3,
			       measure.latency_ns[measure.latency_count * 99 / 100] / 1e3);
		}
		if (stream)
			printf(" overwrites=%llu", (unsigned long long)overwrites);
		printf("\n");
		free(measure.latency_ns);
	}
	gst_object_unref(pipeline);
	return status;
}
