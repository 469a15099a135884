#!/usr/bin/python3
"""Publishes frames made by a numpy generator as a vshm stream: colour ramps that move.

    samples/python/generate.py [--name gen] [--size 640x480] [--fps 30] [--frames N]
    build/viewer/vshm-view gen                                  # in another terminal
"""
import argparse
import signal
import itertools
import sys
import time

import numpy as np

import vshm


def pictures(width, height):
    """An endless generator of H x W x 3 RGB pictures; picture n is the ramps moved by n."""
    y, x = np.mgrid[0:height, 0:width]
    for n in itertools.count():
        picture = np.empty((height, width, 3), np.uint8)
        picture[..., 0] = (x + 4 * n) % 256  # red rises to the right and moves left
        picture[..., 1] = (y + 2 * n) % 256  # green rises downwards and moves up
        picture[..., 2] = 128
        yield picture


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="gen", help="stream name (default gen)")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT (default 640x480)")
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    parser.add_argument("--frames", type=int, help="stop after this many (default: Ctrl-C)")
    arguments = parser.parse_args()
    try:
        width, height = (int(part) for part in arguments.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size '{arguments.size}' is not WIDTHxHEIGHT")
    if not 0 < arguments.fps <= 1000:
        parser.error("--fps must be above 0 and at most 1000")

    # The writer creates the stream; leaving the with block (or Ctrl-C) removes it.
    with vshm.Writer(arguments.name, "rgb24", width, height, fps=arguments.fps) as writer:
        start = time.monotonic()
        for n, picture in enumerate(pictures(width, height)):
            last = arguments.frames is not None and n == arguments.frames - 1
            # publish() copies the picture into a slot: one copy, the price of making
            # pixels elsewhere. writer.frame() would let us draw straight into the slot.
            writer.publish(picture, frame_number=n, flags=vshm.FRAME_END_OF_STREAM if last else 0)
            if last:
                break
            time.sleep(max(0.0, start + (n + 1) / arguments.fps - time.monotonic()))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
    except (vshm.StreamError, ValueError) as error:
        sys.exit(f"generate.py: {error}")
