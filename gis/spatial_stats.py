"""Hot spots: Getis-Ord Gi* with permutation inference and a false-discovery-rate correction, and
emerging hot spots (Gi* per week, a Mann-Kendall trend per cell, ArcGIS's pattern classes).

Plain numpy/PySAL, no database and no Flask. Cells are given as metric (EPSG:4550) centroids or
polygons; counts as arrays in the same order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from libpysal.weights import DistanceBand, W
from scipy import stats

CONFIDENCE = (99, 95, 90)  # classes, strictest first
TREND_ALPHA = 0.05
PERSISTENT_SHARE = 0.9  # ArcGIS: "at least ninety percent of the time-step intervals"

# esda warns that the default alternative of its conditional randomisation will change; G_Local
# does not let us choose it yet. We fold the directed p-value into a two-sided one ourselves.
_ESDA_ALTERNATIVE = "The alternative hypothesis for conditional randomization"


def distance_weights(xy: np.ndarray, distance_m: float) -> W:
    """Binary distance-band weights between metric points; the band grows to reach every point's nearest neighbour."""
    xy = np.asarray(xy, dtype=float)
    if len(xy) < 2:
        raise ValueError("Gi* needs at least two cells")
    nearest = _nearest_distance(xy)
    band = max(float(distance_m), float(nearest.max()) * 1.0001)
    return DistanceBand(xy, threshold=band, binary=True, silence_warnings=True)


