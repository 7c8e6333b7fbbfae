"""pam_unix's authentication failures count towards SSH brute force, and no attempt twice.

Through ``soc collect`` over a real auth.log and the project's rules: a box where only pam_unix
logs the failures (80 lines in two minutes used to raise nothing) raises the PAM-only brute
force; a Debian/RHEL box, where sshd logs ``Failed password`` for the same attempts, raises the
SSH brute force alone, counted on sshd's lines (nine attempts logged both ways stay under the
threshold of ten); ``PAM N more authentication failures`` counts N attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from soc.config import load_config
from soc.pipeline.collect import collect
from soc.stores.sqlite import SQLiteStore

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
IP = "203.0.113.9"
BRUTE_FORCE = "bfc3592f-ef2a-437b-a626-46794a8b9a52"  # counts sshd's own failure lines
PAM_ONLY = "b85adede-87f5-4499-852b-ea9ac985029f"  # PAM's count, where sshd says nothing
PAM_FIELDS = f"logname= uid=0 euid=0 tty=ssh ruser= rhost={IP}  user=root"


def line(seconds: float, pid: int, message: str) -> str:
    stamp = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp} web01 sshd[{pid}]: {message}\n"


def first_failure(seconds: float, pid: int) -> str:
    return line(seconds, pid, f"pam_unix(sshd:auth): authentication failure; {PAM_FIELDS}")


def more(seconds: float, pid: int, n: int) -> str:
    return line(seconds, pid, f"PAM {n} more authentication failures; {PAM_FIELDS}")


def failed(seconds: float, pid: int) -> str:
    return line(seconds, pid, f"Failed password for root from {IP} port {40000 + pid} ssh2")


def connection(start: float, pid: int, attempts: int, *, sshd: bool) -> list[str]:
    """One SSH connection with ``attempts`` wrong passwords, 3 s apart, as Linux-PAM and (with
    ``sshd``) sshd log them: PAM's first failure, sshd's line per attempt, PAM's summary."""
    lines = [first_failure(start, pid)]
    if sshd:
        lines += [failed(start + 2 + 3 * k, pid) for k in range(attempts)]
    if attempts > 1:
        lines.append(more(start + 3 * attempts, pid, attempts - 1))
    return lines


def alerts(tmp_path: Path, lines: Sequence[str]) -> list[tuple[str, str, str, int]]:
    """(rule id, severity, source.ip, linked events) of the alerts ``soc collect`` raises."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "auth.log").write_text("".join(lines), encoding="utf-8")
    (tmp_path / "soc.yml").write_text(
        "data_dir: data\ntimezone: UTC\n"
        "sources:\n  - {name: auth, type: file, paths: [logs/auth.log], parser: syslog}\n",
        encoding="utf-8")
    config = load_config(tmp_path / "soc.yml")
    collect(config)
    with SQLiteStore.open(config) as store:
        return sorted((a.rule_id, a.severity.value, str(a.group.get("source.ip")), a.count)
                      for a in store.list_alerts())


def test_eighty_pam_failures_in_two_minutes_raise_the_pam_only_brute_force(
        tmp_path: Path) -> None:
    lines = [first_failure(n * 1.5, 1000 + n) for n in range(80)]
    found = alerts(tmp_path, lines)
    assert [(rule, level, ip) for rule, level, ip, _ in found] == [(PAM_ONLY, "medium", IP)]


def test_where_sshd_logs_the_attempts_too_they_count_once(tmp_path: Path) -> None:
    """Twelve attempts logged both ways: one alert, the SSH brute force, whose count is
    sshd's twelve lines (PAM's own lines link to nothing, and no PAM-only alert)."""
    lines = [ln for c in range(12) for ln in connection(c * 10, 2000 + c, 1, sshd=True)]
    assert alerts(tmp_path, lines) == [(BRUTE_FORCE, "medium", IP, 12)]


def test_nine_attempts_logged_both_ways_stay_under_the_threshold(tmp_path: Path) -> None:
    """Eighteen failure lines, nine attempts: no alert (counting both would have fired)."""
    lines = [ln for c in range(9) for ln in connection(c * 10, 3000 + c, 1, sshd=True)]
    assert alerts(tmp_path, lines) == []


def test_pam_more_authentication_failures_counts_its_attempts(tmp_path: Path) -> None:
    """Three connections of four attempts on a box where only PAM logs: six lines, twelve
    attempts (1 + "PAM 3 more" each): the PAM-only brute force."""
    lines = [ln for c in range(3) for ln in connection(c * 30, 4000 + c, 4, sshd=False)]
    assert len(lines) == 6
    assert [a[0] for a in alerts(tmp_path, lines)] == [PAM_ONLY]


def test_pam_more_below_the_threshold_raises_nothing(tmp_path: Path) -> None:
    """Three connections of three attempts: nine attempts, no alert."""
    lines = [ln for c in range(3) for ln in connection(c * 30, 5000 + c, 3, sshd=False)]
    assert alerts(tmp_path, lines) == []


def test_with_sshd_lines_multi_attempt_connections_raise_the_ssh_brute_force_only(
        tmp_path: Path) -> None:
    """Two connections of six attempts logged both ways: sshd's twelve lines fire the SSH
    brute force; PAM's count (12 as well) raises no second alert."""
    lines = [ln for c in range(2) for ln in connection(c * 30, 6000 + c, 6, sshd=True)]
    assert alerts(tmp_path, lines) == [(BRUTE_FORCE, "medium", IP, 12)]
