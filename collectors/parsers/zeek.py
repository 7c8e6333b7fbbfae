"""Zeek logs → ``zeek.<log>`` events (``zeek.conn``, ``zeek.dns``, ``zeek.smb_files``...).

Two forms, one event shape:

* **TSV** (Zeek's default ASCII writer): each file opens with ``#separator``, ``#set_separator``,
  ``#empty_field``, ``#unset_field``, ``#path``, ``#fields`` and ``#types`` lines. The parser keeps
  them per stream (:attr:`ParseContext.key`), as the IIS parser keeps ``#Fields:``; header lines
  are :class:`ZeekDirective` (read, no event). Values take their column's type (``count``/``port``
  → int, ``time``/``interval``/``double`` → float, ``bool`` ``T``/``F``, ``set[..]``/``vector[..]``
  → list); the unset field (``-``) is left out, the empty one is ``""`` or ``[]``. Escapes
  (``\\x09``) are kept as Zeek wrote them, as its JSON writer does.
* **JSON** (``LogAscii::use_json``, or a Kafka/Logstash shipper): read by the JSON lines parser,
  which hands each record recognised by :func:`detect` to :func:`refine`. The log comes from
  ``_path`` (or ``@stream``, as some shippers name it), else from the record's own fields.
  Records written with ``Log::default_scope_sep = "_"`` (``id_orig_h``) get Zeek's dotted names.

Every field stays under ``zeek.<log>.<name>`` with Zeek's own name (``zeek.dns.query``,
``zeek.dce_rpc.operation``, ``zeek.x509.certificate.serial``), as Elastic's Zeek integration keeps
them: SigmaHQ's ``product: zeek`` rules use those names, and rules/pipelines/zeek.yml prefixes
them per service. ECS fields are added beside them (``source.ip`` = ``id.orig_h``,
``dns.question.name`` = ``query``, ``url.original`` = ``uri``...), so the generic rules and the
search work on Zeek data too. Zeek's own names cannot stay at the top of the event: ``host``,
``service`` and ``user_agent`` are ECS objects there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from collectors.parsers.jsonl import to_timestamp
from soc.ecs import Event
from soc.errors import ParseError, SkipRecord
from soc.pipeline.sources import ParseContext

_FIELD = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*")
"""A Zeek field name (``id.orig_h``, ``certificate.serial``): parts joined by single dots."""

MAX_SOURCES = 1024
"""Streams whose header a parser remembers (the oldest is forgotten first)."""


class ZeekDirective(SkipRecord):
    """A ``#`` header line of a Zeek TSV log: read, but no event (counted as skipped)."""


# --- ECS ---------------------------------------------------------------------------------------

_CONN_ID = {"id.orig_h": "source.ip", "id.orig_p": "source.port",
            "id.resp_h": "destination.ip", "id.resp_p": "destination.port",
            "uid": "zeek.session_id"}
ECS: Mapping[str, Mapping[str, str]] = {
    "conn": {"proto": "network.transport", "service": "network.protocol",
             "orig_bytes": "source.bytes", "resp_bytes": "destination.bytes",
             "orig_pkts": "source.packets", "resp_pkts": "destination.packets"},
    "dns": {"query": "dns.question.name", "qtype_name": "dns.question.type",
            "qclass_name": "dns.question.class", "rcode_name": "dns.response_code",
            "trans_id": "dns.id", "proto": "network.transport", "answers": "dns.answers.data"},
    "http": {"method": "http.request.method", "uri": "url.original", "host": "url.domain",
             "user_agent": "user_agent.original", "referrer": "http.request.referrer",
             "status_code": "http.response.status_code", "version": "http.version",
             "request_body_len": "http.request.body.bytes",
             "response_body_len": "http.response.body.bytes", "username": "user.name"},
    "ssl": {"version": "tls.version", "cipher": "tls.cipher", "curve": "tls.curve",
            "server_name": "tls.client.server_name", "established": "tls.established",
            "resumed": "tls.resumed", "next_protocol": "tls.next_protocol"},
    "x509": {"certificate.serial": "x509.serial_number", "certificate.subject":
             "x509.subject.distinguished_name", "certificate.issuer":
             "x509.issuer.distinguished_name", "certificate.key_alg": "x509.public_key_algorithm",
             "certificate.sig_alg": "x509.signature_algorithm", "san.dns": "x509.alternative_names",
             "certificate.version": "x509.version_number"},
    "files": {"fuid": "file.uid", "mime_type": "file.mime_type", "filename": "file.name",
              "total_bytes": "file.size", "md5": "file.hash.md5", "sha1": "file.hash.sha1",
              "sha256": "file.hash.sha256"},
    "smb_files": {"action": "event.action", "path": "file.directory", "name": "file.name",
                  "size": "file.size", "fuid": "file.uid"},
    "smb_mapping": {"path": "file.path", "share_type": "zeek.smb.share_type"},
    "dce_rpc": {"operation": "event.action", "endpoint": "network.application"},
    "kerberos": {"client": "user.name", "service": "destination.user.name",
                 "request_type": "event.action"},
    "ntlm": {"username": "user.name", "domainname": "user.domain", "hostname": "source.domain"},
    "rdp": {"cookie": "user.name", "result": "event.action"},
    "ssh": {"client": "ssh.client", "server": "ssh.server", "version": "ssh.version"},
    "notice": {"note": "rule.name", "msg": "message", "sub": "zeek.notice.sub",
               "src": "source.ip", "dst": "destination.ip", "p": "destination.port",
               "proto": "network.transport"},
    "weird": {"name": "rule.name", "addl": "message"},
}
"""Per log: Zeek field → ECS field (the id.* fields and uid of every log: :data:`_CONN_ID`)."""
_CATEGORY = {"conn": "network", "dns": "network", "http": "web", "ssl": "network",
             "x509": "network", "files": "file", "smb_files": "file", "smb_mapping": "network",
             "dce_rpc": "network", "kerberos": "authentication", "ntlm": "authentication",
             "rdp": "network", "ssh": "authentication", "notice": "intrusion_detection",
             "weird": "network"}


