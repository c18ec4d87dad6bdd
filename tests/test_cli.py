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
