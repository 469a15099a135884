/*
 * Frame (a reader's frame) and OutputFrame (a writer's frame being filled): the
 * metadata, and the pixels in the slot as memoryviews (planes) and numpy arrays.
 *
 * Views and the end of a hold. A slot given back may be rewritten by the writer at
 * once, and a reader's mapping goes away with the reader, so a view that outlived its
 * frame's hold would show another frame's pixels or crash the interpreter. CPython's
 * buffer protocol gives the answer mmap.mmap gives to close(): count the exports and
 * refuse while any is alive. Every view of a frame's pixels is such an export
 * (view.c); numpy arrays made from them, and arrays sliced from those, keep it alive.
 * So release(), publish(), cancel(), the end of a `with` block and the next step of an
 * iteration raise BufferError while a view is alive, and the frame stays held and
 * intact: nothing ever reads a slot it does not hold. The views cannot be invalidated
 * in place instead: a numpy array reads its memory through a raw pointer that nothing
 * can take back, and a copy on release would make every frame whose array is still
 * referenced pay one. Once the frame is given back, planes, array() and every other way
 * to its pixels raise ValueError; its metadata stay readable.
 */
#include "vshm-python.h"

#include <errno.h>
#include <structmember.h>

static const char release_advice[] =
    "delete them (del array), let them go out of scope, or keep copies (array.copy())";

int vshm_py_frame_check_unused(struct frame_object *frame, const char *action, const char *advice)
{
	if (frame->exports == 0)
		return 0;
	PyErr_Format(PyExc_BufferError,
	             "frame %llu cannot be %s: numpy arrays or memoryviews of its pixels are "
	             "still alive; %s",
	             (unsigned long long)frame->frame.frame_number, action, advice);
	return -1;
}

static const char *state_name(const struct frame_object *frame)
{
	switch (frame->state) {
	case FRAME_HELD:
		return frame->output ? "being filled" : "held";
	case FRAME_RELEASED:
		return "released";
	case FRAME_PUBLISHED:
		return "published";
	case FRAME_CANCELLED:
		return "cancelled";
	}
	return "?";
}

static int check_held(struct frame_object *frame)
{
	if (frame->state == FRAME_HELD)
		return 0;
	PyErr_Format(PyExc_ValueError,
	             "frame %llu was %s: its slot may already hold another frame, so its "
	             "pixels are out of reach",
	             (unsigned long long)frame->frame.frame_number, state_name(frame));
	return -1;
}

struct frame_object *vshm_py_frame_new(PyObject *owner, const struct vshm_frame *source,
                                       bool output)
{
	PyTypeObject *type = output ? &vshm_py_output_frame_type : &vshm_py_frame_type;
	struct frame_object *frame = PyObject_New(struct frame_object, type);
	if (!frame)
		return NULL;
	frame->owner = Py_NewRef(owner);
	frame->frame = *source;
	frame->state = FRAME_HELD;
	frame->output = output;
	frame->exports = 0;
	return frame;
}

static void frame_dealloc(PyObject *object)
{
	struct frame_object *frame = (struct frame_object *)object;
	/* No view can be alive: each holds a reference to the frame. */
	if (frame->state == FRAME_HELD) {
		if (frame->output) {
			PyObject *type, *value, *traceback;
			PyErr_Fetch(&type, &value, &traceback);
			if (vshm_py_writer_finish((struct writer_object *)frame->owner, frame,
			                          false) < 0)
				PyErr_WriteUnraisable(object);
			PyErr_Restore(type, value, traceback);
		} else {
			vshm_py_reader_drop((struct reader_object *)frame->owner, frame);
		}
	}
	Py_XDECREF(frame->owner);
	PyObject_Free(object);
}

static PyObject *frame_repr(PyObject *object)
{
	struct frame_object *frame = (struct frame_object *)object;
	const char *name = frame->output ? ((struct writer_object *)frame->owner)->name
	                                 : ((struct reader_object *)frame->owner)->name;
	return PyUnicode_FromFormat(
	    "<vshm.%s of '%s': #%llu %s %ux%u, %s>", frame->output ? "OutputFrame" : "Frame", name,
	    (unsigned long long)frame->frame.frame_number, vshm_format_name(frame->frame.format),
	    frame->frame.width, frame->frame.height, state_name(frame));
}

