"""Training that is never silently short, survives a kill, continues, shows progress; inference in chunks."""

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from estimator_settings import FAST
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from skbiomech.estimators import BiomechAUClassifier, BlendshapeODEForceEstimator
from skbiomech.estimators._training import TrainingInterruptedWarning
from skbiomech.face import FaceModel

ESTIMATORS = [BlendshapeODEForceEstimator, BiomechAUClassifier]


def _fit(cls, dataset, **params):
    model = cls(**{"face": params.pop("face", None), **FAST, **params})
    return model.fit(dataset.frames, dataset.labels) if cls is BiomechAUClassifier else model.fit(dataset.frames)


def _output(model, frames):
    return model.predict_proba(frames) if isinstance(model, BiomechAUClassifier) else model.transform(frames)


def _losses(model, key="train_loss"):
    return np.asarray(model.history_[:, key])


# -- never an untrained model ---------------------------------------------------------
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_zero_epochs_is_refused(cls, small_face, dataset):
    with pytest.raises(InvalidParameterError, match="max_epochs"):
        _fit(cls, dataset, face=small_face, max_epochs=0)


class _StopAt(Callback):
    """Raises KeyboardInterrupt (what Ctrl-C does) at the end of one epoch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_fit_warns_that_the_model_is_partly_trained(small_face, dataset):
    with pytest.warns(TrainingInterruptedWarning, match="after epoch 2 of 3"):
        model = _fit(BlendshapeODEForceEstimator, dataset, face=small_face, callbacks=[_StopAt(2)])
    assert len(model.history_) == 2


# -- warm start -------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_continues_the_fitted_network(cls, small_face, dataset):
    model = _fit(cls, dataset, face=small_face, max_epochs=2, warm_start=True, lr_schedule="cosine")
    first, weights = _losses(model), _output(model, dataset.frames)
    model.fit(dataset.frames, dataset.labels) if cls is BiomechAUClassifier else model.fit(dataset.frames)
    assert len(model.history_) == 4 and list(model.history_[:, "epoch"]) == [1, 2, 3, 4]
    np.testing.assert_array_equal(_losses(model)[:2], first)
    assert _losses(model)[2] < first[0]  # it went on from the trained weights, not from scratch
    assert not np.allclose(_output(model, dataset.frames), weights)
    model.set_params(warm_start=False)
    restarted = model.fit(dataset.frames, dataset.labels) if cls is BiomechAUClassifier else model.fit(dataset.frames)
    np.testing.assert_array_equal(_losses(restarted), first)


def _other_face(face):
    keys = (
        "vertices", "triangles", "blendshapes", "blendshape_names", "masses", "spring_edges", "spring_stiffness",
        "bending_rigidity", "attachment_stiffness", "muscle_names", "distribution", "muscle_kinds",
        "muscle_anchors", "au_muscles", "damping", "vertex_regions", "region_names",
    )  # fmt: skip
    args = {key: getattr(face, key) for key in keys}
    return FaceModel(**{**args, "masses": face.masses * 2})


@pytest.mark.parametrize(
    "cls, change, match",
    [
        (BlendshapeODEForceEstimator, lambda m, X, y, f: (m, X.drop(columns=X.columns[-1]), y), "coefficient names"),
        (BiomechAUClassifier, lambda m, X, y, f: (m, X, y.iloc[:, :-1]), "AUs"),
        (BiomechAUClassifier, lambda m, X, y, f: (m.set_params(inputs=("force",)), X, y), "network inputs"),
        (BlendshapeODEForceEstimator, lambda m, X, y, f: (m.set_params(hidden_size=8), X, y), "network hidden_size"),
        (BlendshapeODEForceEstimator, lambda m, X, y, f: (m.set_params(face=_other_face(f)), X, y), "face"),
    ],
)
def test_warm_start_refuses_a_changed_problem(cls, change, match, small_face, dataset):
    face = None if match == "coefficient names" else small_face
    model = _fit(cls, dataset, face=face, max_epochs=1, warm_start=True)
    model, X, y = change(model, dataset.frames, dataset.labels, small_face)
    with pytest.raises(ValueError, match=f"warm_start=True continues .*{match}"):
        model.fit(X, y) if cls is BiomechAUClassifier else model.fit(X)


def test_warm_start_on_a_model_from_an_older_version_says_it_starts_over(small_face, dataset):
    model = _fit(BlendshapeODEForceEstimator, dataset, face=small_face, max_epochs=2, warm_start=True)
    del model._fit_signature_  # what a model pickled before warm_start existed lacks
    with pytest.warns(UserWarning, match="older version .* training a new network"):
        model.fit(dataset.frames)
    assert len(model.history_) == 2


# -- resuming an interrupted fit --------------------------------------------------------------
def _state(folder):
    return torch.load(folder / "resume.pt", map_location="cpu", weights_only=True)


@pytest.mark.parametrize(
    "cls, options",
    [
        (BlendshapeODEForceEstimator, {}),
        (BlendshapeODEForceEstimator, dict(validation_fraction=0.25, early_stopping=50, lr_schedule="cosine")),
        (BiomechAUClassifier, dict(validation_fraction=0.25, lr_schedule="plateau", module__dropout=0.2)),
    ],
)
def test_resume_continues_an_interrupted_fit_exactly(cls, options, small_face, dataset, tmp_path):
    params = dict(face=small_face, max_epochs=5, **options)
    reference = _fit(cls, dataset, **params)
    with pytest.warns(TrainingInterruptedWarning, match="resume=True"):
        stopped = _fit(cls, dataset, **params, checkpoint_dir=tmp_path, callbacks=[_StopAt(3)])
    folder = tmp_path / os.path.basename(stopped.checkpoint_dir_)
    assert len(_state(folder)["history"]) == 2  # epoch 3 was cut: at most one epoch is lost
    resumed = _fit(cls, dataset, **params, checkpoint_dir=tmp_path, resume=True)
    assert resumed.checkpoint_dir_ == stopped.checkpoint_dir_ and len(list(tmp_path.iterdir())) == 1
    assert list(resumed.history_[:, "epoch"]) == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(_losses(resumed)[:2], _losses(stopped)[:2])
    # CPU training is deterministic: the resumed fit is the uninterrupted one, bit for bit.
    np.testing.assert_array_equal(_losses(resumed), _losses(reference))
    np.testing.assert_array_equal(_output(resumed, dataset.frames), _output(reference, dataset.frames))
    assert json.loads((folder / "fit.json").read_text())["finished"] is True
    again = _fit(cls, dataset, **params, checkpoint_dir=tmp_path, resume=True)  # a finished fit is not resumed
    assert again.checkpoint_dir_ != resumed.checkpoint_dir_ and len(again.history_) == 5


def test_resume_with_other_data_or_parameters_starts_over(small_face, dataset, tmp_path):
    with pytest.warns(TrainingInterruptedWarning):
        _fit(BlendshapeODEForceEstimator, dataset, face=small_face, checkpoint_dir=tmp_path, callbacks=[_StopAt(2)])
    fewer = dataset.frames.iloc[: len(dataset.frames) // 2]
    model = BlendshapeODEForceEstimator(small_face, **FAST, checkpoint_dir=tmp_path, resume=True)
    with pytest.warns(UserWarning, match="none with these parameters and this data"):
        model.fit(fewer)
    assert len(model.history_) == FAST["max_epochs"] and len(list(tmp_path.iterdir())) == 2
    with pytest.warns(UserWarning, match="none with these parameters"):
        model.set_params(lr=1e-2).fit(dataset.frames)
    with pytest.raises(ValueError, match="resume=True .* set checkpoint_dir"):
        BlendshapeODEForceEstimator(small_face, **FAST, resume=True).fit(dataset.frames)


_KILLED_FIT = """
import json, sys, time
import pandas as pd
from skorch.callbacks import Callback
from skbiomech.estimators import BlendshapeODEForceEstimator
from skbiomech.face import FaceModel

