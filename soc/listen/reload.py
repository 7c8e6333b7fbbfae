"""SIGHUP for ``soc listen``: check the rules and soc.yml as they are now, in a child process.

The check loads the configuration and builds the rules exactly as the drain process does
(:func:`soc.detection.stage.config_detector`: ``rules/`` plus ``rules.paths``, the placeholders,
the rule cache in ``<data_dir>/cache``), then prints one JSON line: how many rules and
correlations are usable, every rule issue, and a digest of the settings a reload cannot change
(``data_dir``, ``store``, ``listen``, ``network``: the receiver, its spool and the store stay as
they are until a restart), and the line ``soc collect`` prints about broken rule files (``warning``,
None when there are none). It runs in its own process so that building thousands of rules never
holds the receiver's GIL; the cache it writes makes the next drain process start fast.

The daemon (:mod:`soc.listen.daemon`) runs it once at start-up (the baseline) and on every SIGHUP,
and accepts the new rules only when they bring no issue the running ones did not have
(:func:`refusal`). Then it restarts the drain process, which reads soc.yml and the rules again.
Both times it logs the ``warning`` of the rules it runs (:func:`rule_warning`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from collections.abc import Mapping
from typing import Any

from soc.config import Config, load_config
from soc.errors import SocError
from soc.tuning_file import effective_tuning

FIXED_KEYS = ("data_dir", "store", "listen", "network")
"""Top-level keys of soc.yml that only a restart of ``soc listen`` applies."""
SHOWN_ISSUES = 3  # a refusal names this many problems, then counts the rest


def fixed_digest(config: Config) -> str:
    """A digest of the settings a reload keeps (:data:`FIXED_KEYS`), as written in soc.yml."""
    fixed = {k: config.raw.get(k) for k in FIXED_KEYS}
    text = json.dumps(fixed, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def check(config_path: str | None, data_dir: str) -> dict[str, Any]:
    """Load soc.yml and the rules; what :func:`refusal` compares (``error`` when soc.yml does
    not load)."""
    try:
        config = load_config(config_path, data_dir=data_dir)
        effective_tuning(config)  # the tuning file too: the drain process reads it at start
    except SocError as exc:
        return {"error": f"{exc}"}
    from soc.detection.stage import RuleHealth, config_detector

    try:
        detector = config_detector(config)
    except Exception as exc:  # noqa: BLE001 - reported to the daemon, which keeps its rules
        return {"error": f"loading the rules failed: {type(exc).__name__}: {exc}"}
    return {"rules": len(detector.engine.rules), "correlations": len(detector.specs),
            "issues": [i.to_dict() for i in detector.issues], "fixed": fixed_digest(config),
            "warning": RuleHealth.of(detector).warning()}


def _issue_key(issue: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(issue.get(k)) for k in ("file", "id", "stage", "reason"))


def refusal(running: Mapping[str, Any] | None, candidate: Mapping[str, Any]) -> str | None:
    """Why the candidate rules must not replace the running ones, or None when they may.

    Refused: soc.yml does not load, a setting of :data:`FIXED_KEYS` changed, or a rule file has
    an issue the running rules did not have (a broken file, a rule that no longer compiles...).
    """
    if "error" in candidate:
        return f"soc.yml: {candidate['error']}"
    running = running or {}
    if running.get("fixed") and running["fixed"] != candidate["fixed"]:
        return (f"{', '.join(FIXED_KEYS)} changed in soc.yml: those apply only on a restart "
                "(systemctl restart soc-listen)")
    known = {_issue_key(i) for i in running.get("issues", ())}
    new = [i for i in candidate.get("issues", ()) if _issue_key(i) not in known]
    if not new:
        return None
    shown = "; ".join(f"{i['file']}{' (' + str(i['id']) + ')' if i.get('id') else ''}: "
                      f"{i['reason']}" for i in new[:SHOWN_ISSUES])
    more = f" (and {len(new) - SHOWN_ISSUES} more)" if len(new) > SHOWN_ISSUES else ""
    return f"{len(new)} new rule problem(s): {shown}{more}"


def rule_warning(result: Mapping[str, Any]) -> str | None:
    """The log line about the broken rule files of a check (``soc collect``'s warning, without
    its ``Warning:``, which the log level says), or about a check that failed; None when the
    rules all load."""
    if "error" in result:
        return f"the rules could not be checked: {result['error']}"
    warning: str | None = result.get("warning")
    return warning.removeprefix("Warning: ") if warning else None


async def run_check(config: Config, timeout: float = 600) -> dict[str, Any]:
    """:func:`check` in a child process (``python -m soc.listen.reload``)."""
    argv = [sys.executable, "-m", "soc.listen.reload", "--data-dir", str(config.data_dir)]
    if config.path is not None:
        argv += ["--config", str(config.path)]
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"error": f"checking the rules took longer than {timeout:.0f}s"}
    except asyncio.CancelledError:  # the daemon stops: no orphan left behind
        proc.kill()
        raise
    try:
        result: dict[str, Any] = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = (err.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        return {"error": f"the rule check exited with {proc.returncode}: {last}"}
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m soc.listen.reload [--config FILE] --data-dir DIR``: one JSON line."""
    ap = argparse.ArgumentParser(prog="soc-listen-reload")
    ap.add_argument("--config")
    ap.add_argument("--data-dir", required=True)
    args = ap.parse_args(argv)
    sys.stdout.write(json.dumps(check(args.config, args.data_dir), default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
