"""A CPU of its own for the model: which CPUs the Rasa server runs on, and which the rest of the stack.

The Rasa server's event loop runs the model and bounds how many messages per second CareLoop
handles. On a small machine the WeChat path's other processes (front, worker, action server,
Redis, the database) take CPU time from it; confining them to the other CPUs removes that
competition. The Rasa server on one CPU also spends less CPU per message: its threads (the
tracker store's, TensorFlow's) no longer hand the GIL to each other across CPUs. So on a machine
with two CPUs or more the model gets the first one by default (``CARELOOP_MODEL_CPUS`` unset or
``auto``); ``none`` turns pinning off (bench/wechat_vs_rest.py --model-cpus none measures the
difference). Plain Python: the plan is computed here, applied by ``python -m bot pin`` before it
starts the real program.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: The words ``CARELOOP_MODEL_CPUS`` takes besides a CPU list.
AUTO = "auto"
NO_PINNING = ("none", "off")


class CpuListError(ValueError):
    """A CPU list that cannot be used: malformed, not on this machine, or leaving no CPU for the rest."""


def parse_cpu_list(text: str) -> frozenset[int]:
    """``"0"``, ``"0,2"``, ``"0-3"`` (Linux's cpuset notation) → the CPU numbers; empty → none."""
    cpus: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, sep, high = part.partition("-")
        try:
            first, last = (int(low), int(high)) if sep else (int(part), int(part))
        except ValueError:
            raise CpuListError(f"{text!r} is not a CPU list like 0 or 0,2 or 0-1") from None
        if first < 0 or last < first:
            raise CpuListError(f"{part!r} is not a CPU range (it must go from low to high, from 0)")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def format_cpu_list(cpus: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


@dataclass(frozen=True)
class CpuPlan:
    model: frozenset[int]
    rest: frozenset[int]


def plan(model: frozenset[int], available: frozenset[int]) -> CpuPlan:
    """The model gets ``model``; everything else every other CPU this process may use."""
    missing = model - available
    if missing:
        raise CpuListError(
            f"CPU {format_cpu_list(frozenset(missing))} is not available here "
            f"(this process may use {format_cpu_list(available)})"
        )
    rest = available - model
    if not rest:
        raise CpuListError(
            f"reserving CPU {format_cpu_list(model)} for the model leaves none for the other processes"
        )
    return CpuPlan(model=model, rest=rest)


def model_setting(text: str) -> frozenset[int] | None:
    """``CARELOOP_MODEL_CPUS`` read: None for ``auto`` (or unset), no CPUs for ``none``, else the list."""
    word = text.strip().lower()
    if word in ("", AUTO):
        return None
    if word in NO_PINNING:
        return frozenset()
    return parse_cpu_list(word)


def model_cpus_for(setting: frozenset[int] | None, available: frozenset[int]) -> frozenset[int]:
    """The CPUs the model gets: the setting's, or by default the first of two or more (none on a
    machine with one CPU, or one that cannot pin)."""
    if setting is not None:
        return setting
    return frozenset({min(available)}) if len(available) >= 2 else frozenset()


def can_pin() -> bool:
    """CPU affinity is a Linux call; elsewhere the stack runs unpinned."""
    return hasattr(os, "sched_setaffinity")


def available_cpus() -> frozenset[int]:
    return frozenset(os.sched_getaffinity(0)) if can_pin() else frozenset()
