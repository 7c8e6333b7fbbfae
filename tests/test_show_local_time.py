"""``soc alerts show``: the audit trail in the configured timezone, like every other time on the
screen; ``--json`` keeps the stored UTC text."""

from __future__ import annotations

import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from soc.cli.output import local_time
from soc.config import load_config
from soc.stores.sqlite import SQLiteStore
from tests.test_local_time import invoke, project

ZONE = "Asia/Ho_Chi_Minh"
UTC_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def test_alert_audit_trail_in_the_configured_zone(tmp_path: Path) -> None:
    config = project(tmp_path, ZONE)
    invoke(config, "alerts", "ack", "a1b2c3d4e5f6", "--actor", "an.nv")
    invoke(config, "alerts", "assign", "a1b2c3d4e5f6", "minh", "--actor", "an.nv")
    invoke(config, "alerts", "close", "a1b2c3d4e5f6", "--reason", "pentest", "--actor", "minh")
    with SQLiteStore.open(load_config(config), readonly=True) as store:
        trail = store.audit_trail("a1b2c3d4e5f60718")
    assert len(trail) == 3

    shown = invoke(config, "alerts", "show", "a1b2c3d4e5f6").stdout
    assert UTC_TEXT.search(shown) is None, shown
    section = shown.split("\n== Audit trail ==\n", 1)[1].splitlines()
    assert section[0].split() == ["SEQ", "TS", "ACTOR", "ACTION", "BEFORE", "AFTER", "REASON"]
    expected = [(e.seq, local_time(e.ts, ZoneInfo(ZONE)), e.actor, e.action) for e in trail]
    assert [tuple(re.split(r"\s{2,}", line)[:4]) for line in section[1:]] == [
        (str(seq), ts, actor, action) for seq, ts, actor, action in expected]
    assert re.split(r"\s{2,}", section[3])[4:] == ["acknowledged", "closed", "pentest"]
    assert expected[0][1].endswith(" +07")

    data = json.loads(invoke(config, "alerts", "show", "a1b2c3d4e5f6", "--json").stdout)
    assert [a["ts"] for a in data["audit"]] == [e.ts for e in trail]
