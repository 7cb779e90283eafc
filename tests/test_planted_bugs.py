"""Tests aimed at realistic bugs in the core library (issue 13): each test here fails when the bug
named in its docstring is planted in ``train.py`` or ``data.py`` (checked by planting each one)."""

from __future__ import annotations

import gzip
import math
import shutil
from dataclasses import dataclass, field

import pytest
import torch

from overparam import data, models
from overparam.train import DivergenceError, train


def test_sgd_members_draw_independent_minibatches():
    """Bug: every member draws the same minibatch (one index row shared by all members). Identical
    members on identical data must then drift apart under SGD; with a shared batch they stay equal."""
    model = models.TwoLayerReLU(d=3, width=5)
    one = model.init(1, seed=0, dtype=torch.float64)
    params = {k: v.repeat(4, *([1] * (v.ndim - 1))) for k, v in one.items()}
    x, y, _ = data.linear_teacher(40, 3, seed=1)
    for fast in (True, False):
        res = train(model, params, x.double(), y.double(), steps=3, lr=0.1, batch_size=4, seed=0, progress=False, fast=fast)
        w = res.params["w"]
        for i in range(4):
            for j in range(i + 1, 4):
                assert not torch.equal(w[i], w[j]), f"members {i} and {j} took identical SGD steps (fast={fast})"


@dataclass(frozen=True)
class SqrtNet:
    """``f(x) = sqrt(w) * x``: the loss jumps from small and finite straight to NaN once ``w < 0``
    (it never passes through a large finite value or inf)."""

    trainable: tuple[str, ...] = field(default=("w",))
    input_ndim = 1

    def forward(self, params, x):
        return params["w"][:, 0].sqrt()[:, None] * x[None, :, 0]


