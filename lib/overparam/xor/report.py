"""Chapter 1's numbers: :func:`numbers` (every number the prose, the table and the summary quote),
:func:`paper_vs_ours` and :data:`CLAIM`. Diverged runs are excluded from every statistic."""

from __future__ import annotations

import math

from .. import stats
from ..book import row as _row
from ..stats import Estimate
from .measures import PAIR_SETS, RANDOM_COSINE, exploration_theory, pos_explored_theory
from .run import Ablations, Mnist, Result, Stuck, Sweep

__all__ = ["CLAIM", "numbers", "paper_vs_ours", "scale", "test_error", "zero_share", "fit_share", "bad_share", "mode_share",
           "full_share", "explore_mean", "split_test_error", "n_diverged", "ablation_key"]

CLAIM = (
    "On the XOR-detection problem, among the gradient-descent runs of a 3-layer conv net that reach a "
    "global minimum of the hinge loss (zero loss), the share that never detects one of the two positive "
    "patterns (the paper's failure mode: it errs on inputs whose only positive pattern is the missed one) "
    "falls from about half at $k = 2$ to zero at large $k$, both at a fixed step size and at a step size "
    "proportional to $1/k$: at initialization more filters means every pattern is detected by some filter "
    "(exploration), and training keeps it detected. A second failure, errors on pattern sets the training "
    "data do not contain, does not vanish with width at equal $\\eta k$; it vanishes with more training data."
)


# --------------------------------------------------------------------------------------------
# Per-width estimates (width index i of a sweep); the figures use the same functions
# --------------------------------------------------------------------------------------------


def test_error(sw: Sweep, i: int, zero_train_only: bool = False) -> Estimate:
    """Mean test error at width ``ks[i]`` over the non-diverged runs (or the zero-training-error ones)."""
    return stats.mean_ci(sw.test_err[i], sw.zero_train[i] if zero_train_only else ~sw.diverged[i])


def zero_share(sw: Sweep, i: int) -> Estimate:
    """Share of the non-diverged runs at ``ks[i]`` that reached zero training error."""
    return stats.share_ci(sw.zero_train[i], ~sw.diverged[i])


def fit_share(sw: Sweep, i: int) -> Estimate:
    """Share of the non-diverged runs at ``ks[i]`` at a global minimum of the hinge loss (zero loss)."""
    return stats.share_ci(sw.fitted[i], ~sw.diverged[i])


def bad_share(sw: Sweep, i: int) -> Estimate:
    """Among the runs at a global minimum (zero hinge loss) at ``ks[i]``, the share with nonzero test
    error (bad global minima)."""
    return stats.share_ci(sw.bad[i], sw.fitted[i])


def mode_share(sw: Sweep, i: int, mode: str) -> Estimate:
    """Among the runs at zero hinge loss at ``ks[i]``, the share failing by ``mode`` (``"miss"``: mode
    i; ``"unconstrained"``: mode ii, with its parts ``"pair"``, ``"other"``; see
    :func:`~overparam.xor.measures.failure_modes`)."""
    return stats.share_ci(sw.modes()[mode][i], sw.fitted[i])


def unseen_share(sw: Sweep, i: int) -> Estimate:
    """Among the mode-ii runs at ``ks[i]``, the share whose wrong pattern sets all are absent from their training set."""
    unc = sw.modes()["unconstrained"][i] & sw.fitted[i]
    return stats.share_ci(sw.unseen()[i], unc)


def full_share(sw: Sweep, i: int) -> Estimate:
    """Share of the non-diverged runs at ``ks[i]`` whose init explored all four patterns."""
    return stats.share_ci(sw.explore_init[i] == 1, ~sw.diverged[i])


def explore_mean(sw: Sweep, i: int) -> Estimate:
    """Mean share of explored patterns at init, width ``ks[i]``."""
    return stats.mean_ci(sw.explore_init[i], ~sw.diverged[i])


