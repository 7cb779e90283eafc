"""Batched ("ensemble") models: every parameter has a leading member axis ``E``.

A model is a small frozen description (sizes, init) plus pure functions of a parameter dict:
``init(members, seed)`` draws ``{name: (E, ...)}`` on the CPU (same seed, same numbers on every
device) and ``forward(params, x)`` evaluates all members at once. Inputs are shared by all members,
``(n, ...)``, or one set per member, ``(E, n, ...)``. Outputs are ``(E, n)`` for scalar models and
``(E, n, c)`` for ``c > 1`` outputs. ``trainable`` names the parameters the trainer updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ._validate import (
    _short,
    check_bool,
    check_choice,
    check_float,
    check_float_dtype,
    check_int,
    check_int_sequence,
)
from .device import check_memory, cpu_generator, resolve_device

__all__ = ["paired_init", "TwoLayerReLU", "XORConvNet", "XORPatternNet", "ConvNet", "DeepReLUMLP", "check_inputs"]

Params = dict[str, torch.Tensor]


def check_inputs(x: torch.Tensor, members: int, feature_shape: tuple[int, ...], name: str = "x") -> bool:
    """Check ``x`` is ``(n, *feature_shape)`` or ``(E, n, *feature_shape)``; return True if per-member."""
    k = len(feature_shape)
    if not isinstance(x, torch.Tensor) or x.is_complex():
        raise ValueError(
            f"{name} must be a real torch.Tensor of shape (n, {', '.join(map(str, feature_shape))}); got {_short(x)}"
        )
    if tuple(x.shape[x.ndim - k :]) != tuple(feature_shape) or x.ndim not in (k + 1, k + 2):
        raise ValueError(
            f"{name} must have shape (n, {', '.join(map(str, feature_shape))}) or "
            f"(E={members}, n, {', '.join(map(str, feature_shape))}); got {tuple(x.shape)}"
        )
    if x.ndim == k + 2 and x.shape[0] != members:
        raise ValueError(f"{name} has {x.shape[0]} members on its first axis but the parameters have E={members}")
    return x.ndim == k + 2


def _members(params: Params) -> int:
    return next(iter(params.values())).shape[0]


def check_params(model, params: Params, name: str = "params") -> int:
    """Check ``params`` against ``model.param_layout(E)``: a dict of floating tensors on one device,
    exactly the model's keys, each of the model's shape with the same member count ``E``.
    Returns ``E``. Raises ``ValueError`` naming the key, the expected and the actual shape."""
    if not isinstance(params, dict) or not params:
        raise ValueError(f"{name} must be a non-empty dict {{name: (E, ...) tensor}} (from model.init); got {_short(params)}")
    for k, v in params.items():
        if not isinstance(v, torch.Tensor) or not v.dtype.is_floating_point or v.ndim == 0:
            what = f"dtype {v.dtype}, shape {tuple(v.shape)}" if isinstance(v, torch.Tensor) else _short(v)
            raise ValueError(f"{name}[{k!r}] must be a floating tensor with a leading member axis (E, ...); got {what}")
    first = next(iter(params.values()))
    E = first.shape[0]
    layout = model.param_layout(E)
    missing = [k for k in layout if k not in params]
    extra = [k for k in params if k not in layout]
    if missing or extra:
        raise ValueError(
            f"{name} must have exactly the keys {list(layout)} for {model!r}; "
            + (f"missing {missing}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unexpected {extra}" if extra else "")
        )
    for k, (shape, text) in layout.items():
        got = tuple(params[k].shape)
        if got != shape:
            raise ValueError(f"{name}[{k!r}] must have shape {text} = {shape} for {model!r} (E={E} from the first parameter); got {got}")
        if params[k].device != first.device or params[k].dtype != first.dtype:
            raise ValueError(
                f"{name} must all be on one device with one dtype; {k!r} is {params[k].dtype} on {params[k].device}, "
                f"the first is {first.dtype} on {first.device}"
            )
    return E


def _start_init(model, members, seed, device, dtype, numel_per_member: int, lower: str) -> tuple[int, torch.device]:
    """Validate ``init``'s arguments and its memory (float64 draw + cast) before drawing anything."""
    E = check_int("members", members, 1)
    check_int("seed", seed, 0, 2**63 - 1)
    check_float_dtype("dtype", dtype)
    dev = resolve_device(device)
    elt = torch.empty((), dtype=dtype).element_size()
    check_memory(E * numel_per_member * (8 + elt), f"{type(model).__name__}.init(members={E})", f"members or {lower}")
    if dev.type != "cpu":
        check_memory(E * numel_per_member * elt, f"{type(model).__name__}.init(members={E})", f"members or {lower}", dev)
    return E, dev