class Slow(Callback):
    def on_epoch_end(self, net, **kwargs):
        time.sleep(0.25)

face, frames = FaceModel.load(sys.argv[1]), pd.read_pickle(sys.argv[2])
params = json.loads(sys.argv[4])
BlendshapeODEForceEstimator(face, **params, checkpoint_dir=sys.argv[3], callbacks=[Slow()]).fit(frames)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_a_fit_killed_with_sigkill_resumes_for_the_remaining_epochs(small_face, dataset, tmp_path):
    params = dict(FAST, max_epochs=30, validation_fraction=0.25, early_stopping=100, lr_schedule="cosine")
    small_face.save(tmp_path / "face.npz")
    dataset.frames.to_pickle(tmp_path / "frames.pkl")
    root = tmp_path / "checkpoints"
    script = tmp_path / "fit.py"
    script.write_text(_KILLED_FIT)
    args = [sys.executable, str(script), str(tmp_path / "face.npz"), str(tmp_path / "frames.pkl"), str(root)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([*args, json.dumps(params)], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            states = list(root.glob("fit-*/resume.pt"))
            if states and len(_state(states[0].parent)["history"]) >= 2:
                break
            time.sleep(0.05)
        assert process.poll() is None, f"the fit ended before it could be killed: {process.stderr.read()!r}"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    (folder,) = list(root.iterdir())
    before = _state(folder)["history"]  # every file the killed fit left is complete
    assert 2 <= len(before) < params["max_epochs"]
    assert json.loads((folder / "fit.json").read_text())["finished"] is False
    torch.load(folder / "params.pt", weights_only=True)
    resumed = BlendshapeODEForceEstimator(small_face, **params, checkpoint_dir=root, resume=True).fit(dataset.frames)
    assert len(resumed.history_) == params["max_epochs"] and resumed.checkpoint_dir_ == str(folder)
    np.testing.assert_array_equal(_losses(resumed)[: len(before)], [row["train_loss"] for row in before])
    np.testing.assert_array_equal(_losses(resumed, "valid_loss")[: len(before)], [row["valid_loss"] for row in before])
    reference = BlendshapeODEForceEstimator(small_face, **params).fit(dataset.frames)
    np.testing.assert_array_equal(_losses(resumed), _losses(reference))  # bit for bit, as for the CPU fit
    np.testing.assert_array_equal(resumed.transform(dataset.frames), reference.transform(dataset.frames))


def test_checkpoint_files_are_replaced_atomically(small_face, dataset, tmp_path, monkeypatch):
    """A write that fails half-way (disk full, kill) leaves the previous complete file."""
    save, failing = torch.save, {"on": False}

    def half_write(obj, f, *args, **kwargs):
        if failing["on"]:
            f.write(b"PK\x03\x04 half a file")
            raise OSError("No space left on device")
        return save(obj, f, *args, **kwargs)

    class FailFromEpoch2(Callback):
        def on_epoch_begin(self, net, **kwargs):
            failing["on"] = len(net.history) >= 2

    monkeypatch.setattr(torch, "save", half_write)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _fit(
            BlendshapeODEForceEstimator, dataset, face=small_face, checkpoint_dir=tmp_path, callbacks=[FailFromEpoch2()]
        )
    assert len(model.history_) == FAST["max_epochs"]  # training went on
    assert any("No space left" in str(w.message) for w in caught)
    monkeypatch.setattr(torch, "save", save)
    folder = tmp_path / os.path.basename(model.checkpoint_dir_)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temporary files left
    for name in ("params.pt", "optimizer.pt", "resume.pt"):
        torch.load(folder / name, weights_only=True)  # complete: the epoch-1 files
    assert len(_state(folder)["history"]) == 1
    json.loads((folder / "history.json").read_text())


# -- progress -------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, dict(validation_fraction=0.25, early_stopping=2)])
def test_verbose_prints_one_plain_line_per_epoch(options, small_face, dataset, capfd):
    model = _fit(BlendshapeODEForceEstimator, dataset, face=small_face, max_epochs=4, verbose=1, **options)
    out, err = capfd.readouterr()
    assert "\x1b[" not in out + err  # no colour codes
    assert "%|" not in err  # no per-batch progress bar
    lines = [line for line in out.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in lines] == [f"{k}/4" for k in range(1, len(model.history_) + 1)]
    assert all("train_loss" in line and "elapsed" in line for line in lines)
    assert all("valid_loss" in line for line in lines) == bool(options)
    assert out.splitlines()[0].startswith("BlendshapeODEForceEstimator:")
    _fit(BlendshapeODEForceEstimator, dataset, face=small_face, max_epochs=2, **options)
    assert capfd.readouterr() == ("", "")  # verbose=0 prints nothing




# -- inference in chunks ---------------------------------------------------------------------
def _with_gaps(frames):
    """One long sequence per subject with a gap and a failed frame inside it."""
    frames = frames.copy()
    frames["sequence"] = frames["subject"]
    frames["frame"] = frames.groupby("subject").cumcount()
    frames = frames.drop(index=frames.index[[50, 51, 52]])
    frames.loc[frames.index[120], frames.columns[3:]] = np.nan  # a failed frame
    return frames


@pytest.mark.parametrize(
    "cls, window, horizon",
    [(BlendshapeODEForceEstimator, 0, 8), (BiomechAUClassifier, 2, 8), (BlendshapeODEForceEstimator, 9, 4)],
)
@pytest.mark.parametrize("chunk", [1, 23, 61, 160])
def test_chunked_inference_gives_identical_results(cls, window, horizon, chunk, small_face, dataset, monkeypatch):
    model = _fit(cls, dataset, face=small_face, max_epochs=1, window=window, horizon=horizon)
    for frames in (dataset.frames, _with_gaps(dataset.frames)):
        whole = _output(model, frames)
        monkeypatch.setattr(type(model), "_infer_chunk_frames", chunk)
        np.testing.assert_array_equal(_output(model, frames), whole)
        monkeypatch.undo()


@pytest.mark.parametrize("horizon", [2, 5, 8])
@pytest.mark.parametrize("per_chunk", [1, 3, 1000])
def test_planned_windows_are_make_windows_in_chunks(horizon, per_chunk):
    from skbiomech.estimators._base import _plan_windows
    from skbiomech.estimators._frames import make_windows

    lengths = [1, horizon - 1, horizon, horizon + 1, 2 * horizon, 3 * horizon + 3, 7]
    ids = np.repeat(np.arange(len(lengths)), [max(length, 1) for length in lengths])
    bounds = np.r_[0, np.cumsum([max(length, 1) for length in lengths])]
    chunks = list(_plan_windows(bounds, horizon, per_chunk, margin=1))
    index, valid, owner = make_windows(ids, horizon, allow_short=True)
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), index)
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), valid)
    np.testing.assert_array_equal(np.concatenate([c[2] for c in chunks]), owner)
    for spots, _, _, (low, high) in chunks:  # the frames each chunk reads: its own, one more each side
        assert low <= spots.min() and spots.max() < high and high - low <= spots.max() - spots.min() + 3


