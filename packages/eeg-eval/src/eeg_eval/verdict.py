"""The verdict: did pretraining help? One line, and a decision that is ``helped``, ``did not help`` or
``undecided``, never more confident than its evidence.

The judged model is named **before** the results (``judged``, in finetune ``evaluation.judged_model``,
default the linear probe): picking the better of several pretrained models after seeing their test scores
would let chance choose. It must beat both the reference encoder (a randomly initialised encoder with the
same head: what the architecture gives without pretraining) and the best classic baseline (chosen by its
point score, which only makes the comparison harder), each by a paired bootstrap interval over groups
(:mod:`eeg_eval.bootstrap`) that lies above 0.

It says ``undecided``, with the reasons, instead of concluding when

- fewer than :data:`MIN_TEST_GROUPS` test groups take part. Why 6: with n test groups the strongest
  evidence n groups can give is that every one of them favours the model, and a one-sided sign test puts
  that at ``0.5 ** n``, which is below 2.5 % (the tail of a 95 % interval) only from n = 6 on
  (``0.5 ** 5 = 3.1 %``). Below that a group bootstrap has too few distinct resamples to mean anything
  (2 groups: 3 of them; the [+0.500, +0.500] "interval" of a 2-person test set);
- an interval is degenerate: zero width, no interval at all, or more than :data:`MAX_UNDEFINED` of the
  resamples left the metric undefined (one class drawn);
- the encoder was pretrained on test groups (``seen_groups > 0``) or it is unknown whether it was
  (``seen_groups=None``): it cannot say "helped" unless the user declared transductive pretraining
  (``transductive=True``), and then the line says so. Leakage can only flatter the encoder, so a "did not
  help" stands, with the overlap named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs

__all__ = [
    "CLASSIC",
    "DECISIONS",
    "MAX_UNDEFINED",
    "MIN_TEST_GROUPS",
    "PRETRAINED",
    "RANDOM",
    "Verdict",
    "judge",
]

#: The smallest number of test groups a verdict concludes from (module docstring).
MIN_TEST_GROUPS = 6
#: The largest share of bootstrap resamples in which the metric may be undefined.
MAX_UNDEFINED = 0.05
DECISIONS = ("helped", "did not help", "undecided")
#: finetune's model names: the pretrained encoder's models, the reference encoder, the classic baselines.
PRETRAINED = ("linear_probe", "finetuned")
RANDOM = "random_encoder"
CLASSIC = ("band_power", "waveform")


@attrs.frozen(kw_only=True)
class Verdict:
    """What :func:`judge` decided: ``decision`` (one of :data:`DECISIONS`), the one-line ``line``, the
    models it compared and why it could not decide (``reasons``, empty unless ``undecided``)."""

    decision: str
    line: str
    judged: str | None = None
    reference: str | None = None
    classic: str | None = None
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return attrs.asdict(self) | {"reasons": list(self.reasons)}


def _signed(d: Mapping[str, float]) -> str:
    def f(x: float) -> str:
        return "n/a" if not math.isfinite(x) else f"{x:+.3f}"

    return f"{f(d['estimate'])} [{f(d['low'])}, {f(d['high'])}]"


def _degenerate(name: str, d: Mapping[str, float]) -> str | None:
    low, high = d["low"], d["high"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"no interval for {name}"
    if d.get("undefined", 0.0) > MAX_UNDEFINED:
        return (
            f"the interval for {name} rests on {1 - d['undefined']:.0%} of the resamples (the metric was "
            f"undefined in the rest; at most {MAX_UNDEFINED:.0%} allowed)"
        )
    if high - low <= 0:
        return f"the interval for {name} has zero width ({int(d.get('distinct', 0))} distinct resamples)"
    return None


def judge(
    metrics: Mapping[str, Mapping[str, float]],
    differences: Mapping[str, Mapping[str, Mapping[str, float]]],
    *,
    judged: str = "linear_probe",
    reference: str = RANDOM,
    classics: Sequence[str] = CLASSIC,
    metric: str = "auroc",
    seen_groups: int | None = 0,
    transductive: bool = False,
) -> Verdict:
    """The verdict for the model ``judged`` against ``reference`` and the best of ``classics``.

    Args:
        metrics: ``metrics[model][metric]``, the pooled point scores.
        differences: ``differences["a - b"][metric]`` from :func:`eeg_eval.bootstrap` (``estimate``,
            ``low``, ``high``, ``undefined``, ``distinct``, ``groups``), with the pairs ``judged -
            reference`` and ``judged - classic`` for every classic model present.
        seen_groups: test groups the encoder was pretrained on; None when that is unknown.
        transductive: the user declared that pretraining on the test groups (without labels) is intended.
    """
    present = [m for m in classics if m in metrics]
    if judged not in metrics or reference not in metrics or not present:
        missing = [m for m in (judged, reference) if m not in metrics] or ["a classic baseline"]
        return Verdict(
            decision="undecided",
            line=f"undecided: nothing to compare ({', '.join(missing)} not run)",
            judged=judged,
            reasons=("the models to compare were not run",),
        )

    def score(m: str) -> float:
        value = float(metrics[m][metric])
        return value if math.isfinite(value) else -math.inf

    classic = max(present, key=score)
    versus_reference = differences[f"{judged} - {reference}"][metric]
    versus_classic = differences[f"{judged} - {classic}"][metric]
    reference_text = f"the {reference.replace('_', ' ')} ({metric} {_signed(versus_reference)})"
    classic_text = f"the best classic baseline, {classic} ({metric} {_signed(versus_classic)})"
    groups = int(versus_reference.get("groups", 0))

    reasons: list[str] = []
    if groups < MIN_TEST_GROUPS:
        reasons.append(
            f"only {groups} test group(s) took part; a verdict needs at least {MIN_TEST_GROUPS} (test every group: "
            "split.method auto)"
        )
    for name, d in ((f"{judged} - {reference}", versus_reference), (f"{judged} - {classic}", versus_classic)):
        problem = _degenerate(name, d)
        if problem:
            reasons.append(problem)

    beats_reference = math.isfinite(versus_reference["low"]) and versus_reference["low"] > 0
    beats_classic = math.isfinite(versus_classic["low"]) and versus_classic["low"] > 0
    helped = beats_reference and beats_classic
    overlap = (
        "" if not seen_groups else f"the encoder saw {seen_groups} of {groups} test groups while pretraining"
    )
    if not transductive and seen_groups and (helped or reasons):  # named wherever it could matter
        reasons.append(f"{overlap} (pretrain without them, or declare evaluation.transductive: true)")
    elif helped and not transductive and seen_groups is None:
        reasons.append(
            "the checkpoint does not record what it was pretrained on, so the test groups may have been seen"
        )
    compared = f"{judged} vs {reference_text} and {classic_text}"
    models = {"judged": judged, "reference": reference, "classic": classic}
    if reasons:
        return Verdict(
            decision="undecided",
            line=f"undecided: {'; '.join(reasons)} ({compared})",
            reasons=tuple(reasons),
            **models,
        )
    if helped:
        line = f"pretraining helped: {judged} beats {reference_text} and {classic_text}"
        if seen_groups:
            line += f"; transductive pretraining, as declared: {overlap}"
        return Verdict(decision="helped", line=line, **models)
    if not beats_reference and not beats_classic:
        line = f"pretraining did not help: {judged} beats neither {reference_text} nor {classic_text}"
    elif not beats_reference:
        line = f"pretraining did not help: {judged} did not beat {reference_text}; it beats {classic_text}"
    else:
        line = f"pretraining did not help: {judged} did not beat {classic_text}; it beats {reference_text}"
    if seen_groups:
        line += f" ({overlap})"
    return Verdict(decision="did not help", line=line, **models)
