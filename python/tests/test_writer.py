"""vshm.Writer: frames filled in place and published from arrays reach readers byte for
byte in every format, with their metadata; the C viewer shows a Python writer's frames;
bad arrays are refused with a clear exception."""

import errno
import os
import re
import subprocess
import threading

import numpy as np
import pytest

import vshm
from conftest import program
from frames import PLANES, array_shape, expected_array, planes_of_array

SIZES = [(256, 144), (200, 150)]


def random_pixels(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def check_frame(frame, fmt, width, height, planes):
    assert (frame.format, frame.width, frame.height) == (fmt, width, height)
    for got, want in zip(frame.planes, planes):
        assert np.array_equal(np.asarray(got), want)
        del got
    if fmt != "i420" or width % 128 == 0:
        assert np.array_equal(frame.array(), expected_array(fmt, width, height, planes))


@pytest.mark.parametrize("fmt", list(PLANES))
@pytest.mark.parametrize("size", SIZES, ids=["aligned", "padded"])
def test_publish_in_every_format(name, fmt, size):
    width, height = size
    pixels = random_pixels(array_shape(fmt, width, height), hash((fmt, size)) % 1000)
    with vshm.Writer(name, fmt, width, height) as writer, vshm.Reader(name, timeout=1) as reader:
        writer.publish(pixels, frame_number=41, capture_ns=12345, flags=vshm.FRAME_DISCONTINUITY,
                       color_matrix=vshm.COLOR_MATRIX_BT709, color_range=vshm.COLOR_RANGE_FULL)
        with reader.next_frame() as frame:
            check_frame(frame, fmt, width, height, planes_of_array(fmt, width, height, pixels))
            assert (frame.frame_number, frame.capture_ns, frame.flags) == (41, 12345, vshm.FRAME_DISCONTINUITY)
            assert (frame.color_matrix, frame.color_range) == (2, 2)
        # Any strides: reversed rows, column order, a non-contiguous slice of a larger array.
        for variant in (pixels[::-1], np.asfortranarray(pixels), np.repeat(pixels, 2, axis=1)[:, ::2]):
            writer.publish(variant)
            with reader.next_frame() as frame:
                check_frame(frame, fmt, width, height, planes_of_array(fmt, width, height, variant))
                assert frame.frame_number == 42 + (frame.sequence - 2)


@pytest.mark.parametrize("fmt", list(PLANES))
def test_frames_filled_in_place(name, fmt):
    width, height = 256, 144
    pixels = random_pixels(array_shape(fmt, width, height), 7)
    with vshm.Writer(name, fmt, width, height) as writer, vshm.Reader(name, timeout=1) as reader:
        with writer.frame() as frame:
            assert not frame.published and frame.frame_number == 0
            frame.array()[...] = pixels
            frame.frame_number = 9
            frame.flags = vshm.FRAME_END_OF_STREAM
        assert frame.published and frame.sequence == 1
        with reader.next_frame() as seen:
            check_frame(seen, fmt, width, height, planes_of_array(fmt, width, height, pixels))
            assert seen.frame_number == 9 and seen.end_of_stream
        # Without array(): through the planes, for the padded i420 that array() cannot show.
        with writer.frame("i420", 200, 150) as frame:
            for plane, value in zip(frame.planes, (16, 128, 240)):
                np.asarray(plane)[:] = value
                del plane
        assert frame.frame_number == 10
        with reader.next_frame() as seen:
            assert [int(np.asarray(p).max()) for p in seen.planes] == [16, 128, 240]
            with pytest.raises(ValueError, match="frame.planes"):
                seen.array()


def test_a_cancelled_frame_is_not_published(name):
    with vshm.Writer(name, "gray8", 16, 16) as writer, vshm.Reader(name, timeout=0.2) as reader:
        frame = writer.frame()
        frame.cancel()
        with pytest.raises(ValueError, match="cancelled"):
            frame.array()
        with pytest.raises(KeyError):
            with writer.frame() as failed:
                failed.array()[:] = 5
                raise KeyError("the block failed")
        assert not failed.published
        assert reader.acquire() is None
        with pytest.raises(vshm.Timeout):
            reader.wait()


def test_bigger_frames_move_the_stream(name):
    with vshm.Writer(name, "rgb24", 64, 48) as writer, vshm.Reader(name, timeout=2) as reader:
        writer.publish(np.zeros((48, 64, 3), np.uint8))
        reader.next_frame().release()
        big = random_pixels((480, 640, 3), 3)
        writer.publish(big)
        assert writer.stats["segments_created"] == 2
        with reader.next_frame() as frame:  # follows the writer to its new segment
            assert np.array_equal(frame.array(), big)
        assert reader.stats["reattaches"] == 1


def test_a_live_writer_keeps_its_name(name):
    with vshm.Writer(name, "gray8", 16, 16):
        with pytest.raises(vshm.StreamError) as raised:
            vshm.Writer(name, "gray8", 16, 16)
        assert raised.value.errno == errno.EBUSY and str(os.getpid()) in str(raised.value)


def test_close_removes_the_stream(name):
    writer = vshm.Writer(name, "gray8", 16, 16)
    writer.publish(np.full((16, 16), 3, np.uint8))
    reader = vshm.Reader(name, timeout=0.2, reattach=False)
    reader.acquire().release()
    writer.close()
    assert writer.closed and not os.path.exists(f"/dev/shm/vshm.{name}")
    with pytest.raises(vshm.WriterGone):
        reader.wait()
    with reader.acquire() as last:  # readers keep the last frame
        assert last.array()[0, 0] == 3
    reader.close()
    for call in (writer.frame, lambda: writer.publish(np.zeros((16, 16), np.uint8))):
        with pytest.raises(ValueError, match="closed"):
            call()
    writer.close()


@pytest.mark.parametrize(
    "fmt, array, error, message",
    [
        ("rgb24", np.zeros((48, 64, 3), np.float64), TypeError, "uint8.*float64"),
        ("rgb24", np.zeros((48, 64, 3), np.int16), TypeError, "uint8.*int16"),
        ("gray8", np.zeros((48, 64), bool), TypeError, "uint8"),
        ("rgb24", np.zeros((48, 64, 4), np.uint8), ValueError, r"\(H, W, 3\).*\(48, 64, 4\)"),
        ("rgb24", np.zeros((48, 64), np.uint8), ValueError, r"\(H, W, 3\)"),
        ("gray8", np.zeros((48, 64, 1), np.uint8), ValueError, r"\(H, W\)"),
        ("nv12", np.zeros((50, 64), np.uint8), ValueError, r"\(H\*3/2, W\)"),
        ("nv12", np.zeros((48, 63), np.uint8), ValueError, "even"),
        ("i420", np.zeros((72, 63), np.uint8), ValueError, "even"),
        ("yuyv", np.zeros((48, 63, 2), np.uint8), ValueError, "even width"),
        ("rgb24", np.zeros((0, 64, 3), np.uint8), ValueError, "shape"),
        ("gray8", np.zeros((48, 16385), np.uint8), ValueError, "shape"),
        ("gray8", [[0, 1], [2, 3]], TypeError, "numpy array.*list"),
        ("gray8", None, TypeError, "NoneType"),
        ("gray8", b"\0" * 64, ValueError, r"shape \(64,\)"),
    ],
)
def test_publish_refuses_bad_arrays(name, fmt, array, error, message):
    with vshm.Writer(name, fmt, 64, 48) as writer, vshm.Reader(name, timeout=0) as reader:
        with pytest.raises(error, match=message):
            writer.publish(array)
        assert reader.acquire() is None, "nothing was published"
        assert writer.stats["frames_published"] == 0


def test_one_frame_at_a_time(name):
    with vshm.Writer(name, "gray8", 16, 16) as writer:
        frame = writer.frame()
        with pytest.raises(RuntimeError, match="publish or cancel"):
            writer.frame()
        with pytest.raises(RuntimeError, match="publish or cancel"):
            writer.publish(np.zeros((16, 16), np.uint8))
        frame.publish()
        with pytest.raises(ValueError, match="published"):
            frame.publish()


@pytest.mark.parametrize("fmt, tolerance", [("rgb24", 2), ("nv12", 6)])
def test_the_c_viewer_shows_a_python_writer(name, xvfb, tmp_path, fmt, tolerance):
    cv2 = pytest.importorskip("cv2")
    width, height = 320, 240
    # Twelve flat blocks of distinct colours.
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255],
                        [255, 255, 255], [128, 128, 128], [64, 0, 128], [0, 128, 64], [200, 100, 0], [20, 20, 20]],
                       np.uint8)
    rgb = np.zeros((height, width, 3), np.uint8)
    for i, colour in enumerate(colours):
        rgb[(i // 4) * 80:(i // 4 + 1) * 80, (i % 4) * 80:(i % 4 + 1) * 80] = colour
    if fmt == "nv12":
        i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        y, u, v = i420[:height], i420[height:height + height // 4].reshape(-1), i420[height + height // 4:].reshape(-1)
        uv = np.stack([u, v], axis=1).reshape(height // 2, width)
        picture = np.concatenate([y, uv])
        expected = cv2.cvtColor(picture, cv2.COLOR_YUV2RGB_NV12)
    else:
        picture = expected = rgb
    snapshot = tmp_path / "shown.png"
    stop = threading.Event()
    with vshm.Writer(name, fmt, width, height) as writer:
        def publish():
            while not stop.is_set():
                writer.publish(picture)
                stop.wait(0.02)

        publisher = threading.Thread(target=publish)
        publisher.start()
        try:
            viewer = subprocess.run(
                [program("VSHM_VIEW"), name, "--snapshot", snapshot, "--after", "5", "--timeout", "20"],
                capture_output=True, text=True, timeout=60,
            )
        finally:
            stop.set()
            publisher.join()
    assert viewer.returncode == 0, viewer.stderr
    assert re.search(r"snapshot of frame \d+", viewer.stderr)
    shown = cv2.cvtColor(cv2.imread(str(snapshot)), cv2.COLOR_BGR2RGB)
    assert shown.shape == (height, width, 3)
    for i in range(len(colours)):
        # Block interiors: chroma upsampling may blend at the edges.
        block = (slice((i // 4) * 80 + 8, (i // 4 + 1) * 80 - 8), slice((i % 4) * 80 + 8, (i % 4 + 1) * 80 - 8))
        difference = np.abs(shown[block].astype(int) - expected[block].astype(int))
        assert difference.max() <= tolerance, f"block {i}: shown {shown[block][0, 0]}, sent {expected[block][0, 0]}"
