"""The Colab path: each chapter's first code cell installs this book's library from the book's repository.

1. The cell of every chapter in ``_toc.yml`` installs from the URL and branch written in ``_config.yml``
   (``repository.url``, ``repository.branch``: the one place the URL lives; the Colab launch buttons are
   made from it too), under the distribution name of ``pyproject.toml``, and only when
   ``"google.colab" in sys.modules``. Outside Colab it says how to install the library (a comment with
   the same ``pip install`` command) and checks ``import overparam`` with an error that repeats it.
2. The install itself, reproduced here: a fresh virtual environment holding only what Colab brings
   and the cell relies on (PyTorch ``torch==2.13.0`` and ``ipykernel``, pinned as in
   ``requirements.txt``; everything else must come from the library's declared dependencies), then
   the cell's own
   ``pip install`` command, taken from the notebook, with the ``git+https://...@main`` URL replaced by
   a copy of this checkout's files (tracked and untracked-but-not-ignored: what a commit of this tree
   holds). The install is not editable, so the package data (the offline MNIST files) must be in the
   built wheel. Then one chapter is executed with ``preset="smoke"`` in that environment's kernel
   (papermill, from the test's own environment, drives a kernel that runs the fresh venv's Python). In
   that environment ``google.colab`` is not importable, so the chapter's own install cell does nothing
   there; what is tested is the command it would run, and that the chapter then runs on what it
   installed.

Slow (a minute or two): marked ``slow``. It installs packages from the registry, so it is also marked
``network``: the one test that needs the network (CI reaches the registry and runs it).
``OVERPARAM_COLAB_CHAPTER`` picks the chapter (a stem such as ``01_xor_detection``); by default the
first chapter of ``_toc.yml``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import notebooks

ROOT = notebooks.ROOT
CHAPTERS = [p.stem for p in notebooks.toc_notebooks()]
# What the venv starts with, standing in for Colab's preinstalled stack (pins from requirements.txt).
PREINSTALLED = ("torch", "ipykernel")
INSTALL = re.compile(r'^\s*%pip install -q "(?P<dist>[A-Za-z0-9_.-]+) @ (?P<url>git\+https://\S+)"\s*$')
GUARD = 'if "google.colab" in sys.modules:'


def _repository() -> tuple[str, str]:
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def _dist_name() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]


def _colab_cell(stem: str) -> tuple[dict, str]:
    nb = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{stem}: no code cell"
    cell = code[0]
    return cell, "".join(cell["source"])


def _install_line(stem: str) -> re.Match:
    _, src = _colab_cell(stem)
    found = [m for m in map(INSTALL.match, src.splitlines()) if m]
    assert len(found) == 1, f"{stem}: expected one `%pip install -q \"<dist> @ git+https://...\"` line:\n{src}"
    return found[0]


def test_every_chapter_is_checked():
    assert CHAPTERS, "no chapter notebook of _toc.yml exists"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_colab_cell_installs_from_the_configured_repository(stem):
    cell, src = _colab_cell(stem)
    tags = cell.get("metadata", {}).get("tags", [])
    assert tags == ["remove-cell"], f"{stem}: the Colab cell is plumbing, tagged remove-cell (tags: {tags})"
    nb = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())
    assert nb["cells"][1] is not None and "".join(nb["cells"][1]["source"]) == src, (
        f"{stem}: the Colab install must be the notebook's second cell (right after the title)"
    )
    url, branch = _repository()
    m = _install_line(stem)
    assert m["dist"] == _dist_name(), f"{stem}: installs {m['dist']!r}, pyproject.toml names {_dist_name()!r}"
    assert m["url"] == f"git+{url}@{branch}", (
        f"{stem}: installs from {m['url']!r}, but _config.yml says repository.url={url!r}, branch={branch!r}"
    )
    # The install runs only inside Colab: the %pip line is in the body of the google.colab guard.
    lines = src.splitlines()
    i = next(k for k, ln in enumerate(lines) if INSTALL.match(ln))
    guard = [k for k, ln in enumerate(lines[:i]) if ln.strip() == GUARD]
    assert guard, f"{stem}: the install is not guarded by `{GUARD}`"
    assert lines[i].startswith((" ", "\t")), f"{stem}: the install line is not inside the guard's block"
    assert "import sys" in src, f"{stem}: the Colab cell uses sys without importing it"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_colab_cell_tells_a_reader_outside_colab_how_to_install(stem):
    """Outside Colab (a downloaded notebook) the cell says, in a comment, the one command that installs
    the library, and checks the import with an error that repeats it (not a bare ModuleNotFoundError)."""
    _, src = _colab_cell(stem)
    url, branch = _repository()
    command = f'pip install "{_dist_name()} @ git+{url}@{branch}"'
    comments = [ln for ln in src.splitlines() if ln.lstrip().startswith("#")]
    assert any(command in ln for ln in comments), f"{stem}: no comment with the install command `{command}`:\n{src}"
    lines = [ln.strip() for ln in src.splitlines()]
    assert "try:" in lines and "import overparam" in lines and "except ImportError:" in lines, (
        f"{stem}: the Colab cell does not check `import overparam`:\n{src}")
    raise_line = lines[lines.index("except ImportError:") + 1]
    assert raise_line.startswith("raise ImportError(") and command in raise_line, (
        f"{stem}: the import check's error does not give the install command `{command}`: {raise_line}")


# --------------------------------------------------------------------------------------------- the install


def _copy_checkout(dest: Path) -> Path:
    """The files a commit of this working tree would hold (tracked + untracked, not ignored)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, check=True, capture_output=True,
        ).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: take the package sources
        files = [str(p.relative_to(ROOT)) for d in ("lib",) for p in (ROOT / d).rglob("*") if p.is_file()]
        files += ["pyproject.toml", "README.md"]
    for f in files:
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    return dest