def _nearest_distance(xy: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(xy).query(xy, k=2)
    return dist[:, 1]


@dataclass
class GiStar:
    """Gi* per cell: z-score, two-sided pseudo p-value, FDR-adjusted q-value, confidence bin and class."""

    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    bins: np.ndarray  # +3/+2/+1 hot at 99/95/90 %, negative for cold, 0 not significant
    permutations: int

    @property
    def classes(self) -> list[str]:
        """'hot_99', 'hot_95', 'hot_90', 'cold_..' or 'none' per cell."""
        return [bin_class(int(b)) for b in self.bins]


def bin_class(b: int) -> str:
    """The class name of a confidence bin."""
    if b == 0:
        return "none"
    return f"{'hot' if b > 0 else 'cold'}_{CONFIDENCE[3 - abs(b)]}"


def gi_star(counts: npt.ArrayLike, w: W, permutations: int = 999, seed: int = 0, fdr: bool = True) -> GiStar:
    """Getis-Ord Gi* (binary weights, the cell itself included) with conditional permutation inference.

    p is two-sided, from esda's conditional permutations (see `permutation_p`), or the normal
    approximation of the closed form when `permutations` is 0. With `fdr`, the
    Benjamini-Hochberg q-values decide the confidence bins, as ArcGIS's "Apply False Discovery Rate
    correction" does.
    """
    import esda

    y = np.asarray(counts, dtype=float)
    n = len(y)
    if y.sum() <= 0 or np.allclose(y, y[0]):  # no variation: nothing can be a hot or a cold spot
        zeros, ones = np.zeros(n), np.ones(n)
        return GiStar(zeros, ones, ones, np.zeros(n, dtype=int), permutations)
    if not permutations:
        z = analytic_z(y[:, None], w)[:, 0]
        p = 2.0 * stats.norm.sf(np.abs(z))
    else:
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            # a cell whose neighbourhood cannot vary (zero variance) gives inf/nan in esda: no evidence, z 0
            warnings.filterwarnings("ignore", message=_ESDA_ALTERNATIVE, category=DeprecationWarning)
            g = esda.G_Local(y, w, transform="B", star=True, permutations=permutations, seed=seed, n_jobs=1,
                             keep_simulations=True)
        z = np.asarray(g.Zs, dtype=float)
        z = np.where(np.isfinite(z), z, 0.0)
        p = permutation_p(np.asarray(g.Gs, dtype=float), np.asarray(g.rGs, dtype=float))
    q = bh_adjust(p) if fdr else p
    return GiStar(z, p, q, confidence_bins(z, q), permutations)


def permutation_p(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """Two-sided p-value of each observed Gi* against its conditional permutations (cells x permutations).

    The observed value is standardised by the mean and spread of its own permutations (esda's
    `z_sim`) and read on the normal curve. A pseudo p-value (rank among the permutations) cannot go
    below 1/(permutations + 1), which no FDR correction over thousands of cells lets through, and
    esda's folded pseudo p-value counts ties only as "larger", which makes every empty cell among
    empty neighbours a "significant" cold spot; the standardised form has neither problem.
    """
    mean = simulated.mean(axis=1)
    sd = simulated.std(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (observed - mean) / sd, 0.0)
    return 2.0 * stats.norm.sf(np.abs(z))


def analytic_z(counts: np.ndarray, w: W) -> np.ndarray:
    """Gi* z-scores (binary weights, the cell itself included) of each column of a (cells x periods) array.

    The closed form of Getis and Ord (1995), the same numbers as esda's `G_Local(star=True).Zs`,
    for many periods at once; a column without variation gives zeros.
    """
    y = np.asarray(counts, dtype=float)
    n = y.shape[0]
    a = _star_matrix(w)
    sw = np.asarray(a.sum(axis=1)).ravel()
    sw2 = np.asarray(a.multiply(a).sum(axis=1)).ravel()
    mean = y.mean(axis=0)
    sd = np.sqrt(np.maximum((y ** 2).mean(axis=0) - mean ** 2, 0.0))
    num = a @ y - np.outer(sw, mean)
    den = np.sqrt(np.maximum((n * sw2 - sw ** 2) / (n - 1), 0.0))[:, None] * sd[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(den > 0, num / den, 0.0)
    return z


def _star_matrix(w: W):
    """Binary weights with the diagonal set (each cell is its own neighbour), as a sparse matrix."""

    a = w.sparse.tocsr().astype(float)
    a.data[:] = 1.0
    a = a.tolil()
    a.setdiag(1.0)
    return a.tocsr()


def bh_adjust(p: npt.ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values): reject where q <= alpha controls the FDR at alpha."""
    p = np.asarray(p, dtype=float)
    if p.size == 0:
        return p
    return stats.false_discovery_control(np.clip(p, 0.0, 1.0), method="bh")


def confidence_bins(z: np.ndarray, q: np.ndarray) -> np.ndarray:
    """+3/+2/+1 where q <= 0.01/0.05/0.10 and z > 0; the negatives for z < 0; else 0."""
    level = np.zeros(len(z), dtype=int)
    for rank, conf in zip((3, 2, 1), CONFIDENCE, strict=True):
        alpha = 1 - conf / 100
        level = np.where((level == 0) & (q <= alpha + 1e-12), rank, level)
    return (level * np.sign(z)).astype(int)


# --- emerging hot spots --------------------------------------------------------------------------

def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend test per row of a (cells x times) array: S, z and two-sided p (ties corrected)."""
    x = np.atleast_2d(np.asarray(series, dtype=float))
    _, t = x.shape
    i, j = np.triu_indices(t, k=1)
    diffs = x[:, j] - x[:, i]
    s = np.sign(np.where(np.abs(diffs) < 1e-12, 0.0, diffs)).sum(axis=1)
    # Ties: each value of a group of t equal values adds (t - 1)(2t + 5), so each group adds t(t - 1)(2t + 5).
    r = np.round(x, 12)
    same = (r[:, :, None] == r[:, None, :]).sum(axis=2)
    var = t * (t - 1) * (2 * t + 5) - ((same - 1) * (2 * same + 5)).sum(axis=1).astype(float)
    var /= 18.0
    sd = np.sqrt(np.maximum(var, 1e-12))
    z = np.where(s > 0, (s - 1) / sd, np.where(s < 0, (s + 1) / sd, 0.0))
    z = np.where(var > 0, z, 0.0)
    return s, z, 2.0 * stats.norm.sf(np.abs(z))


PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating",
            "historical")


def emerging_pattern(bins: np.ndarray, trend_z: float, trend_p: float, alpha: float = TREND_ALPHA) -> str:
    """ArcGIS's Emerging Hot Spot class of one cell from its per-period confidence bins (oldest first).

    Returns e.g. 'new_hot', 'persistent_cold' or 'none'. Hot patterns are checked first; the cold
    ones mirror them. `trend_z`/`trend_p` are the Mann-Kendall trend of the cell's Gi* z-scores.
    """
    for sign, label in ((1, "hot"), (-1, "cold")):
        pattern = _pattern(np.sign(bins) == sign, np.sign(bins) == -sign, sign * trend_z, trend_p, alpha)
        if pattern:
            return f"{pattern}_{label}"
    return "none"


def _pattern(hot: np.ndarray, opposite: np.ndarray, trend_z: float, trend_p: float, alpha: float) -> str | None:
    n = len(hot)
    share = hot.sum() / n if n else 0.0
    if not hot.any():
        return None
    last = bool(hot[-1])
    if not last:
        return "historical" if share >= PERSISTENT_SHARE else None
    if share >= PERSISTENT_SHARE:
        if trend_p <= alpha and trend_z > 0:
            return "intensifying"
        if trend_p <= alpha and trend_z < 0:
            return "diminishing"
        return "persistent"
    run = _final_run(hot)
    if run == hot.sum():  # never hot before the final run
        return "new" if run == 1 else "consecutive"
    return "oscillating" if opposite.any() else "sporadic"


def _final_run(flags: np.ndarray) -> int:
    run = 0
    for f in flags[::-1]:
        if not f:
            break
        run += 1
    return run


@dataclass
class Emerging:
    """Per cell: the pattern, the Mann-Kendall trend, the bins per period (oldest first) and the last z."""

    patterns: list[str]
    trend_z: np.ndarray
    trend_p: np.ndarray
    bins: np.ndarray  # cells x periods
    z: np.ndarray  # cells x periods


def emerging(counts: np.ndarray, w: W, alpha: float = TREND_ALPHA) -> Emerging:
    """Gi* per period (normal approximation, FDR per period, as ArcGIS does per time step), then the classes.

    `counts` is a (cells x periods) array, oldest period first.
    """
    counts = np.asarray(counts, dtype=float)
    cells, periods = counts.shape
    z = analytic_z(counts, w)
    p = 2.0 * stats.norm.sf(np.abs(z))
    bins = np.zeros((cells, periods), dtype=int)
    for t in range(periods):
        bins[:, t] = confidence_bins(z[:, t], bh_adjust(p[:, t]))
    _, trend_z, trend_p = mann_kendall(z) if periods >= 2 else (None, np.zeros(cells), np.ones(cells))
    patterns = [emerging_pattern(bins[i], trend_z[i], trend_p[i], alpha) for i in range(cells)]
    return Emerging(patterns, trend_z, trend_p, bins, z)
