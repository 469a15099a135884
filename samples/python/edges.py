#!/usr/bin/python3
"""A vshm filter with OpenCV: finds edges (Canny) and draws them in red on the picture.

    vshm-run 'samples/testsrc2-h264.mp4 --loop ! samples/python/edges.py ! view'

The output is always bgr24, OpenCV's own layout; the input may be any format OpenCV
can convert from. Needs python3-opencv.
"""
import sys

import cv2
import numpy as np

import vshm

# How OpenCV turns each input format into BGR. array() gives every format in the shape
# these conversions take: (H*3/2) x W for nv12 and i420, H x W x 2 for yuyv, ...
TO_BGR = {
    "nv12": cv2.COLOR_YUV2BGR_NV12,
    "i420": cv2.COLOR_YUV2BGR_I420,
    "yuyv": cv2.COLOR_YUV2BGR_YUYV,
    "uyvy": cv2.COLOR_YUV2BGR_UYVY,
    "rgb24": cv2.COLOR_RGB2BGR,
    "rgba": cv2.COLOR_RGBA2BGR,
    "bgra": cv2.COLOR_BGRA2BGR,
    "xrgb8888": cv2.COLOR_BGRA2BGR,  # bytes B G R X
    "gray8": cv2.COLOR_GRAY2BGR,
}


def opencv_layout(frame):
    """The input as OpenCV converts from it: frame.array(), a view of the input slot,
    except i420 frames whose chroma rows are padded (widths that are not multiples of
    128), which no array can show in OpenCV's layout: their planes are gathered into
    one array instead, the one copy this filter then makes."""
    try:
        return frame.array()
    except ValueError:
        planes = [np.asarray(plane) for plane in frame.planes]
        return np.concatenate([plane.ravel() for plane in planes]).reshape(-1, frame.width)


def draw_edges(frame, output):
    picture = output.array()  # H x W x 3, the output slot itself
    if frame.format == "bgr24":
        picture[...] = frame.array()
    else:
        # dst=: OpenCV converts from the input straight into the output slot.
        cv2.cvtColor(opencv_layout(frame), TO_BGR[frame.format], dst=picture)
    edges = cv2.Canny(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY), 100, 200)
    picture[edges > 0] = (0, 0, 255)


def output_format(input_format, requested):
    """bgr24 whatever the input; --format may only ask for that."""
    return "bgr24" if requested in (None, "bgr24") else None


if __name__ == "__main__":
    sys.exit(
        vshm.run_filter(
            draw_edges,
            name="edges",
            description="Draws the picture's edges (OpenCV's Canny) in red; outputs bgr24.",
            input_formats=list(TO_BGR) + ["bgr24"],
            output_format=output_format,
        )
    )
