"""Stored ``paper``-scale results: run a chapter's ``paper`` preset once (on a GPU) and keep a small
JSON record of it, so that the book shows paper-scale numbers and the key figure without a GPU.

One command per chapter (``CHAPTER``: ``xor``, ``specialization``, ``alignment``, ``gram``,
``rare_minima``)::

    python -m overparam.paper_runs CHAPTER [--preset paper] [--out DIR] [--device auto]

prints the estimate, runs the preset (printing each part's time as it ends) and writes
``DIR/CHAPTER.json`` (``DIR``: :func:`default_folder`, ``chapters/paper_results/`` of the
repository). The record::

    {"chapter": "gram", "preset": "paper",
     "config": {...},        # the Config's fields (tuples as lists): Config(**...) rebuilds it
     "numbers": {...},       # numbers(result), every float the chapter quotes
     "key_data": {...},      # key_data(result): what plot_key(data) draws the key figure from
     "provenance": {"commit", "dirty", "device", "device_name", "torch", "python", "date",
                    "wall_seconds", "cpu_seconds", "estimate_seconds", "seconds": {part: s}}}

Non-finite floats are stored as the strings ``"nan"``, ``"inf"``, ``"-inf"`` (strict JSON) and come
back as floats from :func:`load`.

**Stale records.** A record shows at paper scale only while it is a run of the *current* ``paper``
preset: :func:`is_stale` is True when its ``preset`` is not ``"paper"`` (``--preset`` exists so that
tests can write small records; such a record is never shown as paper scale) or when its config
differs from ``config("paper")`` in any field. :func:`load` adds ``record["stale"]`` and
``record["stale_reason"]`` (``""`` when fresh). The CLI refuses to write a non-``paper`` preset into
the default folder, which holds ``paper`` runs only.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["CHAPTERS", "ENV_FOLDER", "chapter_module", "repo_folder", "default_folder", "record", "save", "load", "is_stale",
           "stale_reason", "encode", "decode", "main"]

#: The chapter packages, in book order (the allowed ``CHAPTER`` names).
CHAPTERS = ("xor", "specialization", "alignment", "gram", "rare_minima")
#: Environment variable naming the folder of stored records (overrides :func:`default_folder`).
ENV_FOLDER = "OVERPARAM_PAPER_RESULTS"
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_FIELDS = ("chapter", "preset", "config", "numbers", "key_data", "provenance")


def _check_chapter(chapter: Any) -> str:
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {', '.join(CHAPTERS)}; got {chapter!r}")
    return chapter


def chapter_module(chapter: str) -> ModuleType:
    """The package ``overparam.<chapter>``; an unknown name raises ``ValueError`` listing the five."""
    return importlib.import_module(f"overparam.{_check_chapter(chapter)}")


def _name(module: ModuleType) -> str:
    return _check_chapter(module.__name__.split(".")[-1])


def _repo_root() -> Path:
    """The folder above ``lib/`` when the package is used from a checkout (``lib/overparam``)."""
    return Path(__file__).resolve().parents[2]


def repo_folder() -> Path:
    """``chapters/paper_results/`` of the repository this package sits in (``lib/overparam``); it does
    not exist when the package was installed elsewhere (e.g. ``pip install`` from git, as in Colab)."""
    return _repo_root() / "chapters" / "paper_results"


def default_folder() -> Path:
    """Where records live: ``$OVERPARAM_PAPER_RESULTS`` if set, else :func:`repo_folder`. The folder
    may not exist: :func:`load` then returns None."""
    env = os.environ.get(ENV_FOLDER)
    return Path(env) if env else repo_folder()


# --------------------------------------------------------------------------------------------
# JSON with non-finite floats
# --------------------------------------------------------------------------------------------


def encode(value: Any, where: str = "record") -> Any:
    """``value`` as strict-JSON data: non-finite floats become ``"nan"`` / ``"inf"`` / ``"-inf"``,
    tuples lists, numpy / torch scalars and arrays plain numbers and lists. Anything else raises
    ``ValueError`` naming where it is (``where``, e.g. ``record.key_data.curves[0]``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise ValueError(f"{where} has non-string keys {bad[:3]} (JSON objects need string keys)")
        return {k: encode(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "tolist") and type(value).__module__.split(".")[0] in ("numpy", "torch"):
        return encode(value.tolist(), where)  # numpy / torch scalars and arrays
    raise ValueError(f"{where} is a {type(value).__name__}, which JSON cannot hold; use floats, ints, "
                     f"strings, bools, None, lists and dicts")


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`: the strings ``"nan"``, ``"inf"``, ``"-inf"`` become floats."""
    if isinstance(value, str):
        return _NONFINITE.get(value, value)
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _dumps(value: Any, indent: int = 0) -> str:
    """JSON with one key per line but lists of scalars on one line (small, readable diffs)."""
    if isinstance(value, dict) and value:
        pad = " " * (indent + 1)
        items = [f"{pad}{json.dumps(k)}: {_dumps(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[" + ", ".join(_dumps(v, indent) for v in value) + "]"
    return json.dumps(value, allow_nan=False, separators=(", ", ": "))


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def _preset_of(module: ModuleType, cfg: Any) -> str:
    """The name of the preset equal to ``cfg`` (``paper`` first), else ``"custom"``."""
    for name in ("paper", "book", "smoke"):
        if module.PRESETS.get(name) == cfg:
            return name
    return "custom"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(_repo_root()), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    try:  # Linux: the CPU's model name
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        if names:
            return f"{names[0]} ({len(names)} logical CPUs)"
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def provenance(result: Any, wall_seconds: float | None = None, cpu_seconds: float | None = None,
               estimate_seconds: float | None = None) -> dict:
    """Where and how ``result`` was computed: git commit (and whether the tree had uncommitted
    changes; None outside a checkout), device and its name, torch and Python versions, the UTC date,
    wall and process CPU seconds of the whole command, the estimate, and ``result.seconds``."""
    import torch

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    device = str(getattr(result, "device", None) or "unknown")
    seconds = {k: float(v) for k, v in result.seconds.items()}
    return {"commit": commit.strip() if commit else None, "dirty": bool(status.strip()) if status is not None else None,
            "device": device, "device_name": _device_name(device), "torch": torch.__version__,
            "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": float(wall_seconds if wall_seconds is not None else seconds.get("total", math.nan)),
            "cpu_seconds": None if cpu_seconds is None else float(cpu_seconds),
            "estimate_seconds": None if estimate_seconds is None else float(estimate_seconds), "seconds": seconds}


def record(module: ModuleType, result: Any, *, preset: str | None = None, **timing: float | None) -> dict:
    """The JSON-able record of ``result``, a ``module.run(...)`` Result of chapter ``module`` (e.g.
    ``overparam.gram``): chapter, preset (``preset``, or the name of the preset equal to
    ``result.config``, else ``"custom"``), config (its fields, tuples as lists), ``numbers``,
    ``key_data`` and :func:`provenance` (``timing``: its ``wall_seconds`` / ``cpu_seconds`` /
    ``estimate_seconds``). Non-finite floats stay floats here; :func:`save` encodes them."""
    name = _name(module)
    cfg = result.config
    if not isinstance(cfg, module.Config):
        raise ValueError(f"result must be a Result of overparam.{name}.run; its config is a {type(cfg).__name__}")
    if preset is not None and preset not in module.PRESETS:
        raise ValueError(f"preset must be one of {sorted(module.PRESETS)}; got {preset!r}")
    return {"chapter": name, "preset": preset or _preset_of(module, cfg), "config": cfg.as_dict(),
            "numbers": dict(module.numbers(result)), "key_data": module.key_data(result),
            "provenance": provenance(result, **timing)}


def save(rec: dict, path: str | os.PathLike) -> Path:
    """Write ``rec`` (a :func:`record`) as strict JSON to ``path`` (folders created; a ``stale`` or
    ``stale_reason`` key from :func:`load` is not written). Returns the path."""
    missing = [k for k in _FIELDS if k not in rec]
    if missing:
        raise ValueError(f"record lacks {missing}; build it with paper_runs.record(module, result)")
    body = encode({k: v for k, v in rec.items() if k not in ("stale", "stale_reason")})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_dumps(body) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load(chapter: str, folder: str | os.PathLike | None = None) -> dict | None:
    """The stored record of ``chapter`` from ``folder`` (default :func:`default_folder`), with
    ``record["stale"]`` (see :func:`is_stale`) and ``record["stale_reason"]`` added; None when there
    is no file (or no folder). A file that is not a valid record raises ``ValueError`` naming it."""
    _check_chapter(chapter)
    path = Path(folder if folder is not None else default_folder()) / f"{chapter}.json"
    if not path.is_file():
        return None
    try:
        rec = decode(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); rerun python -m overparam.paper_runs {chapter}") from None
    missing = [k for k in _FIELDS if not isinstance(rec, dict) or k not in rec]
    if missing or rec["chapter"] != chapter:
        raise ValueError(f"{path} is not a record of chapter {chapter!r} (missing {missing} or chapter "
                         f"{rec.get('chapter') if isinstance(rec, dict) else None!r}); rerun python -m overparam.paper_runs {chapter}")
    rec["stale_reason"] = stale_reason(rec)
    rec["stale"] = bool(rec["stale_reason"])
    return rec


def stale_reason(rec: dict) -> str:
    """Why ``rec`` is not a run of the current ``paper`` preset (``""``: it is): another preset, or the
    config fields that differ from ``config("paper")`` now (stored vs current value)."""
    if rec.get("preset") != "paper":
        return f"a run of the {rec.get('preset')!r} preset, not 'paper'"
    current = encode(chapter_module(rec["chapter"]).config("paper").as_dict())
    stored = encode(rec.get("config", {}))
    diff = [f"{k}: {stored.get(k, '(absent)')!r} stored, {current.get(k, '(absent)')!r} now"
            for k in sorted(set(current) | set(stored)) if current.get(k, "(absent)") != stored.get(k, "(absent)")]
    return ("the paper preset changed since this run: " + "; ".join(diff)) if diff else ""


def is_stale(rec: dict) -> bool:
    """True unless ``rec`` is a run of the ``paper`` preset with a config equal, field by field, to the
    current ``config("paper")`` of its chapter (see :func:`stale_reason`)."""
    return bool(stale_reason(rec))


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m overparam.paper_runs",
                                description="Run a chapter's preset and store its record (numbers, key-figure "
                                            "data, provenance) as <out>/<chapter>.json.")
    p.add_argument("chapter", help=f"the chapter package: one of {', '.join(CHAPTERS)}")
    p.add_argument("--preset", default="paper", help="smoke, book or paper (default paper; others need --out)")
    p.add_argument("--out", default=None, help=f"folder of the record (default: ${ENV_FOLDER} or chapters/paper_results)")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line: validate, print the estimate, run (per-part times as they end), write the record."""
    from .chapter import max_run_seconds
    from .device import resolve_device

    args = _parser().parse_args(argv)
    try:
        module = chapter_module(args.chapter)
        cfg = module.config(args.preset)
        if args.preset != "paper" and args.out is None:
            raise ValueError(f"--preset {args.preset} needs --out: the default folder {default_folder()} holds "
                             f"paper runs only")
        device = resolve_device(args.device)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    estimate = float(module.estimate_seconds(cfg, device))
    print(f"{args.chapter}: preset {args.preset} on {device}: estimated {estimate:,.0f} s", flush=True)
    if estimate > max_run_seconds():
        print(f"error: the estimate is above the limit of {max_run_seconds():,.0f} s; run it on a GPU "
              f"(--device cuda) or set OVERPARAM_MAX_RUN_SECONDS=inf to run it anyway", file=sys.stderr)
        return 2
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = module.run(cfg, device=str(device), progress=True)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    for part, s in result.seconds.items():
        print(f"{args.chapter}: {part}: {s:,.1f} s", flush=True)
    rec = record(module, result, preset=args.preset, wall_seconds=wall, cpu_seconds=cpu, estimate_seconds=estimate)
    path = save(rec, Path(args.out if args.out is not None else default_folder()) / f"{args.chapter}.json")
    print(f"{args.chapter}: wrote {path} ({path.stat().st_size / 1024:,.1f} KiB) in {wall:,.0f} s "
          f"(estimate {estimate:,.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