def _pins(names) -> list[str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            pins[line.split("==")[0].strip().lower()] = line
    return [pins.get(n, n) for n in names]


def _run(cmd, env, timeout, cwd=None):
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"`{shlex.join(map(str, cmd))}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.network
def test_colab_install_path_runs_a_chapter(tmp_path, monkeypatch):
    import time

    import papermill as pm

    stem = os.environ.get("OVERPARAM_COLAB_CHAPTER") or (CHAPTERS[0] if CHAPTERS else None)
    if stem is None:
        pytest.fail("no chapter notebook of _toc.yml exists")
    m = _install_line(stem)
    t0 = time.perf_counter()
    timings = {}

    # A clean environment: nothing from this checkout's .venv, no PYTHONPATH, its own Jupyter dirs.
    for k in list(os.environ):
        if k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "IPYTHON")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    venv = tmp_path / "colab-venv"
    base = shutil.which("python3.11") or sys.executable
    _run([base, "-m", "venv", str(venv)], dict(os.environ), 120)  # no --system-site-packages
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "--disable-pip-version-check"]
    # What Colab brings and the cell relies on (no .pyc compilation: faster, and irrelevant here).
    _run([*pip, "install", "-q", "--no-compile", *_pins(PREINSTALLED)], dict(os.environ), 600)
    timings["fresh venv + torch, ipykernel"] = time.perf_counter() - t0

    # The cell's own command, with the repository URL replaced by a copy of this checkout.
    src = _copy_checkout(tmp_path / "repository")
    requirement = f"{m['dist']} @ {src.as_uri()}"
    t1 = time.perf_counter()
    _run([*pip, "install", "-q", requirement], dict(os.environ), 600, cwd=tmp_path)
    timings[f"pip install -q {requirement!r}"] = time.perf_counter() - t1

    # Installed as a regular (non-editable) package, with its data files.
    probe = (
        "import overparam, overparam.data as d, pathlib;"
        "s = d.mnist_split(classes=(0, 1), n_train=20, n_test=10, seed=0);"
        "print(pathlib.Path(overparam.__file__).resolve()); print(tuple(s.x_train.shape))"
    )
    out = _run([str(py), "-c", probe], dict(os.environ), 120, cwd=tmp_path).stdout.split("\n")
    installed = Path(out[0])
    assert venv.resolve() in installed.parents, f"overparam imported from {installed}, not from the fresh venv"
    assert ROOT.resolve() not in installed.parents, f"overparam imported from the checkout ({installed})"
    assert out[1] == "(20, 784)", f"the installed package could not load its MNIST data: {out}"

    # The chapter, top to bottom, with the smoke preset, in a kernel running the fresh venv's Python
    # (the only kernel spec on JUPYTER_PATH by that name; papermill fails if it cannot find it).
    _run([str(py), "-m", "ipykernel", "install", "--prefix", str(tmp_path / "kernels"), "--name", "colab-standin"],
         dict(os.environ), 120)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "kernels" / "share" / "jupyter"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    nb_out = run_dir / f"{stem}.ipynb"
    t2 = time.perf_counter()
    pm.execute_notebook(
        str(ROOT / "chapters" / f"{stem}.ipynb"), str(nb_out), parameters={"preset": "smoke", "device": "cpu"},
        kernel_name="colab-standin", cwd=str(run_dir), progress_bar=False,
    )
    timings[f"{stem} (smoke)"] = time.perf_counter() - t2
    print("Colab path:", ", ".join(f"{k}: {v:.0f} s" for k, v in timings.items()),
          f"(total {time.perf_counter() - t0:.0f} s)")
    executed = json.loads(nb_out.read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    # papermill raises if a cell fails; check also that every cell ran and the page's content appeared.
    assert all(c.get("execution_count") for c in code), f"{stem}: cells left unexecuted"
    outputs = [o for c in code for o in c.get("outputs", [])]
    mimes = {k for o in outputs for k in o.get("data", {})}
    assert "image/png" in mimes, f"{stem}: no figure was drawn on the Colab install path"
    tables = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert any("| Quantity |" in "".join(t) for t in tables), f"{stem}: no paper-vs-ours table displayed"
    # The install cell did nothing here (google.colab is not importable): no pip output in it.
    assert not code[0].get("outputs"), f"{stem}: the Colab cell produced output outside Colab"
