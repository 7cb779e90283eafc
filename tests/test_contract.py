"""The chapter contract (``DESIGN.md``), checked once for all five chapters.

Every chapter package offers ``config``, ``run``, ``numbers``, ``paper_vs_ours``, ``live``,
``estimate_seconds``, ``CLAIM``, ``FIGURES`` and ``LIVE_CONTROLS``; its ``Result`` is a frozen
dataclass with ``.config``, ``.seconds`` and one nested dataclass per sub-experiment carrying a bool
``.diverged``; ``numbers()`` gives every estimate with its 95% interval and run count; every figure
function works on the smoke result, and on a result where every trained run diverged (each chapter's
test module names the overrides that make that happen, as ``DIVERGING``).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from conftest import CHAPTERS, chapter
from overparam import book, style

NAMES = ("config", "run", "numbers", "paper_vs_ours", "live", "estimate_seconds", "CLAIM", "FIGURES",
         "LIVE_CONTROLS", "Config", "PRESETS", "Result")


def sub_experiments(result) -> dict[str, object]:
    """The nested dataclasses of a ``Result`` (its sub-experiments), by field name."""
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
            if dataclasses.is_dataclass(getattr(result, f.name)) and f.name != "config"}


def check_numbers(nums: dict) -> None:
    assert isinstance(nums, dict) and nums, "numbers() must return a non-empty dict"
    for key, value in nums.items():
        assert isinstance(key, str) and isinstance(value, float), f"{key}: {value!r} is not a float"
    for key in [k[:-2] for k in nums if k.endswith("_n") and k[:-2] in nums]:
        v, lo, hi, n = nums[key], nums[f"{key}_lo"], nums[f"{key}_hi"], nums[f"{key}_n"]
        if n == 0:
            assert math.isnan(v), f"{key} rests on 0 runs but is {v} (must be NaN)"
        else:
            assert not math.isnan(v), f"{key} is NaN although it rests on {n:g} runs"
            assert lo <= v <= hi, f"{key} = {v} is outside its interval [{lo}, {hi}]"


def check_figures(ch, result) -> list:
    made = []
    for fn in ch.FIGURES:
        out = fn(result)
        if isinstance(out, Figure):
            w, _ = out.get_size_inches()
            assert w <= style.WIDTH + 1e-6, f"{fn.__name__}: {w} in wide (max {style.WIDTH})"
            cols = {round(ax.get_position().x0, 2) for ax in out.axes if ax.get_visible() and ax.get_label() != "<colorbar>"}
            assert len(cols) <= 2 + sum(ax.get_label() == "<colorbar>" for ax in out.axes), f"{fn.__name__}: more than two panels per row"
            small = [t.get_text() for t in out.findobj(Text) if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 9]
            assert not small, f"{fn.__name__}: text below 9 pt: {small[:5]}"
            made.append(out)
            plt.close(out)
        else:
            assert hasattr(out, "_repr_html_"), f"{fn.__name__} returned {type(out).__name__}, not a Figure or HTML"
            made.append(out)
    return made


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_offers_the_contract_names(name):
    ch = chapter(name)
    missing = [n for n in NAMES if not hasattr(ch, n)]
    assert not missing, f"overparam.{name} lacks {missing}"
    assert set(ch.PRESETS) == {"smoke", "book", "paper"}
    sig = inspect.signature(ch.run)
    for kw in ("device", "progress"):
        assert sig.parameters[kw].kind is inspect.Parameter.KEYWORD_ONLY, f"run's {kw} must be keyword-only"
    live = inspect.signature(ch.live).parameters
    for key, spec in ch.LIVE_CONTROLS.items():
        assert isinstance(spec, book.Slider)
        assert live[key].default == spec.value, f"live({key}=...) default differs from its slider's"
    assert isinstance(ch.CLAIM, str) and ch.CLAIM
    for preset in ch.PRESETS:
        for device in ("cpu", "cuda"):  # a GPU estimate is for planning: it needs no GPU
            est = ch.estimate_seconds(ch.config(preset), device)
            assert isinstance(est, float) and 0 < est < math.inf, f"estimate_seconds({preset!r}, {device!r}) = {est!r}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_result_numbers_table_and_figures(name, smoke_result):
    ch, result = chapter(name), smoke_result(name)
    assert dataclasses.is_dataclass(result) and type(result).__dataclass_params__.frozen
    assert result.config == ch.config("smoke")
    assert isinstance(result.seconds, dict) and "total" in result.seconds
    assert all(isinstance(v, float) for v in result.seconds.values())
    subs = sub_experiments(result)
    assert subs, "a Result holds one nested dataclass per sub-experiment"
    for sub_name, sub in subs.items():
        assert type(sub).__dataclass_params__.frozen, f"{sub_name} is not frozen"
        assert isinstance(sub.diverged, torch.Tensor) and sub.diverged.dtype == torch.bool, f"{sub_name}.diverged"
    check_numbers(ch.numbers(result))
    rows = ch.paper_vs_ours(result)
    assert rows and book.comparison_table(rows)
    check_figures(ch, result)


def stored_record(ch, result, numbers: dict | None = None) -> dict:
    """A stored ``paper`` record (the shape ``overparam.paper_runs`` writes, through JSON: tuples
    become lists, non-finite floats strings) built from ``result``'s own config and ``numbers``."""
    nums = ch.numbers(result) if numbers is None else numbers
    record = {"chapter": ch.__name__.split(".")[-1], "preset": "smoke", "config": dataclasses.asdict(result.config),
              "numbers": {k: v if math.isfinite(v) else str(v) for k, v in nums.items()}, "key_data": {},
              "provenance": {"device": "cpu", "date": "2026-01-01", "wall_seconds": 1.0, "commit": "0" * 40}}
    return json.loads(json.dumps(record))


