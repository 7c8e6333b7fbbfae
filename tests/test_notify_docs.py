"""docs/notifications.md and the code agree: every option the code accepts is documented, every
documented option exists, and the worked on-call example loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from soc.config import load_config
from soc.notify import config as notify_config
from soc.notify.channels import TYPES, _builders
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "notifications.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n## ", start + len(title))
    return DOC[start:] if end < 0 else DOC[start:end]


def _table_options() -> list[str]:
    """The first column of the options table of "## Configuration"."""
    rows = re.findall(r"^\| `([^|]+)` \|", _section("## Configuration"), re.M)
    return [name for row in rows for name in re.findall(r"[\w.\[\]<>]+", row.replace("`", ""))
            if not name.startswith(".")]


def test_every_notify_option_is_documented_and_exists() -> None:
    names = _table_options()
    top = {re.split(r"[.\[]", n)[0] for n in names}
    route = {n.split(".")[1] for n in names if n.startswith("routes[].")}
    match = {n.split(".")[2] for n in names if n.startswith("routes[].match.")}
    assert top == notify_config._TOP_KEYS
    assert route == notify_config._ROUTE_KEYS
    assert match == notify_config._MATCH_KEYS


@pytest.mark.parametrize("kind", TYPES)
def test_every_channel_option_is_documented_and_exists(kind: str) -> None:
    """The YAML example of each channel type names each of its options (``templates``, which
    every channel takes, is described once for all)."""
    section = DOC[DOC.index(f"### `{kind}`"):]
    block = section[section.index("```yaml"):section.index("```\n", 7)]
    documented = set(re.findall(r"^ {6}(\w+):", block, re.M)) | {"type", "templates"}
    module = __import__(_builders()[kind].__module__, fromlist=["KEYS"])
    assert documented == module.KEYS


def test_the_worked_on_call_example_loads(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    section = _section("## A worked on-call example")
    example = section[section.index("```yaml") + 7:section.index("```\n", 10)]
    for name in ("SOC_TG_TOKEN", "SOC_SMTP_PASSWORD"):
        monkeypatch.setenv(name, "x" * 12)
    cfg = tmp_path / "soc.yml"
    cfg.write_text("data_dir: data\n" + example, encoding="utf-8")
    assert yaml.safe_load(example)["notify"]["routes"]
    notify = notify_config.load(load_config(cfg))
    assert [r.name for r in notify.routes] == ["oncall", "team", "deadlines"]
    assert notify.console_url is not None