@pytest.mark.parametrize("cls", [BlendshapeODEForceEstimator, BiomechAUClassifier])
@pytest.mark.parametrize("rows", [40, 333])
def test_a_table_run_in_pieces_of_whole_sequences_gives_the_same_results(cls, rows, small_face, dataset, monkeypatch):
    model = _fit(cls, dataset, face=small_face, max_epochs=1, window=2, horizon=8)
    for frames in (dataset.frames, _with_gaps(dataset.frames)):
        whole = _output(model, frames)
        monkeypatch.setattr(type(model), "_infer_chunk_rows", rows)
        np.testing.assert_allclose(_output(model, frames), whole, rtol=1e-5, atol=1e-6)
        monkeypatch.undo()


def _table(n_sequences, length, n_columns, rng):
    import pandas as pd

    X = pd.DataFrame(rng.normal(size=(n_sequences * length, n_columns)), columns=[f"c{j}" for j in range(n_columns)])
    X.insert(0, "frame", np.tile(np.arange(length), n_sequences))
    X.insert(0, "sequence", np.repeat(np.arange(n_sequences), length))
    X.insert(0, "subject", np.repeat(np.arange(n_sequences) // 4, length).astype(str))
    return X


def _extra_memory(method, X):
    """Peak of traced allocations of ``method(X)``, beyond the array it returns."""
    tracemalloc.start()
    try:
        result = method(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - result.nbytes


@pytest.mark.parametrize("cls", [BlendshapeODEForceEstimator, BiomechAUClassifier])
def test_inference_memory_does_not_grow_with_the_frame_count(cls, monkeypatch):
    rng = np.random.default_rng(0)
    X = _table(n_sequences=240, length=250, n_columns=12, rng=rng)  # 60,000 frames
    y = (X[["c0"]] > 0).astype(float).rename(columns={"c0": "AU12"})
    model = cls(face=None, **{**FAST, "max_epochs": 1})
    model.fit(X.iloc[:500], y.iloc[:500]) if cls is BiomechAUClassifier else model.fit(X.iloc[:500])
    method = model.predict_proba if cls is BiomechAUClassifier else model.transform
    monkeypatch.setattr(cls, "_infer_chunk_frames", 1024)
    monkeypatch.setattr(cls, "_infer_chunk_rows", 4096)
    small, large = _extra_memory(method, X.iloc[:15_000]), _extra_memory(method, X)
    assert large < 1.2 * small + 2**16, f"{small / 2**20:.2f} MiB at 15,000 frames, {large / 2**20:.2f} MiB at 60,000"
    assert large < 0.5 * X.memory_usage().sum()  # a float64 copy of the coefficients alone is 0.8


@pytest.mark.parametrize(
    "layout, expected",
    [
        ("sorted", [(0, 30), (30, 60), (60, 90)]),  # three 30-frame sequences, 40 rows a piece
        ("interleaved", [(0, 90)]),  # a sequence in several runs: cannot be cut
        ("one_long", [(0, 90)]),  # longer than a piece: a piece of its own
        ("missing_id", [(0, 90)]),  # left whole for parse_frames to report
    ],
)
def test_sequence_pieces_hold_whole_sequences(layout, expected):
    from skbiomech.estimators._frames import sequence_pieces

    X = _table(n_sequences=3, length=30, n_columns=2, rng=np.random.default_rng(0))
    if layout == "interleaved":
        X = X.iloc[np.r_[0:15, 30:90, 15:30]]
    elif layout == "one_long":
        X["sequence"] = 0
        X["subject"] = "0"
    elif layout == "missing_id":
        X.loc[5, "sequence"] = np.nan
    assert sequence_pieces(X, 40) == expected
    assert sequence_pieces(X.to_numpy(), 40) == [(0, 90)]
    assert sequence_pieces(X, 1000) == [(0, 90)]
