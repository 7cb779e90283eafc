"""Problem generators and data loaders.

Every generator takes a ``seed`` and returns CPU tensors (move them with ``.to(device)``); the same
seed gives the same numbers. Generators that take ``members`` return one independent draw per
ensemble member, stacked on a leading axis: ``(E, n, d)`` instead of ``(n, d)``.

Real data: the MNIST test set (10,000 images) ships with the package as the offline default and is
checksum-verified on every load. The full 70,000-image MNIST is an opt-in download
(:func:`download_mnist`), cached and verified; nothing downloads at import time.
MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (CC BY-SA 3.0).
"""

from __future__ import annotations

import functools

import gzip
import hashlib
import itertools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from ._validate import _short, check_bool, check_choice, check_float, check_int, check_int_sequence, check_tensor
from .device import check_memory, cpu_generator

__all__ = [
    "XORD_PATTERNS",
    "xord_all_inputs",
    "xord_labels",
    "xord_is_diverse",
    "xord_class_sizes",
    "xord_probabilities",
    "xord_sample",
    "xord_presence",
    "xord_presence_probabilities",
    "gaussian_inputs",
    "sphere_points",
    "linear_teacher",
    "corrupt_labels",
    "MNISTSplit",
    "mnist_split",
    "mnist_pool_sizes",
    "MNIST_PIXEL_MEAN",
    "MNIST_PIXEL_STD",
    "standardize_pixels",
    "pool_images",
    "center_and_scale",
    "load_mnist_pool",
    "download_mnist",
    "MNIST_MD5",
]

# --------------------------------------------------------------------------------------------
# XORD (Brutzkus & Globerson, ICML 2019, arXiv 1810.03037, Section 3)
# --------------------------------------------------------------------------------------------

#: The four 2-D patterns of XORD: p1 = (1, 1), p2 = (1, -1), p3 = (-1, -1), p4 = (-1, 1).
#: P+ = {p1, p3} (the "XOR-positive" patterns), P- = {p2, p4}.
XORD_PATTERNS = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
POSITIVE_PATTERNS = (0, 2)
NEGATIVE_PATTERNS = (1, 3)


def _check_xord_x(x) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor of XORD inputs, shape (..., d, 2); got {_short(x)}")
    if x.ndim < 2 or x.shape[-1] != 2 or x.shape[-2] < 1:
        raise ValueError(f"x must have shape (..., d, 2) with d >= 1; got {tuple(x.shape)}")


def xord_all_inputs(d: int) -> torch.Tensor:
    """All ``4**d`` XORD inputs, shape ``(4**d, d, 2)``: d positions, each one of the 4 patterns.

    Small d (the paper's d = 4 gives 256 inputs) lets the test error be computed exactly.
    """
    d = check_int("d", d, 1, 10)
    idx = torch.tensor(list(itertools.product(range(4), repeat=d)), dtype=torch.long)
    return XORD_PATTERNS[idx]


def xord_labels(x: torch.Tensor) -> torch.Tensor:
    """Labels of XORD inputs ``x`` of shape ``(..., d, 2)``: +1 iff some position holds a P+ pattern.

    A position holds a positive pattern iff its two coordinates are equal (x_j1 * x_j2 = +1).
    Returns a float tensor of shape ``(...)`` with entries +-1.
    """
    _check_xord_x(x)
    positive = (x[..., 0] * x[..., 1] > 0).any(dim=-1)
    return positive.to(x.dtype) * 2 - 1


def xord_is_diverse(x: torch.Tensor) -> torch.Tensor:
    """Which XORD inputs ``x`` ``(..., d, 2)`` are *diverse* (Brutzkus & Globerson 2019, Section 3).

    A positive point is diverse if it contains all four patterns; a negative point is diverse if
    it contains both negative patterns. Returns a bool tensor of shape ``(...)``.
    """
    _check_xord_x(x)
    has = torch.stack([(x == p.to(x.device, x.dtype)).all(-1).any(-1) for p in XORD_PATTERNS], dim=-1)  # (..., 4)
    positive = xord_labels(x) > 0
    return torch.where(positive, has.all(-1), has[..., 1] & has[..., 3])