def zeek_event(log: str, native: Mapping[str, Any], ts: str) -> Event:
    """The event of one Zeek record (``native``: Zeek field → value) of log ``log``."""
    log = log if log.isidentifier() else "log"
    ev: Event = {"@timestamp": ts, "event.dataset": f"zeek.{log}", "event.module": "zeek",
                 "event.kind": "event", "event.category": [_CATEGORY.get(log, "network")],
                 "observer.vendor": "Zeek", "observer.product": "Zeek", "observer.type": "ids"}
    prefix = f"zeek.{log}."
    ecs = ECS.get(log, {})
    for name, value in native.items():
        ev[prefix + name] = value
        target = _CONN_ID.get(name) or ecs.get(name)
        if target is not None and value is not None and value != "" and value != []:
            ev.setdefault(target, value)
    _outcome(ev, log, native)
    _hosts(ev, native)
    return ev


def _hosts(ev: Event, native: Mapping[str, Any]) -> None:
    """files.log's ``tx_hosts``/``rx_hosts`` (Zeek before 5: no id.*): the first of each is
    ``server.ip``/``client.ip``, all of them ``related.ip``, as Elastic's Zeek integration."""
    related: list[str] = []
    for name, target in (("tx_hosts", "server.ip"), ("rx_hosts", "client.ip")):
        hosts = native.get(name)
        if isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts):
            ev.setdefault(target, hosts[0])
            related.extend(h for h in hosts if h not in related)
    if related:
        ev["related.ip"] = related


def _outcome(ev: Event, log: str, native: Mapping[str, Any]) -> None:
    flag = native.get("auth_success" if log == "ssh" else "success")
    if log in ("ssh", "kerberos", "ntlm") and isinstance(flag, bool):
        ev["event.outcome"] = "success" if flag else "failure"


# --- TSV ---------------------------------------------------------------------------------------

def _int(text: str) -> Any:
    return int(text) if text.lstrip("-").isdecimal() and len(text) <= 20 else text


