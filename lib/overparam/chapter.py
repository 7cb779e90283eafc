"""What every chapter shares: a validated ``Config`` base with presets, seeds, timing and estimates.

The chapter contract (``DESIGN.md``): each chapter package ``overparam.<chapter>`` offers

- ``config(preset="book", **overrides) -> Config`` (presets ``smoke`` / ``book`` / ``paper``);
- ``run(cfg, *, device="auto", progress=True) -> Result``, a frozen dataclass with ``.config``,
  ``.seconds: dict[str, float]`` and one nested frozen dataclass per sub-experiment, each with
  ``.diverged`` (a bool tensor over its runs);
- ``numbers(result) -> dict[str, float]``, ``paper_vs_ours(result)``, ``live(**controls)``,
  ``estimate_seconds(cfg, device)``, ``CLAIM``, ``FIGURES`` (the figure functions, each
  ``fn(result)``) and ``LIVE_CONTROLS`` (``{name: book.Slider}``, the defaults of ``live``).

A config declares its checks next to its fields::

    @dataclass(frozen=True, repr=False)
    class Config(ChapterConfig):
        width: int = param(512, Int(2, 10**6), "hidden units m")
        lr: float = param(0.1, Float(0, 10, low_open=True), "step size eta")

        def check(self):                 # cross-field checks, after the per-field ones
            require(self.width % 2 == 0, "width", self.width, "an even number (neurons come in pairs)")
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from ._validate import check_choice, check_float, check_float_sequence, check_int, check_int_sequence

__all__ = [
    "PRESET_NAMES",
    "ChapterConfig",
    "param",
    "require",
    "Int",
    "Float",
    "Choice",
    "Bool",
    "IntSeq",
    "FloatSeq",
    "Optional",
    "from_preset",
    "require_config",
    "derive_seed",
    "Timer",
    "announce",
    "max_run_seconds",
]

PRESET_NAMES = ("smoke", "book", "paper")
C = TypeVar("C", bound="ChapterConfig")


# --------------------------------------------------------------------------------------------
# Declarative field checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]`` (``None``: unbounded)."""

    low: int | None = None
    high: int | None = None

    def __call__(self, name: str, value: Any) -> int:
        return check_int(name, value, self.low, self.high)


@dataclass(frozen=True)
class Float:
    """A finite number in the interval ``low .. high`` (open ends as flagged)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __call__(self, name: str, value: Any) -> float:
        return check_float(name, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open)


@dataclass(frozen=True)
class Choice:
    """One of ``options``."""

    options: tuple

    def __call__(self, name: str, value: Any) -> Any:
        return check_choice(name, value, self.options)


@dataclass(frozen=True)
class Bool:
    """A real ``bool`` (``True`` / ``False``; not ``1``, ``"no"``)."""

    def __call__(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False; got {value!r}")
        return value


@dataclass(frozen=True)
class IntSeq:
    """A sequence of integers in ``[low, high]``, at least ``min_len`` long; ``increasing``: strictly."""

    low: int | None = None
    high: int | None = None
    min_len: int = 1
    max_len: int | None = None
    increasing: bool = False

    def __call__(self, name: str, value: Any) -> tuple[int, ...]:
        out = check_int_sequence(name, value, self.low, self.high, min_len=self.min_len)
        _check_seq(name, out, self.max_len, self.increasing)
        return out


@dataclass(frozen=True)
class FloatSeq:
    """A sequence of finite numbers in the interval, at least ``min_len`` long; ``increasing``: strictly."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    min_len: int = 1
    max_len: int | None = None
    increasing: bool = False

    def __call__(self, name: str, value: Any) -> tuple[float, ...]:
        out = check_float_sequence(
            name, value, self.low, self.high, low_open=self.low_open, high_open=self.high_open, min_len=self.min_len
        )
        _check_seq(name, out, self.max_len, self.increasing)
        return out


def _check_seq(name: str, values: tuple, max_len: int | None, increasing: bool) -> None:
    if max_len is not None and len(values) > max_len:
        raise ValueError(f"{name} must have at most {max_len} entries; got {len(values)}")
    if increasing and any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{name} must be strictly increasing; got {values!r}")


@dataclass(frozen=True)
class Optional:
    """``None``, or a value passing ``check``."""

    check: Any

    def __call__(self, name: str, value: Any) -> Any:
        return None if value is None else self.check(name, value)


def param(default: Any, check: Any, doc: str = "") -> Any:
    """A config field with its ``check`` (e.g. ``Int(1, 100)``) and a one-line ``doc``."""
    return dataclasses.field(default=default, metadata={"check": check, "doc": doc})


