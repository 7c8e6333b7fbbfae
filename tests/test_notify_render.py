"""The message templates of reports/notify/: every kind renders in every flavour, Vietnamese
first with English beside, and what came from a log line is escaped for each flavour."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soc.notify import escape
from soc.notify.model import DeliveryError, Message
from soc.notify.render import FLAVOURS, MAX_ITEMS, render
from soc.outbox import KINDS

CREATED = "2026-11-24T07:03:08.000Z"
HOSTILE = "<script>alert(1)</script> <!channel> <b>x</b>\x1b[2J\u202eevil\r\nline2"
ALERT = {"id": "3f2a9c", "rule_id": "ssh-brute", "rule_title": "SSH brute force",
         "severity": "critical", "status": "closed", "count": 120, "reason": "false positive",
         "assignee": "lan", "first_seen": "2026-11-24T07:00:00.000Z",
         "last_seen": "2026-11-24T07:03:00.000Z",
         "entity": {"user.name": HOSTILE, "source.ip": "198.51.100.7"},
         "event": {"user_agent.original": "x" * 1000}}
INCIDENT = {"id": "INC-2026-0007", "title": "Tấn công dò mật khẩu", "severity": "high",
            "classification": "serious", "status": "open", "opened": CREATED,
            "opened_by": "lan", "alerts": ["3f2a9c"], "outcome": "contained"}
DUTY = {"incident": "INC-2026-0007", "step": "notify-authority",
        "title": "Báo cáo ban đầu", "title_en": "Initial report",
        "kind": "report", "deadline": "2026-11-25T07:03:08.000Z", "left": "5h",
        "overdue": False, "rule": "detected + 24h", "report": "initial",
        "to": ["VNCERT/CC"], "role": "lead"}
CONTEXTS: dict[str, dict[str, Any]] = {
    "alert.new": {"alert": ALERT}, "alert.grown": {"alert": ALERT, "threshold": 100},
    "alert.ack": {"alert": ALERT, "actor": "lan"}, "alert.closed": {"alert": ALERT, "actor": "lan"},
    "incident.opened": {"incident": INCIDENT, "actor": "lan"},
    "incident.closed": {"incident": INCIDENT, "actor": "lan"},
    "incident.step_overdue": {"incident": INCIDENT, "duty": {**DUTY, "left": "-2h"}},
    "duty.reminder": {"incident": INCIDENT, "duty": DUTY},
    "duty.overdue": {"incident": INCIDENT, "duty": {**DUTY, "left": "-1h"}},
    "digest": {"route": "oncall", "count": 2,
               "window": {"from": "2026-11-24T07:00:00.000Z", "to": "2026-11-24T07:15:00.000Z"},
               "items": [{"kind": "alert.new", "severity": "high", "ts": CREATED,
                          "subject": "3f2a9c", "title": HOSTILE,
                          "link": "soc alerts show 3f2a9c"}] * 2},
    "escalation": {"alert": ALERT, "route": "oncall", "after": "30m"},
    "test": {"channel": "tele"},
}
SUBJECTS = {
    "alert.new": "[Nghiêm trọng/Critical] Cảnh báo mới / New alert: SSH brute force",
    "alert.grown": "[Nghiêm trọng/Critical] Cảnh báo tăng / Alert grew: SSH brute force "
                   "(120 sự kiện / events)",
    "alert.ack": "[Nghiêm trọng/Critical] Cảnh báo đã được tiếp nhận / Alert acknowledged: "
                 "SSH brute force",
    "alert.closed": "[Đã xử lý / Resolved] Cảnh báo đã đóng / Alert closed: SSH brute force",
    "incident.opened": "[Nghiêm trọng/Critical] Sự cố mới / Incident opened: Tấn công dò mật "
                       "khẩu",
    "incident.closed": "[Đã kết thúc / Closed] Sự cố đã kết thúc ứng phó / Incident closed: "
                       "Tấn công dò mật khẩu",
    "incident.step_overdue": "[Quá hạn / Overdue] Bước xử lý quá hạn / Step overdue: Báo cáo "
                             "ban đầu (INC-2026-0007)",
    "duty.reminder": "[Nhắc hạn / Reminder] Còn 5h / 5h left: Báo cáo ban đầu (INC-2026-0007)",
    "duty.overdue": "[Quá hạn / Overdue] Quá hạn báo cáo / Report overdue: Báo cáo ban đầu "
                    "(INC-2026-0007)",
    "digest": "[Tổng hợp / Digest] 2 thông báo / notifications (oncall)",
    "escalation": "[Chuyển cấp / Escalation] Chưa được tiếp nhận sau 30m / Not acknowledged "
                  "after 30m: SSH brute force",
    "test": "[Thử / Test] Tin nhắn thử từ soc / Test message from soc",
}


def message(kind: str, **extra: Any) -> Message:
    return Message(key=f"{kind}:k", kind=kind, severity="critical", created=CREATED,
                   context={**CONTEXTS[kind], "link": "soc alerts show 3f2a9c", **extra})


def test_every_kind_of_the_outbox_has_a_template() -> None:
    assert set(CONTEXTS) == set(KINDS) | {"digest", "escalation", "test"}


@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_subject_is_vietnamese_first_with_english_beside(kind: str) -> None:
    r = render(message(kind), flavour="html")
    assert r.subject == SUBJECTS[kind]
    assert "soc alerts show 3f2a9c" in r.text and "soc alerts show 3f2a9c" in (r.html or "")
    assert r.html and r.html.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("kind", sorted(CONTEXTS))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_hostile_values_arrive_escaped_in_every_flavour(kind: str, flavour: str) -> None:
    r = render(message(kind), flavour=flavour)
    shown = [r.text, r.html or "", r.markup or ""]
    for out in shown:
        assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
        assert "x" * 301 not in out  # long values are cut
    if flavour == "html":
        assert "<script>" not in (r.html or "") and "<b>x" not in (r.html or "")
    if flavour in ("telegram", "slack"):
        assert "<script>" not in (r.markup or "") and "<!channel>" not in (r.markup or "")
    if flavour in ("mattermost", "teams"):
        assert "<script>" not in (r.markup or "")
    if flavour == "cef":
        assert r.markup and r.markup.startswith("CEF:0|soc|soc|") and "\n" not in r.markup


def test_a_value_cannot_start_a_line_of_its_own() -> None:
    r = render(message("alert.new"), flavour="text")
    assert "\nline2" not in r.text and "evil line2" in r.text


def test_telegram_markup_shows_tags_as_text() -> None:
    r = render(message("alert.new"), flavour="telegram")
    assert r.markup and "&lt;script&gt;alert(1)&lt;/script&gt; &lt;!channel&gt;" in r.markup
    assert r.markup.count("<") == 2  # only the subject's <b></b>


def test_times_in_vietnam_time_and_age_and_console_link() -> None:
    r = render(message("alert.new", age="2h5m", url="https://soc.example.vn/alerts/3f2a9c"),
               flavour="html")
    assert "Lần đầu / First seen: 14:00 24/11/2026 (UTC+07:00)" in r.text
    assert "Gửi trễ / Delayed: 2h5m" in r.text
    assert "Bảng điều khiển / Console: https://soc.example.vn/alerts/3f2a9c" in r.text
    assert '<a href="https://soc.example.vn/alerts/3f2a9c">' in (r.html or "")


def test_digest_lists_at_most_max_items() -> None:
    items = [dict(CONTEXTS["digest"]["items"][0], title=f"rule {i}") for i in range(40)]
    r = render(message("digest", items=items, count=40), flavour="text")
    assert "rule 29" in r.text and "rule 30" not in r.text
    assert f"và {40 - MAX_ITEMS} thông báo khác / and {40 - MAX_ITEMS} more" in r.text


def test_missing_template_is_a_permanent_delivery_error(tmp_path: Path) -> None:
    bad = Message(key="k", kind="nosuch", severity="", created=CREATED, context={})
    with pytest.raises(DeliveryError) as err:
        render(bad, flavour="text")
    assert err.value.retryable is False and "nosuch.txt.j2" in str(err.value)


def test_a_configured_folder_overrides_a_template(tmp_path: Path) -> None:
    (tmp_path / "test.txt.j2").write_text("Thử {{ channel }}\nbody {{ channel }}\n")
    r = render(message("test", channel="<x>\x1b[1m"), flavour="telegram", templates=tmp_path)
    assert r.subject == "Thử <x>" and r.markup == "<b>Thử &lt;x&gt;</b>\n\nbody &lt;x&gt;\n"


def test_escape_helpers() -> None:
    assert escape.clean("a\x1b]0;title\x07b\u2066c\x00d") == "abcd"
    assert escape.slack("<@U123> @channel & <http://x|y>") == \
        "&lt;@\u2060U123&gt; @\u2060channel &amp; &lt;http://x|y&gt;"
    assert escape.cef_header("a|b\\c") == "a\\|b\\\\c"
    assert escape.cef_value("k=v\nx\\") == "k\\=v\\nx\\\\"