static PyObject *frame_planes(PyObject *object, void *closure)
{
	struct frame_object *frame = (struct frame_object *)object;
	if (check_held(frame) < 0)
		return NULL;
	const struct vshm_frame *f = &frame->frame;
	PyObject *planes = PyTuple_New(f->plane_count);
	if (!planes)
		return NULL;
	for (uint32_t i = 0; i < f->plane_count; i++) {
		struct vshm_format_plane plane;
		vshm_format_plane(f->format, i, &plane);
		Py_ssize_t shape[2] = {
			(f->height + plane.vertical_subsampling - 1) / plane.vertical_subsampling,
			(Py_ssize_t)((f->width + plane.horizontal_subsampling - 1) /
			             plane.horizontal_subsampling * plane.bytes_per_sample),
		};
		Py_ssize_t strides[2] = { f->stride[i], 1 };
		PyObject *view = vshm_py_view_new(frame, f->plane[i], 2, shape, strides);
		PyObject *memory = view ? PyMemoryView_FromObject(view) : NULL;
		Py_XDECREF(view);
		if (!memory) {
			Py_DECREF(planes);
			return NULL;
		}
		PyTuple_SET_ITEM(planes, i, memory);
	}
	return planes;
}

static PyObject *frame_array(PyObject *object, PyObject *unused)
{
	struct frame_object *frame = (struct frame_object *)object;
	if (check_held(frame) < 0)
		return NULL;
	return vshm_py_frame_array(frame);
}

static PyObject *frame_format(PyObject *object, void *closure)
{
	return PyUnicode_FromString(
	    vshm_format_name(((struct frame_object *)object)->frame.format));
}

/* (numerator, denominator), or None when the writer did not say. */
static PyObject *frame_sample_aspect(PyObject *object, void *closure)
{
	const struct vshm_ratio *aspect = &((struct frame_object *)object)->frame.sample_aspect;
	if (!aspect->numerator || !aspect->denominator)
		Py_RETURN_NONE;
	return Py_BuildValue("(II)", aspect->numerator, aspect->denominator);
}

int vshm_py_parse_aspect(PyObject *value, struct vshm_ratio *aspect)
{
	if (value == Py_None) {
		*aspect = (struct vshm_ratio){ 0, 0 };
		return 0;
	}
	unsigned long long parts[2];
	PyObject *sequence = PySequence_Check(value) && PySequence_Size(value) == 2
	                         ? PySequence_Fast(value, "")
	                         : NULL;
	for (int i = 0; sequence && i < 2; i++) {
		PyObject *part = PySequence_Fast_GET_ITEM(sequence, i);
		parts[i] = PyLong_Check(part) && !PyBool_Check(part)
		               ? PyLong_AsUnsignedLongLong(part)
		               : (unsigned long long)-1;
		if (parts[i] == (unsigned long long)-1 || parts[i] == 0 || parts[i] > UINT32_MAX) {
			Py_CLEAR(sequence);
			break;
		}
	}
	if (!sequence) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError,
		             "sample_aspect is (width, height) of a pixel, two whole numbers "
		             "1..%u such as (16, 9), or None; not %R",
		             UINT32_MAX, value);
		return -1;
	}
	Py_DECREF(sequence);
	*aspect = (struct vshm_ratio){ (uint32_t)parts[0], (uint32_t)parts[1] };
	return 0;
}

static int frame_set_sample_aspect(PyObject *object, PyObject *value, void *closure)
{
	struct frame_object *frame = (struct frame_object *)object;
	if (!value) {
		PyErr_SetString(PyExc_AttributeError, "frame metadata cannot be deleted");
		return -1;
	}
	if (check_held(frame) < 0)
		return -1;
	return vshm_py_parse_aspect(value, &frame->frame.sample_aspect);
}

static PyObject *frame_depth(PyObject *object, void *closure)
{
	const struct vshm_format_description *format =
	    vshm_format_describe(((struct frame_object *)object)->frame.format);
	return PyLong_FromUnsignedLong(format ? format->depth : 0);
}

static PyObject *frame_end_of_stream(PyObject *object, void *closure)
{
	struct frame_object *frame = (struct frame_object *)object;
	return PyBool_FromLong(frame->frame.flags & VSHM_FRAME_END_OF_STREAM);
}

