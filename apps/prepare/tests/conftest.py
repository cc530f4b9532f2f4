"""Writers of tiny test recordings (EDF, BDF, FIF, BrainVision, EEGLAB, Muse CSVs) and a tiny processing config.

Signals are given in µV as float ``[C, N]`` arrays; every writer stores them in its format's own unit.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

MUSE = ("TP9", "AF7", "AF8", "TP10")


def sines(
    components: Sequence[tuple[float, float]], seconds: float, sfreq: float, offset: float = 0.0
) -> np.ndarray:
    """Sum of ``amplitude * sin(2π f t)`` over ``components`` ``[(f Hz, amplitude µV)]``, float64 ``[N]``."""
    t = np.arange(round(seconds * sfreq)) / sfreq
    return offset + sum(a * np.sin(2 * np.pi * f * t) for f, a in components)


class Writers:
    """Namespace of recording writers (a fixture, so every test module can use them)."""

    sines = staticmethod(sines)
    MUSE = MUSE

    @staticmethod
    def mne_file(path: Path, data_uv: np.ndarray, names: Sequence[str], sfreq: float) -> Path:
        """EDF, BDF (through MNE's edfio export) or FIF, chosen by ``path``'s extension."""
        import mne

        path.parent.mkdir(parents=True, exist_ok=True)
        info = mne.create_info(list(names), sfreq, "eeg")
        raw = mne.io.RawArray(np.asarray(data_uv, dtype=np.float64) * 1e-6, info, verbose="error")
        if path.suffix == ".fif":
            raw.save(path, verbose="error", overwrite=True)
        else:
            mne.export.export_raw(path, raw, fmt=path.suffix[1:], verbose="error", overwrite=True)
        return path

    @staticmethod
    def brainvision(path: Path, data_uv: np.ndarray, names: Sequence[str], sfreq: float) -> Path:
        """A minimal BrainVision triplet (.vhdr, .vmrk, float32 multiplexed .eeg) in µV."""
        path.parent.mkdir(parents=True, exist_ok=True)
        stem = path.with_suffix("")
        np.asarray(data_uv, dtype=np.float32).T.tofile(stem.with_suffix(".eeg"))
        channels = "\n".join(f"Ch{i + 1}={name},,1,µV" for i, name in enumerate(names))
        path.write_text(
            "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
            f"DataFile={stem.name}.eeg\nMarkerFile={stem.name}.vmrk\nDataFormat=BINARY\n"
            f"DataOrientation=MULTIPLEXED\nNumberOfChannels={len(names)}\n"
            f"SamplingInterval={1e6 / sfreq:g}\n[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n"
            f"[Channel Infos]\n{channels}\n",
            encoding="utf-8",
        )
        stem.with_suffix(".vmrk").write_text(
            "Brain Vision Data Exchange Marker File, Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
            f"DataFile={stem.name}.eeg\n[Marker Infos]\n",
            encoding="utf-8",
        )
        return path

    @staticmethod
    def gdf(path: Path, data_uv: np.ndarray, names: Sequence[str], sfreq: float) -> Path:
        """GDF 1.25 as MNE reads it: one record per second (``sfreq`` whole), int16 samples at 0.1 µV,
        an empty event table. (MNE writes no GDF, so the header is packed here, field by field.)"""
        import struct

        path.parent.mkdir(parents=True, exist_ok=True)
        data_uv = np.asarray(data_uv, dtype=np.float64)
        ns, per_record = len(names), round(sfreq)
        n_records = data_uv.shape[1] // per_record
        digital = np.round(data_uv[:, : n_records * per_record] * 10).clip(-32768, 32767).astype("<i2")
        head = b"GDF 1.25" + b"X X".ljust(80) + b"test".ljust(80) + b"2024010112000000"
        head += struct.pack("<q", 256 * (ns + 1)) + bytes(24 + 20)  # header bytes; equipment..., reserved
        head += struct.pack("<qIII", n_records, 1, 1, ns)  # records of 1/1 s, channels
        head += b"".join(n.encode().ljust(16) for n in names) + bytes(80 * ns)  # labels, transducers
        head += b"".join(b"uV".ljust(8) for _ in names)
        head += struct.pack(f"<{2 * ns}d", *([-3276.8] * ns), *([3276.7] * ns))  # physical min, max
        head += struct.pack(f"<{2 * ns}q", *([-32768] * ns), *([32767] * ns))  # digital min, max
        head += bytes(80 * ns) + struct.pack(f"<{2 * ns}i", *([per_record] * ns), *([3] * ns))  # 3: int16
        head += bytes(32 * ns)
        records = digital.reshape(ns, n_records, per_record).transpose(1, 0, 2).tobytes()
        path.write_bytes(head + records + bytes([1]) + bytes(3) + struct.pack("<I", 0))
        return path

    @staticmethod
    def persyst(path: Path, data_uv: np.ndarray, names: Sequence[str], sfreq: float) -> Path:
        """A Persyst ``.lay`` (INI header) with its interleaved int16 ``.dat`` at 0.1 µV per unit. (MNE 1.13's
        reader needs the patient's birth date and sex.)"""
        path.parent.mkdir(parents=True, exist_ok=True)
        dat = path.with_suffix(".dat")
        np.round(np.asarray(data_uv) * 10).clip(-32768, 32767).astype("<i2").T.tofile(dat)
        channels = "\n".join(f"{name}={i + 1}" for i, name in enumerate(names))
        path.write_text(
            f"[FileInfo]\nFile={dat.name}\nFileType=Interleaved\nSamplingRate={sfreq:g}\nHeaderLength=0\n"
            f"Calibration=0.1\nWaveformCount={len(names)}\nDataType=0\n[Patient]\nFirst=X\nLast=Y\n"
            f"Sex=f\nHand=r\nBirthDate=01/01/90\nTestDate=01/02/2024\nTestTime=12:00:00\n[ChannelMap]\n{channels}\n"
        )
        return path

    @staticmethod
    def eeglab(path: Path, data_uv: np.ndarray, names: Sequence[str], sfreq: float) -> Path:
        """A minimal EEGLAB ``.set`` (MATLAB file with an ``EEG`` struct, data inside) in µV."""
        import scipy.io

        path.parent.mkdir(parents=True, exist_ok=True)
        n = data_uv.shape[1]
        chanlocs = np.zeros((1, len(names)), dtype=[("labels", "O")])
        for i, name in enumerate(names):
            chanlocs["labels"][0, i] = name
        empty = np.zeros((0, 0))
        eeg = {
            "setname": "test",
            "nbchan": float(len(names)),
            "pnts": float(n),
            "trials": 1.0,
            "srate": float(sfreq),
            "xmin": 0.0,
            "xmax": (n - 1) / sfreq,
            "times": np.arange(n) / sfreq * 1000,
            "data": np.asarray(data_uv, dtype=np.float32),
            "chanlocs": chanlocs,
            "ref": "common",
            "event": empty,
            "epoch": empty,
            "icawinv": empty,
        }
        scipy.io.savemat(path, {"EEG": eeg}, appendmat=False)
        return path

    @staticmethod
    def muselsl_csv(
        path: Path,
        data_uv: np.ndarray,
        sfreq: float,
        names: Sequence[str] = MUSE,
        aux: bool = True,
        seed: int = 0,
    ) -> Path:
        """muselsl ``record`` style: ``timestamps`` (Unix seconds, with LSL-like jitter), channels, Right AUX."""
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        n = data_uv.shape[1]
        stamps = 1.6e9 + np.arange(n) / sfreq + rng.normal(0, 0.2 / sfreq, n)
        header = ["timestamps", *names, *(["Right AUX"] if aux else [])]
        lines = [",".join(header)]
        for i in range(n):
            values = [f"{stamps[i]:.6f}", *(f"{v:.4f}" for v in data_uv[:, i]), *(["0.0"] if aux else [])]
            lines.append(",".join(values))
        path.write_text("\n".join(lines) + "\n")
        return path

    @staticmethod
    def mind_monitor_csv(path: Path, data_uv: np.ndarray, sfreq: float, names: Sequence[str] = MUSE) -> Path:
        """Mind Monitor style: ``TimeStamp`` date-times, band powers, ``RAW_*`` channels, ``Elements``
        marker rows with empty RAW cells, and non-finite cells written as empty."""
        path.parent.mkdir(parents=True, exist_ok=True)
        start = datetime.datetime(2021, 3, 1, 10, 15, 0)
        header = [
            "TimeStamp",
            *(f"Delta_{c}" for c in names),
            *(f"RAW_{c}" for c in names),
            "AUX_RIGHT",
            "Elements",
        ]
        lines = [",".join(header)]
        for i in range(data_uv.shape[1]):
            stamp = (start + datetime.timedelta(seconds=i / sfreq)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            raw = ["" if not np.isfinite(v) else f"{v:.4f}" for v in data_uv[:, i]]
            lines.append(",".join([stamp, *(["0.5"] * len(names)), *raw, "0.0", ""]))
            if i == 10:  # a marker row: no samples
                lines.append(",".join([stamp, *([""] * (2 * len(names) + 1)), "/muse/elements/blink"]))
        path.write_text("\n".join(lines) + "\n")
        return path


@pytest.fixture
def writers() -> type[Writers]:
    return Writers


@pytest.fixture
def small_config() -> dict:
    """Processing settings for fast tests: 128 Hz, 2-s windows (256 samples), 1-40 Hz band-pass."""
    return {
        "signal": {"sampling_rate": 128.0, "l_freq": 1.0, "h_freq": 40.0},
        "windows": {"window_seconds": 2.0},
        "artifacts": {"max_peak_to_peak_uv": 300.0},
    }
