"""E-mail over SMTP: STARTTLS (default, port 587), implicit TLS (``tls: implicit``, port 465) or
none (``tls: none``, to a relay on this machine only); AUTH with ``user`` and ``password``.

One message, text and HTML (multipart/alternative), to every ``to``. The Message-ID is derived
from the idempotency key, so a message sent again after a crash is recognisably the same one
(mail clients and archives fold it). 5xx answers are permanent (bad credentials, bad sender or
recipient); 4xx, timeouts and refused connections are retried.
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path
from typing import Any

from soc.ecs import parse_ts
from soc.notify import escape
from soc.notify.channels._options import LOCAL_HOSTS, Options, failure, reveal, tls_context
from soc.notify.model import DeliveryError, Message
from soc.notify.render import render

KEYS = {"type", "host", "port", "tls", "user", "password", "from", "to", "subject_prefix",
        "ca_file", "timeout", "templates"}
PORTS = {"starttls": 587, "implicit": 465, "none": 25}


class EmailChannel:
    type = "email"

    def __init__(self, name: str, spec: Mapping[str, Any], base_dir: Path | None) -> None:
        o = Options(name, spec, base_dir)
        o.check_keys(KEYS)
        self.name = name
        self.host = str(o.get("host", str, required=True))
        self.tls = o.choice("tls", PORTS, "starttls")
        self.port = int(o.get("port", int, PORTS[self.tls]))
        if self.tls == "none" and self.host not in LOCAL_HOSTS:
            raise o.error(f"{o.what}: tls: none is allowed only to a relay on this machine "
                          f"(localhost), not {self.host}", o.line_of("tls"))
        self.user = o.get("user", str, None)
        self.password = o.secret("password", required=self.user is not None)
        self.sender = str(o.get("from", str, required=True))
        self.to = o.str_list("to")
        if not self.to:
            raise o.error(f"{o.what}: 'to' must name at least one recipient", o.line_of("to"))
        for address in (self.sender, *self.to):
            if "@" not in address or any(c in address for c in "\r\n"):
                raise o.error(f"{o.what}: {address!r} is not an e-mail address")
        self.prefix = str(o.get("subject_prefix", str, "[SOC]"))
        self.timeout = o.number("timeout", 30.0)
        self.templates = o.file("templates")
        self.context = tls_context(o.file("ca_file"))

    def compose(self, message: Message) -> EmailMessage:
        """The e-mail for ``message``: text and HTML, Message-ID from its idempotency key."""
        r = render(message, flavour="html", templates=self.templates)
        mail = EmailMessage(policy=SMTP)
        mail["Subject"] = escape.clean(f"{self.prefix} {r.subject}".strip(), limit=250)
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        mail["Date"] = formatdate(parse_ts(message.created).timestamp())
        mail["Message-ID"] = message_id(message.key, self.sender)
        mail["X-Soc-Idempotency-Key"] = escape.clean(message.key, limit=0)
        mail.set_content(r.text)
        if r.html:
            mail.add_alternative(r.html, subtype="html")
        return mail

    def send(self, message: Message) -> str:
        data = self.compose(message).as_bytes(policy=SMTP)
        password = reveal(self.password)
        try:
            with self._connect() as smtp:
                if self.user:
                    smtp.login(self.user, password)
                return self._transfer(smtp, data)
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise failure(self, f"{self.host}: login refused ({exc.smtp_code})",
                          "Check user and password", retryable=False,
                          secrets=[password]) from None
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            said = escape.clean(error.decode("utf-8", "replace") if isinstance(error, bytes)
                                else error, limit=120)
            raise failure(self, f"{self.host} answered {exc.smtp_code} {said}",
                          "Check from, to and the relay's rules",
                          retryable=not 500 <= exc.smtp_code < 600,
                          secrets=[password]) from None
        except ssl.SSLCertVerificationError as exc:
            raise failure(self, f"{self.host}:{self.port}: TLS certificate not trusted "
                          f"({exc.verify_message})",
                          "Check host (the name in the certificate) and ca_file",
                          secrets=[password]) from None
        except (smtplib.SMTPException, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (
                "timed out" if isinstance(exc, socket.timeout | TimeoutError)
                else type(exc).__name__)
            raise failure(self, f"{self.host}:{self.port}: {reason}",
                          "Check host, port and tls (starttls on 587, implicit on 465)",
                          secrets=[password]) from None

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "implicit":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self.context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.tls == "starttls":
                smtp.starttls(context=self.context)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _transfer(self, smtp: smtplib.SMTP, data: bytes) -> str:
        """MAIL, RCPT for each, DATA: the last answer is the receipt."""
        smtp.ehlo_or_helo_if_needed()
        code, said = smtp.mail(self.sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, said, self.sender)
        codes = {to: smtp.rcpt(to)[0] for to in self.to}
        refused = [to for to, c in codes.items() if c not in (250, 251)]
        if len(refused) == len(self.to):
            smtp.rset()
            raise failure(self, f"{self.host} refused every recipient "
                          f"({', '.join(sorted({str(c) for c in codes.values()}))})",
                          "Check to (and that the relay lets this sender reach them)",
                          retryable=any(400 <= c < 500 for c in codes.values()))
        code, said = smtp.data(data)
        text = escape.clean(said.decode("utf-8", "replace"), limit=80)
        extra = f" ({len(refused)} refused: {', '.join(refused)})" if refused else ""
        return f"{code} {text}{extra}"


def message_id(key: str, sender: str) -> str:
    """``<soc.<digest of the key>@<sender's domain>>``: the same for every send of one key."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    try:
        domain = Address(addr_spec=sender).domain or "soc.invalid"
    except (ValueError, IndexError):
        domain = "soc.invalid"
    return f"<soc.{digest}@{domain}>"
