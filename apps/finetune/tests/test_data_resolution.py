"""What finetune takes from the primary file itself: the file inside the folder prepare wrote it to, and
whether its labels are per participant or per window (trial)."""

from __future__ import annotations

import numpy as np
import pytest

from eeg_finetune.config import load_config
from eeg_finetune.errors import FinetuneError
from eeg_finetune.inputs import resolve_data
from eeg_io import corpus_metadata
from eeg_io.layout import primary_table, windows_table, write_table


def _primary(path, label_level=None, labels=(0, 1)):
    """Two windows of one participant, with prepare's record (and label level) when ``label_level`` is
    given, or none (another writer)."""
    table = windows_table({"Fz": np.zeros((2, 8), np.float32)}, participant="p1", run="1")
    metadata = corpus_metadata(8, 128.0, ["Fz"], label_level) if label_level else None
    return write_table(primary_table(table, list(labels)), path, metadata)


def _config(data_path, *settings):
    return load_config(None, [f"data.data_path={data_path}", *settings])


@pytest.mark.parametrize(
    ("recorded", "setting", "expected"),
    [
        ("window", None, "window"),
        ("participant", None, "participant"),
        (None, None, "participant"),  # a file without prepare's record
        ("window", "participant", "participant"),  # the user's setting wins
    ],
)
def test_the_label_level_is_the_users_else_the_files_else_per_participant(
    tmp_path, recorded, setting, expected
):
    path = _primary(tmp_path / "primary.parquet", recorded)
    settings = [f"data.label_level={setting}"] if setting else []
    assert resolve_data(_config(path, *settings)).data.label_level == expected


def test_the_folder_prepare_wrote_stands_for_its_one_primary_file(tmp_path):
    folder = tmp_path / "primary"
    folder.mkdir()
    (folder / "8s_fz_primary_dataset_report.csv").write_text("recording\n")  # prepare's side files
    (folder / "8s_fz_primary_dataset_config.yaml").write_text("{}\n")
    path = _primary(folder / "8s_fz_primary_dataset.parquet", "window")
    resolved = resolve_data(_config(folder))
    assert resolved.data.data_path == str(path) and resolved.data.label_level == "window"

    _primary(folder / "4s_fz_primary_dataset.parquet", "window")
    with pytest.raises(FinetuneError, match=r"holds 2 Parquet files \(4s_fz_primary_dataset.parquet, 8s_fz_"):
        resolve_data(_config(folder))
    with pytest.raises(FinetuneError, match=r"no primary dataset \(\.parquet file\) in the folder"):
        resolve_data(_config(tmp_path))  # holds only the folder
    with pytest.raises(FinetuneError, match="primary dataset not found"):
        resolve_data(_config(tmp_path / "missing.parquet"))
