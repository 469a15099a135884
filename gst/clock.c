/*
 * GStreamer's times and the ring's. A frame's capture_ns is CLOCK_MONOTONIC; a buffer's
 * PTS is a running time, which the element's clock turns into an absolute time by
 * adding the base time. GStreamer's system clock (the default pipeline clock) reads
 * CLOCK_MONOTONIC unless told otherwise, so then the two are the same numbers; any
 * other clock (an audio device's, a network clock) is moved onto CLOCK_MONOTONIC by
 * measuring both clocks' present.
 */
#include "vshm-gst.h"

/*
 * Whether the system clock reads CLOCK_MONOTONIC is asked of it once and then kept on
 * the clock object itself: asking (a GObject property read) costs microseconds, and
 * both elements convert a time on every frame's path between the writer's stamp and
 * the reader's push, where a live stream finds every cache cold. A change of the
 * clock's clock-type makes the clock forget the answer (its notify signal).
 */
enum { CLOCK_KIND_UNKNOWN, CLOCK_KIND_OTHER, CLOCK_KIND_MONOTONIC };

/* Serialises asking with forgetting: a notify that comes while the answer is being
 * asked waits, then forgets it, so a stale answer never stays. */
static GMutex clock_kind_lock;

static GQuark clock_kind_quark(void)
{
	static gsize quark;
	if (g_once_init_enter(&quark))
		g_once_init_leave(&quark, g_quark_from_static_string("vshm-clock-kind"));
	return (GQuark)quark;
}

static GQuark clock_watched_quark(void)
{
	static gsize quark;
	if (g_once_init_enter(&quark))
		g_once_init_leave(&quark, g_quark_from_static_string("vshm-clock-watched"));
	return (GQuark)quark;
}

static void forget_clock_kind(GObject *clock, GParamSpec *spec, gpointer data)
{
	g_mutex_lock(&clock_kind_lock);
	g_object_set_qdata(clock, clock_kind_quark(), GINT_TO_POINTER(CLOCK_KIND_UNKNOWN));
	g_mutex_unlock(&clock_kind_lock);
}

/* True for the plain system clock on CLOCK_MONOTONIC (not a subclass with a time of its own). */
static bool clock_is_monotonic(GstClock *clock)
{
	if (G_OBJECT_TYPE(clock) != GST_TYPE_SYSTEM_CLOCK)
		return false;
	int kind = GPOINTER_TO_INT(g_object_get_qdata(G_OBJECT(clock), clock_kind_quark()));
	if (kind != CLOCK_KIND_UNKNOWN)
		return kind == CLOCK_KIND_MONOTONIC;
	g_mutex_lock(&clock_kind_lock);
	/* The handler holds no reference to anything but the clock, so it lives as long
	 * as the clock (the system clock is a process-wide singleton). */
	if (!g_object_get_qdata(G_OBJECT(clock), clock_watched_quark())) {
		g_signal_connect(clock, "notify::clock-type", G_CALLBACK(forget_clock_kind), NULL);
		g_object_set_qdata(G_OBJECT(clock), clock_watched_quark(), GINT_TO_POINTER(1));
	}
	GstClockType type = GST_CLOCK_TYPE_REALTIME;
	g_object_get(clock, "clock-type", &type, NULL);
	kind = type == GST_CLOCK_TYPE_MONOTONIC ? CLOCK_KIND_MONOTONIC : CLOCK_KIND_OTHER;
	g_object_set_qdata(G_OBJECT(clock), clock_kind_quark(), GINT_TO_POINTER(kind));
	g_mutex_unlock(&clock_kind_lock);
	return kind == CLOCK_KIND_MONOTONIC;
}

uint64_t vshm_gst_monotonic_from_running_time(GstElement *element, GstClockTime running_time)
{
	if (!GST_CLOCK_TIME_IS_VALID(running_time))
		return 0;
	GstClock *clock = gst_element_get_clock(element);
	if (!clock)
		return 0;
	GstClockTime clock_time = running_time + gst_element_get_base_time(element);
	uint64_t now = vshm_now_ns();
	uint64_t monotonic;
	if (clock_is_monotonic(clock)) {
		monotonic = clock_time;
	} else {
		GstClockTime clock_now = gst_clock_get_time(clock);
		monotonic = clock_time >= clock_now ? now : now - (clock_now - clock_time);
	}
	gst_object_unref(clock);
	return monotonic > now ? now : monotonic;
}

GstClockTime vshm_gst_running_time_from_monotonic(GstElement *element, uint64_t monotonic_ns)
{
	GstClock *clock = gst_element_get_clock(element);
	if (!clock)
		return GST_CLOCK_TIME_NONE;
	GstClockTime clock_time;
	if (clock_is_monotonic(clock)) {
		clock_time = monotonic_ns;
	} else {
		uint64_t now = vshm_now_ns();
		GstClockTime clock_now = gst_clock_get_time(clock);
		uint64_t age = monotonic_ns < now ? now - monotonic_ns : 0;
		clock_time = age < clock_now ? clock_now - age : 0;
	}
	gst_object_unref(clock);
	GstClockTime base_time = gst_element_get_base_time(element);
	return clock_time > base_time ? clock_time - base_time : 0;
}
