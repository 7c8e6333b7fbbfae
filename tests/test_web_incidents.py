"""Incidents in the console over the real app (Starlette's TestClient) and a real SQLite store
in tmp_path: opening an incident from an alert, working its steps and decisions, notes, alerts,
evidence upload and download (hash, place on disk, audit), closing; the due list in the
configured zone; the JSON API; and the refusals: viewers, read-only mode, hostile file names,
oversize uploads, markup in notes and names."""

from __future__ import annotations

import hashlib
import re
import shutil
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.alerts import AlertSink, Finding
from soc.config import Config, parse_config
from soc.ecs import format_ts
from soc.models import Severity
from soc.response import incidents as lib
from soc.stores.sqlite import SQLiteStore
from soc.web.accounts import Accounts
from soc.web.app import create_app
from soc.web.evidence import safe_name
from tests.web_helpers import Clock, csrf_of, password

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RULE = "44444444-4444-4444-8444-444444444444"
USERS = {"viewer1": "viewer", "analyst1": "analyst", "lead1": "lead"}
LIMIT = 4096  # incidents.max_upload of the tests
XSS = "<script>alert(1)</script>"
XSS_NAME = "<img src=x onerror=alert(1)>.txt"




def finding(eid: str, minutes: int, ip: str) -> Finding:
    ts = format_ts(T0 + timedelta(minutes=minutes))
    entity = {"host.name": "web01", "source.ip": ip, "labels.system": "portal",
              "organization.id": "vp"}
    return Finding(rule_id=RULE, title="SSH brute force", level=Severity.HIGH,
                   tags=("attack.t1110.001",), ts=ts, anchor=ts, group=dict(entity),
                   entity=entity, triggers=((eid, ts),), event={"event.id": eid})


def make_config(data: Path) -> Config:
    return parse_config({
        "data_dir": str(data), "timezone": "Asia/Ho_Chi_Minh",
        "inventory": {"units": [{"id": "vp", "name": "VP", "contacts": [
            {"role": "owner", "email": "owner@example.gov.vn"}]}],
            "systems": [{"id": "portal", "name": "Cổng", "unit": "vp", "security_level": 3,
                         "hosts": ["web01"]}]},
        "incidents": {"max_upload": LIMIT}}, None, data.parent)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, str]]:
    """Three alerts, the three users and an API token each (argon2 is slow on purpose: one
    seeding per module, each test works on its own copy)."""
    data = tmp_path_factory.mktemp("seeded") / "data"
    data.mkdir()
    with SQLiteStore.open_path(data / "store.db") as store:
        store.write_events([{"@timestamp": format_ts(T0 + timedelta(minutes=i)),
                             "event.id": f"e{i}", "event.dataset": "linux.auth",
                             "host.name": "web01"} for i in range(3)])
        ids = [a.id for i in range(3) for a in AlertSink(store).raise_alerts(
            [finding(f"e{i}", i, f"203.0.113.{10 + i}")]).new]
        accounts = Accounts(store, data_dir=data)
        tokens = {}
        for name, role in USERS.items():
            accounts.add(name, role, password(name), "admin")
            tokens[name] = accounts.issue_token(name, "tests", "admin")
    return data, ids, tokens


@dataclass
class Site:
    config: Config
    clock: Clock
    alerts: list[str]
    tokens: dict[str, str]

    def client(self, **options: Any) -> TestClient:
        app = create_app(self.config, clock=self.clock, **options)
        return TestClient(app, follow_redirects=False)

    def store(self) -> SQLiteStore:
        return SQLiteStore.open_path(self.config.data_dir / "store.db")

    def incident(self, incident_id: str) -> lib.Incident:
        with self.store() as store:
            return lib.get(store, incident_id)

    def audit(self, subject: str) -> list[Any]:
        with self.store() as store:
            return store.audit_trail(subject)

    def evidence_dir(self, incident_id: str) -> Path:
        return self.config.data_dir / "evidence" / incident_id

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
def site(tmp_path: Path, seeded: tuple[Path, list[str], dict[str, str]]) -> Site:
    data = tmp_path / "data"
    shutil.copytree(seeded[0], data)
    return Site(make_config(data), Clock(T0 + timedelta(hours=1)), list(seeded[1]),
                dict(seeded[2]))



