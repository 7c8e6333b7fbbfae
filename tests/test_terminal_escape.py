"""What a log line carries never acts on the analyst's terminal: control sequences, C1 codes and
bidirectional overrides are shown as text in tables, lines and errors; JSON stays valid and
gives the value back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soc.cli.main import main
from soc.cli.output import escape
from soc.stores.sqlite import SQLiteStore
from tests.test_store_contract import ev

# OSC 52 (writes the clipboard), OSC 0 (the title), clear screen, a C1 CSI, CR, and RLO
HOSTILE = ("adm\x1b]52;c;ZWNobyBoaQ==\x07in\x1b]0;pwned\x07\x1b[2J\x9b31m\rroot\u202etxt.exe")
SHOWN = "adm\\x1b]52;c;ZWNobyBoaQ==\\x07in\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x0droot\\u202etxt.exe"
RAW = ("\x1b", "\x07", "\x9b", "\r", "\u202e")


@pytest.fixture
def case(tmp_path: Path) -> Path:
    (tmp_path / "soc.yml").write_text("data_dir: data\ntimezone: UTC\n", encoding="utf-8")
    with SQLiteStore.open_path(tmp_path / "data" / "store.db") as store:
        store.write_events([ev(1, "2026-11-24T08:00:01.000Z", **{"user.name": HOSTILE,
                                                                "event.action": "x"})])
    return tmp_path


def soc(case: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-c", str(case / "soc.yml"), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_escape_shows_every_control_as_text() -> None:
    assert escape(HOSTILE) == SHOWN
    assert escape("Nguyễn Văn An\ttab\nline") == "Nguyễn Văn An\ttab\nline"  # text as it is


def test_search_table_shows_the_sequences_as_text(case: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = soc(case, capsys, "search", "event.action:x", "--since", "2026-11-01",
                       "--fields", "user.name")
    assert code == 0 and not any(c in out for c in RAW)
    assert out.splitlines()[1] == SHOWN  # 64 characters: a cell keeps 80 before escaping


@pytest.mark.parametrize("flag", ["--json", "--nl"])
def test_json_stays_valid_and_exact(case: Path, capsys: pytest.CaptureFixture[str],
                                    flag: str) -> None:
    code, out, _ = soc(case, capsys, "search", "event.action:x", "--since", "2026-11-01", flag)
    assert code == 0 and not any(c in out for c in RAW)
    doc = json.loads(out) if flag == "--json" else json.loads(out.splitlines()[0])
    event = doc[0] if isinstance(doc, list) else doc
    assert event["user.name"] == HOSTILE


def test_an_error_quoting_a_value_is_escaped(case: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = soc(case, capsys, "alerts", "show", "x\x1b]0;t\x07")
    assert code == 7 and out == ""
    assert "\x1b" not in err and "x\\x1b]0;t\\x07" in err
