#!/usr/bin/python3
"""A second implementation of vshm's test pattern, written from docs/test-pattern.md
(the picture and its colours in each format) and docs/protocol.md with docs/formats.md
(where each sample lies) alone, in another language and another shape than
capture/pattern.c, so that a bug in the generator cannot hide in the checker.

  pattern-oracle.py check DUMPS REFERENCES
      Compares every frame in DUMPS (the bytes vshm-capture published, as
      test-pattern-oracle.c writes them) with this implementation, byte by byte; and
      with the checksums in REFERENCES/checksums.txt and the pictures
      REFERENCES/*.png (reviewed by eye), which must each have their frame in DUMPS.
  pattern-oracle.py write-references DUMPS REFERENCES NAME...
      Writes REFERENCES/checksums.txt for the frames in DUMPS, computed by this
      implementation (not taken from the dumps), and a PNG of each named rgb24 frame.
      Look at the PNGs before committing them.

A dump is named KIND-FORMAT-WxH-N.raw (bars-nv12-161x97-42.raw): for each plane in
order, its rows of row_bytes bytes each, without the stride's padding.
Needs numpy (Debian: python3-numpy).
"""
import hashlib
import os
import re
import struct
import sys
import zlib

import numpy as np

# docs/test-pattern.md, "The colour of a pixel".
BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
        (255, 0, 255), (255, 0, 0), (0, 0, 255)]
FONT = [[7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7],
        [5, 5, 7, 1, 1], [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 2, 2, 2],
        [7, 5, 7, 5, 7], [7, 5, 7, 1, 7]]

# docs/protocol.md 4.1 (planes: bytes per sample, horizontal and vertical subsampling)
# and docs/formats.md (each component: plane, step, offset). Components are Y, U, V or
# R, G, B, then A; "pad" is a byte the test pattern fills with 255 though the format
# gives it no meaning (XRGB8888's X).
FORMATS = {
    "nv12": ("yuv", [(1, 1, 1), (2, 2, 2)], [(0, 1, 0), (1, 2, 0), (1, 2, 1)], None),
    "i420": ("yuv", [(1, 1, 1), (1, 2, 2), (1, 2, 2)], [(0, 1, 0), (1, 1, 0), (2, 1, 0)], None),
    "yuyv": ("yuv", [(4, 2, 1)], [(0, 2, 0), (0, 4, 1), (0, 4, 3)], None),
    "uyvy": ("yuv", [(4, 2, 1)], [(0, 2, 1), (0, 4, 0), (0, 4, 2)], None),
    "rgb24": ("rgb", [(3, 1, 1)], [(0, 3, 0), (0, 3, 1), (0, 3, 2)], None),
    "bgr24": ("rgb", [(3, 1, 1)], [(0, 3, 2), (0, 3, 1), (0, 3, 0)], None),
    "rgba": ("rgb", [(4, 1, 1)], [(0, 4, 0), (0, 4, 1), (0, 4, 2), (0, 4, 3)], None),
    "bgra": ("rgb", [(4, 1, 1)], [(0, 4, 2), (0, 4, 1), (0, 4, 0), (0, 4, 3)], None),
    "xrgb8888": ("rgb", [(4, 1, 1)], [(0, 4, 2), (0, 4, 1), (0, 4, 0)], (0, 4, 3)),
    "gray8": ("gray", [(1, 1, 1)], [(0, 1, 0)], None),
    "p010": ("yuv", [(2, 1, 1), (4, 2, 2)], [(0, 2, 0), (1, 4, 0), (1, 4, 2)], None),
    "i444": ("yuv", [(1, 1, 1), (1, 1, 1), (1, 1, 1)], [(0, 1, 0), (1, 1, 0), (2, 1, 0)], None),
}
# log2 of the chroma subsampling of U and V (docs/formats.md: "4:2:0", "4:2:2", "4:4:4").
CHROMA_SHIFTS = {"nv12": (1, 1), "i420": (1, 1), "yuyv": (1, 0), "uyvy": (1, 0),
                 "p010": (1, 1), "i444": (0, 0)}
# Formats whose samples are little-endian 16-bit words (docs/formats.md): their depth
# in bits and how far up the word the value starts. The others have one-byte samples.
WORDS = {"p010": (10, 6)}


