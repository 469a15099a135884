/*
 * The CPython extension module vshm._vshm: Python objects over libvshm. This header is
 * shared by its files (module.c, errors.c, reader.c, writer.c, frame.c, view.c,
 * layout.c) and by nothing else; every name in it is hidden in the built module.
 *
 * The one rule the whole module keeps (frame.c explains it): pixels reach Python only
 * as exports of the buffer protocol from view objects (view.c), and a frame counts the
 * exports of its views. A frame gives its slot back (a reader's release, a writer's
 * publish or cancel) only while that count is zero; otherwise the call raises
 * BufferError and the frame stays held. So no memoryview or numpy array can ever point
 * into a slot its process no longer holds, and no mapping is unmapped under one.
 *
 * Thread safety: every function here runs with the GIL held. The only calls made with
 * the GIL released are libvshm waits and sleeps in reader.c and the copy in
 * Writer.publish(); while one runs, its object is marked busy and refuses other calls.
 */
#ifndef VSHM_PYTHON_H
#define VSHM_PYTHON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stdint.h>

#include <vshm/vshm.h>

struct frame_object;

struct reader_object {
	PyObject_HEAD struct vshm_reader *reader; /* NULL once closed */
	/* The frame object holding the slot, borrowed (the frame owns a reference to us
	 * and clears this when it lets the slot go). NULL if none. */
	struct frame_object *held;
	/* A slot still held for a frame object that was freed while another thread waited
	 * in this reader; given back as soon as that thread is done. */
	bool orphan_hold;
	bool busy;      /* a thread is inside libvshm with the GIL released */
	bool follow;    /* iteration re-attaches to a new writer of the name by itself */
	bool ended;     /* iteration has passed on a frame that says end of stream */
	double timeout; /* seconds; negative waits without limit */
	char name[VSHM_NAME_MAX + 1];
};

struct writer_object {
	PyObject_HEAD struct vshm_writer *writer; /* NULL once closed */
	struct frame_object *begun;               /* borrowed, as reader_object.held */
	bool busy;
	uint32_t format, width, height; /* what frame() and publish() make by default */
	uint64_t next_frame_number;
	char name[VSHM_NAME_MAX + 1];
};

enum frame_state {
	FRAME_HELD,      /* a reader's slot is held, or a writer's frame is begun */
	FRAME_RELEASED,  /* a reader gave the slot back */
	FRAME_PUBLISHED, /* a writer published it */
	FRAME_CANCELLED, /* a writer gave it up, or the frame was dropped */
};

struct frame_object {
	PyObject_HEAD PyObject *owner; /* the Reader or Writer, a strong reference */
	struct vshm_frame frame;
	enum frame_state state;
	bool output; /* a writer's frame (OutputFrame), whose pixels may be written */
	/* Buffer exports of views of this frame's pixels that are still alive. */
	Py_ssize_t exports;
};

/* An exporter of one view of a frame's pixels: a plane, or the array() layout. */
struct view_object {
	PyObject_HEAD struct frame_object *frame; /* strong */
	uint8_t *data;
	int ndim;
	Py_ssize_t shape[3];
	Py_ssize_t strides[3];
};

extern PyTypeObject vshm_py_reader_type;
extern PyTypeObject vshm_py_writer_type;
extern PyTypeObject vshm_py_frame_type;
extern PyTypeObject vshm_py_output_frame_type;
extern PyTypeObject vshm_py_view_type;

/* errors.c: the exception classes, created by vshm_py_errors_add(). */
extern PyObject *vshm_py_stream_error;
extern PyObject *vshm_py_writer_gone;
extern PyObject *vshm_py_timeout;
extern PyObject *vshm_py_stream_replaced;

/* Creates the exception classes and adds them to module. Returns 0 or -1 (exception set). */
int vshm_py_errors_add(PyObject *module);

