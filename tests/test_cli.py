import json

import pytest

from skbiomech.cli import main


def test_verify_prints_json_figures(capsys):
    assert main(["verify", "--resolution", "21", "--frames", "20", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["trajectory_error"]["elastic_foh"] < 0.2
    assert figures["trajectory_error"]["paper"] > 10
    assert set(figures["activation_correlation"]) == {"elastic", "paper"}


def test_verify_prints_a_table(capsys):
    assert main(["verify", "--resolution", "21", "--frames", "12"]) == 0
    out = capsys.readouterr().out
    assert "elastic_foh" in out and "paper" in out and "correlation" in out


def test_bad_arguments_exit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--frames", "2"])
    assert "--frames must be at least 3" in capsys.readouterr().err
    assert main(["verify", "--resolution", "5"]) == 2
    assert "resolution must be at least 15" in capsys.readouterr().err


def test_demo_writes_the_table_and_plots(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("SKBIOMECH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    code = main(
        ["demo", "--out", str(out), "--subjects", "3", "--sequence-length", "40", "--folds", "3",
         "--epochs", "1", "--image-size", "32", "--json"]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures["f1"]) == {
        "geometry", "force", "position", "physics", "image", "physics+image", "logistic (coefficients)"
    }
    assert all(0 <= row["mean"] <= 1 for row in figures["f1"].values())
    assert sorted(p.name for p in out.iterdir()) == ["f1_per_au.png", "forces_au12.png", "results.json", "table1.csv"]


def test_verify_muscles_prints_the_response_table(capsys):
    assert main(["verify", "--muscles", "--resolution", "21"]) == 0
    out = capsys.readouterr().out
    assert "cosine" in out and "largest shape" in out and "zygomaticus_major_L" in out
    assert "37 of 37 muscles at cosine >= 0.9; 0 pull along a field" in out
    assert main(["verify", "--muscles", "--resolution", "21", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 37 and set(rows[0]) == {"muscle", "line_of_action", "targets", "cosine", "largest_shape", "largest_value"}


def test_verify_muscles_rejects_an_unknown_face(capsys, tmp_path):
    assert main(["verify", "--muscles", "--face", str(tmp_path / "nowhere")]) == 2
    assert "not 'default', 'ict'" in capsys.readouterr().err
