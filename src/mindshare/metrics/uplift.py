"""Uplift metrics: how well a score ranks people by the effect a treatment (a campaign's message) has on them.

Pure functions over arrays of one randomised experiment: `outcome` (0/1 conversions, or any value such as
spend), `uplift` (the score being judged: higher = target first) and `treatment` (1 = sent, 0 = control).
People are ranked by `uplift`, best first; at each distinct score (ties enter together) the curves compare the
treated and the control people ranked so far. They follow the definitions of scikit-uplift (sklift.metrics)
and give its numbers (tests/test_uplift.py checks them against it):

- the **uplift curve** at n people: (treated outcome rate - control outcome rate) x n;
- the **Qini curve** at n people: treated outcomes - control outcomes x treated / control (the control's
  outcomes scaled to the treated group's size): the incremental outcomes of targeting those n;
- **Qini AUC** (`qini_auc_score`): the area between the Qini curve and the random-targeting diagonal, over
  the same area of the best possible ranking (1: perfect, 0: random, below 0: worse than random);
- **uplift@k** (`uplift_at_k`): treated outcome rate - control outcome rate among the top k share of people
  (strategy `overall`), or among the top k of each group ranked separately (`by_group`).
"""

from __future__ import annotations

import numpy as np


def _ranked(outcome, uplift, treatment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    outcome, uplift, treatment = (np.asarray(a, dtype=np.float64).ravel() for a in (outcome, uplift, treatment))
    if not len(outcome) == len(uplift) == len(treatment):
        raise ValueError(f"outcome, uplift and treatment differ in length: {len(outcome)}, {len(uplift)}, "
                         f"{len(treatment)}")
    if not np.isin(treatment, (0.0, 1.0)).all():
        raise ValueError("treatment must be 0 (control) or 1 (treated)")
    order = np.argsort(uplift, kind="mergesort")[::-1]  # best first; ties in the reverse of their order
    return outcome[order], uplift[order], treatment[order]


def _cumulative(outcome, uplift, treatment) -> tuple[np.ndarray, ...]:
    """(people, treated, treated outcomes, control outcomes) ranked so far at each distinct score."""
    outcome, uplift, treatment = _ranked(outcome, uplift, treatment)
    ends = np.r_[np.flatnonzero(np.diff(uplift)), len(uplift) - 1]  # where each run of equal scores ends
    people = ends + 1.0
    treated = np.cumsum(treatment)[ends]
    treated_outcomes = np.cumsum(outcome * treatment)[ends]
    control_outcomes = np.cumsum(outcome * (1 - treatment))[ends]
    return people, treated, treated_outcomes, control_outcomes


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b != 0)


def _from_origin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, x], np.r_[0.0, y]


