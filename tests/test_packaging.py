"""The suite works as an installed wheel, not only from a checkout.

The wheel is built offline from a copy of this checkout (so the build leaves nothing here), installed
without `-e` into a fresh virtual environment that sees this interpreter's site-packages only for the
dependencies (a plain path line in a .pth file: the `.pth` files there, an editable install's finder
among them, stay inactive), and its console scripts run from a folder outside the checkout. Nothing
is downloaded. What a checkout decides by itself (the data root, results/, the git revision) must
then fall back to the user's folders, and every module must come from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

import pytest

from bench.config.folders import checkout_root
from bench.perf.cli import default_table
from tests.conftest import ONE_THREAD, REPO_ROOT

PACKAGES = ("bench", "algorithms", "metrics", "models")
"""The top-level packages the wheel ships (pyproject.toml's packages.find)."""
LEFT_BEHIND = {
    *(".git", ".venv", "venv", "build", "dist", ".pytest_cache", ".ruff_cache"),
    *("outputs", "multirun", "data", "results"),
}
"""Top-level folders of a checkout that the build does not read: version control, caches, runs, data, results."""
TINY = ("dataset=synthetic_tiny", "train.steps=4", "eval.every=2", "eval.n_samples=50", "progress=false")


@dataclass(frozen=True)
class Installed:
    """A fresh environment holding the wheel, and where to run it from."""

    wheel: Path
    python: Path
    scripts: Path
    site_packages: Path
    elsewhere: Path
    cache: Path

    def env(self) -> dict[str, str]:
        """No PYTHONPATH, no user site, no data root set: the installed package decides everything (one thread)."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "COTBENCH_DATA")}
        return {**env, "PYTHONNOUSERSITE": "1", "XDG_CACHE_HOME": str(self.cache), **ONE_THREAD}

    def run(self, *command: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(c) for c in command], cwd=self.elsewhere, env=self.env(), capture_output=True, text=True
        )


def _skip_without_tools() -> None:
    """Skip (with the reason) where this interpreter cannot build and install offline."""
    if find_spec("pip") is None:
        pytest.skip("pip is not installed in this interpreter")
    if tuple(int(p) for p in version("pip").split(".")[:2]) < (22, 3):
        pytest.skip(f"pip {version('pip')} has no --python option (22.3 or later needed)")
    try:
        setuptools = tuple(int(p) for p in version("setuptools").split(".")[:2])
    except PackageNotFoundError:
        pytest.skip("setuptools is not installed: an offline build (--no-build-isolation) needs it")
    if setuptools < (70, 1) and find_spec("wheel") is None:
        pytest.skip(f"setuptools {version('setuptools')} builds wheels only with the `wheel` package")


def _copy_checkout(destination: Path) -> Path:
    """The checkout without the folders the build does not read, and without caches or old builds."""

    def ignored(folder: str, names: list[str]) -> set[str]:
        top = LEFT_BEHIND if Path(folder) == REPO_ROOT else set()
        return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}

    return Path(shutil.copytree(REPO_ROOT, destination, ignore=ignored))


def _python_in(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    _skip_without_tools()
    root = tmp_path_factory.mktemp("packaging")
    if root.resolve().is_relative_to(REPO_ROOT):
        pytest.skip(f"{root} lies inside the checkout (--basetemp): the wheel must be tried outside it")
    source = _copy_checkout(root / "source")
    offline = ("--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet")
    pip = (sys.executable, "-m", "pip")
    build = [*pip, "wheel", source, "--no-deps", "--no-build-isolation", *offline, "-w", root / "dist"]
    built = subprocess.run([str(c) for c in build], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("cotbench-*.whl")

    env_dir = root / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = _python_in(env_dir)
    install = [*pip, "--python", python, "install", "--no-deps", *offline, wheel]
    result = subprocess.run([str(c) for c in install], capture_output=True, text=True)
    if "no such option: --python" in result.stderr:
        pytest.skip(f"pip {version('pip')} does not support --python")
    assert result.returncode == 0, result.stderr

    paths = subprocess.run(
        [str(python), "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
        capture_output=True,
        text=True,
        check=True,
    )
    env_paths = json.loads(paths.stdout)
    # After the install: pip must not see this interpreter's distributions (cotbench among them) in ENV.
    ours = sysconfig.get_paths()
    dependencies = dict.fromkeys([ours["purelib"], ours["platlib"]])
    (Path(env_paths["purelib"]) / "cotbench_dependencies.pth").write_text("\n".join(dependencies) + "\n")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return Installed(wheel, python, Path(env_paths["scripts"]), Path(env_paths["purelib"]), elsewhere, root / "cache")


def _source_packages() -> set[str]:
    """Every package folder of the checkout, as the wheel's path of its __init__.py."""
    return {
        init.relative_to(REPO_ROOT).as_posix()
        for package in PACKAGES
        for init in (REPO_ROOT / package).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_the_wheel_ships_every_package_and_the_hydra_config(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    packages = _source_packages()
    assert {"algorithms/seqgan/__init__.py", "bench/report/__init__.py", "models/__init__.py"} <= packages
    assert packages <= names, sorted(packages - names)
    modules = {p.relative_to(REPO_ROOT).as_posix() for package in PACKAGES for p in (REPO_ROOT / package).rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    config = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "bench" / "conf").rglob("*.yaml")}
    assert {"bench/conf/config.yaml", "bench/conf/hydra/launcher/local.yaml"} <= config
    assert config <= names, sorted(config - names)
    assert not any(name.startswith("tests/") for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "cotbench = bench.__main__:cli" in scripts and "cotbench-report = bench.report:main" in scripts
    assert "cotbench-score = bench.score:main" in scripts


PROBE = """
import json, os, sys
from importlib.metadata import distribution
from importlib.util import find_spec
from bench.config.folders import checkout_root, data_root
from bench.perf.cli import default_table
from bench.provenance import git_revision
modules = ["bench", "bench.conf", "bench.report", "bench.perf.cli", "algorithms.seqgan", "metrics", "models"]
def where(name):
    spec = find_spec(name)
    return spec.origin if spec.has_location else list(spec.submodule_search_locations)[0]
print(json.dumps({
    "files": {name: where(name) for name in modules},
    "path": [os.path.realpath(p) for p in sys.path],
    "finders": [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path],
    "editable": sorted(m for m in sys.modules if "editable" in m),
    "distribution": str(distribution("cotbench").locate_file("")),
    "checkout": str(checkout_root()), "data_root": str(data_root()), "perf": str(default_table("cpu")),
    "revision": git_revision(),
}))
"""


def test_the_installed_package_imports_from_its_own_environment(installed: Installed) -> None:
    probe = installed.run(installed.python, "-c", PROBE)
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout)
    site = installed.site_packages.resolve()
    for name, file in seen["files"].items():
        assert Path(file).resolve().is_relative_to(site), f"{name} imported from {file}"
    assert Path(seen["distribution"]).resolve() == site
    assert str(REPO_ROOT) not in seen["path"] and str(installed.elsewhere.resolve()) in seen["path"]
    assert seen["editable"] == [] and not any("Editable" in f for f in seen["finders"])
    assert seen["checkout"] == "None" and seen["revision"] == "unknown"
    assert Path(seen["data_root"]) == installed.cache / "cotbench" / "data"
    assert seen["perf"] == str(Path("results") / "perf.md")  # under the current folder, not site-packages


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if "__pycache__" not in p.parts}


@pytest.mark.slow  # about 15 s: a training run and a report, each in a fresh interpreter
def test_the_console_scripts_train_and_report_outside_the_checkout(installed: Installed) -> None:
    shipped = _files_under(installed.site_packages)
    run_dir = installed.elsewhere / "tiny_run"
    trained = installed.run(installed.scripts / "cotbench", *TINY, f"hydra.run.dir={run_dir}")
    assert trained.returncode == 0, trained.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["final"]["step"] == 4
    assert metrics["git_revision"] == "unknown"  # no checkout to ask

    report = ("--temperatures", "1", "--temperature-samples", "2")
    reported = installed.run(installed.scripts / "cotbench-report", run_dir, *report)
    assert reported.returncode == 0, reported.stderr
    readme = installed.elsewhere / "outputs" / "reports" / "tiny_run" / "README.md"  # the default, under cwd
    assert readme.is_file() and "mle" in readme.read_text()
    assert reported.stdout.strip() == readme.read_text().strip()
    assert _files_under(installed.site_packages) == shipped  # nothing written beside the installed code


def test_a_checkout_is_recognised_by_its_own_project_name(tmp_path: Path) -> None:
    assert checkout_root() == REPO_ROOT
    assert default_table("cpu") == REPO_ROOT / "results" / "perf.md"
    assert default_table("cuda") == REPO_ROOT / "results" / "perf_cuda.md"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "some-other-project"\n')
    assert checkout_root(tmp_path) is None  # a wheel installed with `pip --target` into another project
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "cotbench"\n')
    assert checkout_root(tmp_path) == tmp_path
    (tmp_path / "pyproject.toml").write_text("[project\n")
    assert checkout_root(tmp_path) is None
    assert checkout_root(tmp_path / "missing") is None
