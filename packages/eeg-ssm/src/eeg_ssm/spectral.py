"""Log band power of EEG windows: what context can predict of a window, and what a linear map of raw
samples cannot represent.

Each window loses its mean (amplifiers such as the Muse headband sit on an offset near 840 µV, and a Hann
taper leaks that offset into the lowest bins), is tapered with a periodic Hann window and transformed with
an rFFT. The one-sided power spectral density (scipy's ``periodogram(..., window="hann",
scaling="density")``) is averaged over the rFFT bins of each of ``n_bands`` log-spaced bands between
``fmin`` and ``fmax``, and ``log(power + floor)`` is taken, so an all-zero (masked or flat) window has the
defined, finite spectrum ``log(floor)``.

With ``tapers = K > 1`` the PSD is a multitaper estimate instead (Thomson's method): the mean of the
periodograms under the first ``K`` DPSS tapers of time-bandwidth ``NW = (K + 1) / 2`` (scipy's
``windows.dpss``). One tapered periodogram has two degrees of freedom per bin, so a short window's band
power is noisy, most of all in the low bands that hold one or two bins; ``K`` tapers give ``2K`` at the
price of smoothing the spectrum over ``±NW / T`` Hz (``T`` the window's duration).

:func:`band_edges` derives what the caller leaves unset from the window's frequency resolution
``sampling_rate / window_length``, so every band holds at least one rFFT bin for any window length >= 16
and any sampling rate; only explicit settings that cannot work raise :class:`SpectralConfigError`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

#: Defaults when the caller sets nothing: ~30 bands from 1 Hz to 45 Hz (below 50/60 Hz mains).
DEFAULT_N_BANDS = 30
DEFAULT_FMIN_HZ = 1.0
DEFAULT_FMAX_HZ = 45.0
#: Added to the power (data units² / Hz) before the log: the spectrum of an all-zero window.
POWER_FLOOR = 1e-6
#: The shortest window the transform accepts (a handful of rFFT bins).
MIN_WINDOW_LENGTH = 16


class SpectralConfigError(ValueError):
    """Band settings that cannot work for the window length and sampling rate; the message starts with the
    key (``fmin: ...``), which ``key`` holds."""

    @property
    def key(self) -> str:
        return str(self).partition(":")[0]


def _bins_per_band(freqs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Number of rFFT bins in each band ``[edges[i], edges[i+1])`` (the last band includes ``edges[-1]``)."""
    index = np.searchsorted(edges, freqs, side="right") - 1  # band of each bin, -1 below fmin
    index[freqs == edges[-1]] = len(edges) - 2  # fmax itself belongs to the last band
    inside = (index >= 0) & (index < len(edges) - 1)
    return np.bincount(index[inside], minlength=len(edges) - 1)


def _log_edges(fmin: float, fmax: float, n_bands: int) -> np.ndarray:
    return np.geomspace(fmin, fmax, n_bands + 1)


