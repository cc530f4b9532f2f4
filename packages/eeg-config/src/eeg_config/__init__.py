"""eeg_config: strict YAML -> attrs configs, ``--set`` overrides, validators, user errors, atomic writes, and
whether a process is alive (run-folder locks). No torch.

The plumbing every library and app of the workspace shares:

>>> from eeg_config import read_yaml, apply_overrides, structure      # doctest: +SKIP
>>> config = structure(apply_overrides(read_yaml("run.yaml"), ["train.lr=1.0e-3"]), RunConfig)  # doctest: +SKIP

The attrs validators of every config class live in :mod:`eeg_config.validators`.
"""

from eeg_config.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from eeg_config.configuration import (
    CONVERTER,
    ConfigError,
    YamlSyntaxError,
    add_override_option,
    apply_overrides,
    dump_yaml,
    make_converter,
    parse_override,
    read_yaml,
    structure,
    unstructure,
    yaml_problem,
)
from eeg_config.differences import config_differences, flatten
from eeg_config.errors import (
    EXIT_INTERRUPTED,
    EXIT_USER_ERROR,
    UserError,
    environment_error,
    one_line,
    run_cli,
)
from eeg_config.processes import pid_alive
from eeg_config.schema import field_type, parse_value
from eeg_config.validators import FieldError, field_error

__all__ = [
    "CONVERTER",
    "EXIT_INTERRUPTED",
    "EXIT_USER_ERROR",
    "ConfigError",
    "FieldError",
    "UserError",
    "YamlSyntaxError",
    "add_override_option",
    "apply_overrides",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "config_differences",
    "dump_yaml",
    "environment_error",
    "field_error",
    "field_type",
    "flatten",
    "make_converter",
    "one_line",
    "parse_override",
    "parse_value",
    "pid_alive",
    "read_yaml",
    "run_cli",
    "structure",
    "unstructure",
    "yaml_problem",
]
