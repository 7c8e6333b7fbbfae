"""Cisco IOS / IOS XE / IOS XR system messages (``%FACILITY-SEVERITY-MNEMONIC: text``) that carry
an identity, an address or a command, keyed by ``FACILITY-MNEMONIC``.

Written from Cisco's "System Message Guide" entries of these messages, with Elastic's
``cisco_ios`` integration's names where it decodes them (``event.code`` is the mnemonic,
``cisco.ios.facility`` the facility, ``source.user.name`` the login's user). The logins
(``SEC_LOGIN``, ``SSH``, ``SYS-5-PRIV_AUTH_FAIL``), the configuration trail (``SYS-5-CONFIG_I``,
the ``archive log config`` lines ``PARSER-5-CFGLOG_LOGGEDCMD`` and EEM CLI-logging applets
``HA_EM-6-LOG``), ACL logging (``SEC-6-IPACCESSLOG*``) and MD5 neighbour authentication failures
are what SigmaHQ's ``product: cisco`` rules (services ``aaa``, ``bgp``, ``ldp``, ``syslog``) read.

A command the device logs (``CFGLOG_LOGGEDCMD``, or an EEM applet whose name says CLI) is an
event of category ``configuration`` with the command in ``cisco.ios.command_line_arguments``:
``rules/pipelines/cisco.yml`` gives exactly those events to the ``aaa`` rules.
"""

from __future__ import annotations

import re

from collectors.parsers.cisco_catalog import (
    AUTH_INFO,
    CONFIG,
    CONFIG_INFO,
    DENY,
    HOST_CHANGE,
    HOST_INFO,
    INFO,
    LOGIN,
    LOGIN_FAIL,
    SESSION_END,
    START,
    Kind,
    Message,
    msg,
    same,
)
from soc.ecs import Event

_LOGIN = (r"\[user: ?{user:[^\]]*}\] \[Source: ?{src:[^\]\s]+}\] \[localport: ?{dport}\]"
          r"(?: \[Reason: ?{reason:[^\]]*}\])?")
_ACL_SRC = r"{src}(?:\({sport}\))?(?: \((?:{src_if:\S+} )?{mac}?\))?"
_ACL = r"(?:access-)?list {acl} {verdict} "
_MD5 = r"(?:No|Invalid) MD5 digest from {src}[(:]{sport}\)? to {dst}[(:]{dport}"
_LINK_STATE = r"Interface {iface}, changed state to {state}\.? *$"

