"""README's code runs as written (in a scratch folder, offline)."""

import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


MEDIA = Path(__file__).resolve().parents[2] / "shared" / "data" / "media"
ICT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ict-facekit" / "FaceXModel"
CLIPS = ("single_face.mp4", "single_face.jpg", "face_noface.mov")


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKBIOMECH_CACHE", str(tmp_path / "cache"))
    if "skbiomech.video" in code or "skbiomech.detect" in code:
        # What an offline user does: local model files through the environment, the clips at hand.
        if not (ICT.is_dir() and (MEDIA / "face_landmarker.task").is_file()):
            pytest.skip("the shared media and ICT-FaceKit files are absent")
        monkeypatch.setenv("SKBIOMECH_FACE_LANDMARKER", str(MEDIA / "face_landmarker.task"))
        monkeypatch.setenv("SKBIOMECH_ICT_FACEKIT", str(ICT))
        for clip in CLIPS:
            shutil.copy(MEDIA / clip, tmp_path / clip)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
