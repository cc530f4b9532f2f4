"""``finetune embed`` on a file without a usable channel column: one line, exit 2 (issue #14)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eeg_finetune.cli import main


def test_embed_names_a_file_whose_channel_columns_hold_text(pretrained, labelled, tmp_path, capsys):
    table = pq.read_table(labelled)
    for name in ("AF7", "AF8"):
        index = table.schema.get_field_index(name)
        text = pa.array([str(cell) for cell in table.column(index).to_pylist()])
        table = table.set_column(index, name, text)
    path = tmp_path / "text_channels.parquet"
    pq.write_table(table, path)
    out = tmp_path / "emb.parquet"
    with pytest.raises(SystemExit) as info:
        main(
            ["embed", "--checkpoint", str(pretrained.checkpoint), "--data-path", str(path), "--out", str(out)]
        )
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1, err
    assert str(path) in err and "no channel columns" in err
    assert not out.exists()