def _float(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _bool(text: str) -> Any:
    return {"T": True, "F": False}.get(text, text)


_SCALARS: Mapping[str, Callable[[str], Any]] = {
    "count": _int, "int": _int, "port": _int, "time": _float, "interval": _float,
    "double": _float, "bool": _bool,
}


class Layout:
    """The header of one TSV stream: separators, the log's name, its columns and their types."""

    __slots__ = ("empty", "fields", "path", "separator", "set_separator", "types", "unset")

    def __init__(self) -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path = ""
        self.fields: tuple[str, ...] = ()
        self.types: tuple[str, ...] = ()

    def directive(self, text: str) -> None:
        """One ``#`` line; :class:`ParseError` for a header Zeek does not write."""
        if text.startswith("#separator"):
            value = text[len("#separator"):].strip()
            self.separator = _unescape(value) if value else "\t"
            return
        key, _, value = text[1:].partition(self.separator)
        if key == "set_separator":
            self.set_separator = _unescape(value) or ","
        elif key == "empty_field":
            self.empty = value
        elif key == "unset_field":
            self.unset = value
        elif key == "path":
            self.path = value
        elif key == "fields":
            fields = tuple(value.split(self.separator))
            if not all(_FIELD.fullmatch(name) for name in fields):
                raise ParseError("#fields header with a name that is no Zeek field name")
            self.fields = fields
            self.types = ()
        elif key == "types":
            self.types = tuple(value.split(self.separator))
        elif key not in ("open", "close"):
            raise ParseError(f"not a Zeek header line: #{key[:30]}")

    def record(self, values: list[str]) -> dict[str, Any]:
        """A data line's values → Zeek field → typed value (unset fields left out)."""
        native: dict[str, Any] = {}
        types = self.types if len(self.types) == len(self.fields) else ("",) * len(self.fields)
        for name, kind, text in zip(self.fields, types, values, strict=True):
            if text == self.unset:
                continue
            native[name] = self._value(kind, text)
        return native

    def _value(self, kind: str, text: str) -> Any:
        if kind.startswith(("set[", "vector[", "table[")):
            if text == self.empty:
                return []
            inner = _SCALARS.get(kind[kind.index("[") + 1:-1])
            items = text.split(self.set_separator)
            return [inner(i) for i in items] if inner else items
        if text == self.empty:
            return ""
        convert = _SCALARS.get(kind)
        return convert(text) if convert else text


def _unescape(text: str) -> str:
    """``\\x09`` → a tab: how Zeek writes its separators in the header."""
    if text.startswith("\\x") and len(text) == 4:
        try:
            return chr(int(text[2:], 16))
        except ValueError:
            return text
    return text


def _defaults(spec: str) -> Layout:
    layout = Layout()
    pairs = [item.split(":") for item in spec.split()]
    layout.fields = tuple(p[0] for p in pairs)
    layout.types = tuple(p[1] for p in pairs)
    return layout


_ID = "uid:string id.orig_h:addr id.orig_p:port id.resp_h:addr id.resp_p:port"
_DEFAULTS = {
    "conn": f"ts:time {_ID} proto:enum service:string duration:interval orig_bytes:count "
            "resp_bytes:count conn_state:string local_orig:bool local_resp:bool "
            "missed_bytes:count history:string orig_pkts:count orig_ip_bytes:count "
            "resp_pkts:count resp_ip_bytes:count tunnel_parents:set[string]",
    "dns": f"ts:time {_ID} proto:enum trans_id:count rtt:interval query:string qclass:count "
           "qclass_name:string qtype:count qtype_name:string rcode:count rcode_name:string "
           "AA:bool TC:bool RD:bool RA:bool Z:count answers:vector[string] "
           "TTLs:vector[interval] rejected:bool",
    "http": f"ts:time {_ID} trans_depth:count method:string host:string uri:string "
            "referrer:string version:string user_agent:string origin:string "
            "request_body_len:count response_body_len:count status_code:count "
            "status_msg:string info_code:count info_msg:string tags:set[enum] "
            "username:string password:string proxied:set[string] orig_fuids:vector[string] "
            "orig_filenames:vector[string] orig_mime_types:vector[string] "
            "resp_fuids:vector[string] resp_filenames:vector[string] "
            "resp_mime_types:vector[string]",
    "ssl": f"ts:time {_ID} version:string cipher:string curve:string server_name:string "
           "resumed:bool last_alert:string next_protocol:string established:bool "
           "ssl_history:string cert_chain_fps:vector[string] "
           "client_cert_chain_fps:vector[string] sni_matches_cert:bool",
    "kerberos": f"ts:time {_ID} request_type:string client:string service:string "
                "success:bool error_msg:string from:time till:time cipher:string "
                "forwardable:bool renewable:bool client_cert_subject:string "
                "client_cert_fuid:string server_cert_subject:string server_cert_fuid:string",
    "weird": f"ts:time {_ID} name:string addl:string notice:bool peer:string source:string",
}
FALLBACKS: Mapping[int, tuple[str, Layout]] = {
    len(layout.fields): (log, layout)
    for log, layout in ((log, _defaults(spec)) for log, spec in _DEFAULTS.items())}
"""Zeek 6's default columns of the common logs, by column count: the layout of a data line met
before any ``#fields`` of its stream (a pass that resumed in the middle of a file)."""


class ZeekParser:
    """Zeek TSV logs → ``zeek.<log>`` (JSON logs go through the JSON lines parser)."""

    name: ClassVar[str] = "zeek"
    priority: ClassVar[int] = 25  # after syslog: its sniff never runs on syslog lines

    def __init__(self) -> None:
        self._layouts: dict[str, Layout] = {}

    def sniff(self, text: str) -> bool:
        """A Zeek header line, or epoch seconds with a fraction then a tab."""
        if text[:1] == "#":
            return text.startswith(("#separator", "#fields", "#path", "#types"))
        return text[10:11] == "." and text[:10].isdecimal() and "\t" in text[11:30]

    def parse(self, text: str, ctx: ParseContext) -> Event:
        """One line → event; :class:`ZeekDirective` for header lines, :class:`ParseError` for
        lines that fit no header."""
        text = text.rstrip("\r\n")
        if text[:1] == "#":
            self._layout(ctx.key).directive(text)
            raise ZeekDirective("Zeek header line (not an event)")
        layout = self._layouts.get(ctx.key)
        values = text.split(layout.separator if layout else "\t")
        log = layout.path if layout else ""
        if layout is None or len(layout.fields) != len(values):
            fallback = FALLBACKS.get(len(values))
            if fallback is None:
                raise ParseError(f"{len(values)} columns fit no #fields header of this stream")
            log, layout = fallback
        native = layout.record(values)
        ts = native.get("ts")
        if not isinstance(ts, float):
            raise ParseError("Zeek line without its ts (epoch seconds)")
        return zeek_event(log or "log", native, to_timestamp(ts, ctx.tz))

    def _layout(self, key: str) -> Layout:
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= MAX_SOURCES:
                del self._layouts[next(iter(self._layouts))]
            layout = self._layouts[key] = Layout()
        return layout


# --- JSON --------------------------------------------------------------------------------------

_SCOPED = ("certificate_", "san_", "basic_constraints_", "times_", "remote_location_")
_IDS = {"id_orig_h": "id.orig_h", "id_orig_p": "id.orig_p", "id_resp_h": "id.resp_h",
        "id_resp_p": "id.resp_p"}
_GUESS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("conn", ("conn_state",)), ("dns", ("qtype_name",)), ("dns", ("trans_id", "query")),
    ("http", ("trans_depth",)), ("http", ("method", "uri")), ("ssl", ("ssl_history",)),
    ("ssl", ("server_name", "cipher")), ("x509", ("certificate.serial",)),
    ("smb_mapping", ("share_type",)), ("smb_files", ("action", "path", "name")),
    ("dce_rpc", ("endpoint", "operation")), ("kerberos", ("request_type",)),
    ("ntlm", ("server_nb_computer_name",)), ("ntlm", ("domainname", "hostname")),
    ("rdp", ("security_protocol",)), ("rdp", ("cookie", "result")), ("ssh", ("auth_success",)),
    ("ssh", ("host_key_alg",)), ("notice", ("note",)), ("weird", ("addl",)),
    ("weird", ("name", "peer")), ("files", ("fuid", "seen_bytes")),
    ("files", ("fuid", "analyzers")), ("dhcp", ("assigned_addr",)), ("dhcp", ("lease_time",)),
)
"""Logs told by their fields when a JSON record does not name its log (first match wins)."""