def split_test_error(sw: Sweep, i: int, explored: bool) -> Estimate:
    """Mean test error at ``ks[i]`` of the runs whose w filters did (``explored``) or did not detect
    both positive patterns at init."""
    pe = sw.pos_explored_init[i]
    return stats.mean_ci(sw.test_err[i], (pe if explored else ~pe) & ~sw.diverged[i])


def ablation_key(name: str) -> str:
    """The ``numbers()`` tag of an ablation condition: ``"diverse"``, ``"n200"``, ``"p"``."""
    if name.startswith("all diverse"):
        return "diverse"
    if name.startswith("n="):
        return "n" + name[2:]
    return "p"


def n_diverged(sub: Sweep | Stuck | Ablations | Mnist | None) -> tuple[int, int]:
    """``(diverged runs, all runs)`` of a sub-experiment (``(0, 0)`` when it was skipped)."""
    return (0, 0) if sub is None else (int(sub.diverged.sum()), sub.diverged.numel())


# --------------------------------------------------------------------------------------------
# numbers()
# --------------------------------------------------------------------------------------------


def numbers(result: Result) -> dict[str, float]:
    """Every number the chapter quotes, as floats; estimates with ``_lo``, ``_hi``, ``_n`` (95%)."""
    cfg = result.config
    out = {"d": cfg.d, "n": cfg.n_train, "seeds": cfg.seeds, "steps": cfg.steps, "lr": cfg.lr,
           "sigma": cfg.init_scale, "pplus": cfg.p_plus, "pminus": cfg.p_minus,
           "seconds": result.seconds["total"], "clust_random": RANDOM_COSINE}
    _main_numbers(out, result.main)
    if result.scaled is not None:
        _scaled_numbers(out, result.scaled, result.main)
    if result.stuck is not None:
        _stuck_numbers(out, result.stuck, cfg)
    if result.ablations is not None:
        _ablation_numbers(out, result.ablations, result.main, cfg)
    if result.large is not None:
        _large_numbers(out, result.large, cfg.n_test_samples)
    if result.mnist is not None:
        _mnist_numbers(out, result.mnist, cfg)
    return {k: float(v) for k, v in out.items()}


def _main_numbers(out: dict, sw: Sweep) -> None:
    k0, k1 = sw.ks[0], sw.ks[-1]
    out.update(k_small=k0, k_large=k1, diverged=n_diverged(sw)[0], runs=n_diverged(sw)[1], explore_theory_small=exploration_theory(k0),
               pos_theory_small=pos_explored_theory(k0), check_diff=_max_abs_diff(sw))
    for tag, i in (("small", 0), ("large", -1)):
        stats.put(out, f"test_{tag}", test_error(sw, i))
        stats.put(out, f"test_zero_{tag}", test_error(sw, i, zero_train_only=True))
        stats.put(out, f"zero_{tag}", zero_share(sw, i))
        stats.put(out, f"fit_{tag}", fit_share(sw, i))
        stats.put(out, f"bad_{tag}", bad_share(sw, i))
        stats.put(out, f"miss_pattern_{tag}", mode_share(sw, i, "miss"))
        stats.put(out, f"unconstrained_{tag}", mode_share(sw, i, "unconstrained"))
        stats.put(out, f"unc_pair_{tag}", mode_share(sw, i, "pair"))
        stats.put(out, f"unc_other_{tag}", mode_share(sw, i, "other"))
        stats.put(out, f"unc_unseen_{tag}", unseen_share(sw, i))
        stats.put(out, f"explore_{tag}", explore_mean(sw, i))
        stats.put(out, f"full_{tag}", full_share(sw, i))
        stats.put_mean(out, f"clust_{tag}", sw.clustering_final[i], ~sw.diverged[i])
    stats.put_share(out, "pos_small", sw.pos_explored_init[0], ~sw.diverged[0])
    stats.put(out, "te_full_small", split_test_error(sw, 0, True))
    stats.put(out, "te_miss_small", split_test_error(sw, 0, False))
    stats.put(out, "bad_share_large_lr_fixed", bad_share(sw, -1))
    miss, pe, fit = sw.modes()["miss"][0], sw.pos_explored_init[0], sw.fitted[0]
    stats.put_share(out, "miss_given_pos_small", miss, fit & pe)
    stats.put_share(out, "miss_given_nopos_small", miss, fit & ~pe)
    out.update(params_small=4 * k0, params_large=4 * k1, prob_pair=float(sw.probs[PAIR_SETS[0]]),
               prob_pair_other=float(sw.probs[PAIR_SETS[1]]))
    out["etak_small"] = sw.lrs[0] * k0
    out["etak_large"] = sw.lrs[-1] * k1


