"""Zeek logs, TSV and JSON, and SigmaHQ's product: zeek rules on them. Lines written here from
Zeek's log documentation (the columns and types of its base scripts' logs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.zeek import ZeekDirective, ZeekParser
from soc import registry
from soc.detection.engine import Engine
from soc.ecs import Event
from soc.errors import ParseError
from soc.pipeline.parsing import AutoParser
from soc.pipeline.sources import ParseContext

CTX = ParseContext(tz=ZoneInfo("Asia/Ho_Chi_Minh"), now=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
                   source="sensor", stream="/var/log/zeek/current/dns.log")

DNS_HEADER = (
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tdns",
    "#open\t2026-11-24-08-00-00",
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\t"
    "qclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\t"
    "rejected",
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\t"
    "count\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\t"
    "vector[interval]\tbool",
)
DNS_LINE = ("1795482900.125000\tCq1LcB3xXhBv9aQw5\t10.20.0.7\t53124\t10.20.0.2\t53\tudp\t4711\t"
            "0.003\tpool.supportxmr.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t"
            "198.51.100.7,198.51.100.8\t60.0,60.0\tF")
DNS_Z_SET = DNS_LINE.replace("\t0\t198.51", "\t1\t198.51").replace("pool.supportxmr.com",
                                                                     "x1.updates-cdn.example")
SMB_FILES_HEADER = (
    "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
    "#path\tsmb_files",
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tfuid\taction\tpath\tname\tsize"
    "\tprev_name\ttimes.modified\ttimes.accessed\ttimes.created\ttimes.changed",
    "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tenum\tstring\tstring\tcount\tstring\t"
    "time\ttime\ttime\ttime",
)
SMB_PSEXEC = ("1795482960.500000\tCz7Hq2fYb0Lk1mPx8\t10.20.0.7\t50211\t10.20.0.10\t445\t-\t"
              "SMB::FILE_OPEN\t\\\\DC01\\IPC$\tcsexec-ws07-4242-stdin\t0\t-\t-\t-\t-\t-")
DCE_RPC_JSON = ('{"ts":1795483000.25,"uid":"CbT9s81mWq0xYz2Ab","id.orig_h":"10.20.0.7",'
                '"id.orig_p":50333,"id.resp_h":"10.20.0.10","id.resp_p":445,"rtt":0.0021,'
                '"named_pipe":"\\\\pipe\\\\spoolss","endpoint":"spoolss",'
                '"operation":"RpcAddPrintProcessor"}')
KERBEROS_SCOPED_JSON = ('{"_path":"kerberos","_system_name":"sensor-01","ts":"2026-11-24T01:17:00'
                        '.000Z","uid":"CkR4m1","id_orig_h":"10.20.0.7","id_orig_p":50400,'
                        '"id_resp_h":"10.20.0.10","id_resp_p":88,"request_type":"TGS",'
                        '"client":"nam/SOTTTT.GOV.VN","service":"MSSQLSvc/db01.sotttt.gov.vn:1433",'
                        '"success":true,"cipher":"rc4-hmac","forwardable":true}')
X509_JSON = ('{"ts":1795483100.0,"fingerprint":"a1b2c3","certificate.version":3,'
             '"certificate.serial":"8BB00EE","certificate.subject":"CN=Major Cobalt Strike",'
             '"certificate.issuer":"CN=Major Cobalt Strike","san.dns":["example.com"]}')


def parse_stream(lines: list[str], ctx: ParseContext = CTX) -> list[Event]:
    """Lines through auto-detection over every registered parser; header lines give no event."""
    auto = AutoParser(list(registry.parsers().values()))
    events = []
    for line in lines:
        try:
            events.append(auto.parse(line, ctx))
        except ZeekDirective:
            continue
    return events


def test_tsv_header_gives_types_and_native_names() -> None:
    [ev] = parse_stream([*DNS_HEADER, DNS_LINE])
    assert ev["event.dataset"] == "zeek.dns" and ev["event.module"] == "zeek"
    assert ev["@timestamp"] == "2026-11-24T01:15:00.125Z"
    assert ev["zeek.dns.query"] == "pool.supportxmr.com"
    assert ev["zeek.dns.id.resp_p"] == 53 and ev["zeek.dns.Z"] == 0
    assert ev["zeek.dns.RD"] is True and ev["zeek.dns.rejected"] is False
    assert ev["zeek.dns.answers"] == ["198.51.100.7", "198.51.100.8"]
    assert ev["zeek.dns.TTLs"] == [60.0, 60.0]
    assert "zeek.dns.rtt" in ev and "zeek.dns.ts" in ev
    assert {k: ev[k] for k in ("source.ip", "source.port", "destination.ip", "destination.port",
                               "network.transport", "dns.question.name", "dns.question.type",
                               "dns.response_code", "zeek.session_id")} == {
        "source.ip": "10.20.0.7", "source.port": 53124, "destination.ip": "10.20.0.2",
        "destination.port": 53, "network.transport": "udp",
        "dns.question.name": "pool.supportxmr.com", "dns.question.type": "A",
        "dns.response_code": "NOERROR", "zeek.session_id": "Cq1LcB3xXhBv9aQw5"}


def test_unset_and_empty_fields() -> None:
    line = DNS_LINE.replace("\t0.003\t", "\t-\t").replace("198.51.100.7,198.51.100.8", "(empty)")
    [ev] = parse_stream([*DNS_HEADER, line])
    assert "zeek.dns.rtt" not in ev
    assert ev["zeek.dns.answers"] == [] and "dns.answers.data" not in ev


@pytest.mark.parametrize("line", DNS_HEADER)
def test_header_lines_are_directives(line: str) -> None:
    with pytest.raises(ZeekDirective):
        ZeekParser().parse(line, CTX)


def test_header_per_stream() -> None:
    """Two files interleaved: each line takes its own file's #fields."""
    other = ParseContext(tz=CTX.tz, now=CTX.now, source="sensor", stream="smb_files.log")
    parser = ZeekParser()
    for line in DNS_HEADER:
        with pytest.raises(ZeekDirective):
            parser.parse(line, CTX)
    for line in SMB_FILES_HEADER:
        with pytest.raises(ZeekDirective):
            parser.parse(line, other)
    assert parser.parse(SMB_PSEXEC, other)["event.dataset"] == "zeek.smb_files"
    assert parser.parse(DNS_LINE, CTX)["event.dataset"] == "zeek.dns"


