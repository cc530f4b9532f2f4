"""eeg-config alone: strict structuring, overrides, YAML files, differences, atomic writes, run_cli."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eeg_config import (
    ConfigError,
    UserError,
    apply_overrides,
    atomic_write_text,
    config_differences,
    flatten,
    read_yaml,
    structure,
    unstructure,
)


def _positive(_instance, attribute, value):
    if value <= 0:
        raise ValueError(f"{attribute.name}: expected a positive number, got {value!r}")


@attrs.frozen(kw_only=True)
class Inner:
    rate: float = attrs.field(default=1.0, validator=_positive)
    steps: int = 3
    names: tuple[str, ...] = ("a",)


@attrs.frozen(kw_only=True)
class Outer:
    inner: Inner = attrs.field(factory=Inner)
    flag: bool = False


def test_structure_is_strict_and_names_every_problem():
    with pytest.raises(ConfigError) as info:
        structure({"inner": {"rate": -1.0, "steps": "3", "typo": 1}, "flag": 1}, Outer, "run.yaml")
    text = str(info.value)
    assert text.startswith("invalid config run.yaml:")
    assert "unknown key(s) typo @ $.inner" in text
    assert "@ $.inner.steps" in text  # a string is never parsed into an int
    assert "@ $.flag" in text  # 1 is not a boolean
    with pytest.raises(ConfigError) as info:  # a validator's message keeps its field's path
        structure({"inner": {"rate": -1.0}}, Outer)
    assert info.value.problems == ["rate: expected a positive number, got -1.0 @ $.inner.rate"]


@attrs.frozen(kw_only=True)
class Band:
    fmin: float = 1.0
    fmax: float = 45.0

    def __attrs_post_init__(self):
        if not self.fmin < self.fmax:
            raise ValueError(f"Band.fmin: expected a frequency below fmax = {self.fmax:g}, got {self.fmin:g}")


def test_a_cross_field_error_is_pinned_to_the_field_its_message_starts_with():
    with pytest.raises(ConfigError) as info:
        structure({"fmin": 50.0}, Band)
    assert info.value.problems == ["Band.fmin: expected a frequency below fmax = 45, got 50 @ $.fmin"]


def test_floats_accept_yaml_scientific_strings_and_round_trip():
    config = structure({"inner": {"rate": "1e-4", "names": ["x", "y"]}}, Outer)
    assert config.inner.rate == 1e-4 and config.inner.names == ("x", "y")
    assert structure(unstructure(config), Outer) == config
    assert unstructure(config)["inner"]["names"] == ["x", "y"]


def test_overrides_reach_any_key_and_leave_the_input_alone():
    data = {"inner": {"steps": 3}}
    result = apply_overrides(data, ["inner.steps=5", "flag=true", "inner.names=[b, c]"])
    assert result == {"inner": {"steps": 5, "names": ["b", "c"]}, "flag": True}
    assert data == {"inner": {"steps": 3}}
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        apply_overrides(data, ["inner.steps"])
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides(data, ["inner.steps.deeper=1"])


def test_read_yaml_names_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        read_yaml(path)
    with pytest.raises(ConfigError, match="config file not found"):
        read_yaml(tmp_path / "missing.yaml")
    path.write_text("inner:\n  steps: 4\n")
    assert read_yaml(path) == {"inner": {"steps": 4}}


def test_differences_compare_as_yaml_reads_back():
    before = {"model": {"d": 64, "names": ("a", "b"), "lr": 1}, "train": {"epochs": 3}}
    after = {"model": {"d": 32, "names": ["a", "b"], "lr": 1.0}, "masking": {"ratio": 0.4}}
    assert config_differences(before, after, ignore_prefixes=("train.",)) == [
        "masking.ratio: checkpoint '<absent>', config 0.4",
        "model.d: checkpoint 64, config 32",
    ]
    assert config_differences(before, before, labels=("folder", "now")) == []
    assert config_differences({"a": 1}, {"a": 2}, labels=("folder", "now"), ignore={"a"}) == []


@given(
    st.recursive(
        st.integers() | st.text(max_size=3),
        lambda c: st.dictionaries(st.text("ab", min_size=1, max_size=2), c, max_size=3),
        max_leaves=8,
    )
)
def test_flatten_keeps_every_leaf(data):
    if not isinstance(data, dict):
        return
    flat = flatten(data)
    for key, value in flat.items():
        node = data
        for part in key.split("."):
            node = node[part]
        assert node == value


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")

    def full_disk(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_full_disk_names_the_file_keeps_the_old_one_and_writes_once_space_is_freed(tmp_path, monkeypatch):
    import errno

    from eeg_config.testing import full_disks

    try:
        disk = full_disks(monkeypatch)(tmp_path, free=10)
    except NotImplementedError as reason:
        pytest.skip(str(reason))
    path = tmp_path / "summary.json"
    atomic_write_text(path, "old")  # 3 bytes of the 10
    with pytest.raises(OSError) as info:
        atomic_write_text(path, "x" * 100)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(path)) and disk.refused > 0
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    disk.free = 1000
    atomic_write_text(path, "x" * 100)
    assert path.read_text() == "x" * 100 and disk.free == 900


def test_config_errors_are_user_errors_by_type():
    # each library's own errors (eeg_io.EEGDataError, eeg_ssm.ModelConfigError, ...) are checked in its tests
    assert issubclass(ConfigError, UserError)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)


def test_run_cli_one_line_exit_2_and_bugs_still_raise():
    result = _run("""
        from eeg_config import run_cli, UserError
        def main():
            raise UserError("data/x.parquet: no such file")
        run_cli(main)
    """)
    assert (result.returncode, result.stderr) == (2, "error: data/x.parquet: no such file\n")
    result = _run("""
        from eeg_config import run_cli
        class Other(ValueError):
            pass
        def main():
            raise Other("named in also")
        run_cli(main, also=(Other,))
    """)
    assert (result.returncode, result.stderr) == (2, "error: named in also\n")
    result = _run("""
        from eeg_config import run_cli
        run_cli(lambda: 1 / 0)
    """)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_run_cli_shows_a_user_warning_as_one_line_without_a_file_path():
    result = _run("""
        import warnings
        from eeg_config import run_cli
        class Leaky(UserWarning):
            pass
        def main():
            warnings.warn("MaskingConfig.ratio: BERT-style masking\\n at ratio 0.6", UserWarning)
            warnings.warn(Leaky("cap.elc: no UnitPosition line; assuming mm"))
            warnings.warn("old API", FutureWarning)  # not the user's: Python's format, with its origin
        try:
            run_cli(main)
        except SystemExit:
            warnings.warn("after the command", UserWarning)  # run_cli put Python's display back
    """)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines[:2] == [
        "warning: MaskingConfig.ratio: BERT-style masking at ratio 0.6",
        "warning: cap.elc: no UnitPosition line; assuming mm",
    ]
    assert "<string>:" in lines[2] and "FutureWarning: old API" in lines[2]
    assert "<string>:" in lines[-1] and "UserWarning: after the command" in lines[-1]


def test_run_cli_folds_a_library_message_and_reports_environment_faults_in_one_line(tmp_path):
    # pyarrow's corrupt-page message spans three lines; a config's problems stay one per line
    result = _run("""
        from eeg_config import run_cli, UserError
        def main():
            raise UserError("x.parquet: could not read the column (Couldn't deserialize thrift:\\n"
                            "TProtocolException: Invalid data\\nDeserializing page header failed.)")
        run_cli(main)
    """)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "thrift: TProtocolException: Invalid data Deserializing page" in result.stderr
    result = _run("""
        from eeg_config import run_cli, ConfigError
        def main():
            raise ConfigError(["a @ $.x", "b @ $.y"], "run.yaml")
        run_cli(main)
    """)
    assert result.stderr == "error: invalid config run.yaml:\n  a @ $.x\n  b @ $.y\n"
    full = tmp_path / "runs" / "ckpt.pt"
    for number, words in ((28, "no space left on the device"), (13, "permission denied")):
        result = _run(f"""
            import os
            from eeg_config import run_cli
            def main():
                raise OSError({number}, os.strerror({number}), {str(full)!r})
            run_cli(main)
        """)
        assert (result.returncode, result.stderr) == (2, f"error: {full}: {words}\n")
    result = _run("""
        from eeg_config import run_cli
        def main():
            raise FileNotFoundError(2, "No such file or directory", "lost.txt")
        run_cli(main)
    """)
    assert result.returncode == 1 and "Traceback" in result.stderr  # not the environment's fault: a bug


def test_imports_no_torch():
    result = _run("""
        import sys, eeg_config
        assert "torch" not in sys.modules, "eeg_config imported torch"
    """)
    assert result.returncode == 0, result.stderr
