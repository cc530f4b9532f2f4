"""Checkpoint files: plain dicts written atomically, read with ``weights_only=True``, models rebuilt from them.

A checkpoint payload holds plain tensors and plain Python values only. ``load_pretrained`` needs the keys
``model`` (the state_dict) and ``model_config`` (``ModelConfig.to_dict()``); apps add their own
(``optimizer``, ``epoch``, ...).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from eeg_config import UserError, atomic_write
from eeg_montage import MontageError
from eeg_ssm.config import ModelConfig, ModelConfigError
from eeg_ssm.model import EEGModel

_PLAIN_SCALARS = (bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device, torch.Size)
# Prefixes that wrappers add to state_dict keys: DistributedDataParallel, torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be written, read, or loaded into the model it describes."""


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, (torch.Tensor, *_PLAIN_SCALARS)):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, _PLAIN_SCALARS):
                raise CheckpointError(f"checkpoint payload{where}: key {key!r} is a {type(key).__name__}")
            _check_plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    raise CheckpointError(
        f"checkpoint payload{where} is a {type(value).__module__}.{type(value).__qualname__}; expected plain "
        "tensors and values (tensor, int, float, bool, str, None, list, tuple, dict) so that "
        "torch.load(weights_only=True) can read it; convert it (e.g. numpy arrays to tensors)"
    )


def save_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    A crash mid-write leaves the previous file (if any) intact and no partial file under ``path``.
    Parent folders are created. Raises :class:`CheckpointError` when the payload holds anything but plain
    tensors and values (the message names the offending key) or the file cannot be written (a full disk
    or quota: with the space the checkpoint needs and the space left).
    """
    path = Path(path)
    if not isinstance(payload, Mapping):
        raise CheckpointError(f"{path}: a checkpoint payload must be a dict, got {type(payload).__name__}")
    _check_plain(payload, "")
    writer: _KeepWriteError | None = None

    def write(handle: Any) -> None:
        nonlocal writer
        writer = _KeepWriteError(handle)
        torch.save(dict(payload), writer)

    try:
        atomic_write(path, write)
    except (OSError, RuntimeError) as error:
        # torch.save turns the OSError of a write (disk full) into "RuntimeError: ... unexpected pos"
        cause = error if isinstance(error, OSError) else (writer.error if writer is not None else None)
        if cause is None:
            raise  # a RuntimeError of torch's own: a bug
        raise CheckpointError(
            f"{path}: cannot write the checkpoint: {_describe_os_error(cause, path, payload)}"
        ) from error
    return path


class _KeepWriteError:
    """A binary file handle that remembers the first :class:`OSError` of a write or flush (torch.save
    reports it as a RuntimeError that has lost the errno)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.handle.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def flush(self) -> None:
        try:
            self.handle.flush()
        except OSError as error:
            self.error = self.error or error
            raise


def _payload_nbytes(payload: Any) -> int:
    """Bytes of the tensors in a checkpoint payload: about the size of its file."""
    if isinstance(payload, torch.Tensor):
        return payload.untyped_storage().nbytes()
    if isinstance(payload, Mapping):
        return sum(_payload_nbytes(value) for value in payload.values())
    if isinstance(payload, list | tuple):
        return sum(_payload_nbytes(value) for value in payload)
    return 0


def _describe_os_error(error: OSError, path: Path, payload: Mapping[str, Any]) -> str:
    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return f"{error.strerror or error}"
    what = "no space left on the device" if error.errno == errno.ENOSPC else "disk quota exceeded"
    try:
        free = f", {_size(shutil.disk_usage(path.parent).free)} free"
    except OSError:
        free = ""
    return f"{what} (it needs about {_size(_payload_nbytes(payload))}{free})"


