"""The case that made the verdict untrustworthy, reproduced: 4 participants, one random split with a 10 %
test share (2 test participants), an encoder pretrained on both. The verdict must say "undecided" and why,
never "pretraining helped"."""

from __future__ import annotations

import json

import pytest
import torch

from eeg_finetune.cli import main
from eeg_finetune.synthetic import write_synthetic_primary
from eeg_ssm import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def four_people(tmp_path_factory):
    path = tmp_path_factory.mktemp("four") / "primary.parquet"
    return write_synthetic_primary(
        path, participants=4, channels=("AF7", "AF8"), windows=6, window_length=64, sfreq=64.0
    )


def with_record(pretrained, tmp_path, participants):
    """A copy of the fixture's checkpoint that records the participants it was pretrained on."""
    payload = load_checkpoint(pretrained.checkpoint)
    payload["pretraining_data"] = {
        "participants": participants,
        "files": [],
        "val_participants": [],
        "val_files": [],
    }
    path = tmp_path / "seen" / pretrained.checkpoint.name
    path.parent.mkdir()
    save_checkpoint(path, payload)
    return path


@pytest.mark.parametrize("seen", [[], ["P01", "P02", "P03", "P04"]])
def test_two_test_participants_are_undecided_with_the_reason(
    pretrained, four_people, ft_config, write_config, tmp_path, capsys, seen
):
    torch.manual_seed(0)
    checkpoint = with_record(pretrained, tmp_path, seen)
    out = tmp_path / "out"
    config = ft_config(
        pretrained,
        four_people,
        out,
        pretrained={"pretrain_config": None, "checkpoint": str(checkpoint)},
        split={"method": "random", "test_ratio": 0.1, "val_ratio": 0.0},
        train={"epochs": 3},
        evaluation={"bootstrap_resamples": 200},
        compare_baselines=True,
    )
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(config, "finetune.yaml"))])
    assert info.value.code == 0
    summary = json.loads(next(out.glob("*_summary.json")).read_text())
    verdict = summary["verdict"]
    assert summary["decision"] == "undecided", verdict
    assert verdict.startswith("undecided: only 2 test group(s) took part; a verdict needs at least 6"), (
        verdict
    )
    assert "helped" not in verdict.split(" (")[0]
    assert summary["leakage"]["test_groups"] == 2 and summary["leakage"]["test_groups_seen"] == len(seen) // 2
    if seen:
        assert "the encoder saw 2 of 2 test groups while pretraining" in verdict
    assert f"verdict: {verdict}" in capsys.readouterr().out
