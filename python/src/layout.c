/*
 * The shape Frame.array() gives each format, the one people's code expects (numpy and
 * OpenCV): H x W x 3 or 4 for packed RGB, H x W for gray, H x W x 2 for YUYV and UYVY,
 * and for NV12 and I420 the (H*3/2) x W single-channel layout cv2.cvtColor() takes, the
 * chroma rows below the luma rows.
 *
 * array() is a view of the slot (zero copy), so it exists only where the planes lie in
 * the slot exactly as that shape says; vshm's writers lay every format out that way
 * except I420 whose chroma rows are padded (width not a multiple of 128), and odd sizes
 * of NV12 and I420, which OpenCV's layout cannot hold. Writer.publish() copies from the
 * same shape into the planes, so it takes every size.
 */
#include "vshm-python.h"

int vshm_py_array_shape(uint32_t format, uint32_t width, uint32_t height, struct array_shape *shape,
                        const char **why)
{
	uint32_t channels = 1;
	switch (format) {
	case VSHM_FORMAT_GRAY8:
		*shape = (struct array_shape){ 2, { height, width, 0 }, 1 };
		return 0;
	case VSHM_FORMAT_NV12:
	case VSHM_FORMAT_I420:
		if (width % 2 || height % 2) {
			*why = "OpenCV's (H*3/2) x W layout of nv12 and i420 needs an even width "
			       "and height";
			return -1;
		}
		*shape = (struct array_shape){ 2, { height / 2 * 3, width, 0 }, 1 };
		return 0;
	case VSHM_FORMAT_YUYV:
	case VSHM_FORMAT_UYVY:
		channels = 2;
		break;
	case VSHM_FORMAT_RGB24:
	case VSHM_FORMAT_BGR24:
		channels = 3;
		break;
	case VSHM_FORMAT_RGBA:
	case VSHM_FORMAT_BGRA:
	case VSHM_FORMAT_XRGB8888:
		channels = 4;
		break;
	case VSHM_FORMAT_P010:
		*why = "p010's samples are 16-bit words, which the uint8 arrays of array() and "
		       "publish() do not hold: use frame.planes, numpy.asarray(plane).view('<u2') "
		       "gives the words (the value is word >> 6)";
		return -1;
	case VSHM_FORMAT_I444:
		*why = "i444 is three full-size planes, which no OpenCV layout holds: use "
		       "frame.planes";
		return -1;
	default:
		*why = "unknown pixel format";
		return -1;
	}
	*shape = (struct array_shape){ 3, { height, width, channels }, channels };
	return 0;
}

void vshm_py_array_plane_row(uint32_t format, uint32_t width, uint32_t height, uint32_t plane,
                             uint32_t row, uint64_t *array_row, uint64_t *byte, uint64_t *bytes)
{
	uint64_t w = width, h = height;
	if (plane == 0) {
		struct array_shape shape;
		const char *why;
		uint64_t channels = vshm_py_array_shape(format, width, height, &shape, &why) == 0
		                        ? shape.channels
		                        : 1;
		*array_row = row;
		*byte = 0;
		*bytes = w * channels;
		return;
	}
	/* Chroma of NV12 and I420: bytes after the luma, counted as if the array were one
	 * run of W-byte rows. An I420 chroma row is W/2 bytes, so two share an array row. */
	uint64_t linear;
	if (format == VSHM_FORMAT_NV12) {
		linear = h * w + (uint64_t)row * w;
		*bytes = w;
	} else {
		linear = h * w + (plane == 2 ? h / 2 * (w / 2) : 0) + (uint64_t)row * (w / 2);
		*bytes = w / 2;
	}
	*array_row = linear / w;
	*byte = linear % w;
}

/* Rows worth checking: the plane's layout is affine in the row, separately for even and
 * odd rows (I420), so the first four and the last decide for all of them. */
static bool plane_lies_in_array(const struct vshm_frame *frame, uint32_t plane,
                                const struct array_shape *shape)
{
	struct vshm_format_plane description;
	if (vshm_format_plane(frame->format, plane, &description) < 0)
		return false;
	uint32_t rows = (frame->height + description.vertical_subsampling - 1) /
	                description.vertical_subsampling;
	const uint32_t candidates[] = { 0, 1, 2, 3, rows - 1 };
	const uint8_t *base = frame->plane[0];
	uint64_t array_stride = frame->stride[0];
	for (unsigned i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		uint32_t row = candidates[i];
		if (row >= rows)
			continue;
		uint64_t array_row, byte, bytes;
		vshm_py_array_plane_row(frame->format, frame->width, frame->height, plane, row,
		                        &array_row, &byte, &bytes);
		if (array_row >= (uint64_t)shape->shape[0])
			return false;
		/* Compared as offsets from the first plane, never formed as pointers outside
		 * the slot. */
		if (frame->plane[plane] < base)
			return false;
		uint64_t in_array = array_row * array_stride + byte;
		uint64_t in_slot =
		    (uint64_t)(frame->plane[plane] - base) + (uint64_t)row * frame->stride[plane];
		if (in_array != in_slot)
			return false;
	}
	return true;
}

static PyObject *numpy_asarray;

static PyObject *asarray_function(void)
{
	if (numpy_asarray)
		return numpy_asarray;
	PyObject *numpy = PyImport_ImportModule("numpy");
	if (!numpy) {
		PyObject *type, *value, *traceback;
		PyErr_Fetch(&type, &value, &traceback);
		PyErr_SetString(PyExc_ImportError,
		                "Frame.array() needs numpy (Debian: python3-numpy); frame.planes "
		                "works without it");
		Py_XDECREF(type);
		Py_XDECREF(value);
		Py_XDECREF(traceback);
		return NULL;
	}
	numpy_asarray = PyObject_GetAttrString(numpy, "asarray");
	Py_DECREF(numpy);
	return numpy_asarray;
}

PyObject *vshm_py_frame_array(struct frame_object *frame)
{
	const struct vshm_frame *f = &frame->frame;
	struct array_shape shape;
	const char *why;
	if (vshm_py_array_shape(f->format, f->width, f->height, &shape, &why) < 0) {
		PyErr_Format(PyExc_ValueError, "this %s frame is %ux%u: %s; use frame.planes",
		             vshm_format_name(f->format), f->width, f->height, why);
		return NULL;
	}
	for (uint32_t plane = 1; plane < f->plane_count; plane++) {
		if (!plane_lies_in_array(f, plane, &shape)) {
			PyErr_Format(
			    PyExc_ValueError,
			    "the planes of this %s frame (%ux%u, strides %u %u %u) do not lie "
			    "as one (H*3/2) x W array, so array() cannot show them in place; "
			    "use frame.planes (for i420, widths that are multiples of 128 "
			    "work)",
			    vshm_format_name(f->format), f->width, f->height, f->stride[0],
			    f->stride[1], f->plane_count > 2 ? f->stride[2] : 0);
			return NULL;
		}
	}
	PyObject *asarray = asarray_function();
	if (!asarray)
		return NULL;
	Py_ssize_t strides[3] = { f->stride[0], shape.channels, 1 };
	if (shape.ndim == 2)
		strides[1] = 1;
	PyObject *view = vshm_py_view_new(frame, f->plane[0], shape.ndim, shape.shape, strides);
	if (!view)
		return NULL;
	/* numpy takes the buffer as it is (uint8, these strides): no copy is made here. */
	PyObject *array = PyObject_CallOneArg(asarray, view);
	Py_DECREF(view);
	return array;
}