def scale_fn(ch):
    """The chapter's ``scale(config) -> str`` (its package or its ``report`` module)."""
    return book.scale_of(ch)


@pytest.mark.parametrize("name", CHAPTERS)
def test_closing_table_rows_in_the_shared_format(name, smoke_result):
    """Rows: the keys of ``book.ROW_KEYS`` as strings, unique ids, a verdict in yes / partly / no, no
    plain-text maths in quantity / paper / why (nor in the claim and the scale); with a stored record
    every row gets a ``paper_preset`` cell, built from the record's numbers and config alone."""
    ch, result = chapter(name), smoke_result(name)
    rows = book.check_rows(ch.paper_vs_ours(result))
    assert all(set(r) == set(book.ROW_KEYS) for r in rows), "a row without a stored record has only ROW_KEYS"
    assert all(r["why"].strip() or r["reproduced"] == "yes" for r in rows), "a partly / no verdict says why"
    assert "diverged" in rows[-1]["quantity"], "the last row counts the diverged runs"
    for text, what in ((ch.CLAIM, "CLAIM"), (scale_fn(ch)(result.config), "scale")):
        assert isinstance(text, str) and text.strip(), what
        assert book.ascii_maths(text) is None, f"{what} has plain-text maths {book.ascii_maths(text)!r}: {text}"
        assert book.no_e_notation(text) == text, f"{what} has e-notation: {text}"
    assert "`paper` preset" not in book.comparison_table(rows)

    with_paper = ch.paper_vs_ours(result, paper=stored_record(ch, result))
    assert [r["id"] for r in with_paper] == [r["id"] for r in rows], "ids line the two presets up"
    assert all(r["paper_preset"] == r["ours"] for r in with_paper), "the same run stored must give the same cells"
    assert "`paper` preset" in book.comparison_table(with_paper).splitlines()[0]

    # the paper cells come from the record's numbers, not from the result: change them, the cells change
    shifted = {k: v + 0.5 if k.endswith(("_lo", "_hi")) or not k.endswith("_n") else v
               for k, v in ch.numbers(result).items()}
    moved = ch.paper_vs_ours(result, paper=stored_record(ch, result, shifted))
    assert [r["ours"] for r in moved] == [r["ours"] for r in rows]
    assert sum(r["paper_preset"] != r["ours"] for r in moved) >= len(rows) // 3


@pytest.mark.parametrize("name", CHAPTERS)
def test_show_paper_vs_ours_glues_table_claim_and_scale(name, smoke_result, monkeypatch):
    ch, result = chapter(name), smoke_result(name)
    glued = {}
    monkeypatch.setattr(book, "glue", lambda key, value, display=False: glued.__setitem__(key, value))
    monkeypatch.setattr(book, "_load_record", lambda chapter_name: stored_record(ch, result) | {"stale": False})
    book.show_paper_vs_ours("pre", ch, result)
    assert set(glued) == {"pre_table", "pre_claim", "pre_scale", "pre_paper_scale"}
    assert "`paper` preset" in glued["pre_table"].data and glued["pre_claim"] == ch.CLAIM
    assert glued["pre_scale"] == scale_fn(ch)(result.config) and "ran on cpu" in glued["pre_paper_scale"]
    monkeypatch.setattr(book, "_load_record", lambda chapter_name: stored_record(ch, result) | {"stale": True})
    book.show_paper_vs_ours("pre", ch, result)
    assert "`paper` preset" not in glued["pre_table"].data and "stale" in glued["pre_paper_scale"]
    with pytest.raises(TypeError, match="old form"):
        book.show_paper_vs_ours("pre", ch.paper_vs_ours(result), ch.CLAIM)


@pytest.mark.parametrize("name", CHAPTERS)
def test_live_runs_with_its_defaults(name):
    out = chapter(name).live(device="cpu")
    plt.close("all")
    assert out is not None


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_a_fully_diverging_run_is_reported_not_hidden(name):
    ch = chapter(name)
    overrides = importlib.import_module(f"test_{name}").DIVERGING
    result = ch.run(ch.config("smoke", **overrides), device="cpu", progress=False)
    diverged = {k: s.diverged for k, s in sub_experiments(result).items()}
    assert any(bool(d.any()) for d in diverged.values()), "the DIVERGING overrides made no run diverge"
    nums = ch.numbers(result)
    check_numbers(nums)
    assert any(k.endswith("_n") and v == 0 and math.isnan(nums[k[:-2]]) for k, v in nums.items()), \
        "no statistic reports zero valid runs (NaN) although runs diverged"
    table = book.comparison_table(ch.paper_vs_ours(result))
    assert "diverged" in table, "the paper-vs-ours table must show how many runs diverged"
    figs = check_figures(ch, result)
    texts = " ".join(t.get_text() for f in figs if isinstance(f, Figure) for t in f.findobj(Text))
    assert "diverged" in texts, "no figure says that runs diverged"
