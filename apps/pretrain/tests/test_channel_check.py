"""Every channel of the corpus is checked against the montage before statistics or tracking (issue #22)."""

from __future__ import annotations

import logging

import pytest

from eeg_io import build_index, write_synthetic_corpus
from eeg_pretrain.channels import check_channel_positions
from eeg_pretrain.cli import main
from eeg_ssm import ModelConfig

# BioSemi 128 labels: A1 and A2 are also the 10-05 ear sites, B7 and C12 are not.
BIOSEMI = ["A1", "A2", "B7", "C12"]


@pytest.fixture(scope="module")
def biosemi_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("biosemi")
    write_synthetic_corpus(
        root,
        participants=3,
        runs=1,
        channels=BIOSEMI,
        windows_per_run=6,
        window_length=64,
        sfreq=32.0,
        seed=0,
    )
    return root


def run(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code, capsys.readouterr().err


def test_unplaceable_channels_fail_before_statistics_or_tracking(
    biosemi_corpus, tmp_path, make_config, write_config, capsys, caplog
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = make_config(biosemi_corpus, tmp_path / "run", uri, model={"input": "raw+spectrum"})
    with caplog.at_level(logging.INFO, logger="eeg_pretrain"):
        code, err = run(["--config", str(write_config(cfg))], capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert "model.montage: standard_1005 cannot place 2 of the 4 channels" in err
    assert "'B7', 'C12'" in err and "'A1'" not in err  # every unplaceable channel, and only those
    assert "model.montage: biosemi128" in err  # a built-in montage that places all of them
    for key in ("model.asa_path", "data.exclude_channels", "data.include_channels", "model.missing_channels"):
        assert key in err, key
    assert "band-power standardisation" not in caplog.text and "data checks" not in caplog.text
    import mlflow

    client = mlflow.MlflowClient(uri)  # the store was checked, but no run was opened
    assert not any(client.search_runs([e.experiment_id]) for e in client.search_experiments())
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_the_named_montage_places_them_and_the_run_trains(
    biosemi_corpus, tmp_path, make_config, write_config, capsys
):
    cfg = make_config(
        biosemi_corpus, tmp_path / "run", None, model={"montage": "biosemi128"}, train={"epochs": 1}
    )
    code, err = run(["--config", str(write_config(cfg))], capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "mamba2_eeg_pretrained.pt").is_file()


def test_an_ecg_channel_no_montage_places_is_named_with_the_settings_to_fix_it(biosemi_corpus, tmp_path):
    root = tmp_path / "with_ecg"
    channels = ["Fz", "Cz", "ECG", "sine 8 Hz"]
    write_synthetic_corpus(root, participants=2, channels=channels, windows_per_run=4, window_length=64)
    items = build_index(root)
    with pytest.raises(Exception, match=r"cannot place 2 of the 4 channels .*'ECG', 'SINE 8 HZ'") as info:
        check_channel_positions(ModelConfig(window_length=64), items, str(root))
    assert "name the cap's montage" in str(info.value)  # no built-in montage places ECG
    with pytest.raises(Exception, match=r"model.asa_path: .*cap.elc cannot place"):
        check_channel_positions(ModelConfig(window_length=64, asa_path=str(_cap(tmp_path))), items, str(root))
    check_channel_positions(
        ModelConfig(window_length=64), build_index(root, exclude_channels=["ecg", "SINE 8 HZ"]), str(root)
    )


def test_missing_channels_zero_logs_the_names_and_goes_on(biosemi_corpus, caplog):
    items = build_index(biosemi_corpus)
    with caplog.at_level(logging.WARNING, logger="eeg_pretrain"):
        check_channel_positions(ModelConfig(window_length=64, missing_channels="zero"), items, "corpus")
    assert "cannot place 2 channel(s): 'B7', 'C12'" in caplog.text


def _cap(tmp_path):
    path = tmp_path / "cap.elc"
    path.write_text("UnitPosition mm\nPositions\nFz : 0 60 60\nCz : 0 0 90\nT7 : -90 0 0\n")
    return path
