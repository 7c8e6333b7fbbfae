"""``data_group``: a group of analysts may read what soc writes; nobody else can."""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from soc.errors import ExitCode
from tests.conftest import ROOT

SOC = [sys.executable, "-m", "soc"]
LINE = "Nov 24 09:15:02 web01 sshd[7]: Failed password for root from 10.9.0.2 port 5022 ssh2\n"


def other_group() -> grp.struct_group:
    """A group this process may give files to: any (root), else one of its own."""
    mine = set(os.getgroups()) | {os.getgid()}
    usable = [g for g in grp.getgrall() if os.geteuid() == 0 or g.gr_gid in mine]
    preferred = [g for g in usable if g.gr_gid != os.getgid()]
    return (preferred or usable)[0]


def collect(tmp_path: Path, extra: str, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    (tmp_path / "auth.log").write_text(LINE)
    cfg = tmp_path / "soc.yml"
    cfg.write_text(f"data_dir: data\n{extra}sources:\n  - name: auth\n    type: file\n"
                   f"    paths: [{tmp_path / 'auth.log'}]\n    parser: syslog\n")
    return subprocess.run([*SOC, "-c", str(cfg), "collect", "--no-detect"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT,
                          env={k: v for k, v in {**os.environ, **(env or {})}.items()
                               if k != "SOC_UMASK" or env})


def modes(data: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(data)): (stat.S_IMODE(p.stat().st_mode), p.stat().st_gid)
            for p in [data, *data.rglob("*")]}


def test_the_data_group_reads_everything_soc_writes(tmp_path: Path) -> None:
    group = other_group()
    out = collect(tmp_path, f"data_group: {group.gr_name}\n")
    assert out.returncode == ExitCode.OK, out.stderr
    found = modes(tmp_path / "data")
    assert found["."] == (0o2750, group.gr_gid)
    assert found["store.db"][1] == group.gr_gid and found["store.db"][0] & 0o077 == 0o040
    for name, (mode, gid) in found.items():
        assert gid == group.gr_gid, name
        assert mode & 0o007 == 0, f"{name} is open to others: {oct(mode)}"


def test_without_it_files_are_private(tmp_path: Path) -> None:
    out = collect(tmp_path, "")
    assert out.returncode == ExitCode.OK, out.stderr
    for name, (mode, _) in modes(tmp_path / "data").items():
        assert mode & 0o077 == 0, f"{name}: {oct(mode)}"


def test_an_unknown_group_is_a_configuration_error(tmp_path: Path) -> None:
    out = collect(tmp_path, "data_group: no-such-group-soc\n")
    assert out.returncode == ExitCode.CONFIG, out.stderr
    assert "Error: data_group: no group named 'no-such-group-soc'" in out.stderr
    assert "groupadd no-such-group-soc" in out.stderr


@pytest.mark.parametrize("value", ["'a b'", "'x:y'", "''"])
def test_a_malformed_group_is_refused(tmp_path: Path, value: str) -> None:
    out = collect(tmp_path, f"data_group: {value}\n")
    assert out.returncode == ExitCode.CONFIG, out.stderr
