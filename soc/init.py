"""``soc init``: a commented starter configuration and the data directory."""

from __future__ import annotations

from pathlib import Path

from soc.errors import SocError

STARTER_CONFIG = """\
# soc configuration. Reference: docs/configuration.md
# Relative paths are relative to this file's folder.

# Where the embedded store, the collector checkpoints and the lock live.
data_dir: soc-data

# Local time of sources that log without a zone (classic syslog files).
timezone: Asia/Ho_Chi_Minh

# Reporting duties and deadlines: mps-2026 (Law 116/2025, Decree 331/2026) or legacy-mic-2017.
profile: mps-2026

store:
  type: embedded              # or: elasticsearch (see docs/store.md)

# Units (agencies) and their information systems, with their security level (cap do 1-5).
# Events are matched to a system by the host names and addresses listed under 'hosts'.
inventory:
  units:
    - id: vp-ubnd
      name: Văn phòng UBND tỉnh
      contacts:
        - role: owner                 # chủ quản hệ thống thông tin
          name: Chánh Văn phòng
          email: vanphong@example.gov.vn
        - role: operator              # đơn vị vận hành
          name: Trung tâm Thông tin - Công báo
          email: ttcb@example.gov.vn
          phone: "0200 000 000"
  systems:
    - id: cong-ttdt
      name: Cổng thông tin điện tử tỉnh
      unit: vp-ubnd
      security_level: 3
      owner: Văn phòng UBND tỉnh
      operator: Trung tâm Thông tin - Công báo
      hosts: [portal-web01, 10.10.1.0/24]
      expected_sources: [portal-auth]

# What 'soc collect' reads on every pass (run it from cron every few minutes).
sources:
  - name: portal-auth
    type: file
    paths: [/var/log/auth.log*]     # rotated files (.1, .2.gz) are read once, in order
    parser: auto                    # or: syslog, jsonl, ...
    system: cong-ttdt
    expected_interval: 1h           # silent longer than this: flagged by 'soc status'
    # options:
    #   max_line_bytes: 1048576
    #   encoding: utf-8

# Days online per security level (defaults follow the national minimums plus a margin).
retention:
  1: 30
  2: 35
  3: 100
  4: 190
  5: 400
  unknown: 100

# Sigma rules beyond the project's own (e.g. a SigmaHQ checkout), and placeholder values.
rules:
  paths: []
  placeholders: {}
  tuning:
    # informational findings (SigmaHQ's "an event of this kind happened") are kept as hits for
    # hunts and correlations, not queued as alerts; 'soc rules tuning' lists what is in force
    min_level: low

# Threat-intel feeds (docs/threat-intel.md): matched in every pass, retro-hunted when new.
# Pull them from cron with 'soc intel pull --due' ('soc listen' pulls them by itself).
# intel:
#   feeds:
#     - {name: ncsc, type: csv, url: "https://ti.example.vn/ioc.csv", interval: 1h,
#        api_key_env: NCSC_TOKEN, confidence: 70, tlp: amber}
#     - {name: national, type: taxii, url: "https://taxii.example.vn/taxii2/",
#        collection: "IoC", username: soc, password_env: TAXII_PASSWORD}

# Secrets are never written here: use {$env: NAME} or {$file: /path/to/secret}.
"""


def init_project(directory: Path, *, force: bool = False) -> Path:
    """Write ``soc.yml`` and the data directory under ``directory``; returns the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "soc.yml"
    if config.exists() and not force:
        raise SocError(f"{config} exists already", hint="Pass --force to overwrite it.")
    config.write_text(STARTER_CONFIG, encoding="utf-8")
    (directory / "soc-data").mkdir(exist_ok=True)
    return config