def require(ok: bool, name: str, value: Any, allowed: str) -> None:
    """Raise ``ValueError`` naming ``name``, its ``value`` and what is ``allowed`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must be {allowed}; got {value!r}")


class ChapterConfig:
    """Base of every chapter's frozen ``Config`` dataclass (declare it ``repr=False``).

    ``__post_init__`` runs each field's declared check (and stores the normalized value, e.g. a
    list becomes a tuple), then :meth:`check` for cross-field rules. The repr puts one field per
    line, so a config reads well in a notebook.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            if check is None:
                raise TypeError(f"{type(self).__name__}.{f.name} has no declared check; use param(default, check)")
            object.__setattr__(self, f.name, check(f.name, getattr(self, f.name)))
        self.check()

    def check(self) -> None:
        """Cross-field checks (override); raise ``ValueError`` via :func:`require`."""

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied and validated; an unknown field raises ``ValueError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; allowed: {sorted(names)}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-friendly: tuples become lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def __repr__(self) -> str:
        lines = [f"    {f.name}={getattr(self, f.name)!r}," for f in dataclasses.fields(self)]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, (tuple, list)) else v


def from_preset(presets: dict[str, C], preset: str = "book", **overrides: Any) -> C:
    """``presets[preset]`` with ``overrides`` applied and validated.

    An unknown preset or an override that is not a field raises ``ValueError`` naming it.
    """
    check_choice("preset", preset, list(presets))
    return presets[preset].replace(**overrides)


def require_config(cfg: Any, cls: type, chapter: str) -> None:
    """Raise ``ValueError`` unless ``cfg`` is a ``cls`` (e.g. a dict or another chapter's config)."""
    if not isinstance(cfg, cls):
        raise ValueError(f"cfg must be an overparam.{chapter}.Config (from {chapter}.config(...)); got {type(cfg).__name__}")


# --------------------------------------------------------------------------------------------
# Seeds, timing, estimates
# --------------------------------------------------------------------------------------------


def derive_seed(seed: int, *names: str | int) -> int:
    """A seed for one part of an experiment, e.g. ``derive_seed(cfg.seed, "teacher", s)``.

    A hash (BLAKE2b) of the base ``seed`` and the ``names``: distinct parts get independent-looking
    seeds, the same parts always the same seed, on every machine. Returns an int in ``[0, 2**62)``.
    """
    check_int("seed", seed, 0)
    key = "/".join([str(seed), *map(str, names)]).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") >> 2


class Timer:
    """Wall time per part of a run: ``with timer("toy"): ...``; ``timer.seconds`` is ``{part: s}``.

    With ``progress`` it prints ``<chapter>: <part> done in X s`` as each part ends (to stderr).
    """

    def __init__(self, chapter: str, progress: bool = True):
        self.chapter, self.progress = chapter, progress
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, part: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.seconds[part] = time.perf_counter() - t0
        if self.progress:
            print(f"{self.chapter}: {part} done in {self.seconds[part]:.1f} s", file=sys.stderr, flush=True)

    def total(self) -> dict[str, float]:
        """The per-part times plus ``"total"``."""
        return {**self.seconds, "total": sum(self.seconds.values())}


#: ``run`` refuses a configuration whose estimate exceeds this many seconds (a typo such as
#: ``seeds=10**6`` should fail at once, not after hours). Override with the environment variable
#: ``OVERPARAM_MAX_RUN_SECONDS`` (``inf``: no limit) or by setting this attribute.
MAX_RUN_SECONDS = 24 * 3600.0


def max_run_seconds() -> float:
    """The limit on a run's estimated time: ``OVERPARAM_MAX_RUN_SECONDS`` if set, else :data:`MAX_RUN_SECONDS`."""
    env = os.environ.get("OVERPARAM_MAX_RUN_SECONDS")
    if env is None:
        return float(MAX_RUN_SECONDS)
    try:
        value = float(env)
    except ValueError:
        raise ValueError(f"OVERPARAM_MAX_RUN_SECONDS must be a number of seconds or 'inf'; got {env!r}") from None
    if not value > 0:
        raise ValueError(f"OVERPARAM_MAX_RUN_SECONDS must be positive; got {env!r}")
    return value


def announce(chapter: str, seconds: float, device: Any, progress: bool = True) -> None:
    """Refuse a run estimated above :func:`max_run_seconds`, before any work; otherwise print the
    estimate when it exceeds 10 s (and ``progress``)."""
    limit = max_run_seconds()
    if seconds > limit:
        raise ValueError(
            f"{chapter}: this configuration is estimated at {seconds:,.0f} s on {device}, above the limit of "
            f"{limit:,.0f} s; lower the seeds, widths, sample sizes or steps, run it on a GPU, or set "
            f"OVERPARAM_MAX_RUN_SECONDS=inf to run it anyway"
        )
    if progress and seconds > 10:
        print(f"{chapter}: estimated {seconds:.0f} s on {device}", file=sys.stderr, flush=True)
