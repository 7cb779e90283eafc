"""Compute for chapter 5: the perceptron toy, random networks checked by rejection, GD-trained
networks; ``run(cfg) -> Result`` (frozen, CPU tensors) and ``estimate_seconds(cfg, device)``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import data, models
from ..chapter import Timer, announce, derive_seed, require_config
from ..device import cpu_generator, resolve_device
from ..train import train
from .config import Config
from .theory import bad_fraction_bound, beta_fit, perceptron_Q, survivor_theory

__all__ = ["Toy", "NoisyToy", "UnderParam", "RandomNets", "GDRuns", "Result", "run", "estimate_seconds", "random_relu_outputs"]

CHAPTER = "rare_minima"


def _seed(cfg: Config, part: str, *names: int) -> int:
    """The seed of one part of the run: ``derive_seed(cfg.seed, part, *names)`` (the one scheme).

    Parts: ``toy_data``; ``toy_classifiers, chunk``; ``random_sequences, width``;
    ``random_init, width, chunk``; ``gd_subsets, width, n``; ``gd_init, width, n``.
    """
    return derive_seed(cfg.seed, part, *names)


# ---------------------------------------------------------------------------------------------
# (a) the perceptron toy
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Toy:
    """The perceptron toy on ``R`` shared training sequences, plus the fresh-set control.

    Shared sequences (the same ``M`` classifiers checked on each of ``R`` nested sequences):
    ``hist (R, N+1, B)`` survivors of the first ``n`` points per sequence and error bin;
    ``survivors``, ``bad``, ``eps_sum (R, N+1)``; ``q_hist (B,)`` errors of all classifiers;
    ``edges (B+1,)``; ``survivor_eps``: true errors of the survivors of all ``N`` points (all
    sequences together). Fresh-set control (each of ``fresh_classifiers`` other classifiers checked on
    its own sequence, so survivors are independent): ``fresh_survivors``, ``fresh_bad``,
    ``fresh_eps_sum (N+1,)``. The formulas on ``grid (G,)``: ``Q``, ``theory_Z``/``theory_mean``/
    ``theory_bad (N+1,)``, ``theory_density (N+1, G)``, ``bound (N+1,)``. ``diverged (R,)``: all False
    (nothing is trained).

    Two averages over training sets (Schwartz et al. 1990): *pooled* (annealed) = survivors of all
    sequences counted together, a ratio of sums, which estimates the formula's ratio of expectations;
    *per set* (quenched) = each sequence's own share, averaged over the sequences, what one learner
    with one training set sees.
    """

    hist: torch.Tensor
    survivors: torch.Tensor
    bad: torch.Tensor
    eps_sum: torch.Tensor
    q_hist: torch.Tensor
    edges: torch.Tensor
    survivor_eps: torch.Tensor
    fresh_survivors: torch.Tensor
    fresh_bad: torch.Tensor
    fresh_eps_sum: torch.Tensor
    fresh_classifiers: int
    grid: torch.Tensor
    Q: torch.Tensor
    theory_Z: torch.Tensor
    theory_mean: torch.Tensor
    theory_bad: torch.Tensor
    theory_density: torch.Tensor
    bound: torch.Tensor
    diverged: torch.Tensor

    @property
    def n(self) -> torch.Tensor:
        """``0..N``."""
        return torch.arange(self.survivors.shape[1])

    def bad_fraction(self) -> torch.Tensor:
        """Share of survivors with error > eps0, pooled over training sequences, ``(N+1,)`` (annealed)."""
        return self.bad.sum(0) / self.survivors.sum(0).clamp_min(1)

    def bad_fraction_per_set(self) -> torch.Tensor:
        """Share of bad survivors of each training sequence, ``(R, N+1)`` (NaN where none survive)."""
        s = self.survivors
        return torch.where(s > 0, self.bad / s.clamp_min(1), torch.nan)

    def mean_error(self) -> torch.Tensor:
        """Mean true error of the survivors pooled over training sequences, ``(N+1,)`` (annealed)."""
        return self.eps_sum.sum(0) / self.survivors.sum(0).clamp_min(1)

    def mean_error_per_set(self) -> torch.Tensor:
        """Mean true error of the survivors of each training sequence, ``(R, N+1)`` (NaN if none)."""
        s = self.survivors
        return torch.where(s > 0, self.eps_sum / s.clamp_min(1), torch.nan)

    def density_at(self, n: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``(edges, density, count)`` of the pooled survivors' errors after ``n`` points."""
        h = self.hist[:, n].sum(0)
        width = float(self.edges[1] - self.edges[0])
        return self.edges, h / max(float(h.sum()), 1.0) / width, int(h.sum())


def _first_mistake(wrong: torch.Tensor) -> torch.Tensor:
    """Index of the first True along axis 1 of ``wrong (R, N, M)``; ``N`` where there is none. ``(R, M)``."""
    N = wrong.shape[1]
    any_wrong = wrong.any(1)
    first = wrong.to(torch.uint8).argmax(1)  # argmax returns the first maximal index
    return torch.where(any_wrong, first, torch.full_like(first, N))