def xord_class_sizes(d: int) -> dict[str, int]:
    """Number of XORD inputs in each of the four classes for ``d`` positions.

    ``pos_diverse`` (all four patterns), ``pos_other`` (positive, not diverse), ``neg_diverse``
    (both negative patterns) and ``neg_other`` (the 2 constant negative points).
    """
    d = check_int("d", d, 1, 64)
    from math import comb

    pos_diverse = sum((-1) ** j * comb(4, j) * (4 - j) ** d for j in range(5))
    return {
        "pos_diverse": pos_diverse,
        "pos_other": 4**d - 2**d - pos_diverse,
        "neg_diverse": 2**d - 2,
        "neg_other": 2,
    }


def _xord_check_p(d: int, p_plus: float, p_minus: float) -> tuple[float, float]:
    p_plus = check_float("p_plus", p_plus, 0, 1)
    p_minus = check_float("p_minus", p_minus, 0, 1)
    sizes = xord_class_sizes(d)
    for name, p, key_div, key_other in (("p_plus", p_plus, "pos_diverse", "pos_other"), ("p_minus", p_minus, "neg_diverse", "neg_other")):
        if (p > 0 and sizes[key_div] == 0) or (p < 1 and sizes[key_other] == 0):
            raise ValueError(f"{name}={p} is impossible for d={d} (no {key_div if p > 0 else key_other} inputs); use d >= 4")
    return p_plus, p_minus


def xord_probabilities(x: torch.Tensor, p_plus: float, p_minus: float) -> torch.Tensor:
    """Probability of each XORD input ``x`` ``(..., d, 2)`` under the distribution of :func:`xord_sample`.

    ``P(y = +1) = P(y = -1) = 1/2``; given its label, a point is diverse with probability ``p_plus``
    (resp. ``p_minus``) and is uniform within its class (diverse or not). Summed over
    :func:`xord_all_inputs` the probabilities give 1, so test errors can be computed exactly.
    """
    _check_xord_x(x)
    d = check_int("d (x.shape[-2])", x.shape[-2], 1, 64)
    p_plus, p_minus = _xord_check_p(d, p_plus, p_minus)
    sizes = xord_class_sizes(d)
    positive, diverse = xord_labels(x) > 0, xord_is_diverse(x)
    def c(v: float) -> torch.Tensor:
        return torch.tensor(v, dtype=torch.float64)

    mass = torch.where(
        positive,
        torch.where(diverse, c(p_plus / max(sizes["pos_diverse"], 1)), c((1 - p_plus) / max(sizes["pos_other"], 1))),
        torch.where(diverse, c(p_minus / max(sizes["neg_diverse"], 1)), c((1 - p_minus) / max(sizes["neg_other"], 1))),
    )
    return 0.5 * mass


