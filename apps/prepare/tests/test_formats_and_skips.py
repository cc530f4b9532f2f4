"""Every EEG format MNE's ``read_raw`` dispatches on is read; every other file under the input root is listed
as skipped, with the reason, in the summary, the report and ``--dry-run`` (issue #14)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose

from eeg_config import ConfigError
from eeg_prepare.cli import main
from eeg_prepare.config import ChannelConfig, CntConfig, CsvConfig, InputConfig, build_config
from eeg_prepare.discovery import RecordingSource, discover
from eeg_prepare.readers import read_recording

NAMES = ("AF7", "AF8")


def signals(writers, seconds: float, sfreq: float) -> np.ndarray:
    return np.vstack(
        [writers.sines([(6.0, 40.0)], seconds, sfreq), writers.sines([(11.0, 25.0)], seconds, sfreq)]
    )


@pytest.mark.parametrize("kind", ["gdf", "persyst"])
def test_formats_the_old_reader_ignored_are_read_like_mne_reads_them(tmp_path, writers, kind):
    import mne

    data = signals(writers, 4.0, 128.0)
    suffix = {"gdf": ".gdf", "persyst": ".lay"}[kind]
    path = getattr(writers, kind)(tmp_path / f"P01_run-1{suffix}", data, NAMES, 128.0)
    found = discover(InputConfig(root=str(tmp_path)), "pretraining.input")
    assert [(s.path, s.format) for s in found.sources] == [(path, kind)]
    assert found.ignored == ()  # the Persyst .dat is the .lay's companion, not a skipped file
    recording = read_recording(found.sources[0], ChannelConfig(pick=("af8", "AF7")), (), CsvConfig())
    assert recording.sfreq == 128.0 and recording.channels == ("af8", "AF7")
    expected = mne.io.read_raw(path, verbose="error").get_data(picks=["AF8", "AF7"]) * 1e6
    assert_allclose(recording.data, expected, err_msg=kind)
    assert_allclose(recording.data, data[::-1], atol=0.051, err_msg=kind)  # 0.1 µV steps


def write_processing(tmp_path: Path, root: Path, small_config: dict) -> Path:
    config = {
        **small_config,
        "pretraining": {
            "input": {"root": str(root), "layout": "flat", "pattern": "{participant}_run-{run}"},
            "output_dir": str(tmp_path / "out"),
        },
    }
    path = tmp_path / "processing.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def prepare(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out + captured.err


def test_files_neither_read_nor_companions_are_listed_with_the_reason(
    tmp_path, writers, small_config, capsys
):
    root = tmp_path / "raw"
    writers.gdf(root / "P01_run-1.gdf", signals(writers, 8.0, 128.0), NAMES, 128.0)
    writers.brainvision(root / "P02_run-1.vhdr", signals(writers, 8.0, 128.0), NAMES, 128.0)
    (root / "montage.elc").write_text("# electrode positions\n")
    (root / "orphan.fdt").write_bytes(b"\0" * 8)
    (root / "P03_run-1.snirf").write_bytes(b"\0" * 8)
    (root / "P01_run-1_channels.tsv").write_text("name\ttype\nAF7\tEEG\n")  # a sidecar: not listed
    (root / "README.md").write_text("study notes\n")  # documentation: not listed
    config = write_processing(tmp_path, root, small_config)
    expected = {
        "montage.elc": "not a recording format prepare reads",
        "orphan.fdt": "a companion file of a set recording, but no such recording sits beside it",
        "P03_run-1.snirf": "MNE reads this as an fNIRS recording (SNIRF), not an EEG recording",
    }

    status, out = prepare(["--config", str(config), "pretraining", "--dry-run"], capsys)
    assert status == 0, out
    skipped = [line for line in out.splitlines() if line.startswith("  skip  ")]
    assert len(skipped) == len(expected), out
    for name, why in expected.items():
        assert any(f"{root / name}: {why}" in line for line in skipped), (name, out)
    assert "P02_run-1.eeg" not in out and "vmrk" not in out and "channels.tsv" not in out

    status, out = prepare(["--config", str(config), "pretraining"], capsys)
    assert status == 0, out
    assert sum(line.startswith("  skipped ") for line in out.splitlines()) == len(expected), out
    with open(tmp_path / "out" / "prepare_pretraining_report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    written = {Path(r["recording"]).name for r in rows if r["status"] == "written"}
    assert written == {"P01_run-1.gdf", "P02_run-1.vhdr"}
    skipped_rows = {Path(r["recording"]).name: r["reason"] for r in rows if r["status"] == "skipped"}
    assert set(skipped_rows) == set(expected)
    for name, why in expected.items():
        assert skipped_rows[name].startswith(why), (name, skipped_rows[name])


def test_a_folder_of_unread_files_names_them(tmp_path, small_config, capsys):
    root = tmp_path / "raw"
    root.mkdir()
    (root / "P01_run-1.snirf").write_bytes(b"\0" * 8)
    (root / "P02_run-1.xyz").write_bytes(b"\0" * 8)
    config = write_processing(tmp_path, root, small_config)
    status, out = prepare(["--config", str(config), "pretraining"], capsys)
    assert status == 1
    assert str(root / "P01_run-1.snirf") in out and str(root / "P02_run-1.xyz") in out
    assert "nothing was produced from 0 recording(s)" in out and "2 other file(s) were skipped" in out


def test_cnt_data_format_is_a_config_key_passed_to_mne(tmp_path, monkeypatch, small_config):
    import mne

    seen = {}

    def fake_read_raw_cnt(path, data_format, **kwargs):
        seen["data_format"] = data_format
        info = mne.create_info(list(NAMES), 128.0, "eeg")
        return mne.io.RawArray(np.zeros((2, 256)), info, verbose="error")

    monkeypatch.setattr(mne.io, "read_raw_cnt", fake_read_raw_cnt)
    path = tmp_path / "P01_run-1.cnt"
    path.write_bytes(b"\0" * 64)
    source = RecordingSource(path=path, format="cnt", participant="P01", run="1")
    read_recording(source, ChannelConfig(), (), CsvConfig(), cnt_config=CntConfig(data_format="int32"))
    assert seen == {"data_format": "int32"}
    config = build_config(
        {"pretraining": {"input": {"root": str(tmp_path), "cnt": {"data_format": "int16"}}}}
    )
    assert config.pretraining.input.cnt.data_format == "int16"
    with pytest.raises(ConfigError, match=r"got 'int64' @ \$\.pretraining\.input\.cnt\.data_format"):
        build_config({"pretraining": {"input": {"root": str(tmp_path), "cnt": {"data_format": "int64"}}}})


def test_processing_yaml_documents_every_format():
    root = Path(__file__).resolve().parents[3]
    config = yaml.safe_load((root / "configs" / "processing.yaml").read_text())
    from eeg_prepare.config import FORMATS

    for section in ("pretraining", "primary"):
        assert tuple(config[section]["input"]["formats"]) == FORMATS
        assert config[section]["input"]["cnt"] == {"data_format": "auto"}


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0")


def test_discovery_of_folder_recordings_companions_and_shared_extensions(tmp_path):
    touch(
        tmp_path,
        "P01_run-1.mff/signal1.bin",  # EGI: a folder; its files are parts of it
        "P01_run-1.mff/info.xml",
        "P02_run-1.cdt",  # Curry 8 with its parameter and event files
        "P02_run-1.cdt.dpa",
        "P02_run-1.cdt.ceo",
        "P03_run-1.vhdr",  # BrainVision: its .eeg is the data file, not a Nihon Kohden recording
        "P03_run-1.eeg",
        "P03_run-1.vmrk",
        "P04_run-1.EEG",  # Nihon Kohden, upper-case as the devices write it, with its .PNT
        "P04_run-1.PNT",
        "P05_run-1.lay",  # Persyst: its .dat is the data file, not a Curry 7 recording
        "P05_run-1.dat",
        "P06_run-1.cnt",
        "scan.ds/scan.meg4",  # CTF MEG: one skipped entry for the folder
    )
    found = discover(InputConfig(root=str(tmp_path)), "pretraining.input")
    assert [(s.participant, s.format, s.path.name) for s in found.sources] == [
        ("P01", "egi", "P01_run-1.mff"),
        ("P02", "curry", "P02_run-1.cdt"),
        ("P03", "vhdr", "P03_run-1.vhdr"),
        ("P04", "nihon", "P04_run-1.EEG"),
        ("P05", "persyst", "P05_run-1.lay"),
        ("P06", "cnt", "P06_run-1.cnt"),
    ]
    companions = {s.participant: sorted(p.name for p in s.companions) for s in found.sources}
    assert companions["P02"] == ["P02_run-1.cdt.ceo", "P02_run-1.cdt.dpa"]
    assert companions["P03"] == ["P03_run-1.eeg", "P03_run-1.vmrk"]
    assert companions["P04"] == ["P04_run-1.PNT"]
    assert companions["P05"] == ["P05_run-1.dat"]
    assert [(p.name, why.split(",")[0]) for p, why in found.ignored] == [
        ("scan.ds", "MNE reads this as a MEG recording (CTF)")
    ]
    # formats left out of input.formats are listed, not silently dropped
    found = discover(InputConfig(root=str(tmp_path), formats=("vhdr",)), "primary.input")
    assert [s.format for s in found.sources] == ["vhdr"]
    reasons = {p.name: why for p, why in found.ignored}
    assert reasons["P06_run-1.cnt"] == "format cnt is not in primary.input.formats"
    assert reasons["P01_run-1.mff"] == "format egi is not in primary.input.formats"
    # the companions of a recording left out are not listed on their own
    assert sorted(reasons) == [
        "P01_run-1.mff",
        "P02_run-1.cdt",
        "P04_run-1.EEG",
        "P05_run-1.lay",
        "P06_run-1.cnt",
        "scan.ds",
    ]


def test_primary_lists_unread_files_but_not_its_labels_file(tmp_path, writers, small_config):
    from eeg_prepare.pipeline import run_primary

    root = tmp_path / "raw"
    for participant in ("P01", "P02"):
        data = np.vstack([writers.sines([(6.0, 30.0)], 8.0, 128.0)] * 4)
        writers.gdf(root / f"{participant}_run-1.gdf", data, writers.MUSE, 128.0)
    (root / "labels.csv").write_text("participant,Remission\nP01,0\nP02,1\n")
    (root / "notes.docx").write_bytes(b"\0")
    config = build_config(
        {
            **small_config,
            "primary": {
                "input": {"root": str(root), "layout": "flat"},
                "labels": {"path": str(root / "labels.csv")},
                "output_dir": str(tmp_path / "out"),
            },
        }
    )
    lines: list[str] = []
    outcome = run_primary(config, echo=lines.append)
    assert outcome.status == 0, lines
    assert [line for line in lines if "skipped " in line and "notes.docx" in line], lines
    assert not [line for line in lines if "labels.csv" in line and "skip" in line], lines
    with open(outcome.report, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [Path(r["recording"]).name for r in rows if r["status"] == "skipped"] == ["notes.docx"]
