"""soc.yml loading: the model, errors with file:line, secrets, inventory enrichment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from soc.config import Secret, load_config
from soc.errors import ConfigError, ExitCode
from soc.init import STARTER_CONFIG
from soc.models import Severity
from soc.pipeline.inventory import Inventory

GOOD = """\
data_dir: data
timezone: Asia/Ho_Chi_Minh
inventory:
  units:
    - id: vp-ubnd
      name: Văn phòng UBND tỉnh
      contacts:
        - {role: owner, name: Chánh Văn phòng, email: vp@example.gov.vn}
  systems:
    - id: cong-ttdt
      name: Cổng thông tin điện tử tỉnh
      unit: vp-ubnd
      security_level: 3
      hosts: [portal-web01.example.gov.vn, 10.10.1.0/24, 10.10.1.99]
    - id: dvc
      name: Cổng dịch vụ công
      unit: vp-ubnd
      security_level: 4
      hosts: [10.10.0.0/16]
sources:
  - name: portal-auth
    paths: [logs/auth.log*]
    system: cong-ttdt
    expected_interval: 15m
    options:
      password: {$env: SOC_TEST_SECRET}
retention:
  3: 120
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "soc.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_builds_the_model(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.data_dir == tmp_path / "data"
    assert [u.id for u in config.units] == ["vp-ubnd"]
    assert config.units[0].contacts[0].email == "vp@example.gov.vn"
    portal = config.system("cong-ttdt")
    assert portal is not None and portal.security_level == 3
    assert portal.hostnames == ("portal-web01.example.gov.vn",)
    assert [str(a) for a in portal.addresses] == ["10.10.1.0/24", "10.10.1.99/32"]
    source = config.source("portal-auth")
    assert source.type == "file" and source.parser == "auto"
    assert source.paths == (str(tmp_path / "logs/auth.log*"),)
    assert source.expected_interval == timedelta(minutes=15)
    assert config.retention_days(3) == 120
    assert config.retention_days(5) == 400
    assert config.retention_days(None) == 100


def test_secrets_are_resolved_late_and_never_printed(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write(tmp_path, GOOD))
    secret = config.source("portal-auth").options["password"]
    assert secret == Secret("env", "SOC_TEST_SECRET")
    monkeypatch.setenv("SOC_TEST_SECRET", "s3cr3t-value")
    assert secret.reveal() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(config) and "s3cr3t-value" not in str(config.to_dict())
    assert config.to_dict()["sources"][0]["options"]["password"] == "*** ($env: SOC_TEST_SECRET)"
    monkeypatch.delenv("SOC_TEST_SECRET")
    with pytest.raises(ConfigError, match="SOC_TEST_SECRET is not set"):
        secret.reveal()


def test_file_secret(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("from-a-file\n")
    assert Secret("file", str(tmp_path / "key")).reveal() == "from-a-file"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace("security_level: 3", "security_level: 7"), 13,
         "security_level must be 1 to 5, not 7"),
        (GOOD.replace("unit: vp-ubnd\n      security_level: 4", "unit: nowhere\n"
                      "      security_level: 4"), 17, "unit 'nowhere' is not in inventory.units"),
        (GOOD.replace("system: cong-ttdt", "system: ghost"), 23,
         "system 'ghost' is not in inventory.systems"),
        (GOOD.replace("expected_interval: 15m", "expected_interval: soon"), 24,
         "not a duration: 'soon'"),
        (GOOD.replace("timezone: Asia/Ho_Chi_Minh", "timezone: Mars/Base"), 2,
         "unknown timezone 'Mars/Base'"),
        (GOOD + "retentoin:\n  1: 3\n", 29, "unknown key 'retentoin'"),
        (GOOD.replace("  3: 120", "  3: -1"), 28, "days must be a positive integer"),
        (GOOD.replace("    paths: [logs/auth.log*]\n", "    paths: [logs/auth.log*]\n"
                      "  - name: portal-auth\n"), 23, "source name 'portal-auth' is used twice"),
        ("inventory:\n  units:\n    - id: a\n   name: broken\n", 4, "invalid YAML"),
        ("sources: [1, 2]\n", 1, "source #1 must be a mapping"),
        ("store:\n  kind: elasticsearch\n  hosts: [http://127.0.0.1:9200]\n", 2,
         "the embedded store takes no option 'kind'"),
    ],
)
def test_errors_point_at_file_and_line(tmp_path: Path, text: str, line: int,
                                       message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert message in err.message
    assert (err.path, err.line) == (str(path.resolve()), line)
    assert str(err).startswith(f"{path.resolve()}:{line}: ")
    assert err.exit_code == ExitCode.CONFIG


def test_missing_explicit_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yml")


def test_no_config_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOC_CONFIG", raising=False)
    config = load_config()
    assert config.path is None
    assert config.data_dir == Path(os.getcwd()) / "soc-data"
    assert config.sources == ()


def test_starter_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, STARTER_CONFIG))
    assert config.source("portal-auth").system == "cong-ttdt"
    assert config.profile == "mps-2026"
    # a new install keeps informational findings out of the alert queue (kept as hits)
    assert config.rules.tuning.min_level is Severity.LOW


def test_inventory_enrichment(tmp_path: Path) -> None:
    inv = Inventory(load_config(write(tmp_path, GOOD)))
    by_name = {"host.name": "PORTAL-WEB01"}
    inv.enrich(by_name)
    assert by_name["labels.system"] == "cong-ttdt"
    assert by_name["labels.security_level"] == 3
    assert by_name["organization.id"] == "vp-ubnd"
    # the most specific network wins: 10.10.1.5 is in both 10.10.1.0/24 and 10.10.0.0/16
    specific = {"host.ip": "10.10.1.5"}
    inv.enrich(specific)
    assert specific["labels.system"] == "cong-ttdt"
    wider = {"host.ip": "10.10.7.5"}
    inv.enrich(wider)
    assert (wider["labels.system"], wider["labels.security_level"]) == ("dvc", 4)
    unknown = {"host.name": "elsewhere", "host.ip": "192.0.2.1"}
    inv.enrich(unknown)
    assert "labels.system" not in unknown
    bound = {"host.ip": "10.10.7.5"}
    inv.enrich(bound, inv.systems["cong-ttdt"])
    assert bound["labels.system"] == "cong-ttdt"


def test_alert_suppression_window(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).rules.suppress == timedelta(hours=1)
    config = load_config(write(tmp_path, GOOD + "rules:\n  suppress: 15m\n"))
    assert config.rules.suppress == timedelta(minutes=15)
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD + "rules:\n  suppress: often\n"))
    assert (err.value.line, "not a duration: 'often'" in err.value.message) == (30, True)