static PyObject *frame_released(PyObject *object, void *closure)
{
	return PyBool_FromLong(((struct frame_object *)object)->state != FRAME_HELD);
}

static PyObject *frame_published(PyObject *object, void *closure)
{
	return PyBool_FromLong(((struct frame_object *)object)->state == FRAME_PUBLISHED);
}

/* Metadata an OutputFrame lets its user set, until it is published or cancelled. */
enum settable {
	SET_FRAME_NUMBER,
	SET_CAPTURE_NS,
	SET_FLAGS,
	SET_COLOR_MATRIX,
	SET_COLOR_RANGE,
	SET_COLOR_PRIMARIES,
	SET_COLOR_TRANSFER,
};

static PyObject *get_settable(PyObject *object, void *closure)
{
	const struct vshm_frame *f = &((struct frame_object *)object)->frame;
	switch ((enum settable)(intptr_t)closure) {
	case SET_FRAME_NUMBER:
		return PyLong_FromUnsignedLongLong(f->frame_number);
	case SET_CAPTURE_NS:
		return PyLong_FromUnsignedLongLong(f->capture_ns);
	case SET_FLAGS:
		return PyLong_FromUnsignedLong(f->flags);
	case SET_COLOR_MATRIX:
		return PyLong_FromUnsignedLong(f->color_matrix);
	case SET_COLOR_RANGE:
		return PyLong_FromUnsignedLong(f->color_range);
	case SET_COLOR_PRIMARIES:
		return PyLong_FromUnsignedLong(f->color_primaries);
	case SET_COLOR_TRANSFER:
		return PyLong_FromUnsignedLong(f->color_transfer);
	}
	Py_RETURN_NONE;
}

static int set_settable(PyObject *object, PyObject *value, void *closure)
{
	struct frame_object *frame = (struct frame_object *)object;
	enum settable which = (enum settable)(intptr_t)closure;
	if (!value) {
		PyErr_SetString(PyExc_AttributeError, "frame metadata cannot be deleted");
		return -1;
	}
	if (check_held(frame) < 0)
		return -1;
	if (!PyLong_Check(value)) {
		PyErr_Format(PyExc_TypeError, "frame metadata are integers, not %s",
		             Py_TYPE(value)->tp_name);
		return -1;
	}
	unsigned long long parsed = PyLong_AsUnsignedLongLong(value);
	if (parsed == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_SetString(PyExc_ValueError, "frame metadata are integers 0 or more");
		return -1;
	}
	unsigned long long limit = which == SET_FLAGS ? UINT32_MAX
	                           : which == SET_FRAME_NUMBER || which == SET_CAPTURE_NS
	                               ? UINT64_MAX
	                               : UINT8_MAX;
	if (parsed > limit) {
		PyErr_Format(PyExc_ValueError, "%llu is too large for this field (at most %llu)",
		             parsed, limit);
		return -1;
	}
	struct vshm_frame *f = &frame->frame;
	switch (which) {
	case SET_FRAME_NUMBER:
		f->frame_number = parsed;
		break;
	case SET_CAPTURE_NS:
		f->capture_ns = parsed;
		break;
	case SET_FLAGS:
		f->flags = (uint32_t)parsed;
		break;
	case SET_COLOR_MATRIX:
		f->color_matrix = (uint8_t)parsed;
		break;
	case SET_COLOR_RANGE:
		f->color_range = (uint8_t)parsed;
		break;
	case SET_COLOR_PRIMARIES:
		f->color_primaries = (uint8_t)parsed;
		break;
	case SET_COLOR_TRANSFER:
		f->color_transfer = (uint8_t)parsed;
		break;
	}
	return 0;
}

#define MEMBER(field, type, doc)                                                                   \
	{                                                                                          \
#field, type, offsetof(struct frame_object, frame.field), READONLY, doc            \
	}