def _size(nbytes: float) -> str:
    """``512 B``, ``12.3 MB``: a size for a message."""
    if nbytes < 1000:
        return f"{nbytes:.0f} B"
    for unit in ("KB", "MB"):
        nbytes /= 1000
        if nbytes < 1000:
            return f"{nbytes:.1f} {unit}"
    return f"{nbytes / 1000:.1f} GB"


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint dict with ``torch.load(weights_only=True)`` (no code from the file is run).

    ``map_location`` moves tensors (``"cpu"`` reads GPU-trained checkpoints on any machine). Raises
    :class:`CheckpointError` naming the path when it is missing, unreadable, or not a checkpoint dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or foreign files
        raise CheckpointError(
            f"{path}: not a readable checkpoint (expected a file written by save_checkpoint / torch.save "
            f"holding plain tensors and values): {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        ) from error
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dict, found a {type(payload).__name__}")
    return payload


def _strip_wrapper_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = dict(state)
    for prefix in _WRAPPER_PREFIXES:
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items()}
    return state


def _describe(keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_pretrained(
    path: str | os.PathLike[str], map_location: Any = "cpu", backend: str | None = None
) -> EEGModel:
    """Rebuild the :class:`EEGModel` of a checkpoint and load its weights with strict key matching.

    Args:
        path: a checkpoint with ``model`` and ``model_config``.
        map_location: where the tensors go (``"cpu"``, ``"cuda"``, a ``torch.device``); when it is a device
            (or a device string) the model is moved there too.
        backend: override the saved ``backend`` (e.g. ``"torch"`` to run a model trained with the
            mamba_ssm kernels anywhere). Mamba-2 backends share one state_dict; a Mamba-2 checkpoint does
            not fit the ``"transformer"`` backbone (or the reverse).

    Returns:
        The model in eval mode.

    Raises:
        CheckpointError: unreadable file, missing keys, an invalid saved config, or weights that do not
            match the model (the message lists the missing and unexpected keys and any shape mismatches).
    """
    path = Path(path)
    payload = load_checkpoint(path, map_location=map_location)
    absent = [key for key in ("model", "model_config") if key not in payload]
    if absent:
        raise CheckpointError(f"{path}: the checkpoint lacks {absent}; found keys {sorted(payload)}")
    raw_config = payload["model_config"]
    try:
        config = ModelConfig.from_dict(raw_config)
        if backend is not None:
            if (backend == "transformer") != config.is_transformer:
                trained = "Transformer" if config.is_transformer else "Mamba-2"
                raise ModelConfigError(
                    f"backend {backend!r} cannot load weights trained with the {trained} backbone "
                    f"(backend {config.backend!r})"
                )
            config = config.evolve(backend=backend)
        model = EEGModel(config)
    except (ModelConfigError, MontageError) as error:
        # MontageError: the saved asa_path does not exist or does not parse on this machine.
        raise CheckpointError(f"{path}: model_config: {error}") from error

    state = check_weights(path, payload["model"], model)
    model.load_state_dict(state, strict=True)
    if isinstance(map_location, str | torch.device):
        model.to(map_location)
    return model.eval()


def check_weights(
    path: str | os.PathLike[str], state: Any, model: torch.nn.Module
) -> dict[str, torch.Tensor]:
    """The checkpoint's ``model`` entry, checked against ``model`` before ``load_state_dict``.

    Returns:
        The state_dict with DDP / ``torch.compile`` wrapper prefixes removed.

    Raises:
        CheckpointError: naming ``path`` and listing the missing and unexpected keys and any shape mismatches.
    """
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: 'model' must be a state_dict, found a {type(state).__name__}")
    state = _strip_wrapper_prefixes(state)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = []
    for key in sorted(set(state) & set(expected)):
        found = state[key]
        if not isinstance(found, torch.Tensor):
            mismatched.append(f"{key}: checkpoint holds a {type(found).__name__}, not a tensor")
        elif found.shape != expected[key].shape:
            mismatched.append(f"{key}: checkpoint {tuple(found.shape)} vs model {tuple(expected[key].shape)}")
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"missing keys: {_describe(missing)}")
        if unexpected:
            problems.append(f"unexpected keys: {_describe(unexpected)}")
        if mismatched:
            problems.append(f"shape mismatches: {_describe(mismatched)}")
        raise CheckpointError(
            f"{path}: the weights do not match the model described by its model_config; "
            + "; ".join(problems)
        )
    return state
