#!/usr/bin/env python3
"""Sets the display matrix of the video track of an MP4 file, in place.

FFmpeg 5.1 writes a display matrix that rotates (-metadata:s:v rotate=N) but none that
flips, so the flipped sample gets its matrix here: the ISO BMFF track header ('tkhd')
holds a 3x3 matrix (ISO/IEC 14496-12, 8.3.2) that players apply to the decoded picture.
Usage: display-matrix.py FILE.mp4 hflip|vflip
"""
import struct
import sys

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf"}
ONE = 1 << 16  # a, b, c, d, x, y are 16.16 fixed point
W_ONE = 1 << 30  # u, v, w are 2.30


def boxes(data, start, end):
    """Yields (type, start of the box, start of its content, end) for each box."""
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[position + 8 : position + 16])
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            sys.exit(f"display-matrix: a box '{kind!r}' at {position} runs past its parent")
        yield kind, position, position + header, position + size
        position += size


def video_track_headers(data, start, end, in_video=None):
    """The offsets of the content of the tkhd boxes of video tracks."""
    found = []
    for kind, _, content, box_end in boxes(data, start, end):
        if kind == b"trak":
            inner = list(boxes(data, content, box_end))
            is_video = any(
                k == b"mdia"
                and any(
                    kk == b"hdlr" and data[cc + 8 : cc + 12] == b"vide"
                    for kk, _, cc, _ in boxes(data, c, e)
                )
                for k, _, c, e in inner
            )
            if is_video:
                found += [c for k, _, c, _ in inner if k == b"tkhd"]
        elif kind in CONTAINERS:
            found += video_track_headers(data, content, box_end)
    return found


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("hflip", "vflip"):
        sys.exit("usage: display-matrix.py FILE.mp4 hflip|vflip")
    path, flip = sys.argv[1], sys.argv[2]
    data = bytearray(open(path, "rb").read())
    headers = video_track_headers(data, 0, len(data))
    if len(headers) != 1:
        sys.exit(f"display-matrix: {path} has {len(headers)} video tracks, not one")
    content = headers[0]
    version = data[content]
    # version, flags; times and ids (4 or 8 bytes each); reserved; layer, group, volume.
    matrix = content + 4 + (32 if version == 1 else 20) + 8 + 8
    width, height = struct.unpack(">II", data[matrix + 36 : matrix + 44])
    # x' = a x + c y + tx, y' = b x + d y + ty: a mirror, moved back into view.
    if flip == "hflip":
        values = (-ONE, 0, 0, 0, ONE, 0, width, 0, W_ONE)
    else:
        values = (ONE, 0, 0, 0, -ONE, 0, 0, height, W_ONE)
    data[matrix : matrix + 36] = struct.pack(">9i", *values)
    open(path, "wb").write(data)


main()
