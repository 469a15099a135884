#!/usr/bin/python3
"""A vshm filter in Python: the photographic negative (255 - v), with numpy.

Run it as a stage of a pipeline, or by itself between two streams:

    vshm-run 'test ! samples/python/invert.py ! view'
    samples/python/invert.py INPUT [OUTPUT] [options]        # --help lists them

vshm.run_filter() does all the work around the one function below, as
vshm_filter_main() does for the C filters: the command line, waiting for INPUT,
creating OUTPUT, following a writer that restarts, end of stream, Ctrl-C.
"""
import sys

import numpy as np

import vshm


def invert(frame, output):
    """Called for each new input frame: read `frame`, fill `output`."""
    for pixels, result in zip(frame.planes, output.planes):
        # A plane is a memoryview of shared memory (rows of bytes): the input's is the
        # writer's slot, the output's is ours. np.asarray() wraps it without copying, and
        # np.invert() (bitwise not: 255 - v for a byte) reads the one and writes the
        # other, the only pass over the pixels.
        np.invert(pixels, out=np.asarray(result))
    if frame.format in ("rgba", "bgra", "xrgb8888"):
        # Byte 3 of each pixel is alpha or padding: keep it, as the C invert does.
        output.array()[..., 3] = frame.array()[..., 3]
    # Nothing may keep a view of either frame after this: the arrays above are local.


if __name__ == "__main__":
    # Every format of byte samples; p010's 16-bit words would need 65535 - v.
    byte_formats = [f for f in vshm.formats() if f != "p010"]
    sys.exit(
        vshm.run_filter(
            invert,
            name="invert",
            description="Inverts every sample (255 - v), in any 8-bit format.",
            input_formats=byte_formats,
        )
    )