/*
 * Raises the exception for a failure with positive errno `error`: WriterGone (EPIPE),
 * Timeout (ETIMEDOUT), StreamReplaced (ESTALE) or StreamError (any other: an OSError
 * carrying errno), ValueError for EINVAL, MemoryError for ENOMEM. vshm_py_raise() takes
 * the message (printf-style); vshm_py_raise_library() uses vshm_error()'s sentence, for
 * right after the libvshm call that failed and set it. Both return NULL.
 */
PyObject *vshm_py_raise(int error, const char *format, ...) __attribute__((format(printf, 2, 3)));
PyObject *vshm_py_raise_library(int error);

/* Checks a stream name; raises ValueError naming the rule it breaks. Returns 0 or -1. */
int vshm_py_check_name(const char *name);

/*
 * Reads a timeout argument: None (wait without limit, *seconds = -1) or a number of
 * seconds, 0 or more. Raises TypeError or ValueError. Returns 0 or -1.
 */
int vshm_py_parse_timeout(PyObject *value, double *seconds);

/* Reads a format argument (a name such as "nv12", any case). Returns 0 or -1. */
int vshm_py_parse_format(PyObject *value, uint32_t *format);

/* frame.c */

/* A new frame object over *frame, held, owned by owner. NULL with an exception set. */
struct frame_object *vshm_py_frame_new(PyObject *owner, const struct vshm_frame *frame,
                                       bool output);

/*
 * Raises BufferError if views of the frame's pixels are alive, saying what to do;
 * `action` completes "cannot be ..." ("released", "published", ...) and `advice` ends
 * the message. Returns 0 when nothing holds a view, or -1.
 */
int vshm_py_frame_check_unused(struct frame_object *frame, const char *action, const char *advice);

/* view.c: a view exporter over data (ndim 1..3, byte items). NULL with an exception. */
PyObject *vshm_py_view_new(struct frame_object *frame, uint8_t *data, int ndim,
                           const Py_ssize_t *shape, const Py_ssize_t *strides);

/* reader.c: gives a reader frame's slot back. Returns 1 intact, 0 torn. */
int vshm_py_reader_give_back(struct reader_object *reader, struct frame_object *frame);

/* reader.c: called by a frame freed while its slot is still held. */
void vshm_py_reader_drop(struct reader_object *reader, struct frame_object *frame);

/* writer.c: publishes (publish true) or cancels a writer's begun frame. Returns 0 or -1. */
int vshm_py_writer_finish(struct writer_object *writer, struct frame_object *frame, bool publish);

/* layout.c: the array() shape of frames, and where each plane row lies in it. */
/*
 * Parses a sample aspect ratio given to Python: None (unknown, 0/0) or two whole numbers
 * 1..2^32-1. Returns 0, or -1 with ValueError raised (*aspect untouched).
 */
int vshm_py_parse_aspect(PyObject *value, struct vshm_ratio *aspect);

struct array_shape {
	int ndim;
	Py_ssize_t shape[3];
	uint32_t channels; /* bytes per pixel of an array row: 1 for gray and planar YUV */
};

/*
 * The shape array() gives a width x height frame of format: H x W x C for packed RGB,
 * H x W for gray, (H*3/2) x W for NV12 and I420 (OpenCV's layout, so both sides must be
 * even), H x W x 2 for YUYV and UYVY. Returns 0, or -1 with *why saying what is wrong.
 */
int vshm_py_array_shape(uint32_t format, uint32_t width, uint32_t height, struct array_shape *shape,
                        const char **why);

/*
 * Where row `row` of plane `plane` lies in that shape: its array row, the byte in that
 * row where it starts (column times channels plus channel), and how many bytes of the
 * plane row the array shows.
 */
void vshm_py_array_plane_row(uint32_t format, uint32_t width, uint32_t height, uint32_t plane,
                             uint32_t row, uint64_t *array_row, uint64_t *byte, uint64_t *bytes);

/*
 * The array() of a held frame: its pixels in place, as one numpy array. Returns a new
 * reference, or NULL with ValueError when the frame's planes do not lie as the shape
 * needs (then frame.planes still shows them), or ImportError without numpy.
 */
PyObject *vshm_py_frame_array(struct frame_object *frame);

#endif
