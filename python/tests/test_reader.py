"""vshm.Reader against the real vshm-capture: pixel values in every format, metadata as
the C reader sees them, zero copy, torn frames, a writer killed and replaced, end of
stream, timeouts, Ctrl-C and the GIL."""

import errno
import os
import signal
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest

import vshm
from conftest import helper, python_program
from frames import PLANES, expected_array, split_planes

# The colour bars of capture/pattern.c, left to right.
BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255)]


def luma(r, g, b):
    return ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16


def chroma(r, g, b):
    return ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128, ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128


def expected_planes(fmt, width, height, n):
    """Frame n of the test pattern as the C code draws it: one array per plane."""
    return split_planes(fmt, width, height, helper("pattern", fmt, width, height, n))


def spot_check(fmt, array, width, height):
    """The first and the last bar, checked against their colours by hand."""
    y = height // 4
    for bar in (0, 6):
        x = (2 * bar + 1) * width // 14
        r, g, b = BARS[bar]
        pixel = array[y, x]
        if fmt == "rgb24" or fmt == "rgba":
            assert list(pixel[:3]) == [r, g, b]
        elif fmt in ("bgr24", "bgra", "xrgb8888"):
            assert list(pixel[:3]) == [b, g, r]
        elif fmt == "gray8":
            assert pixel > 200 if bar == 0 else pixel < 60  # white, then blue
        elif fmt in ("nv12", "i420"):
            assert pixel == luma(r, g, b)
        elif fmt == "yuyv":
            assert pixel[0] == luma(r, g, b) and pixel[1] in chroma(r, g, b)
        elif fmt == "uyvy":
            assert pixel[1] == luma(r, g, b) and pixel[0] in chroma(r, g, b)


@pytest.mark.parametrize("fmt", list(PLANES))
@pytest.mark.parametrize("size", [(256, 144), (200, 150)], ids=["aligned", "padded"])
def test_pattern_in_every_format(name, capture, fmt, size):
    width, height = size
    capture(name, "--format", fmt, "--size", f"{width}x{height}")
    with vshm.Reader(name, timeout=10) as reader:
        with reader.next_frame() as frame:
            assert (frame.format, frame.width, frame.height) == (fmt, width, height)
            planes = expected_planes(fmt, width, height, frame.frame_number)
            assert len(frame.planes) == len(planes)
            for got, want in zip(frame.planes, planes):
                assert got.readonly and got.shape == want.shape
                assert np.array_equal(np.asarray(got), want)
                del got
            if fmt == "i420" and width % 128:
                # Padded chroma rows cannot be shown as OpenCV's (H*3/2) x W in place.
                with pytest.raises(ValueError, match="frame.planes"):
                    frame.array()
            else:
                array = frame.array()
                assert array.dtype == np.uint8 and not array.flags.writeable
                assert np.array_equal(array, expected_array(fmt, width, height, planes))
                spot_check(fmt, array, width, height)
                del array
            del planes
            assert frame.release()


def metadata(frame):
    sums = 1
    for plane in frame.planes:
        for row in np.asarray(plane):
            sums = zlib.adler32(row.tobytes(), sums)
        del plane
    fields = (
        "frame_number capture_ns publish_ns format width height flags color_matrix "
        "color_range sequence slot".split()
    )
    record = {field: str(getattr(frame, field)) for field in fields}
    record["planes"] = str(len(frame.planes))
    strides = [p.strides[0] for p in frame.planes] + [0, 0]
    record["strides"] = ",".join(str(s) for s in strides[:3])
    record["pixels"] = f"{sums:08x}"
    return record


