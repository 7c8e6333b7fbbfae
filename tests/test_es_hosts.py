"""The Elasticsearch ``hosts:`` option: a secret URL works, credentials in a URL never show.

No cluster is needed: the store is configured at a closed port on loopback, so every command
meets the "cannot reach" path, which is where the hosts are printed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from soc.errors import ConfigError, ExitCode
from soc.stores.es.connection import EsOptions
from tests.conftest import ROOT

SOC = [sys.executable, "-m", "soc"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(tmp_path: Path, hosts: str, *args: str, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "soc.yml"
    cfg.write_text(f"data_dir: data\nstore:\n  type: elasticsearch\n  hosts: {hosts}\n"
                   "  request_timeout: 2\n")
    return subprocess.run([*SOC, "-c", str(cfg), *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, **(env or {})})


def test_a_secret_url_in_hosts_is_used_and_never_shown(tmp_path: Path) -> None:
    """It gave "unexpected TypeError: 'Secret' object is not iterable", exit 1."""
    url = f"https://elastic:s3cr3t-pw@127.0.0.1:{closed_port()}"
    out = run(tmp_path, "{$env: ES_URL}", "status", env={"ES_URL": url})
    assert out.returncode == ExitCode.FINDINGS, out.stderr
    assert "Traceback" not in out.stderr and "TypeError" not in out.stderr
    assert "s3cr3t-pw" not in out.stdout + out.stderr
    assert f"https://***@127.0.0.1:{url.rsplit(':', 1)[1]}" in out.stdout + out.stderr
    assert "Warning: the store cannot be opened" in out.stderr


def test_credentials_written_in_a_host_url_do_not_show(tmp_path: Path) -> None:
    out = run(tmp_path, f"['http://admin:hunter2@127.0.0.1:{closed_port()}']", "status",
              "--json")
    assert out.returncode == ExitCode.FINDINGS, out.stderr
    assert "hunter2" not in out.stdout + out.stderr and "***@127.0.0.1" in out.stdout


def test_hosts_that_are_not_urls_are_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hosts must be a URL"):
        EsOptions.from_mapping({"hosts": [3]}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="hosts must be a URL"):
        EsOptions.from_mapping({"hosts": [""]}, data_dir=tmp_path)


@pytest.mark.parametrize(("hosts", "shown"), [
    (["https://u:p@es1:9200", "http://es2:9200"], "https://***@es1:9200, http://es2:9200"),
    (["user@es3:9200"], "***@es3:9200"), (["https://es4"], "https://es4")])
def test_shown_hosts(tmp_path: Path, hosts: list[str], shown: str) -> None:
    assert EsOptions.from_mapping({"hosts": hosts}, data_dir=tmp_path).shown_hosts == shown