def _scaled_numbers(out: dict, sc: Sweep, main: Sweep) -> None:
    """The eta ~ 1/k control: keys ``*_lr_scaled`` (its smallest and largest width)."""
    out.update(sc_k_small=sc.ks[0], sc_k_large=sc.ks[-1], sc_lr_small=sc.lrs[0], sc_lr_large=sc.lrs[-1],
               sc_etak=sc.lrs[0] * sc.ks[0], sc_diverged=n_diverged(sc)[0], sc_runs=n_diverged(sc)[1])
    for tag, i in (("small", 0), ("large", -1)):
        stats.put(out, f"bad_share_{tag}_lr_scaled", bad_share(sc, i))
        stats.put(out, f"miss_pattern_{tag}_lr_scaled", mode_share(sc, i, "miss"))
        stats.put(out, f"unconstrained_{tag}_lr_scaled", mode_share(sc, i, "unconstrained"))
        stats.put(out, f"unc_pair_{tag}_lr_scaled", mode_share(sc, i, "pair"))
        stats.put(out, f"fit_{tag}_lr_scaled", fit_share(sc, i))
        stats.put(out, f"zero_{tag}_lr_scaled", zero_share(sc, i))
        stats.put(out, f"test_{tag}_lr_scaled", test_error(sc, i))
        stats.put_share(out, f"bad_zero_err_{tag}_lr_scaled", sc.bad[i], sc.zero_train[i])


def _stuck_numbers(out: dict, st: Stuck, cfg) -> None:
    ok = ~st.diverged
    out.update(stuck_k=st.k, stuck_factor=cfg.stuck_factor, stuck_steps_after=st.steps_after,
               stuck_runs=len(st.diverged), stuck_diverged=int(st.diverged.sum()))
    stats.put_share(out, "stuck_fit_after", st.loss_after == 0, ok)
    stats.put_share(out, "stuck_zero_err_after", st.train_err_after == 0, ok)
    stats.put_mean(out, "stuck_err_before", st.train_err_before, ok)
    stats.put_mean(out, "stuck_err_after", st.train_err_after, ok)


def _ablation_numbers(out: dict, ab: Ablations, main: Sweep, cfg) -> None:
    """``abl_<cond>_<quantity>_<small|large>`` for every condition, and ``abl_base_*`` from the main
    sweep's runs at the same two widths (its own seed count)."""
    out.update(abl_k_small=cfg.abl_ks[0], abl_k_large=cfg.abl_ks[1], abl_seeds=cfg.abl_runs, abl_p=cfg.abl_p,
               abl_diverged=int(ab.diverged.sum()), abl_runs_total=ab.diverged.numel())
    for j, n in enumerate(cfg.abl_ns):
        out[f"abl_n{j}"] = n
    conds = [("base", main, [main.ks.index(k) for k in cfg.abl_ks])]
    conds += [(ablation_key(name), sw, [0, 1]) for name, sw in zip(ab.names, ab.sweeps)]
    for key, sw, idx in conds:
        for tag, i in zip(("small", "large"), idx):
            stats.put(out, f"abl_{key}_fit_{tag}", fit_share(sw, i))
            stats.put(out, f"abl_{key}_zero_{tag}", zero_share(sw, i))
            stats.put(out, f"abl_{key}_bad_{tag}", bad_share(sw, i))
            stats.put(out, f"abl_{key}_miss_{tag}", mode_share(sw, i, "miss"))
            stats.put(out, f"abl_{key}_unc_{tag}", mode_share(sw, i, "unconstrained"))
            stats.put(out, f"abl_{key}_test_{tag}", test_error(sw, i))