IOS: dict[str, Message] = {
    # logins to the device
    **same(("SEC_LOGIN-LOGIN_SUCCESS", "SEC_LOGIN-WEBLOGIN_SUCCESS"),
           msg(LOGIN, "logged-in", r"Login Success " + _LOGIN)),
    **same(("SEC_LOGIN-LOGIN_FAILED", "SEC_LOGIN-WEBLOGIN_FAILED"),
           msg(LOGIN_FAIL, "logon-failed", r"Login failed " + _LOGIN)),
    "SEC_LOGIN-QUIET_MODE_ON": msg(LOGIN_FAIL, "login-blocked",
                                   r"Still timeleft for watching failures is \d+ secs, " + _LOGIN),
    "SEC_LOGIN-QUIET_MODE_OFF": msg(AUTH_INFO, "login-unblocked"),
    "SYS-LOGOUT": msg(SESSION_END, "logged-out", r"User {user} has exited tty session \d+ ?"
                                                 r"\({src}\)"),
    "SYS-PRIV_AUTH_FAIL": msg(LOGIN_FAIL, "privilege-authentication-failed",
                              r"Authentication to Privil[ae]ge level \d+ failed by {user} on "
                              r"\S+?(?: \({src}\))?\.? *$"),
    "SSH-SSH2_USERAUTH": msg(AUTH_INFO, "ssh-user-authentication",
                             r"User '{user:[^']*}' authentication for SSH2 Session from {src} "
                             r"\(tty = \d+\).*? {verdict:Succeeded|Failed}"),
    "SSH-SSH2_SESSION": msg(START, "ssh-session-started",
                            r"SSH2 Session request from {src} \(tty = \d+\).*? "
                            r"{verdict:Succeeded|Failed}"),
    "SSH-SSH2_CLOSE": msg(SESSION_END, "ssh-session-ended",
                          r"SSH2 Session from {src} \(tty = \d+\) for user '{user:[^']*}'"),
    "SSH-SSH2_USERAUTH_FAIL": msg(LOGIN_FAIL, "logon-failed", r".*? from {src}"),
    "SNMP-AUTHFAIL": msg(LOGIN_FAIL, "snmp-authentication-failed",
                         r"Authentication failure for SNMP req(?:uest)? from host {src}",
                         const={"network.protocol": "snmp"}),
    "AAA-USER_LOCKED": msg(LOGIN_FAIL, "user-locked", r"User {user} locked out"),
    "AAA-USER_UNLOCKED": msg(Kind(("iam",), ("user", "change"), "success"), "user-unlocked",
                             r"User {user} unlocked"),
    "AAA-BADAUTHENLIST": msg(INFO, "aaa-configuration-error"),
    # the configuration trail
    "SYS-CONFIG_I": msg(CONFIG, "configuration",
                        r"Configured from {cfgsrc} by {user:\S+?}(?: on \S+ \({src}\))?\.? *$"),
    "SYS-CONFIG_P": msg(CONFIG, "configuration",
                        r"Configured programmatically by process .*? from \S+ as {user:\S+}"),
    "PARSER-CFGLOG_LOGGEDCMD": msg(CONFIG, "configuration",
                                   r"User: ?{user:[^@\s]+}(?:@{src})? +logged command: ?{cmd}"),
    "HA_EM-LOG": msg(INFO, "eem-log", r"{applet}: ?{applet_text}"),
    "SYS-RELOAD": msg(HOST_CHANGE, "reload", r"Reload requested by {user:\S+?}(?: on \S+ "
                                             r"\({src}\))?\. Reload Reason: {reason}"),
    "SYS-LOGGINGHOST_STARTSTOP": msg(CONFIG_INFO, "logging-host-changed",
                                     r"Logging to host {dst}(?: port {dport})? {state:started|"
                                     r"stopped}"),
    "WEBUI-INSTALL_OPERATION_INFO": msg(CONFIG, "software-install", r"User: {user:[^,]+}, "
                                                                    r"Install Operation"),
    # firewall (zone-based / CBAC)
    "FW-DROP_PKT": msg(DENY, "firewall-rule",
                       r"Dropping \w+ \w+ from {src_if:\S+} {src}:{sport} ?=> ?{dst}:{dport}"),
    "FW-SESS_AUDIT_TRAIL": msg(Kind(("network",), ("connection", "end")), "flow-expiration",
                               r".*?initiator \({src}:{sport}\) sent {bytes_in} bytes -- responder "
                               r"\({dst}:{dport}\) sent {bytes_out} bytes"),
    # routing protocol authentication
    **same(("TCP-BADAUTH", "IP-TCP-BADAUTH"), msg(LOGIN_FAIL, "md5-authentication-failed", _MD5)),
    "BGP-NOTIFICATION": msg(INFO, "bgp-notification", r".*? (?:to|from) neighbor {src}"),
    "BGP-ADJCHANGE": msg(HOST_CHANGE, "bgp-neighbor-changed", r"neighbor {src} {state:Up|Down}"),
    # interfaces
    "LINEPROTO-UPDOWN": msg(HOST_INFO, "interface-state-changed", r"Line protocol on "
                            + _LINK_STATE),
    **same(("LINK-UPDOWN", "LINK-CHANGED"), msg(HOST_INFO, "interface-state-changed",
                                                _LINK_STATE)),
}

_ACL_PORTS = msg(DENY, "firewall-rule",
                 _ACL + r"{proto} " + _ACL_SRC + r" -> {dst}(?:\({dport}\))?")
