"""Hand-written loss and gradients of the two-layer ReLU ensemble (the trainer's fast path).

Private: use :meth:`overparam.models.TwoLayerReLU.loss_and_grads`. The autograd path of
:func:`overparam.train.train` (``fast=False``) is the reference this is tested against
(``tests/test_fast_path.py``).

For ``f_e(x) = s * sum_j a_ej relu(w_ej . x + b_ej)`` and a per-member loss ``L_e = sum_i l(f_e(x_i), y_i)``
with ``g_ei = dl/df`` (``(f - y)/n`` for mse, ``f - y`` for sse, ``-y 1[y f < 1]/n`` for hinge,
``-y sigmoid(-y f)/n`` for logistic):

    dL/da_ej = s sum_i g_ei h_eij,      P_eij = g_ei 1[h_eij > 0],
    dL/dw_ej = s a_ej sum_i P_eij x_i,  dL/db_ej = s a_ej sum_i P_eij.

So the only large intermediate is the hidden activation ``h`` (overwritten in place by ``P``), and the
factor ``s a_ej`` is applied to the small ``(m, d)`` result rather than to the ``(n, m)`` activations.

Speed (CPU): members are processed in chunks whose activation buffer is about ``_CPU_CHUNK_BYTES``
(cache-sized), in one preallocated workspace reused across calls (no fresh multi-MB temporaries per
step), with ``out=`` GEMMs, in-place ReLU and the ReLU mask applied in place
(``threshold_backward``). Activations are stored hidden-units-by-samples, ``(C, m, n)``, so that every
product below reads contiguous memory. With inputs shared by all members, a chunk of ``C`` members is
ONE GEMM ``W (C m, d) @ x^T (d, n)`` forward and ONE GEMM ``[x, 1]^T (d + 1, n) @ P^T (n, C m)``
backward (the row of ones gives the bias gradient in the same GEMM; this orientation measured ~1.4x
faster than ``P @ x`` on the 2-core CPU); with per-member inputs they are ``baddbmm``/``bmm``. The
output layer and ``dL/da`` are batched matrix-vector products. Nothing moves data to the host. On CUDA
the chunks are large (launch overhead, not cache, is what matters there).

At width 1000 a chunk holds one member (``n m`` floats = 4 MB at n = 1000), and that is the right size:
a member's own GEMMs are large, and on the 2-core development machine (1 thread) chunks of 16 MB and
64 MB ran at about 0.55x and 0.45x the speed of 4 MB ones (at widths 100 and 1000 alike), while tiling
the samples into L2-sized blocks (128 of them) ran at ~0.8x. :func:`two_layer_loss` is the same forward
pass without gradients (the trainer's full loss), in the same chunks and workspace.
"""

from __future__ import annotations

import torch

_CPU_CHUNK_BYTES = 4 * 2**20
_CUDA_CHUNK_BYTES = 1 * 2**30
_LOSSES = ("mse", "sse", "hinge", "logistic")

# one flat scratch buffer per (device, dtype); grown on demand, reused by every call
_WORKSPACE: dict[tuple[str, torch.dtype], torch.Tensor] = {}


def _workspace(numel: int, like: torch.Tensor) -> torch.Tensor:
    key = (str(like.device), like.dtype)
    buf = _WORKSPACE.get(key)
    if buf is None or buf.numel() < numel:
        buf = torch.empty(numel, device=like.device, dtype=like.dtype)
        _WORKSPACE[key] = buf
    return buf[:numel]