def _large_numbers(out: dict, sw: Sweep, n_samples: int) -> None:
    out.update(dl=sw.d, dl_k_small=sw.ks[0], dl_k_large=sw.ks[-1], dl_n_samples=n_samples,
               dl_sampled_diff=_max_abs_diff(sw), dl_diverged=n_diverged(sw)[0], dl_runs=n_diverged(sw)[1])
    for tag, i in (("small", 0), ("large", -1)):
        stats.put(out, f"dl_test_{tag}", test_error(sw, i))
        stats.put(out, f"dl_bad_{tag}", bad_share(sw, i))


def _mnist_numbers(out: dict, m: Mnist, cfg) -> None:
    out.update(mn_k_small=m.ks[0], mn_k_wide=m.ks[1], mn_n_train=m.n_train, mn_n_test=m.n_test,
               mn_seeds=cfg.mnist_seeds, mn_steps=cfg.mnist_steps, mn_diverged=n_diverged(m)[0], mn_runs=n_diverged(m)[1])
    for tag, i in (("small", 0), ("wide", 1)):
        ok = ~m.diverged[i]
        stats.put_mean(out, f"mn_test_{tag}", m.test_err[i], ok)
        stats.put_mean(out, f"mn_train_{tag}", m.train_err[i], ok)
        stats.put_mean(out, f"mn_cos_{tag}", m.cos_trained[i], ok)
        stats.put_mean(out, f"mn_cos_{tag}_init", m.cos_init[i], ok)


def _max_abs_diff(sw: Sweep) -> float:
    """Largest |independent check - pattern-set test error| of the widest net over its valid runs (NaN if none)."""
    ok = ~sw.diverged[-1]
    diff = (sw.check_err - sw.test_err[-1]).abs()[ok]
    return float(diff.max()) if bool(ok.any()) else math.nan


# --------------------------------------------------------------------------------------------
# Paper vs ours: rows built from (numbers, config) only, for the book run and a stored paper run
# --------------------------------------------------------------------------------------------


def scale(cfg) -> str:
    """One sentence: what the chapter ran (seeds, widths, n, steps) at ``cfg``."""
    parts = [f"XORD at $d = {cfg.d}$ ($p_+ = {cfg.p_plus:g}$, $p_- = {cfg.p_minus:g}$), $n = {cfg.n_train}$ training "
             f"points, widths $k \\in \\{{{', '.join(map(str, cfg.ks))}\\}}$, {cfg.seeds} seeds per width, "
             f"{cfg.steps} GD steps at $\\eta = {cfg.lr:g}$"]
    if cfg.scaled_runs:
        parts.append(f"the $\\eta \\propto 1/k$ control at $k \\in \\{{{', '.join(map(str, cfg.lr_scaled_ks))}\\}}$ "
                     f"({cfg.scaled_runs} seeds)")
    if cfg.abl_runs:
        parts.append(f"ablations at $k \\in \\{{{cfg.abl_ks[0]}, {cfg.abl_ks[1]}\\}}$ ({cfg.abl_runs} seeds)")
    if cfg.d_large:
        parts.append(f"$d = {cfg.d_large}$ at $k \\in \\{{{', '.join(map(str, cfg.ks_large))}\\}}$")
    if cfg.mnist_steps:
        parts.append(f"MNIST {cfg.mnist_classes[0]} vs {cfg.mnist_classes[1]} ({cfg.mnist_n_train} training images, "
                     f"$k = {cfg.mnist_k_small}$ vs ${cfg.mnist_k_wide}$, {cfg.mnist_seeds} seeds, {cfg.mnist_steps} steps)")
    return "; ".join(parts) + "."


def paper_vs_ours(result: Result, paper: dict | None = None) -> list[dict]:
    """Rows of the closing table (:func:`overparam.book.comparison_table`): the paper's statement
    (with where), the verdict ``reproduced`` (yes / partly / no, decided from the intervals) and
    ``why``, ours with its 95% interval and run count; with a stored ``paper`` record, its value
    in ``paper_preset``. Every cell comes from ``numbers()`` and the config (:func:`_rows`)."""
    from .. import book

    return book.table_rows(_rows, numbers(result), result.config, paper)


