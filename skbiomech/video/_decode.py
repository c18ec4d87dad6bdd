"""Frames from videos, photos, folders of frame images and NumPy arrays.

Every source comes out the same way: :class:`Frame` tuples holding an
``(H, W, 3)`` uint8 RGB image, so the tracker downstream never has to ask
where its pixels came from. Videos are decoded with PyAV (FFmpeg), one frame
at a time, so memory stays flat however long the video; images with Pillow.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["Frame", "MediaInfo", "VideoReadError", "VideoReadWarning", "iter_frames", "probe"]

#: File suffixes read as still images (also in a folder of frames). GIF is
#: left to FFmpeg, which decodes an animated GIF as the video it is.
IMAGE_SUFFIXES = frozenset(
    ".jpg .jpeg .jpe .jfif .png .bmp .dib .tif .tiff .webp .ppm .pgm .pbm .pnm .tga .jp2 .j2k .qoi".split()
)
_INSTALL = 'pip install "skbiomech[video]"'
_SOURCES = "a video file, an image file, a folder of frame images, or a NumPy array"
_REENCODE = "re-encode it, e.g. `ffmpeg -i INPUT -pix_fmt yuv420p OUTPUT.mp4`"
# FFmpeg's "tty" demuxer opens any text file as ANSI art: never a video.
_TEXT_FORMATS = {"tty"}


class VideoReadError(ValueError):
    """A file that cannot be read as a video or image; the message says why and what to do."""


class VideoReadWarning(UserWarning):
    """A video decoded only in part (truncated or damaged); the frames read are kept.

    Turn it into an error with ``warnings.simplefilter("error", VideoReadWarning)``.
    """


class Frame(NamedTuple):
    """One decoded frame.

    Attributes
    ----------
    index : int
        Position in the source: 0-based decode order for videos and arrays,
        the number in the file name for a folder of frame images.
    time : float
        Seconds from the start of the video stream, read from the frame's own
        timestamp (so variable frame rates are exact); ``index / fps`` for a
        folder or array when ``fps`` is given, else NaN; 0.0 for one image.
    image : ndarray of uint8 of shape (H, W, 3)
        RGB pixels, C-contiguous, owned by the frame (never a view of the input).
    """

    index: int
    time: float
    image: np.ndarray


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` learns about a source without decoding it all.

    Attributes
    ----------
    kind : {"video", "image", "folder", "array"}
    n_frames : int or None
        Exact for images, folders, arrays and MP4/MOV; an estimate
        (duration x frame rate) for containers that do not count frames;
        None when unknown.
    fps : float or None
        Average frame rate of a video; the ``fps`` given for a folder or
        array; None otherwise.
    width, height : int
        Size of the images :func:`iter_frames` yields (after rotation).
    duration : float or None
        Seconds; None when unknown or meaningless (a single image).
    """

    kind: str
    n_frames: int | None
    fps: float | None
    width: int
    height: int
    duration: float | None


def _import_av():
    try:
        import av
    except ImportError:
        raise ImportError(f"Decoding videos needs PyAV (the `av` package): {_INSTALL}") from None
    return av


def _import_pil():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError(f"Reading images needs Pillow: {_INSTALL}") from None
    return Image, ImageOps


def _check_fps(fps):
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not (0 < fps < math.inf):
        raise ValueError(f"fps must be a positive number of frames per second or None; got {fps!r}.")
    return float(fps)


def _check_color(color):
    if color not in ("rgb", "bgr"):
        raise ValueError(f'color must be "rgb" or "bgr"; got {color!r}.')
    return color


# -- classification -----------------------------------------------------------


def _open_video(path):
    """``(container, stream)`` of a file FFmpeg reads as a video, else None.

    Raises :class:`VideoReadError` for a media file with no video stream.
    """
    av = _import_av()
    try:
        container = av.open(str(path))
    except (av.FFmpegError, EOFError, OSError, UnicodeDecodeError):
        return None
    if container.format.name in _TEXT_FORMATS:
        container.close()
        return None
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise VideoReadError(
            f"{path} has no video stream (its streams: {', '.join(kinds)}); pass a file "
            "with video, or for an audio-free still, an image file."
        )
    return container, container.streams.video[0]


