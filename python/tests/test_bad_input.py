"""Bad input to every entry point gets a clear exception, never a crash: bad names and
types, bad numbers, segments that are not streams, closed objects used again."""

import errno
import os

import numpy as np
import pytest

import vshm

BAD_NAMES = ["", "a/b", "x" * 65, ".hidden", "..", "sp ace", "tab\t", "ü", "a\0b"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_names(bad):
    with pytest.raises(ValueError) as raised:
        vshm.Reader(bad, timeout=0)
    assert str(raised.value)
    with pytest.raises(ValueError):
        vshm.Writer(bad, "gray8", 16, 16)
    with pytest.raises(ValueError):
        vshm.check_name(bad)


@pytest.mark.parametrize("bad", [None, 5, b"bytes", ["cam"]])
def test_names_of_the_wrong_type(bad):
    with pytest.raises(TypeError):
        vshm.Reader(bad, timeout=0)
    with pytest.raises(TypeError):
        vshm.Writer(bad, "gray8", 16, 16)
    with pytest.raises(TypeError):
        vshm.check_name(bad)


@pytest.mark.parametrize(
    "timeout, error", [(-1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
                       ("5", TypeError), (True, TypeError), (1j, TypeError)]
)
def test_bad_timeouts(name, timeout, error):
    with pytest.raises(error, match="timeout"):
        vshm.Reader(name, timeout=timeout)
    with vshm.Writer(name, "gray8", 16, 16) as writer:
        writer.publish(np.zeros((16, 16), np.uint8))
        with vshm.Reader(name, timeout=0) as reader:
            with pytest.raises(error, match="timeout"):
                reader.wait(timeout)
            with pytest.raises(error, match="timeout"):
                reader.next_frame(timeout=timeout)
            with pytest.raises(error, match="timeout"):
                reader.timeout = timeout
            with pytest.raises(AttributeError):
                del reader.timeout


def test_unknown_arguments(name):
    with pytest.raises(TypeError):
        vshm.Reader(name, timeout=0, bogus=1)
    with pytest.raises(TypeError):
        vshm.Reader(name, 0, True)  # reattach is keyword-only
    with pytest.raises(TypeError):
        vshm.Writer(name, "gray8", 16, 16, 3)  # so are slots and the rest


@pytest.mark.parametrize(
    "arguments, keywords, error, message",
    [
        (("nv13", 16, 16), {}, ValueError, "not a pixel format.*nv12 i420"),
        ((5, 16, 16), {}, TypeError, "format"),
        (("gray8", 0, 16), {}, ValueError, "width must be 1..16384"),
        (("gray8", 16, 16385), {}, ValueError, "height must be 1..16384"),
        (("gray8", -1, 16), {}, ValueError, "width"),
        (("gray8", 2**70, 16), {}, ValueError, "width"),
        (("gray8", 1.5, 16), {}, TypeError, "width must be an integer"),
        (("gray8", "16", 16), {}, TypeError, "width must be an integer"),
        (("gray8", None, 16), {}, TypeError, "width"),
        (("gray8", 16, 16), {"slots": 2}, ValueError, "slots must be 3..64"),
        (("gray8", 16, 16), {"slots": 65}, ValueError, "slots"),
        (("gray8", 16, 16), {"slots": "3"}, TypeError, "slots"),
        (("gray8", 16, 16), {"readers": 0}, ValueError, "readers must be 1..1024"),
        (("gray8", 16, 16), {"readers": 1025}, ValueError, "readers"),
        (("gray8", 16, 16), {"fps": 0}, ValueError, "fps"),
        (("gray8", 16, 16), {"fps": 1001}, ValueError, "fps"),
        (("gray8", 16, 16), {"fps": "fast"}, TypeError, ""),
    ],
)
def test_bad_writer_arguments(name, arguments, keywords, error, message):
    with pytest.raises(error, match=message):
        vshm.Writer(name, *arguments, **keywords)
    assert not os.path.exists(f"/dev/shm/vshm.{name}")


def test_bad_frame_requests_and_metadata(name):
    with vshm.Writer(name, "gray8", 16, 16) as writer:
        with pytest.raises(ValueError, match="pixel format"):
            writer.frame("bogus")
        with pytest.raises(ValueError, match="width"):
            writer.frame(width=0)
        with pytest.raises(ValueError):
            writer.publish(np.zeros((16, 16), np.uint8), frame_number=-1)
        with pytest.raises(ValueError):
            writer.publish(np.zeros((16, 16), np.uint8), color_matrix=256)
        with writer.frame() as frame:
            for field, value, error in [
                ("frame_number", -1, ValueError),
                ("frame_number", 2**64, ValueError),
                ("flags", 2**32, ValueError),
                ("color_matrix", 256, ValueError),
                ("color_range", "full", TypeError),
                ("capture_ns", 1.5, TypeError),
            ]:
                with pytest.raises(error):
                    setattr(frame, field, value)
            with pytest.raises(AttributeError):
                frame.width = 5
            with pytest.raises(AttributeError):
                del frame.flags
            frame.frame_number = 2**64 - 1
        assert writer.stats["frames_published"] == 1


def test_segments_that_are_not_streams(name):
    path = f"/dev/shm/vshm.{name}"
    try:
        for content in (b"", b"not a vshm segment" * 300, b"VSHM" + b"\xff" * 8188):
            with open(path, "wb") as segment:
                segment.write(content)
            os.chmod(path, 0o600)
            with pytest.raises(vshm.StreamError) as raised:
                vshm.Reader(name, timeout=0)
            assert raised.value.errno in (errno.EPROTO, errno.ENODATA, errno.EAGAIN), raised.value
            assert name in str(raised.value)
        os.unlink(path)
        os.mkfifo(path)
        with pytest.raises(vshm.StreamError) as raised:
            vshm.Reader(name, timeout=0)
        assert name in str(raised.value)
    finally:
        if os.path.lexists(path):
            os.unlink(path)


def test_closed_objects(name):
    writer = vshm.Writer(name, "gray8", 16, 16)
    writer.publish(np.zeros((16, 16), np.uint8))
    reader = vshm.Reader(name, timeout=0)
    frame = reader.acquire()
    reader.close()
    writer.close()
    assert frame.released and reader.closed and writer.closed
    assert "closed" in repr(reader) and "closed" in repr(writer)
    with pytest.raises(ValueError, match="closed"):
        reader.writer_state
    with pytest.raises(ValueError, match="closed"):
        with reader:
            pass
    with pytest.raises(ValueError, match="closed"):
        with writer:
            pass
    with pytest.raises(ValueError, match="closed"):
        writer.stats
    with pytest.raises(ValueError):
        frame.release()


def test_run_filter_arguments():
    with pytest.raises(TypeError, match="process"):
        vshm.run_filter(None, argv=["f", "in"])
    with pytest.raises(TypeError, match="output_format"):
        vshm.run_filter(lambda i, o: None, output_format="gray8", argv=["f", "in"])
    with pytest.raises(ValueError, match="input_formats"):
        vshm.run_filter(lambda i, o: None, input_formats=["nv13"], argv=["f", "in"])
    assert vshm.run_filter(lambda i, o: None, argv=["f", "--slots", "x", "in"]) == 2