def test_nan_loss_counts_as_divergence():
    """Bug: only ``loss > max_loss`` counts as divergence (``NaN > max_loss`` is False)."""
    model = SqrtNet()
    params = {"w": torch.tensor([[1.0], [1.0]], dtype=torch.float64)}
    x, y = torch.ones(4, 1, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    lr = torch.tensor([0.01, 10.0], dtype=torch.float64)  # member 1 overshoots to w < 0 at step 1
    with pytest.raises(DivergenceError) as info:
        train(model, params, x, y, steps=5, lr=lr, progress=False)
    assert info.value.members == [1] and info.value.steps == [1]
    masked = train(model, params, x, y, steps=5, lr=lr, progress=False, on_divergence="mask", record_steps=[0])
    assert masked.diverged.tolist() == [False, True]
    sgd = train(model, params, x, y, steps=5, lr=lr, batch_size=2, progress=False, on_divergence="mask", record_steps=[0])
    assert sgd.diverged.tolist() == [False, True]


def test_masked_members_stay_frozen():
    """Bug: ``on_divergence="mask"`` records the divergence but keeps updating the diverged members.
    A small ``max_loss`` flags member 1 while its parameters are still finite; from that step on
    they must not move, while the other members keep training."""
    model = models.TwoLayerReLU(d=3, width=6)
    params = model.init(3, seed=0, dtype=torch.float64)
    x, y, _ = data.linear_teacher(20, 3, seed=0)
    x, y = x.double(), y.double()
    lr = torch.tensor([0.01, 1.5, 0.01], dtype=torch.float64)  # member 1's loss: 1.1, 4.6, 32, 3e4, ...
    steps = 20
    res = train(model, params, x, y, steps=steps, lr=lr, max_loss=10.0, on_divergence="mask",
                record_steps=[0], snapshot_steps=range(steps + 1), progress=False)
    assert res.diverged.tolist() == [False, True, False]
    t = int(res.diverged_at[1])
    assert 0 < t < steps - 5
    frozen = [s["w"][1] for s in res.snapshots[t:]]
    assert all(torch.isfinite(w).all() for w in frozen)
    assert all(torch.equal(w, frozen[0]) for w in frozen), "a masked member kept moving"
    assert torch.equal(res.params["w"][1].cpu(), frozen[0])
    assert not torch.equal(res.snapshots[t]["w"][0], res.snapshots[-1]["w"][0]), "the healthy members must keep training"


def test_divergence_is_checked_at_the_final_step_whatever_record_steps_says():
    """Bug: divergence only checked at recorded steps, so lr=1e3 with record_steps=[0] or [] returned
    NaN parameters as if fine (full batch and SGD)."""
    model = models.TwoLayerReLU(d=3, width=4)
    params = model.init(2, seed=0)
    x, y = torch.randn(10, 3), torch.randn(10)
    for batch_size in (None, 4):
        for record in ([0], []):
            with pytest.raises(DivergenceError):
                train(model, params, x, y, steps=50, lr=1e3, record_steps=record, batch_size=batch_size, progress=False)
            res = train(model, params, x, y, steps=50, lr=1e3, record_steps=record, batch_size=batch_size,
                        on_divergence="mask", progress=False)
            assert res.diverged.all(), (batch_size, record)


def test_corruption_positions_differ_across_rows():
    """Bug: ``corrupt_labels`` re-draws the same positions in every row (one permutation, or the
    generator re-seeded per row). With 8 rows and 25% re-drawn, the flipped positions of the rows
    must cover far more than one row's 25%."""
    n, rows, fraction = 200, 8, 0.25
    y = torch.ones(rows, n)
    z = data.corrupt_labels(y, fraction, seed=3)
    k = round(fraction * n)
    flipped = z != y
    assert all(0 < int(r.sum()) <= k for r in flipped)
    assert not all(torch.equal(flipped[0], r) for r in flipped[1:])
    assert int(flipped.any(0).sum()) > 1.5 * k, "the rows re-drew the same positions"


def test_mnist_checksum_fails_on_a_file_that_is_still_valid_gzip(tmp_path):
    """Bug: the md5 check skipped or compared wrongly. The corrupted file here is a valid gzip of a
    valid IDX file with one label changed, so nothing but the checksum can refuse it."""
    src = data._offline_dir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(src / name, tmp_path / name)
        (tmp_path / name).chmod(0o644)
    raw = bytearray(gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[8 + 5] = (raw[8 + 5] + 1) % 10  # one label, still a digit
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    assert len(gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())) == 10008
    with pytest.raises(ValueError, match="failed its checksum"):
        data.mnist_split(data_dir=tmp_path)
    with pytest.raises(ValueError, match="failed its checksum"):
        data.load_mnist_pool("offline", data_dir=tmp_path)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_data_is_refused_not_reported_as_divergence(value):
    """Bug: NaN in x or y passed through and surfaced as a DivergenceError advising a lower learning rate."""
    model = models.TwoLayerReLU(d=3, width=4)
    params = model.init(2, seed=0)
    x, y = torch.randn(10, 3), torch.randn(10)
    x[3, 1] = value
    with pytest.raises(ValueError, match="x holds 1 NaN/inf") as info:
        train(model, params, x, y, steps=3, lr=0.1, progress=False)
    assert "learning rate" not in str(info.value)


def test_infinite_weights_with_a_finite_hinge_loss_count_as_divergence():
    """A step that overflows the weights can leave a hinge loss of exactly 0 (every margin infinite):
    the run has diverged even though its loss is finite, and must be flagged."""
    import torch

    from overparam import models
    from overparam.train import train

    net = models.TwoLayerReLU(d=2, width=2, train_output=False)
    params = net.init(3, seed=0)
    x, y = torch.tensor([[1.0, 0.5], [0.5, 1.0]]), torch.tensor([1.0, 1.0])
    params["w"] = params["w"].abs() * 1e-3  # both units active on both points, margins below 1
    params["a"] = params["a"].abs() * 1e3  # both units vote +1: a huge step makes every margin +inf
    res = train(net, params, x, y, steps=3, lr=3e38, loss="hinge", on_divergence="mask", progress=False,
                record_steps=[0])
    inf_weights = ~torch.isfinite(res.params["w"].flatten(1)).all(1)
    assert bool(inf_weights.any()), "the planted overflow did not happen"
    assert bool(torch.isfinite(res.final_loss[inf_weights]).all()), "the loss should stay finite (hinge 0)"
    assert torch.equal(res.diverged, inf_weights), f"infinite weights {inf_weights} but diverged {res.diverged}"
