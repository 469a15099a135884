"""Frame layouts as the tests define them, independently of the module: the planes of
each format, and the array() layout built from planes (and planes from it)."""

import numpy as np

PLANES = {  # format: [(bytes per sample, horizontal, vertical subsampling) per plane]
    "nv12": [(1, 1, 1), (2, 2, 2)],
    "i420": [(1, 1, 1), (1, 2, 2), (1, 2, 2)],
    "yuyv": [(4, 2, 1)],
    "uyvy": [(4, 2, 1)],
    "rgb24": [(3, 1, 1)],
    "bgr24": [(3, 1, 1)],
    "rgba": [(4, 1, 1)],
    "bgra": [(4, 1, 1)],
    "xrgb8888": [(4, 1, 1)],
    "gray8": [(1, 1, 1)],
}
CHANNELS = {"yuyv": 2, "uyvy": 2, "rgb24": 3, "bgr24": 3, "rgba": 4, "bgra": 4, "xrgb8888": 4}


def plane_shapes(fmt, width, height):
    """(rows, row bytes) of each plane."""
    return [(-(-height // sub_y), -(-width // sub_x) * size) for size, sub_x, sub_y in PLANES[fmt]]


def split_planes(fmt, width, height, data):
    """Planes from their rows one after another, without padding."""
    planes, at = [], 0
    for rows, row_bytes in plane_shapes(fmt, width, height):
        planes.append(np.frombuffer(data, np.uint8, rows * row_bytes, at).reshape(rows, row_bytes))
        at += rows * row_bytes
    assert at == len(data)
    return planes


def array_shape(fmt, width, height):
    if fmt in ("nv12", "i420"):
        return (height * 3 // 2, width)
    if fmt == "gray8":
        return (height, width)
    return (height, width, CHANNELS[fmt])


def expected_array(fmt, width, height, planes):
    """What array() must show: for nv12 and i420 the planes' bytes one after another
    as (H*3/2) x W rows (OpenCV's layout), else the pixels of plane 0."""
    if fmt in ("nv12", "i420"):
        return np.concatenate([p.ravel() for p in planes]).reshape(height * 3 // 2, width)
    return planes[0][:, : width * CHANNELS.get(fmt, 1)].reshape(array_shape(fmt, width, height))


def planes_of_array(fmt, width, height, array):
    """The planes a frame published from array must have (the inverse of the above)."""
    return split_planes(fmt, width, height, np.ascontiguousarray(array).tobytes())
