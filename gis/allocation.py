"""Siting new stations and drawing territories: maximal covering (MCLP) and p-median with spopt,
coverage figures, and assignment of demand cells to stations (optionally balanced by workload).

Plain numpy/spopt; costs are given as (demand x facility) matrices of network metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("mclp", "pmedian")


@dataclass
class Siting:
    """Which candidate columns were chosen (the predefined ones included) and the solver's status."""

    chosen: list[int]
    status: str


def solve(cost: np.ndarray, weights: np.ndarray, k: int, method: str, service_m: float,
          predefined: np.ndarray | None = None, time_limit_s: float = 20.0) -> Siting:
    """Choose `k` new facilities among the columns of `cost` (predefined columns are kept open)."""
    import pulp
    from spopt.locate import MCLP, PMedian

    cost = np.asarray(cost, dtype=float)
    weights = np.asarray(weights, dtype=float)
    predefined = np.zeros(cost.shape[1], dtype=bool) if predefined is None else np.asarray(predefined, dtype=bool)
    p = int(predefined.sum()) + int(k)
    if p > cost.shape[1]:
        raise ValueError(f"only {cost.shape[1] - int(predefined.sum())} candidate sites for {k} new stations")
    finite = np.where(np.isfinite(cost), cost, cost[np.isfinite(cost)].max(initial=0.0) * 10 + 1e6)
    pre = predefined.astype(int) if predefined.any() else None
    if method == "mclp":
        model = MCLP.from_cost_matrix(finite, weights, service_radius=float(service_m), p_facilities=p,
                                      predefined_facilities_arr=pre)
    elif method == "pmedian":
        model = PMedian.from_cost_matrix(finite, weights, p_facilities=p, predefined_facilities_arr=pre)
    else:
        raise ValueError(f"method must be one of {METHODS}")
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=max(1, int(time_limit_s)), threads=1)
    model = model.solve(solver)
    chosen = [int(j) for j in range(cost.shape[1]) if model.fac_vars[j].value() and model.fac_vars[j].value() > 0.5]
    return Siting(chosen, pulp.LpStatus[model.problem.status])


def coverage(cost: np.ndarray, weights: np.ndarray, columns: list[int], service_m: float) -> dict:
    """Share of demand within `service_m` of the nearest of `columns`, and the demand-weighted mean distance."""
    weights = np.asarray(weights, dtype=float)
    total = float(weights.sum())
    if not columns or total <= 0:
        return {"covered_demand": 0.0, "total_demand": total, "covered_share": 0.0, "mean_distance_m": None}
    nearest = np.min(np.asarray(cost, dtype=float)[:, columns], axis=1)
    covered = float(weights[nearest <= service_m].sum())
    reach = np.isfinite(nearest)
    mean = float((nearest[reach] * weights[reach]).sum() / weights[reach].sum()) if weights[reach].sum() else None
    return {"covered_demand": covered, "total_demand": total, "covered_share": round(covered / total, 4),
            "mean_distance_m": None if mean is None else round(mean, 1)}


def candidate_shortlist(cost: np.ndarray, weights: np.ndarray, service_m: float, limit: int) -> np.ndarray:
    """Columns of the `limit` candidates covering the most demand within `service_m` (ties by index)."""
    potential = (np.asarray(cost) <= service_m).T @ np.asarray(weights, dtype=float)
    order = np.lexsort((np.arange(len(potential)), -potential))
    return np.sort(order[:limit])


def assign(cost: np.ndarray, workload: np.ndarray, balance: bool = False, tolerance: float = 0.2,
           iterations: int = 200) -> np.ndarray:
    """Each demand row to its cheapest column; with `balance`, per-column handicaps are raised and
    lowered until every column's workload is within `tolerance` of the mean (or `iterations` run out)."""
    cost = np.asarray(cost, dtype=float)
    workload = np.asarray(workload, dtype=float)
    finite = np.where(np.isfinite(cost), cost, np.nan)
    fill = np.nanmax(finite) * 10 + 1.0 if np.isfinite(np.nanmax(finite)) else 1.0
    cost = np.where(np.isfinite(cost), cost, fill)
    choice = np.argmin(cost, axis=1)
    if not balance or workload.sum() <= 0:
        return choice
    m = cost.shape[1]
    target = workload.sum() / m
    handicap = np.zeros(m)
    step = float(np.median(np.min(cost, axis=1))) or 100.0
    best, best_spread = choice, np.inf
    for _ in range(iterations):
        loads = np.bincount(choice, weights=workload, minlength=m)
        spread = float(np.max(np.abs(loads / target - 1)))
        if spread < best_spread:
            best, best_spread = choice, spread
        if spread <= tolerance:
            break
        handicap += step * (loads / target - 1)
        step *= 0.97
        choice = np.argmin(cost + handicap, axis=1)
    return best


def workloads(choice: np.ndarray, workload: np.ndarray, m: int) -> list[float]:
    """Workload per column of an assignment."""
    return [float(x) for x in np.bincount(choice, weights=np.asarray(workload, dtype=float), minlength=m)]