def logged_in(site: Site, name: str, **options: Any) -> tuple[TestClient, str]:
    """A client with ``name``'s session, and the session's CSRF token."""
    client = site.client(**options)
    page = client.get("/login")
    answer = client.post("/login", data={"username": name, "password": password(name),
                                         "csrf": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    return client, csrf_of(client.get("/incidents").text)


def multipart(filename: str, content: bytes, **fields: str) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body built by hand, so that any file name (NUL, backslashes,
    quotes) reaches the server exactly as a hostile client would send it."""
    boundary = "soc-test-boundary-7f3a"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
    body = b"".join(parts) + head + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def open_via_api(site: Site, alert: str, **extra: Any) -> str:
    """An incident opened through the API as analyst1, T0 given (deadlines count from it)."""
    with site.client() as client:
        answer = client.post("/api/incidents", headers=site.bearer("analyst1"), json={
            "alerts": [alert], "playbook": "brute-force", "t0": format_ts(T0), **extra})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def upload(client: TestClient, incident_id: str, filename: str, content: bytes,
           csrf: str, **fields: str) -> Any:
    body, headers = multipart(filename, content, csrf=csrf, **fields)
    return client.post(f"/incidents/{incident_id}/evidence", content=body, headers=headers)


# --- the analyst's flow ---------------------------------------------------------------------


def test_analyst_opens_an_incident_from_the_alert_page_and_works_it(site: Site) -> None:
    client, csrf = logged_in(site, "analyst1")
    alert = site.alerts[0]
    page = client.get(f"/alerts/{alert}").text
    assert 'action="/incidents"' in page and f'name="alerts" value="{alert}"' in page

    opened = client.post("/incidents", data={"alerts": alert, "playbook": "brute-force",
                                             "csrf": csrf})
    assert opened.status_code == 303
    incident_id = opened.headers["location"].rsplit("/", 1)[-1]
    assert re.fullmatch(r"SC-\d{4}-0001", incident_id)
    assert f'href="/incidents/{incident_id}"' in client.get(f"/alerts/{alert}").text

    base = f"/incidents/{incident_id}"
    done = client.post(f"{base}/steps/xac_nhan_canh_bao", data={"state": "done", "csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"{base}#steps"
    answered = client.post(f"{base}/steps/danh_gia_muc_do",
                           data={"answer": "serious", "csrf": csrf})
    assert answered.status_code == 303
    skipped = client.post(f"{base}/steps/tra_cuu_nguon",
                          data={"state": "skipped", "reason": "seen in the firewall already",
                                "csrf": csrf})
    assert skipped.status_code == 303
    assigned = client.post(f"{base}/steps/chan_ip_nguon",
                           data={"assignee": "lead1", "csrf": csrf})
    assert assigned.status_code == 303
    noted = client.post(f"{base}/note", data={"text": "called the owner", "step": "",
                                              "csrf": csrf})
    assert noted.status_code == 303 and noted.headers["location"] == f"{base}#timeline"
    added = client.post(f"{base}/alerts", data={"alerts": site.alerts[1], "csrf": csrf})
    assert added.status_code == 303

    inc = site.incident(incident_id)
    assert inc.opened_by == "analyst1" and inc.playbook == "brute-force"
    assert inc.step("xac_nhan_canh_bao").state.value == "done"
    decision = inc.step("danh_gia_muc_do")
    assert (decision.answer, decision.state.value, inc.classification) == (
        "serious", "done", "serious")
    assert (inc.step("tra_cuu_nguon").state.value, inc.step("tra_cuu_nguon").reason) == (
        "skipped", "seen in the firewall already")
    assert inc.step("chan_ip_nguon").assignee == "lead1"
    assert [(e.actor, e.text) for e in inc.timeline if e.kind == "note"] == [
        ("analyst1", "called the owner")]
    assert inc.alerts == (alert, site.alerts[1])
    trail = site.audit(incident_id)
    assert [e.action for e in trail] == ["incident.open", "incident.step", "incident.step",
                                         "incident.step", "incident.step", "incident.note",
                                         "incident.add-alerts"]
    assert {e.actor for e in trail} == {"analyst1"}

    page = client.get(base).text
    assert "SSH brute force" in page and f'href="/alerts/{site.alerts[1]}"' in page
    assert "called the owner" in page and "seen in the firewall already" in page
    assert f'action="{base}/steps/xac_nhan_canh_bao"' in page
    assert "--run" in page  # running a step's questions or action: the CLI, and it says so


def test_a_step_change_that_changes_nothing_or_misses_its_reason_is_refused(
        site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    client, csrf = logged_in(site, "analyst1")
    base = f"/incidents/{incident_id}/steps/xac_nhan_canh_bao"
    assert client.post(base, data={"csrf": csrf}).status_code == 400
    blocked = client.post(base, data={"state": "blocked", "csrf": csrf})
    assert blocked.status_code == 400 and "reason is needed" in blocked.text
    assert client.post(base, data={"state": "exploded", "csrf": csrf}).status_code == 400
    wrong = client.post(f"/incidents/{incident_id}/steps/danh_gia_muc_do",
                        data={"answer": "maybe", "csrf": csrf})
    assert wrong.status_code == 400 and "no answer" in wrong.text
    assert client.post(f"/incidents/{incident_id}/steps/no_such_step",
                       data={"state": "done", "csrf": csrf}).status_code == 404
    assert [e.action for e in site.audit(incident_id)] == ["incident.open"]


def test_without_a_playbook_the_suggested_one_is_followed_or_the_page_says_none_fits(
        site: Site) -> None:
    client, csrf = logged_in(site, "analyst1")
    opened = client.post("/incidents", data={"alerts": site.alerts[0], "csrf": csrf})
    assert opened.status_code == 303  # ATT&CK T1110.001 suggests the brute-force playbook
    assert site.incident(opened.headers["location"].rsplit("/", 1)[-1]).playbook == \
        "brute-force"
    with site.store() as store:
        alert = store.get_alert(site.alerts[1])
        assert alert is not None
        store.upsert_alerts([replace(alert, id="f" * 32, rule_id=RULE.replace("4", "5"),
                                     rule_title="odd", tags=(), entity={}, group={},
                                     event={})], {})
    refused = client.post("/incidents", data={"alerts": "f" * 32, "csrf": csrf})
    assert refused.status_code == 400 and "no playbook" in refused.text
    answer = client.post("/api/incidents", json={"alerts": ["f" * 32]},
                         headers=site.bearer("analyst1"))
    assert answer.status_code == 400 and "no playbook" in answer.json()["error"]


# --- evidence -------------------------------------------------------------------------------


def test_evidence_upload_is_hashed_stored_audited_and_downloaded(site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    client, csrf = logged_in(site, "analyst1")
    content = b"Nov 24 08:00:01 web01 sshd[42]: Failed password for root\n" * 50
    sent = upload(client, incident_id, "auth.log", content, csrf, step="thu_thap_nhat_ky",
                  note="from web01")
    assert sent.status_code == 303 and sent.headers["location"].endswith("#evidence")

    digest = hashlib.sha256(content).hexdigest()
    (item,) = site.incident(incident_id).evidence
    assert (item.name, item.sha256, item.size, item.by, item.step, item.note, item.source) == (
        "auth.log", digest, len(content), "analyst1", "thu_thap_nhat_ky", "from web01",
        "upload: auth.log")
    stored = site.evidence_dir(incident_id) / f"{digest[:12]}-auth.log"
    assert item.stored == str(stored) and stored.read_bytes() == content
    assert sorted(p.name for p in site.evidence_dir(incident_id).iterdir()) == [stored.name]
    assert list((site.config.data_dir / "evidence" / ".uploads").iterdir()) == []
    (entry,) = [e for e in site.audit(incident_id) if e.action == "incident.evidence"]
    assert entry.actor == "analyst1" and entry.details["after"]["sha256"] == digest

    assert digest in client.get(f"/incidents/{incident_id}").text
    back = client.get(f"/incidents/{incident_id}/evidence/1")
    assert back.status_code == 200 and back.content == content
    assert back.headers["content-disposition"] == 'attachment; filename="auth.log"'
    assert back.headers["x-content-type-options"] == "nosniff"
    assert back.headers["content-type"] == "application/octet-stream"
    assert back.headers["x-evidence-sha256"] == digest
    for missing in ("2", "0", "x"):
        assert client.get(f"/incidents/{incident_id}/evidence/{missing}").status_code == 404


@pytest.mark.parametrize(("raw", "kept"), [
    ("../../etc/passwd", "passwd"),
    ("..\\\\x", "x"),
    ("/etc/shadow", "shadow"),
    ("C:\\\\Windows\\\\evil.bat", "evil.bat"),
    ("a\x00b.txt", "a_b.txt"),
    ("..", "evidence"),
    ("report\u202egpj.exe", "report_gpj.exe"),
])
def test_hostile_names_are_stored_inside_the_incident_folder(site: Site, raw: str,
                                                             kept: str) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    client, csrf = logged_in(site, "analyst1")
    content = f"evidence sent as {raw!r}".encode()
    assert upload(client, incident_id, raw, content, csrf).status_code == 303
    digest = hashlib.sha256(content).hexdigest()
    folder = site.evidence_dir(incident_id)
    assert [p.name for p in folder.iterdir()] == [f"{digest[:12]}-{kept}"]
    assert (folder / f"{digest[:12]}-{kept}").read_bytes() == content
    assert site.incident(incident_id).evidence[0].name == kept
    back = client.get(f"/incidents/{incident_id}/evidence/1")
    assert back.status_code == 200 and back.content == content


def test_safe_name_keeps_only_a_plain_last_component() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\..\\boot.ini") == "boot.ini"
    assert safe_name(".bashrc") == "bashrc"
    assert safe_name("  .. ") == "evidence"
    assert safe_name('a<b>:c"d|e?f*g\th\n.txt') == "a_b__c_d_e_f_g_h_.txt"
    assert safe_name("Nhật ký truy cập.log") == "Nhật ký truy cập.log"
    long = safe_name("ả" * 300 + ".pcap")
    assert long.endswith(".pcap") and len(long.encode()) <= 200


def test_an_oversize_upload_is_refused_and_leaves_nothing_behind(site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    client, csrf = logged_in(site, "analyst1")
    refused = upload(client, incident_id, "big.pcap", b"x" * (LIMIT + 1), csrf)
    assert refused.status_code == 413
    assert not site.evidence_dir(incident_id).exists()
    assert list((site.config.data_dir / "evidence").rglob("*")) in (
        [], [site.config.data_dir / "evidence" / ".uploads"])
    assert site.incident(incident_id).evidence == ()
    assert [e.action for e in site.audit(incident_id)] == ["incident.open"]
    assert upload(client, incident_id, "fits.pcap", b"x" * LIMIT, csrf).status_code == 303


def test_a_record_pointing_outside_the_folder_is_not_served(site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    client, csrf = logged_in(site, "analyst1")
    assert upload(client, incident_id, "a.txt", b"a", csrf).status_code == 303
    with site.store() as store:
        doc = store.get_incident(incident_id)
        assert doc is not None
        outside = site.config.data_dir / "store.db"
        doc["evidence"][0]["stored"] = str(site.evidence_dir(incident_id) / ".." / ".." /
                                           "store.db")
        store.put_incident(incident_id, doc["opened"], doc["status"], doc)
    answer = client.get(f"/incidents/{incident_id}/evidence/1")
    assert answer.status_code == 404 and outside.read_bytes()[:6] not in answer.content


# --- refusals -------------------------------------------------------------------------------


def test_a_viewer_reads_but_every_change_is_refused(site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    client, csrf = logged_in(site, "viewer1")
    page = client.get(f"/incidents/{incident_id}")
    assert page.status_code == 200 and "xac_nhan_canh_bao" in page.text
    assert "<form method=\"post\" action=\"/incidents" not in page.text
    assert 'action="/incidents"' not in client.get(f"/alerts/{site.alerts[1]}").text
    base = f"/incidents/{incident_id}"
    forms = {"/incidents": {"alerts": site.alerts[1]}, f"{base}/alerts": {"alerts":
                                                                          site.alerts[1]},
             f"{base}/steps/xac_nhan_canh_bao": {"state": "done"},
             f"{base}/note": {"text": "x"}, f"{base}/close": {"outcome": "x"}}
    for path, fields in forms.items():
        assert client.post(path, data={**fields, "csrf": csrf}).status_code == 403, path
    assert upload(client, incident_id, "a.txt", b"a", csrf).status_code == 403
    api = {"/api/incidents": {"alerts": [site.alerts[1]], "playbook": "brute-force"},
           f"/api{base}/alerts": {"alerts": [site.alerts[1]]},
           f"/api{base}/step": {"step": "xac_nhan_canh_bao", "state": "done"},
           f"/api{base}/note": {"text": "x"}, f"/api{base}/close": {"outcome": "x"}}
    for path, body in api.items():
        answer = client.post(path, json=body, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 403, path
        assert client.post(path, json=body, headers=site.bearer("viewer1")).status_code == 403
    body, headers = multipart("a.txt", b"a")
    assert client.post(f"/api{base}/evidence", content=body,
                       headers={**headers, **site.bearer("viewer1")}).status_code == 403
    assert [e.action for e in site.audit(incident_id)] == ["incident.open"]
    assert not site.evidence_dir(incident_id).exists()
    with site.store() as store:
        assert len(store.list_incidents()) == 1


def test_a_read_only_console_shows_incidents_and_refuses_changes(site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    client, csrf = logged_in(site, "analyst1", read_only=True)
    page = client.get(f"/incidents/{incident_id}").text
    assert "xac_nhan_canh_bao" in page and f'action="/incidents/{incident_id}/' not in page
    base = f"/incidents/{incident_id}"
    assert client.post(f"{base}/steps/xac_nhan_canh_bao",
                       data={"state": "done", "csrf": csrf}).status_code == 409
    assert client.post(f"{base}/note", data={"text": "x", "csrf": csrf}).status_code == 409
    assert upload(client, incident_id, "a.txt", b"a", csrf).status_code == 409
    assert client.post("/incidents", data={"alerts": site.alerts[1], "csrf": csrf}
                       ).status_code == 409
    assert [e.action for e in site.audit(incident_id)] == ["incident.open"]
    assert not site.evidence_dir(incident_id).exists()


def test_markup_in_notes_and_file_names_is_shown_as_text(site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    client, csrf = logged_in(site, "analyst1")
    assert client.post(f"/incidents/{incident_id}/note",
                       data={"text": XSS, "csrf": csrf}).status_code == 303
    assert upload(client, incident_id, XSS_NAME, b"x", csrf, note=XSS).status_code == 303
    page = client.get(f"/incidents/{incident_id}").text
    assert XSS not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "upload: &lt;img src=x onerror=alert(1)&gt;.txt" in page
    assert site.incident(incident_id).evidence[0].name == "_img src=x onerror=alert(1)_.txt"


# --- due, in the configured zone ------------------------------------------------------------


def test_the_due_list_shows_deadlines_in_the_zone_and_marks_the_overdue(site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    site.clock.now = T0 + timedelta(minutes=30)
    client, _ = logged_in(site, "analyst1")
    page = client.get("/incidents").text
    # confirming the alert is due within 1h of T0 (08:00Z): 16:00 in Hà Nội
    row = re.search(r"<tr>\s*<td>2026-11-24 16:00:00</td>.*?</tr>", page, re.S)
    assert row and "xac_nhan_canh_bao" in row.group() and "30m" in row.group()
    assert 'class="overdue"' not in page

    site.clock.now = T0 + timedelta(hours=2)
    client, _ = logged_in(site, "analyst1")  # the session of 08:30 has been idle too long
    page = client.get("/incidents").text
    row = re.search(r'<tr class="overdue">\s*<td>2026-11-24 16:00:00</td>.*?</tr>', page, re.S)
    assert row and "xac_nhan_canh_bao" in row.group() and incident_id in row.group()
    assert 'id="step-xac_nhan_canh_bao" class="state-pending overdue"' in client.get(
        f"/incidents/{incident_id}").text

    due = client.get("/api/incidents/due", params={"at": "2026-11-24T08:30:00Z"}).json()
    first = due["due"][0]
    assert (first["incident"], first["step"], first["deadline"], first["left"],
            first["overdue"]) == (incident_id, "xac_nhan_canh_bao", "2026-11-24T09:00:00.000Z",
                                  "30m", False)
    later = client.get("/api/incidents/due").json()  # the console's clock: T0 + 2h
    assert later["at"] == "2026-11-24T10:00:00.000Z" and later["overdue"] >= 1


# --- the API --------------------------------------------------------------------------------


def test_the_api_works_an_incident_to_its_close(site: Site) -> None:
    incident_id = open_via_api(site, site.alerts[0])
    auth = site.bearer("analyst1")
    with site.client() as client:
        listed = client.get("/api/incidents", headers=auth).json()
        assert [i["id"] for i in listed["incidents"]] == [incident_id]
        assert listed["incidents"][0]["t0"] == "2026-11-24T08:00:00.000Z"
        base = f"/api/incidents/{incident_id}"
        assert client.post(f"{base}/note", headers=auth, json={"text": "n"}).status_code == 200
        answered = client.post(f"{base}/step", headers=auth,
                               json={"step": "danh_gia_muc_do", "answer": "ordinary"})
        assert answered.status_code == 200
        assert answered.json()["classification"] == "ordinary"
        content = b"pcap bytes"
        body, headers = multipart("capture.pcap", content, note="tcpdump")
        sent = client.post(f"{base}/evidence", content=body, headers={**headers, **auth})
        assert sent.status_code == 200
        assert sent.json()["sha256"] == hashlib.sha256(content).hexdigest()
        early = client.post(f"{base}/close", headers=auth, json={"outcome": "contained"})
        assert early.status_code == 400 and "open steps" in early.json()["error"]
        shown = client.get(base, headers=auth).json()
        assert [a["id"] for a in shown["alert_details"]] == [site.alerts[0]]
        for step in shown["steps"]:
            if step["state"] in ("pending", "in_progress") and step["spec"]["kind"] != "report":
                assert client.post(f"{base}/step", headers=auth, json={
                    "step": step["spec"]["id"], "state": "skipped",
                    "reason": "test"}).status_code == 200
        closed = client.post(f"{base}/close", headers=auth, json={"outcome": "contained"})
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        assert client.get("/api/incidents", headers=auth).json()["incidents"] == []
        assert [i["id"] for i in client.get("/api/incidents?status=closed", headers=auth)
                .json()["incidents"]] == [incident_id]
    assert {e.actor for e in site.audit(incident_id)} == {"analyst1"}


def test_api_bodies_naming_what_does_not_exist_are_refused_with_400(site: Site) -> None:
    auth = site.bearer("analyst1")
    with site.client() as client:
        for body in ({"alerts": ["nosuchalert"]}, {"alerts": [site.alerts[0]],
                                                  "playbook": "nope"},
                     {"alerts": []}, {"alerts": "x"}, {"alerts": [site.alerts[0]],
                                                        "flags": ["x"]}):
            answer = client.post("/api/incidents", headers=auth, json=body)
            assert answer.status_code == 400, (body, answer.text)
        assert client.post("/api/incidents/SC-1999-0001/note", headers=auth,
                           json={"text": "x"}).status_code == 404
        assert client.post("/api/incidents/SC-1999-0001/evidence", headers=auth,
                           json={}).status_code == 400
    with site.store() as store:
        assert store.list_incidents() == []
