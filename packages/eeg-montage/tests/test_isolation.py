"""eeg_montage is used alone in other projects: importing and using it pulls in no heavy dependency."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("torch", "pyarrow", "mne", "scipy", "pandas")

PROGRAM = f"""
import json, sys
import eeg_montage
montage = eeg_montage.standard_montage()
montage.coords(["AF7", "TP10"], center="fit")
eeg_montage.standard_montage("biosemi256").coords(["H16"])
eeg_montage.load_montage("GSN-HydroCel-129")
print(json.dumps(sorted(name for name in {FORBIDDEN!r} if name in sys.modules)))
"""


def test_import_and_use_do_not_import_torch_pyarrow_or_mne():
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_the_subprocess_check_can_see_an_import():
    # The same check reports a module that is imported, so an empty list above means something.
    program = PROGRAM.replace(
        "import eeg_montage\n", "import eeg_montage, json as pyarrow\nsys.modules['pyarrow'] = pyarrow\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == ["pyarrow"]
