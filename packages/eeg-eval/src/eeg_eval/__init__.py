"""eeg_eval: did pretraining help? Evaluation on arrays, without torch.

Units and groups (:class:`Units`; the group default, the participant, is decided there), group-disjoint
splits (:func:`unit_folds`, :func:`make_folds`), metrics (:func:`unit_metrics`), bootstrap intervals over
groups with paired differences (:func:`bootstrap`), classic EEG features (:func:`band_power`,
:func:`downsampled_waveform`), the logistic regression every feature set is judged with, and the verdict
(:func:`judge`), which says "undecided" rather than conclude from too little. :func:`compare_features`
runs all of it on any encoder's embeddings.
"""

from eeg_eval.baselines import (
    POWER_FLOOR,
    band_power,
    class_weight,
    downsampled_waveform,
    logistic_probabilities,
)
from eeg_eval.bootstrap import bootstrap
from eeg_eval.compare import Comparison, compare_features, fold_predictions, summarise
from eeg_eval.errors import EvalError
from eeg_eval.metrics import (
    METRICS,
    Predictions,
    aggregate,
    aggregate_predictions,
    concatenate,
    fold_spread,
    unit_metrics,
    validation_scores,
)
from eeg_eval.splits import (
    LOGO_MAX_GROUPS,
    SPLIT_METHODS,
    Fold,
    group_strata,
    make_folds,
    random_split,
    resolve_method,
    sequence_folds,
    unit_folds,
    validation_split,
)
from eeg_eval.units import DEFAULT_GROUP, Units, group_name, groups_of
from eeg_eval.verdict import CLASSIC, MAX_UNDEFINED, MIN_TEST_GROUPS, PRETRAINED, RANDOM, Verdict, judge

__all__ = [
    "CLASSIC",
    "DEFAULT_GROUP",
    "LOGO_MAX_GROUPS",
    "MAX_UNDEFINED",
    "METRICS",
    "MIN_TEST_GROUPS",
    "POWER_FLOOR",
    "PRETRAINED",
    "RANDOM",
    "SPLIT_METHODS",
    "Comparison",
    "EvalError",
    "Fold",
    "Predictions",
    "Units",
    "Verdict",
    "aggregate",
    "aggregate_predictions",
    "band_power",
    "bootstrap",
    "class_weight",
    "compare_features",
    "concatenate",
    "downsampled_waveform",
    "fold_predictions",
    "fold_spread",
    "group_name",
    "group_strata",
    "groups_of",
    "judge",
    "logistic_probabilities",
    "make_folds",
    "random_split",
    "resolve_method",
    "sequence_folds",
    "summarise",
    "unit_folds",
    "unit_metrics",
    "validation_scores",
    "validation_split",
]
