"""Shared fixtures: each chapter's smoke run and the smoke execution of each chapter notebook,
computed once per session and reused by the contract test and the chapters' own tests."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import matplotlib
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebooks  # noqa: E402

matplotlib.use("Agg")
torch.set_num_threads(2)

#: The chapter packages, in book order.
CHAPTERS = ("xor", "specialization", "alignment", "gram", "rare_minima")


def chapter(name: str):
    """The chapter package ``overparam.<name>``."""
    return importlib.import_module(f"overparam.{name}")


@pytest.fixture(scope="session")
def smoke_result():
    """``smoke_result("xor")`` -> the chapter's ``run(config("smoke"), device="cpu")`` (cached per session)."""
    cache = {}

    def get(name: str):
        if name not in cache:
            ch = chapter(name)
            cache[name] = ch.run(ch.config("smoke"), device="cpu", progress=False)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def smoke_notebook(tmp_path_factory):
    """``smoke_notebook("01_xor_detection")`` -> :class:`notebooks.Executed` (cached per session)."""
    cache: dict[str, notebooks.Executed] = {}
    out_dir = tmp_path_factory.mktemp("executed")

    def get(stem: str) -> notebooks.Executed:
        if stem not in cache:
            path = notebooks.ROOT / "chapters" / f"{stem}.ipynb"
            if not path.exists():
                pytest.fail(f"chapter notebook {path} is missing")
            cache[stem] = notebooks.execute(path, out_dir, {"preset": "smoke", "device": "cpu"})
        return cache[stem]

    return get
