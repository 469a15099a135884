/*
 * A fake V4L2 camera behind libv4l2's entry points (v4l2_open, v4l2_fd_open, v4l2_ioctl,
 * v4l2_mmap, v4l2_munmap, v4l2_close), for testing vshm-capture's camera source without
 * hardware. It also answers open() (and open64()) of its device path, so that a program
 * can open the device itself and give the fd to v4l2_fd_open(), exactly as on hardware.
 *
 * libv4l2's own rule is kept: an fd from v4l2_open(), or given to v4l2_fd_open() without
 * V4L2_DISABLE_CONVERSION, goes through libv4l2's converter, whose VIDIOC_REQBUFS refuses
 * every memory type but MMAP (EINVAL; libv4l2.c: "add support for userptr's?"). Only an
 * fd given to v4l2_fd_open(fd, V4L2_DISABLE_CONVERSION) (or used bare) reaches the
 * driver, which takes USERPTR unless FAKE_CAMERA_USERPTR=0. Linked into a test, close fds
 * with v4l2_close() (libv4l2 takes any fd there): the fake does not see a plain close().
 *
 * Two ways to use it: linked into a test program (its v4l2_* functions then take the
 * place of libv4l2's, which the test does not link), or built as libfake-camera.so and
 * put in front of a program with LD_PRELOAD: the real vshm-capture, or v4l2-compliance,
 * for which the module also answers the kernel's calls on the device (ioctl, mmap,
 * close, stat and fstat of the node, its sysfs uevent; fake-camera-kernel.c) and passes
 * what v4l2-compliance -s and -w -s check, but for the failures
 * v4l2-compliance-deliberate.txt lists with their reasons. It has one input (a camera),
 * priorities (G/S_PRIORITY, EBUSY to a handle outranked by another), no controls, no
 * CREATE_BUFS, no DMABUF and no read().
 *
 * It answers like the kernel's videobuf2 drivers do, including their refusals: QBUF of a
 * queued buffer, of an unknown index or before REQBUFS (EINVAL), S_FMT or REQBUFS while
 * buffers exist or stream (EBUSY), REQBUFS while buffers are still mapped (EBUSY), a
 * second file handle touching a queue another owns (EBUSY), mmap of an unknown offset or
 * without MAP_SHARED (EINVAL), DQBUF when not streaming (EINVAL), everything after the
 * device vanished (ENODEV). Frames are made when DQBUF looks for them, one per frame
 * period since STREAMON, into the oldest queued buffer; periods with no queued buffer are
 * lost (a gap in the sequence numbers), as with a real driver. Every queued buffer is
 * filled with garbage when it is queued and at every frame period, so a program that
 * reads or publishes a buffer the driver owns sees wrong pixels. The file descriptor is
 * a timerfd that becomes readable when a frame is due, so poll() on it works.
 *
 * Environment (read at the first v4l2_open(), and by fake_camera_reset()):
 *   FAKE_CAMERA_DEVICE       device path it answers for (default /dev/video0); other
 *                            paths go to the real open()/ioctl() (ENOENT, ENOTTY, ...)
 *   FAKE_CAMERA_FORMATS      offered formats, e.g. "YUYV,MJPG" (default: YUYV UYVY NV12
 *                            YU12 RGB3 BGR3 GREY MJPG); JPEG is compressed as MJPG is
 *   FAKE_CAMERA_EMULATE      1: fds that libv4l2 converts for also offer RGB3 BGR3 YU12
 *                            YV12 flagged V4L2_FMT_FLAG_EMULATED (those the driver lacks),
 *                            as libv4l2 does; their frames come in that format
 *   FAKE_CAMERA_SIZES        offered sizes, e.g. "640x480,1280x720" (even numbers), or a
 *                            range: "stepwise:160x120-1280x720/16x8",
 *                            "continuous:160x120-1280x720"
 *   FAKE_CAMERA_FPS          offered rates, e.g. "30,15" (the first is the default)
 *   FAKE_CAMERA_FORMAT_FPS   formats that have one rate only, e.g. "YUYV:5,MJPG:30"
 *   FAKE_CAMERA_BYTESPERLINE_ALIGN N: rows padded to a multiple of N bytes
 *   FAKE_CAMERA_TIMESTAMPS   "monotonic" (default); "realtime": CLOCK_REALTIME flagged
 *                            unknown, as drivers before Linux 3.10; "backwards": flagged
 *                            monotonic, but every 4th frame stamped 50 ms early
 *   FAKE_CAMERA_STALL_AFTER  N and FAKE_CAMERA_STALL_MS M: after N frames, none for M ms
 *   FAKE_CAMERA_USERPTR      0 refuses USERPTR memory (EINVAL at REQBUFS); default 1
 *   FAKE_CAMERA_CAPS         "capture" (default), "output" or "metadata"
 *   FAKE_CAMERA_OPEN_ERROR   an errno name (EACCES, EBUSY, ...) that open fails with
 *   FAKE_CAMERA_BUSY         1: another process owns the queue (S_FMT, REQBUFS: EBUSY)
 *   FAKE_CAMERA_EAGAIN_EVERY N: every Nth DQBUF fails with EAGAIN though a frame is ready
 *   FAKE_CAMERA_EINTR_EVERY  N: every Nth DQBUF fails with EINTR
 *   FAKE_CAMERA_ERROR_EVERY  N: every Nth frame is garbage flagged V4L2_BUF_FLAG_ERROR
 *   FAKE_CAMERA_DROP_EVERY   N: every Nth frame is lost (a gap in the sequence)
 *   FAKE_CAMERA_UNPLUG_AFTER N: the device vanishes after N frames were dequeued (once)
 *   FAKE_CAMERA_REPLUG_MS    M: and comes back M ms later (default: never)
 *   FAKE_CAMERA_REPLUG_FORMATS  formats it offers once it is back (default: the same)
 *   FAKE_CAMERA_MIN_BUFFERS  N: REQBUFS grants at least N buffers (default 2), as
 *                            drivers raise the count to what they need
 *   FAKE_CAMERA_MAX_BUFFERS  N: and at most N (default and largest 64), as drivers
 *                            lower it to what they have
 *   FAKE_CAMERA_USERPTR_REFUSED_AT  "qbuf" or "streamon": USERPTR is taken at REQBUFS
 *                            but the memory refused there (EFAULT at QBUF, EINVAL at
 *                            STREAMON), as drivers built on vb2-dma-contig do
 *   FAKE_CAMERA_STREAMON_ERROR  an errno name (EIO, ...) that STREAMON fails with
 *   FAKE_CAMERA_SIZEIMAGE_EXTRA N: raw frames' sizeimage (and bytesused) is N bytes
 *                            more than the pixels need, as some drivers pad it
 *   FAKE_CAMERA_MJPEG_WHOLE_BUFFER 1: MJPEG frames say the whole buffer is used (the
 *                            JPEG, then zeros), leaving no room after the data
 *   FAKE_CAMERA_MJPEG_CUT_EVERY N: every Nth JPEG is cut to half its bytes, with no
 *                            error flag, as USB cameras short of bandwidth send them
 * A mapped buffer is followed by an inaccessible page: reading past its end faults.
 *   FAKE_CAMERA_FILL         "none": frames get only their 8-byte stamp, as if a DMA
 *                            engine wrote them at no CPU cost (for benchmarks)
 *
 * Frame contents (fake_camera_fill()): a deterministic picture of sequence number s in
 * the V4L2 layout; the first 8 bytes of the buffer hold s, little-endian, so a reader can
 * tell which frame it has and check every other byte. MJPEG frames are that picture in
 * YUV 4:2:2 compressed by libavcodec's mjpeg encoder (fake_camera_jpeg()), without the
 * stamp. Not thread-safe: one thread uses the fake at a time.
 */
#ifndef VSHM_TEST_FAKE_CAMERA_H
#define VSHM_TEST_FAKE_CAMERA_H

#include <stddef.h>
#include <stdint.h>

/* Forgets every device state and re-reads the environment. No handle may be open. */
void fake_camera_reset(void);

/* The V4L2 bytesperline and sizeimage the fake uses for a format and size. */
uint32_t fake_camera_bytesperline(uint32_t pixelformat, uint32_t width);
uint32_t fake_camera_sizeimage(uint32_t pixelformat, uint32_t width, uint32_t height);

/* Writes frame sequence of an uncompressed format into buffer, V4L2 layout. */
void fake_camera_fill(uint32_t pixelformat, uint32_t width, uint32_t height, uint64_t sequence,
                      uint8_t *buffer);

/*
 * Compresses frame sequence as the fake's MJPEG frames are. Returns the size written to
 * buffer, or 0 if it does not fit capacity or the encoder failed.
 */
size_t fake_camera_jpeg(uint32_t width, uint32_t height, uint64_t sequence, uint8_t *buffer,
                        size_t capacity);

/* Frames dequeued so far, over every handle and replug (for tests). */
uint64_t fake_camera_frames_dequeued(void);

#endif
