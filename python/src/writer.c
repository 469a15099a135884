/*
 * vshm.Writer: creates a stream and publishes frames into it, either filled in place
 * (frame(): an OutputFrame whose arrays are the slot itself) or copied from an array
 * (publish(): one copy, the one a caller with pixels elsewhere cannot avoid).
 */
#include "vshm-python.h"

#include <errno.h>
#include <string.h>
#include <structmember.h>

/* Frames at least this large are copied with the GIL released. */
#define COPY_WITHOUT_GIL_BYTES (256 * 1024)

static int check_usable(struct writer_object *self)
{
	if (!self->writer) {
		PyErr_Format(PyExc_ValueError, "the writer of stream '%s' is closed", self->name);
		return -1;
	}
	if (self->busy) {
		PyErr_Format(PyExc_RuntimeError,
		             "the writer of stream '%s' is copying a frame in another thread",
		             self->name);
		return -1;
	}
	if (self->begun) {
		PyErr_Format(
		    PyExc_RuntimeError,
		    "the writer of stream '%s' is filling frame %llu: publish or cancel it "
		    "first",
		    self->name, (unsigned long long)self->begun->frame.frame_number);
		return -1;
	}
	return 0;
}

/* Reads an optional whole number in minimum..maximum (None: *value untouched). */
static int whole_number(PyObject *object, const char *what, unsigned long long minimum,
                        unsigned long long maximum, unsigned long long *value)
{
	if (!object || object == Py_None)
		return 0;
	if (!PyLong_Check(object) || PyBool_Check(object)) {
		PyErr_Format(PyExc_TypeError, "%s must be an integer, not %s", what,
		             Py_TYPE(object)->tp_name);
		return -1;
	}
	int overflow;
	long long parsed = PyLong_AsLongLongAndOverflow(object, &overflow);
	if (parsed == -1 && PyErr_Occurred())
		return -1;
	if (overflow || parsed < 0 || (unsigned long long)parsed < minimum ||
	    (unsigned long long)parsed > maximum) {
		PyErr_Format(PyExc_ValueError, "%s must be %llu..%llu, not %R", what, minimum,
		             maximum, object);
		return -1;
	}
	*value = (unsigned long long)parsed;
	return 0;
}

static int dimension(PyObject *object, const char *what, uint32_t *value)
{
	unsigned long long parsed = 0;
	if (object == Py_None) {
		PyErr_Format(PyExc_TypeError, "%s must be an integer, not None", what);
		return -1;
	}
	if (whole_number(object, what, 1, VSHM_FORMAT_DIMENSION_MAX, &parsed) < 0)
		return -1;
	*value = (uint32_t)parsed;
	return 0;
}

