"""Wall time of each chapter's ``run(config(preset))`` for the presets smoke and book.

Usage:  .venv/bin/python bench/chapter_times.py [--presets smoke book] [--modules xor gram ...]
        [--device cpu] [--threads 2] [--rows DIR]

Each row also shows the chapter's own estimate (``estimate_seconds(cfg, device)``, the one ``run``
prints) and the measured/estimated ratio, and the run's per-part times (``result.seconds``).

``--rows DIR`` also writes each run's ``numbers(result)`` and paper-vs-ours rows to
``DIR/<module>_<preset>.json``: how the paper preset's numbers are collected on a GPU machine.

Chapter modules that do not exist (yet) are skipped and listed; a chapter whose run raises is
reported with the error and does not stop the others. Budgets (DESIGN.md): smoke < 30 s and
book < 2 min on 2 CPU cores. The machine may be shared with other jobs: the load average is printed.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import torch  # noqa: E402

MODULES = ("xor", "specialization", "alignment", "gram", "rare_minima")
BUDGET_S = {"smoke": 30.0, "book": 120.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="*", default=["smoke", "book"])
    ap.add_argument("--modules", nargs="*", default=list(MODULES))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                    help="config overrides, e.g. --set steps=50000 (values parsed as Python literals)")
    ap.add_argument("--rows", type=Path, default=None, help="write paper-vs-ours rows as JSON into this folder")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {k: ast.literal_eval(v) for k, v in (item.split("=", 1) for item in args.set)}

    print(f"# chapter_times: torch {torch.__version__}, device {args.device}, {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other jobs may share them)")
    rows, skipped = [], []
    for name in args.modules:
        try:
            mod = importlib.import_module(f"overparam.{name}")
        except ModuleNotFoundError as err:
            if err.name in (f"overparam.{name}",):
                skipped.append(name)
                continue
            rows.append((name, "-", None, f"import failed: {err}"))
            continue
        except Exception as err:  # a broken chapter module must not stop the table
            rows.append((name, "-", None, f"import failed: {type(err).__name__}: {err}"))
            continue
        for preset in args.presets:
            try:
                cfg = mod.config(preset, **overrides)
                est = mod.estimate_seconds(cfg, args.device)
                t0 = time.perf_counter()
                result = mod.run(cfg, device=args.device, progress=False)
                dt = time.perf_counter() - t0
                if args.rows is not None:
                    args.rows.mkdir(parents=True, exist_ok=True)
                    out = {"module": name, "preset": preset, "overrides": overrides, "device": args.device, "seconds": dt,
                           "parts": result.seconds, "estimate": est, "numbers": mod.numbers(result),
                           "rows": mod.paper_vs_ours(result)}
                    (args.rows / f"{name}_{preset}.json").write_text(json.dumps(out, indent=1, default=str))
                budget = BUDGET_S.get(preset)
                note = f"estimate {est:.0f} s (measured/estimate {dt / est:.2f}); parts " + ", ".join(
                    f"{k} {v:.1f}" for k, v in result.seconds.items() if k != "total")
                if budget is not None:
                    note += "; within budget" if dt <= budget else f"; OVER the {budget:.0f} s budget"
                rows.append((name, preset, dt, note))
            except Exception as err:
                rows.append((name, preset, None, f"failed: {type(err).__name__}: {err}"))
            print(f"  {name:<15} {preset:<6} " + (f"{rows[-1][2]:8.1f} s  " if rows[-1][2] is not None else "       -  ") + rows[-1][3], flush=True)

    print()
    print(f"| {'module':<15} | {'preset':<6} | {'wall s':>8} | note")
    print(f"|{'-' * 17}|{'-' * 8}|{'-' * 10}|------")
    for name, preset, dt, note in rows:
        print(f"| {name:<15} | {preset:<6} | " + (f"{dt:8.1f}" if dt is not None else f"{'-':>8}") + f" | {note}")
    if skipped:
        print(f"# skipped (module not present): {', '.join(skipped)}")
    print(f"# load average at the end: {os.getloadavg()[0]:.1f}")
    return rows


if __name__ == "__main__":
    main()
