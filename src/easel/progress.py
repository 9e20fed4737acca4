"""Progress reporting for long operations.

Library code never prints: long operations take a ``progress`` callback and
call it with a :class:`ProgressUpdate`. The CLI plugs in a progress bar
(:mod:`easel.cli._progress`); Python users can pass any callable, or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProgressUpdate:
    """One step of a long operation.

    Attributes:
        stage: short name of the current stage (``"kmeans"``, ``"scale 2/3"``).
        step: steps done in this stage, ``0 <= step <= total``.
        total: steps in this stage (``0`` when unknown).
        metrics: numbers worth showing (losses, fps), keyed by short names.

    Example:
        >>> ProgressUpdate("kmeans", 1, 3, {"inertia": 0.5})
        ProgressUpdate(stage='kmeans', step=1, total=3, metrics={'inertia': 0.5})
    """

    stage: str
    step: int
    total: int
    metrics: Mapping[str, float] = field(default_factory=dict)


ProgressFn = Callable[[ProgressUpdate], None]


def report(
    progress: ProgressFn | None,
    stage: str,
    step: int,
    total: int,
    **metrics: float,
) -> None:
    """Call ``progress`` when it is set; a no-op otherwise.

    Example:
        >>> report(print, "kmeans", 1, 3, inertia=0.5)
        ProgressUpdate(stage='kmeans', step=1, total=3, metrics={'inertia': 0.5})
        >>> report(None, "kmeans", 2, 3)  # no callback: nothing happens
    """
    if progress is not None:
        progress(ProgressUpdate(stage, step, total, metrics))


def prefixed(progress: ProgressFn | None, prefix: str) -> ProgressFn | None:
    """A progress callback that puts ``prefix`` before each stage name (``None`` stays ``None``).

    Example:
        >>> prefixed(print, "frame 3/10")(ProgressUpdate("lbfgs", 1, 80))
        ProgressUpdate(stage='frame 3/10 lbfgs', step=1, total=80, metrics={})
    """
    if progress is None:
        return None

    def sub(update: ProgressUpdate) -> None:
        progress(ProgressUpdate(f"{prefix} {update.stage}", update.step, update.total, update.metrics))

    return sub
