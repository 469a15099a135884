/*
 * View objects: the only way pixels reach Python. Each exports one view of a held
 * frame's memory through the buffer protocol (a plane as rows of bytes, or the whole
 * frame in the shape array() gives), straight from the slot: nothing is copied, the
 * Py_buffer points into the shared mapping.
 *
 * Every export is counted on the frame (frame_object.exports) and uncounted when its
 * consumer lets it go, which for a memoryview or a numpy array is when the last object
 * that sees those bytes is freed (numpy keeps the export of the array it was made from
 * alive through every view derived from it). The frame refuses to give its slot back
 * while the count is not zero (frame.c), and a view refuses new exports once its frame
 * has let the slot go.
 */
#include "vshm-python.h"

static int view_getbuffer(PyObject *object, Py_buffer *buffer, int flags)
{
	struct view_object *view = (struct view_object *)object;
	struct frame_object *frame = view->frame;
	if (frame->state != FRAME_HELD) {
		PyErr_SetString(PyExc_BufferError,
		                "this vshm frame was given back: its slot may already hold "
		                "another frame");
		return -1;
	}
	if ((flags & PyBUF_WRITABLE) == PyBUF_WRITABLE && !frame->output) {
		PyErr_SetString(PyExc_BufferError,
		                "a reader's frame is read-only: its pixels belong to the writer");
		return -1;
	}
	/* A consumer that takes no strides can only walk memory one byte after another. */
	Py_ssize_t items = 1;
	bool contiguous = true;
	Py_ssize_t expected_stride = 1;
	for (int i = view->ndim - 1; i >= 0; i--) {
		items *= view->shape[i];
		if (view->shape[i] > 1 && view->strides[i] != expected_stride)
			contiguous = false;
		expected_stride *= view->shape[i];
	}
	if ((flags & PyBUF_STRIDES) != PyBUF_STRIDES && !contiguous) {
		PyErr_SetString(PyExc_BufferError,
		                "this view of a vshm frame has padded rows: its consumer must "
		                "take strides");
		return -1;
	}
	buffer->buf = view->data;
	buffer->obj = Py_NewRef(object);
	buffer->len = items;
	buffer->itemsize = 1;
	buffer->readonly = !frame->output;
	buffer->ndim = view->ndim;
	buffer->format = (flags & PyBUF_FORMAT) == PyBUF_FORMAT ? "B" : NULL;
	buffer->shape = (flags & PyBUF_ND) == PyBUF_ND ? view->shape : NULL;
	buffer->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? view->strides : NULL;
	buffer->suboffsets = NULL;
	buffer->internal = NULL;
	frame->exports++;
	return 0;
}

static void view_releasebuffer(PyObject *object, Py_buffer *buffer)
{
	struct view_object *view = (struct view_object *)object;
	view->frame->exports--;
}

static void view_dealloc(PyObject *object)
{
	struct view_object *view = (struct view_object *)object;
	Py_XDECREF(view->frame);
	Py_TYPE(object)->tp_free(object);
}

static PyBufferProcs view_buffer_procs = {
	.bf_getbuffer = view_getbuffer,
	.bf_releasebuffer = view_releasebuffer,
};

PyTypeObject vshm_py_view_type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vshm.FrameBuffer",
	.tp_basicsize = sizeof(struct view_object),
	.tp_dealloc = view_dealloc,
	.tp_as_buffer = &view_buffer_procs,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "The exporter behind a frame's memoryviews and arrays (see Frame.planes and\n"
	          "Frame.array()): the pixels in the slot, through the buffer protocol, for as\n"
	          "long as the frame holds the slot. Not made directly.",
};

PyObject *vshm_py_view_new(struct frame_object *frame, uint8_t *data, int ndim,
                           const Py_ssize_t *shape, const Py_ssize_t *strides)
{
	struct view_object *view = PyObject_New(struct view_object, &vshm_py_view_type);
	if (!view)
		return NULL;
	view->frame = (struct frame_object *)Py_NewRef((PyObject *)frame);
	view->data = data;
	view->ndim = ndim;
	for (int i = 0; i < 3; i++) {
		view->shape[i] = i < ndim ? shape[i] : 0;
		view->strides[i] = i < ndim ? strides[i] : 0;
	}
	return (PyObject *)view;
}