def xord_sample(
    n: int, d: int, *, p_plus: float = 0.5, p_minus: float = 0.5, seed: int = 0, members: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """i.i.d. XORD samples (Brutzkus & Globerson 2019, Section 3): ``(x, y)`` with shapes
    ``(n, d, 2)``, ``(n,)`` (or ``(E, n, d, 2)``, ``(E, n)`` with ``members=E``, one set per member).

    Labels are +-1 with probability 1/2 each. A positive point is diverse (contains all four
    patterns) with probability ``p_plus``, a negative point (only the patterns (1,-1), (-1,1)) is
    diverse (contains both) with probability ``p_minus``; within each of the four classes the point
    is uniform (see :func:`xord_class_sizes`, :func:`xord_probabilities`). Needs ``d >= 4`` unless
    ``p_plus = 0``. Drawn by rejection from uniform patterns, vectorized.
    """
    n, d = check_int("n", n, 1), check_int("d", d, 1, 64)
    p_plus, p_minus = _xord_check_p(d, p_plus, p_minus)
    E = 1 if members is None else check_int("members", members, 1)
    # labels, the (total, d) index and the float32 (total, d, 2) output, plus rejection candidates
    check_memory(E * n * (40 + 40 * d), f"xord_sample of {E} x {n} points with d={d}", "n, d or members")
    g = cpu_generator(seed)
    total = E * n
    u = torch.rand(total, generator=g, dtype=torch.float64)
    label_pos = u < 0.5
    want_div = torch.where(label_pos, (u / 0.5) < p_plus, ((u - 0.5) / 0.5) < p_minus)
    idx = torch.empty(total, d, dtype=torch.long)
    neg_const = ~label_pos & ~want_div  # the two constant negative points
    which = torch.randint(0, 2, (total,), generator=g) * 2 + 1  # pattern 1 or 3
    idx[neg_const] = which[neg_const, None].expand(-1, d)
    todo = ~neg_const
    while bool(todo.any()):
        rows = torch.nonzero(todo).flatten()
        cand_all = torch.randint(0, 4, (len(rows), d), generator=g)
        cand_neg = torch.randint(0, 2, (len(rows), d), generator=g) * 2 + 1
        cand = torch.where(label_pos[rows, None], cand_all, cand_neg)
        xc = XORD_PATTERNS[cand]
        ok = (xord_labels(xc) > 0) == label_pos[rows]
        ok &= xord_is_diverse(xc) == want_div[rows]
        idx[rows[ok]] = cand[ok]
        todo[rows[ok]] = False
    x = XORD_PATTERNS[idx]
    y = label_pos.to(torch.float32) * 2 - 1
    if members is not None:
        return x.reshape(members, n, d, 2), y.reshape(members, n)
    return x, y


def xord_presence(x: torch.Tensor) -> torch.Tensor:
    """Which of the four patterns occur in each XORD input ``x`` ``(..., d, 2)``: a 0/1 float
    tensor ``(..., 4)`` (column l = pattern p_{l+1} of :data:`XORD_PATTERNS`).

    The input of :class:`overparam.models.XORPatternNet`; the label is +1 iff column 0 or 2 is set.
    """
    _check_xord_x(x)
    return torch.stack([(x == p.to(x.device, x.dtype)).all(-1).any(-1) for p in XORD_PATTERNS], dim=-1).to(torch.float32)


def xord_presence_probabilities(d: int, p_plus: float, p_minus: float) -> torch.Tensor:
    """``(16,)`` float64: the probability, under the distribution of :func:`xord_sample`, that an
    input's set of patterns has bitmask s (bit l = pattern p_{l+1}). Exact for any ``d``.

    The number of inputs whose set of patterns is exactly S is the number of surjections of the d
    positions onto S; summing :func:`xord_probabilities` over :func:`xord_all_inputs` grouped by
    presence set gives the same numbers (tested). Lets the test error be computed exactly for
    large d, where the ``4**d`` inputs cannot be enumerated.
    """
    d = check_int("d", d, 1, 64)
    p_plus, p_minus = _xord_check_p(d, p_plus, p_minus)
    from math import comb

    sizes = xord_class_sizes(d)
    out = torch.zeros(16, dtype=torch.float64)
    for s in range(1, 16):
        members = [l for l in range(4) if (s >> l) & 1]
        m = len(members)
        count = sum((-1) ** j * comb(m, j) * (m - j) ** d for j in range(m + 1))
        if count == 0:
            continue
        if 0 in members or 2 in members:  # positive
            p = p_plus / sizes["pos_diverse"] if m == 4 else (1 - p_plus) / max(sizes["pos_other"], 1)
        else:  # negative: subset of {p2, p4} (bits 1 and 3)
            p = p_minus / max(sizes["neg_diverse"], 1) if m == 2 else (1 - p_minus) / sizes["neg_other"]
        out[s] = 0.5 * count * p
    return out


# --------------------------------------------------------------------------------------------
# Gaussian / spherical inputs and a noisy linear teacher
# --------------------------------------------------------------------------------------------


def _shape(members: int | None, *rest: int, what: str = "inputs") -> tuple[int, ...]:
    shape = tuple(rest) if members is None else (check_int("members", members, 1), *rest)
    numel = 1
    for s in shape:
        numel *= s
    # a float64 draw and its float32 copy (12 bytes per number, one more float64 temporary allowed)
    check_memory(20 * numel, f"{what} of shape {shape}", "n, d or members" if members is not None else "n or d")
    return shape


def gaussian_inputs(n: int, d: int, *, std: float = 1.0, seed: int = 0, members: int | None = None) -> torch.Tensor:
    """i.i.d. Gaussian inputs ``N(0, std^2 I)``, shape ``(n, d)`` or ``(E, n, d)`` with ``members=E``."""
    n, d = check_int("n", n, 1), check_int("d", d, 1)
    std = check_float("std", std, 0, None, low_open=True)
    return std * torch.randn(_shape(members, n, d), generator=cpu_generator(seed), dtype=torch.float64).float()


def sphere_points(n: int, d: int, *, seed: int = 0, members: int | None = None) -> torch.Tensor:
    """Points uniform on the unit sphere S^{d-1}, shape ``(n, d)`` or ``(E, n, d)``."""
    n, d = check_int("n", n, 1), check_int("d", d, 1)
    z = torch.randn(_shape(members, n, d), generator=cpu_generator(seed), dtype=torch.float64)
    return (z / z.norm(dim=-1, keepdim=True)).float()


def linear_teacher(
    n: int,
    d: int,
    *,
    noise: float = 0.5,
    seed: int = 0,
    members: int | None = None,
    beta: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A noisy linear teacher ``y = beta . x + noise * z`` with ``x ~ N(0, I_d)``, ``z ~ N(0, 1)``.

    ``beta`` defaults to a seeded unit vector. Returns ``(x, y, beta)`` with shapes ``(n, d)``,
    ``(n,)``, ``(d,)`` (or ``(E, n, d)``, ``(E, n)`` with ``members=E``, one data set per member,
    the same ``beta``).
    """
    n, d = check_int("n", n, 1), check_int("d", d, 1)
    noise = check_float("noise", noise, 0, None)
    shape = _shape(members, n, d, what="linear_teacher inputs")
    g = cpu_generator(seed)
    if beta is None:
        beta = torch.randn(d, generator=g, dtype=torch.float64)
        beta = beta / beta.norm()
    else:
        if isinstance(beta, (str, bytes)):
            raise ValueError(f"beta must be a ({d},) tensor or sequence of finite numbers; got {beta!r}")
        try:
            beta = torch.as_tensor(beta, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"beta must be a ({d},) tensor or sequence of finite numbers; got {_short(beta)}") from None
        if beta.shape != (d,):
            raise ValueError(f"beta must have shape ({d},); got {tuple(beta.shape)}")
        check_tensor("beta", beta)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    y = x @ beta + noise * torch.randn(_shape(members, n), generator=g, dtype=torch.float64)
    return x.float(), y.float(), beta.float()


def corrupt_labels(y: torch.Tensor, fraction: float, *, seed: int = 0) -> torch.Tensor:
    """Replace a ``fraction`` of the +-1 labels ``y`` (shape ``(..., n)``) by uniformly random signs.

    Exactly ``round(fraction * n)`` positions per row are re-drawn (as in Zhang et al. 2017 and
    Arora et al. 2019, Section 6), so about half of them end up wrong; ``fraction = 1`` gives fully
    random labels. Returns a new tensor; ``y`` is unchanged.
    """
    fraction = check_float("fraction", fraction, 0, 1)
    check_tensor("y", y, min_ndim=1, shape_text="(..., n)")
    if not torch.all((y == 1) | (y == -1)):
        raise ValueError("y must contain only +1 and -1 labels")
    g = cpu_generator(seed)
    n = y.shape[-1]
    k = round(fraction * n)
    flat = y.reshape(-1, n).clone()
    for row in flat:  # rows are few (ensemble members); n is the long axis
        idx = torch.randperm(n, generator=g)[:k]
        row[idx] = (torch.randint(0, 2, (k,), generator=g) * 2 - 1).to(y.dtype)
    return flat.reshape(y.shape)


# --------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------

#: Published md5 sums of the MNIST files (byte-identical to the official distribution).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_idx(path: Path) -> np.ndarray:
    expected = MNIST_MD5[path.name]
    actual = _md5(path)
    if actual != expected:
        raise ValueError(
            f"MNIST file {path} failed its checksum (md5 {actual}, expected {expected}); "
            "refusing to use it. Delete it and copy or download it again."
        )
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _offline_dir() -> Path:
    return Path(str(resources.files("overparam") / "datasets" / "mnist"))


def download_mnist(cache_dir: str | Path | None = None) -> Path:
    """Opt-in: download the full MNIST (4 files, ~11 MB) into a cache and verify the md5 sums.

    Uses ``pooch``; files already cached and intact are not downloaded again. Returns the folder.
    Never called at import time or by the tests.
    """
    import pooch  # imported here: only the opt-in download needs it

    folder = Path(cache_dir) if cache_dir is not None else Path(pooch.os_cache("overparam")) / "mnist"
    for name, md5 in MNIST_MD5.items():
        pooch.retrieve(_MNIST_URL + name, known_hash=f"md5:{md5}", fname=name, path=folder, progressbar=True)
    return folder


def load_mnist_pool(source: str = "offline", *, data_dir: str | Path | None = None):
    """Raw MNIST arrays, checksum-verified.

    ``source="offline"``: the bundled 10,000-image test set, returned as ``(images, labels)`` with
    shapes ``(10000, 28, 28)`` uint8 and ``(10000,)``. ``source="full"``: the downloaded set
    (see :func:`download_mnist`, which must have been called), returned as
    ``((train_images, train_labels), (test_images, test_labels))``.
    ``data_dir`` overrides the folder the files are read from.
    """
    check_choice("source", source, ("offline", "full"))
    if source == "offline":
        folder = Path(data_dir) if data_dir is not None else _offline_dir()
        return _read_idx(folder / "t10k-images-idx3-ubyte.gz"), _read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    if data_dir is None:
        import pooch

        data_dir = Path(pooch.os_cache("overparam")) / "mnist"
    folder = Path(data_dir)
    missing = [n for n in MNIST_MD5 if not (folder / n).exists()]
    if missing:
        raise ValueError(
            f"source='full' needs the full MNIST in {folder} (missing {missing}); "
            "call overparam.data.download_mnist() first (an opt-in download of ~11 MB)"
        )
    train = (_read_idx(folder / "train-images-idx3-ubyte.gz"), _read_idx(folder / "train-labels-idx1-ubyte.gz"))
    test = (_read_idx(folder / "t10k-images-idx3-ubyte.gz"), _read_idx(folder / "t10k-labels-idx1-ubyte.gz"))
    return train, test


@dataclass(frozen=True)
class MNISTSplit:
    """Disjoint MNIST train/test sets.

    ``x_train``: ``(n_train, 784)`` float32 in [0, 1] (or unit-norm rows), or ``(n_train, 1, 28, 28)``
    with ``flatten=False``; ``y_train``: ``(n_train,)``, digit labels (int64) or +-1 (float32) when
    ``pm1=True``. Same for the test set.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def _check_split_args(classes, n_train, n_test, source, test_fraction, unit_norm, flatten, pm1, data_dir):
    """The checks of :func:`mnist_split`'s arguments; returns ``classes`` normalized (or ``None``)."""
    check_choice("source", source, ("offline", "full"))
    test_fraction = check_float("test_fraction", test_fraction, 0, 1, low_open=True, high_open=True)
    for flag, value in (("unit_norm", unit_norm), ("flatten", flatten), ("pm1", pm1)):
        check_bool(flag, value)
    if source == "offline" and not 1 <= round(test_fraction * 10000) <= 9999:
        raise ValueError(
            f"test_fraction must leave at least one of the 10,000 offline images in each pool "
            f"(between 5e-05 and 0.99995); got {test_fraction!r}"
        )
    if data_dir is not None and not isinstance(data_dir, (str, Path)):
        raise ValueError(f"data_dir must be a path (str or pathlib.Path) or None; got {_short(data_dir)}")
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if value is not None:
            check_int(name, value, 1)
    if classes is not None:
        classes = check_int_sequence("classes", classes, 0, 9)
        if len(set(classes)) != len(classes):
            raise ValueError(f"classes must be distinct digits; got {classes!r}")
    if pm1 and (classes is None or len(classes) != 2):
        raise ValueError(f"pm1=True needs exactly two classes; got classes={classes!r}")
    return classes


def _pick(pool, n, name, g, *, classes, flatten, unit_norm, pm1):
    """Keep ``classes`` of one pool ``(images uint8 (N, 28, 28), labels (N,))``, draw ``n`` of them
    with the generator ``g``, and return ``(x, y)`` scaled and shaped as :func:`mnist_split` says."""
    imgs, labs = pool
    if classes is not None:
        keep = np.isin(labs, classes)
        imgs, labs = imgs[keep], labs[keep]
    if n is not None:
        n = check_int(name, n, 1, len(labs))
        idx = torch.randperm(len(labs), generator=g)[:n].numpy()
        imgs, labs = imgs[idx], labs[idx]
    x = torch.from_numpy(imgs.astype(np.float32) / 255.0)
    x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, 28, 28)
    if unit_norm:
        norms = x.reshape(len(x), -1).norm(dim=1).clamp_min(1e-12)
        x = x / norms.reshape(-1, *([1] * (x.ndim - 1)))
    y = torch.from_numpy(labs.astype(np.int64))
    if pm1:
        y = torch.where(y == classes[0], 1.0, -1.0)
    return x, y


def mnist_split(
    *,
    classes: tuple[int, ...] | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    source: str = "offline",
    test_fraction: float = 0.2,
    unit_norm: bool = False,
    flatten: bool = True,
    pm1: bool = False,
    data_dir: str | Path | None = None,
) -> MNISTSplit:
    """A seeded MNIST train/test split with optional class selection, down-sampling and scaling.

    Offline (default): the 10,000 bundled images are permuted by ``seed`` and split into disjoint
    pools (``1 - test_fraction`` train, ``test_fraction`` test: 8,000 / 2,000 by default). With
    ``source="full"`` the official 60,000 / 10,000 split is used. Then only ``classes`` are kept,
    and ``n_train`` / ``n_test`` samples are drawn without replacement (seeded). ``unit_norm``
    scales each image to ``||x|| = 1``; ``pm1`` (needs two classes) maps ``classes[0]`` to +1 and
    ``classes[1]`` to -1.
    """
    classes = _check_split_args(classes, n_train, n_test, source, test_fraction, unit_norm, flatten, pm1, data_dir)
    g = cpu_generator(seed)
    if source == "offline":
        images, labels = load_mnist_pool("offline", data_dir=data_dir)
        perm = torch.randperm(len(labels), generator=g).numpy()
        n_test_pool = round(test_fraction * len(labels))
        test_idx, train_idx = perm[:n_test_pool], perm[n_test_pool:]
        tr = (images[train_idx], labels[train_idx])
        te = (images[test_idx], labels[test_idx])
    else:
        tr, te = load_mnist_pool("full", data_dir=data_dir)

    def pick(pool, n, name):
        return _pick(pool, n, name, g, classes=classes, flatten=flatten, unit_norm=unit_norm, pm1=pm1)

    x_train, y_train = pick(tr, n_train, "n_train")
    x_test, y_test = pick(te, n_test, "n_test")
    return MNISTSplit(x_train, y_train, x_test, y_test)


@functools.lru_cache(maxsize=32)
def mnist_pool_sizes(classes: tuple[int, ...], seed: int, source: str = "offline") -> tuple[int, int]:
    """``(train, test)``: how many images of ``classes`` the train and test pools of
    :func:`mnist_split` hold for this ``seed`` (the most that ``n_train`` / ``n_test`` can draw).

    Cheap (one load of the bundled file, cached), so configs can check sample sizes before any work.
    """
    sp = mnist_split(classes=tuple(classes), seed=seed, source=source, flatten=False)
    return len(sp.y_train), len(sp.y_test)


#: The usual MNIST pixel statistics (training set, pixels in [0, 1]).
MNIST_PIXEL_MEAN, MNIST_PIXEL_STD = 0.1307, 0.3081


def standardize_pixels(x: torch.Tensor) -> torch.Tensor:
    """``(x - 0.1307) / 0.3081``: MNIST pixels in [0, 1] to mean about 0, std about 1 (any shape)."""
    check_tensor("x", x, nonempty=False, shape_text="any shape")
    return (x - MNIST_PIXEL_MEAN) / MNIST_PIXEL_STD


def pool_images(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool images ``(N, 1, H, W)`` by ``factor`` (``1``: unchanged); 28 -> 14 pixels for 2."""
    factor = check_int("factor", factor, 1, 28)
    check_tensor("x", x, ndim=4, shape_text="(N, 1, H, W) images", floating=True)
    if factor > min(x.shape[-2:]):
        raise ValueError(f"factor must be at most the image size {min(x.shape[-2:])}; got {factor}")
    return torch.nn.functional.avg_pool2d(x, factor) if factor > 1 else x


def center_and_scale(x_train: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Center ``(N, D)`` features by the training mean and scale so the training rows' mean norm is 1.

    The same shift and scale are applied to every array in ``others`` (e.g. the test set), so no
    test statistic leaks into the preprocessing. Returns ``(x_train, *others)`` transformed.
    """
    check_tensor("x_train", x_train, ndim=2, shape_text="(N, D)")
    for i, x in enumerate(others):
        check_tensor(f"others[{i}]", x, ndim=2, nonempty=False, shape_text=f"(N, D={x_train.shape[1]})")
        if x.shape[1] != x_train.shape[1]:
            raise ValueError(f"others[{i}] must have D = {x_train.shape[1]} features like x_train; got shape {tuple(x.shape)}")
    mu = x_train.mean(0)
    scale = (x_train - mu).norm(dim=1).mean()
    return tuple((x - mu) / scale for x in (x_train, *others))
