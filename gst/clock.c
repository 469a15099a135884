/*
 * GStreamer's times and the ring's. A frame's capture_ns is CLOCK_MONOTONIC; a buffer's
 * PTS is a running time, which the element's clock turns into an absolute time by
 * adding the base time. GStreamer's system clock (the default pipeline clock) reads
 * CLOCK_MONOTONIC unless told otherwise, so then the two are the same numbers; any
 * other clock (an audio device's, a network clock) is moved onto CLOCK_MONOTONIC by
 * measuring both clocks' present.
 */
#include "vshm-gst.h"

/* True for the plain system clock on CLOCK_MONOTONIC (not a subclass with a time of its own). */
static bool clock_is_monotonic(GstClock *clock)
{
	if (G_OBJECT_TYPE(clock) != GST_TYPE_SYSTEM_CLOCK)
		return false;
	GstClockType type = GST_CLOCK_TYPE_REALTIME;
	g_object_get(clock, "clock-type", &type, NULL);
	return type == GST_CLOCK_TYPE_MONOTONIC;
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
