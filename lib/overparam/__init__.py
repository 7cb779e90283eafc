"""overparam: the library behind the executable textbook *Why over-parameterized networks generalize*.

The core: :mod:`~overparam.data` (problem generators, MNIST), :mod:`~overparam.models` (batched
ensemble models), :mod:`~overparam.train` (one trainer for all chapters), :mod:`~overparam.kernels`.
What the chapters share: :mod:`~overparam.chapter` (the Config base, seeds, timing),
:mod:`~overparam.stats` (intervals), :mod:`~overparam.style` (figures), :mod:`~overparam.book`
(glue, tables, panels). One package per chapter (``xor``, ``specialization``, ``alignment``,
``gram``, ``rare_minima``), each with the same contract: ``config``, ``run``, ``numbers``,
``paper_vs_ours``, ``FIGURES``, ``live``, ``estimate_seconds``, ``CLAIM`` (``DESIGN.md``).
"""

from . import data, models, train
from .device import resolve_device

__version__ = "0.1.0"

__all__ = ["data", "models", "train", "resolve_device", "__version__"]