def band_edges(
    window_length: int,
    sampling_rate: float,
    n_bands: int | None = None,
    fmin: float | None = None,
    fmax: float | None = None,
) -> np.ndarray:
    """Edges (Hz, float64 ``(n_bands + 1,)``) of log-spaced bands that each hold at least one rFFT bin.

    Unset values are derived: ``fmax = min(45 Hz, Nyquist)`` (Nyquist when the first bin lies above 45 Hz); ``fmin = max(1 Hz, one bin)`` (the lowest
    non-zero frequency ``sampling_rate / window_length``); ``n_bands`` the largest count up to 30 for which
    every band holds a bin. Explicit values are checked: ``fmax`` above Nyquist, ``fmin >= fmax``, ``fmin <=
    0``, ``n_bands < 1``, or more bands than the frequency resolution allows raise
    :class:`SpectralConfigError` naming the key and the allowed range.
    """
    if (
        isinstance(window_length, bool)
        or not isinstance(window_length, int)
        or window_length < MIN_WINDOW_LENGTH
    ):
        raise SpectralConfigError(
            f"window_length: the band-power transform needs windows of at least {MIN_WINDOW_LENGTH} samples, "
            f"got {window_length!r}"
        )
    if not (isinstance(sampling_rate, int | float) and math.isfinite(sampling_rate) and sampling_rate > 0):
        raise SpectralConfigError(f"sampling_rate: expected a positive number of Hz, got {sampling_rate!r}")
    nyquist = sampling_rate / 2
    freqs = np.fft.rfftfreq(window_length, 1.0 / sampling_rate)
    # Hz between rFFT bins, as numpy computes the bins: sampling_rate / window_length can round one ulp
    # above freqs[1], and a derived fmin there would leave the first bin out of every band
    resolution = float(freqs[1])
    if fmax is None:
        fmax = min(DEFAULT_FMAX_HZ, nyquist)
        if fmin is None and resolution >= fmax:  # bins wider than the default range: use them all
            fmax = max(nyquist, float(freqs[-1]))  # the Nyquist bin itself, as numpy rounds it
    elif not 0 < fmax <= nyquist:
        raise SpectralConfigError(
            f"fmax: expected a frequency in (0, {nyquist:g}] Hz (Nyquist at {sampling_rate:g} Hz), got {fmax:g}"
        )
    if fmin is None:
        fmin = max(DEFAULT_FMIN_HZ, resolution)
        if fmin >= fmax or not ((freqs >= fmin) & (freqs <= fmax)).any():  # low rates: start at the first bin
            fmin = resolution
    elif not 0 < fmin < fmax:
        raise SpectralConfigError(f"fmin: expected a frequency in (0, fmax = {fmax:g}) Hz, got {fmin:g}")
    if fmin >= fmax:
        raise SpectralConfigError(
            f"fmin: {window_length}-sample windows at {sampling_rate:g} Hz resolve {resolution:g} Hz, "
            f"so fmin = {fmin:g} Hz must lie below fmax = {fmax:g} Hz"
        )

    def fits(count: int) -> bool:
        return bool((_bins_per_band(freqs, _log_edges(fmin, fmax, count)) > 0).all())

    if n_bands is None:
        n_bands = next((n for n in range(DEFAULT_N_BANDS, 0, -1) if fits(n)), 0)
        if n_bands == 0:
            raise SpectralConfigError(
                f"fmin: no rFFT bin lies between fmin = {fmin:g} and fmax = {fmax:g} Hz for "
                f"{window_length}-sample windows at {sampling_rate:g} Hz ({resolution:g} Hz apart)"
            )
    else:
        if isinstance(n_bands, bool) or not isinstance(n_bands, int) or n_bands < 1:
            raise SpectralConfigError(f"n_bands: expected an integer >= 1, got {n_bands!r}")
        if not fits(n_bands):
            most = next((n for n in range(n_bands - 1, 0, -1) if fits(n)), 0)
            raise SpectralConfigError(
                f"n_bands: {n_bands} log-spaced bands between {fmin:g} and {fmax:g} Hz leave some band without "
                f"an rFFT bin ({window_length}-sample windows at {sampling_rate:g} Hz resolve {resolution:g} Hz); "
                f"expected 1..{most}" + ("" if most else " (no bin in range: widen fmin..fmax)")
            )
    return _log_edges(fmin, fmax, n_bands)


