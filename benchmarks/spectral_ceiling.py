"""How much of a masked window's band power can *any* predictor get from what the encoder sees?

The spectral objective's skill is ``1 - loss / context_mean_loss``: how much better than the mean spectrum
of the sequence's visible windows a prediction is. This script measures, without a neural network, what
the information available to the encoder allows, on held-out people (leave one person out):

- ``context_mean``: the baseline itself (skill 0 by definition);
- ``local_mean``: the mean of the k nearest visible windows (k = 1, 2, 4);
- ``weighted_mean``: the mean of all visible windows weighted by ``exp(-rate * distance)``, the rate (from
  ``RATES``) chosen on the training people: what ``model.local_context`` computes with its learned rate;
- ``ridge_same_channel``: ridge regression on the context mean, the nearest visible window before and after
  (with their distances), the local means, the weighted means at every candidate rate, and the channel,
  fitted on the training people. This is the
  information a channel-independent encoder (ours: one channel's sequence of windows per sample) has;
- ``ridge_cross_channel``: the same plus the other channels' spectra of the *same* window. Our encoder
  never sees these; the row shows what an encoder that mixes channels could reach.
- ``gbm_same_channel`` / ``gbm_cross_channel`` (``--gbm``, slow): the same features through gradient-boosted
  trees (``HistGradientBoostingRegressor``, one per band), to see whether a non-linear map finds more.

Windows, masks, flat-window handling and band standardisation follow pretraining: each (file, channel)
sequence z-scored, log band power in the bands derived for the window (``eeg_ssm.band_edges``),
standardised per band with the training people's statistics, MAE masks of ratio 0.4 drawn per sequence,
flat (constant) windows neither scored nor in any context.

    uv run --all-packages --group blink python benchmarks/spectral_ceiling.py [--dataset blink|synthetic] [--gbm]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eeg_ssm.spectral import band_edges, log_band_power

LOCAL_K = (1, 2, 4)


def blink_sequences() -> tuple[list[dict], float]:
    """One entry per recording: ``windows`` [L, C, W] float64, ``person``, ``channels``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from blink import CHANNELS, SAMPLING_RATE, load_recordings

    recordings = load_recordings()
    return [
        {"windows": r.trials, "person": r.person, "channels": CHANNELS, "name": r.run} for r in recordings
    ], SAMPLING_RATE


def synthetic_sequences(participants: int = 24, windows: int = 96) -> tuple[list[dict], float]:
    """The synthetic corpus of ``ssl_learnability.py`` (4-s windows at 128 Hz), read back from Parquet."""
    import pyarrow.parquet as pq

    from eeg_io import write_synthetic_corpus

    channels = ["Fz", "C3", "C4", "Pz", "O1", "O2"]
    root = Path(tempfile.mkdtemp(prefix="ceiling-"))
    write_synthetic_corpus(
        root, participants=participants, runs=1, windows_per_run=windows,
        window_length=512, sfreq=128.0, channels=channels, seed=0,
    )  # fmt: skip
    sequences = []
    for path in sorted(root.rglob("*.parquet")):
        table = pq.read_table(path)
        stacked = np.stack([np.stack(table.column(c).to_pylist()) for c in channels], axis=1)
        person = table.column("participant")[0].as_py()
        sequences.append(
            {"windows": stacked, "person": str(person), "channels": tuple(channels), "name": path.stem}
        )
    return sequences, 128.0


def spectra(sequences: list[dict], sampling_rate: float, tapers: int = 1) -> list[dict]:
    """Add ``power`` [L, C, n_bands] (log band power of the z-scored sequence, ``tapers`` as
    ``model.tapers``) and ``flat`` [L, C]."""
    for seq in sequences:
        x = seq["windows"].astype(np.float64)
        mean = x.mean(axis=(0, 2), keepdims=True)
        std = x.std(axis=(0, 2), keepdims=True)
        z = (x - mean) / np.where(std > 0, std, 1.0)
        edges = band_edges(x.shape[-1], sampling_rate)
        seq["power"] = log_band_power(torch.from_numpy(z), sampling_rate, edges, tapers=tapers).numpy()
        seq["flat"] = np.ptp(x, axis=-1) == 0
    return sequences


#: Candidate rates of the distance-weighted mean (weights exp(-rate * distance in windows)); the rate is
#: chosen on the training people, as model.local_context learns it there.
RATES = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.8)


