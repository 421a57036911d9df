"""The per-scope state machine of an alert rule: pure, deterministic, no I/O.

Each (rule, scope) keeps ``last_time`` (the newest step evaluated), ``last_cond`` (the condition then),
``run_before`` (the run of equal conditions that ended just before ``last_time``: > 0 a run of that many
true steps, < 0 of false steps, 0 none or a gap) and ``episode`` (the open episode's number, or None).

A step at time ``t``:
- ``t`` older than ``last_time``: ignored (late data never rewrites the alert history);
- ``t`` equal to ``last_time``: re-evaluated (an hour whose mean changed as more readings arrived);
- ``t`` the next step (``contiguous``): the run continues; after a gap it restarts.

The run of the current condition is ``|run_before| + 1`` when ``run_before`` has the same sign as the
condition, else 1. Onset: no episode open, condition true for ``duration`` steps. Recovery: episode open,
condition false for ``recovery`` steps. So one onset and one recovery per episode (de-duplication).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class State:
    last_time: datetime
    last_cond: bool
    run_before: int
    episode: int | None = None
    last_value: float | None = None

    def as_dict(self) -> dict:
        return {"last_time": self.last_time, "last_cond": self.last_cond, "run_before": self.run_before,
                "episode": self.episode, "last_value": self.last_value}


@dataclass
class Transition:
    kind: str  # onset | recovery
    time: datetime
    value: float | None
    episode: int


def _run(run_before: int, cond: bool) -> int:
    same = (run_before > 0) if cond else (run_before < 0)
    return abs(run_before) + 1 if same else 1


def _signed(cond: bool, run: int) -> int:
    return run if cond else -run


def step(state: State | None, *, t: datetime, cond: bool, value: float | None, contiguous: bool, duration: int,
         recovery: int, new_episode) -> tuple[State | None, list[Transition]]:
    """Advance ``state`` by one step; ``new_episode()`` gives a fresh episode number on an onset.

    Returns the new state (``None``: unchanged, the step was ignored) and the transitions it caused."""
    if state is not None and t < state.last_time:
        return None, []
    if state is None:
        before = 0
    elif t == state.last_time:
        before = state.run_before
    else:
        before = _signed(state.last_cond, _run(state.run_before, state.last_cond)) if contiguous else 0
    run = _run(before, cond)
    episode = state.episode if state is not None else None
    out: list[Transition] = []
    if episode is None and cond and run >= duration:
        episode = new_episode()
        out.append(Transition("onset", t, value, episode))
    elif episode is not None and not cond and run >= recovery:
        out.append(Transition("recovery", t, value, episode))
        episode = None
    return State(last_time=t, last_cond=cond, run_before=before, episode=episode, last_value=value), out


def compare(values, op: str, threshold: float):
    """Vectorised comparison (NumPy): gt, ge, lt, le."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    return {"gt": v > threshold, "ge": v >= threshold, "lt": v < threshold, "le": v <= threshold}[op]


def worst(values, op: str):
    """The "any station" value across axis 0: the highest for gt/ge, the lowest for lt/le (NaN-ignoring;
    NaN where every station is NaN)."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return v
    all_nan = np.all(np.isnan(v), axis=0)
    filled = np.where(np.isnan(v), -np.inf if op in ("gt", "ge") else np.inf, v)
    out = filled.max(axis=0) if op in ("gt", "ge") else filled.min(axis=0)
    return np.where(all_nan, np.nan, out)
