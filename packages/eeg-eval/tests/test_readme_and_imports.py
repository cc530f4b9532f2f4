"""The README's example runs as written, and the library stands without torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs_and_says_what_the_readme_says(capsys):
    code = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert printed.strip() == (
        "pretraining helped: my_encoder beats the random encoder (auroc +0.593 [+0.512, +0.668]) and the best classic baseline, band_power (auroc +0.468 [+0.425, +0.519])"
    ), printed


def test_importing_eeg_eval_loads_no_torch():
    probe = "import sys, eeg_eval; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'eeg_ssm', 'eeg_io')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