_ACL_ICMP = msg(DENY, "firewall-rule",
                _ACL + r"{proto} " + _ACL_SRC + r" -> {dst} \({icmp_type}/{icmp_code}\)")
_ACL_NO_PORTS = msg(DENY, "firewall-rule", _ACL + r"{proto} " + _ACL_SRC + r" -> {dst}")
ACL_LOGGING: dict[str, Message] = {
    **same(("IPACCESSLOGP", "ACCESSLOGP", "IPV6ACCESSLOGP"), _ACL_PORTS),
    **same(("IPACCESSLOGDP", "ACCESSLOGDP", "IPV6ACCESSLOGDP"), _ACL_ICMP),
    **same(("IPACCESSLOGNP", "IPACCESSLOGRP", "IPACCESSLOGSP", "ACCESSLOGNP", "ACCESSLOGSP",
            "IPV6ACCESSLOGNP"), _ACL_NO_PORTS),
    **same(("IPACCESSLOGS", "ACCESSLOGS"), msg(DENY, "firewall-rule",
                                                _ACL + _ACL_SRC + r",? \d+ packet")),
}
"""ACL logging, by mnemonic whatever the facility (``SEC-6-IPACCESSLOGP``, IOS XE's
``FMANFP-6-IPACCESSLOGP``, ``IPV6_ACL-6-ACCESSLOGP``, IOS XR's ``ACL-IPV4_ACL-6-IPACCESSLOGP``):
``list 101 denied tcp 203.0.113.9(4444) -> 10.20.0.5(23), 1 packet``."""

# IOS XE prefixes the text of some messages with the slot and process that wrote it
# ("R0/0: fman_fp_image: list 110 denied ..."); templates read what follows.
_SLOT_PREFIX = re.compile(r" *(?:[A-Z]+\d*(?:/\d+)*: +)?(?:[a-z][\w-]*: +)?")
_NESTED = re.compile(r"%([A-Z][A-Z0-9_]*(?:-[A-Z][A-Z0-9_]*)*)-[0-7]-([A-Z][A-Z0-9_]*) ?: ?")


def lookup(facility: str, mnemonic: str, text: str) -> tuple[str, Message | None, str]:
    """The table key, entry and text to read of a message. IOS XE's ``%IOSXE-6-PLATFORM`` carries
    another message (``... %FW-6-DROP_PKT: Dropping tcp pkt ...``): that one is read."""
    if facility == "IOSXE" and mnemonic == "PLATFORM":
        nested = _NESTED.search(text)
        if nested is not None:
            facility, mnemonic, text = nested[1], nested[2], text[nested.end():]
    key = f"{facility}-{mnemonic}"
    spec = IOS.get(key) or ACL_LOGGING.get(mnemonic)
    if spec is not None and spec.patterns and not spec.patterns[0].match(text):
        prefix = _SLOT_PREFIX.match(text)
        if prefix is not None:
            text = text[prefix.end():]
    return key, spec, text


_CLI_APPLET = ("cli", "command", "acct", "accounting")


def refine(ev: Event, key: str) -> None:
    """What a template cannot say: an EEM applet that logs commands (its name says so: CLI-LOG,
    cli_accounting...) is the configuration trail; the command of ``archive log config``
    prefixed ``!exec:`` is an exec command, not a change."""
    if key == "HA_EM-LOG":
        applet = str(ev.get("cisco.ios.eem.applet", "")).lower()
        text = ev.get("cisco.ios.eem.text")
        if text and any(word in applet for word in _CLI_APPLET):
            ev["cisco.ios.command_line_arguments"] = text
            ev["event.category"] = ["configuration"]
            ev["event.type"] = ["info"]
            ev["event.action"] = "configuration"
    command = ev.get("cisco.ios.command_line_arguments")
    if isinstance(command, str) and command.startswith("!exec:"):
        ev["cisco.ios.command_line_arguments"] = command[len("!exec:"):].strip()
        ev["event.type"] = ["info"]
