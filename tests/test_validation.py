"""Argument checks of the core library (data, models, train, kernels, device), issue 13.

Every public entry point refuses a bad argument with a ``ValueError`` before doing any work, never
another exception type from deep inside torch or Python, and never silently. Three layers:

1. ``test_known_cases``: the cases found by hand (the issue's list), each with the words its message
   must contain (the parameter and, where it matters, the numbers).
2. ``test_every_bad_value_raises``: every (entry point, argument, bad value) of ``TABLE``, each tried
   with the other arguments valid.
3. Hypothesis: the same table with random valid sizes around the bad argument, and random *valid*
   edge-case inputs (sizes 1, zero data, empty ``record_steps``), which must succeed or raise
   ``ValueError`` and nothing else. Derandomized (fixed seed), bounded examples, no deadline.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overparam import data, device, kernels, models
from overparam.train import MAX_STEPS, DivergenceError, train

SETTINGS = settings(derandomize=True, deadline=None, max_examples=150, suppress_health_check=list(HealthCheck))


def unit(n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)


# ---------------------------------------------------------------------------- the table
BAD_SIZE = [0, -1, 1.5, math.nan, math.inf, True, "3", None]  # integers >= 1 (model descriptions)
BAD_COUNT = BAD_SIZE + [2**70]  # ... and what allocates: the memory guard refuses 2**70
BAD_SEED = [-1, 1.5, math.nan, "0", None, True, 2**64]
BAD_POS = [0.0, -1.0, math.nan, math.inf, "0.1", None, True]  # finite > 0
BAD_PROB = [-0.1, 1.1, math.nan, math.inf, "0.5", None]
BAD_BOOL = ["no", "yes", 1, 0, None, 1.0]
BAD_DTYPE = [torch.int64, torch.bool, torch.complex64, "float32", None, float]
BAD_DEVICE = ["tpu", "cuda:x", "cpu:0:1", 3, None]


def _sizes(s):
    return s["n"], s["d"], s["E"], s["m"]


def _model(s, **kw):
    return models.TwoLayerReLU(d=s["d"], width=s["m"], **kw)


def _params(s, **kw):
    return _model(s, **kw).init(s["E"], seed=1, dtype=torch.float64)


def _x(s):
    return torch.randn(s["n"], s["d"], generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def _y(s, pm1=False):
    y = torch.randn(s["n"], generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return torch.where(y >= 0, 1.0, -1.0).double() if pm1 else y


def _with(t: torch.Tensor, index, value) -> torch.Tensor:
    t = t.clone()
    t[index] = value
    return t


def _train_bad(s):
    n, d, E, m = _sizes(s)
    p = _params(s)
    return {
        "steps": [-1, 1.5, MAX_STEPS + 1, 10**12, math.nan, "5", True, None],
        "lr": [0.0, -1.0, math.nan, math.inf, "0.1", None, torch.ones(E + 1), torch.full((E,), math.nan), torch.zeros(E)],
        "loss": ["l1", None, 3],
        "batch_size": [0, n + 1, 1.5, "2", True],
        "record_steps": [5, [1.5], [-1], [100], "0", [math.nan], {"a": 1}],
        "snapshot_steps": [[-1], 7, [1.5], [100]],
        "metrics": [{"m": 3}, [1], "norm"],
        "on_divergence": ["ignore", None],
        "max_loss": [0.0, math.nan, -1.0, "big"],
        "seed": BAD_SEED,
        "progress": BAD_BOOL,
        "fast": BAD_BOOL,
        "desc": [3, ["x"]],
        "x": [_with(_x(s), (0, 0), math.nan), _with(_x(s), (0, 0), math.inf), torch.randn(n, d + 1), torch.randn(0, d),
              torch.randn(n), _x(s).tolist(), None, torch.randn(E + 1, n, d), torch.zeros(n, d, dtype=torch.complex64)],
        "y": [torch.randn(n + 1), _with(_y(s), 0, math.inf), _with(_y(s), 0, math.nan), _y(s).tolist(), None, torch.randn(E + 1, n)],
        "params": [{k: v for k, v in p.items() if k != "a"}, {**p, "w": torch.randn(E, m + 1, d)}, {**p, "a": torch.randn(E + 1, m)},
                   {**p, "a": torch.full((E, m), math.nan)}, {k: v.long() for k, v in p.items()}, "abc", {}, None,
                   {**p, "b": torch.randn(E, m)}, {**p, "w": torch.randn(E, m, d + 1)}],
        "model": ["abc", None, models.TwoLayerReLU(d=d + 1, width=m)],
    }


def _train_valid(s):
    return {"model": _model(s), "params": _params(s), "x": _x(s), "y": _y(s), "steps": 3, "lr": 0.01, "progress": False}


SPEC_N = 6
SPEC = kernels.spectrum(kernels.relu_ntk_gram(unit(SPEC_N, 3)))
BAD_SPEC = [torch.eye(3), None, "spec"]
BAD_LABELS = [torch.ones(SPEC_N + 1), torch.full((SPEC_N,), math.nan), [1.0] * SPEC_N, torch.ones(0), None, torch.ones(2, SPEC_N + 1)]
BAD_STEPS = [[math.nan], [1.5], [-1], [], "5", [math.inf], None]


def _init_call(model):
    return lambda members=2, seed=0, device="cpu", dtype=torch.float32: model.init(members, seed=seed, device=device, dtype=dtype)


#: name -> (function, valid kwargs from sizes, bad values per argument from sizes)
TABLE = {
    "gaussian_inputs": (data.gaussian_inputs, lambda s: dict(n=s["n"], d=s["d"]),
                        lambda s: dict(n=BAD_COUNT, d=BAD_COUNT, std=BAD_POS, seed=BAD_SEED, members=[0, -1, 1.5, "2", True])),
    "sphere_points": (data.sphere_points, lambda s: dict(n=s["n"], d=s["d"]),
                      lambda s: dict(n=BAD_COUNT, d=BAD_COUNT, seed=BAD_SEED, members=[0, -1, 1.5, True])),
    "linear_teacher": (data.linear_teacher, lambda s: dict(n=s["n"], d=s["d"]),
                       lambda s: dict(n=BAD_COUNT, d=BAD_COUNT, noise=[-1.0, math.nan, math.inf, "x", None], seed=BAD_SEED,
                                      members=[0, 1.5], beta=[[math.nan] + [1.0] * (s["d"] - 1), [1.0] * (s["d"] + 1), "abc",
                                                              torch.full((s["d"],), math.inf), [[1.0] * s["d"]], object()])),
    "xord_sample": (data.xord_sample, lambda s: dict(n=s["n"], d=4),
                    lambda s: dict(n=BAD_COUNT, d=[0, 65, 1.5, None], p_plus=BAD_PROB, p_minus=BAD_PROB, seed=BAD_SEED, members=[0, 1.5])),
    "xord_probabilities": (data.xord_probabilities, lambda s: dict(x=data.xord_all_inputs(2), p_plus=0.0, p_minus=0.5),
                           lambda s: dict(x=[torch.ones(5), [[1.0, 1.0]], None, torch.ones(0, 2), torch.ones(3, 3)],
                                          p_plus=BAD_PROB + [0.5], p_minus=BAD_PROB)),
    "xord_labels": (data.xord_labels, lambda s: dict(x=data.xord_all_inputs(2)), lambda s: dict(x=[torch.ones(5), [[1.0, 1.0]], None, torch.ones(3, 3)])),
    "xord_presence": (data.xord_presence, lambda s: dict(x=data.xord_all_inputs(2)), lambda s: dict(x=[torch.ones(5), [[1.0, 1.0]], None])),
    "xord_is_diverse": (data.xord_is_diverse, lambda s: dict(x=data.xord_all_inputs(2)), lambda s: dict(x=[torch.ones(5), "x"])),
    "xord_all_inputs": (data.xord_all_inputs, lambda s: dict(d=2), lambda s: dict(d=[0, 11, 1.5, None, True])),
    "xord_class_sizes": (data.xord_class_sizes, lambda s: dict(d=4), lambda s: dict(d=[0, 65, 1.5, "4"])),
    "xord_presence_probabilities": (data.xord_presence_probabilities, lambda s: dict(d=4, p_plus=0.5, p_minus=0.5),
                                    lambda s: dict(d=[0, 65, 1.5], p_plus=BAD_PROB, p_minus=BAD_PROB)),
    "corrupt_labels": (data.corrupt_labels, lambda s: dict(y=_y(s, pm1=True), fraction=0.5),
                       lambda s: dict(y=[torch.ones(0), [1.0, -1.0], torch.zeros(3), torch.full((3,), math.nan), None, torch.tensor(1.0)],
                                      fraction=BAD_PROB, seed=BAD_SEED)),
    "mnist_split": (data.mnist_split, lambda s: dict(),  # only arguments checked before the images are loaded
                    lambda s: dict(test_fraction=[1e-9, 1 - 1e-9, 0.0, 1.0, math.nan, "0.2"], unit_norm=BAD_BOOL, flatten=BAD_BOOL,
                                   pm1=BAD_BOOL, classes=[(3, 3), (10,), "01", (1.5,), ()], source=["internet", None],
                                   n_train=[0, -1, 1.5, "5"], n_test=[0, 1.5], seed=BAD_SEED, data_dir=[3, ["a"]])),
    "pool_images": (data.pool_images, lambda s: dict(x=torch.rand(2, 1, 8, 8), factor=2),
                    lambda s: dict(x=[[[1.0]], torch.ones(2, 8, 8), torch.ones(0, 1, 8, 8), torch.ones(2, 1, 8, 8, dtype=torch.long)],
                                   factor=[0, 29, 9, 1.5, None])),
    "center_and_scale": (data.center_and_scale, lambda s: dict(x_train=_x(s)),
                         lambda s: dict(x_train=[torch.ones(0, 3), [[1.0]], torch.ones(3), None, torch.full((2, 2), math.nan)])),
    "standardize_pixels": (data.standardize_pixels, lambda s: dict(x=torch.rand(3)), lambda s: dict(x=[[1.0], None, "x"])),
    "TwoLayerReLU": (models.TwoLayerReLU, lambda s: dict(d=s["d"], width=s["m"]),
                     lambda s: dict(d=BAD_SIZE, width=BAD_SIZE, outputs=BAD_SIZE, bias=BAD_BOOL, train_output=BAD_BOOL,
                                    init_scale=BAD_POS, output_init=["zeros", None, 1], output_std=[-1.0, math.nan, "x"],
                                    output_scale=[0.0, -1.0, math.nan, "sqrt", None])),
    "XORConvNet": (models.XORConvNet, lambda s: dict(k=s["m"]), lambda s: dict(k=BAD_SIZE, init_scale=BAD_POS)),
    "XORPatternNet": (models.XORPatternNet, lambda s: dict(k=s["m"]), lambda s: dict(k=BAD_SIZE, init_scale=BAD_POS)),
    "ConvNet": (models.ConvNet, lambda s: dict(k=s["m"]),
                lambda s: dict(k=BAD_SIZE, kernel=[0, 29, 1.5, None], stride=[0, 1.5], channels=[0, "1"], init_scale=BAD_POS)),
    "DeepReLUMLP": (models.DeepReLUMLP, lambda s: dict(sizes=(s["d"], s["m"], 1)),
                    lambda s: dict(sizes=[(5,), (5, 0, 1), "53", (5, 1.5), None, 5], bias=BAD_BOOL, init_scale=BAD_POS)),
    "TwoLayerReLU.init": (_init_call(models.TwoLayerReLU(d=3, width=4, bias=True)), lambda s: dict(members=s["E"]),
                          lambda s: dict(members=BAD_COUNT, seed=BAD_SEED, device=BAD_DEVICE, dtype=BAD_DTYPE)),
    "XORConvNet.init": (_init_call(models.XORConvNet(k=2)), lambda s: dict(members=s["E"]),
                        lambda s: dict(members=BAD_COUNT, seed=BAD_SEED, device=BAD_DEVICE, dtype=BAD_DTYPE)),
    "ConvNet.init": (_init_call(models.ConvNet(k=2)), lambda s: dict(members=s["E"]), lambda s: dict(members=BAD_COUNT, dtype=BAD_DTYPE)),
    "DeepReLUMLP.init": (_init_call(models.DeepReLUMLP((3, 4, 1))), lambda s: dict(members=s["E"]),
                         lambda s: dict(members=BAD_COUNT, seed=BAD_SEED, dtype=BAD_DTYPE)),
    "TwoLayerReLU.forward": (lambda params, x, s=None: _model(s).forward(params, x), lambda s: dict(params=_params(s), x=_x(s), s=s),
                             lambda s: dict(params=_train_bad(s)["params"][:3] + [_train_bad(s)["params"][8], "abc", None],
                                            x=[torch.randn(s["n"], s["d"] + 1), torch.randn(s["n"]), _x(s).tolist(), None,
                                               torch.randn(s["E"] + 1, s["n"], s["d"])])),
    "DeepReLUMLP.forward": (lambda params, x: models.DeepReLUMLP((3, 4, 1)).forward(params, x),
                            lambda s: dict(params=models.DeepReLUMLP((3, 4, 1)).init(2), x=torch.randn(5, 3, dtype=torch.float32)),
                            lambda s: dict(params=[{"W0": torch.randn(2, 4, 3), "b0": torch.randn(2, 4)}, {}, "abc"],
                                           x=[torch.randn(5, 4), [[1.0, 2.0, 3.0]]])),
    "ConvNet.forward": (lambda x: models.ConvNet(k=2, kernel=5).forward(models.ConvNet(k=2, kernel=5).init(2), x),
                        lambda s: dict(x=torch.rand(3, 1, 8, 8, dtype=torch.float32)),
                        lambda s: dict(x=[torch.rand(3, 1, 4, 4), torch.rand(3, 2, 8, 8), torch.rand(3, 8, 8), None])),
    "XORPatternNet.forward": (lambda x: models.XORPatternNet(k=2).forward(models.XORPatternNet(k=2).init(2), x),
                              lambda s: dict(x=data.xord_presence(data.xord_all_inputs(2))),
                              lambda s: dict(x=[data.xord_all_inputs(2), torch.ones(5, 3), None])),
    "paired_init": (models.paired_init, lambda s: dict(params=models.TwoLayerReLU(d=3, width=4).init(2)),
                    lambda s: dict(params=[models.TwoLayerReLU(d=3, width=5).init(2), {"w": torch.randn(2, 4, 3)}, None, "abc",
                                           {"w": torch.randn(2, 4), "a": torch.randn(2, 4)}])),
    "train": (train, _train_valid, _train_bad),
    "train hinge": (train, lambda s: {**_train_valid(s), "loss": "hinge", "y": _y(s, pm1=True)},
                    lambda s: dict(y=[torch.zeros(s["n"]), _with(_y(s, pm1=True), 0, 0.0), _y(s) * 2 + 3])),
    "train logistic SGD": (train, lambda s: {**_train_valid(s), "loss": "logistic", "y": _y(s, pm1=True), "batch_size": 1},
                           lambda s: dict(y=[torch.zeros(s["n"]), _y(s) + 5], seed=BAD_SEED, batch_size=[0, s["n"] + 1])),
    "relu_ntk_gram": (kernels.relu_ntk_gram, lambda s: dict(x=unit(s["n"], s["d"])),
                      lambda s: dict(x=[torch.empty(0, 3), torch.ones(3, 2), torch.ones(3), [[1.0, 0.0]], torch.full((2, 2), math.nan),
                                        torch.empty(3, 0), None])),
    "gram_monte_carlo": (kernels.gram_monte_carlo, lambda s: dict(x=unit(s["n"], s["d"]), samples=10),
                         lambda s: dict(x=[torch.empty(0, 3), torch.ones(3, 2), None], samples=BAD_COUNT, seed=BAD_SEED, chunk=[0, 1.5])),
    "empirical_gram": (kernels.empirical_gram, lambda s: dict(w=torch.randn(s["m"], s["d"]), x=unit(s["n"], s["d"])),
                       lambda s: dict(w=[[[1.0]], torch.randn(s["m"], s["d"] + 1), torch.randn(5), None, torch.randn(1, 1, 1, 1)],
                                      x=[torch.randn(2, 5, s["d"]), [[1.0]], torch.empty(0, s["d"]), None])),
    "spectrum": (kernels.spectrum, lambda s: dict(h=kernels.relu_ntk_gram(unit(s["n"], s["d"] + 2))),
                 lambda s: dict(h=[torch.empty(0, 0), torch.ones(2, 3), torch.full((3, 3), math.nan), [[1.0]], torch.ones(3, 3), None])),
    "projections": (kernels.projections, lambda s: dict(spec=SPEC, y=torch.ones(SPEC_N)), lambda s: dict(spec=BAD_SPEC, y=BAD_LABELS)),
    "label_complexity": (kernels.label_complexity, lambda s: dict(spec=SPEC, y=torch.ones(SPEC_N)), lambda s: dict(spec=BAD_SPEC, y=BAD_LABELS)),
    "generalization_bound": (kernels.generalization_bound, lambda s: dict(spec=SPEC, y=torch.ones(SPEC_N)),
                             lambda s: dict(spec=BAD_SPEC, y=BAD_LABELS)),
    "distance_bound": (kernels.distance_bound, lambda s: dict(spec=SPEC, y=torch.ones(SPEC_N)), lambda s: dict(spec=BAD_SPEC, y=BAD_LABELS)),
    "predicted_residual": (kernels.predicted_residual, lambda s: dict(spec=SPEC, r0=torch.ones(s["E"], SPEC_N), lr=0.1, steps=[0, 3]),
                           lambda s: dict(spec=BAD_SPEC, r0=BAD_LABELS, lr=BAD_POS, steps=BAD_STEPS)),
    "predicted_distance": (kernels.predicted_distance, lambda s: dict(spec=SPEC, r0=torch.ones(SPEC_N), lr=0.1, steps=[0, 3]),
                           lambda s: dict(spec=BAD_SPEC, r0=BAD_LABELS, lr=BAD_POS, steps=BAD_STEPS)),
    "resolve_device": (device.resolve_device, lambda s: dict(device="cpu"), lambda s: dict(device=BAD_DEVICE + ["cuda:7"])),
    "cpu_generator": (device.cpu_generator, lambda s: dict(seed=0), lambda s: dict(seed=BAD_SEED)),
    "cpu_threads": (lambda device, n: device_threads(device, n), lambda s: dict(device=torch.device("cpu"), n=1),
                    lambda s: dict(device=["tpu", 3.5], n=[0, 1.5, None])),
}


def device_threads(dev, n):
    with device.cpu_threads(dev, n):
        pass


SMALL = {"n": 5, "d": 3, "E": 2, "m": 4}


def _expect_value_error(name: str, arg: str, value, s) -> None:
    fn, valid, _ = TABLE[name]
    kwargs = {**valid(s), arg: value}
    try:
        fn(**kwargs)
    except ValueError:
        return
    except Exception as e:  # noqa: BLE001 - the point: nothing but ValueError
        pytest.fail(f"{name}({arg}={value!r:.60}) raised {type(e).__name__}: {e}, not ValueError")
    pytest.fail(f"{name}({arg}={value!r:.60}) was accepted silently")


def test_table_valid_calls_succeed():
    """The table's valid arguments work (so a refusal below is the bad argument's doing)."""
    for name, (fn, valid, _) in TABLE.items():
        if name != "mnist_split":
            fn(**valid(SMALL))


def test_every_bad_value_raises():
    n_cases, failures = 0, []
    for name, (_, _, bad) in TABLE.items():
        for arg, values in bad(SMALL).items():
            for value in values:
                n_cases += 1
                try:
                    _expect_value_error(name, arg, value, SMALL)
                except pytest.fail.Exception as e:
                    failures.append(str(e))
    assert not failures, f"{len(failures)} of {n_cases} bad inputs not refused with ValueError:\n" + "\n".join(failures)
    assert n_cases > 350


@st.composite
def bad_case(draw):
    s = {"n": draw(st.integers(1, 6)), "d": draw(st.integers(1, 4)), "E": draw(st.integers(1, 3)), "m": draw(st.integers(1, 5))}
    name = draw(st.sampled_from(sorted(TABLE)))
    bad = TABLE[name][2](s)
    arg = draw(st.sampled_from(sorted(bad)))
    value = draw(st.sampled_from(bad[arg]))
    return name, arg, value, s


@SETTINGS
@given(bad_case())
def test_property_bad_inputs_raise_value_error(case):
    name, arg, value, s = case
    _expect_value_error(name, arg, value, s)


@SETTINGS
@given(
    n=st.integers(1, 4), d=st.integers(1, 3), E=st.integers(1, 3), m=st.integers(1, 4), steps=st.integers(0, 4),
    loss=st.sampled_from(["mse", "sse", "hinge", "logistic"]), bias=st.booleans(), train_output=st.booleans(),
    sgd=st.booleans(), zero_x=st.booleans(), record=st.one_of(st.none(), st.lists(st.integers(0, 4), max_size=3)),
    lr=st.sampled_from([1e-3, 0.1, 1.0, 1e3]),
)
def test_property_edge_cases_train_or_refuse_clearly(n, d, E, m, steps, loss, bias, train_output, sgd, zero_x, record, lr):
    """Valid but extreme inputs (size 1, zero inputs, empty record_steps, huge lr): ``train`` returns a
    consistent result or raises ValueError / DivergenceError, never anything else."""
    model = models.TwoLayerReLU(d=d, width=m, bias=bias, train_output=train_output)
    params = model.init(E, seed=0, dtype=torch.float64)
    x = torch.zeros(n, d) if zero_x else torch.randn(n, d, generator=torch.Generator().manual_seed(n))
    y = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
    if record is not None:
        record = [r for r in record if r <= steps]
    try:
        res = train(model, params, x, y, steps=steps, lr=lr, loss=loss, batch_size=1 if sgd else None,
                    record_steps=record, progress=False)
    except (ValueError, DivergenceError):
        return
    assert res.final_loss.shape == (E,) and bool(torch.isfinite(res.final_loss).all())
    assert not bool(res.diverged.any())
    assert all(bool(torch.isfinite(v).all()) for v in res.params.values())


@SETTINGS
@given(n=st.integers(1, 5), d=st.integers(1, 4), scale=st.sampled_from([1e-6, 1.0, 1e6]))
def test_property_kernels_on_small_inputs(n, d, scale):
    """Tiny Gram matrices: a result or a ValueError (e.g. not positive definite), nothing else."""
    x = unit(n, d, seed=n * 10 + d)
    h = kernels.relu_ntk_gram(x)
    assert h.shape == (n, n)
    try:
        spec = kernels.spectrum(h)
    except ValueError:
        return
    y = torch.ones(n) * scale
    for value in (kernels.label_complexity(spec, y), kernels.distance_bound(spec, y),
                  kernels.predicted_residual(spec, y, 0.5, [0, 1, 10])):
        assert bool(torch.isfinite(value).all())


# ---------------------------------------------------------------------------- the cases, by hand
M = models.TwoLayerReLU(d=3, width=4)
P = M.init(2, seed=0)
X = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
Y = torch.randn(10, generator=torch.Generator().manual_seed(1))


def _tr(**kw):
    args = dict(model=M, params=P, x=X, y=Y, steps=5, lr=0.1, progress=False)
    args.update(kw)
    return train(args.pop("model"), args.pop("params"), args.pop("x"), args.pop("y"), **args)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: models.TwoLayerReLU(d=3, width=4, bias="no"), ["bias", "'no'", "True or False"]),
        (lambda: models.TwoLayerReLU(d=3, width=4, train_output="no"), ["train_output", "'no'"]),
        (lambda: models.DeepReLUMLP((5, 3), bias="no"), ["bias", "'no'"]),
        (lambda: M.init(2, dtype=torch.int64), ["dtype", "floating", "torch.int64"]),
        (lambda: M.forward(models.TwoLayerReLU(d=3, width=6).init(2), X), ["params['w']", "(2, 4, 3)", "(2, 6, 3)"]),
        (lambda: _tr(seed=-1), ["seed", "-1"]),
        (lambda: _tr(loss="hinge", y=(Y > 0).float()), ["y", "+1 and -1", "hinge"]),
        (lambda: data.linear_teacher(5, 3, beta=[math.nan, 1, 1]), ["beta", "finite"]),
        (lambda: kernels.relu_ntk_gram(torch.empty(0, 3)), ["x", "empty", "(0, 3)"]),
        (lambda: kernels.predicted_residual(SPEC, torch.ones(SPEC_N), 0.1, [math.nan]), ["steps", "nan"]),
        (lambda: kernels.predicted_residual(SPEC, torch.ones(SPEC_N), 0.1, [1.5]), ["steps", "1.5"]),
        (lambda: kernels.distance_bound(SPEC, torch.full((SPEC_N,), math.nan)), ["y", "finite"]),
        (lambda: data.gaussian_inputs(10**6, 10**6), ["memory limit", "lower n or d"]),
        (lambda: data.xord_sample(10**10, 64), ["memory limit", "n, d or members"]),
        (lambda: models.TwoLayerReLU(d=10**6, width=10**6).init(10), ["memory limit", "members or width or d"]),
        (lambda: kernels.relu_ntk_gram(torch.nn.functional.normalize(torch.ones(10**6, 3), dim=1)), ["memory limit", "1000000 x 1000000"]),
        (lambda: _tr(steps=10**12), ["steps", "1000000000000", "lower steps"]),
        (lambda: kernels.predicted_residual(SPEC, torch.ones(SPEC_N + 1), 0.1, [1]), ["r0", f"n = {SPEC_N}", f"({SPEC_N + 1},)"]),
        (lambda: kernels.predicted_distance(SPEC, torch.ones(SPEC_N + 1), 0.1, [1]), ["r0", f"n = {SPEC_N}"]),
        (lambda: kernels.label_complexity(SPEC, torch.ones(SPEC_N + 1)), ["y", f"n = {SPEC_N}"]),
        (lambda: kernels.generalization_bound(SPEC, torch.ones(SPEC_N + 1)), ["y", f"n = {SPEC_N}"]),
        (lambda: _tr(params={**P, "a": torch.randn(3, 4)}), ["params['a']", "(2, 4)", "(3, 4)"]),
        (lambda: _tr(params={**P, "w": torch.randn(2, 5, 3)}), ["params['w']", "width", "(2, 5, 3)"]),
        (lambda: _tr(params={"w": P["w"]}), ["missing ['a']"]),
        (lambda: _tr(x=torch.randn(10, 4)), ["(n, 3)", "(E=2, n, 3)", "got (10, 4)"]),
        (lambda: _tr(x=torch.randn(0, 3), y=torch.randn(0)), ["x", "empty"]),
        (lambda: _tr(x=_with(X, (0, 0), math.nan)), ["x", "NaN", "not a divergence"]),
        (lambda: _tr(y=_with(Y, 0, math.inf)), ["y", "NaN/inf", "not a divergence"]),
        (lambda: data.corrupt_labels(torch.ones(0), 0.5), ["y", "empty"]),
        (lambda: data.mnist_split(test_fraction=1e-9), ["test_fraction", "1e-09"]),
        (lambda: kernels.spectrum(torch.empty(0, 0)), ["h", "empty"]),
        (lambda: data.xord_probabilities(torch.ones(5), 0.5, 0.5), ["x", "(..., d, 2)", "(5,)"]),
        (lambda: device.resolve_device("cuda:7"), ["cuda:7"]),
    ],
)
def test_known_cases(make, words):
    with pytest.raises(ValueError) as info:
        make()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {info.value}"


def test_cuda_index_checked_against_device_count(monkeypatch):
    """``cuda:N`` with N >= torch.cuda.device_count() is refused even where CUDA exists."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device.resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match=r"'cuda:7' was requested but only 2 CUDA device\(s\) exist"):
        device.resolve_device("cuda:7")