def _rows(s: dict[str, float], cfg) -> list[dict]:
    """The rows from the numbers ``s`` and the config ``cfg`` (nothing else)."""
    return _main_rows(s) + _control_rows(s, cfg) + _mnist_rows(s) + [_diverged_row(s, cfg)]


def _main_rows(s: dict[str, float]) -> list[dict]:
    from ..book import ci, separate

    if s["bad_large_n"] == 0:
        v_large = ("no", "not measured: no run at zero loss")
    elif s["bad_large"] == 0:
        v_large = ("yes", "no bad global minimum")
    elif s["miss_pattern_large_hi"] < s["unconstrained_large_lo"]:
        v_large = ("partly", "missed patterns rare; errors on unseen pattern sets remain")
    else:
        v_large = ("no", "minima that miss a positive pattern remain")
    full = s["full_large"]
    v_explore = (("no", "not measured") if s["full_large_n"] == 0 else ("yes", "every run explores all four")
                 if full == 1 else ("partly", f"{full:.2f} of the runs explore all four"))
    return [
        _row("test_error", "mean test error, smallest vs largest width $k$", "larger networks generalize better (abstract)",
             ("yes", "intervals separate") if separate(s, "test_small", "test_large") else ("no", "intervals overlap"),
             f"{ci(s, 'test_small')} vs {ci(s, 'test_large')}"),
        _row("miss_small", "share of global minima (zero hinge loss) that miss a positive pattern, smallest $k$",
             "$k = 2$ reaches such a bad global minimum with constant probability (theorem)",
             ("yes", "interval above 0") if s["miss_pattern_small_n"] and s["miss_pattern_small_lo"] > 0
             else ("no", "not distinguishable from 0"),
             f"{ci(s, 'miss_pattern_small')} of the runs at zero loss ({ci(s, 'fit_small')} of all runs reach it)"),
        _row("bad_large", "bad global minima (zero loss, test error above 0), largest $k$",
             "zero test error with high probability for $k \\ge 120$ (theorem, under its conditions on the sample)",
             v_large, f"{ci(s, 'bad_large')}; missing a positive pattern: {ci(s, 'miss_pattern_large')}"),
        _row("exploration", "patterns detected at initialization (share), smallest / largest $k$",
             "large $k$ explores every pattern (analysis, qualitative)", v_explore,
             f"{ci(s, 'explore_small')} / {ci(s, 'explore_large')}; runs exploring all four at the largest $k$: "
             f"{ci(s, 'full_large')}; closed form $1-(3/4)^k$ at the smallest $k$: {s['explore_theory_small']:.3f}"),
        _row("clustering", "clustering after training (weighted cosine), largest $k$",
             "filters cluster on the patterns (analysis, qualitative)",
             ("yes", "above random directions") if s["clust_large_n"] and s["clust_large_lo"] > s["clust_random"]
             else ("no", "not above random directions"),
             f"{ci(s, 'clust_large')}; random directions: {s['clust_random']:.3f}"),
    ]


