"""The remaining-time estimate (engine.core.remaining), fed by a fake clock: deterministic."""

from __future__ import annotations

import heapq

import pytest

from engine.core.remaining import RemainingTime


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_unknown_until_every_kind_still_to_run_has_a_finished_cell():
    clock = Clock()
    est = RemainingTime([("train", "mlp")] * 2 + [("eval", "mlp")] * 4, workers=2, clock=clock)
    assert est.seconds_left() is None
    est.started("t1", ("train", "mlp"))
    est.started("t2", ("train", "mlp"))
    clock.now = 10
    est.finished("t1", ("train", "mlp"), 10)
    est.finished("t2", ("train", "mlp"), 10)
    assert est.seconds_left() is None  # nothing known about evaluation cells yet
    est.started("e1", ("eval", "mlp"))
    clock.now = 12
    est.finished("e1", ("eval", "mlp"), 2)
    assert est.seconds_left() == pytest.approx(3 * 2 / (22 / 12))


def test_work_left_is_divided_by_the_measured_parallelism_and_running_cells_count():
    clock = Clock()
    group = ("eval", "m")
    est = RemainingTime([group] * 4, workers=2, clock=clock)
    est.started("a", group)
    est.started("b", group)
    clock.now = 10
    est.finished("a", group, 10)
    est.finished("b", group, 10)
    assert est.seconds_left() == pytest.approx(10)  # two 10 s cells left on two busy workers
    est.started("c", group)
    est.started("d", group)
    clock.now = 15
    assert est.seconds_left() == pytest.approx(5)  # both half done
    clock.now = 25
    assert est.seconds_left() == 0.0  # overdue: any moment now


def test_a_model_not_seen_yet_borrows_its_kind_s_mean_then_uses_its_own():
    clock = Clock()
    est = RemainingTime([("eval", "fast")] * 2 + [("eval", "slow")] * 2, workers=1, clock=clock)
    est.started("f1", ("eval", "fast"))
    clock.now = 1
    est.finished("f1", ("eval", "fast"), 1)
    assert est.seconds_left() == pytest.approx(3)  # three cells at the only mean known, 1 s
    est.started("f2", ("eval", "fast"))
    clock.now = 2
    est.finished("f2", ("eval", "fast"), 1)
    est.started("s1", ("eval", "slow"))
    clock.now = 6
    est.finished("s1", ("eval", "slow"), 4)
    assert est.seconds_left() == pytest.approx(4)  # the slow model's own mean from now on


def test_dropped_cells_cost_nothing_and_parallelism_never_exceeds_the_workers():
    clock = Clock()
    group = ("eval", "m")
    est = RemainingTime([group] * 5, workers=2, clock=clock)
    est.started("a", group)
    clock.now = 2
    est.finished("a", group, 8)  # a duration longer than the wall time (clock skew): capped at 2 workers
    est.dropped("b", group)
    est.dropped("c", group)
    assert est.seconds_left() == pytest.approx(2 * 8 / 2)


def _simulate(phases: list[list[tuple[tuple[str, str], float]]], workers: int):
    """A run as the coordinator makes it: phase after phase (training before evaluation), each on
    ``workers`` workers taking cells in order. Returns (time, estimate, true time left) after each
    finished cell."""
    clock = Clock()
    est = RemainingTime([g for phase in phases for g, _ in phase], workers=workers, clock=clock)
    log = []
    for phase in phases:
        queue = list(enumerate(phase))[::-1]
        busy: list[tuple[float, int]] = []
        while queue or busy:
            while queue and len(busy) < workers:
                i, (group, duration) = queue.pop()
                est.started(i, group)
                heapq.heappush(busy, (clock.now + duration, i))
            end, i = heapq.heappop(busy)
            clock.now = end
            est.finished(i, phase[i][0], phase[i][1])
            log.append((clock.now, est.seconds_left()))
    total = clock.now
    return [(t, eta, total - t) for t, eta in log]


def test_on_a_run_shaped_like_the_demo_the_estimate_holds_after_20_percent_of_cells():
    # durations measured on the digits demo: training dominates, evaluations take a tenth of a second
    train = {"mlp": 9.8, "cnn": 38.3, "vit": 89.0}
    evaluate = {"mlp": 0.04, "cnn": 0.21, "vit": 0.13}
    training = [(("train", m), train[m] * (0.8 + 0.1 * s)) for m in train for s in range(3)]
    evaluation = [(("eval", m), evaluate[m] * (0.7 + 0.6 * ((c * 7 + s) % 5) / 4))  # the coordinator's order:
                  for s in range(3) for c in range(64) for m in evaluate]            # seed, condition, model
    log = _simulate([training, evaluation], workers=2)
    first = len(log) // 5
    errors = [abs(eta - true) / true for _, eta, true in log[first:] if true > 2]
    assert max(errors) < 0.3
    # the old estimate (elapsed / cells done × cells left) was far off at 20%: the reason for this one
    t, _, true = log[first]
    old = t / (first + 1) * (len(log) - first - 1)
    assert abs(old - true) / true > 3


def test_a_start_reported_after_its_result_is_ignored():
    clock = Clock()
    group = ("eval", "m")
    est = RemainingTime([group] * 3, workers=1, clock=clock)
    clock.now = 1
    est.finished("a", group, 1)
    est.started("a", group)  # the progress queue lagged behind the result
    clock.now = 2
    assert est.seconds_left() == pytest.approx(2 * 1 / (1 / 2))  # no phantom running cell
