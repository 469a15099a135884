"""Views of a frame's pixels and the end of its hold: a frame is never given back while a
memoryview or numpy array of it is alive (BufferError, frame kept intact), and once it
is given back every way to its pixels raises. Nothing here may crash the interpreter:
the sanitizer build runs this file with the extension under AddressSanitizer."""

import ctypes
import threading
import time

import numpy as np
import pytest

import vshm

SIZE = (48, 64)


@pytest.fixture
def stream(name):
    """A writer with one published gray frame (value 1) and a reader of it."""
    with vshm.Writer(name, "gray8", SIZE[1], SIZE[0], slots=3) as writer:
        writer.publish(np.full(SIZE, 1, np.uint8), frame_number=1)
        with vshm.Reader(name, timeout=2) as reader:
            yield writer, reader


def publish(writer, value, number=None):
    writer.publish(np.full(SIZE, value, np.uint8), frame_number=number)


def test_release_refused_while_an_array_lives(stream):
    writer, reader = stream
    frame = reader.acquire()
    image = frame.array()
    with pytest.raises(BufferError, match="still alive"):
        frame.release()
    assert not frame.released
    # Still held: the writer avoids the slot, so the array keeps its frame intact.
    for value in range(2, 30):
        publish(writer, value)
    assert (image == 1).all()
    del image
    assert frame.release() is True
    assert frame.released


@pytest.mark.parametrize(
    "keep",
    [
        lambda f: f.array()[2:5, ::2],  # a numpy view of the array, the array itself gone
        lambda f: f.array().T,
        lambda f: np.asarray(f.planes[0]),  # an array of a plane, the memoryview gone
        lambda f: f.planes[0],  # the memoryview itself
        lambda f: f.planes[0][1:3],  # a slice of it
        lambda f: memoryview(f.array()),  # a memoryview of an array
        lambda f: [f.array()],  # kept in a container
    ],
    ids=["slice", "transpose", "plane-array", "plane", "plane-slice", "memoryview-of-array", "list"],
)
def test_every_kind_of_view_counts(stream, keep):
    writer, reader = stream
    frame = reader.acquire()
    kept = keep(frame)
    with pytest.raises(BufferError):
        frame.release()
    del kept
    assert frame.release() is True


def test_memoryview_release_lets_the_frame_go(stream):
    writer, reader = stream
    frame = reader.acquire()
    plane = frame.planes[0]
    with pytest.raises(BufferError):
        frame.release()
    plane.release()
    assert frame.release()
    with pytest.raises(ValueError, match="released"):
        plane.tobytes()


def test_everything_raises_after_release(stream):
    writer, reader = stream
    frame = reader.acquire()
    plane = frame.planes[0]
    exporter = plane.obj
    plane.release()
    del plane
    assert frame.release()
    for value in range(2, 10):
        publish(writer, value)  # the slot is rewritten
    with pytest.raises(ValueError, match="released"):
        frame.array()
    with pytest.raises(ValueError, match="released"):
        frame.planes
    with pytest.raises(BufferError, match="given back"):
        memoryview(exporter)
    # numpy falls back to wrapping the object itself: no pixel is reachable.
    assert np.asarray(exporter).dtype == object
    with pytest.raises(ValueError):
        frame.release()
    # The metadata are values, kept.
    assert (frame.width, frame.height, frame.frame_number, frame.format) == (64, 48, 1, "gray8")


def test_arrays_of_a_reader_frame_are_read_only(stream):
    writer, reader = stream
    with reader.acquire() as frame:
        with pytest.raises(ValueError, match="read-only"):
            frame.array()[0, 0] = 9
        with pytest.raises(TypeError):
            frame.planes[0][0, 0] = 9
        plane = frame.planes[0]
        with pytest.raises((BufferError, TypeError), match="writable|read-only"):
            ctypes.c_char.from_buffer(plane.obj)
        plane.release()