def _first_mistake_one(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, dense_points: int = 8) -> torch.Tensor:
    """First training mistake of each perceptron ``w (M, d)`` on one sequence ``x (N, d)``, ``y (N,)``:
    ``(M,)`` long, ``N`` where it makes none. The first ``dense_points`` points are checked for all
    classifiers in one matmul; after that only the survivors are touched (work ``~ M (dense_points +
    sum_n Z_n)`` rather than ``M N``)."""
    # on a GPU one dense (M, N) matmul per sequence is cheaper than N small launches
    N = x.shape[0]
    K = N if w.device.type == "cuda" else min(N, dense_points)
    wrong = (w @ x[:K].T) * y[:K] <= 0  # (M, K)
    first = torch.where(wrong.any(1), wrong.to(torch.uint8).argmax(1).long(), N)
    alive = torch.nonzero(first == N).flatten()
    for n in range(K, N):
        if alive.numel() == 0:
            break
        wrong = (w[alive] @ x[n]) * y[n] <= 0
        first[alive[wrong]] = n
        alive = alive[~wrong]
    return first


def _first_mistake_sequential(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, dense_points: int = 8) -> torch.Tensor:
    """First training mistake of each perceptron ``w (M, d)`` on each nested sequence ``x (R, N, d)``,
    ``y (R, N)``: ``(R, M)``, ``N`` where it makes none (rejection as the paper describes it: drop a
    classifier at its first mistake). One :func:`_first_mistake_one` per sequence."""
    w, x, y = w.float(), x.float(), y.float()  # signs only: float32 is plenty (ties have measure zero)
    return torch.stack([_first_mistake_one(w, x[r], y[r], dense_points) for r in range(x.shape[0])])


def _first_mistake_fresh(eps: torch.Tensor, N: int, g: torch.Generator, dense_points: int = 8,
                         noise: float = 0.0) -> torch.Tensor:
    """First mistake of each perceptron on its *own* sequence of ``N`` Gaussian points labelled by the
    teacher: ``(M,)``, ``N`` where it makes none. ``eps (M,)`` are the angles to the teacher over pi.

    Only the plane of ``w`` and ``w*`` matters: with ``u = w* . x`` and ``z`` the component of ``x``
    along the unit vector of ``w`` orthogonal to ``w*`` (independent standard normals for isotropic
    ``x``), ``w . x = cos(theta) u + sin(theta) z``. So each point is two normals (drawn from ``g``, on
    the CPU), and points are drawn only for the classifiers still alive, ``dense_points`` at a time.
    """
    M, dev = eps.shape[0], g.device
    theta = eps.to(dev).double() * math.pi
    cos, sin = theta.cos().float(), theta.sin().float()
    first = torch.full((M,), N, dtype=torch.long, device=dev)
    alive = torch.arange(M, device=dev)
    for start in range(0, N, dense_points):
        if alive.numel() == 0:
            break
        K = min(dense_points, N - start)
        u, z = torch.randn(2, alive.numel(), K, generator=g, device=dev)
        wrong = (cos[alive, None] * u + sin[alive, None] * z) * u <= 0  # sign(w.x) != sign(w*.x)
        if noise > 0:  # the label is flipped with probability noise: a flip turns right into wrong and back
            wrong = wrong ^ (torch.rand(alive.numel(), K, generator=g, device=dev) < noise)
        hit = wrong.any(1)
        first[alive[hit]] = start + wrong[hit].to(torch.uint8).argmax(1).long()
        alive = alive[~hit]
    return first


def _generator(seed: int, dev: torch.device) -> torch.Generator:
    """A generator on the CPU (the same numbers on every machine), or on the GPU when ``dev`` is one
    (the ``paper`` preset's bulk draws; different numbers from the CPU's, same distribution)."""
    if dev.type == "cuda":
        return torch.Generator(device=dev).manual_seed(seed)
    return cpu_generator(seed)


def _toy_sequences(cfg: Config, dev: torch.device):
    """The teacher ``(d,)`` and ``toy_train_sets`` nested sequences ``x (R, N, d)``, ``y (R, N)``."""
    g = cpu_generator(_seed(cfg, "toy_data"))
    teacher = torch.randn(cfg.toy_d, generator=g, dtype=torch.float64)
    teacher = teacher / teacher.norm()
    x = torch.randn(cfg.toy_train_sets, cfg.toy_n_max, cfg.toy_d, generator=g, dtype=torch.float64)
    y = torch.sign(x @ teacher)
    return teacher.to(dev), x.to(dev), y.to(dev)


def _toy_classifiers(cfg: Config, part: str, c: int, mc: int, teacher: torch.Tensor, dev: torch.device):
    """Chunk ``c`` of ``mc`` classifiers uniform on the sphere and their closed-form true errors."""
    w = torch.randn(mc, cfg.toy_d, generator=cpu_generator(_seed(cfg, part, c)), dtype=torch.float64).to(dev)
    w = w / w.norm(dim=1, keepdim=True)
    return w, torch.arccos((w @ teacher).clamp(-1, 1)) / math.pi