def detect(ev: Event) -> str | None:
    """``zeek.<log>`` for a Zeek JSON record, else None."""
    path = ev.get("_path") or (ev.get("@stream") if ev.get("@proc") == "zeek" else None)
    if "uid" in ev and ("id.orig_h" in ev or "id_orig_h" in ev):
        return f"zeek.{_log(ev, path)}"
    if isinstance(path, str) and "ts" in ev:
        return f"zeek.{_log(ev, path)}"
    if "ts" in ev and ("certificate.serial" in ev or "certificate_serial" in ev):
        return "zeek.x509"
    return None


def _log(ev: Event, path: object) -> str:
    if isinstance(path, str) and path.isidentifier():
        return path
    names = {_scoped(k) for k in ev}
    for log, keys in _GUESS:
        if all(k in names for k in keys):
            return log
    return "log"


def _scoped(key: str) -> str:
    """``id_orig_h`` → ``id.orig_h``, ``certificate_serial`` → ``certificate.serial``: Zeek's names
    of a record written with ``Log::default_scope_sep = "_"``."""
    dotted = _IDS.get(key)
    if dotted is not None:
        return dotted
    if key.startswith(_SCOPED):
        for prefix in _SCOPED:
            if key.startswith(prefix):
                return prefix[:-1] + "." + key[len(prefix):]
    return key


_SHIPPER = frozenset({"_path", "_write_ts", "_system_name", "@stream", "@system", "@proc",
                      "@timestamp", "event.dataset", "event.module"})


def refine(ev: Event, ctx: ParseContext) -> None:
    """A Zeek JSON record (flattened by the JSON lines parser) → the Zeek event, in place."""
    log = str(ev["event.dataset"]).removeprefix("zeek.")
    native = {_scoped(k): v for k, v in ev.items() if k not in _SHIPPER}
    built = zeek_event(log, native, ev["@timestamp"])
    for key in ("_system_name", "@system"):
        if isinstance(ev.get(key), str):
            built["observer.hostname"] = ev[key]
    ev.clear()
    ev.update(built)
