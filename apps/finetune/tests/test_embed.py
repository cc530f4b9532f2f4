"""``finetune embed``: one embedding per participant x channel (or window), deterministic."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from numpy.testing import assert_allclose

from eeg_finetune.cli import main
from eeg_finetune.data import load_labelled
from eeg_ssm import load_pretrained


def embed(*args: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["embed", *args])
    assert info.value.code == 0


def test_embeddings_shape_content_and_determinism(pretrained, labelled, tmp_path):
    common = [
        "--checkpoint",
        str(pretrained.checkpoint),
        "--data-path",
        str(labelled),
        "--channels",
        "af7,AF8",
    ]
    embed(*common, "--out", str(tmp_path / "a.parquet"))
    embed(*common, "--out", str(tmp_path / "b.parquet"))
    embed(*common, "--out", str(tmp_path / "w.parquet"), "--per-window")

    table = pq.read_table(tmp_path / "a.parquet")
    assert table.column_names == ["participant", "group", "label", "channel", "num_windows", "embedding"]
    assert table.num_rows == 12 * 2  # participant x channel
    vectors = np.asarray(table.column("embedding").to_pylist(), dtype=np.float32)
    assert vectors.shape == (24, 16) and np.isfinite(vectors).all()
    assert table.column("channel").to_pylist()[:2] == ["AF7", "AF8"]
    assert table.column("label").to_pylist()[:4] == [0, 0, 1, 1]
    again = pq.read_table(tmp_path / "b.parquet")
    assert again.equals(table), "the same inputs give the same embeddings"

    # The per-sequence embedding is the mean of the encoder's token features over the windows.
    data = load_labelled(labelled, channels=["AF7", "AF8"], window_length=64)
    encoder = load_pretrained(pretrained.checkpoint)
    with torch.no_grad():
        windows = torch.from_numpy(data.windows[0])  # (C, L, W) of P01
        features = encoder.encode(windows, ["AF7", "AF8"], torch.full((2,), windows.shape[1]))
    assert_allclose(vectors[:2], features.mean(dim=1).numpy(), rtol=1e-5, atol=1e-6)

    per_window = pq.read_table(tmp_path / "w.parquet")
    lengths = [w.shape[1] for w in data.windows]
    assert per_window.num_rows == 2 * sum(lengths)
    first = per_window.slice(0, lengths[0]).to_pydict()
    assert first["window"] == list(range(lengths[0])) and set(first["channel"]) == {"AF7"}
    assert_allclose(np.asarray(first["embedding"]), features[0].numpy(), rtol=1e-5, atol=1e-6)


def test_embeddings_from_a_finetuned_checkpoint_and_without_labels(
    pretrained, labelled, tmp_path, ft_config, write_config
):
    out = tmp_path / "models"
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(ft_config(pretrained, labelled, out, train={"epochs": 1})))])
    assert info.value.code == 0
    table = pq.read_table(labelled).drop_columns(["Remission"])
    unlabelled = tmp_path / "unlabelled.parquet"
    pq.write_table(table, unlabelled)
    embed(
        "--checkpoint", str(out / "mamba2_eeg_d16_l1_m40_mae_finetuned.pt"), "--data-path", str(unlabelled),
        "--out", str(tmp_path / "e.parquet"),
    )  # fmt: skip
    result = pq.read_table(tmp_path / "e.parquet")
    assert "label" not in result.column_names and result.num_rows == 12 * 2  # every channel of the file


def test_embed_errors(pretrained, labelled, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["embed", "--checkpoint", str(pretrained.checkpoint), "--data-path", str(labelled),
              "--out", str(tmp_path / "x.parquet"), "--channels", "AF7,T9X"])  # fmt: skip
    assert info.value.code == 2 and "T9X" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_per_window_embeddings_carry_the_window_label_and_group(pretrained, tmp_path):
    from eeg_finetune.synthetic import write_synthetic_windows

    trials = write_synthetic_windows(
        tmp_path / "trials.parquet", people=2, runs=2, windows=3, labels="window"
    )
    out = tmp_path / "windows.parquet"
    with pytest.raises(SystemExit) as info:
        main(
            ["embed", "--checkpoint", str(pretrained.checkpoint), "--data-path", str(trials), "--out", str(out),
             "--per-window", "--label-column", "Label", "--group-column", "Person"]
        )  # fmt: skip
    assert info.value.code == 0
    table = pq.read_table(out).to_pydict()
    source = pq.read_table(trials).to_pydict()
    # one row per participant x channel x window; the window's own label and its person's group
    assert len(table["embedding"]) == len(source["Label"]) * 2
    expected = {}
    for participant, run, window, label, group in zip(
        source["Participant"],
        source["run"],
        source["sub_window_id"],
        source["Label"],
        source["Person"],
        strict=True,
    ):
        expected.setdefault(participant, []).append((run, window, label, group))
    for participant, rows in expected.items():
        labels = [label for *_, label, _ in sorted(rows)]
        mine = [
            (w, lab, g)
            for p, c, w, lab, g in zip(
                table["participant"],
                table["channel"],
                table["window"],
                table["label"],
                table["group"],
                strict=True,
            )
            if p == participant and c == "AF7"
        ]
        assert [lab for _, lab, _ in sorted(mine)] == labels
        assert {g for *_, g in mine} == {rows[0][3]}
