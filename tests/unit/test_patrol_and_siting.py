"""Patrol plans against a brute-force optimum and the shift limit; siting on toy instances with known
optima; territories assignment with balancing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gis import allocation as gs
from routing import patrol


def brute_force(times: np.ndarray, values: list[float], service: int, shift: int) -> float:
    """Best collectable value by trying every ordered subset (small n only)."""
    n, best = len(values), 0.0
    for k in range(1, n + 1):
        for order in itertools.permutations(range(n), k):
            nodes = [0, *[i + 1 for i in order], 0]
            total = sum(np.ceil(times[a, b]) for a, b in zip(nodes[:-1], nodes[1:], strict=True)) + service * k
            if total <= shift:
                best = max(best, sum(values[i] for i in order))
    return best


def random_instance(n: int, seed: int):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 3000, size=(n + 1, 2))
    times = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 4.0  # 4 m/s
    values = [float(v) for v in rng.integers(1, 10, size=n)]
    return times, values


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_patrol_plan_reaches_the_brute_force_optimum_on_small_instances(seed):
    times, values = random_instance(6, seed)
    shift, service = 1800, 120
    best = brute_force(times, values, service, shift)
    plan = patrol.plan(times, values, service, shift, time_limit_s=1.0)
    assert plan.value == pytest.approx(best)
    assert plan.total_s <= shift


@pytest.mark.parametrize("seed,shift", [(10, 600), (11, 1800), (12, 3600), (13, 7200)])
def test_a_plan_is_never_longer_than_the_shift(seed, shift):
    times, values = random_instance(30, seed)
    plan = patrol.plan(times, values, 300, shift, time_limit_s=0.5)
    assert plan.total_s <= shift
    check = patrol.summarise(plan.order, np.ceil(times), values, [0] + [300] * 30)
    assert check.total_s == plan.total_s and check.value == plan.value
    assert len(set(plan.order)) == len(plan.order)


def test_a_shift_too_short_for_any_stop_visits_none():
    times, values = random_instance(5, 4)
    plan = patrol.plan(times, values, 600, 300, time_limit_s=0.3)
    assert plan.order == [] and plan.total_s == 0


def line_instance():
    """Ten demand points on a line 100 m apart; candidates at the same points."""
    pos = np.arange(10.0)
    cost = np.abs(pos[:, None] - pos[None, :]) * 100
    weights = np.array([5, 1, 1, 1, 1, 1, 1, 1, 1, 9], dtype=float)
    return cost, weights


def best_by_enumeration(cost, weights, k, score, fixed=()):
    cols = [c for c in range(cost.shape[1]) if c not in fixed]
    return max(itertools.combinations(cols, k), key=lambda combo: (score(list(fixed) + list(combo)), combo))


def test_mclp_finds_the_known_optimum():
    cost, weights = line_instance()

    def covered(cols):
        return weights[(cost[:, cols] <= 150).any(axis=1)].sum()

    result = gs.solve(cost, weights, 1, "mclp", 150)
    assert covered(result.chosen) == 11  # site 8 covers 7, 8, 9: 1 + 1 + 9
    assert covered(result.chosen) == covered(list(best_by_enumeration(cost, weights, 1, covered)))
    with_fixed = gs.solve(cost, weights, 1, "mclp", 150, predefined=np.eye(10, dtype=bool)[0])
    assert 0 in with_fixed.chosen and len(with_fixed.chosen) == 2
    assert covered(with_fixed.chosen) == 5 + 1 + 1 + 1 + 9  # 0 covers 0, 1; 8 covers 7, 8, 9
    before = gs.coverage(cost, weights, [0], 150)
    after = gs.coverage(cost, weights, with_fixed.chosen, 150)
    assert before["covered_demand"] == 6 and after["covered_demand"] == 17
    assert after["covered_share"] == pytest.approx(17 / 22, abs=1e-4)


def test_p_median_finds_the_known_optimum():
    cost, weights = line_instance()

    def total(cols):
        return -(weights * cost[:, cols].min(axis=1)).sum()

    result = gs.solve(cost, weights, 2, "pmedian", 150)
    assert total(result.chosen) == total(list(best_by_enumeration(cost, weights, 2, total)))


def test_more_sites_than_candidates_is_refused():
    cost, weights = line_instance()
    with pytest.raises(ValueError):
        gs.solve(cost[:, :3], weights, 4, "mclp", 150)


def test_assignment_to_the_nearest_and_balanced():
    rng = np.random.default_rng(0)
    cells = rng.uniform(0, 1000, size=(300, 2))
    stations = np.array([[100, 100], [900, 900], [500, 500]])
    cost = np.hypot(*(cells[:, None, :] - stations[None, :, :]).transpose(2, 0, 1))
    workload = np.where(cells[:, 0] < 300, 5.0, 1.0)  # the west is busy
    plain = gs.assign(cost, workload)
    assert (plain == cost.argmin(axis=1)).all()
    balanced = gs.assign(cost, workload, balance=True, tolerance=0.15)
    loads = np.array(gs.workloads(balanced, workload, 3))
    plain_loads = np.array(gs.workloads(plain, workload, 3))
    spread = np.abs(loads / loads.mean() - 1).max()
    assert spread <= 0.15 < np.abs(plain_loads / plain_loads.mean() - 1).max()
