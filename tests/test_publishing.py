"""The publishing path: the GitHub Pages workflow builds the book with the README's own command and
deploys what it writes; the repository URL is written in `_config.yml` alone (pages quote it through a
MyST substitution; the Colab cells, which must spell it out, are checked against it in test_colab)."""

from __future__ import annotations

import re
import subprocess

import yaml

from notebooks import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def readme_commands() -> list[str]:
    """The commands of the README's "The two commands" block, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [ln.strip() for ln in block.splitlines() if ln.strip()]


def test_workflow_builds_with_the_readme_book_command_and_deploys_the_html():
    book_command = readme_commands()[0]
    assert book_command == "bash scripts/book.sh"
    wf = yaml.safe_load(WORKFLOW.read_text())
    steps = [s for job in wf["jobs"].values() for s in job.get("steps", [])]
    runs = [s["run"].strip() for s in steps if "run" in s]
    assert book_command in runs, f"the workflow does not run the README's book command; it runs {runs}"
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "_build/html"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages") for s in steps)


def test_repository_url_is_written_only_in_config():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    holders = sorted(f for f in files if (ROOT / f).is_file() and not f.endswith(".gz")
                     and url in (ROOT / f).read_text(errors="ignore"))
    others = [f for f in holders if f != "_config.yml" and not re.fullmatch(r"chapters/\d\d_\w+\.ipynb", f)]
    assert not others, f"the repository URL is typed in {others}; quote it from _config.yml instead"
    assert "{{ repository_url }}" in (ROOT / "chapters" / "how_this_book_runs.md").read_text()