def _toy_counts(cfg: Config, dev: torch.device) -> dict[str, torch.Tensor]:
    """Rejection over ``toy_classifiers`` perceptrons in chunks: counts by (sequence, first mistake,
    error bin), error sums, the histogram of all errors, and the errors of the full survivors."""
    M, R, N, B = cfg.toy_classifiers, cfg.toy_train_sets, cfg.toy_n_max, cfg.toy_bins
    teacher, x, y = _toy_sequences(cfg, dev)
    xf, yf = x.float(), y.float()
    counts = torch.zeros(R, (N + 1) * B, dtype=torch.float64, device=dev)  # (r, first mistake * B + bin)
    eps_sum = torch.zeros(R, N + 1, dtype=torch.float64, device=dev)
    q_hist = torch.zeros(B, dtype=torch.float64, device=dev)
    survivor_eps = []
    for c, start in enumerate(range(0, M, cfg.toy_chunk)):
        w, eps = _toy_classifiers(cfg, "toy_classifiers", c, min(cfg.toy_chunk, M - start), teacher, dev)
        bins = (eps * B).long().clamp(max=B - 1)
        q_hist += torch.bincount(bins, minlength=B).to(torch.float64)
        wf = w.float()
        for r in range(R):  # training sequences, not models: one matmul each
            first = _first_mistake_one(wf, xf[r], yf[r])
            counts[r] += torch.bincount(first * B + bins, minlength=(N + 1) * B).to(torch.float64)
            eps_sum[r] += torch.bincount(first, weights=eps, minlength=N + 1)
            survivor_eps.append(eps[first == N])
    return {"counts": counts.reshape(R, N + 1, B), "eps_sum": eps_sum, "q_hist": q_hist,
            "survivor_eps": torch.cat(survivor_eps), "teacher": teacher}


def _toy_fresh(cfg: Config, teacher: torch.Tensor, dev: torch.device) -> dict[str, torch.Tensor]:
    """The fresh-set control: ``toy_fresh`` classifiers, each on its own training sequence. Returns
    survivors, bad survivors and their error sums for ``n = 0..N`` (each ``(N+1,)``)."""
    M, N, e0 = cfg.toy_fresh, cfg.toy_n_max, cfg.toy_eps0
    counts = torch.zeros(N + 1, dtype=torch.float64)
    bad = torch.zeros(N + 1, dtype=torch.float64)
    esum = torch.zeros(N + 1, dtype=torch.float64)
    for c, start in enumerate(range(0, M, cfg.toy_chunk)):
        w, eps = _toy_classifiers(cfg, "toy_fresh_classifiers", c, min(cfg.toy_chunk, M - start), teacher, dev)
        first = _first_mistake_fresh(eps, N, _generator(_seed(cfg, "toy_fresh_data", c), dev)).cpu()
        eps = eps.cpu()
        counts += torch.bincount(first, minlength=N + 1).double()
        bad += torch.bincount(first, weights=(eps >= e0 - 1e-12).double(), minlength=N + 1)
        esum += torch.bincount(first, weights=eps, minlength=N + 1)
    rev = lambda t: t.flip(0).cumsum(0).flip(0)  # survivors of the first n: first mistake >= n  # noqa: E731
    return {"survivors": rev(counts), "bad": rev(bad), "eps_sum": rev(esum)}


