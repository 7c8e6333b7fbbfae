"""A program of yours, for anything else: an argv list (never a shell line), the message as JSON
on stdin, ``SOC_NOTIFY_KIND``, ``SOC_NOTIFY_KEY`` and ``SOC_NOTIFY_SEVERITY`` in its environment.

Exit 0 means accepted (the first line of stdout is the receipt); 75 (``EX_TEMPFAIL``) and a
timeout mean try again later; any other exit is a permanent refusal (the last line of stderr
says why, secrets scrubbed).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soc.config import Secret
from soc.notify import escape
from soc.notify.channels._options import Options, document, failure, reveal
from soc.notify.model import Message
from soc.notify.render import render

KEYS = {"type", "command", "timeout", "env", "templates"}
EX_TEMPFAIL = 75


class CommandChannel:
    type = "command"

    def __init__(self, name: str, spec: Mapping[str, Any], base_dir: Path | None) -> None:
        o = Options(name, spec, base_dir)
        o.check_keys(KEYS)
        self.name = name
        argv = o.get("command", (list, str), required=True)
        if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
            raise o.error(f"{o.what}: 'command' must be a list (program, then its arguments), "
                          "never a shell line: write [/path/to/program, --flag, value]",
                          o.line_of("command"))
        first = Path(argv[0]).expanduser()
        if "/" in argv[0] and not first.is_absolute() and base_dir is not None:
            first = base_dir / first
        self.argv = [str(first) if "/" in argv[0] else argv[0], *argv[1:]]
        self.timeout = o.number("timeout", 30.0)
        self.templates = o.file("templates")
        env = o.get("env", dict, {})
        for key, value in env.items():
            if not isinstance(value, Secret | str | int):
                raise o.error(f"{o.what}: env: {key} must be text or a secret", o.line_of("env"))
        self.env: dict[str, Secret | str] = {
            str(k): v if isinstance(v, Secret) else str(v) for k, v in env.items()}

    def send(self, message: Message) -> str:
        r = render(message, flavour="text", templates=self.templates)
        stdin = json.dumps(document(message, r.subject, r.text), ensure_ascii=False,
                           default=str).encode("utf-8")
        extra = {k: reveal(v) for k, v in self.env.items()}
        secrets = [v for k, v in extra.items() if isinstance(self.env[k], Secret)]
        env = {**os.environ, **extra, "SOC_NOTIFY_KIND": message.kind,
               "SOC_NOTIFY_KEY": message.key, "SOC_NOTIFY_SEVERITY": message.severity}
        try:
            done = subprocess.run(self.argv, input=stdin, env=env, capture_output=True,
                                  timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise failure(self, f"{self.argv[0]} did not finish within {self.timeout:g}s",
                          "The program hangs or is slow; raise timeout") from None
        except OSError as exc:
            raise failure(self, f"cannot run {self.argv[0]}: {exc.strerror}",
                          "Check command (an absolute path, executable)",
                          retryable=False) from None
        return self._receipt(done, secrets)

    def _receipt(self, done: subprocess.CompletedProcess[bytes], secrets: list[str]) -> str:
        if done.returncode == 0:
            first = done.stdout.decode("utf-8", "replace").strip().split("\n", 1)[0]
            return "exit 0" + (f": {escape.clean(first, limit=100)}" if first else "")
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        said = escape.clean(lines[-1], limit=160) if lines else ""
        what = f"{self.argv[0]} exited {done.returncode}" + (f": {said}" if said else "")
        if done.returncode == EX_TEMPFAIL:
            raise failure(self, what, "The program asked to retry later (exit 75)",
                          secrets=secrets)
        raise failure(self, what, "The program refused the message (exit 0 accepts, 75 "
                      "retries)", retryable=False, secrets=secrets)
