"""Tests of model-file fetching and of the converted ICT-FaceKit cache.

No network: pooch's downloader is replaced by a fake server that serves
bytes from memory (or fails like a dropped connection), and the registry by
tiny files, so the cache and checksum logic run in milliseconds. The ICT
face is built from the shared OBJ files once per module.
"""

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pooch = pytest.importorskip("pooch")
requests = pytest.importorskip("requests")

from skbiomech.face import FaceModel  # noqa: E402
from skbiomech.video import _fetch  # noqa: E402
from skbiomech.video._fetch import fetch_face_landmarker, fetch_ict_facekit, load_ict_face  # noqa: E402

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
ICT_FOLDER = SHARED / "ict-facekit" / "FaceXModel"
needs_ict = pytest.mark.skipif(
    not (ICT_FOLDER / "generic_neutral_mesh.obj").is_file(),
    reason=f"ICT-FaceKit data absent: put the repository's FaceXModel folder at {ICT_FOLDER}",
)
ENV = ("SKBIOMECH_DATA", "SKBIOMECH_CACHE", "SKBIOMECH_FACE_LANDMARKER", "SKBIOMECH_ICT_FACEKIT")


def _zip_bytes(text="model"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("face_landmarks_detector.tflite", text)
    return buffer.getvalue()


def _obj(n, shift=0.0):
    return "".join(f"v {i + shift} {i % 2}.0 0.5\n" for i in range(n)) + "f 1 2 3 4\n"


FAKE_FILES = {  # a miniature of the registry: same layout, tiny contents
    "face_landmarker.task": _zip_bytes(),
    "ict-facekit/LICENSE": b"MIT License\n\nCopyright (c) 2020 USC Institute for Creative Technologies\n",
    "ict-facekit/FaceXModel/generic_neutral_mesh.obj": _obj(4).encode(),
    "ict-facekit/FaceXModel/vertex_indices.json": json.dumps({"expressions": ["smile", "frown"]}).encode(),
    "ict-facekit/FaceXModel/smile.obj": _obj(4, 0.1).encode(),
    "ict-facekit/FaceXModel/frown.obj": _obj(4, 0.2).encode(),
    **{f"ict-facekit/FaceXModel/identity{i:03d}.obj": _obj(4, 1 + i).encode() for i in range(3)},
}


class FakeServer:
    """Stands in for pooch's HTTP downloader: URL -> bytes, or a dropped connection."""

    def __init__(self):
        self.files, self.requests, self.offline = {}, [], False

    def __call__(self, url, output_file, pooch, check_only=False):
        self.requests.append(url)
        if self.offline:
            raise requests.exceptions.ConnectionError(f"Failed to resolve '{url.split('/')[2]}'")
        Path(output_file).write_bytes(self.files[url])


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SKBIOMECH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def server(clean_env, monkeypatch):
    fake = FakeServer()
    registry = {name: (hashlib.sha256(data).hexdigest(), len(data)) for name, data in FAKE_FILES.items()}
    monkeypatch.setattr(_fetch, "_REGISTRY", registry)
    monkeypatch.setattr(_fetch, "_RETRIES", 0)  # pooch sleeps between retries
    monkeypatch.setattr(_fetch, "_downloader", lambda progress: fake)
    fake.files = {_fetch._url(name): data for name, data in FAKE_FILES.items()}
    return fake


def _files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


# -- the registry ------------------------------------------------------------------


def test_registry_lists_the_needed_files():
    names = list(_fetch._REGISTRY)
    assert len(names) == 1 + 1 + 2 + 53 + 50
    assert _fetch._ict_names(50)[-1] == "ict-facekit/FaceXModel/identity049.obj"
    assert len(_fetch._ict_names(2)) == 1 + 2 + 53 + 2
    assert _fetch._url("face_landmarker.task") == (
        "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
    )
    raw = f"https://raw.githubusercontent.com/ICT-VGL/ICT-FaceKit/{_fetch._ICT_COMMIT}/"
    assert _fetch._url("ict-facekit/LICENSE") == raw + "LICENSE"
    assert _fetch._url("ict-facekit/FaceXModel/jawOpen.obj") == raw + "FaceXModel/jawOpen.obj"


@needs_ict
def test_registry_hashes_match_the_published_files():
    local = {"face_landmarker.task": SHARED / "media" / "face_landmarker.task"}
    local.update({name: SHARED / name for name in _fetch._REGISTRY if name.startswith("ict-facekit/")})
    for name, (digest, size) in _fetch._REGISTRY.items():
        data = local[name].read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (digest, size), name
    expressions = json.loads((ICT_FOLDER / "vertex_indices.json").read_text())["expressions"]
    assert [Path(n).stem for n in _fetch._ict_names(0)[3:]] == expressions


def test_default_folders_share_one_root(clean_env, monkeypatch):
    assert _fetch._data_dir() == clean_env / "data"
    monkeypatch.setenv("SKBIOMECH_DATA", "~/models")
    assert _fetch._data_dir() == Path("~/models").expanduser()
    monkeypatch.delenv("SKBIOMECH_CACHE")
    assert _fetch._cache_root() == Path(pooch.os_cache("skbiomech")).expanduser()


# -- the face landmarker --------------------------------------------------------------


def test_download_lands_in_the_cache_once(server, clean_env):
    path = fetch_face_landmarker(progress=False)
    assert path == clean_env / "data" / "face_landmarker.task"
    assert path.read_bytes() == FAKE_FILES["face_landmarker.task"]
    assert fetch_face_landmarker(progress=False) == path
    assert len(server.requests) == 1  # the second call found it


def test_data_env_moves_the_downloads(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SKBIOMECH_DATA", str(tmp_path / "models"))
    assert fetch_face_landmarker(progress=False) == tmp_path / "models" / "face_landmarker.task"


def test_bad_checksum_raises_and_leaves_no_file(server, clean_env):
    server.files[_fetch._LANDMARKER_URL] = _zip_bytes("tampered")
    with pytest.raises(ValueError, match=r"face_landmarker\.task .* does not match its known SHA-256"):
        fetch_face_landmarker(progress=False)
    assert _files_under(clean_env) == []  # not even a temporary file


def test_damaged_cached_file_is_downloaded_again(server, clean_env):
    target = clean_env / "data" / "face_landmarker.task"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"half a file")
    assert fetch_face_landmarker(progress=False).read_bytes() == FAKE_FILES["face_landmarker.task"]
    assert len(server.requests) == 1


def test_argument_then_env_win_without_download(server, tmp_path, monkeypatch):
    mine, theirs = tmp_path / "mine.task", tmp_path / "theirs.task"
    mine.write_bytes(_zip_bytes("v2"))  # another version: not hashed
    theirs.write_bytes(_zip_bytes("v3"))
    monkeypatch.setenv("SKBIOMECH_FACE_LANDMARKER", str(theirs))
    assert fetch_face_landmarker(mine) == mine
    assert fetch_face_landmarker() == theirs
    assert server.requests == []


@pytest.mark.parametrize("via_env", [False, True])
def test_given_landmarker_must_exist_and_be_a_bundle(server, tmp_path, monkeypatch, via_env):
    def fetch(path):
        if via_env:
            monkeypatch.setenv("SKBIOMECH_FACE_LANDMARKER", str(path))
            return fetch_face_landmarker()
        return fetch_face_landmarker(path)

    origin = r"\$SKBIOMECH_FACE_LANDMARKER" if via_env else "the path argument"
    with pytest.raises(FileNotFoundError, match=rf"nowhere\.task \(from {origin}\)"):
        fetch(tmp_path / "nowhere.task")
    (tmp_path / "page.task").write_text("<html>404</html>")
    with pytest.raises(ValueError, match=r"page\.task .* is not a MediaPipe model bundle"):
        fetch(tmp_path / "page.task")


def test_offline_error_says_where_to_put_the_file(server, clean_env):
    server.offline = True
    with pytest.raises(ConnectionError) as info:
        fetch_face_landmarker(progress=False)
    message = str(info.value)
    assert _fetch._LANDMARKER_URL in message and "ConnectionError" in message
    assert str(clean_env / "data" / "face_landmarker.task") in message
    assert "$SKBIOMECH_FACE_LANDMARKER" in message


def test_unwritable_data_folder(server, tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("SKBIOMECH_DATA", str(tmp_path / "a_file" / "models"))
    with pytest.raises(OSError, match=r"Could not save face_landmarker\.task into .*SKBIOMECH_DATA"):
        fetch_face_landmarker(progress=False)


# -- ICT-FaceKit files --------------------------------------------------------------


@pytest.mark.parametrize("progress", [False, True])
def test_ict_downloads_only_the_missing_files(server, clean_env, progress):
    folder = fetch_ict_facekit(n_identities=2, progress=progress)
    assert folder == clean_env / "data" / "ict-facekit" / "FaceXModel"
    assert _files_under(folder.parent) == sorted(
        ["LICENSE"] + [f"FaceXModel/{name}" for name in
                       ("generic_neutral_mesh.obj", "vertex_indices.json", "smile.obj", "frown.obj",
                        "identity000.obj", "identity001.obj")]  # fmt: skip
    )
    assert len(server.requests) == 7
    fetch_ict_facekit(n_identities=3, progress=progress)
    assert server.requests[7:] == [_fetch._url("ict-facekit/FaceXModel/identity002.obj")]


def test_ict_offline_error_lists_what_to_copy(server, clean_env):
    server.offline = True
    with pytest.raises(ConnectionError) as info:
        fetch_ict_facekit(n_identities=2, progress=False)
    message = str(info.value)
    assert "8 file(s) still missing" not in message and "7 file(s) still missing" in message
    assert "identity000.obj to identity001.obj" in message
    assert str(clean_env / "data" / "ict-facekit" / "FaceXModel") in message
    assert "$SKBIOMECH_ICT_FACEKIT" in message and "https://github.com/ICT-VGL/ICT-FaceKit" in message


def test_ict_identities_beyond_the_registry(server):
    with pytest.raises(ValueError, match="n_identities=4: the first 3 identity modes can be downloaded"):
        fetch_ict_facekit(n_identities=4)
    with pytest.raises(ValueError, match="non-negative integer"):
        fetch_ict_facekit(n_identities=-1)


def _local_ict(root, n_identities):
    for name, data in FAKE_FILES.items():
        if name.startswith("ict-facekit/") and not (
            "identity" in name and int(Path(name).stem[-3:]) >= n_identities
        ):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    return root / "ict-facekit"


def test_ict_given_folder_is_checked_not_downloaded(server, tmp_path, monkeypatch):
    checkout = _local_ict(tmp_path / "mine", 2)
    assert fetch_ict_facekit(checkout, n_identities=2) == checkout / "FaceXModel"
    with pytest.raises(FileNotFoundError, match=r"\(from the path argument\) lacks 1 .*identity002\.obj.*"
                                                r"pass n_identities=2 or fewer"):  # fmt: skip
        fetch_ict_facekit(checkout, n_identities=3)
    (checkout / "FaceXModel" / "frown.obj").unlink()
    monkeypatch.setenv("SKBIOMECH_ICT_FACEKIT", str(checkout / "FaceXModel"))
    with pytest.raises(FileNotFoundError, match=r"\(from \$SKBIOMECH_ICT_FACEKIT\) lacks 1 .*frown\.obj"):
        fetch_ict_facekit(n_identities=0)
    with pytest.raises(FileNotFoundError, match=r"No ICT-FaceKit folder .*nowhere.*\(from the path"):
        fetch_ict_facekit(tmp_path / "nowhere")
    assert server.requests == []


def test_complete_download_is_used_without_rehashing(server, clean_env, monkeypatch):
    fetch_ict_facekit(n_identities=2, progress=False)
    monkeypatch.setattr(_fetch, "fetch_ict_facekit", None)  # must not be needed
    assert _fetch._ict_source(None, 2, False) == clean_env / "data" / "ict-facekit" / "FaceXModel"


def test_source_key_follows_the_sources(tmp_path):
    folder = _local_ict(tmp_path, 3) / "FaceXModel"
    key = _fetch._source_key(folder, "face", 2)
    assert key == _fetch._source_key(folder, "face", 2)
    assert key != _fetch._source_key(folder, "narrow", 2)
    assert key != _fetch._source_key(folder, "face", 3)
    smile = folder / "smile.obj"
    smile.write_text(_obj(4, 0.3))  # same size, new content and time
    assert _fetch._source_key(folder, "face", 2) != key


# -- the converted ICT face ----------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The ICT face with 3 identity modes, built from the OBJ files once."""
    if not (ICT_FOLDER / "generic_neutral_mesh.obj").is_file():
        pytest.skip(f"ICT-FaceKit data absent: put the repository's FaceXModel folder at {ICT_FOLDER}")
    cache = tmp_path_factory.mktemp("cache")
    listing = _files_under(ICT_FOLDER)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKBIOMECH_CACHE", str(cache))
        start = time.perf_counter()
        face, identities = load_ict_face(ICT_FOLDER, n_identities=3, progress=False)
        seconds = time.perf_counter() - start
    assert _files_under(ICT_FOLDER) == listing  # nothing written beside the user's files
    return face, identities, cache, seconds


@pytest.fixture
def cache_env(built, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SKBIOMECH_CACHE", str(built[2]))
    return built[2] / "ict_face"


def _assert_same(a, b):
    for field in ("vertices", "triangles", "blendshapes", "masses", "spring_stiffness",
                  "attachment_stiffness", "distribution", "muscle_anchors"):  # fmt: skip
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert (a.blendshape_names, a.muscle_names, a.au_muscles, a.notice, a.name) == (
        b.blendshape_names, b.muscle_names, b.au_muscles, b.notice, b.name,
    )  # fmt: skip


def test_cached_load_is_fast_and_equal(built, cache_env):
    face, identities, _, build_seconds = built
    assert sorted(p.name.split(".", 1)[1] for p in cache_env.iterdir()) == ["face.npz", "identities.npy"]
    start = time.perf_counter()
    again, identities_again = load_ict_face(ICT_FOLDER, n_identities=3)
    seconds = time.perf_counter() - start
    assert seconds < 1.0 and seconds < build_seconds / 5, (seconds, build_seconds)
    _assert_same(face, again)
    np.testing.assert_array_equal(identities_again, identities)
    assert identities.shape == (3, face.n_vertices, 3)
    assert "MIT License" in again.notice


def test_env_folder_is_used(built, cache_env, monkeypatch):
    monkeypatch.setenv("SKBIOMECH_ICT_FACEKIT", str(ICT_FOLDER.parent))
    face, identities = load_ict_face(n_identities=3)
    np.testing.assert_array_equal(identities, built[1])


@pytest.fixture
def builders(built, monkeypatch):
    """Count rebuilds, which return the module's model instead of parsing OBJs again."""
    calls = []

    def facekit(folder, region):
        calls.append("face")
        return built[0]

    def identities(folder, region, n_identities):
        calls.append("identities")
        return built[1]

    monkeypatch.setattr(_fetch, "load_ict_facekit", facekit)
    monkeypatch.setattr(_fetch, "load_ict_identities", identities)
    return calls


@pytest.mark.parametrize(
    "suffix, damage",
    [
        ("face.npz", lambda p: p.write_bytes(p.read_bytes()[:1000])),
        ("face.npz", lambda p: p.write_text("garbage")),
        ("identities.npy", lambda p: p.write_bytes(p.read_bytes()[:200])),
        ("identities.npy", lambda p: np.save(p, np.zeros((2, 5, 3)))),
    ],
    ids=["truncated-model", "garbage-model", "truncated-identities", "wrong-shape"],
)
def test_damaged_cache_is_rebuilt(built, cache_env, builders, suffix, damage):
    (file,) = cache_env.glob(f"face-3-*.{suffix}")
    damage(file)
    face, identities = load_ict_face(ICT_FOLDER, n_identities=3)
    assert builders == ["face", "identities"]
    _assert_same(face, built[0])
    load_ict_face(ICT_FOLDER, n_identities=3)  # the rewritten cache serves the next call
    assert builders == ["face", "identities"]


def test_unwritable_cache_warns_and_still_returns(built, builders, tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("SKBIOMECH_CACHE", str(tmp_path / "a_file"))
    with pytest.warns(UserWarning, match="not cached in .*SKBIOMECH_CACHE to a writable folder"):
        face, _ = load_ict_face(ICT_FOLDER, n_identities=3)
    assert isinstance(face, FaceModel) and builders == ["face", "identities"]


@pytest.mark.parametrize("kwargs, match", [({"region": "full"}, "region must be one of"),
                                           ({"n_identities": 1.5}, "non-negative integer")])  # fmt: skip
def test_load_ict_face_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_ict_face(ICT_FOLDER, **kwargs)