def run_toy(cfg: Config, dev: torch.device) -> Toy:
    """The perceptron toy (see the package docstring, part (a))."""
    raw = _toy_counts(cfg, dev)
    fresh = _toy_fresh(cfg, raw["teacher"], dev)
    # survivors of the first n points: first mistake index >= n -> reversed cumulative sums
    hist = raw["counts"].flip(1).cumsum(1).flip(1)  # (R, N+1, B)
    esum = raw["eps_sum"].flip(1).cumsum(1).flip(1)  # (R, N+1)
    edges = torch.linspace(0, 1, cfg.toy_bins + 1, dtype=torch.float64)
    bad_bins = (edges[:-1] >= cfg.toy_eps0 - 1e-12).to(dev)  # eps0 is a bin edge (checked in Config)
    grid = (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000
    q = perceptron_Q(grid, cfg.toy_d)
    ns = range(cfg.toy_n_max + 1)
    th = survivor_theory(grid, q, ns, cfg.toy_eps0)
    return Toy(
        hist=hist.cpu(), survivors=hist.sum(-1).cpu(), bad=(hist * bad_bins).sum(-1).cpu(), eps_sum=esum.cpu(),
        q_hist=raw["q_hist"].cpu(), edges=edges, survivor_eps=raw["survivor_eps"].cpu(),
        fresh_survivors=fresh["survivors"], fresh_bad=fresh["bad"], fresh_eps_sum=fresh["eps_sum"],
        fresh_classifiers=cfg.toy_fresh, grid=grid, Q=q,
        theory_Z=th["Z"], theory_mean=th["mean"], theory_bad=th["bad"], theory_density=th["density"],
        bound=bad_fraction_bound(grid, q, ns, cfg.toy_eps0),
        diverged=torch.zeros(cfg.toy_train_sets, dtype=torch.bool),
    )


@dataclass(frozen=True, eq=False)
class NoisyToy:
    """The toy with label noise: the same classifiers as :class:`Toy` checked on ``R`` other nested
    sequences whose labels are flipped with probability ``noise`` (independently per point), so no
    direction fits them all and zero training error becomes rarer for every classifier.
    ``survivors``, ``bad`` (clean error > eps0), ``eps_sum`` (clean errors), each ``(R, N+1)``. A
    classifier with clean error ``eps`` disagrees with a noisy label with probability
    ``eps' = eps + noise - 2 eps noise``, so the survival argument predicts the density
    ``Q(eps) (1 - eps')^n / Z``: ``theory_bad``, ``theory_mean``, ``theory_Z (N+1,)``; ``clean_bad``
    the noise-free formula for comparison. ``diverged (R,)``: all False (nothing is trained)."""

    noise: float
    survivors: torch.Tensor
    bad: torch.Tensor
    eps_sum: torch.Tensor
    theory_bad: torch.Tensor
    theory_mean: torch.Tensor
    theory_Z: torch.Tensor
    clean_bad: torch.Tensor
    diverged: torch.Tensor
    fresh_survivors: torch.Tensor
    fresh_bad: torch.Tensor
    fresh_eps_sum: torch.Tensor

    def bad_fraction(self) -> torch.Tensor:
        """Share of bad survivors pooled over the sequences (annealed), ``(N+1,)``."""
        return self.bad.sum(0) / self.survivors.sum(0).clamp_min(1)


def noisy_survivor_theory(grid: torch.Tensor, q: torch.Tensor, ns, eps0: float, noise: float) -> dict:
    """The survival argument with flipped labels: weight ``(1 - eps')^n`` with ``eps' = eps + noise -
    2 eps noise`` (the disagreement rate with a noisy label) on the clean-error density ``q``."""
    grid = torch.as_tensor(grid, dtype=torch.float64)
    ns = torch.as_tensor(list(ns), dtype=torch.float64)
    de = float(grid[1] - grid[0])
    noisy = grid + noise - 2 * grid * noise
    w = q[None, :] * torch.exp(ns[:, None] * torch.log1p(-noisy.clamp(max=1 - 1e-15))[None, :])
    Z = w.sum(1) * de
    return {"Z": Z, "mean": (w * grid).sum(1) * de / Z, "bad": (w * (grid > eps0)).sum(1) * de / Z}


def run_noisy_toy(cfg: Config, dev: torch.device, grid: torch.Tensor, q: torch.Tensor, clean_bad: torch.Tensor) -> NoisyToy:
    """The label-noise variant of the toy (see :class:`NoisyToy`)."""
    M, R, N = cfg.toy_classifiers, cfg.toy_noise_sets, cfg.toy_n_max
    g = cpu_generator(_seed(cfg, "toy_data"))
    teacher = torch.randn(cfg.toy_d, generator=g, dtype=torch.float64)
    teacher = teacher / teacher.norm()  # the toy's teacher (same draw as _toy_sequences)
    g = cpu_generator(_seed(cfg, "toy_noise_data"))
    x = torch.randn(R, N, cfg.toy_d, generator=g, dtype=torch.float64)
    flip = torch.rand(R, N, generator=g, dtype=torch.float64) < cfg.toy_noise
    y = torch.sign(x @ teacher) * torch.where(flip, -1.0, 1.0)
    xf, yf = x.float().to(dev), y.float().to(dev)
    surv = torch.zeros(R, N + 1, dtype=torch.float64)
    bad = torch.zeros_like(surv)
    esum = torch.zeros_like(surv)
    for c, start in enumerate(range(0, M, cfg.toy_chunk)):
        w, eps = _toy_classifiers(cfg, "toy_classifiers", c, min(cfg.toy_chunk, M - start), teacher.to(dev), dev)
        wf, eps = w.float(), eps.cpu()
        isbad = (eps > cfg.toy_eps0).double()
        for r in range(R):
            first = _first_mistake_one(wf, xf[r], yf[r]).cpu()
            surv[r] += torch.bincount(first, minlength=N + 1).double()
            bad[r] += torch.bincount(first, weights=isbad, minlength=N + 1)
            esum[r] += torch.bincount(first, weights=eps, minlength=N + 1)
    rev = lambda t: t.flip(1).cumsum(1).flip(1)  # noqa: E731
    fs = torch.zeros(1, N + 1, dtype=torch.float64)
    fb, fe = torch.zeros_like(fs), torch.zeros_like(fs)
    for c, start in enumerate(range(0, cfg.toy_noise_fresh, cfg.toy_chunk)):
        _, eps = _toy_classifiers(cfg, "toy_noise_fresh_classifiers", c, min(cfg.toy_chunk, cfg.toy_noise_fresh - start),
                                  teacher.to(dev), dev)
        first = _first_mistake_fresh(eps, N, _generator(_seed(cfg, "toy_noise_fresh_data", c), dev), noise=cfg.toy_noise).cpu()
        eps = eps.cpu()
        fs[0] += torch.bincount(first, minlength=N + 1).double()
        fb[0] += torch.bincount(first, weights=(eps > cfg.toy_eps0).double(), minlength=N + 1)
        fe[0] += torch.bincount(first, weights=eps, minlength=N + 1)
    th = noisy_survivor_theory(grid, q, range(N + 1), cfg.toy_eps0, cfg.toy_noise)
    return NoisyToy(noise=cfg.toy_noise, survivors=rev(surv), bad=rev(bad), eps_sum=rev(esum), theory_bad=th["bad"],
                    theory_mean=th["mean"], theory_Z=th["Z"], clean_bad=clean_bad,
                    diverged=torch.zeros(R, dtype=torch.bool), fresh_survivors=rev(fs)[0], fresh_bad=rev(fb)[0],
                    fresh_eps_sum=rev(fe)[0])


# ---------------------------------------------------------------------------------------------
# (b), (c) MNIST: random networks (guess and check) and GD-trained networks
# ---------------------------------------------------------------------------------------------


def _mnist(cfg: Config) -> data.MNISTSplit:
    """Pooled, centred two-digit MNIST, ``(P, D)`` images and +-1 labels: average-pooled by
    ``cfg.pool``, centred by the training-pool mean and scaled to mean norm 1 on the training pool
    (so ``w . x`` and a unit bias are on the same scale)."""
    sp = data.mnist_split(classes=cfg.classes, seed=cfg.split_seed, pm1=True, flatten=False)
    xtr, xte = (data.pool_images(x, cfg.pool).reshape(len(x), -1) for x in (sp.x_train, sp.x_test))
    xtr, xte = data.center_and_scale(xtr, xte)
    return data.MNISTSplit(xtr, sp.y_train, xte, sp.y_test)


def random_relu_outputs(model: models.TwoLayerReLU, params: dict, x: torch.Tensor) -> torch.Tensor:
    """``model.forward(params, x)`` for many members at once as one large matmul: ``(E, n)``.

    ``x (n, d)`` shared. Identical in value to :meth:`TwoLayerReLU.forward` (tested), but computes
    ``x @ W^T`` with all members' hidden units stacked, ``(n, E*m)``, which is much faster when
    ``m`` is small and ``E`` large.
    """
    w = params["w"]
    E, m, d = w.shape
    pre = x @ w.reshape(E * m, d).T  # (n, E*m)
    if model.bias:
        pre = pre + params["b"].reshape(1, E * m)
    h = torch.relu(pre).reshape(len(x), E, m)
    return model.scale * torch.einsum("nem,em->en", h, params["a"])


def _net(cfg: Config, width: int) -> models.TwoLayerReLU:
    return models.TwoLayerReLU(d=cfg.d_input, width=width, bias=True, init_scale=1.0, output_scale="ntk")


@dataclass(frozen=True, eq=False)
class RandomNets:
    """Random networks at initialization, one entry per width: ``eps[i] (M_i,)`` held-out errors
    (measured for the first ``q_nets[i]`` networks, the sample of ``Q``, and for every network that
    survives all ``n_max`` points of some sequence; NaN elsewhere), ``first[i] (R, M_i)`` first
    training mistake on each of ``R`` nested sequences of ``n_max`` training-pool points (``n_max``
    if none). ``diverged``: all False (nothing is trained)."""

    eps: tuple[torch.Tensor, ...]
    first: tuple[torch.Tensor, ...]
    n_max: int
    diverged: torch.Tensor
    q_nets: tuple[int, ...] = ()

    def q_sample(self, wi: int) -> torch.Tensor:
        """Held-out errors of the ``Q`` sample of width ``wi`` (the first ``q_nets[wi]`` networks)."""
        q = self.q_nets[wi] if self.q_nets else len(self.eps[wi])
        return self.eps[wi][:q]

    def alive(self, wi: int, n: int) -> torch.Tensor:
        """``(R, M_i)`` bool: networks of width ``wi`` with no mistake on the first ``n`` points."""
        return self.first[wi] >= n

    def survivor_errors(self, wi: int, n: int) -> torch.Tensor:
        """Held-out errors of the survivors of ``n`` points, pooled over the sequences (a network
        that survives two sequences counts twice). Only for ``n == n_max`` (or ``n`` with all
        errors measured) is every survivor's error known."""
        return self.eps[wi].expand_as(self.first[wi])[self.alive(wi, n)]

    def per_set(self, wi: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(survivors, error sum)`` per sequence, each ``(R,)``, after ``n`` points."""
        alive = self.alive(wi, n)
        return alive.sum(1).double(), (alive * self.eps[wi].nan_to_num(0.0)).sum(1)

    def guess_and_check(self, wi: int) -> dict[str, torch.Tensor]:
        """For ``n = 0..n_max``: ``survivors`` (pooled over the sequences), and the formula's prediction
        ``pred`` from the sampled ``Q`` with its ``ess``; ``mean``: the survivors' pooled mean held-out
        error, only at ``n_max`` (where every survivor's error is measured; NaN elsewhere and when none
        survive)."""
        ns = torch.arange(self.n_max + 1)
        surv = torch.stack([self.alive(wi, int(n)).sum() for n in ns]).double()
        mean = torch.full((len(ns),), float("nan"), dtype=torch.float64)
        if surv[-1] > 0:
            mean[-1] = self.survivor_errors(wi, self.n_max).mean()
        pred, ess = self.q_prediction(wi, ns)
        return {"n": ns, "survivors": surv, "mean": mean, "pred": pred, "ess": ess}

    def q_prediction(self, wi: int, ns) -> tuple[torch.Tensor, torch.Tensor]:
        """The learning curve ``E_n`` predicted from the ``Q`` sample's errors, and its effective
        sample size ``(sum w)^2 / sum w^2`` with ``w = (1-eps)^n``."""
        eps = self.q_sample(wi)
        ns = torch.as_tensor(ns, dtype=torch.float64)
        logw = ns[:, None] * torch.log1p(-eps.clamp(max=1 - 1e-12))[None, :]
        w = torch.exp(logw - logw.max(1, keepdim=True).values)
        return (w * eps).sum(1) / w.sum(1), w.sum(1) ** 2 / w.square().sum(1)


def _random_params(model: models.TwoLayerReLU, members: int, seed: int, dev: torch.device) -> dict:
    """``members`` random networks at initialization. On the CPU: ``model.init`` (float64 draws, cast
    to float32; reproducible everywhere). On a GPU: the same distribution (w, b, a ~ N(0, 1)) drawn
    directly on the device in float32 (the ``paper`` preset draws ~10^9 numbers; on the CPU in float64
    that alone took most of the run)."""
    if dev.type != "cuda":
        return model.init(members, seed=seed, device=dev)
    g = _generator(seed, dev)
    m, d = model.width, model.d
    p = {"w": model.init_scale * torch.randn(members, m, d, generator=g, device=dev)}
    if model.bias:
        p["b"] = model.init_scale * torch.randn(members, m, generator=g, device=dev)
    p["a"] = model.init_scale * torch.randn(members, m, generator=g, device=dev)
    return p


def _random_width(cfg: Config, dev: torch.device, sp: data.MNISTSplit, wi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out errors (of the ``Q`` sample and of the survivors) of ``random_nets[wi]`` random
    networks and their first training mistakes on the ``random_train_sets`` sequences."""
    width, M, Mq = cfg.widths[wi], cfg.random_nets[wi], min(cfg.random_q_nets[wi], cfg.random_nets[wi])
    R, N = cfg.random_train_sets, cfg.random_n_max
    model = _net(cfg, width)
    g = cpu_generator(_seed(cfg, "random_sequences", width))
    seq = torch.randint(0, len(sp.x_train), (R, N), generator=g)  # i.i.d. draws from the training pool
    xs, ys = sp.x_train[seq].reshape(R * N, -1).to(dev), sp.y_train[seq].to(dev)
    xte, yte = sp.x_test.to(dev), sp.y_test.to(dev)
    chunk = max(1, cfg.hidden_chunk // width)
    eps, first = [], []
    for c, start in enumerate(range(0, M, chunk)):
        mc = min(chunk, M - start)
        p = _random_params(model, mc, _seed(cfg, "random_init", width, c), dev)
        with torch.no_grad():
            wrong = torch.sign(random_relu_outputs(model, p, xs)).reshape(mc, R, N) != ys
            f = _first_mistake(wrong.permute(1, 2, 0))  # (R, mc)
            need = (torch.arange(start, start + mc, device=dev) < Mq) | (f == N).any(0)
            e = torch.full((mc,), float("nan"), dtype=torch.float64, device=dev)
            if need.any():
                sub = {k: v[need] for k, v in p.items()}
                e[need] = (torch.sign(random_relu_outputs(model, sub, xte)) != yte).float().mean(1).double()
        eps.append(e)
        first.append(f)
    return torch.cat(eps).cpu(), torch.cat(first, 1).cpu()


def run_random(cfg: Config, dev: torch.device, sp: data.MNISTSplit) -> RandomNets:
    """Guess and check for every width (see the package docstring, part (b))."""
    out = [_random_width(cfg, dev, sp, wi) for wi in range(len(cfg.widths))]
    return RandomNets(eps=tuple(e for e, _ in out), first=tuple(f for _, f in out), n_max=cfg.random_n_max,
                      diverged=torch.zeros(sum(cfg.random_nets), dtype=torch.bool),
                      q_nets=tuple(min(q, m) for q, m in zip(cfg.random_q_nets, cfg.random_nets)))


@dataclass(frozen=True, eq=False)
class GDRuns:
    """GD-trained networks: ``test``, ``train``, ``diverged (W, K, E)`` for width ``widths[i]``,
    training size ``n[k]`` and seed; ``fits[i] = (a, b)`` the Beta model fitted on ``n <= fit_n_max``."""

    test: torch.Tensor
    train: torch.Tensor
    diverged: torch.Tensor
    n: tuple[int, ...]
    fits: tuple[tuple[float, float], ...]

    def ok(self, wi: int) -> torch.Tensor:
        """``(K, E)`` bool: members that reached zero training error and did not diverge."""
        return (self.train[wi] == 0) & ~self.diverged[wi]

    def mean(self, wi: int) -> torch.Tensor:
        """Mean held-out error of the zero-training-error members per ``n``, ``(K,)`` (NaN if none)."""
        ok, t = self.ok(wi), self.test[wi]
        return torch.where(ok.any(1), (t * ok).sum(1) / ok.sum(1).clamp_min(1), torch.nan)

    def reweight_prediction(self, wi: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Model-free check of the reweighting law: the mean error at ``n[k+1]`` predicted from the
        networks trained on ``n[k]`` points, ``sum eps_i w_i / sum w_i`` with
        ``w_i = (1 - eps_i)^(n[k+1] - n[k])``. Returns ``(pred, ess)``, each ``(K,)``, NaN at ``k = 0``."""
        ok, t = self.ok(wi), self.test[wi]
        pred = torch.full((len(self.n),), float("nan"), dtype=torch.float64)
        ess = torch.full_like(pred, float("nan"))
        for k in range(1, len(self.n)):
            e = t[k - 1][ok[k - 1]]
            if e.numel() == 0:
                continue
            logw = (self.n[k] - self.n[k - 1]) * torch.log1p(-e.clamp(max=1 - 1e-12))
            w = torch.exp(logw - logw.max())
            pred[k] = (w * e).sum() / w.sum()
            ess[k] = w.sum() ** 2 / w.square().sum()
        return pred, ess

    def model_curve(self, wi: int, ns) -> torch.Tensor:
        """The Beta-model learning curve ``a / (a + b + n)`` of width ``widths[wi]``."""
        a, b = self.fits[wi]
        return a / (a + b + torch.as_tensor(ns, dtype=torch.float64))


def _gd_width(cfg: Config, dev: torch.device, sp: data.MNISTSplit, wi: int, progress: bool,
              width: int | None = None, ns: tuple[int, ...] | None = None, part: str = "gd") -> list[torch.Tensor]:
    """``[test, train, diverged]``, each ``(K, E)``: ``gd_seeds`` members per training size, each on
    its own random subset of the training pool (one batched :func:`train` call per size). ``width``,
    ``ns`` and the seed ``part`` default to ``widths[wi]``, ``gd_n`` and ``"gd"``."""
    width = cfg.widths[wi] if width is None else width
    ns = cfg.gd_n if ns is None else ns
    under = part == "under_gd"  # the under-parameterized width has its own GD settings
    E, steps, lr, loss = ((cfg.under_seeds, cfg.under_steps, cfg.under_lr, cfg.under_loss) if under
                          else (cfg.gd_seeds, cfg.steps, cfg.lr, cfg.loss))
    model = _net(cfg, width)
    xtr, ytr = sp.x_train, sp.y_train
    xte, yte = sp.x_test.to(dev), sp.y_test.to(dev)
    test_err, train_err, diverged = [], [], []
    for k, n in enumerate(ns):
        g = cpu_generator(_seed(cfg, f"{part}_subsets", width, n))
        idx = torch.rand(E, len(xtr), generator=g).argsort(1)[:, :n]  # without replacement, per member
        x, y = xtr[idx].to(dev), ytr[idx].to(dev)
        params = model.init(E, seed=_seed(cfg, f"{part}_init", width, n), device=dev)
        res = train(model, params, x, y, steps=steps, lr=lr, loss=loss, record_steps=[0, steps],
                    on_divergence="mask", progress=progress, desc=f"width {width}, n={n}, x{E}")
        with torch.no_grad():
            train_err.append((torch.sign(model.forward(res.params, x)) != y).float().mean(1).cpu())
            test_err.append((torch.sign(model.forward(res.params, xte)) != yte).float().mean(1).double().cpu())
        diverged.append(res.diverged.cpu())
    return [torch.stack(test_err), torch.stack(train_err), torch.stack(diverged)]


def _fit(cfg: Config, test: torch.Tensor, ok: torch.Tensor, n_test: int) -> tuple[float, float]:
    """The Beta model fitted on the valid zero-training-error runs with ``n <= fit_n_max``."""
    fit_k = [k for k, n in enumerate(cfg.gd_n) if n <= cfg.fit_n_max]
    errs = torch.cat([test[k][ok[k]] for k in fit_k])
    ns = torch.cat([torch.full((int(ok[k].sum()),), float(cfg.gd_n[k])) for k in fit_k])
    return beta_fit(errs, ns, n_test) if errs.numel() >= 2 else (float("nan"), float("nan"))


def run_gd(cfg: Config, dev: torch.device, sp: data.MNISTSplit, progress: bool) -> GDRuns:
    """GD-trained networks of every width and the Beta fits (see the package docstring, part (b))."""
    test, train_err, diverged = (torch.stack(t) for t in zip(*(
        _gd_width(cfg, dev, sp, wi, progress) for wi in range(len(cfg.widths)))))
    fits = tuple(_fit(cfg, test[wi], (train_err[wi] == 0) & ~diverged[wi], len(sp.y_test)) for wi in range(len(cfg.widths)))
    return GDRuns(test=test, train=train_err, diverged=diverged, n=cfg.gd_n, fits=fits)


@dataclass(frozen=True, eq=False)
class UnderParam:
    """(c) The under-parameterized width ``width`` (``params`` parameters, fewer than the largest
    ``n``): ``q_eps (M,)`` held-out errors of ``M`` random networks of that width (its own ``Q``), and
    GD-trained networks ``test``, ``train``, ``diverged (K, E)`` at the sizes ``n`` (same GD settings
    as part (b))."""

    width: int
    params: int
    n: tuple[int, ...]
    q_eps: torch.Tensor
    test: torch.Tensor
    train: torch.Tensor
    diverged: torch.Tensor

    def ok(self) -> torch.Tensor:
        """``(K, E)`` bool: members that reached zero training error and did not diverge."""
        return (self.train == 0) & ~self.diverged

    def q_prediction(self, ns=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The learning curve ``E_n`` predicted from the width's own ``Q`` sample (prior conditioning)
        and its effective sample size, at ``ns`` (default ``n``)."""
        ns = torch.as_tensor(self.n if ns is None else ns, dtype=torch.float64)
        logw = ns[:, None] * torch.log1p(-self.q_eps.clamp(max=1 - 1e-12))[None, :]
        w = torch.exp(logw - logw.max(1, keepdim=True).values)
        return (w * self.q_eps).sum(1) / w.sum(1), w.sum(1) ** 2 / w.square().sum(1)


def run_under(cfg: Config, dev: torch.device, sp: data.MNISTSplit, progress: bool) -> UnderParam:
    """Random networks of width ``under_width`` (their ``Q``) and GD on ``under_n`` (see :class:`UnderParam`)."""
    width, M = cfg.under_width, cfg.under_nets
    model = _net(cfg, width)
    xte, yte = sp.x_test.to(dev), sp.y_test.to(dev)
    chunk, eps = max(1, cfg.hidden_chunk // width), []
    for c, start in enumerate(range(0, M, chunk)):
        p = _random_params(model, min(chunk, M - start), _seed(cfg, "under_init", width, c), dev)
        with torch.no_grad():
            eps.append((torch.sign(random_relu_outputs(model, p, xte)) != yte).float().mean(1).double().cpu())
    test, train_err, div = _gd_width(cfg, dev, sp, 0, progress, width=width, ns=cfg.under_n, part="under_gd")
    return UnderParam(width=width, params=cfg.under_params, n=cfg.under_n, q_eps=torch.cat(eps),
                      test=test, train=train_err, diverged=div)


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Result:
    """What :func:`run` returns: the config, the device it ran on, wall ``seconds`` per part (and
    ``"total"``), the three sub-experiments, and the sizes of the MNIST held-out set and training pool."""

    config: Config
    device: str
    seconds: dict[str, float]
    toy: Toy
    random: RandomNets
    gd: GDRuns
    n_test: int
    n_pool: int
    under: UnderParam | None = None
    noisy: NoisyToy | None = None


#: Per-unit costs measured with one CPU thread (book preset, 2 cores) and rough GPU rates (H100/H200
#: class, float32): seconds per (classifier x shared sequence), per fresh-set classifier, per
#: (hidden unit x input point) of the random networks, and the GD flop rate.
_COST = {"cpu": {"toy": 2.0e-7, "fresh": 8e-7, "unit_point": 2e-8, "flops": 1.5e10, "step": 0.004},
         "cuda": {"toy": 2e-9, "fresh": 2e-8, "unit_point": 5e-12, "flops": 3e12, "step": 0.0006}}


def estimate_seconds(cfg: Config, device="cpu") -> float:
    """An estimate of :func:`run`'s wall time from per-part unit costs (see ``_COST``; the CPU rates are
    measured on one thread, the GPU rates are rough). The toy's shared sequences, its fresh-set control,
    the random networks (training sequences for all, the held-out set for the ``Q`` sample and the
    survivors), and the GD runs; :func:`run` prints each part's time as it ends."""
    kind = "cuda" if str(device).startswith("cuda") else resolve_device(device).type  # no GPU needed to estimate
    c = _COST["cuda" if kind == "cuda" else "cpu"]
    t = c["toy"] * cfg.toy_classifiers * cfg.toy_train_sets * max(1.0, cfg.toy_n_max / 60)
    t += c["fresh"] * cfg.toy_fresh * max(1.0, cfg.toy_n_max / 60)
    D = cfg.d_input
    for w, M, Mq in zip(cfg.widths, cfg.random_nets, cfg.random_q_nets):
        points = M * cfg.random_train_sets * cfg.random_n_max + min(M, Mq) * 400
        t += c["unit_point"] * w * points * D / 49
        t += 6.0 * cfg.gd_seeds * sum(cfg.gd_n) * D * w * cfg.steps / c["flops"]
    t += c["toy"] * cfg.toy_classifiers * cfg.toy_noise_sets * max(1.0, cfg.toy_n_max / 60)  # label-noise toy
    t += c["fresh"] * cfg.toy_noise_fresh
    t += c["unit_point"] * cfg.under_width * cfg.under_nets * 400 * D / 49  # under-parameterized Q sample
    t += 6.0 * cfg.under_seeds * sum(cfg.under_n) * D * cfg.under_width * cfg.under_steps / c["flops"]
    t += c["step"] * cfg.under_steps * len(cfg.under_n)
    return float(t + c["step"] * cfg.steps * len(cfg.gd_n) * len(cfg.widths))


def run(cfg: Config, *, device="auto", progress: bool = True) -> Result:
    """Run the toy, the random-network rejection and the GD-trained networks (package docstring)."""
    require_config(cfg, Config, CHAPTER)
    dev = resolve_device(device)
    announce(CHAPTER, estimate_seconds(cfg, dev), dev, progress)
    timer = Timer(CHAPTER, progress)
    with timer("toy"):
        toy = run_toy(cfg, dev)
    with timer("noisy toy"):
        noisy = run_noisy_toy(cfg, dev, toy.grid, toy.Q, toy.theory_bad)
    sp = _mnist(cfg)
    with timer("random"):
        rnd = run_random(cfg, dev, sp)
    with timer("gd"):
        gd = run_gd(cfg, dev, sp, progress)
    with timer("under"):
        under = run_under(cfg, dev, sp, progress)
    return Result(cfg, str(dev), timer.total(), toy, rnd, gd, n_test=len(sp.y_test), n_pool=len(sp.y_train),
                  under=under, noisy=noisy)