def _control_rows(s: dict[str, float], cfg) -> list[dict]:
    """The step-size control, the ablations of the training data and the larger ``d``."""
    from ..book import ci, separate

    rows = []
    if "bad_share_large_lr_scaled" in s:
        rows.append(_row(
            "lr_scaled", "step-size control: missed positive patterns at zero loss, smallest vs largest $k$, at $\\eta k$ fixed",
            "the width effect is not a step-size effect (not tested in the paper)",
            ("yes", "intervals separate") if separate(s, "miss_pattern_small_lr_scaled", "miss_pattern_large_lr_scaled")
            else ("partly", "intervals overlap"),
            f"{ci(s, 'miss_pattern_small_lr_scaled')} vs {ci(s, 'miss_pattern_large_lr_scaled')}; bad global minima at "
            f"the largest $k$, $\\eta$ fixed vs $\\eta k$ fixed: {ci(s, 'bad_share_large_lr_fixed')} vs "
            f"{ci(s, 'bad_share_large_lr_scaled')}"))
    if "abl_diverse_bad_large" in s:
        conds = [("diverse", "all diverse")] + [(f"n{n}", f"$n = {n}$") for n in cfg.abl_ns] + [("p", f"$p = {cfg.abl_p:g}$")]
        big = f"n{cfg.abl_ns[-1]}"
        rows.append(_row(
            "ablations", "ablations of the training data: bad global minima at the larger ablation width",
            "zero test error needs enough diverse training points (the theorem's conditions on the sample)",
            ("yes", f"fewer at $n = {cfg.abl_ns[-1]}$, intervals separate") if separate(s, "abl_base_bad_large", f"abl_{big}_bad_large")
            else ("partly", "intervals overlap"),
            f"as run: {s['abl_base_bad_large']:.3g}; " + "; ".join(f"{t}: {s[f'abl_{k}_bad_large']:.3g}" for k, t in conds)
            + f" ({cfg.abl_runs} seeds each)"))
    if "dl_test_small" in s:
        rows.append(_row(
            "large_d", f"mean test error at $d = {cfg.d_large}$, smallest vs largest $k$",
            "larger networks generalize better (abstract), at a larger $d$",
            ("yes", "intervals separate") if separate(s, "dl_test_small", "dl_test_large") else ("no", "intervals overlap"),
            f"{ci(s, 'dl_test_small')} vs {ci(s, 'dl_test_large')}"))
    return rows


def _mnist_rows(s: dict[str, float]) -> list[dict]:
    from ..book import ci, separate

    if "mn_test_small" not in s:
        return []
    n = int(min(s["mn_test_small_n"], s["mn_test_wide_n"]))
    fits = n > 0 and s["mn_train_small"] == 0 and s["mn_train_wide"] == 0
    if n < 5:
        verdict = ("no", f"not decided: {n} seeds")
    elif separate(s, "mn_test_small", "mn_test_wide"):
        verdict = ("yes", "intervals separate") if fits else ("partly", "lower, but neither net fits its training set")
    elif separate(s, "mn_test_wide", "mn_test_small"):
        verdict = ("no", "the small net is better here")
    else:
        verdict = ("no", "intervals overlap")
    return [
        _row("mnist_test", "MNIST test error, small vs wide net (reduced)", "the wide net generalizes better (MNIST experiment)",
             verdict, f"{ci(s, 'mn_test_small')} vs {ci(s, 'mn_test_wide')} (training error {ci(s, 'mn_train_small')} vs "
                      f"{ci(s, 'mn_train_wide')})"),
        _row("mnist_clustering", "MNIST clustering (cosine to the cluster centers), wide net: trained vs initialization",
             "trained filters cluster (MNIST experiment, qualitative)",
             ("yes", "intervals separate") if separate(s, "mn_cos_wide", "mn_cos_wide_init") else ("no", "intervals overlap"),
             f"{ci(s, 'mn_cos_wide')} vs {ci(s, 'mn_cos_wide_init')}"),
    ]


def _diverged_row(s: dict[str, float], cfg) -> dict:
    """How many runs diverged, per part (they are excluded from every statistic)."""
    parts = [(f"$d = {cfg.d}$", "diverged", "runs"), ("$\\eta \\propto 1/k$", "sc_diverged", "sc_runs"),
             ("10x steps", "stuck_diverged", "stuck_runs"), ("ablations", "abl_diverged", "abl_runs_total"),
             (f"$d = {cfg.d_large}$", "dl_diverged", "dl_runs"), ("MNIST", "mn_diverged", "mn_runs")]
    found = [(name, s[a], s[b]) for name, a, b in parts if a in s and b in s]
    total = sum(a for _, a, _ in found)
    return _row("diverged", "diverged runs (excluded from every statistic)", "gradient descent is stable (the analysis)",
                ("yes", "no run diverged") if total == 0 else ("partly", f"{total:.0f} runs diverged"),
                "; ".join(f"{a:.0f} of {b:.0f} ({name})" for name, a, b in found))