def taper_matrix(window_length: int, tapers: int = 1, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The tapers of the band-power estimate: the periodic Hann window ``(W,)`` for ``tapers = 1``, else
    the first ``tapers`` DPSS tapers of time-bandwidth ``(tapers + 1) / 2``, ``(tapers, W)`` with unit
    energy. Raises :class:`SpectralConfigError` (key ``tapers``) outside ``1..max_tapers(W)``."""
    check_tapers(window_length, tapers)
    if tapers == 1:
        return torch.hann_window(window_length, periodic=True, dtype=dtype)
    return torch.as_tensor(np.ascontiguousarray(dpss(window_length, (tapers + 1) / 2, tapers)), dtype=dtype)


def dpss(window_length: int, time_bandwidth: float, count: int) -> np.ndarray:
    """The first ``count`` DPSS (Slepian) tapers of ``window_length`` samples and time-bandwidth product
    ``NW``, float64 ``(count, W)`` with unit energy, most concentrated first.

    scipy's ``scipy.signal.windows.dpss(W, NW, count)`` step for step (the same tridiagonal eigenproblem,
    solved by ``scipy.linalg.eigh_tridiagonal``, and the same sign conventions), so the tapers are the very
    same numbers; but ``scipy.linalg`` alone imports in a third of the time of ``scipy.signal`` (0.3 against
    0.8 CPU seconds), which every start of a multitaper model paid.
    """
    from scipy.linalg import eigh_tridiagonal

    size = window_length
    half_bandwidth = float(time_bandwidth) / size
    index = np.arange(size, dtype=np.float64)
    # Percival and Walden (1993): the tapers are the eigenvectors of the largest eigenvalues of the
    # tridiagonal matrix with diagonal ((W - 1 - 2t) / 2)^2 cos(2 pi NW / W) and off-diagonal t (W - t) / 2
    diagonal = ((size - 1 - 2 * index) / 2.0) ** 2 * np.cos(np.asarray(2 * np.pi * half_bandwidth))
    off_diagonal = index[1:] * (size - index[1:]) / 2.0
    _, vectors = eigh_tridiagonal(diagonal, off_diagonal, select="i", select_range=(size - count, size - 1))
    tapers = vectors[:, ::-1].T  # (count, W)
    # signs (Percival and Walden, p. 379): symmetric tapers average positive, antisymmetric ones start
    # with a positive lobe (the first sample above numerical noise)
    negative_mean = tapers[::2, ...].sum(axis=1) < 0
    for k, flip in enumerate(negative_mean):
        if flip:
            tapers[2 * k] *= -1
    threshold = max(1e-7, 1.0 / size)
    for k, taper in enumerate(tapers[1::2, ...]):
        if taper[taper * taper > threshold][0] < 0:
            tapers[2 * k + 1] *= -1
    return tapers


def check_tapers(window_length: int, tapers: int) -> None:
    """Raise :class:`SpectralConfigError` (key ``tapers``) unless ``tapers`` is an integer in
    ``1..max_tapers(window_length)``."""
    most = max_tapers(window_length)
    if isinstance(tapers, bool) or not isinstance(tapers, int) or not 1 <= tapers <= most:
        raise SpectralConfigError(
            f"tapers: expected an integer in 1..{most} for {window_length}-sample windows, got {tapers!r}"
        )


def max_tapers(window_length: int) -> int:
    """The most DPSS tapers :func:`taper_matrix` gives a window: ``2 NW - 1`` with ``NW`` at most ``W / 8``
    (and at most 15 tapers)."""
    return max(1, min(15, window_length // 4 - 1))


def band_matrix(window_length: int, sampling_rate: float, edges: np.ndarray) -> np.ndarray:
    """``(window_length // 2 + 1, n_bands)`` float64 matrix that averages one-sided PSD bins into bands."""
    freqs = np.fft.rfftfreq(window_length, 1.0 / sampling_rate)
    n_bands = len(edges) - 1
    index = np.searchsorted(edges, freqs, side="right") - 1
    index[freqs == edges[-1]] = n_bands - 1
    matrix = np.zeros((len(freqs), n_bands))
    inside = (index >= 0) & (index < n_bands)
    matrix[np.nonzero(inside)[0], index[inside]] = 1.0
    counts = matrix.sum(axis=0)
    if (counts == 0).any():
        raise SpectralConfigError(f"n_bands: bands {np.nonzero(counts == 0)[0].tolist()} hold no rFFT bin")
    return matrix / counts


def log_band_power(
    windows: torch.Tensor,
    sampling_rate: float,
    edges: np.ndarray | torch.Tensor,
    floor: float = POWER_FLOOR,
    tapers: int = 1,
) -> torch.Tensor:
    """``log(mean PSD in each band + floor)`` of every window: ``(..., W) -> (..., n_bands)`` (float32, or
    float64 for float64 input).

    The PSD is :func:`band_psd`'s: the one-sided density of the mean-removed window (data units² / Hz),
    Hann-tapered, or the mean over ``tapers`` DPSS tapers (:func:`taper_matrix`).
    """
    taper, matrix = _transform(windows, sampling_rate, edges, tapers)
    return _log_band_power(windows, taper, matrix, sampling_rate, floor)


def band_psd(
    windows: torch.Tensor, sampling_rate: float, edges: np.ndarray | torch.Tensor, tapers: int = 1
) -> torch.Tensor:
    """The mean one-sided PSD (data units² / Hz) in each band, before the log: ``(..., W) -> (..., n_bands)``
    (float32, or float64 for float64 input); an all-zero or constant window gives exactly 0. Equals scipy's
    ``periodogram(x, fs, window="hann", detrend="constant", scaling="density")`` averaged over each band's
    bins for ``tapers = 1``."""
    taper, matrix = _transform(windows, sampling_rate, edges, tapers)
    return _band_psd(windows, taper, matrix, sampling_rate)


def _transform(
    windows: torch.Tensor, sampling_rate: float, edges: np.ndarray | torch.Tensor, tapers: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The taper(s) and band-averaging matrix for ``windows``' length, float64 on their device."""
    edges_np = edges.detach().cpu().numpy() if isinstance(edges, torch.Tensor) else np.asarray(edges)
    width = windows.shape[-1]
    matrix = torch.as_tensor(band_matrix(width, sampling_rate, edges_np), dtype=torch.float64)
    return taper_matrix(width, tapers).to(windows.device), matrix.to(windows.device)


def _log_band_power(
    windows: torch.Tensor, taper: torch.Tensor, matrix: torch.Tensor, sampling_rate: float, floor: float
) -> torch.Tensor:
    with torch.autocast(windows.device.type, enabled=False):
        return torch.log(_band_psd(windows, taper, matrix, sampling_rate) + floor)  # (..., n_bands)


def _band_psd(
    windows: torch.Tensor, taper: torch.Tensor, matrix: torch.Tensor, sampling_rate: float
) -> torch.Tensor:
    # FFTs in float32 (float64 for float64 input) whatever autocast says: cuFFT's half precision needs
    # power-of-two lengths.
    dtype = torch.float64 if windows.dtype == torch.float64 else torch.float32
    with torch.autocast(windows.device.type, enabled=False):
        x = windows.to(dtype)
        taper, matrix = taper.to(dtype), matrix.to(dtype)
        x = x - x.mean(dim=-1, keepdim=True)
        if taper.dim() == 1:  # one taper (Hann): (..., W)
            spectrum = torch.fft.rfft(x * taper, dim=-1)  # (..., F)
            power = spectrum.real.square() + spectrum.imag.square()
            energy = taper.square().sum()
        else:  # K tapers (K, W): the mean of their periodograms
            spectrum = torch.fft.rfft(x.unsqueeze(-2) * taper, dim=-1)  # (..., K, F)
            power = (spectrum.real.square() + spectrum.imag.square()).mean(dim=-2)
            energy = taper.square().sum(dim=-1).mean()  # 1 for DPSS
        # One-sided density: every bin but DC and (even W) Nyquist counts twice.
        width = windows.shape[-1]
        scale = torch.full((power.shape[-1],), 2.0, device=power.device, dtype=dtype)
        scale[0] = 1.0
        if width % 2 == 0:
            scale[-1] = 1.0
        power = power * (scale / (sampling_rate * energy))
        return power @ matrix  # (..., n_bands)


class BandPower(nn.Module):
    """Standardised log band power of windows: ``(..., W) -> (..., n_bands)``, on the windows' device.

    ``forward`` returns ``(log_band_power - mean) / std`` per band. ``mean`` and ``std`` are persistent
    buffers (zeros and ones until :meth:`set_statistics` is given training-split statistics), so a
    checkpoint carries the standardisation it was trained with. Edges, taper and the band-averaging matrix
    are derived from the constructor's arguments (not saved).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        window_length: int,
        sampling_rate: float,
        n_bands: int | None = None,
        fmin: float | None = None,
        fmax: float | None = None,
        floor: float = POWER_FLOOR,
        tapers: int = 1,
    ) -> None:
        super().__init__()
        edges = band_edges(window_length, sampling_rate, n_bands, fmin, fmax)
        taper = taper_matrix(window_length, tapers, dtype=torch.float32)
        self.tapers = tapers
        self.window_length = window_length
        self.sampling_rate = float(sampling_rate)
        self.floor = floor
        self.edges = edges  # float64 (n_bands + 1,) Hz
        self.n_bands = len(edges) - 1
        matrix = band_matrix(window_length, sampling_rate, edges)
        self.register_buffer("matrix", torch.as_tensor(matrix, dtype=torch.float32), persistent=False)
        self.register_buffer("taper", taper, persistent=False)
        self.register_buffer("mean", torch.zeros(self.n_bands), persistent=True)
        self.register_buffer("std", torch.ones(self.n_bands), persistent=True)

    def log_power(self, windows: torch.Tensor) -> torch.Tensor:
        """Unstandardised ``log(band power + floor)``: ``(..., W) -> (..., n_bands)`` (float32; float64 input
        stays float64)."""
        if windows.shape[-1] != self.window_length:
            raise ValueError(f"windows: expected {self.window_length} samples, got {windows.shape[-1]}")
        return _log_band_power(windows, self.taper, self.matrix, self.sampling_rate, self.floor)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return (self.log_power(windows) - self.mean) / self.std

    @torch.no_grad()
    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-band mean and standard deviation of the training split's log band power."""
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean.shape != (self.n_bands,) or std.shape != (self.n_bands,):
            raise ValueError(
                f"expected {self.n_bands} band statistics, got {tuple(mean.shape)} and {tuple(std.shape)}"
            )
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
            raise ValueError("band statistics must be finite with std > 0")
        self.mean.copy_(mean)
        self.std.copy_(std)

    def extra_repr(self) -> str:
        return (
            f"window_length={self.window_length}, sampling_rate={self.sampling_rate:g}, n_bands={self.n_bands}, "
            f"fmin={self.edges[0]:.3g}, fmax={self.edges[-1]:.3g}, tapers={self.tapers}"
        )


class BandStatistics:
    """Running per-band sums (float64) for the training split's mean and std; ``totals()`` all-reduces."""

    def __init__(self, n_bands: int) -> None:
        self.sums = torch.zeros(3, n_bands, dtype=torch.float64)  # count, sum, sum of squares

    def update(self, log_power: torch.Tensor, valid: torch.Tensor) -> None:
        """``log_power (B, L, n_bands)`` of windows, ``valid (B, L)`` bool: only real windows count."""
        values = log_power[valid].double().cpu()  # (N, n_bands)
        self.sums[0] += values.shape[0]
        self.sums[1] += values.sum(dim=0)
        self.sums[2] += values.square().sum(dim=0)

    def totals(self) -> torch.Tensor:
        return self.sums.clone()

    @staticmethod
    def mean_std(totals: torch.Tensor, min_std: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
        count = totals[0].clamp(min=1.0)
        mean = totals[1] / count
        var = (totals[2] / count - mean.square()).clamp(min=0.0)
        return mean.float(), var.sqrt().clamp(min=min_std).float()