def ceil_div(a, b):
    return -(-a // b)


def picture(kind, n, width, height):
    """The pattern's (R, G, B) for every pixel: an int64 array of height x width x 3."""
    x = np.arange(width, dtype=np.int64)[None, :]
    y = np.arange(height, dtype=np.int64)[:, None]
    bars_end = height * 2 // 3
    bottom = height - bars_end
    square = bottom // 2 or 1
    square_top = bars_end + (bottom - square) // 4
    step = width // 64 or 1
    travel = width - square + 1 if width > square else 1
    square_left = (n * step) % travel
    scale = height // 90 or 1
    digits_left = scale
    digits_top = height - 5 * scale - scale if height > 5 * scale + scale else 0

    if kind == "bars":
        top = np.array(BARS, dtype=np.int64)[x[0] * 7 // width][None, :, :]
        top = np.broadcast_to(top, (height, width, 3))
    elif kind == "gradient":
        v = (x[0] * 64 // width) * 4 + 2
        top = np.stack([255 - v, v, v // 2], axis=-1)[None, :, :]
        top = np.broadcast_to(top, (height, width, 3))
    elif kind == "checkers":
        side = max(height // 12, 4)
        column = (x + n * step) // side
        light = (column + y // side) % 2 == 1
        top = np.where(light[:, :, None], 192, 64).astype(np.int64)
    else:
        raise ValueError("unknown pattern kind " + kind)

    # The frame number: which pixels are lit dots of its digits.
    digits = [int(c) for c in str(n)]
    row = (y - digits_top) // scale
    column = (x - digits_left) // scale
    digit, dot = column // 4, column % 4
    inside = ((y >= digits_top) & (x >= digits_left) & (row < 5) & (row >= 0)
              & (digit < len(digits)) & (dot < 3))
    font = np.array(FONT, dtype=np.int64)
    values = np.array(digits, dtype=np.int64)
    d = values[np.clip(digit, 0, len(digits) - 1)]
    r = np.clip(row, 0, 4)
    lit = inside & (((font[d, r] >> np.clip(2 - dot, 0, 2)) & 1) == 1)
    in_square = ((y >= square_top) & (y < square_top + square)
                 & (x >= square_left) & (x < square_left + square))
    white = (lit | in_square)[:, :, None]
    lower = np.where(white, 255, 0).astype(np.int64)
    lower = np.broadcast_to(lower, (height, width, 3))
    return np.where((y < bars_end)[:, :, None], top, lower)


def frame_bytes(format_name, rgb):
    """The planes of a frame in this format, each rows x row_bytes of uint8, and for each
    a mask of the bytes the pattern defines (the second luma of an odd width's last
    4:2:2 pair belongs to no pixel)."""
    family, planes, components, padding = FORMATS[format_name]
    height, width = rgb.shape[:2]
    r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    if family == "yuv":
        values = [((66 * r + 129 * g + 25 * b + 128) >> 8) + 16,
                  ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128,
                  ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128]
    elif family == "gray":
        values = [(77 * r + 150 * g + 29 * b + 128) >> 8]
    else:
        values = [r, g, b, np.full_like(r, 255)]
    if format_name in WORDS:
        # docs/test-pattern.md: 8-bit values scaled to the depth, at their place in
        # the word; each becomes two bytes, low byte first.
        depth, shift = WORDS[format_name]
        values = [(v << (depth - 8)) << shift for v in values]
    out, masks = [], []
    for bytes_per_sample, horizontal, vertical in planes:
        rows, row_bytes = ceil_div(height, vertical), ceil_div(width, horizontal) * bytes_per_sample
        out.append(np.zeros((rows, row_bytes), dtype=np.int64))
        masks.append(np.zeros((rows, row_bytes), dtype=bool))
    placed = list(zip(components, values))
    if padding:
        placed.append((padding, np.full_like(r, 255)))
    for index, ((plane, step, offset), value) in enumerate(placed):
        shift_x, shift_y = (0, 0)
        if family == "yuv" and index in (1, 2):
            shift_x, shift_y = CHROMA_SHIFTS[format_name]
        # A subsampled sample takes the colour of the top-left pixel it covers.
        samples = value[::1 << shift_y, ::1 << shift_x]
        positions = offset + np.arange(samples.shape[1]) * step
        if format_name in WORDS:
            out[plane][:, positions] = samples & 0xFF
            out[plane][:, positions + 1] = samples >> 8
            masks[plane][:, positions + 1] = True
        else:
            out[plane][:, positions] = samples
        masks[plane][:, positions] = True
    for plane, mask in zip(out, masks):
        assert plane.min() >= 0 and plane.max() <= 255
    return [p.astype(np.uint8) for p in out], masks


NAME = re.compile(r"^(bars|gradient|checkers)-([a-z0-9]+)-([0-9]+)x([0-9]+)-([0-9]+)\.raw$")


def parse_name(name):
    match = NAME.match(name)
    if not match or match.group(2) not in FORMATS:
        raise SystemExit("pattern-oracle: cannot tell what frame '%s' is" % name)
    kind, format_name, width, height, n = match.groups()
    return kind, format_name, int(width), int(height), int(n)


def checksum(planes, masks):
    """SHA-256 of the planes' bytes, the undefined ones counted as 0."""
    digest = hashlib.sha256()
    for plane, mask in zip(planes, masks):
        digest.update(np.where(mask, plane, 0).astype(np.uint8).tobytes())
    return digest.hexdigest()


def split_dump(data, expected):
    """The dump's bytes cut into planes shaped like the expected ones."""
    sizes = [p.size for p in expected]
    if len(data) != sum(sizes):
        return None
    planes, start = [], 0
    for p in expected:
        planes.append(np.frombuffer(data, np.uint8, p.size, start).reshape(p.shape))
        start += p.size
    return planes


def png_encode(rgb):
    height, width = rgb.shape[:2]
    raw = b"".join(b"\0" + rgb[y].astype(np.uint8).tobytes() for y in range(height))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def png_decode(data):
    """An 8-bit RGB, non-interlaced PNG as a height x width x 3 uint8 array."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, idat, header = 8, b"", None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour != 2 or interlace != 0:
        raise ValueError("only 8-bit RGB non-interlaced PNGs are read here")
    raw = zlib.decompress(idat)
    stride = width * 3
    out = np.zeros((height, stride), dtype=np.int64)
    previous = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        if kind in (0, 2):  # none, up: no dependency along the row
            row = (line + (previous if kind == 2 else 0)) & 0xff
        else:  # sub, average, Paeth: each byte depends on the one to its left
            row = np.zeros(stride, dtype=np.int64)
        for i in range(stride if kind not in (0, 2) else 0):
            left = row[i - 3] if i >= 3 else 0
            up = previous[i]
            corner = previous[i - 3] if i >= 3 else 0
            if kind == 1:
                predictor = left
            elif kind == 3:
                predictor = (left + up) // 2
            else:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            row[i] = (line[i] + predictor) & 0xff
        out[y] = row
        previous = row
    return out.reshape(height, width, 3).astype(np.uint8)


def first_difference(got, want, mask):
    for plane, (g, w, m) in enumerate(zip(got, want, mask)):
        wrong = np.argwhere((g != w) & m)
        if len(wrong):
            row, byte = wrong[0]
            return "plane %d row %d byte %d: %d, expected %d (%d bytes differ)" % (
                plane, row, byte, g[row, byte], w[row, byte], len(wrong))
    return None


FAILURES_SHOWN = 12


def check(dumps, references):
    names = sorted(f for f in os.listdir(dumps) if f.endswith(".raw"))
    golden = {}
    with open(os.path.join(references, "checksums.txt")) as listing:
        for line in listing:
            if line.strip() and not line.startswith("#"):
                name, digest = line.split()
                golden[name] = digest
    failures = 0

    def report(message):
        if failures < FAILURES_SHOWN:
            print(message)
    for name in names:
        kind, format_name, width, height, n = parse_name(name)
        want, masks = frame_bytes(format_name, picture(kind, n, width, height))
        with open(os.path.join(dumps, name), "rb") as dump:
            got = split_dump(dump.read(), want)
        if got is None:
            report("%s: the frame has the wrong size" % name)
            failures += 1
            continue
        difference = first_difference(got, want, masks)
        if difference:
            report("%s differs from the pattern's description: %s" % (name, difference))
            failures += 1
        if golden.get(name) != checksum(got, masks):
            report("%s: checksum %s, the reference says %s" % (
                name, checksum(got, masks), golden.get(name, "nothing")))
            failures += 1
    for name in sorted(set(golden) - set(names)):
        report("%s: in checksums.txt but not captured" % name)
        failures += 1
    pictures = sorted(f for f in os.listdir(references) if f.endswith(".png"))
    for picture_name in pictures:
        name = picture_name[:-4] + ".raw"
        kind, format_name, width, height, n = parse_name(name)
        if format_name != "rgb24" or name not in names:
            report("%s: no rgb24 frame of that name was captured" % picture_name)
            failures += 1
            continue
        with open(os.path.join(references, picture_name), "rb") as png:
            shown = png_decode(png.read())
        with open(os.path.join(dumps, name), "rb") as dump:
            captured = np.frombuffer(dump.read(), np.uint8).reshape(height, width, 3)
        if shown.shape != captured.shape or (shown != captured).any():
            report("%s: the reviewed picture is not what vshm-capture published" % picture_name)
            failures += 1
    if failures > FAILURES_SHOWN:
        print("... and %d more failures" % (failures - FAILURES_SHOWN))
    print("pattern oracle: %d frames compared byte by byte and by checksum, %d reviewed "
          "pictures compared, %d failures" % (len(names), len(pictures), failures))
    return 1 if failures or not names else 0


def write_references(dumps, references, picture_names):
    names = sorted(f for f in os.listdir(dumps) if f.endswith(".raw"))
    with open(os.path.join(references, "checksums.txt"), "w") as listing:
        listing.write("# SHA-256 of the test pattern's frames as docs/test-pattern.md "
                      "describes them\n# (tests/pattern-oracle.py write-references); "
                      "undefined bytes count as 0.\n")
        for name in names:
            kind, format_name, width, height, n = parse_name(name)
            planes, masks = frame_bytes(format_name, picture(kind, n, width, height))
            listing.write("%s %s\n" % (name, checksum(planes, masks)))
    for picture_name in picture_names:
        kind, format_name, width, height, n = parse_name(picture_name[:-4] + ".raw")
        with open(os.path.join(references, picture_name), "wb") as png:
            png.write(png_encode(picture(kind, n, width, height)))


def main(arguments):
    if len(arguments) >= 3 and arguments[0] == "check":
        return check(arguments[1], arguments[2])
    if len(arguments) >= 3 and arguments[0] == "write-references":
        write_references(arguments[1], arguments[2], arguments[3:])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