def _finish(params: Params, device, dtype) -> Params:
    dev = resolve_device(device)
    return {k: v.to(device=dev, dtype=dtype).contiguous() for k, v in params.items()}


def paired_init(params: Params) -> Params:
    """Pair the hidden neurons so the two-layer network is exactly zero at initialization.

    For ``w (E, m, d)``, ``a (E, m)`` (and ``b (E, m)`` when present): neuron ``r + m/2`` gets
    ``w_r`` (and ``b_r``) and ``-a_r``. Each half keeps its law, and ``f(x) = 0`` for every ``x``:
    ``u(0) = 0`` as Arora et al. (2019) assume, and the ``zero_output`` init of Boursier &
    Flammarion's code. Returns a new dict; ``m`` must be even.
    """
    if not isinstance(params, dict) or any(k not in params or not isinstance(params[k], torch.Tensor) for k in ("w", "a")):
        raise ValueError(f"params must be a dict with tensors 'w' (E, m, d) and 'a' (E, m) of a two-layer network; got {('keys ' + str(list(params))) if isinstance(params, dict) else _short(params)}")
    if params["w"].ndim != 3 or params["a"].shape[:2] != params["w"].shape[:2]:
        raise ValueError(
            f"params['w'] must be (E, m, d) and params['a'] (E, m[, c]) with the same E and m; "
            f"got {tuple(params['w'].shape)} and {tuple(params['a'].shape)}"
        )
    w, a = params["w"].clone(), params["a"].clone()
    m = w.shape[1]
    if m % 2:
        raise ValueError(f"paired_init needs an even width m; got width m = {m}")
    h = m // 2
    w[:, h:] = w[:, :h]
    a[:, h:] = -a[:, :h]
    out = {**params, "w": w, "a": a}
    if "b" in params:
        b = params["b"].clone()
        b[:, h:] = b[:, :h]
        out["b"] = b
    return out


