"""The registry tooling accepts the package: comfy-cli's own `comfy node validate` and `comfy node pack`, and the
archive holds what a user needs and nothing of tests, benchmarks or caches."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]


def _comfy() -> str:
    default = Path(os.environ.get("TOWER_COMFY_CACHE", Path.home() / ".cache" / "tower-sentinel")) / "tools-venv"
    exe = os.environ.get("TOWER_COMFY_CLI") or shutil.which("comfy") or (
        str(default / "bin" / "comfy") if (default / "bin" / "comfy").exists() else None)
    if not exe:
        pytest.fail("comfy-cli not found: run the suite through scripts/test.sh (it installs comfy-cli)")
    return exe


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """A git checkout of the current working tree (tracked + untracked-not-ignored files), validated and packed."""
    work = tmp_path_factory.mktemp("pack") / "tower-sentinel"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split("\n")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            dst = work / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "pack"]):
        subprocess.run(cmd, cwd=work, check=True, env=env)
    validate = subprocess.run([_comfy(), "--skip-prompt", "--no-enable-telemetry", "node", "validate"], cwd=work,
                              capture_output=True, text=True, timeout=300)
    pack = subprocess.run([_comfy(), "--skip-prompt", "--no-enable-telemetry", "node", "pack"], cwd=work,
                          capture_output=True, text=True, timeout=300)
    return work, validate, pack


def test_comfy_node_validate_passes(packed):
    """`comfy node validate` (the registry's checks, including its ruff security rules) passes."""
    _, validate, _ = packed
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "passed" in (validate.stdout + validate.stderr).lower()


def test_packed_archive_holds_what_users_need_and_no_tests(packed):
    """The archive has the package, SQL, web files and requirements, and no tests, benchmarks, scripts or caches."""
    work, _, pack = packed
    assert pack.returncode == 0, pack.stdout + pack.stderr
    names = zipfile.ZipFile(work / "node.zip").namelist()
    for needed in ("__init__.py", "pyproject.toml", "requirements.txt", "README.md",
                   "sql/sqlite/migrations/001_init.sql", "telemetry/capture.py", "server_routes/health.py",
                   "web/js/index.js"):
        assert needed in names, f"{needed} missing from the archive"
    for name in names:
        assert not name.startswith(("tests/", "benchmarks/", "scripts/", ".ci/")), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name


def test_pyproject_matches_registry_expectations():
    """pyproject has the registry's [tool.comfy] keys; requirements.txt carries the same deps and never torch."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    project, comfy = meta["project"], meta["tool"]["comfy"]
    assert project["name"] == "tower-sentinel"
    assert "Repository" in project["urls"]
    for key in ("PublisherId", "DisplayName", "Icon", "requires-comfyui", "includes", "web"):
        assert key in comfy, key
    reqs = [ln.strip() for ln in (REPO / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    assert sorted(reqs) == sorted(project["dependencies"])
    assert not any(r.split("=")[0].split(">")[0].strip().lower() in ("torch", "torchvision") for r in reqs)
    from tower_sentinel._version import __version__

    assert project["version"] == __version__