static PyMemberDef frame_members[] = {
	MEMBER(width, T_UINT, "Width in pixels."),
	MEMBER(height, T_UINT, "Height in pixels."),
	MEMBER(frame_number, T_ULONGLONG,
	       "The source's number for this frame (filters pass their input's on)."),
	MEMBER(capture_ns, T_ULONGLONG,
	       "When the pixels were captured: CLOCK_MONOTONIC nanoseconds, the clock of\n"
	       "time.monotonic_ns()."),
	MEMBER(publish_ns, T_ULONGLONG,
	       "When the writer published the frame (CLOCK_MONOTONIC ns)."),
	MEMBER(flags, T_UINT, "vshm.FRAME_END_OF_STREAM, vshm.FRAME_DISCONTINUITY, or'ed."),
	MEMBER(color_matrix, T_UBYTE, "vshm.COLOR_MATRIX_BT601, _BT709, _BT2020 or _UNSPECIFIED."),
	MEMBER(color_range, T_UBYTE, "vshm.COLOR_RANGE_LIMITED, _FULL or _UNSPECIFIED."),
	MEMBER(color_primaries, T_UBYTE,
	       "vshm.COLOR_PRIMARIES_BT709, _BT601_625, _BT601_525, _BT2020, _DISPLAY_P3 or\n"
	       "_UNSPECIFIED: which colours the values mean."),
	MEMBER(color_transfer, T_UBYTE,
	       "vshm.COLOR_TRANSFER_BT709 (SDR), _SRGB, _PQ, _HLG (HDR), _LINEAR or\n"
	       "_UNSPECIFIED: how the values encode light."),
	MEMBER(sequence, T_ULONGLONG,
	       "The ring's publish number (1, 2, ...): equal for the same frame taken twice."),
	MEMBER(slot, T_UINT, "The slot the frame lies in."),
	{ 0 },
};

static PyMemberDef output_frame_members[] = {
	MEMBER(width, T_UINT, "Width in pixels."),
	MEMBER(height, T_UINT, "Height in pixels."),
	MEMBER(publish_ns, T_ULONGLONG, "Set when the frame is published (CLOCK_MONOTONIC ns)."),
	MEMBER(sequence, T_ULONGLONG, "The ring's publish number, set when published."),
	MEMBER(slot, T_UINT, "The slot the frame is being written into."),
	{ 0 },
};

static PyGetSetDef frame_getset[] = {
	{ "format", frame_format, NULL, "The pixel format's name: 'nv12', 'rgb24', ...", NULL },
	{ "planes", frame_planes, NULL,
	  "The planes in the slot, in place: a tuple of read-only memoryviews, one per\n"
	  "plane (1 for packed formats, 2 for nv12, 3 for i420), each rows x row bytes with\n"
	  "the slot's row stride. Counted like arrays: see release().",
	  NULL },
	{ "end_of_stream", frame_end_of_stream, NULL,
	  "True if the source has no frame after this one.", NULL },
	{ "released", frame_released, NULL, "True once the frame was given back.", NULL },
	{ "sample_aspect", frame_sample_aspect, NULL,
	  "The shape of a pixel, (width, height): (16, 9) for anamorphic widescreen, (1, 1)\n"
	  "for square pixels; None if the writer did not say (take it as square). The\n"
	  "picture is meant to be shown width * w / h pixels wide.",
	  NULL },
	{ "depth", frame_depth, NULL,
	  "Significant bits of each sample: 8, or 10 for p010 (whose samples are 16-bit\n"
	  "little-endian words, the value in their top 10 bits).",
	  NULL },
	{ 0 },
};