def test_with_block_refuses_while_a_view_lives(stream):
    writer, reader = stream
    with pytest.raises(BufferError):
        with reader.acquire() as frame:
            image = frame.array()
    assert not frame.released
    del image
    assert frame.release()


def test_with_block_keeps_the_body_exception(stream):
    writer, reader = stream
    with pytest.raises(KeyError):
        with reader.acquire() as frame:
            image = frame.array()
            raise KeyError("from the body")
    # The frame stays held while the array lives, and goes when it goes.
    assert not frame.released
    del image
    assert frame.release()


def test_iteration_refuses_to_move_on_while_a_view_lives(stream):
    writer, reader = stream
    steps = iter(reader)
    frame = next(steps)
    image = frame.array()
    publish(writer, 2)
    with pytest.raises(BufferError, match="next step"):
        next(steps)
    assert not frame.released and (image == 1).all()
    del image
    frame = next(steps)
    assert frame.array()[0, 0] == 2
    publish(writer, 3)
    following = next(steps)  # no view was kept: the previous frame went by itself
    assert frame.released and following.frame_number != frame.frame_number
    following.release()


def test_a_dropped_frame_gives_its_slot_back(stream):
    writer, reader = stream
    frame = reader.acquire()
    with pytest.raises(RuntimeError, match="still holds"):
        reader.acquire()
    del frame
    second = reader.acquire()
    assert second is not None
    second.release()


def test_close_refused_while_a_view_lives(stream):
    writer, reader = stream
    frame = reader.acquire()
    image = frame.array()
    with pytest.raises(BufferError):
        reader.close()
    with pytest.raises(BufferError):
        reader.reattach()
    assert not reader.closed and (image == 1).all()
    del image
    reader.close()
    assert reader.closed and frame.released
    for call in (reader.acquire, reader.wait, reader.next_frame, reader.reattach, lambda: next(iter(reader))):
        with pytest.raises(ValueError, match="closed"):
            call()
    with pytest.raises(ValueError, match="closed"):
        reader.stats
    reader.close()  # twice is fine


def test_writer_frame_views(name):
    with vshm.Writer(name, "rgb24", 32, 16) as writer, vshm.Reader(name, timeout=0) as reader:
        frame = writer.frame()
        image = frame.array()
        image[:] = (10, 20, 30)
        with pytest.raises(BufferError):
            frame.publish()
        with pytest.raises(BufferError):
            frame.cancel()
        with pytest.raises(BufferError):
            writer.close()
        assert reader.acquire() is None, "nothing was published"
        del image
        np.asarray(frame.planes[0])[0, 0:3] = (1, 2, 3)
        frame.publish()
        assert frame.published
        with pytest.raises(ValueError, match="published"):
            frame.array()
        with pytest.raises(ValueError, match="published"):
            frame.frame_number = 5
        with reader.acquire() as seen:
            pixels = seen.array()
            assert list(pixels[0, 0]) == [1, 2, 3] and list(pixels[5, 5]) == [10, 20, 30]
            del pixels
        # A frame left unpublished is cancelled when it goes.
        unpublished = writer.frame()
        unpublished.array()[:] = 99
        del unpublished
        with writer.frame() as again:
            again.array()[:] = 7
        with reader.acquire() as seen:
            assert seen.array()[0, 0, 0] == 7


def test_release_from_another_thread_while_waiting(stream):
    writer, reader = stream
    frame = reader.acquire()
    waiter = threading.Thread(target=lambda: pytest.raises(vshm.Timeout, reader.wait, timeout=0.5))
    waiter.start()
    time.sleep(0.1)
    with pytest.raises(RuntimeError, match="another thread"):
        frame.release()
    # Dropped meanwhile: given back as soon as the waiting thread is done.
    del frame
    waiter.join()
    again = reader.acquire()
    assert again is not None
    again.release()


def test_frames_cannot_be_made_directly():
    for kind in (vshm.Frame, vshm.OutputFrame):
        with pytest.raises(TypeError):
            kind()