def test_memory_limit_is_overridable(monkeypatch):
    """The module setting and the environment variable both move the limit; the default is half
    of the available memory."""
    monkeypatch.setattr(device, "MEMORY_LIMIT_GB", None)
    monkeypatch.delenv("OVERPARAM_MEMORY_LIMIT_GB", raising=False)
    assert 0 < device.memory_limit_bytes() <= 0.5 * device._available_host_bytes() * 1.01
    monkeypatch.setenv("OVERPARAM_MEMORY_LIMIT_GB", "1e-4")  # 100 KB
    with pytest.raises(ValueError, match="OVERPARAM_MEMORY_LIMIT_GB"):
        data.gaussian_inputs(1000, 100)
    monkeypatch.setenv("OVERPARAM_MEMORY_LIMIT_GB", "-3")
    with pytest.raises(ValueError, match="positive number of GB"):
        data.gaussian_inputs(10, 2)
    monkeypatch.setattr(device, "MEMORY_LIMIT_GB", 1e-5)  # the module setting wins
    with pytest.raises(ValueError, match="memory limit"):
        M.init(1000)
    monkeypatch.setattr(device, "MEMORY_LIMIT_GB", math.inf)
    assert data.gaussian_inputs(1000, 100).shape == (1000, 100)


def test_record_steps_empty_still_checks_and_reports_the_final_step():
    """``record_steps=[]`` records nothing on purpose; the final loss is still computed (and checked)."""
    res = _tr(record_steps=[])
    assert res.loss.shape == (0, 2) and res.steps.numel() == 0
    full = _tr(record_steps=[5])
    torch.testing.assert_close(res.final_loss, full.final_loss, rtol=0, atol=0)
    torch.testing.assert_close(res.params["w"], full.params["w"], rtol=0, atol=0)