def test_line_before_its_header_takes_zeek_defaults() -> None:
    """A pass that resumed mid-file: the default dns columns of Zeek fit 24 values."""
    ev = ZeekParser().parse(DNS_LINE, CTX)
    assert ev["event.dataset"] == "zeek.dns" and ev["zeek.dns.query"] == "pool.supportxmr.com"


@pytest.mark.parametrize(("line", "reason"), [
    ("1795482900.125000\tCq1\t10.20.0.7", "3 columns fit no #fields header"),
    ("#frobnicate\tx", "not a Zeek header line"),
    ("\t".join(["x"] * 24), "without its ts"),
    ("\t".join(["nan"] + ["x"] * 23), "epoch timestamp out of range"),
])
def test_bad_lines(line: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        ZeekParser().parse(line, CTX)


def test_truncated_line_after_header_is_a_dead_letter() -> None:
    parser = ZeekParser()
    for line in DNS_HEADER:
        with pytest.raises(ZeekDirective):
            parser.parse(line, CTX)
    with pytest.raises(ParseError, match="columns fit no"):
        parser.parse(DNS_LINE.rsplit("\t", 5)[0], CTX)


def test_sniff_is_cheap_and_exact() -> None:
    parser = ZeekParser()
    assert parser.sniff(DNS_LINE) and parser.sniff(DNS_HEADER[0]) and parser.sniff(DNS_HEADER[6])
    assert not parser.sniff("<13>Nov 24 08:15:00 host sshd[1]: x")
    assert not parser.sniff("#Fields: date time s-ip")  # IIS's W3C header


@pytest.mark.parametrize(("line", "dataset", "fields"), [
    (DCE_RPC_JSON, "zeek.dce_rpc", {"zeek.dce_rpc.operation": "RpcAddPrintProcessor",
                                    "zeek.dce_rpc.endpoint": "spoolss", "source.ip": "10.20.0.7",
                                    "destination.port": 445,
                                    "event.action": "RpcAddPrintProcessor",
                                    "@timestamp": "2026-11-24T01:16:40.250Z"}),
    (KERBEROS_SCOPED_JSON, "zeek.kerberos", {"zeek.kerberos.id.orig_h": "10.20.0.7",
                                             "zeek.kerberos.cipher": "rc4-hmac",
                                             "user.name": "nam/SOTTTT.GOV.VN",
                                             "event.outcome": "success",
                                             "observer.hostname": "sensor-01",
                                             "@timestamp": "2026-11-24T01:17:00.000Z"}),
    (X509_JSON, "zeek.x509", {"zeek.x509.certificate.serial": "8BB00EE",
                              "x509.serial_number": "8BB00EE"}),
])
def test_json_records(line: str, dataset: str, fields: dict[str, object]) -> None:
    [ev] = parse_stream([line])
    assert ev["event.dataset"] == dataset
    assert {k: ev.get(k) for k in fields} == fields
    assert not [k for k in ev if k in ("uid", "_path", "query", "host", "id.orig_h")]


def test_files_hosts_of_old_zeek() -> None:
    """Zeek before 5 names a file's hosts, not its connection: server and client, as Elastic."""
    [ev] = parse_stream(['{"_path":"files","ts":1795483100.5,"fuid":"FSfS1","tx_hosts":'
                         '["10.20.0.10"],"rx_hosts":["10.20.0.7","10.20.0.8"],"source":"SMB",'
                         '"mime_type":"text/ini","filename":"gpt.ini","total_bytes":22}'])
    assert {k: ev.get(k) for k in ("event.dataset", "server.ip", "client.ip", "related.ip",
                                   "file.name", "file.size", "zeek.files.source")} == {
        "event.dataset": "zeek.files", "server.ip": "10.20.0.10", "client.ip": "10.20.0.7",
        "related.ip": ["10.20.0.10", "10.20.0.7", "10.20.0.8"], "file.name": "gpt.ini",
        "file.size": 22, "zeek.files.source": "SMB"}


def test_json_log_told_by_its_fields_and_reordered_keys() -> None:
    record = json.loads(DCE_RPC_JSON)
    reordered = json.dumps(dict(reversed(list(record.items()))))
    [a, b] = parse_stream([DCE_RPC_JSON, reordered])
    assert a == b


# --- SigmaHQ's rules on these lines ($SOC_CORPUS) ----------------------------------------------

ZEEK_RULES = "sigmahq/rules/network/zeek"


@pytest.mark.parametrize(("rule", "lines", "fires"), [
    ("zeek_dns_mining_pools.yml", [*DNS_HEADER, DNS_LINE], True),
    ("zeek_dns_susp_zbit_flag.yml", [*DNS_HEADER, DNS_Z_SET], True),
    ("zeek_dns_susp_zbit_flag.yml", [*DNS_HEADER, DNS_LINE], False),
    ("zeek_smb_converted_win_susp_psexec.yml", [*SMB_FILES_HEADER, SMB_PSEXEC], True),
    ("zeek_dce_rpc_mitre_bzar_persistence.yml", [DCE_RPC_JSON], True),
    ("zeek_susp_kerberos_rc4.yml", [KERBEROS_SCOPED_JSON], True),
    ("zeek_default_cobalt_strike_certificate.yml", [X509_JSON], True),
])
def test_sigmahq_zeek_rules(corpus: Path, rule: str, lines: list[str], fires: bool) -> None:
    engine = Engine.from_paths([corpus / ZEEK_RULES / rule], use_cache=False)
    assert not engine.errors
    hits = [h for ev in parse_stream(lines) for h in engine.match(ev)]
    assert bool(hits) is fires


def test_every_sigmahq_zeek_rule_is_usable(corpus: Path) -> None:
    engine = Engine.from_paths([corpus / ZEEK_RULES], use_cache=False)
    assert engine.errors == [] and len(engine.rules) >= 20


@pytest.mark.parametrize("names", ["ts\t\tquery", "ts\tid..orig_h", "ts\t \tx", "ts\t.a"])
def test_fields_header_with_no_field_name_is_refused(names: str) -> None:
    with pytest.raises(ParseError, match="no Zeek field name"):
        ZeekParser().parse(f"#fields\t{names}", CTX)