def test_metadata_is_what_the_c_reader_sees(name, capture):
    capture(name, "--format", "nv12", "--size", "320x240", "--fps", "60")
    c_reader = subprocess.Popen(
        [os.environ["VSHM_TEST_HELPER"], "read", name, "40", "20"], stdout=subprocess.PIPE, text=True
    )
    seen = {}
    with vshm.Reader(name, timeout=10) as reader:
        while c_reader.poll() is None and len(seen) < 200:
            with reader.next_frame() as frame:
                record = metadata(frame)
                if frame.release():
                    seen[record["frame_number"]] = record
    output, _ = c_reader.communicate(timeout=30)
    assert c_reader.returncode == 0
    compared = 0
    for line in output.splitlines():
        c_record = dict(field.split("=", 1) for field in line.split())
        if c_record["pixels"].startswith("torn") or c_record["frame_number"] not in seen:
            continue
        assert seen[c_record["frame_number"]] == c_record
        compared += 1
    assert compared >= 10, f"only {compared} frames were seen by both readers"


def mappings_of(stream):
    """The address ranges of this process mapped from the stream's segment."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith(f"/dev/shm/vshm.{stream}"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                ranges.append((start, end))
    return ranges


def in_ranges(address, ranges):
    return any(start <= address < end for start, end in ranges)


def test_array_data_lies_in_the_shared_mapping(name, capture):
    capture(name, "--format", "rgb24", "--size", "640x480", "--fps", "60")
    pointers = {}
    with vshm.Reader(name, timeout=10) as reader:
        ranges = mappings_of(name)
        assert ranges, "the reader maps the segment"
        for _ in range(12):
            with reader.next_frame() as frame:
                array = frame.array()
                plane = np.asarray(frame.planes[0])
                address = array.__array_interface__["data"][0]
                assert in_ranges(address, ranges)
                assert plane.__array_interface__["data"][0] == address
                assert np.shares_memory(array, plane)
                # The same slot gives the same memory every time: no per-frame buffer.
                assert pointers.setdefault(frame.slot, address) == address
                del array, plane
    assert len(pointers) >= 2


def test_poll_says_when_a_newer_frame_is_there(name):
    with vshm.Writer(name, "gray8", 64, 48, slots=3) as writer, vshm.Reader(name, timeout=1) as reader:
        assert reader.poll() is False  # nothing published yet
        writer.publish(np.full((48, 64), 1, np.uint8), frame_number=1)
        writer.publish(np.full((48, 64), 2, np.uint8), frame_number=2)
        assert reader.poll() is True
        assert reader.poll() is True  # polling takes nothing
        with reader.acquire() as frame:
            assert frame.frame_number == 2
            assert reader.poll() is False
        assert reader.poll() is False  # released, and still nothing newer
        writer.publish(np.full((48, 64), 3, np.uint8), frame_number=3)
        assert reader.poll() is True


def test_torn_frame_reported_by_release(name):
    with vshm.Writer(name, "gray8", 64, 48, slots=3) as writer:
        writer.publish(np.full((48, 64), 1, np.uint8), frame_number=1)
        first, second = vshm.Reader(name, timeout=1), vshm.Reader(name, timeout=1)
        held = first.acquire()  # frame 1, in slot A
        writer.publish(np.full((48, 64), 2, np.uint8), frame_number=2)  # into slot B
        other = second.acquire()  # frame 2, slot B
        writer.publish(np.full((48, 64), 3, np.uint8), frame_number=3)  # slot C, free
        assert held.array()[0, 0] == 1
        # Latest C, A and B held: the writer overwrites the oldest held slot, A.
        writer.publish(np.full((48, 64), 4, np.uint8), frame_number=4)
        assert writer.stats["overwrites"] == 1
        assert held.frame_number == 1
        assert held.release() is False
        assert other.release() is True
        assert first.stats["frames_torn"] == 1 and second.stats["frames_torn"] == 0
        first.close()
        second.close()


def test_torn_frame_from_vshm_capture(name, capture):
    # Two readers hold two slots of three: the third is the latest, so the capture has
    # to overwrite the older held one.
    capture(name, "--format", "gray8", "--size", "64x48", "--fps", "200")
    first, second = vshm.Reader(name, timeout=5), vshm.Reader(name, timeout=5)
    held = first.next_frame()
    other = second.next_frame()
    while other.sequence == held.sequence:
        other.release()
        other = second.next_frame()
    time.sleep(0.3)
    assert held.release() is False
    other.release()
    first.close()
    second.close()


def test_writer_gone_after_sigkill_then_reattach(name, capture, processes):
    writer = capture(name, "--format", "rgb24", "--size", "160x120", "--fps", "60")
    with vshm.Reader(name, timeout=5, reattach=False) as reader:
        for count, frame in enumerate(reader):
            if count == 3:
                break
        old_pid = reader.stats["writer_pid"]
        assert old_pid == writer.pid
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        start = time.monotonic()
        with pytest.raises(vshm.WriterGone) as raised:
            for frame in reader:
                pass
        assert raised.value.errno == errno.EPIPE and name in str(raised.value)
        assert time.monotonic() - start < 2.0
        assert reader.writer_state == "gone"
        # The last frame stays readable.
        with reader.acquire() as last:
            assert last.array().shape == (120, 160, 3)
        # A new writer of the name: reattach explicitly.
        new_writer = capture(name, "--format", "rgb24", "--size", "160x120", "--fps", "60")
        reader.reattach()
        assert reader.stats["writer_pid"] == new_writer.pid
        with reader.next_frame() as frame:
            assert frame.width == 160


def test_iteration_follows_a_restarted_writer(name, capture):
    writer = capture(name, "--format", "gray8", "--size", "64x48", "--fps", "60")
    pids = []
    with vshm.Reader(name, timeout=10) as reader:
        for count, frame in enumerate(reader):
            pids.append(reader.stats["writer_pid"])
            if count == 5:
                os.kill(writer.pid, signal.SIGKILL)
                writer.wait()
                writer = capture(name, "--format", "gray8", "--size", "64x48", "--fps", "60", wait=False)
            if len(set(pids)) == 2 and pids.count(pids[-1]) >= 5:
                break
        assert reader.stats["reattaches"] >= 1
    assert pids[-1] == writer.pid and pids[0] != writer.pid


def test_iteration_stops_after_end_of_stream(name, capture):
    writer = capture(name, "--format", "gray8", "--size", "64x48", "--fps", "30", "--frames", "20", wait=False)
    numbers = []
    with vshm.Reader(name, timeout=10) as reader:
        for frame in reader:
            numbers.append((frame.frame_number, frame.end_of_stream))
    assert numbers and numbers[-1] == (19, True)
    assert all(not ended for _, ended in numbers[:-1])
    assert writer.wait() == 0


def test_timeouts(name, capture):
    start = time.monotonic()
    with pytest.raises(vshm.Timeout) as raised:
        vshm.Reader(name, timeout=0.3)
    assert 0.25 < time.monotonic() - start < 2
    assert isinstance(raised.value, TimeoutError) and raised.value.errno == errno.ETIMEDOUT
    with pytest.raises(vshm.StreamError) as raised:
        vshm.Reader(name, timeout=0)
    assert raised.value.errno == errno.ENOENT and name in str(raised.value)
    # A file its writer died making is there in some form: the timeout says what it is.
    open(f"/dev/shm/vshm.{name}", "w").close()
    try:
        with pytest.raises(vshm.Timeout) as raised:
            vshm.Reader(name, timeout=0.1)
    finally:
        os.unlink(f"/dev/shm/vshm.{name}")
    assert "did not appear within 0.1 s: " in str(raised.value)
    assert "is 0 bytes" in str(raised.value)

    with vshm.Writer(name, "gray8", 16, 16) as writer:
        writer.publish(np.zeros((16, 16), np.uint8))
        with vshm.Reader(name, timeout=0.2) as reader:
            reader.next_frame().release()
            start = time.monotonic()
            with pytest.raises(vshm.Timeout):
                reader.wait()
            with pytest.raises(vshm.Timeout):
                next(iter(reader))
            assert time.monotonic() - start < 2
            writer.publish(np.zeros((16, 16), np.uint8))
            reader.wait(timeout=1)
            assert reader.timeout == 0.2
            reader.timeout = None
            assert reader.timeout is None


def test_ctrl_c_stops_a_wait(name):
    code = (
        "import sys, vshm\n"
        f"name = {name!r}\n"
        "if sys.argv[1] == 'frame':\n"
        "    writer = vshm.Writer(name, 'gray8', 16, 16)\n"
        "    with writer.frame(): pass\n"
        "    reader = vshm.Reader(name)\n"
        "    reader.next_frame().release()\n"
        "    print('waiting', flush=True)\n"
        "    reader.wait(timeout=None)\n"
        "else:\n"
        "    print('waiting', flush=True)\n"
        "    vshm.Reader(name + '-absent', timeout=None)\n"
    )
    for what in ("frame", "stream"):
        child = subprocess.Popen(
            python_program("-c", code, what), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert child.stdout.readline() == "waiting\n"
        time.sleep(0.3)
        start = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, errors = child.communicate(timeout=5)
        assert time.monotonic() - start < 2.0
        assert "KeyboardInterrupt" in errors and child.returncode in (1, -signal.SIGINT)


def test_waits_release_the_gil(name):
    with vshm.Writer(name, "gray8", 16, 16) as writer:
        writer.publish(np.zeros((16, 16), np.uint8))
        reader = vshm.Reader(name, timeout=5)
        reader.next_frame().release()
        result = {}

        def wait():
            with reader.next_frame() as frame:
                result["frame"] = frame.frame_number

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.1)
        # While the other thread waits, this one runs Python code and may not use the
        # reader.
        spins = 0
        until = time.monotonic() + 0.3
        while time.monotonic() < until:
            spins += 1
        with pytest.raises(RuntimeError, match="another thread"):
            reader.acquire()
        writer.publish(np.zeros((16, 16), np.uint8), frame_number=7)
        waiter.join(timeout=5)
        assert result == {"frame": 7} and spins > 10000
        reader.close()


TRUNCATED = """
import struct, sys, numpy, vshm
name, guard = sys.argv[1], sys.argv[2] == "guard"
writer = vshm.Writer(name, "gray8", 64, 48)
writer.publish(numpy.full((48, 64), 1, numpy.uint8))
reader = vshm.Reader(name, timeout=1, reattach=False, guard_truncation=guard)
reader.next_frame().release()
with open("/dev/shm/vshm." + name, "r+b") as segment:
    segment.truncate(struct.unpack_from("<Q", segment.read(64), 48)[0])  # payload_offset
with writer.frame():
    pass  # published without touching its (now missing) pixels
frame = reader.next_frame()
total = int(frame.array().sum())
intact = frame.release()
try:
    reader.wait(timeout=0.2)
    waited = "a frame"
except vshm.StreamReplaced:
    waited = "replaced"
print(total, intact, waited)
reader.close()
writer.close()
"""


def test_a_segment_cut_short_under_a_reader(name):
    # Guarded, the missing pixels read as zeros, the frame as torn, and the reader is
    # told to move on; unguarded, the read ends the process (what the guard prevents).
    guarded = subprocess.run(python_program("-c", TRUNCATED, name, "guard"), capture_output=True, text=True,
                             timeout=30)
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout == "0 False replaced\n"
    unguarded = subprocess.run(python_program("-c", TRUNCATED, f"{name}-2", "plain"), capture_output=True,
                               text=True, timeout=30)
    # SIGBUS; under AddressSanitizer, its report of the fault and an abort.
    assert unguarded.returncode in (-signal.SIGBUS, -signal.SIGABRT, 1) and not unguarded.stdout
    os.unlink(f"/dev/shm/vshm.{name}-2")  # the killed writer's segment