static PyGetSetDef output_frame_getset[] = {
	{ "format", frame_format, NULL, "The pixel format's name: 'nv12', 'rgb24', ...", NULL },
	{ "planes", frame_planes, NULL,
	  "The planes to fill, in the slot: a tuple of writable memoryviews, one per plane,\n"
	  "each rows x row bytes with the slot's row stride.",
	  NULL },
	{ "published", frame_published, NULL, "True once publish() made it the latest frame.",
	  NULL },
	{ "frame_number", get_settable, set_settable,
	  "The source's number for this frame; by default one more than the last published.",
	  (void *)SET_FRAME_NUMBER },
	{ "capture_ns", get_settable, set_settable,
	  "When the pixels were captured, CLOCK_MONOTONIC ns (time.monotonic_ns()); by default\n"
	  "when the frame was begun.",
	  (void *)SET_CAPTURE_NS },
	{ "flags", get_settable, set_settable,
	  "vshm.FRAME_END_OF_STREAM and vshm.FRAME_DISCONTINUITY, or'ed; 0 by default.",
	  (void *)SET_FLAGS },
	{ "color_matrix", get_settable, set_settable, "vshm.COLOR_MATRIX_*; 0 (unspecified).",
	  (void *)SET_COLOR_MATRIX },
	{ "color_range", get_settable, set_settable, "vshm.COLOR_RANGE_*; 0 (unspecified).",
	  (void *)SET_COLOR_RANGE },
	{ "color_primaries", get_settable, set_settable, "vshm.COLOR_PRIMARIES_*; 0 (unspecified).",
	  (void *)SET_COLOR_PRIMARIES },
	{ "color_transfer", get_settable, set_settable,
	  "vshm.COLOR_TRANSFER_*; 0 (unspecified): say PQ or HLG for HDR.",
	  (void *)SET_COLOR_TRANSFER },
	{ "sample_aspect", frame_sample_aspect, frame_set_sample_aspect,
	  "The shape of a pixel, (width, height) such as (16, 9); None (unknown) by default.",
	  NULL },
	{ 0 },
};

/* Frame: release, and the with statement. */

static PyObject *frame_release(PyObject *object, PyObject *unused)
{
	struct frame_object *frame = (struct frame_object *)object;
	if (check_held(frame) < 0 ||
	    vshm_py_frame_check_unused(frame, "released", release_advice) < 0)
		return NULL;
	int intact = vshm_py_reader_give_back((struct reader_object *)frame->owner, frame);
	if (intact < 0)
		return NULL;
	return PyBool_FromLong(intact);
}

static PyObject *frame_enter(PyObject *object, PyObject *unused)
{
	return Py_NewRef(object);
}

static PyObject *frame_exit(PyObject *object, PyObject *arguments)
{
	struct frame_object *frame = (struct frame_object *)object;
	if (frame->state != FRAME_HELD)
		Py_RETURN_FALSE;
	/* Leaving on an exception: its traceback may still reference views, so the frame
	 * stays held until they are gone (and is given back when it is freed) rather than
	 * hide that exception behind a BufferError. */
	if (PyTuple_GET_SIZE(arguments) > 0 && PyTuple_GET_ITEM(arguments, 0) != Py_None &&
	    frame->exports > 0)
		Py_RETURN_FALSE;
	PyObject *result = frame_release(object, NULL);
	if (!result)
		return NULL;
	Py_DECREF(result);
	Py_RETURN_FALSE;
}

/* OutputFrame: publish, cancel, and the with statement. */

