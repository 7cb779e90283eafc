"""Every chapter's Config refuses bad input with a clear ValueError, and every run refuses an
oversized configuration before any work (issue 13, chapter side).

Property-based (hypothesis, derandomized, bounded): for every field of every chapter's Config,
values of the wrong type, NaN, infinities, huge and negative numbers, empty and ragged sequences
either give a valid config or a ``ValueError`` naming the field; never another exception. A valid
value survives a second round of validation unchanged (normalization is idempotent).
"""

from __future__ import annotations

import dataclasses
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CHAPTERS, chapter
from overparam import chapter as chapter_base

SCALARS = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, -1, 0.5, 1e-300, 1e300, float("nan"), float("inf"), "book", "cpu", b"x"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.tuples(SCALARS, SCALARS),
                   st.dictionaries(st.text(max_size=2), SCALARS, max_size=2))
FIELDS = [(name, f.name) for name in CHAPTERS for f in dataclasses.fields(chapter(name).config("smoke"))]


@pytest.mark.parametrize(("name", "field"), FIELDS, ids=[f"{n}.{f}" for n, f in FIELDS])
@settings(derandomize=True, max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=VALUES)
def test_config_field_refuses_bad_values_clearly(name, field, value):
    ch = chapter(name)
    try:
        cfg = ch.config("smoke", **{field: value})
    except ValueError as err:
        assert str(err), f"{name}.{field}={value!r}: an empty error message"
        return
    stored = getattr(cfg, field)
    assert ch.config("smoke", **{field: stored}) == cfg, f"{name}.{field}: normalization is not idempotent"
    for v in stored if isinstance(stored, tuple) else (stored,):
        assert not (isinstance(v, float) and math.isnan(v)), f"{name}.{field} accepted NaN ({value!r})"


@pytest.mark.parametrize("name", CHAPTERS)
def test_unknown_fields_and_presets_are_refused(name):
    ch = chapter(name)
    with pytest.raises(ValueError, match="unknown config field"):
        ch.config("smoke", no_such_field=1)
    with pytest.raises(ValueError, match="preset must be one of"):
        ch.config("huge")
    with pytest.raises(ValueError, match="cfg must be"):
        ch.run({"seeds": 3}, device="cpu", progress=False)


@pytest.mark.parametrize("name", CHAPTERS)
def test_run_refuses_a_run_estimated_above_the_limit_before_any_work(name, monkeypatch):
    ch = chapter(name)
    monkeypatch.setattr(chapter_base, "MAX_RUN_SECONDS", 1e-6)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="OVERPARAM_MAX_RUN_SECONDS"):
        ch.run(ch.config("smoke"), device="cpu", progress=False)
    assert time.perf_counter() - t0 < 5, "the time guard ran only after some work"


def test_time_limit_reads_the_environment(monkeypatch):
    monkeypatch.setenv("OVERPARAM_MAX_RUN_SECONDS", "inf")
    assert chapter_base.max_run_seconds() == math.inf
    monkeypatch.setenv("OVERPARAM_MAX_RUN_SECONDS", "soon")
    with pytest.raises(ValueError, match="OVERPARAM_MAX_RUN_SECONDS"):
        chapter_base.max_run_seconds()
