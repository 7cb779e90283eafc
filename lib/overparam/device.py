"""Device and random-number helpers: ``device="auto"`` picks CUDA when present; the memory guard.

The memory guard: data generators, model ``init``, :func:`overparam.train.train` and the kernels
estimate what they will allocate and refuse (``ValueError`` naming the parameters to lower) above
:func:`memory_limit_bytes`: by default half of the memory available now (``MemAvailable`` in
``/proc/meminfo``; on CUDA, half of the free GPU memory). Override it with the module setting
``overparam.device.MEMORY_LIMIT_GB`` or the environment variable ``OVERPARAM_MEMORY_LIMIT_GB``
(``inf`` switches the guard off).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ._validate import check_int

_DEVICE_CHOICES = ("auto", "cpu", "cuda")

#: Memory limit in GB for one call (``None``: ``OVERPARAM_MEMORY_LIMIT_GB`` if set, else
#: ``MEMORY_FRACTION`` of the memory available). ``math.inf`` switches the guard off.
MEMORY_LIMIT_GB: float | None = None
#: The fraction of the available memory one call may allocate when no limit is set.
MEMORY_FRACTION = 0.5
_FALLBACK_AVAILABLE = 8 * 2**30


def _available_host_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return _FALLBACK_AVAILABLE


def memory_limit_bytes(device: str | torch.device | None = None) -> float:
    """The most bytes one call may allocate on ``device`` (the host when ``None`` or CPU)."""
    limit = MEMORY_LIMIT_GB
    source = "overparam.device.MEMORY_LIMIT_GB"
    if limit is None and os.environ.get("OVERPARAM_MEMORY_LIMIT_GB"):
        source = "OVERPARAM_MEMORY_LIMIT_GB"
        try:
            limit = float(os.environ["OVERPARAM_MEMORY_LIMIT_GB"])
        except ValueError:
            limit = -1.0
    if limit is not None:
        if not (limit > 0):
            raise ValueError(f"{source} must be a positive number of GB (or inf); got {limit!r}")
        return limit * 2**30
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(dev)
        return MEMORY_FRACTION * free
    return MEMORY_FRACTION * _available_host_bytes()


def _gb(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GB" if nbytes >= 2**30 / 100 else f"{nbytes / 2**20:.3g} MB"


def check_memory(nbytes: float, what: str, lower: str, device: str | torch.device | None = None) -> None:
    """Raise ``ValueError`` if ``nbytes`` (an estimate of what ``what`` will allocate) is above
    :func:`memory_limit_bytes`; the message names the parameters to ``lower``."""
    limit = memory_limit_bytes(device)
    if nbytes > limit:
        raise ValueError(
            f"{what} would allocate about {_gb(nbytes)}, above the memory limit of {_gb(limit)} "
            f"(half the available memory by default; set overparam.device.MEMORY_LIMIT_GB or "
            f"OVERPARAM_MEMORY_LIMIT_GB to change it); lower {lower}"
        )


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map ``"auto"`` / ``"cpu"`` / ``"cuda"`` (or ``"cuda:N"``) to a ``torch.device``.

    ``"auto"`` is CUDA when available, else CPU. Asking for CUDA on a machine without it raises
    ``ValueError`` instead of failing later inside torch.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not (device in _DEVICE_CHOICES or device.startswith("cuda:")):
        raise ValueError(f"device must be one of {list(_DEVICE_CHOICES)} or 'cuda:N'; got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    index = None
    if device.startswith("cuda:"):
        if not re.fullmatch(r"cuda:\d+", device):
            raise ValueError(f"device must be one of {list(_DEVICE_CHOICES)} or 'cuda:N' with N an integer; got {device!r}")
        index = int(device[5:])
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
    if index is not None and index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA device(s) exist "
            f"(cuda:0 to cuda:{torch.cuda.device_count() - 1}); use 'cuda' or 'auto'"
        )
    return torch.device(device)


def cpu_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (non-negative int).

    Initial weights and data are drawn on the CPU and then moved, so the same seed gives the same
    numbers on every device.
    """
    seed = check_int("seed", seed, 0, 2**63 - 1)
    return torch.Generator(device="cpu").manual_seed(seed)


@contextmanager
def cpu_threads(device: torch.device, n: int) -> Iterator[None]:
    """Temporarily limit torch's intra-op threads to at most ``n`` when ``device`` is the CPU.

    For tiny per-member tensors (a few dozen small ops per step) one thread beats two: thread
    synchronisation dominates, badly so on a shared machine. Restored on exit; a no-op on CUDA.
    """
    n = check_int("n", n, 1)
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch.device or a device string such as 'cpu'; got {device!r}") from None
    if kind != "cpu":
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(min(n, old))
    try:
        yield
    finally:
        torch.set_num_threads(old)