static PyObject *output_frame_publish(PyObject *object, PyObject *unused)
{
	struct frame_object *frame = (struct frame_object *)object;
	if (check_held(frame) < 0 ||
	    vshm_py_frame_check_unused(frame, "published", release_advice) < 0 ||
	    vshm_py_writer_finish((struct writer_object *)frame->owner, frame, true) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *output_frame_cancel(PyObject *object, PyObject *unused)
{
	struct frame_object *frame = (struct frame_object *)object;
	if (check_held(frame) < 0 ||
	    vshm_py_frame_check_unused(frame, "cancelled", release_advice) < 0 ||
	    vshm_py_writer_finish((struct writer_object *)frame->owner, frame, false) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *output_frame_exit(PyObject *object, PyObject *arguments)
{
	struct frame_object *frame = (struct frame_object *)object;
	if (frame->state != FRAME_HELD)
		Py_RETURN_FALSE;
	bool failed = PyTuple_GET_SIZE(arguments) > 0 && PyTuple_GET_ITEM(arguments, 0) != Py_None;
	if (failed && frame->exports > 0)
		Py_RETURN_FALSE; /* cancelled when freed, as for Frame above */
	PyObject *result =
	    failed ? output_frame_cancel(object, NULL) : output_frame_publish(object, NULL);
	if (!result)
		return NULL;
	Py_DECREF(result);
	Py_RETURN_FALSE;
}

#define ARRAY_DOC(what)                                                                            \
	"array()\n--\n\n"                                                                          \
	"The frame's pixels in place, as a numpy array " what " (no copy: its data\n"              \
	"pointer lies in the shared slot): H x W x 3 for rgb24 and bgr24, H x W x 4 for\n"         \
	"rgba, bgra and xrgb8888 (bytes B G R X), H x W for gray8, H x W x 2 for yuyv and\n"       \
	"uyvy, and (H*3/2) x W for nv12 and i420, the layout cv2.cvtColor() takes.\n"              \
	"Raises ValueError where the slot's planes cannot be shown so (odd nv12/i420\n"            \
	"sizes, i420 widths that are not multiples of 128): use planes then.\n"                    \
	"The array counts as a view of the frame (see "

static PyMethodDef frame_methods[] = {
	{ "array", frame_array, METH_NOARGS, ARRAY_DOC("(read-only)") "release())." },
	{ "release", frame_release, METH_NOARGS,
	  "release()\n--\n\n"
	  "Gives the slot back to the writer. Returns True if the frame stayed intact while\n"
	  "it was held, False if the writer overwrote it meanwhile (then drop whatever was\n"
	  "made from its pixels).\n\n"
	  "Raises BufferError while a view of the pixels is alive (an array() or a plane,\n"
	  "or an array or memoryview made from one): a slot given back may be rewritten at\n"
	  "once, so views must be gone first. The frame then stays held and intact. Delete\n"
	  "them, let them go out of scope, or keep copies (array.copy()). Afterwards planes\n"
	  "and array() raise ValueError; the metadata stay readable." },
	{ "__enter__", frame_enter, METH_NOARGS, NULL },
	{ "__exit__", frame_exit, METH_VARARGS,
	  "Releases the frame (see release()); on an exception, only if no view is alive." },
	{ 0 },
};

static PyMethodDef output_frame_methods[] = {
	{ "array", frame_array, METH_NOARGS, ARRAY_DOC("to fill") "publish())." },
	{ "publish", output_frame_publish, METH_NOARGS,
	  "publish()\n--\n\n"
	  "Makes the frame the stream's latest, with the metadata set on it, and wakes the\n"
	  "readers. Raises BufferError while an array() or plane of it is alive (readers\n"
	  "may read the slot from now on, so nothing may write it any more)." },
	{ "cancel", output_frame_cancel, METH_NOARGS,
	  "cancel()\n--\n\n"
	  "Gives the frame up without publishing it. Raises BufferError as publish() does." },
	{ "__enter__", frame_enter, METH_NOARGS, NULL },
	{ "__exit__", output_frame_exit, METH_VARARGS,
	  "Publishes the frame, or cancels it when the block raised." },
	{ 0 },
};

PyTypeObject vshm_py_frame_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vshm.Frame",
	.tp_basicsize = sizeof(struct frame_object),
	.tp_dealloc = frame_dealloc,
	.tp_repr = frame_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_methods = frame_methods,
	.tp_members = frame_members,
	.tp_getset = frame_getset,
	.tp_doc = "A frame taken from a stream by a Reader: its metadata, and its pixels where\n"
	          "the writer left them (planes, array()).\n\n"
	          "The frame holds its slot, so the writer avoids it, until release() (or the\n"
	          "end of a `with frame:` block, or the next step of `for frame in reader`).\n"
	          "Views of the pixels must be gone by then: see release().\n\n"
	          "    with reader.next_frame() as frame:\n"
	          "        mean = frame.array().mean()   # the array is gone after this line\n\n"
	          "Not made directly: Reader.next_frame(), Reader.acquire() or iteration.",
};

PyTypeObject vshm_py_output_frame_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vshm.OutputFrame",
	.tp_basicsize = sizeof(struct frame_object),
	.tp_dealloc = frame_dealloc,
	.tp_repr = frame_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_methods = output_frame_methods,
	.tp_members = output_frame_members,
	.tp_getset = output_frame_getset,
	.tp_doc = "A frame a Writer is filling, in a slot no reader sees until publish().\n\n"
	          "    with writer.frame() as frame:      # publishes at the end of the block\n"
	          "        frame.array()[:] = picture     # written straight into the slot\n\n"
	          "Set frame_number, capture_ns, flags, color_matrix and color_range before\n"
	          "publishing. Views of the pixels must be gone by publish(): see publish().\n"
	          "A frame dropped without publish() is cancelled. Made by Writer.frame().",
};
