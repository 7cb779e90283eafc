"""Argument checks shared by every public entry point.

Each check raises ``ValueError`` naming the parameter, the bad value and the allowed range, so
that a bad argument never surfaces as a shape error from deep inside torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``; else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer in {_range_text(low, high, False, False)}; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer in {_range_text(low, high, False, False)}; got {value!r}")
    return int(value)


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the given interval; else raise ``ValueError``."""
    allowed = _range_text(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number in {allowed}; got {value!r}")
    v = float(value)
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high:
        raise ValueError(f"{name} must be a finite number in {allowed}; got {value!r}")
    return v


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; else raise ``ValueError`` listing them."""
    options = list(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_int_sequence(
    name: str, values: Any, low: int | None = None, high: int | None = None, *, min_len: int = 1
) -> tuple[int, ...]:
    """Return a tuple of ints, each in ``[low, high]``, with at least ``min_len`` entries."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a sequence of integers in {_range_text(low, high, False, False)}; got {values!r}")
    if len(values) < min_len:
        raise ValueError(f"{name} must have at least {min_len} entries; got {values!r}")
    return tuple(check_int(f"{name}[{i}]", v, low, high) for i, v in enumerate(values))


def check_float_sequence(
    name: str,
    values: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    min_len: int = 1,
) -> tuple[float, ...]:
    """Return a tuple of floats, each in the given interval, with at least ``min_len`` entries."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        allowed = _range_text(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a sequence of numbers in {allowed}; got {values!r}")
    if len(values) < min_len:
        raise ValueError(f"{name} must have at least {min_len} entries; got {values!r}")
    return tuple(
        check_float(f"{name}[{i}]", v, low, high, low_open=low_open, high_open=high_open)
        for i, v in enumerate(values)
    )


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a real ``bool`` (``True``/``False``); else raise ``ValueError``.

    Strings such as ``'no'`` and integers are refused: ``bias='no'`` would otherwise be truthy.
    """
    if value is True or value is False:
        return value
    try:  # numpy.bool_ is a real boolean too
        import numpy as np

        if isinstance(value, np.bool_):
            return bool(value)
    except ImportError:  # pragma: no cover
        pass
    raise ValueError(f"{name} must be True or False; got {value!r}")


def check_float_dtype(name: str, dtype: Any) -> Any:
    """Return ``dtype`` if it is a floating ``torch.dtype``; else raise ``ValueError``."""
    import torch

    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating torch.dtype (torch.float32 or torch.float64); got {dtype!r}")
    return dtype


def check_tensor(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_ndim: int = 0,
    nonempty: bool = True,
    finite: bool = True,
    floating: bool = False,
    shape_text: str | None = None,
) -> Any:
    """Return ``value`` if it is a real-valued ``torch.Tensor`` with the given number of dims,
    no zero-length axis (``nonempty``) and only finite entries (``finite``); else raise ``ValueError``.

    ``shape_text`` (e.g. ``"(n, d)"``) is quoted in the message about the dims.
    """
    import torch

    want = shape_text or (f"{ndim} dims" if ndim is not None else f"at least {min_ndim} dims")
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {want}; got {type(value).__name__} {_short(value)}")
    if value.is_complex() or (floating and not value.dtype.is_floating_point):
        kind = "floating" if floating else "real"
        raise ValueError(f"{name} must be a {kind} tensor; got dtype {value.dtype}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if (dims is not None and value.ndim not in dims) or value.ndim < min_ndim:
        raise ValueError(f"{name} must have shape {want}; got {tuple(value.shape)}")
    if nonempty and value.numel() == 0:
        raise ValueError(f"{name} must not be empty; got shape {tuple(value.shape)}")
    if finite and value.dtype != torch.bool and value.numel() and not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name} must hold only finite numbers; got {bad} NaN/inf of {value.numel()} entries")
    return value


def check_pm1(name: str, y: Any, why: str = "") -> None:
    """Raise ``ValueError`` unless every entry of the tensor ``y`` is +1 or -1."""
    import torch

    ok = (y == 1) | (y == -1)
    if not bool(ok.all()):
        bad = y[~ok].flatten()[:3].tolist()
        raise ValueError(f"{name} must contain only +1 and -1 labels{why}; got values such as {bad}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