def features(seq: dict, masks: np.ndarray, standard: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """Rows = masked, non-flat (window, channel) pairs of one sequence and one mask draw per channel."""
    mean, std = standard
    power = (seq["power"] - mean) / std  # [L, C, B]
    n_channels = power.shape[1]
    usable = ~seq["flat"]
    rows: dict[str, list] = {k: [] for k in ("target", "ctx", "same", "cross", "weighted")}
    for c in range(n_channels):
        visible = ~masks[c] & usable[:, c]
        if not visible.any():
            continue
        ctx = power[visible, c].mean(axis=0)
        positions = np.nonzero(visible)[0]
        for t in np.nonzero(masks[c] & usable[:, c])[0]:
            before, after = positions[positions < t][::-1], positions[positions > t]
            near = []
            for side in (before, after):
                if len(side):
                    near += [power[side[0], c], [min(abs(side[0] - t), 8) / 8.0]]
                else:
                    near += [ctx, [1.0]]
            distance = np.abs(positions - t)
            order = positions[np.argsort(distance, kind="stable")]
            local = [power[order[:k], c].mean(axis=0) for k in LOCAL_K]
            onehot = np.eye(n_channels)[c]
            others = [power[t, o] if usable[t, o] else ctx * 0.0 for o in range(n_channels) if o != c] + [
                np.array([float(usable[t, o]) for o in range(n_channels) if o != c])
            ]
            # the distance-weighted mean at each candidate rate (model.local_context's context)
            weighted = [np.average(power[positions, c], axis=0, weights=np.exp(-r * distance)) for r in RATES]
            rows["weighted"].append(np.stack(weighted))
            rows["target"].append(power[t, c])
            rows["ctx"].append(ctx)
            rows["same"].append(np.concatenate([ctx, *near, *local, onehot, *weighted]))
            rows["cross"].append(np.concatenate([ctx, *near, *local, onehot, *weighted, *others]))
    return {k: np.asarray(v) for k, v in rows.items()}


def dataset(sequences: list[dict], standard, draws: int, ratio: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: list[dict[str, np.ndarray]] = []
    for seq in sequences:
        n_windows, n_channels = seq["flat"].shape
        for _ in range(draws):
            masks = np.zeros((n_channels, n_windows), dtype=bool)
            for c in range(n_channels):
                masks[c, rng.permutation(n_windows)[: max(1, round(ratio * n_windows))]] = True
            part = features(seq, masks, standard)
            if len(part["target"]):
                parts.append(part)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def skill(pred: np.ndarray, data: dict[str, np.ndarray]) -> float:
    return 1.0 - float(((pred - data["target"]) ** 2).sum()) / float(
        ((data["ctx"] - data["target"]) ** 2).sum()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("blink", "synthetic"), default="blink")
    parser.add_argument(
        "--ratio", type=float, default=0.4, help="MAE mask ratio (default 0.4, as pretraining)"
    )
    parser.add_argument("--draws", type=int, default=4, help="mask draws per sequence (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tapers", type=int, default=1, help="model.tapers: 1 = Hann periodogram, K > 1 = K DPSS tapers"
    )
    parser.add_argument(
        "--gbm", action="store_true", help="also gradient-boosted trees (slow: minutes per fold)"
    )
    args = parser.parse_args()

    sequences, rate = blink_sequences() if args.dataset == "blink" else synthetic_sequences()
    sequences = spectra(sequences, rate, args.tapers)
    people = sorted({s["person"] for s in sequences})
    names = ["local_mean_k1", "local_mean_k2", "local_mean_k4", "weighted_mean", "ridge_same_channel",
             "ridge_cross_channel"]  # fmt: skip
    if args.gbm:
        names += ["gbm_same_channel", "gbm_cross_channel"]
    # Blink: leave one person out; synthetic (24 people): six folds of four
    folds = [[p] for p in people] if args.dataset == "blink" else [people[i::6] for i in range(6)]
    ctx_r2: list[float] = []
    results: dict[str, list[float]] = {n: [] for n in names}
    for held in folds:
        train = [s for s in sequences if s["person"] not in held]
        test = [s for s in sequences if s["person"] in held]
        stacked = np.concatenate([s["power"][~s["flat"]] for s in train])
        standard = (stacked.mean(axis=0), stacked.std(axis=0))
        tr = dataset(train, standard, args.draws, args.ratio, args.seed)
        te = dataset(test, standard, args.draws, args.ratio, args.seed + 1)
        ctx_r2.append(1.0 - float(((te["ctx"] - te["target"]) ** 2).sum()) / float((te["target"] ** 2).sum()))
        bands = te["target"].shape[1]
        chosen_rates: list[float] = []
        for n in names:
            if n == "weighted_mean":  # the rate that does best on the training people, scored on the held out
                best = max(range(len(RATES)), key=lambda i: skill(tr["weighted"][:, i], tr))
                chosen_rates.append(RATES[best])
                results[n].append(skill(te["weighted"][:, best], te))
                continue
            if n.startswith("local_mean"):
                k = LOCAL_K.index(int(n[-1]))
                start = 3 * bands + 2 + bands * k  # ctx, before, distance, after, distance, local means
                results[n].append(skill(te["same"][:, start : start + bands], te))
                continue
            key = "same" if n.endswith("same_channel") else "cross"
            # residual on the context mean: the models predict the deviation from it
            y = tr["target"] - tr["ctx"]
            if n.startswith("ridge"):
                model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
                model.fit(tr[key], y)
                pred = te["ctx"] + model.predict(te[key])
            else:
                pred = te["ctx"].copy()
                for b in range(bands):
                    gbm = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=0)
                    gbm.fit(tr[key], y[:, b])
                    pred[:, b] += gbm.predict(te[key])
            results[n].append(skill(pred, te))
        label = ",".join(held)
        print(
            f"held out {label}: ctx r2 {ctx_r2[-1]:.3f}  "
            + "  ".join(f"{n} {results[n][-1]:+.3f}" for n in names)
            + f"  (weighted_mean's rate, chosen on the training people: {chosen_rates[0]})",
            flush=True,
        )
    print()
    print(f"{args.dataset}: skill against the context mean on held-out people (mask ratio {args.ratio}, "
          f"{args.draws} draws), min … max over {len(folds)} folds, and the mean")  # fmt: skip
    print("| predictor | skill min … max | mean |\n| --- | --- | ---: |")
    print(f"| context_mean (its r2) | {min(ctx_r2):.3f} … {max(ctx_r2):.3f} | {np.mean(ctx_r2):.3f} |")
    for n in names:
        print(f"| {n} | {min(results[n]):+.3f} … {max(results[n]):+.3f} | {np.mean(results[n]):+.3f} |")


if __name__ == "__main__":
    main()