static PyObject *writer_new(PyTypeObject *type, PyObject *arguments, PyObject *keywords)
{
	static char *names[] = { "name",    "format", "width", "height", "slots",
		                 "readers", "fps",    "group", NULL };
	const char *name;
	PyObject *format_value, *width_value, *height_value;
	PyObject *slots_value = Py_None, *readers_value = Py_None, *fps_value = Py_None;
	int group = 0;
	if (!PyArg_ParseTupleAndKeywords(arguments, keywords, "sOOO|$OOOp:Writer", names, &name,
	                                 &format_value, &width_value, &height_value, &slots_value,
	                                 &readers_value, &fps_value, &group))
		return NULL;
	uint32_t format, width, height;
	unsigned long long slots = 0, readers = 0;
	double fps = 0;
	if (vshm_py_check_name(name) < 0 || vshm_py_parse_format(format_value, &format) < 0 ||
	    dimension(width_value, "width", &width) < 0 ||
	    dimension(height_value, "height", &height) < 0 ||
	    whole_number(slots_value, "slots", VSHM_SLOT_COUNT_MIN, VSHM_SLOT_COUNT_MAX, &slots) <
	        0 ||
	    whole_number(readers_value, "readers", 1, 1024, &readers) < 0)
		return NULL;
	if (fps_value != Py_None) {
		fps = PyFloat_AsDouble(fps_value);
		if (fps == -1.0 && PyErr_Occurred())
			return NULL;
		if (!(fps > 0 && fps <= 1000)) {
			PyErr_Format(PyExc_ValueError,
			             "fps must be above 0 and at most 1000, not %R", fps_value);
			return NULL;
		}
	}
	struct writer_object *self = (struct writer_object *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	snprintf(self->name, sizeof(self->name), "%s", name);
	self->format = format;
	self->width = width;
	self->height = height;
	struct vshm_writer_options options = {
		.slot_count = (uint32_t)slots,
		.reader_capacity = (uint32_t)readers,
		.max_format = format,
		.max_width = width,
		.max_height = height,
		.frame_interval_ns = fps > 0 ? (uint64_t)(1e9 / fps) : 0,
		.group_access = group,
	};
	self->writer = vshm_writer_create(name, &options);
	if (!self->writer) {
		vshm_py_raise_library(errno);
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static void writer_dealloc(PyObject *object)
{
	struct writer_object *self = (struct writer_object *)object;
	/* A begun frame keeps its writer alive, so none is begun here. */
	vshm_writer_destroy(self->writer);
	Py_TYPE(object)->tp_free(object);
}

static PyObject *writer_repr(PyObject *object)
{
	struct writer_object *self = (struct writer_object *)object;
	return PyUnicode_FromFormat("<vshm.Writer of '%s': %s %ux%u%s>", self->name,
	                            vshm_format_name(self->format), self->width, self->height,
	                            self->writer ? "" : ", closed");
}

/* Begins a frame. Returns 0 with *frame laid out, or -1 with an exception set. */
static int begin(struct writer_object *self, uint32_t format, uint32_t width, uint32_t height,
                 struct vshm_frame *frame)
{
	int result = vshm_writer_begin(self->writer, format, width, height, frame);
	if (result == -EINVAL) {
		PyErr_Format(PyExc_ValueError, "a %s frame of %ux%u cannot be made",
		             vshm_format_name(format), width, height);
		return -1;
	}
	if (result < 0) {
		vshm_py_raise_library(-result);
		return -1;
	}
	frame->frame_number = self->next_frame_number;
	frame->capture_ns = vshm_now_ns();
	return 0;
}

int vshm_py_writer_finish(struct writer_object *self, struct frame_object *frame, bool publish)
{
	self->begun = NULL;
	if (!publish) {
		vshm_writer_cancel(self->writer);
		frame->state = FRAME_CANCELLED;
		return 0;
	}
	int result = vshm_writer_publish(self->writer, &frame->frame);
	if (result < 0) {
		frame->state = FRAME_CANCELLED;
		vshm_py_raise_library(-result);
		return -1;
	}
	frame->state = FRAME_PUBLISHED;
	self->next_frame_number = frame->frame.frame_number + 1;
	return 0;
}

static PyObject *writer_frame(PyObject *object, PyObject *arguments, PyObject *keywords)
{
	struct writer_object *self = (struct writer_object *)object;
	static char *names[] = { "format", "width", "height", NULL };
	PyObject *format_value = Py_None, *width_value = Py_None, *height_value = Py_None;
	if (!PyArg_ParseTupleAndKeywords(arguments, keywords, "|OOO:frame", names, &format_value,
	                                 &width_value, &height_value) ||
	    check_usable(self) < 0)
		return NULL;
	uint32_t format = self->format, width = self->width, height = self->height;
	if ((format_value != Py_None && vshm_py_parse_format(format_value, &format) < 0) ||
	    (width_value != Py_None && dimension(width_value, "width", &width) < 0) ||
	    (height_value != Py_None && dimension(height_value, "height", &height) < 0))
		return NULL;
	struct vshm_frame frame;
	if (begin(self, format, width, height, &frame) < 0)
		return NULL;
	struct frame_object *result = vshm_py_frame_new(object, &frame, true);
	if (!result) {
		vshm_writer_cancel(self->writer);
		return NULL;
	}
	self->begun = result;
	return (PyObject *)result;
}

static PyObject *shape_text(const Py_buffer *buffer)
{
	PyObject *shape = PyTuple_New(buffer->ndim);
	for (int i = 0; shape && i < buffer->ndim; i++)
		PyTuple_SET_ITEM(shape, i, PyLong_FromSsize_t(buffer->shape[i]));
	return shape;
}

/* Finds width and height from the shape of an array for format, or raises ValueError. */
static int size_from_shape(const Py_buffer *buffer, uint32_t format, uint32_t *width,
                           uint32_t *height)
{
	struct array_shape expected;
	const char *why;
	if (vshm_py_array_shape(format, 2, 2, &expected, &why) < 0) {
		PyErr_Format(PyExc_ValueError,
		             "publish() takes the formats vshm.array_formats() lists, not %s: %s; "
		             "fill the planes of writer.frame() instead",
		             vshm_format_name(format), why);
		return -1;
	}
	bool planar = format == VSHM_FORMAT_NV12 || format == VSHM_FORMAT_I420;
	const char *wanted = expected.ndim == 2 ? (planar ? "(H*3/2, W)" : "(H, W)") : NULL;
	char wanted_packed[32];
	if (!wanted) {
		snprintf(wanted_packed, sizeof(wanted_packed), "(H, W, %u)", expected.channels);
		wanted = wanted_packed;
	}
	bool fits = buffer->ndim == expected.ndim &&
	            (expected.ndim == 2 || buffer->shape[2] == expected.shape[2]) &&
	            buffer->shape[0] >= 1 && buffer->shape[1] >= 1 &&
	            buffer->shape[1] <= VSHM_FORMAT_DIMENSION_MAX &&
	            buffer->shape[0] <=
	                (planar ? VSHM_FORMAT_DIMENSION_MAX / 2 * 3 : VSHM_FORMAT_DIMENSION_MAX) &&
	            (!planar || buffer->shape[0] % 3 == 0);
	if (fits) {
		*width = (uint32_t)buffer->shape[1];
		*height = (uint32_t)(planar ? buffer->shape[0] / 3 * 2 : buffer->shape[0]);
		if (vshm_py_array_shape(format, *width, *height, &expected, &why) < 0)
			fits = false;
		/* A half-filled last pixel pair would publish bytes nobody wrote. */
		if ((format == VSHM_FORMAT_YUYV || format == VSHM_FORMAT_UYVY) && *width % 2) {
			why = "yuyv and uyvy need an even width";
			fits = false;
		}
	} else {
		why = "sizes 1..16384";
	}
	if (fits)
		return 0;
	PyObject *got = shape_text(buffer);
	if (got) {
		PyErr_Format(PyExc_ValueError,
		             "publish() takes %s frames as uint8 arrays of shape %s (%s); this one "
		             "has shape %R",
		             vshm_format_name(format), wanted, planar ? "H and W even" : why, got);
		Py_DECREF(got);
	}
	return -1;
}

/*
 * Copies the array into the begun frame's planes, row by row where rows are contiguous
 * in the array. This is the one copy publish() makes, and the reason frame() exists.
 */
static void copy_into_frame(const Py_buffer *buffer, const struct vshm_frame *frame,
                            uint32_t channels)
{
	bool packed_rows = buffer->ndim == 2 ? buffer->strides[1] == 1
	                                     : buffer->strides[2] == 1 &&
	                                           buffer->strides[1] == (Py_ssize_t)channels;
	for (uint32_t plane = 0; plane < frame->plane_count; plane++) {
		struct vshm_format_plane description;
		vshm_format_plane(frame->format, plane, &description);
		uint32_t rows = (frame->height + description.vertical_subsampling - 1) /
		                description.vertical_subsampling;
		for (uint32_t row = 0; row < rows; row++) {
			uint64_t array_row, byte, bytes;
			vshm_py_array_plane_row(frame->format, frame->width, frame->height, plane,
			                        row, &array_row, &byte, &bytes);
			uint8_t *to = frame->plane[plane] + (uint64_t)row * frame->stride[plane];
			const char *from =
			    (const char *)buffer->buf + (Py_ssize_t)array_row * buffer->strides[0];
			if (packed_rows) {
				memcpy(to, from + byte, bytes);
				continue;
			}
			for (uint64_t i = 0; i < bytes; i++) {
				uint64_t at = byte + i;
				Py_ssize_t offset =
				    (Py_ssize_t)(at / channels) * buffer->strides[1];
				if (buffer->ndim == 3)
					offset += (Py_ssize_t)(at % channels) * buffer->strides[2];
				to[i] = (uint8_t)from[offset];
			}
		}
	}
}

static int uint8_items(PyObject *array, const Py_buffer *buffer)
{
	if (buffer->itemsize == 1 && (!buffer->format || strcmp(buffer->format, "B") == 0))
		return 0;
	PyObject *dtype = PyObject_GetAttrString(array, "dtype");
	if (dtype) {
		PyErr_Format(PyExc_TypeError, "publish() takes uint8 samples; this array holds %S",
		             dtype);
		Py_DECREF(dtype);
	} else {
		PyErr_Clear();
		PyErr_Format(PyExc_TypeError,
		             "publish() takes uint8 samples; this buffer holds items of format "
		             "'%s'",
		             buffer->format ? buffer->format : "?");
	}
	return -1;
}

static PyObject *writer_publish(PyObject *object, PyObject *arguments, PyObject *keywords)
{
	struct writer_object *self = (struct writer_object *)object;
	static char *names[] = { "array",
		                 "format",
		                 "frame_number",
		                 "capture_ns",
		                 "flags",
		                 "color_matrix",
		                 "color_range",
		                 "color_primaries",
		                 "color_transfer",
		                 "sample_aspect",
		                 NULL };
	PyObject *array, *format_value = Py_None, *number_value = Py_None, *capture_value = Py_None;
	PyObject *flags_value = Py_None, *matrix_value = Py_None, *range_value = Py_None;
	PyObject *primaries_value = Py_None, *transfer_value = Py_None, *aspect_value = Py_None;
	if (!PyArg_ParseTupleAndKeywords(arguments, keywords, "O|$OOOOOOOOO:publish", names, &array,
	                                 &format_value, &number_value, &capture_value, &flags_value,
	                                 &matrix_value, &range_value, &primaries_value,
	                                 &transfer_value, &aspect_value) ||
	    check_usable(self) < 0)
		return NULL;
	unsigned long long primaries = 0, transfer = 0;
	struct vshm_ratio aspect;
	if (whole_number(primaries_value, "color_primaries", 0, UINT8_MAX, &primaries) < 0 ||
	    whole_number(transfer_value, "color_transfer", 0, UINT8_MAX, &transfer) < 0 ||
	    vshm_py_parse_aspect(aspect_value, &aspect) < 0)
		return NULL;
	uint32_t format = self->format;
	unsigned long long number = self->next_frame_number, capture = vshm_now_ns();
	unsigned long long flags = 0, matrix = 0, range = 0;
	if ((format_value != Py_None && vshm_py_parse_format(format_value, &format) < 0) ||
	    whole_number(number_value, "frame_number", 0, UINT64_MAX, &number) < 0 ||
	    whole_number(capture_value, "capture_ns", 0, UINT64_MAX, &capture) < 0 ||
	    whole_number(flags_value, "flags", 0, UINT32_MAX, &flags) < 0 ||
	    whole_number(matrix_value, "color_matrix", 0, UINT8_MAX, &matrix) < 0 ||
	    whole_number(range_value, "color_range", 0, UINT8_MAX, &range) < 0)
		return NULL;
	if (!PyObject_CheckBuffer(array)) {
		PyErr_Format(PyExc_TypeError,
		             "publish() takes a numpy array (or another object with the buffer "
		             "protocol), not %s",
		             Py_TYPE(array)->tp_name);
		return NULL;
	}
	Py_buffer buffer;
	if (PyObject_GetBuffer(array, &buffer, PyBUF_RECORDS_RO) < 0)
		return NULL;
	uint32_t width, height;
	struct vshm_frame frame;
	PyObject *result = NULL;
	if (uint8_items(array, &buffer) < 0 ||
	    size_from_shape(&buffer, format, &width, &height) < 0 ||
	    begin(self, format, width, height, &frame) < 0)
		goto out;
	struct array_shape shape;
	const char *why;
	vshm_py_array_shape(format, width, height, &shape, &why);
	if (buffer.len >= COPY_WITHOUT_GIL_BYTES) {
		self->busy = true;
		PyThreadState *saved_thread = PyEval_SaveThread();
		copy_into_frame(&buffer, &frame, shape.channels);
		PyEval_RestoreThread(saved_thread);
		self->busy = false;
	} else {
		copy_into_frame(&buffer, &frame, shape.channels);
	}
	frame.frame_number = number;
	frame.capture_ns = capture;
	frame.flags = (uint32_t)flags;
	frame.color_matrix = (uint8_t)matrix;
	frame.color_range = (uint8_t)range;
	frame.color_primaries = (uint8_t)primaries;
	frame.color_transfer = (uint8_t)transfer;
	frame.sample_aspect = aspect;
	int published = vshm_writer_publish(self->writer, &frame);
	if (published < 0) {
		vshm_py_raise_library(-published);
		goto out;
	}
	self->next_frame_number = number + 1;
	result = Py_NewRef(Py_None);
out:
	PyBuffer_Release(&buffer);
	return result;
}

static PyObject *writer_close(PyObject *object, PyObject *unused)
{
	struct writer_object *self = (struct writer_object *)object;
	if (!self->writer)
		Py_RETURN_NONE;
	if (self->busy) {
		PyErr_Format(PyExc_RuntimeError,
		             "the writer of stream '%s' is copying a frame in another thread",
		             self->name);
		return NULL;
	}
	if (self->begun) {
		if (vshm_py_frame_check_unused(self->begun, "cancelled by close()",
		                               "delete them before closing") < 0 ||
		    vshm_py_writer_finish(self, self->begun, false) < 0)
			return NULL;
	}
	vshm_writer_destroy(self->writer);
	self->writer = NULL;
	Py_RETURN_NONE;
}

static PyObject *writer_enter(PyObject *object, PyObject *unused)
{
	struct writer_object *self = (struct writer_object *)object;
	if (!self->writer)
		return PyErr_Format(PyExc_ValueError, "the writer of stream '%s' is closed",
		                    self->name);
	return Py_NewRef(object);
}

static PyObject *writer_exit(PyObject *object, PyObject *arguments)
{
	struct writer_object *self = (struct writer_object *)object;
	bool failed = PyTuple_GET_SIZE(arguments) > 0 && PyTuple_GET_ITEM(arguments, 0) != Py_None;
	if (failed && self->begun && self->begun->exports > 0)
		Py_RETURN_FALSE; /* closed when freed; see Reader.__exit__ */
	PyObject *result = writer_close(object, NULL);
	if (!result)
		return NULL;
	Py_DECREF(result);
	Py_RETURN_FALSE;
}

static PyObject *writer_name(PyObject *object, void *closure)
{
	return PyUnicode_FromString(((struct writer_object *)object)->name);
}

static PyObject *writer_closed(PyObject *object, void *closure)
{
	return PyBool_FromLong(((struct writer_object *)object)->writer == NULL);
}

static PyObject *writer_format(PyObject *object, void *closure)
{
	return PyUnicode_FromString(vshm_format_name(((struct writer_object *)object)->format));
}

static PyObject *writer_stats(PyObject *object, void *closure)
{
	struct writer_object *self = (struct writer_object *)object;
	if (!self->writer)
		return PyErr_Format(PyExc_ValueError, "the writer of stream '%s' is closed",
		                    self->name);
	struct vshm_writer_stats s;
	vshm_writer_get_stats(self->writer, &s);
	return Py_BuildValue(
	    "{s:K,s:K,s:K,s:I,s:I,s:K,s:K}", "frames_published",
	    (unsigned long long)s.frames_published, "overwrites", (unsigned long long)s.overwrites,
	    "frames_dropped", (unsigned long long)s.frames_dropped, "readers_attached",
	    (unsigned int)s.readers_attached, "slot_count", (unsigned int)s.slot_count, "slot_size",
	    (unsigned long long)s.slot_size, "segments_created",
	    (unsigned long long)s.segments_created);
}

static PyMethodDef writer_methods[] = {
	{ "frame", (PyCFunction)(void (*)(void))writer_frame, METH_VARARGS | METH_KEYWORDS,
	  "frame(format=None, width=None, height=None)\n--\n\n"
	  "Begins a frame (by default in the writer's format and size) in a slot no reader\n"
	  "holds, and returns it as an OutputFrame to fill in place: no copy. Publish it\n"
	  "with publish() or at the end of a `with` block. A frame larger than the slots\n"
	  "moves the stream to bigger ones (readers follow by themselves)." },
	{ "publish", (PyCFunction)(void (*)(void))writer_publish, METH_VARARGS | METH_KEYWORDS,
	  "publish(array, *, format=None, frame_number=None, capture_ns=None, flags=0,\n"
	  "        color_matrix=0, color_range=0, color_primaries=0, color_transfer=0,\n"
	  "        sample_aspect=None)\n--\n\n"
	  "Copies a uint8 array into a new frame and publishes it: the convenience for\n"
	  "pixels made elsewhere, at the cost of one copy of the frame (frame() fills the\n"
	  "slot in place instead). The array has the shape Frame.array() gives, which sets\n"
	  "the frame's size: (H, W, 3) for rgb24, (H*3/2, W) for nv12, ... Any strides.\n"
	  "frame_number defaults to one more than the last, capture_ns to now." },
	{ "close", writer_close, METH_NOARGS,
	  "close()\n--\n\n"
	  "Cancels a frame being filled, marks the stream closed and removes it; readers\n"
	  "keep their last frame. Raises BufferError while views of a begun frame live." },
	{ "__enter__", writer_enter, METH_NOARGS, NULL },
	{ "__exit__", writer_exit, METH_VARARGS, "Closes the writer." },
	{ 0 },
};

static PyGetSetDef writer_getset[] = {
	{ "name", writer_name, NULL, "The stream's name.", NULL },
	{ "closed", writer_closed, NULL, "True once close() removed the stream.", NULL },
	{ "format", writer_format, NULL, "The format frame() and publish() make by default.",
	  NULL },
	{ "stats", writer_stats, NULL,
	  "A dict: frames_published, overwrites, frames_dropped, readers_attached,\n"
	  "slot_count, slot_size, segments_created.",
	  NULL },
	{ 0 },
};

static PyMemberDef writer_members[] = {
	{ "width", T_UINT, offsetof(struct writer_object, width), READONLY,
	  "The width frame() makes by default." },
	{ "height", T_UINT, offsetof(struct writer_object, height), READONLY,
	  "The height frame() makes by default." },
	{ 0 },
};

PyTypeObject vshm_py_writer_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vshm.Writer",
	.tp_basicsize = sizeof(struct writer_object),
	.tp_dealloc = writer_dealloc,
	.tp_repr = writer_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_methods = writer_methods,
	.tp_members = writer_members,
	.tp_getset = writer_getset,
	.tp_new = writer_new,
	.tp_doc =
	    "Writer(name, format, width, height, *, slots=None, readers=None, fps=None, "
	    "group=False)\n--\n\n"
	    "Creates the vshm stream `name` (removed again by close(), or when the writer is\n"
	    "freed) and publishes frames into it. The writer never waits for readers.\n\n"
	    "    with vshm.Writer('gen', 'rgb24', 640, 480, fps=30) as writer:\n"
	    "        with writer.frame() as frame:        # filled in place, published at the end\n"
	    "            frame.array()[:] = (255, 0, 0)\n"
	    "        writer.publish(picture)              # or one copy from any uint8 array\n\n"
	    "format and size are the default frame and size the slots: later frames may\n"
	    "differ (the stream moves to bigger slots when needed). slots: ring slots, 3..64\n"
	    "(default 3); readers: reader table entries, 1..1024 (default 64); fps: the\n"
	    "nominal rate, for listings; group: mode 0660 instead of 0600.\n\n"
	    "Errors: ValueError for a bad name, format or size; vshm.StreamError (an OSError)\n"
	    "when the stream cannot be made, e.g. errno EBUSY while a live writer has the\n"
	    "name.",
};
