/*
 * The vshm GStreamer plugin: vshmsink puts raw video into a vshm stream, vshmsrc takes
 * it out, so any GStreamer pipeline can feed the ring or be fed by it.
 */
#include "vshm-gst.h"

GST_DEBUG_CATEGORY(vshm_gst_debug);

static gboolean plugin_init(GstPlugin *plugin)
{
	GST_DEBUG_CATEGORY_INIT(vshm_gst_debug, "vshm", 0, "vshm shared-memory ring elements");
	return gst_element_register(plugin, "vshmsink", GST_RANK_NONE, gst_vshm_sink_get_type()) &&
	       gst_element_register(plugin, "vshmsrc", GST_RANK_NONE, gst_vshm_src_get_type());
}

/* GST_PLUGIN_DEFINE names the package through this macro. */
#define PACKAGE "vshm"

/* GStreamer's macro leaves its reserved fields to zero-initialisation. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, vshm,
                  "Zero-copy video frame sharing between processes through a shared-memory "
                  "ring",
                  plugin_init, VSHM_VERSION_STRING, "MIT", "vshm", "vshm")
#pragma GCC diagnostic pop
