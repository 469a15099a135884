#!/usr/bin/python3
"""Reads a vshm stream and prints one line per second about it, as vshm-ls would:
its format and size, the rate frames are published and read, how old they are when
taken, and how many were torn, dropped or overwritten.

    samples/python/stats.py NAME [--seconds N]
"""
import argparse
import signal
import sys
import time

import vshm


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the stream to read")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    arguments = parser.parse_args()
    try:
        vshm.check_name(arguments.name)
    except ValueError as error:
        parser.error(str(error))

    stop_at = time.monotonic() + arguments.seconds if arguments.seconds else None
    # The reader waits for the stream to appear, and follows its writer if it restarts.
    with vshm.Reader(arguments.name, timeout=None) as reader:
        start, read, ages, torn = time.monotonic(), 0, [], 0
        published = reader.stats["frames_published"]
        # Each step waits for a new frame; the loop releases the previous one.
        for frame in reader:
            # Metadata only: no pixel is read, so nothing keeps a view of the frame.
            ages.append(time.monotonic_ns() - frame.publish_ns)
            description = f"{frame.format} {frame.width}x{frame.height}"
            read += 1
            if not frame.release():
                torn += 1
            now = time.monotonic()
            if now - start >= 1.0:
                stats = reader.stats
                ages.sort()
                print(
                    f"{arguments.name}: {description}, {(stats['frames_published'] - published) / (now - start):.1f} fps "
                    f"published, {read / (now - start):.1f} read, age {ages[len(ages) // 2] / 1e3:.0f} us "
                    f"(median), {torn} torn, {stats['frames_dropped']} dropped, {stats['overwrites']} "
                    f"overwritten, {stats['readers_attached']} readers, writer pid {stats['writer_pid']}",
                    flush=True,
                )
                start, read, ages, published = now, 0, [], stats["frames_published"]
            if stop_at and now >= stop_at:
                break
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
    except vshm.StreamError as error:
        sys.exit(f"stats.py: {error.strerror}")