@dataclass(frozen=True)
class TwoLayerReLU:
    """Two-layer ReLU network ``f(x) = s * sum_j a_j relu(w_j . x + b_j)``, batched over members.

    Parameters: ``w (E, m, d)``, ``b (E, m)`` if ``bias``, ``a (E, m)`` (or ``(E, m, c)`` for
    ``outputs = c > 1``). The prefactor ``s`` is ``output_scale``; ``"ntk"`` means ``1/sqrt(m)``
    (Arora et al. 2019, Eq. 1).

    Initialisation (first layer ``w, b ~ N(0, init_scale^2)``), output layer by ``output_init``:

    - ``"gaussian"``: ``a ~ N(0, output_std^2)`` (``output_std`` defaults to ``init_scale``);
    - ``"sign"``: ``a ~ Unif{-1, +1}`` (Arora et al. 2019: fixed output layer);
    - ``"balanced"``: ``a_j = +-||(w_j, b_j)||`` with a random sign (Boursier & Flammarion 2024/25:
      balanced small initialization).

    ``train_output=False`` keeps ``a`` fixed.
    """

    d: int
    width: int
    outputs: int = 1
    bias: bool = False
    init_scale: float = 1.0
    output_init: str = "gaussian"
    output_std: float | None = None
    output_scale: float | str = 1.0
    train_output: bool = True

    input_ndim = 1

    def __post_init__(self):
        check_int("d", self.d, 1)
        check_int("width", self.width, 1)
        check_int("outputs", self.outputs, 1)
        check_bool("bias", self.bias)
        check_bool("train_output", self.train_output)
        check_float("init_scale", self.init_scale, 0, None, low_open=True)
        check_choice("output_init", self.output_init, ("gaussian", "sign", "balanced"))
        if self.output_std is not None:
            check_float("output_std", self.output_std, 0, None)
        if isinstance(self.output_scale, str):
            check_choice("output_scale", self.output_scale, ("ntk",))
        else:
            check_float("output_scale", self.output_scale, 0, None, low_open=True)

    @property
    def trainable(self) -> tuple[str, ...]:
        names = ("w", "b") if self.bias else ("w",)
        return names + (("a",) if self.train_output else ())

    @property
    def scale(self) -> float:
        """The output prefactor ``s``."""
        return 1.0 / math.sqrt(self.width) if self.output_scale == "ntk" else float(self.output_scale)

    def param_layout(self, E: int) -> dict[str, tuple[tuple[int, ...], str]]:
        """``{name: (shape, symbolic shape)}`` of the parameters of ``E`` members."""
        m, d, c = self.width, self.d, self.outputs
        out = {"w": ((E, m, d), "(E, width, d)")}
        if self.bias:
            out["b"] = ((E, m), "(E, width)")
        out["a"] = ((E, m), "(E, width)") if c == 1 else ((E, m, c), "(E, width, outputs)")
        return out

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """The shape of one input sample."""
        return (self.d,)

    def forward_numel(self, E: int, n: int, sample_shape: tuple[int, ...] = ()) -> int:
        """Elements of the intermediates of one forward pass over ``n`` inputs (the memory guard)."""
        return 2 * E * n * self.width + E * n * self.outputs

    def init(self, members: int, seed: int = 0, device="cpu", dtype=torch.float32) -> Params:
        """Draw ``members`` independent networks (on the CPU, in float64, then cast and moved)."""
        numel = self.width * (self.d + int(self.bias) + self.outputs)
        E, _ = _start_init(self, members, seed, device, dtype, numel, "width or d")
        g = cpu_generator(seed)
        m, d, c = self.width, self.d, self.outputs
        p = {"w": self.init_scale * torch.randn(E, m, d, generator=g, dtype=torch.float64)}
        if self.bias:
            p["b"] = self.init_scale * torch.randn(E, m, generator=g, dtype=torch.float64)
        a_shape = (E, m) if c == 1 else (E, m, c)
        if self.output_init == "gaussian":
            std = self.init_scale if self.output_std is None else self.output_std
            p["a"] = std * torch.randn(a_shape, generator=g, dtype=torch.float64)
        else:
            sign = torch.randint(0, 2, a_shape, generator=g).to(torch.float64) * 2 - 1
            if self.output_init == "sign":
                p["a"] = sign
            else:
                norm = p["w"].square().sum(-1)
                if self.bias:
                    norm = norm + p["b"].square()
                norm = norm.sqrt()
                p["a"] = sign * (norm if c == 1 else norm[..., None])
        return _finish(p, device, dtype)

    def hidden(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Post-ReLU hidden activations, ``(E, n, m)``, for ``x`` of shape ``(n, d)`` or ``(E, n, d)``."""
        check_inputs(x, check_params(self, params), (self.d,))
        pre = torch.matmul(x, params["w"].transpose(1, 2))
        if self.bias:
            pre = pre + params["b"][:, None, :]
        return torch.relu(pre)

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Network outputs, ``(E, n)`` (or ``(E, n, c)``)."""
        h = self.hidden(params, x)
        a = params["a"]
        out = torch.matmul(h, a[..., None]).squeeze(-1) if a.ndim == 2 else torch.matmul(h, a)
        return self.scale * out

    def loss_and_grads(self, params: Params, x: torch.Tensor, y: torch.Tensor, loss: str = "mse"):
        """Hand-written per-member loss ``(E,)`` and gradients ``{name: (E, ...)}`` of the trainable
        parameters (the trainer's fast path; equal to autograd's to rounding).

        Covers ``outputs == 1`` with every loss of :data:`overparam.train.LOSSES`, with or without
        bias, trained or fixed output layer, ``x`` of shape ``(n, d)`` or ``(E, n, d)`` and ``y`` of
        shape ``(n,)`` or ``(E, n)`` on the parameters' device and dtype. Returns ``None`` for any
        other case, and the trainer then uses autograd. Members are processed in cache-sized chunks
        with reused buffers (see :mod:`overparam._fastpath`).
        """
        from ._fastpath import two_layer_loss_and_grads

        return two_layer_loss_and_grads(self, params, x, y, loss)


@dataclass(frozen=True)
class XORConvNet:
    """The XORD network of Brutzkus & Globerson (ICML 2019, Section 3), batched over members.

    ``N(x) = sum_{i<=k} [max_j relu(w_i . x_j) - max_j relu(u_i . x_j)]``: 2k filters of size 2
    applied with stride 2 (one per position ``x_j`` in R^2), ReLU, max-pool over the d positions,
    and a fixed readout (+1 for the ``w`` filters, -1 for the ``u`` filters).
    Parameters: ``w (E, k, 2)``, ``u (E, k, 2)``, both ``~ N(0, init_scale^2)``.
    Inputs: ``(n, d, 2)`` or ``(E, n, d, 2)``; output ``(E, n)``.
    """

    k: int
    init_scale: float = 1e-3
    trainable: tuple[str, ...] = field(default=("w", "u"), init=False)
    input_ndim = 2

    def __post_init__(self):
        check_int("k", self.k, 1)
        check_float("init_scale", self.init_scale, 0, None, low_open=True)

    def param_layout(self, E: int) -> dict[str, tuple[tuple[int, ...], str]]:
        """``{name: (shape, symbolic shape)}`` of the parameters of ``E`` members."""
        return {"w": ((E, self.k, 2), "(E, k, 2)"), "u": ((E, self.k, 2), "(E, k, 2)")}

    def forward_numel(self, E: int, n: int, sample_shape: tuple[int, ...] = (1, 2)) -> int:
        """Elements of the intermediates of one forward pass over ``n`` inputs of shape ``(d, 2)``."""
        return 4 * E * n * self.k * sample_shape[0]

    def init(self, members: int, seed: int = 0, device="cpu", dtype=torch.float32) -> Params:
        E, _ = _start_init(self, members, seed, device, dtype, 4 * self.k, "k")
        g = cpu_generator(seed)
        w = self.init_scale * torch.randn(E, self.k, 2, generator=g, dtype=torch.float64)
        u = self.init_scale * torch.randn(E, self.k, 2, generator=g, dtype=torch.float64)
        return _finish({"w": w, "u": u}, device, dtype)

    def pooled(self, params: Params, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Max-pooled ReLU responses of the w and u filters, each ``(E, n, k)``."""
        if not isinstance(x, torch.Tensor) or x.ndim < 3 or x.shape[-1] != 2:
            raise ValueError(f"x must have shape (n, d, 2) or (E, n, d, 2); got {tuple(x.shape) if isinstance(x, torch.Tensor) else _short(x)}")
        check_inputs(x, check_params(self, params), (x.shape[-2], 2))
        # (.., n, d, 2) x (E, k, 2) -> (E, n, k, d)
        eq = "ndp,ekp->enkd" if x.ndim == 3 else "endp,ekp->enkd"
        pw = torch.relu(torch.einsum(eq, x, params["w"])).amax(-1)
        pu = torch.relu(torch.einsum(eq, x, params["u"])).amax(-1)
        return pw, pu

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        pw, pu = self.pooled(params, x)
        return pw.sum(-1) - pu.sum(-1)


#: The four XORD patterns p1..p4 (rows), as in :data:`overparam.data.XORD_PATTERNS`.
_XORD_PATTERNS = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
# For a pattern set with bitmask s (bit l = pattern p_{l+1}): which of p1 / p3 it contains
# (0 none, 1 p1, 2 p3, 3 both) and which of p2 / p4 (0 none, 1 p2, 2 p4, 3 both).
_POS_CODE = torch.tensor([(s & 1) + 2 * ((s >> 2) & 1) for s in range(16)])
_NEG_CODE = torch.tensor([((s >> 1) & 1) + 2 * ((s >> 3) & 1) for s in range(16)])


@dataclass(frozen=True)
class XORPatternNet:
    """:class:`XORConvNet` evaluated exactly through a sufficient statistic of XORD inputs.

    On an XORD input every position holds one of the four patterns, so
    ``max_j relu(w . x_j) = relu(max_{l in S(x)} w . p_l)``, where ``S(x)`` is the set of
    patterns present in ``x``. The network output therefore depends on ``x`` only through the
    presence mask ``(n, 4)`` (see :func:`overparam.data.xord_presence`), and all 15 possible
    outputs are computed from the ``(E, k)`` products ``a = w . p1 = -w . p3`` and
    ``b = w . p2 = -w . p4``: training cost no longer grows with ``n`` or ``d``. Same parameters,
    init and outputs as ``XORConvNet(k, init_scale)`` on XORD inputs (tested).
    Inputs: presence masks ``(n, 4)`` or ``(E, n, 4)`` (0/1); output ``(E, n)``.
    """

    k: int
    init_scale: float = 1e-3
    trainable: tuple[str, ...] = field(default=("w", "u"), init=False)
    input_ndim = 1

    def __post_init__(self):
        check_int("k", self.k, 1)
        check_float("init_scale", self.init_scale, 0, None, low_open=True)

    def param_layout(self, E: int) -> dict[str, tuple[tuple[int, ...], str]]:
        """``{name: (shape, symbolic shape)}`` of the parameters of ``E`` members."""
        return {"w": ((E, self.k, 2), "(E, k, 2)"), "u": ((E, self.k, 2), "(E, k, 2)")}

    feature_shape = (4,)

    def forward_numel(self, E: int, n: int, sample_shape: tuple[int, ...] = (4,)) -> int:
        """Elements of the intermediates of one forward pass over ``n`` inputs."""
        return 2 * E * n + 64 * E * self.k

    def init(self, members: int, seed: int = 0, device="cpu", dtype=torch.float32) -> Params:
        """The same draw as :meth:`XORConvNet.init` with the same arguments."""
        return XORConvNet(self.k, self.init_scale).init(members, seed, device, dtype)

    @staticmethod
    def _best(f: torch.Tensor):
        """For filters ``f (E, m, 2)``: ``best (E, m, 16) = max_{l in S} f . p_l`` per pattern set S,
        and the derivative coefficients: ``d best / d f = ca * p1 + cb * p2`` (each ``(E, m, 16)``)."""
        a = f[..., 0] + f[..., 1]  # f . p1 = -f . p3
        b = f[..., 0] - f[..., 1]  # f . p2 = -f . p4
        ninf = torch.full_like(a, float("-inf"))
        A = torch.stack([ninf, a, -a, a.abs()], dim=-1)  # max over the positive patterns present
        B = torch.stack([ninf, b, -b, b.abs()], dim=-1)  # max over the negative patterns present
        pc, nc = _POS_CODE.to(f.device), _NEG_CODE.to(f.device)
        As, Bs = A[..., pc], B[..., nc]  # (E, m, 16)
        from_a = As >= Bs
        best = torch.where(from_a, As, Bs)
        one = torch.ones_like(a)
        sa = torch.stack([0 * one, one, -one, torch.sign(a)], dim=-1)[..., pc]
        sb = torch.stack([0 * one, one, -one, torch.sign(b)], dim=-1)[..., nc]
        ca = torch.where(from_a, sa, 0.0)
        cb = torch.where(from_a, 0.0, sb)
        return best, ca, cb

    def subset_outputs(self, params: Params) -> torch.Tensor:
        """``(E, 16)``: the output on an input whose pattern set has bitmask s (bit l = pattern p_{l+1})."""
        k = params["w"].shape[1]
        best = self._best(torch.cat([params["w"], params["u"]], dim=1))[0]
        h = torch.relu(best)
        return h[:, :k].sum(1) - h[:, k:].sum(1)

    @staticmethod
    def _subset_ids(x: torch.Tensor) -> torch.Tensor:
        return ((x > 0.5).long() * (2 ** torch.arange(4, device=x.device))).sum(-1)  # (n,) or (E, n); no integer matmul on CUDA

    def loss_and_grads(self, params: Params, x: torch.Tensor, y: torch.Tensor, loss: str):
        """Hand-written hinge-loss gradients (the trainer's fast path); ``None`` for other losses.

        Per filter and pattern set S the pooled response is ``relu(f . p_l*)`` with
        ``l* = argmax_{l in S} f . p_l``, whose gradient is ``1[f . p_l* > 0] p_l*``; the per-sample
        hinge coefficients are summed per pattern set first. Checked against autograd in the tests.
        """
        if loss != "hinge":
            return None
        w, u = params["w"], params["u"]
        E, k = w.shape[0], w.shape[1]
        best, ca, cb = self._best(torch.cat([w, u], dim=1))  # (E, 2k, 16)
        h = torch.relu(best)
        table = h[:, :k].sum(1) - h[:, k:].sum(1)  # (E, 16)
        sid = self._subset_ids(x)
        out = table[:, sid] if sid.ndim == 1 else table.gather(1, sid)
        n = out.shape[1]
        margin = 1 - y * out
        lv = torch.relu(margin).mean(-1)
        coef = -(y * (margin > 0).to(out.dtype)) / n  # d loss / d out, (E, n)
        sid_e = sid.expand(E, n) if sid.ndim == 1 else sid
        G = torch.zeros(E, 16, device=w.device, dtype=w.dtype).scatter_add_(1, sid_e, coef)  # (E, 16)
        sign = torch.ones(2 * k, 1, device=w.device, dtype=w.dtype)
        sign[k:] = -1
        weight = (G[:, None, :] * sign) * (best > 0).to(w.dtype)  # (E, 2k, 16)
        ga, gb = (weight * ca).sum(-1), (weight * cb).sum(-1)  # (E, 2k)
        g = torch.stack([ga + gb, ga - gb], dim=-1)  # ga * p1 + gb * p2
        return lv, {"w": g[:, :k], "u": g[:, k:]}

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        E = check_params(self, params)
        check_inputs(x, E, (4,))
        sid = self._subset_ids(x)
        table = self.subset_outputs(params)  # (E, 16)
        if sid.ndim == 1:
            return table[:, sid]
        return table.gather(1, sid)


@dataclass(frozen=True)
class ConvNet:
    """A small 3-layer conv net for images, batched over members with a grouped convolution.

    ``N(x) = sum_i maxpool(relu(conv(x, w_i))) - sum_i maxpool(relu(conv(x, u_i)))``: the image
    analogue of :class:`XORConvNet` (Brutzkus & Globerson 2019, Section 7, MNIST experiment):
    2k filters of size ``kernel`` x ``kernel`` with ``stride``, ReLU, global max-pool, fixed +-1
    readout. Parameters ``w, u (E, k, channels, kernel, kernel)`` ``~ N(0, init_scale^2)``.
    Inputs ``(n, channels, H, W)`` shared by all members or ``(E, n, channels, H, W)``; output ``(E, n)``.
    """

    k: int
    kernel: int = 3
    stride: int = 1
    channels: int = 1
    init_scale: float = 1e-2
    trainable: tuple[str, ...] = field(default=("w", "u"), init=False)
    input_ndim = 3

    def __post_init__(self):
        check_int("k", self.k, 1)
        check_int("kernel", self.kernel, 1, 28)
        check_int("stride", self.stride, 1, 28)
        check_int("channels", self.channels, 1)
        check_float("init_scale", self.init_scale, 0, None, low_open=True)

    def param_layout(self, E: int) -> dict[str, tuple[tuple[int, ...], str]]:
        """``{name: (shape, symbolic shape)}`` of the parameters of ``E`` members."""
        shape = (E, self.k, self.channels, self.kernel, self.kernel)
        return {"w": (shape, "(E, k, channels, kernel, kernel)"), "u": (shape, "(E, k, channels, kernel, kernel)")}

    def forward_numel(self, E: int, n: int, sample_shape: tuple[int, ...] = (1, 28, 28)) -> int:
        """Elements of the intermediates of one forward pass over ``n`` images ``(channels, h, w)``."""
        h, w = sample_shape[-2:]
        oh = max(1, (h - self.kernel) // self.stride + 1)
        ow = max(1, (w - self.kernel) // self.stride + 1)
        return 2 * E * n * 2 * self.k * oh * ow + E * n * self.channels * h * w

    def init(self, members: int, seed: int = 0, device="cpu", dtype=torch.float32) -> Params:
        numel = 2 * self.k * self.channels * self.kernel**2
        E, _ = _start_init(self, members, seed, device, dtype, numel, "k or kernel")
        g = cpu_generator(seed)
        shape = (E, self.k, self.channels, self.kernel, self.kernel)
        w = self.init_scale * torch.randn(shape, generator=g, dtype=torch.float64)
        u = self.init_scale * torch.randn(shape, generator=g, dtype=torch.float64)
        return _finish({"w": w, "u": u}, device, dtype)

    def pooled(self, params: Params, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Global-max-pooled ReLU feature maps of the w and u filters, each ``(E, n, k)``."""
        E = check_params(self, params)
        if not isinstance(x, torch.Tensor) or x.ndim not in (4, 5) or x.shape[-3] != self.channels or (x.ndim == 5 and x.shape[0] != E):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else _short(x)
            raise ValueError(f"x must have shape (n, {self.channels}, H, W) or (E={E}, n, {self.channels}, H, W); got {got}")
        if min(x.shape[-2:]) < self.kernel:
            raise ValueError(
                f"x holds {x.shape[-2]}x{x.shape[-1]} images, smaller than the filters (kernel={self.kernel}); "
                f"use kernel <= {min(x.shape[-2:])} or larger images (less pooling)"
            )
        filt = torch.cat([params["w"], params["u"]], dim=1)  # (E, 2k, C, s, s)
        weight = filt.reshape(E * 2 * self.k, self.channels, self.kernel, self.kernel)
        if x.ndim == 4:  # shared images -> (n, E*C, H, W): one group per member
            n = x.shape[0]
            xin = x.repeat(1, E, 1, 1) if E > 1 else x
        else:  # per-member images (E, n, C, H, W) -> (n, E*C, H, W)
            n = x.shape[1]
            xin = x.transpose(0, 1).reshape(n, E * self.channels, *x.shape[-2:])
        maps = torch.nn.functional.conv2d(xin, weight, stride=self.stride, groups=E)
        pooled = torch.relu(maps).amax(dim=(-2, -1)).reshape(n, E, 2 * self.k).transpose(0, 1)
        return pooled[..., : self.k], pooled[..., self.k :]

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        pw, pu = self.pooled(params, x)
        return pw.sum(-1) - pu.sum(-1)


@dataclass(frozen=True)
class DeepReLUMLP:
    """A deep ReLU MLP (teacher or student, Tian 2020), batched over members.

    ``sizes = (d, h_1, ..., h_L, c)``; layer ``l`` has ``W{l} (E, h_{l+1}, h_l)`` and, with ``bias``,
    ``b{l} (E, h_{l+1})``, all ``~ N(0, init_scale^2)``. ReLU after every layer but the last.
    Output ``(E, n)`` when ``c = 1``, else ``(E, n, c)``.
    """

    sizes: tuple[int, ...]
    bias: bool = True
    init_scale: float = 1.0
    input_ndim = 1

    def __post_init__(self):
        object.__setattr__(self, "sizes", check_int_sequence("sizes", self.sizes, 1, min_len=2))
        check_bool("bias", self.bias)
        check_float("init_scale", self.init_scale, 0, None, low_open=True)

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def trainable(self) -> tuple[str, ...]:
        names = []
        for l in range(self.layers):
            names.append(f"W{l}")
            if self.bias:
                names.append(f"b{l}")
        return tuple(names)

    def param_layout(self, E: int) -> dict[str, tuple[tuple[int, ...], str]]:
        """``{name: (shape, symbolic shape)}`` of the parameters of ``E`` members."""
        out = {}
        for l, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            out[f"W{l}"] = ((E, fan_out, fan_in), f"(E, sizes[{l + 1}], sizes[{l}])")
            if self.bias:
                out[f"b{l}"] = ((E, fan_out), f"(E, sizes[{l + 1}])")
        return out

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """The shape of one input sample."""
        return (self.sizes[0],)

    def forward_numel(self, E: int, n: int, sample_shape: tuple[int, ...] = ()) -> int:
        """Elements of the intermediates of one forward pass over ``n`` inputs."""
        return 2 * E * n * sum(self.sizes[1:])

    def init(self, members: int, seed: int = 0, device="cpu", dtype=torch.float32) -> Params:
        numel = sum((a + int(self.bias)) * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        E, _ = _start_init(self, members, seed, device, dtype, numel, "sizes")
        g = cpu_generator(seed)
        p = {}
        for l, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            p[f"W{l}"] = self.init_scale * torch.randn(E, fan_out, fan_in, generator=g, dtype=torch.float64)
            if self.bias:
                p[f"b{l}"] = self.init_scale * torch.randn(E, fan_out, generator=g, dtype=torch.float64)
        return _finish(p, device, dtype)

    def activations(self, params: Params, x: torch.Tensor) -> list[torch.Tensor]:
        """Post-ReLU activations of each hidden layer, a list of ``(E, n, h_l)``."""
        check_inputs(x, check_params(self, params), (self.sizes[0],))
        acts, h = [], x
        for l in range(self.layers - 1):
            h = self._layer(params, h, l).relu()
            acts.append(h)
        return acts

    def _layer(self, params: Params, h: torch.Tensor, l: int) -> torch.Tensor:
        out = torch.matmul(h, params[f"W{l}"].transpose(1, 2))
        return out + params[f"b{l}"][:, None, :] if self.bias else out

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        acts = self.activations(params, x)  # checks params and x
        h = acts[-1] if acts else x
        out = self._layer(params, h, self.layers - 1)
        return out.squeeze(-1) if self.sizes[-1] == 1 else out
