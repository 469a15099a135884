"""vshm: video frames between processes through shared memory, with zero copies.

A writer process puts each frame into a triple-buffered shared-memory ring; any number
of readers use the newest complete frame where the writer left it. This package is
libvshm's own C implementation of the ring, seen from Python:

    import vshm

    with vshm.Reader("cam", timeout=5) as reader:       # waits for the stream
        for frame in reader:                            # waits for each new frame
            level = frame.array().mean()                # a numpy view of the slot
            if not frame.release():                     # False: overwritten meanwhile
                continue                                # so drop what came from it

    with vshm.Writer("gen", "rgb24", 640, 480) as writer:
        with writer.frame() as frame:                   # published at the end
            frame.array()[:] = (255, 0, 0)

    vshm.run_filter(process)                            # a filter program, see run_filter

Views of a frame's pixels (Frame.array(), Frame.planes and whatever numpy derives
from them) must be gone before the frame is released: a released slot is rewritten by
its writer, so a release with views still alive raises BufferError and keeps the frame.
See help(vshm.Frame.release).

Reader, Writer, Frame, OutputFrame and run_filter say the rest; errors are
vshm.StreamError (an OSError) and its kinds WriterGone, Timeout and StreamReplaced.
"""

from ._vshm import (
    COLOR_MATRIX_BT601,
    COLOR_MATRIX_BT709,
    COLOR_MATRIX_BT2020,
    COLOR_MATRIX_UNSPECIFIED,
    COLOR_PRIMARIES_BT601_525,
    COLOR_PRIMARIES_BT601_625,
    COLOR_PRIMARIES_BT709,
    COLOR_PRIMARIES_BT2020,
    COLOR_PRIMARIES_DISPLAY_P3,
    COLOR_PRIMARIES_UNSPECIFIED,
    COLOR_TRANSFER_BT709,
    COLOR_TRANSFER_HLG,
    COLOR_TRANSFER_LINEAR,
    COLOR_TRANSFER_PQ,
    COLOR_TRANSFER_SRGB,
    COLOR_TRANSFER_UNSPECIFIED,
    COLOR_RANGE_FULL,
    COLOR_RANGE_LIMITED,
    COLOR_RANGE_UNSPECIFIED,
    FRAME_DISCONTINUITY,
    FRAME_END_OF_STREAM,
    NAME_MAX,
    READERS_DEFAULT,
    SLOTS_DEFAULT,
    SLOTS_MAX,
    SLOTS_MIN,
    Frame,
    OutputFrame,
    Reader,
    StreamError,
    StreamReplaced,
    Timeout,
    Writer,
    WriterGone,
    __version__,
    array_formats,
    check_name,
    formats,
)
from ._filter import run_filter

__all__ = [
    "COLOR_MATRIX_BT601",
    "COLOR_MATRIX_BT709",
    "COLOR_MATRIX_BT2020",
    "COLOR_MATRIX_UNSPECIFIED",
    "COLOR_PRIMARIES_BT601_525",
    "COLOR_PRIMARIES_BT601_625",
    "COLOR_PRIMARIES_BT709",
    "COLOR_PRIMARIES_BT2020",
    "COLOR_PRIMARIES_DISPLAY_P3",
    "COLOR_PRIMARIES_UNSPECIFIED",
    "COLOR_TRANSFER_BT709",
    "COLOR_TRANSFER_HLG",
    "COLOR_TRANSFER_LINEAR",
    "COLOR_TRANSFER_PQ",
    "COLOR_TRANSFER_SRGB",
    "COLOR_TRANSFER_UNSPECIFIED",
    "COLOR_RANGE_FULL",
    "COLOR_RANGE_LIMITED",
    "COLOR_RANGE_UNSPECIFIED",
    "FRAME_DISCONTINUITY",
    "FRAME_END_OF_STREAM",
    "NAME_MAX",
    "READERS_DEFAULT",
    "SLOTS_DEFAULT",
    "SLOTS_MAX",
    "SLOTS_MIN",
    "Frame",
    "OutputFrame",
    "Reader",
    "StreamError",
    "StreamReplaced",
    "Timeout",
    "Writer",
    "WriterGone",
    "array_formats",
    "check_name",
    "formats",
    "run_filter",
]
