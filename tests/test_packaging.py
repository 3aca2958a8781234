"""The wheel operators install (`pip install /opt/soc/src`) carries the bundled rules and
playbooks, and the service finds them there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from soc.bundled import SOURCE_ROOT, folder

ROOT = Path(__file__).resolve().parents[1]


def data_files() -> dict[str, list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(config["tool"]["setuptools"]["data-files"])


def test_every_rules_folder_is_listed_for_the_wheel() -> None:
    folders = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "rules").rglob("*.yml")}
    listed = {f"{target.removeprefix('share/soc/')}" for target in data_files()}
    assert folders <= listed, f"add to [tool.setuptools.data-files]: {sorted(folders - listed)}"


def test_the_wheel_holds_every_rule_and_playbook(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("soc", "collectors", "rules", "playbooks"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("soc-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n.split("/data/share/soc/", 1)[1] for n in zf.namelist() if "/data/share/soc/" in n}
    expected = {
        p.relative_to(ROOT).as_posix() for d in ("rules", "playbooks") for p in (ROOT / d).rglob("*.yml")
    }
    assert shipped == expected


def test_a_checkout_uses_its_own_folders() -> None:
    assert folder("rules") == SOURCE_ROOT / "rules" == ROOT / "rules"
    assert folder("playbooks") == ROOT / "playbooks"