def uplift_curve(outcome, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """(people targeted, (treated rate - control rate) x people) at each distinct score, from (0, 0)."""
    people, treated, treated_outcomes, control_outcomes = _cumulative(outcome, uplift, treatment)
    values = (_ratio(treated_outcomes, treated) - _ratio(control_outcomes, people - treated)) * people
    return _from_origin(people, values)


def qini_curve(outcome, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """(people targeted, incremental outcomes: treated outcomes - control outcomes x treated / control)."""
    people, treated, treated_outcomes, control_outcomes = _cumulative(outcome, uplift, treatment)
    values = treated_outcomes - control_outcomes * _ratio(treated, people - treated)
    return _from_origin(people, values)


def perfect_qini_curve(outcome, treatment) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve of the best ranking this data allows: treated people with an outcome first, control people
    with one last (the harm a message does to those who would have bought anyway counted)."""
    outcome, treatment = np.asarray(outcome, dtype=np.float64), np.asarray(treatment, dtype=np.float64)
    return qini_curve(outcome, outcome * treatment - outcome * (1 - treatment), treatment)


def qini_auc_score(outcome, uplift, treatment) -> float:
    """Area between the Qini curve and random targeting's diagonal, over the perfect ranking's (0 = random)."""
    return _over_best(qini_curve(outcome, uplift, treatment), perfect_qini_curve(outcome, treatment))


def perfect_uplift_curve(outcome, treatment) -> tuple[np.ndarray, np.ndarray]:
    """The uplift curve of the best ranking: for 0/1 outcomes, treated responders and control non-responders
    first, then whichever of control responders and treated non-responders are fewer (scikit-uplift's order);
    for other outcomes, as the perfect Qini curve ranks."""
    outcome, treatment = np.asarray(outcome, dtype=np.float64), np.asarray(treatment, dtype=np.float64)
    if np.isin(outcome, (0.0, 1.0)).all():
        control_responders = np.sum((outcome == 1) & (treatment == 0))
        treated_non_responders = np.sum((outcome == 0) & (treatment == 1))
        tie_break = outcome if control_responders > treated_non_responders else treatment
        return uplift_curve(outcome, 2 * (outcome == treatment) + tie_break, treatment)
    return uplift_curve(outcome, outcome * treatment - outcome * (1 - treatment), treatment)


def _over_best(curve: tuple[np.ndarray, np.ndarray], best_curve: tuple[np.ndarray, np.ndarray]) -> float:
    """Area between a curve and the diagonal to the best curve's end, over the best curve's (nan if that is 0)."""
    (x, y), (x_best, y_best) = curve, best_curve
    diagonal = x_best[-1] * y_best[-1] / 2.0
    best = np.trapezoid(y_best, x_best) - diagonal
    return float((np.trapezoid(y, x) - diagonal) / best) if best != 0 else float("nan")


def uplift_auc_score(outcome, uplift, treatment) -> float:
    """Area between the uplift curve and the diagonal, over the perfect ranking's (0 = random)."""
    return _over_best(uplift_curve(outcome, uplift, treatment), perfect_uplift_curve(outcome, treatment))


def uplift_at_k(outcome, uplift, treatment, k: float = 0.3, strategy: str = "overall") -> float:
    """Treated outcome rate - control outcome rate among the top `k` (a share in (0, 1], or a number of people)
    by `uplift`: of everyone (`overall`), or of each group ranked on its own (`by_group`)."""
    if strategy not in ("overall", "by_group"):
        raise ValueError(f"strategy {strategy!r}: use overall or by_group")
    outcome, _, treatment = _ranked(outcome, uplift, treatment)

    def top(n_people: int) -> int:
        return int(n_people * k) if isinstance(k, float) else int(k)

    if strategy == "overall":
        n = top(len(outcome))
        head, arm = outcome[:n], treatment[:n]
        return float(head[arm == 1].mean() - head[arm == 0].mean())
    treated, control = outcome[treatment == 1], outcome[treatment == 0]
    return float(treated[: top(len(treated))].mean() - control[: top(len(control))].mean())


def incremental_outcomes(outcome, uplift, treatment, share: float) -> float:
    """The Qini curve's value at the top `share` of people (interpolated): the incremental outcomes a campaign
    sent to them would bring, estimated from the experiment."""
    x, y = qini_curve(outcome, uplift, treatment)
    return float(np.interp(share * x[-1], x, y))


def uplift_by_quantile(outcome, uplift, treatment, bins: int = 10) -> dict[str, np.ndarray]:
    """People cut into `bins` groups by `uplift` (the best first, as ranked above): per group the treated and
    control people, their outcome rates, the difference (the group's measured uplift) and its 95% normal interval."""
    outcome, _, treatment = _ranked(outcome, uplift, treatment)
    group = np.minimum((np.arange(len(outcome)) * bins) // max(len(outcome), 1), bins - 1)
    treated = np.bincount(group, treatment, bins)
    control = np.bincount(group, 1 - treatment, bins)
    sum_treated = np.bincount(group, outcome * treatment, bins)
    sum_control = np.bincount(group, outcome * (1 - treatment), bins)
    square_treated = np.bincount(group, outcome**2 * treatment, bins)
    square_control = np.bincount(group, outcome**2 * (1 - treatment), bins)
    mean_treated, mean_control = _ratio(sum_treated, treated), _ratio(sum_control, control)
    variance = (_ratio(square_treated, treated) - mean_treated**2) / np.maximum(treated, 1) + \
        (_ratio(square_control, control) - mean_control**2) / np.maximum(control, 1)
    half = 1.96 * np.sqrt(np.maximum(variance, 0.0))
    difference = mean_treated - mean_control
    return {"group": np.arange(1, bins + 1), "treated": treated, "control": control, "treated_rate": mean_treated,
            "control_rate": mean_control, "uplift": difference, "low": difference - half, "high": difference + half}
