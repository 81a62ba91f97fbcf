"""Gi* on a hand-checked lattice, the FDR correction, Mann-Kendall and the emerging pattern classes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from libpysal.weights import lat2W

from gis import spatial_stats as gh


def test_gi_star_on_a_3x3_lattice_matches_the_hand_computation():
    # Rook neighbours on a 3x3 lattice, values 1..8 and 20 (cell 8, bottom right).
    y = np.array([1, 2, 3, 4, 5, 6, 7, 8, 20], dtype=float)
    w = lat2W(3, 3, rook=True)
    # Corner cell 0 with itself and neighbours 1 and 3: sum 1 + 2 + 4 = 7, three weights.
    # mean = 56/9, S = sqrt(604/9 - (56/9)^2); z = (7 - 3*mean) / (S * sqrt((9*3 - 3^2) / 8))
    mean = 56 / 9
    s = math.sqrt(604 / 9 - mean**2)
    expected = (7 - 3 * mean) / (s * math.sqrt((9 * 3 - 9) / 8))
    assert expected == pytest.approx(-1.4596009, abs=1e-6)
    result = gh.gi_star(y, w, permutations=0)
    assert result.z[0] == pytest.approx(expected, abs=1e-9)
    # Centre cell 4: itself and 1, 3, 5, 7: 2 + 4 + 5 + 6 + 8 = 25 over five weights.
    centre = (25 - 5 * mean) / (s * math.sqrt((9 * 5 - 25) / 8))
    assert result.z[4] == pytest.approx(centre, abs=1e-9)
    assert gh.analytic_z(y[:, None], w)[:, 0] == pytest.approx(result.z)
    # The permutation path gives esda's z-scores too.
    assert gh.gi_star(y, w, permutations=99, seed=1).z == pytest.approx(result.z)


def _block_lattice(hot_value: float = 9.0):
    """A 12x12 lattice of zeros and ones with a 3x3 block of high counts in one corner."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=(12, 12)).astype(float)
    y[:3, :3] = hot_value
    return y.ravel(), lat2W(12, 12, rook=False)


def test_a_block_of_high_counts_is_a_hot_spot_and_the_rest_is_not():
    y, w = _block_lattice()
    result = gh.gi_star(y, w, permutations=999, seed=3)
    classes = np.array(result.classes).reshape(12, 12)
    assert classes[1, 1] == "hot_99"  # the middle of the block, after the FDR correction
    assert result.z[13] > 3
    assert (result.bins.reshape(12, 12)[6:, 6:] == 0).all()  # far from the block: nothing
    assert result.p[13] < 0.001 and result.q[13] < 0.01


def test_empty_cells_among_empty_cells_are_not_cold_spots():
    # Mostly empty, as grid cells are: ties with the permutations must not make a cold spot.
    y = np.zeros(400)
    y[[5, 77, 150, 260, 333]] = 1
    w = lat2W(20, 20, rook=False)
    result = gh.gi_star(y, w, permutations=199, seed=1)
    assert not (result.bins < 0).any()


def test_permutation_p_values():
    rng = np.random.default_rng(0)
    sims = rng.normal(10.0, 2.0, size=(3, 5000))
    p = gh.permutation_p(np.array([10.0, 16.0, 4.0]), sims)
    assert p[0] > 0.9 and p[1] == pytest.approx(0.0027, abs=0.0006) and p[2] == pytest.approx(p[1], abs=0.0008)
    assert gh.permutation_p(np.array([0.0]), np.zeros((1, 99)))[0] == 1.0  # no spread: nothing to say


def test_no_variation_means_no_spots():
    w = lat2W(4, 4)
    for y in (np.zeros(16), np.full(16, 3.0)):
        result = gh.gi_star(y, w, permutations=99)
        assert (result.bins == 0).all() and (result.p == 1).all()


def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.02, 0.05, 0.5])
    # sorted 0.01 0.02 0.03 0.04 0.05 0.5; p*m/rank = .06 .06 .06 .06 .06 .5, then running minimum from the top
    assert gh.bh_adjust(p) == pytest.approx([0.06, 0.06, 0.06, 0.06, 0.06, 0.5])
    bins = gh.confidence_bins(np.array([2.0, -2.0, 1.0, 3.0]), np.array([0.005, 0.04, 0.2, 0.08]))
    assert bins.tolist() == [3, -2, 0, 1]
    assert [gh.bin_class(b) for b in (3, 2, 1, 0, -1, -3)] == ["hot_99", "hot_95", "hot_90", "none", "cold_90",
                                                                 "cold_99"]


def test_mann_kendall_by_hand():
    s, z, p = gh.mann_kendall(np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
                                        [1, 1, 2, 2, 3, 3, 4, 4, 5, 5], [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]]))
    # n = 10: var = 10*9*25/18 = 125; S = 45; z = (45 - 1)/sqrt(125)
    assert s[0] == 45 and z[0] == pytest.approx(44 / math.sqrt(125))
    assert s[1] == -45 and z[1] == pytest.approx(-44 / math.sqrt(125))
    # five pairs of ties: var = (990*... ) = (10*9*25 - 5*2*1*9)/18 = (2250 - 90)/18 = 120; S = 45 - 5 = 40
    assert s[2] == 40 and z[2] == pytest.approx(39 / math.sqrt(120))
    assert s[3] == 0 and z[3] == 0 and p[3] == pytest.approx(1.0)
    assert p[0] < 0.001


H, C, N = 1, -1, 0


@pytest.mark.parametrize("bins,z,expected", [
    ([N] * 9 + [H], 0.0, "new_hot"),
    ([N] * 7 + [H, H, H], 2.0, "consecutive_hot"),
    ([H] * 10, 3.0, "intensifying_hot"),
    ([H] * 10, 0.0, "persistent_hot"),
    ([H] * 10, -3.0, "diminishing_hot"),
    ([N, H, N, H, N, N, H, N, N, H], 0.0, "sporadic_hot"),
    ([C, N, N, H, N, N, N, N, N, H], 0.0, "oscillating_hot"),
    ([H] * 9 + [N], 0.0, "historical_hot"),
    ([N] * 8 + [C, C], 0.0, "consecutive_cold"),
    ([C] * 10, 3.0, "diminishing_cold"),  # z rising towards zero: the cold spot is weakening
    ([N] * 10, 0.0, "none"),
    ([H, N, N, N, N, N, N, N, N, N], 0.0, "none"),  # hot once, long ago: no pattern
])
def test_emerging_pattern_classes(bins, z, expected):
    p = 0.001 if z else 0.9
    assert gh.emerging_pattern(np.array(bins), z, p) == expected


def test_emerging_on_a_lattice_finds_a_new_hot_spot():
    w = lat2W(10, 10, rook=False)
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 2, size=(100, 8)).astype(float)
    counts[[44, 45, 54, 55], -1] = 12  # a cluster appears in the last week only
    result = gh.emerging(counts, w)
    assert result.patterns[44] == "new_hot"
    assert result.bins[44, -1] > 0 and (result.bins[44, :-1] <= 0).all()