def _is_image_container(container):
    # FFmpeg also reads single images ("image2", "png_pipe", ...): leave them to Pillow.
    name = container.format.name
    return name == "image2" or name.endswith("_pipe")


def _source(source):
    """``(kind, payload)``: the checked source, opened when it is a video."""
    if isinstance(source, np.ndarray):
        return "array", _check_array(source)
    if not isinstance(source, (str, os.PathLike)):
        hint = " Stack a list of frames with np.stack(frames)." if isinstance(source, (list, tuple)) else ""
        raise TypeError(f"source must be {_SOURCES}; got {type(source).__name__}.{hint}")
    path = Path(source).expanduser()
    if path.is_dir():
        return "folder", _folder_files(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or folder: {path}; pass {_SOURCES}.")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "image", path
    opened = _open_video(path)
    if opened is not None:
        if not _is_image_container(opened[0]):
            return "video", (path, *opened)
        opened[0].close()
    if _is_pil_image(path):  # an image with an unusual name
        return "image", path
    raise VideoReadError(f"{path} {_diagnose(path)} Pass {_SOURCES}.")


def _diagnose(path):
    """Why a file that neither FFmpeg nor Pillow opens is unreadable, and the fix."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if not head:
        return "is empty (0 bytes): re-copy or re-export it."
    if head[4:8] == b"ftyp":  # ISO base media (MP4, MOV) without a readable index
        return (
            "is an MP4/MOV file whose index (its 'moov' box) is missing or damaged, as when a "
            "download, copy or recording is cut short: the file seems truncated. Re-copy it "
            "(a cut-off recording can sometimes be rebuilt with a tool such as untrunc)."
        )
    return "is neither a video nor an image: FFmpeg and Pillow cannot read it (not a media file, or damaged)."


def _is_pil_image(path):
    Image, _ = _import_pil()
    try:
        with Image.open(path) as image:
            image.verify()
    except Exception:  # Pillow raises many kinds: any failure means "not an image"
        return False
    return True


# -- videos ---------------------------------------------------------------------


def _video_rate(stream):
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def _video_duration(container, stream):
    if stream.duration:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1e6  # AV_TIME_BASE
    return None


def _video_image(frame, path, index):
    av = _import_av()
    try:
        image = frame.to_ndarray(format="rgb24")
    except (ValueError, av.FFmpegError) as exc:
        raise VideoReadError(
            f"{path}, frame {index}: pixel format {frame.format.name!r} cannot be converted to "
            f"RGB ({exc}); {_REENCODE}."
        ) from None
    # Phones store portrait video sideways with a display rotation (counterclockwise
    # degrees); apply it as players do, or the face lies on its side.
    turns = round(frame.rotation / 90) % 4
    if turns:
        image = np.rot90(image, turns)
    return np.ascontiguousarray(image)


def _video_frames(path, container, stream):
    av = _import_av()
    stream.thread_type = "AUTO"  # measured: 20% faster on 640x360 H.264 and 960x540 HEVC, 2 cores
    base, start = stream.time_base, stream.start_time or 0
    rate = _video_rate(stream)
    n, time, failures, stopped, packets, concealed = 0, math.nan, [], None, 0, 0
    with container:
        try:
            for packet in container.demux(stream):
                packets += packet.size > 0
                try:
                    frames = packet.decode()
                except av.FFmpegError as exc:  # a damaged packet: FFmpeg's CLI skips it too
                    failures.append(exc)
                    continue
                for frame in frames:
                    if frame.pts is not None and base is not None:
                        time = float((frame.pts - start) * base)
                    elif rate:  # no timestamp: assume the nominal rate
                        time = time + 1 / rate if n else 0.0
                    concealed += frame.is_corrupt
                    yield Frame(n, time, _video_image(frame, path, n))
                    n += 1
        except (av.FFmpegError, EOFError, OSError) as exc:  # the demuxer itself gave up
            stopped = exc
        expected, duration = stream.frames, _video_duration(container, stream)
    if n == 0:
        cause = stopped or (failures[0] if failures else None)
        raise VideoReadError(
            f"{path}: no frame could be decoded"
            + (f" ({cause})" if cause else " (the video stream is empty)")
            + f". The file seems truncated, damaged or empty: re-copy it or {_REENCODE}."
        )
    problems = []
    if failures:
        problems.append(f"{len(failures)} damaged packet(s) were skipped (first error: {failures[0]})")
    if concealed:
        problems.append(f"{concealed} frame(s) were decoded with errors (damaged data, patched over)")
    if stopped is not None:
        problems.append(f"reading stopped early ({stopped})")
    # Compare packets, not frames: an edit list may drop a few frames of a complete file.
    if expected and packets < expected:
        problems.append(f"the file holds {packets} of the {expected} frames its header announces")
    elif not expected and duration and rate and time < 0.9 * duration - 2 / rate:
        problems.append(f"the last frame is at {time:.2f} s of the {duration:.2f} s the header announces")
    if problems:
        warnings.warn(
            f"{path}: decoded only {n} frames; {'; '.join(problems)}. The file seems truncated or "
            "damaged; the frames decoded are kept (re-copy the file to get the rest).",
            VideoReadWarning,
            stacklevel=2,
        )


def _probe_video(path, container, stream):
    av = _import_av()
    with container:
        frame = None
        try:
            for packet in container.demux(stream):
                try:
                    frame = next(iter(packet.decode()), None)
                except av.FFmpegError:
                    continue
                if frame is not None:
                    break
        except (av.FFmpegError, EOFError, OSError):
            pass
        if frame is None:
            raise VideoReadError(
                f"{path}: no frame could be decoded. The file seems truncated, damaged or "
                f"empty: re-copy it or {_REENCODE}."
            )
        height, width = _video_image(frame, path, 0).shape[:2]
        rate, duration = _video_rate(stream), _video_duration(container, stream)
        n_frames = stream.frames or (round(duration * rate) if duration and rate else None)
    return MediaInfo("video", n_frames, rate, width, height, duration)


# -- images and folders ------------------------------------------------------------


def _rgb(image, path):
    """A Pillow image of any mode as an (H, W, 3) uint8 RGB array."""
    mode = image.mode
    if mode.startswith("I"):  # 16-bit ("I;16...") or 32-bit integer grey: Pillow's convert clips
        grey = np.asarray(image, dtype=np.float64) / 257.0
        grey = np.rint(np.clip(grey, 0, 255)).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if mode == "F":
        grey = np.asarray(image, dtype=np.float64)
        if not (grey.min() >= 0 and grey.max() <= 1):
            raise VideoReadError(
                f"{path} is a floating-point image with values outside [0, 1]; save it as an 8-bit image."
            )
        grey = np.rint(grey * 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if mode in ("P", "PA"):  # via RGBA, so palette transparency is read, not warned about
        image = image.convert("RGBA")
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def _read_image(path):
    Image, ImageOps = _import_pil()
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)  # camera orientation, as viewers show it
            return _rgb(image, path)
    except VideoReadError:
        raise
    except Image.UnidentifiedImageError:
        raise VideoReadError(
            f"{path} is not an image Pillow can read (is it really a {path.suffix or 'image'} "
            f"file?); pass {_SOURCES}."
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise VideoReadError(
            f"{path} is a damaged or truncated image ({exc}); re-copy or re-export it."
        ) from None


def _image_size(path):
    Image, _ = _import_pil()
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)  # EXIF Orientation
    except (OSError, SyntaxError, ValueError) as exc:
        raise VideoReadError(f"{path} is not an image Pillow can read ({exc}).") from None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _frame_number(path):
    digits = re.findall(r"\d+", path.stem)
    if not digits:
        raise VideoReadError(
            f"{path} has no frame number in its name; frame images are ordered by the last "
            "number in the name (0001.jpg, frame_12.png): rename or move it."
        )
    return int(digits[-1])


def _folder_files(folder):
    """``[(frame number, path)]`` of a folder's frame images, in frame order."""
    # Hidden files include macOS's "._0001.jpg" resource forks, which are no images.
    files = [p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()]
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        found = f" (it holds {', '.join(sorted(p.name for p in files)[:3])}, ...)" if files else " (it is empty)"
        raise VideoReadError(
            f"{folder} holds no frame images{found}; a folder source must hold images named "
            f"by frame number ({', '.join(sorted(IMAGE_SUFFIXES)[:6])}, ...). To read a video, "
            "pass the video file itself."
        )
    numbered = sorted((_frame_number(p), p.name, p) for p in images)
    clashes = [n for n, count in Counter(n for n, _, _ in numbered).items() if count > 1]
    if clashes:
        names = [name for n, name, _ in numbered if n == clashes[0]]
        raise VideoReadError(
            f"{folder}: {' and '.join(names)} have the same frame number {clashes[0]} "
            f"({len(clashes)} number(s) clash in all); keep one file per frame."
        )
    return [(n, p) for n, _, p in numbered]


# -- arrays ------------------------------------------------------------------------


def _array_shape_fix(shape):
    ndim = len(shape)
    if ndim == 2 or (ndim == 3 and shape[-1] not in (1, 3, 4) and shape[0] != 3):
        return "for grey images add the channels: np.repeat(array[..., None], 3, axis=-1)"
    if ndim in (3, 4) and shape[-1] == 1:
        return "for grey images repeat the channel: np.repeat(array, 3, axis=-1)"
    if ndim in (3, 4) and shape[-1] == 4:
        return "drop the alpha channel: array[..., :3]"
    if ndim in (3, 4) and shape[-3] == 3:
        return "channels go last: np.moveaxis(array, -3, -1)"
    return "pass (H, W, 3) for one image or (T, H, W, 3) for T frames"


def _check_array(array):
    shape = array.shape
    if array.ndim not in (3, 4) or shape[-1] != 3:
        raise ValueError(
            f"An image array must have shape (H, W, 3) or (T, H, W, 3); got {shape}: "
            f"{_array_shape_fix(shape)}."
        )
    if array.size == 0:
        raise ValueError(f"The image array is empty (shape {shape}).")
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "f":
        low, high = array.min(), array.max()
        if not (low >= 0 and high <= 1):  # NaN fails both comparisons
            fix = "array.astype(np.uint8)" if high <= 255 and low >= 0 else "rescale it to [0, 1]"
            raise ValueError(
                f"A float image array must hold values in [0, 1]; got [{low}, {high}]. For 0..255 "
                f"values use {fix}."
            )
        return array
    raise ValueError(
        f"An image array must be uint8 (0..255) or float in [0, 1]; got dtype {array.dtype}. "
        "Convert 0..255 integers with array.astype(np.uint8)."
    )


def _array_image(image, color):
    if image.dtype != np.uint8:
        image = np.rint(image * 255).astype(np.uint8)
    if color == "bgr":
        image = image[..., ::-1]
    return np.array(image, order="C")  # a copy: frames never alias the caller's array


def _array_frames(array, color, fps):
    if array.ndim == 3:
        yield Frame(0, 0.0, _array_image(array, color))
        return
    for index, image in enumerate(array):
        yield Frame(index, index / fps if fps else math.nan, _array_image(image, color))


def _folder_frames(files, fps):
    for number, path in files:
        yield Frame(number, number / fps if fps else math.nan, _read_image(path))


# -- public --------------------------------------------------------------------------


def iter_frames(source, *, color="rgb", fps=None):
    """Iterate over the frames of a video, image, folder of frames or array.

    The source is checked (and a video opened) when this is called, so a bad
    source fails here; frames are then decoded one at a time as the iterator
    is consumed.

    Parameters
    ----------
    source : str, path-like or ndarray
        A video file (anything FFmpeg reads: mp4, mov, avi, mkv, webm,
        animated gif, ...); an image file (jpg, png, bmp, tif, webp, ...;
        palette, grey, RGBA and 16-bit images become 8-bit RGB, EXIF
        orientation is applied); a folder of frame images, as BP4D and DISFA
        distribute frames, ordered by the last number in each file name
        (``0001.jpg``, ``frame_12.png``, ``SN001_0042.jpg``; other files and
        hidden files are ignored); or an array, ``(H, W, 3)`` for one image or
        ``(T, H, W, 3)`` for T frames, uint8 or float in [0, 1].
    color : {"rgb", "bgr"}, default="rgb"
        Channel order of an array source; ``"bgr"`` for arrays from OpenCV.
        Files are always decoded to RGB: for them it is unused.
    fps : float, default=None
        Frame rate of a folder or array source, which carry no timestamps:
        frame times are then ``index / fps`` (else NaN). Videos keep their
        own timestamps and a single image is at time 0: there it is unused.

    Yields
    ------
    Frame
        ``(index, time, image)`` with ``image`` an (H, W, 3) uint8 RGB
        C-contiguous array. Videos with a display rotation (phone videos)
        come out upright, as players show them.

    Raises
    ------
    FileNotFoundError
        The file or folder does not exist.
    VideoReadError
        A file that is neither video nor image, a video with no video stream
        or no decodable frame, a damaged image, a folder with no images or
        with two images of one frame number.
    ValueError
        An array of the wrong shape or dtype, or a bad ``color`` or ``fps``.

    Warns
    -----
    VideoReadWarning
        When a video ends early (truncated, or damaged packets skipped):
        the frames decoded are kept, and the warning names the file and how
        many frames were read.

    See Also
    --------
    probe : Frame count, rate and size, without decoding.

    Examples
    --------
    >>> import numpy as np
    >>> video = np.zeros((2, 4, 6, 3), dtype=np.uint8)
    >>> video[1, ..., 2] = 255  # blue in BGR order
    >>> [(f.index, f.time, f.image[0, 0].tolist()) for f in iter_frames(video, color="bgr", fps=25)]
    [(0, 0.0, [0, 0, 0]), (1, 0.04, [255, 0, 0])]
    >>> for frame in iter_frames("single_face.mp4"):  # doctest: +SKIP
    ...     print(frame.index, round(frame.time, 3), frame.image.shape)
    0 0.0 (360, 640, 3)
    1 0.033 (360, 640, 3)
    ...
    """
    color, fps = _check_color(color), _check_fps(fps)
    kind, payload = _source(source)
    if kind == "array":
        return _array_frames(payload, color, fps)
    if kind == "video":
        return _video_frames(*payload)
    if kind == "folder":
        return _folder_frames(payload, fps)
    return iter([Frame(0, 0.0, _read_image(payload))])


def probe(source, *, fps=None):
    """Kind, frame count, frame rate, size and duration of a source, cheaply.

    Reads headers (and a video's first frame, for its displayed size) but
    decodes nothing else: meant for progress bars and for checking inputs
    before a long run.

    Parameters
    ----------
    source : str, path-like or ndarray
        As for :func:`iter_frames`.
    fps : float, default=None
        Frame rate of a folder or array source (gives their ``duration``).

    Returns
    -------
    MediaInfo

    Raises
    ------
    FileNotFoundError, VideoReadError, ValueError
        As :func:`iter_frames` would.

    Examples
    --------
    >>> import numpy as np
    >>> probe(np.zeros((10, 4, 6, 3), dtype=np.uint8), fps=5)
    MediaInfo(kind='array', n_frames=10, fps=5.0, width=6, height=4, duration=2.0)
    >>> probe("single_face.mp4")  # doctest: +SKIP
    MediaInfo(kind='video', n_frames=72, fps=30.0, width=640, height=360, duration=2.4)
    """
    fps = _check_fps(fps)
    kind, payload = _source(source)
    if kind == "video":
        return _probe_video(*payload)
    if kind == "image":
        width, height = _image_size(payload)
        return MediaInfo("image", 1, None, width, height, None)
    if kind == "folder":
        width, height = _image_size(payload[0][1])
        n = len(payload)
        return MediaInfo("folder", n, fps, width, height, n / fps if fps else None)
    height, width = payload.shape[-3:-1]
    if payload.ndim == 3:
        return MediaInfo("array", 1, None, width, height, None)
    n = len(payload)
    return MediaInfo("array", n, fps, width, height, n / fps if fps else None)