def chunk_members(E: int, n: int, m: int, device: torch.device, element_size: int, chunk_bytes: int | None = None) -> int:
    """Members per chunk so that one ``(C, m, n)`` activation buffer is about ``chunk_bytes``."""
    if chunk_bytes is None:
        chunk_bytes = _CUDA_CHUNK_BYTES if device.type == "cuda" else _CPU_CHUNK_BYTES
    return max(1, min(E, chunk_bytes // max(1, n * m * element_size)))


def _dloss(out: torch.Tensor, y: torch.Tensor, loss: str, n: int, s: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-member loss ``(C,)`` and ``s * dL/dout`` ``(C, n)`` for outputs ``out (C, n)``."""
    if loss in ("mse", "sse"):
        r = out.sub_(y)
        lv = torch.linalg.vecdot(r, r).mul_(0.5 / n if loss == "mse" else 0.5)
        return lv, r.mul_(s / n if loss == "mse" else s)
    z = out.mul_(y)  # margins y f
    if loss == "hinge":
        lv = torch.relu(1 - z).mean(-1)
        g = torch.where(z < 1, y * (-s / n), torch.zeros((), dtype=out.dtype, device=out.device))
        return lv, g
    lv = torch.nn.functional.softplus(-z).mean(-1)
    g = torch.sigmoid(-z).mul_(y).mul_(-s / n)
    return lv, g


def _case(model, params, x: torch.Tensor, y: torch.Tensor, loss: str):
    """``(w, a, b, E, m, d, n, per_x, per_y)`` when the fast path covers this case, else ``None``."""
    if model.outputs != 1 or loss not in _LOSSES:
        return None
    w, a = params["w"], params["a"]
    b = params.get("b") if model.bias else None
    if w.ndim != 3:
        return None
    E, m, d = w.shape
    if a.shape != (E, m) or (b is not None and b.shape != (E, m)):
        return None
    if any(t.dtype != w.dtype or t.device != w.device for t in (a, x, y) + ((b,) if b is not None else ())):
        return None
    per_x = x.ndim == 3
    if x.ndim not in (2, 3) or x.shape[-1] != d or (per_x and x.shape[0] != E):
        return None
    n = x.shape[-2]
    if tuple(y.shape) not in ((n,), (E, n)):
        return None
    return w, a, b, E, m, d, n, per_x, y.ndim == 2


def _hidden(Ht: torch.Tensor, wc: torch.Tensor, bc: torch.Tensor | None, x: torch.Tensor, per_x: bool) -> None:
    """Post-ReLU activations of a chunk of ``c`` members written into ``Ht (c, m, n)``: ONE GEMM
    ``(c m, d) @ (d, n)`` for shared ``x (n, d)``, ``baddbmm``/``bmm`` for per-member ``x (c, n, d)``."""
    c, m, n = Ht.shape
    if not per_x:
        H2 = Ht.view(c * m, n)
        if bc is not None:
            torch.addmm(bc.reshape(c * m, 1), wc.view(c * m, wc.shape[-1]), x.t(), out=H2)
        else:
            torch.mm(wc.view(c * m, wc.shape[-1]), x.t(), out=H2)
    elif bc is not None:
        torch.baddbmm(bc.unsqueeze(-1), wc, x.transpose(1, 2), out=Ht)
    else:
        torch.bmm(wc, x.transpose(1, 2), out=Ht)
    Ht.relu_()


def two_layer_loss(model, params, x: torch.Tensor, y: torch.Tensor, loss: str, chunk_bytes: int | None = None):
    """Per-member loss ``(E,)`` of :class:`~overparam.models.TwoLayerReLU` without gradients, in
    chunks in the reused workspace (no ``(E, n, m)`` temporaries), or ``None`` when the case is not
    covered (as :func:`two_layer_loss_and_grads`). Shapes as there."""
    case = _case(model, params, x, y, loss)
    if case is None:
        return None
    w, a, b, E, m, d, n, per_x, per_y = case
    s = float(model.scale)
    C = chunk_members(E, n, m, w.device, w.element_size(), chunk_bytes)
    lv = torch.empty(E, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        w, a = w.contiguous(), a.contiguous()
        hbuf = _workspace(C * m * n, w)
        for e0 in range(0, E, C):
            sl = slice(e0, min(E, e0 + C))
            c = sl.stop - e0
            Ht = hbuf[: c * m * n].view(c, m, n)
            _hidden(Ht, w[sl], None if b is None else b[sl], x[sl] if per_x else x, per_x)
            out = torch.bmm(a[sl].unsqueeze(1), Ht).squeeze(1)
            if s != 1.0:
                out.mul_(s)
            lv[sl] = _dloss(out, y[sl] if per_y else y, loss, n, s)[0]
    return lv


def two_layer_loss_and_grads(model, params, x: torch.Tensor, y: torch.Tensor, loss: str, chunk_bytes: int | None = None):
    """``(loss (E,), {name: grad})`` for :class:`~overparam.models.TwoLayerReLU`, or ``None`` when this
    case is not covered (``outputs > 1``, an unknown loss, shapes/dtypes/devices that do not match) so
    that autograd takes over.

    ``x``: ``(n, d)`` shared or ``(E, n, d)`` per member; ``y``: ``(n,)`` or ``(E, n)``.
    """
    case = _case(model, params, x, y, loss)
    if case is None:
        return None
    w, a, b, E, m, d, n, per_x, per_y = case
    s = float(model.scale)
    dev, dt = w.device, w.dtype
    C = chunk_members(E, n, m, dev, w.element_size(), chunk_bytes)

    with torch.no_grad():
        w, a = w.contiguous(), a.contiguous()
        one = C >= E  # a single chunk: outputs are allocated by the ops themselves (fewer calls)
        gw = None if one else torch.empty_like(w)
        gb = None if one or b is None else torch.empty(E, m, device=dev, dtype=dt)
        ga = None if one or not model.train_output else torch.empty(E, m, device=dev, dtype=dt)
        lv = None if one else torch.empty(E, device=dev, dtype=dt)
        if not per_x:
            # with a bias, a column of ones gives dL/db from the same GEMM as dL/dw
            xa = torch.cat([x, torch.ones(n, 1, device=dev, dtype=dt)], 1) if b is not None else x
            k = xa.shape[1]
            ws = _workspace(C * m * n + C * m * k, w)
            hbuf, gbuf = ws[: C * m * n], ws[C * m * n :]
        else:
            hbuf = _workspace(C * m * n, w)
        for e0 in range(0, E, C):
            e1 = min(E, e0 + C)
            c = e1 - e0
            sl = slice(e0, e1)
            wc, ac = (w, a) if c == E else (w[sl], a[sl])
            Ht = hbuf[: c * m * n].view(c, m, n)  # hidden units x samples, per member
            xc = x if c == E or not per_x else x[sl]
            _hidden(Ht, wc, None if b is None else b[sl], xc, per_x)
            out = torch.bmm(ac.unsqueeze(1), Ht).squeeze(1)  # (c, n), before the factor s
            if s != 1.0:
                out.mul_(s)
            lc, g = _dloss(out, y[sl] if per_y and c < E else y, loss, n, s)  # g = s dL/df
            if lv is None:
                lv = lc
            else:
                lv[sl] = lc
            g1 = g.unsqueeze(1)  # (c, 1, n)
            if model.train_output:
                if one:
                    ga = torch.bmm(g1, Ht.transpose(1, 2)).squeeze(1)
                else:
                    torch.bmm(g1, Ht.transpose(1, 2), out=ga[sl].unsqueeze(1))
            # P = s g 1[h > 0], written over H; dL/dw_j = a_j P_j x, dL/db_j = a_j sum_i P_ij
            torch.ops.aten.threshold_backward.grad_input(g1.expand_as(Ht), Ht, 0, grad_input=Ht)
            a3 = ac.unsqueeze(-1)  # (c, m, 1)
            if not per_x:  # one GEMM: (k, n) @ (n, c m), i.e. [dW | db]^T (the faster orientation)
                Gt = torch.mm(xa.t(), Ht.view(c * m, n).t(), out=gbuf[: k * c * m].view(k, c * m))
                G3 = Gt.t().view(c, m, k)
                if one:
                    gw = torch.mul(G3[..., :d], a3)
                    if b is not None:
                        gb = torch.mul(G3[..., d], ac)
                else:
                    torch.mul(G3[..., :d], a3, out=gw[sl])
                    if b is not None:
                        torch.mul(G3[..., d], ac, out=gb[sl])
            else:
                if one:
                    gw = torch.bmm(Ht, xc).mul_(a3)
                    if b is not None:
                        gb = torch.sum(Ht, -1).mul_(ac)
                else:
                    torch.bmm(Ht, xc, out=gw[sl])
                    gw[sl].mul_(a3)
                    if b is not None:
                        torch.sum(Ht, -1, out=gb[sl])
                        gb[sl].mul_(ac)
    grads = {"w": gw}
    if gb is not None:
        grads["b"] = gb
    if ga is not None:
        grads["a"] = ga
    return lv, grads
