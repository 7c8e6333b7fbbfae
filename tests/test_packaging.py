"""`pip install .` ships what soc needs at run time: the content folders and package data."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ("rules", "playbooks", "reports")


def content_files() -> set[str]:
    """Every file of the content folders a run needs (rule samples are for developers)."""
    found = set()
    for name in CONTENT:
        for path in (ROOT / name).rglob("*"):
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file() and not rel.startswith("rules/tests/"):
                found.add(rel)
    return found


def listed_files() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    found = set()
    for _target, patterns in parser.items("options.data_files"):
        for pattern in patterns.replace("\n", ",").split(","):
            if pattern.strip():
                found.update(p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern.strip()))
    return found


def test_every_content_file_is_in_data_files() -> None:
    missing = content_files() - listed_files()
    assert not missing, f"add these to [options.data_files] in setup.cfg: {sorted(missing)}"


@pytest.mark.slow
def test_the_wheel_carries_content_and_package_data(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                    str(ROOT)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("soc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {n.split(".data/data/share/soc/", 1)[1] for n in names if ".data/data/share/soc/" in n}
    assert data == content_files()
    assert "soc/py.typed" in names
    assert any(n.startswith("soc/data/kibana/") for n in names)
    assert any(n.startswith("collectors/parsers/") for n in names)
