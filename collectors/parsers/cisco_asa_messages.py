"""The message catalogue of Cisco ASA, Firepower Threat Defense (its ASA-engine messages), PIX
and FWSM: message id → meaning and templates (the language is in :mod:`.cisco_catalog`).

Written from Cisco's "Cisco Secure Firewall ASA Series Syslog Messages" (each entry follows the
message format printed there; the older PIX forms are listed with their ids), with the field
names and ``event.action`` words of Elastic's ``cisco_asa`` integration where it decodes the
message. Where the two differ, on purpose:

* the remote end of a VPN session (``IP = x``, ``IP <x>``, IKEv2 ``Remote:x``, the client of
  113019/721016) is ``source.ip``: it started the session (Elastic files some as
  ``destination``);
* a translation (305009-305012) puts the mapped address in ``source.nat.ip``, as ECS defines it
  (Elastic files it as the destination);
* a ``Built`` connection has ``event.type`` ``allowed`` besides ``connection``/``start``, as the
  project's firewall rules expect of every dataset.

Add a message: one entry, ``"id": msg(KIND, "action", "template", ...)``; the tests in
``tests/test_parsers_cisco.py`` show a line of every family. Ids not listed still become events
(``event.code``, ``message``), and :data:`GENERIC` reads the idioms that most messages share.
"""

from __future__ import annotations

from collectors.parsers.cisco_catalog import (
    ALLOW,
    AUTH_INFO,
    AUTH_OK,
    CONFIG,
    CONFIG_INFO,
    CONN,
    CONN_FAIL,
    DENY,
    END,
    FILE_ACCESS,
    HOST_CHANGE,
    HOST_ERROR,
    HOST_INFO,
    INFO,
    INFO_FAIL,
    LOGIN,
    LOGIN_FAIL,
    NAT,
    NAT_END,
    SESSION_END,
    SESSION_START,
    START,
    THREAT,
    THREAT_DENY,
    USER_ADDED,
    USER_CHANGED,
    USER_DELETED,
    VPN_END,
    VPN_FAIL,
    VPN_INFO,
    VPN_START,
    WEB_ALLOW,
    WEB_DENY,
    Message,
    compile_template,
    msg,
    same,
)

# The ends of a connection as the reference writes them.
SU = r"(?: ?\((?!type \d){src_user}\))?"  # [(idfw_user)] after the source, not "(type 8, code 0)"
DU = r"(?: ?\((?!type \d){dst_user}\))?"
SRC = "{src_if}:{src}/{sport}"
DST = "{dst_if}:{dst}/{dport}"
SRC_OPT = "{src_if}:{src}(?:/{sport})?"  # ICMP and IP: no port
DST_OPT = "{dst_if}:{dst}(?:/{dport})?"
SNAT = r"\({src_nat}/{src_nat_port}\)"
DNAT = r"\({dst_nat}/{dst_nat_port}\)"
AAA_USER = r"(?: \({aaa_user}\))?"
FLOW = f"from {SRC} to {DST}"
# The objects prepended to VPN messages: WebVPN/AnyConnect ("Group <g> User <u> IP <ip>", with or
# without the brackets), ISAKMP ("Group = g, Username = u, IP = ip,"), IKEv2 ("Local:ip:port
# Remote:ip:port Username:u").
GUI = r"Group <?{group:[^<>]*?}>? User <?{user:[^<>]*?}>? IP <?{peer}>?"
ISAKMP = r"(?:Group = {group:[^,]*}, )?(?:Username = {user:[^,]*}, )?IP = {peer},"
IKEV2 = r"Local: ?{dst}:{dport} Remote: ?{src}:{sport} Username: ?{user:\S*}"

_BUILT = (r"Built {dir} {proto} connection {conn} for " + SRC + " " + SNAT + SU + " to " + DST
          + " " + DNAT + DU + AAA_USER)
_TEARDOWN = (r"Teardown {proto} (?:state-bypass )?connection {conn} (?:for|from) " + SRC + SU
             + " to " + DST + DU + r" duration {duration} bytes {bytes}"
             r"(?: (?!from ){reason:.+?})?(?: from {initiator})?" + AAA_USER + r" *$")
_TEARDOWN_SHORT = (r"Teardown {proto} (?:state-bypass )?connection {conn} (?:for|from) " + SRC
                   + SU + " to " + DST + DU)
_STUB_BUILT = (r"Built \S+ stub {proto} connection for " + SRC
               + r" \({src_nat}(?:/{src_nat_port})?\)" + SU + " to " + DST)
_STUB_TEARDOWN = (r"Teardown stub {proto} connection for " + SRC + SU + " to " + DST + DU
                  + r" duration {duration} forwarded bytes {bytes} {reason}")
_ICMP_BUILT = (r"Built {dir} {proto} connection for faddr (?:{src_if}:)?{src}/\d+" + SU
               + r" gaddr (?:[^:\s]+:)?{dst_nat}/\d+ laddr (?:{dst_if}:)?{dst}/\d+" + DU
               + r"(?: type {icmp_type} code {icmp_code})?")
_ICMP_TEARDOWN = (r"Teardown {proto} connection for faddr (?:{dst_if}:)?{dst}/\d+" + DU
                  + r" gaddr (?:[^:\s]+:)?{src_nat}/\d+ laddr (?:{src_if}:)?{src}/\d+" + SU
                  + AAA_USER + r"(?: type {icmp_type} code {icmp_code})?")
_NAT_FROM = r"from {src_if}(?:\({acl:[^)]*}\))?:{src}"
_TRANSLATION = r"(?:dynamic|static) {proto} translation " + _NAT_FROM + "/{sport}"
_ADDR_TRANSLATION = r"(?:dynamic|static) translation " + _NAT_FROM
_DYNAMIC_FILTER = (r"Dynamic [Ff]ilter {verdict} (?:black|white|grey)[- ]?listed {proto} traffic "
                   r"from " + SRC + r" \({src_nat}/{src_nat_port}\) to " + DST
                   + r" \({dst_nat}/{dst_nat_port}\), ")
_IPSEC = r"IPSEC: Received an? .*? from {src}(?: \(user= *{user:[^)]*}\))? to {dst}"
_FAILOVER = r"\({unit}\) "
_HTTP_INSPECTION = (r"HTTP - matched .*? in policy-map {policy}, {verdict:[A-Za-z]+}.*? from "
                    + SRC + " to " + DST)

ASA: dict[str, Message] = {
    # --- failover (101001-105048): "(Primary) ..." or "(Secondary) ..."
    "101001": msg(HOST_INFO, "failover-cable-ok", _FAILOVER),
    **same(("101002", "101003", "101004", "101005"),
           msg(HOST_ERROR, "failover-cable-failed", _FAILOVER)),
    "102001": msg(HOST_ERROR, "failover-peer-down", _FAILOVER),
    "103001": msg(HOST_ERROR, "failover-peer-no-response", _FAILOVER),
    "103002": msg(HOST_INFO, "failover-peer-interface-ok", _FAILOVER),
    **same(("103003", "103004", "103005", "103006"),
           msg(HOST_ERROR, "failover-peer-failed", _FAILOVER + r"Other firewall.*?Reason: {reason}",
               _FAILOVER)),
    "104001": msg(HOST_CHANGE, "failover-active",
                  _FAILOVER + r"Switching to ACTIVE(?: -| \(cause:) {reason:.*?}\)?\.? *$",
                  _FAILOVER),
    "104002": msg(HOST_CHANGE, "failover-standby",
                  _FAILOVER + r"Switching to STANDBY(?: -| \(cause:) {reason:.*?}\)?\.? *$",
                  _FAILOVER),
    "104003": msg(HOST_ERROR, "failover-failed", _FAILOVER),
    "104004": msg(HOST_CHANGE, "failover-ok", _FAILOVER),
    **same(("104500", "104501", "104502"),
           msg(HOST_CHANGE, "failover-switch",
               _FAILOVER + r"Switching to .*?\(cause: {reason:[^)]*}\)", _FAILOVER)),
    "105001": msg(HOST_CHANGE, "failover-disabled", _FAILOVER),
    "105002": msg(HOST_CHANGE, "failover-enabled", _FAILOVER),
    **same(("105003", "105004"), msg(HOST_INFO, "failover-monitoring",
                                     _FAILOVER + r"Monitoring on [Ii]nterface {iface}")),
    "105005": msg(HOST_ERROR, "failover-communication-lost",
                  _FAILOVER + r"Lost Failover communications with mate on [Ii]nterface {iface}"),
    **same(("105006", "105007"), msg(HOST_INFO, "failover-link-status",
                                     _FAILOVER + r"Link status '?{state:Up|Down}'? on "
                                                 r"[Ii]nterface {iface}")),
    "105008": msg(HOST_INFO, "failover-interface-test",
                  _FAILOVER + r"Testing [Ii]nterface {iface}"),
    "105009": msg(HOST_INFO, "failover-interface-test",
                  _FAILOVER + r"Testing on [Ii]nterface {iface} {verdict:Passed|Failed}"),
    **same(("105011", "105020", "105021", "105031", "105032", "105034", "105035", "105036",
            "105037", "105038", "105039", "105040", "105042", "105043", "105044", "105045",
            "105046", "105047", "105048"),
           msg(HOST_INFO, "failover", _FAILOVER)),

    # --- access lists and packets denied (106xxx)
    "106001": msg(DENY, "firewall-rule", r"{dir} {proto} connection denied from {src}/{sport} to "
                                         r"{dst}/{dport} flags .*? on interface {src_if} *$"),
    "106002": msg(DENY, "firewall-rule", r"{proto} [Cc]onnection denied by {dir} list {acl} src "
                                         r"{src}(?: {sport})? dest {dst}(?: {dport})?"),
    "106006": msg(DENY, "firewall-rule", r"Deny {dir} {proto} from {src}/{sport} to {dst}/{dport}"
                                         r" on interface {src_if} *$"),
    "106007": msg(DENY, "firewall-rule", r"Deny {dir} {proto} from {src}/{sport} to {dst}/{dport}"
                                         r" due to {reason}"),
    "106010": msg(DENY, "firewall-rule", r"Deny {dir} (?:protocol )?{proto} src " + SRC_OPT + SU
                  + " dst " + DST_OPT + DU),
    "106011": msg(DENY, "firewall-rule", r"Deny inbound \(No xlate\) {proto} src " + SRC_OPT + SU
                  + " dst " + DST_OPT + DU),
    "106012": msg(DENY, "firewall-rule", r"Deny IP from {src} to {dst}, {reason}"),
    "106013": msg(DENY, "firewall-rule", r"Dropping echo request from {src} to PAT address {dst}",
                  const={"network.transport": "icmp", "network.direction": "inbound"}),
    "106014": msg(DENY, "firewall-rule", r"Deny {dir} {proto} src {src_if}:{src}" + SU
                  + r" dst {dst_if}:{dst}" + DU
                  + r"(?: \(type {icmp_type}, code {icmp_code}\))?"),
    "106015": msg(DENY, "firewall-rule", r"Deny {proto} \(no connection\) from {src}/{sport} to "
                                         r"{dst}/{dport} flags .*? on interface {src_if} *$"),
    "106016": msg(DENY, "firewall-rule", r"Deny IP spoof from \({src}\) to {dst} on interface "
                                         r"{src_if} *$"),
    "106017": msg(DENY, "firewall-rule", r"Deny IP due to Land Attack from {src} to {dst}"),
    "106018": msg(DENY, "firewall-rule", r"{proto} packet type {icmp_type:\S+} denied by {dir} "
                                         r"list {acl} src {src} dest {dst}"),
    "106020": msg(DENY, "firewall-rule", r"Deny IP teardrop fragment \(size = \d+, offset = \d+\) "
                                         r"from {src} to {dst}"),
    "106021": msg(DENY, "firewall-rule", r"Deny {proto} reverse path check from {src} to {dst} "
                                         r"on interface {src_if} *$"),
    "106022": msg(DENY, "firewall-rule", r"Deny {proto} connection spoof from {src} to {dst} on "
                                         r"interface {src_if} *$"),
    "106023": msg(DENY, "firewall-rule",
                  r"Deny (?:protocol )?{proto} src " + SRC_OPT + SU + " dst " + DST_OPT + DU
                  + r"(?: \(?type {icmp_type}, code {icmp_code}\)?,?)?.*? by access-group "
                    r"\"{acl}\"",
                  r"Deny (?:protocol )?{proto} src " + SRC_OPT + SU + " dst " + DST_OPT + DU),
    "106027": msg(DENY, "firewall-rule", r"(?:.*? )?Deny src {src} dst {dst} by access-group "
                                         r"\"{acl}\""),
    "106100": msg(ALLOW, "firewall-rule",
                  r"access-list {acl} {verdict} {proto} {src_if}/{src}\({sport}\)"
                  r"(?:\({src_user}\))? ?-?>? ?{dst_if}/{dst}\({dport}\)(?:\({dst_user}\))?"),
    **same(("106102", "106103"), msg(ALLOW, "firewall-rule",
                                     r"access-list {acl} {verdict} {proto} for user '?"
                                     r"{user:[^'\s]*}'? {src_if}/{src}[( ]{sport}\)? ?-?>? ?"
                                     r"{dst_if}/{dst}[( ]{dport}")),

    # --- authentication through the firewall, cut-through proxy (109xxx)
    "109001": msg(AUTH_INFO, "auth-started", r"Auth start for user '?{user:[^']*?}'? from "
                                             r"{src}/{sport} to {dst}/{dport}"),
    "109002": msg(LOGIN_FAIL, "logon-failed", r"Auth from {src}/{sport} to {dst}/{dport} failed "
                                              r"\(server {server} failed\) on interface {src_if}"),
    "109003": msg(LOGIN_FAIL, "logon-failed", r"Auth from {src}(?:/{sport})? to {dst}/{dport} "
                                              r"failed \(all servers failed\) on interface "
                                              r"{src_if},"),
    "109005": msg(LOGIN, "logged-in", r"Authentication succeeded for user '?{user:[^']*?}'? from "
                                      r"{src}/{sport} to {dst}/{dport} on interface {src_if} *$"),
    "109006": msg(LOGIN_FAIL, "logon-failed", r"Authentication failed for user '?{user:[^']*?}'? "
                                              r"from {src}/{sport} to {dst}/{dport} on interface "
                                              r"{src_if} *$"),
    "109007": msg(AUTH_OK, "authorization-permitted",
                  r"Authorization permitted for user '?{user:[^']*?}'? from {src}/{sport} to "
                  r"{dst}/{dport} on interface {src_if} *$"),
    "109008": msg(LOGIN_FAIL, "authorization-denied",
                  r"Authorization denied for user '?{user:[^']*?}'? from {src}/{sport} to "
                  r"{dst}/{dport} on interface {src_if} *$"),
    "109010": msg(LOGIN_FAIL, "logon-failed", r"Auth from {src}/{sport} to {dst}/{dport} failed "
                                              r"\(too many pending auths\) on interface {src_if}"),
    "109011": msg(SESSION_START, "session-started", r"Authen Session Start: user '{user:[^']*}', "
                                                    r"sid {session}"),
    "109012": msg(SESSION_END, "session-ended", r"Authen Session End: user '{user:[^']*}', sid "
                                                r"{session:\d+}"),
    "109016": msg(LOGIN_FAIL, "authorization-denied", r"Can't find authorization ACL {acl} for "
                                                      r"user '{user:[^']*}'"),
    "109017": msg(LOGIN_FAIL, "logon-failed", r"User at {src} exceeded auth proxy connection "
                                              r"limit"),
    "109023": msg(AUTH_INFO, "authentication-required",
                  r"User from {src}/{sport} on interface {src_if} must authenticate"),
    "109024": msg(LOGIN_FAIL, "authorization-denied",
                  r"Authorization denied from {src}/{sport} to {dst}/{dport} \(not authenticated"
                  r"\) on interface {src_if} using {service}"),
    "109025": msg(LOGIN_FAIL, "authorization-denied",
                  r"Authorization denied \(acl={acl:[^)]*}\) for user '{user:[^']*}' from "
                  r"{src}/{sport} to {dst}/{dport} on interface {src_if} using {service}"),
    "109027": msg(LOGIN_FAIL, "logon-failed", r"\[\w+\] Unable to decipher response message "
                                              r"Server = {server}, User = {user}"),
    "109028": msg(CONN, "aaa-bypassed", r"aaa bypassed for same-security traffic " + FLOW),
    "109031": msg(LOGIN_FAIL, "logon-failed", r"NT Domain Authentication Failed: rejecting guest "
                                              r"login for {user}"),
    "109033": msg(LOGIN_FAIL, "logon-failed", r"Authentication failed for admin user {user} from "
                                              r"{src}\."),
    "109034": msg(LOGIN_FAIL, "logon-failed", r"Authentication failed for network user {user} "
                                              r"from {src}/{sport} to {dst}/{dport}"),
    "109035": msg(AUTH_INFO, "dap-limit-exceeded", r"Exceeded maximum number \(\d+\) of DAP "
                                                   r"attribute instances for user = {user}"),

    # --- routing failures (110xxx)
    "110001": msg(CONN_FAIL, "firewall-rule", r"No route to {dst} from {src}"),
    "110002": msg(CONN_FAIL, "firewall-rule", r"Failed to locate egress interface for {proto} "
                                              r"from " + SRC + r" to {dst}/{dport}"),
    "110003": msg(CONN_FAIL, "firewall-rule", r"Routing failed to locate next hop for {proto} "
                  + FLOW),

    # --- configuration and commands (111xxx)
    "111001": msg(CONFIG, "configuration", r"Begin configuration: {src} writing to"),
    "111002": msg(CONFIG_INFO, "configuration", r"Begin configuration: {src} reading from"),
    "111003": msg(CONFIG, "configuration", r"{src} Erase configuration"),
    "111004": msg(CONFIG, "configuration", r"{src} end configuration: {verdict:OK|FAILED}"),
    "111005": msg(CONFIG, "configuration", r"{src} end configuration"),
    "111007": msg(CONFIG_INFO, "configuration", r"Begin configuration: {src} reading from"),
    "111008": msg(CONFIG, "configuration", r"User '{admin:[^']*}' executed the '{cmd}' command"),
    "111009": msg(CONFIG_INFO, "configuration", r"User '{admin:[^']*}' executed cmd: ?{cmd}"),
    "111010": msg(CONFIG, "configuration", r"User '{admin:[^']*}', running '[^']*' from IP {src}, "
                                           r"executed '{cmd}'"),

    # --- AAA, VPN groups and users (113xxx)
    "113003": msg(AUTH_INFO, "group-policy-assigned", r"AAA group policy for user {user} is being "
                                                      r"set to {policy}"),
    "113004": msg(LOGIN, "logged-in", r"AAA user \w+ Successful ?: server = *{server} ?[:,] "
                                      r"[Uu]ser = {user:.*?} *$"),
    "113005": msg(LOGIN_FAIL, "logon-failed",
                  r"AAA user \w+ Rejected ?: reason = {reason:.*?} ?: server = *{server} ?: "
                  r"[Uu]ser = *{user:.*?} ?(?:: [Uu]ser IP = {src})? *$"),
    "113006": msg(LOGIN_FAIL, "user-locked", r"User '?{user:[^']*?}'? locked out on exceeding"),
    "113007": msg(USER_CHANGED, "user-unlocked", r"User '?{user:[^']*?}'? unlocked by "
                                                 r"'?{admin:[^']*?}'? *$"),
    "113008": msg(LOGIN, "logged-in", r"AAA transaction status ACCEPT ?: [Uu]ser = {user:.*?} *$"),
    "113009": msg(LOGIN, "logged-in", r"AAA retrieved default group policy \(?{policy}\)? for "
                                      r"user = *{user:.*?} *$"),
    "113010": msg(AUTH_INFO, "aaa-challenge", r"AAA challenge received for user {user} from "
                                              r"server {server}"),
    "113011": msg(AUTH_INFO, "group-policy-assigned", r"AAA retrieved user specific group policy "
                                                      r"\(?{policy}\)? for user = *{user:.*?} *$"),
    "113012": msg(LOGIN, "logged-in", r"AAA user authentication Successful ?: local database ?: "
                                      r"[Uu]ser = {user:.*?} *$"),
    "113013": msg(LOGIN_FAIL, "logon-failed", r"AAA unable to complete the request Error ?: "
                                              r"reason = {reason:.*?} ?: [Uu]ser = {user:.*?} *$"),
    "113014": msg(LOGIN_FAIL, "logon-failed", r"AAA authentication server not accessible ?: "
                                              r"server = *{server} ?: [Uu]ser = {user:.*?} *$"),
    "113015": msg(LOGIN_FAIL, "logon-failed",
                  r"AAA user authentication Rejected ?: reason = {reason:.*?} ?: local database ?"
                  r": [Uu]ser = *{user:.*?} ?(?:: [Uu]ser IP = {src})? *$"),
    "113016": msg(LOGIN_FAIL, "logon-failed",
                  r"AAA credentials rejected ?: reason = {reason:.*?} ?: server = *{server} ?: "
                  r"[Uu]ser = *{user:.*?} ?(?:: [Uu]ser IP = {src})? *$"),
    "113017": msg(LOGIN_FAIL, "logon-failed",
                  r"AAA credentials rejected ?: reason = {reason:.*?} ?: local database ?: "
                  r"[Uu]ser = *{user:.*?} ?(?:: [Uu]ser IP = {src})? *$"),
    "113019": msg(VPN_END, "client-vpn-disconnected",
                  r"Group = {group:[^,]*}, Username = {user:[^,]*}, IP = {peer}, Session "
                  r"disconnected\. Session Type: {session_type}, Duration: {duration:[\dhms: ]+?}, "
                  r"Bytes xmt: {bytes_out}, Bytes rcv: {bytes_in}, Reason: {reason}"),
    "113020": msg(INFO, "kerberos-error", r"Kerberos error: Clock skew with server {server}"),
    "113021": msg(LOGIN_FAIL, "logon-failed", r"Attempted console login failed\. User {user} did "
                                              r"NOT have appropriate Admin Rights"),
    "113022": msg(INFO_FAIL, "server-failed",
                  r"AAA Marking {service} server {server} in aaa-server group {aaa_group} as "
                  r"{verdict:FAILED}"),
    "113023": msg(INFO, "server-active", r"AAA Marking {service} server {server} in aaa-server "
                                         r"group {aaa_group} as ACTIVE"),
    "113024": msg(AUTH_INFO, "certificate-authentication",
                  r"Group {group:[^:]+}: Authenticating {session_type} connection from {peer} "
                  r"with username, {user:[^,]+}, from client certificate"),
    "113025": msg(LOGIN_FAIL, "logon-failed", r"Group {group:[^:]+}: FAILED to extract username "
                                              r"from certificate while authenticating "
                                              r"{session_type} connection from {peer}"),
    **same(("113029", "113030", "113031", "113032", "113033", "113034", "113035", "113036",
            "113038"), msg(VPN_FAIL, "client-vpn-error", GUI)),
    "113039": msg(VPN_START, "client-vpn-connected", GUI),
    "113040": msg(VPN_FAIL, "client-vpn-error",
                  GUI + r" Terminating the VPN connection attempt from",
                  r"Terminating the VPN connection attempt from <?{group:[^<>]+?}>?\. Reason"),

    # --- connections built and torn down (302xxx); PIX 5/6 forms first
    "302001": msg(START, "flow-creation",
                  r"Built {dir} {proto} connection {conn} for faddr {src}/{sport} gaddr "
                  r"{dst_nat}/{dst_nat_port} laddr {dst}/{dport}" + AAA_USER, swap=True),
    "302002": msg(END, "flow-expiration",
                  r"Teardown {proto} connection {conn} faddr {dst}/{dport} gaddr "
                  r"{src_nat}/{src_nat_port} laddr {src}/{sport}(?: \({aaa_user}\))? duration "
                  r"{duration} bytes {bytes}(?: \(?{reason:[^)]*}\)?)?"),
    "302003": msg(START, "flow-creation", r"Built H245 connection for foreign_address "
                                          r"{dst}/{dport} local_address {src}/{sport}"),
    "302004": msg(START, "flow-creation", r"Pre-allocate H323 UDP backconnection for "
                                          r"foreign_address {dst}/{dport} to local_address "
                                          r"{src}/{sport}"),
    "302005": msg(START, "flow-creation", r"Built {proto} connection for faddr {dst}/{dport} "
                                          r"gaddr {src_nat}/{src_nat_port} laddr {src}/{sport}"),
    "302006": msg(END, "flow-expiration", r"Teardown {proto} connection for faddr {dst}/{dport} "
                                          r"gaddr {src_nat}/{src_nat_port} laddr {src}/{sport}"),
    "302009": msg(START, "flow-creation", r"Rebuilt {proto} connection {conn} for " + SRC + " "
                  + SNAT + " to " + DST + " " + DNAT),
    "302012": msg(START, "flow-creation", r"Pre-allocate H225 Call Signalling Connection for "
                                          r"faddr {dst}/{dport} to laddr {src}"),
    **same(("302013", "302015", "302035"), msg(START, "flow-creation", _BUILT, swap=True)),
    **same(("302014", "302016", "302036", "302304", "302306"),
           msg(END, "flow-expiration", _TEARDOWN, _TEARDOWN_SHORT)),
    "302017": msg(START, "flow-creation",
                  r"Built {dir} GRE connection {conn} from {src_if}:{src} \({src_nat}\)" + SU
                  + r" to {dst_if}:{dst}/\d+ \({dst_nat}/\d+\)" + DU,
                  const={"network.transport": "gre"}),
    "302018": msg(END, "flow-expiration",
                  r"Teardown GRE connection {conn} from {src_if}:{src} \({src_nat}\)" + SU
                  + r" to {dst_if}:{dst}/\d+ \({dst_nat}/\d+\)" + DU
                  + r" duration {duration} bytes {bytes}",
                  const={"network.transport": "gre"}),
    "302020": msg(START, "flow-creation", _ICMP_BUILT, swap=True),
    "302021": msg(END, "flow-expiration", _ICMP_TEARDOWN),
    **same(("302022", "302024", "302026"), msg(START, "flow-creation", _STUB_BUILT)),
    **same(("302023", "302025", "302027"), msg(END, "flow-expiration", _STUB_TEARDOWN)),
    "302033": msg(START, "flow-creation", r"Pre-allocated H323 GUP Connection for faddr " + DST
                  + r" to laddr " + SRC),
    **same(("302303", "302305"), msg(START, "flow-creation",
                                     r"Built {proto} state-bypass connection {conn} from " + SRC
                                     + r" ?" + SNAT + " to " + DST + r" ?" + DNAT)),

    # --- FTP and URL (303xxx, 304xxx)
    "303002": msg(FILE_ACCESS, "ftp",
                  r"{service} connection from " + SRC + " to " + DST + r", user {user:\S+} \S+ "
                  r"file {file}",
                  r"{src} (?:Stored|Retrieved) {dst}: ?{file}"),
    **same(("303003", "303004"), msg(DENY, "firewall-rule",
                                     r"FTP \S+ command (?:denied|unsupported) - failed strict "
                                     r"inspection, terminating connection " + FLOW)),
    "303005": msg(DENY, "firewall-rule", r"Strict FTP inspection matched .*? in policy-map "
                                         r"{policy}, .*? " + FLOW),
    "304001": msg(WEB_ALLOW, "url-access", r"(?:{user:[^@\s]+}@)?{src}(?: ?\({src_user}\))? "
                                           r"Accessed (?:JAVA )?URL {dst}:{url}"),
    "304002": msg(WEB_DENY, "url-access", r"Access denied URL {url} SRC {src} DEST {dst} on "
                                          r"interface {src_if} *$"),
    **same(("304003", "304004"), msg(INFO, "url-server-error", r"URL Server {server} ")),

    # --- address translation (305xxx)
    "305005": msg(DENY, "nat-denied", r"No translation group found for {proto} src " + SRC_OPT
                  + SU + " dst " + DST_OPT + DU),
    "305006": msg(DENY, "nat-denied", r".*?translation creation failed for {proto} src " + SRC_OPT
                  + SU + " dst " + DST_OPT + DU),
    "305009": msg(NAT, "nat-slot", r"Built " + _ADDR_TRANSLATION + SU + r" to {dst_if}:{src_nat}"),
    "305010": msg(NAT_END, "nat-slot", r"Teardown " + _ADDR_TRANSLATION + SU
                  + r" to {dst_if}:{src_nat} duration {duration}"),
    "305011": msg(NAT, "nat-slot", r"Built " + _TRANSLATION + SU
                  + r" to {dst_if}:{src_nat}/{src_nat_port}"),
    "305012": msg(NAT_END, "nat-slot", r"Teardown " + _TRANSLATION + SU
                  + r" to {dst_if}:{src_nat}/{src_nat_port} duration {duration}"),
    "305013": msg(DENY, "nat-denied", r"Asymmetric NAT rules matched for forward and reverse "
                                      r"flows; Connection (?:for )?{proto} src " + SRC_OPT + SU
                  + " dst " + DST_OPT + DU),
    "308001": msg(LOGIN_FAIL, "logon-failed", r"console enable password incorrect for \d+ tries "
                                              r"\(from {src}\)"),

    # --- ICMP (313xxx), SSH (315xxx), ARP and MAC (322xxx)
    **same(("313001", "313008"), msg(DENY, "firewall-rule",
                                     r"Denied {proto} type={icmp_type}, code={icmp_code} from "
                                     r"{src} on interface {src_if} *$")),
    "313004": msg(DENY, "firewall-rule", r"Denied {proto} type={icmp_type}, from (?:laddr )?{src} "
                                         r"on interface {src_if} to {dst}: ?no matching session"),
    "313005": msg(DENY, "firewall-rule",
                  r"No matching connection for ICMP error message: {proto} src {src_if}:\S+? dst "
                  r"{dst_if}:\S+? \(type {icmp_type}, code {icmp_code}\) on \S+ interface\. "
                  r"Original IP payload: (?:protocol )?\S+ src {src}(?:/{sport})?(?:\([^)]*\))? "
                  r"dst {dst}(?:/{dport})?",
                  r"No matching connection for ICMP error message: {proto} src "
                  r"{src_if}:{src}(?:\([^)]*\))? dst {dst_if}:{dst}(?:\([^)]*\))? \(type "
                  r"{icmp_type}, code {icmp_code}\)"),
    "313009": msg(DENY, "firewall-rule", r"Denied invalid {proto} code {icmp_code}, for " + SRC
                  + " " + SNAT + " to " + DST + " " + DNAT),
    "315011": msg(SESSION_END, "ssh-session-ended",
                  r"SSH session from {src}(?: on interface {src_if})? for user \"?"
                  r"{user:[^\"\s,]+}\"?,?(?: disconnected by SSH server, reason: \"?"
                  r"{reason:[^\"]*})?"),
    "322001": msg(DENY, "firewall-rule", r"Deny MAC address {mac}, possible spoof attempt on "
                                         r"interface {src_if} *$"),
    **same(("322002", "322003"), msg(DENY, "arp-inspection",
                                     r"ARP inspection check failed for arp \w+ received from host "
                                     r"{mac} on interface {src_if}\. This host is advertising MAC "
                                     r"Address \S+ for IP Address {src}")),

    # --- botnet traffic filter (338xxx)
    **same(("338001", "338003", "338005", "338007", "338101", "338103", "338201", "338203"),
           msg(THREAT, "dynamic-filter",
               _DYNAMIC_FILTER + r"source \S+ resolved from {filter_list} list: {src_domain}(?:, "
                                 r"threat-level: {threat_level}, category: {threat_category})?",
               title="Botnet traffic filter: listed source")),
    **same(("338002", "338004", "338006", "338008", "338102", "338104", "338202", "338204"),
           msg(THREAT, "dynamic-filter",
               _DYNAMIC_FILTER + r"destination \S+ resolved from {filter_list} list: "
                                 r"{dst_domain}(?:, threat-level: {threat_level}, category: "
                                 r"{threat_category})?",
               title="Botnet traffic filter: listed destination")),
    "338301": msg(CONN, "dns-reply-intercepted",
                  r"Intercepted DNS reply for domain {src_domain} " + FLOW
                  + ", matched {filter_list}"),

    # --- IPS signatures (400000-400050: below), shunning (401xxx), IPsec (402xxx)
    "401001": msg(INFO, "shun-cleared"),
    "401002": msg(INFO, "shun-added", r"Shun added: {src} {dst} {sport} {dport}"),
    "401003": msg(INFO, "shun-deleted", r"Shun deleted: {src}"),
    "401004": msg(DENY, "shunned", r"Shunned packet: {src} =+>? {dst} on interface {src_if}"),
    "401005": msg(INFO_FAIL, "shun-add-failed", r"Shun add failed: unable to allocate "
                                                   r"resources for {src} {dst} {sport} {dport}"),
    "402106": msg(DENY, "ipsec-error", r"Rec'd packet not an IPSEC packet\. \(ip\) dest_addr= "
                                       r"{dst}, src_addr= {src}, prot= {proto}"),
    **same(("402114", "402115", "402116", "402117", "402118", "402119", "402120"),
           msg(DENY, "ipsec-error", _IPSEC)),

    # --- ARP, FTP, host limits, DNS and interface state (405xxx-411xxx)
    "405001": msg(INFO, "arp-collision", r"Received ARP \w+ collision from {src}/{mac} on "
                                         r"interface {src_if}"),
    "405002": msg(INFO, "mac-mismatch", r"Received mac mismatch collision from {src}/{mac}"),
    "406001": msg(DENY, "firewall-rule", r"FTP port command low port: {src}/{sport} to {dst} on "
                                         r"interface {src_if} *$"),
    "406002": msg(DENY, "firewall-rule", r"FTP port command different address: {src}\([^)]*\) to "
                                         r"{dst} on interface {src_if} *$"),
    "407001": msg(DENY, "host-limit", r"Deny traffic for local-host {src_if}:{src}, license limit"),
    "410001": msg(DENY, "firewall-rule", r"Dropped UDP DNS \w+ " + FLOW,
                  const={"network.transport": "udp", "network.protocol": "dns"}),
    "410002": msg(DENY, "firewall-rule", r"Dropped \d+ DNS responses with mis-matched id .*?: "
                  + FLOW, const={"network.protocol": "dns"}),
    **same(("411001", "411002"), msg(HOST_INFO, "interface-state-changed",
                                     r"Line protocol on Interface {iface}, changed state to "
                                     r"{state}\.? *$")),
    **same(("411003", "411004"), msg(HOST_INFO, "interface-state-changed",
                                     r"Interface {iface}, changed state to {state}\.? *$")),
    "414003": msg(HOST_ERROR, "logging-server-down", r"TCP Syslog Server {src_if}:{dst}/{dport} "
                                                     r"not responding"),
    "416001": msg(DENY, "firewall-rule", r"Dropped UDP SNMP packet " + FLOW,
                  const={"network.transport": "udp", "network.protocol": "snmp"}),
    "418001": msg(DENY, "firewall-rule",
                  r"Through-the-device packet to/from management-only network is denied: {proto} "
                  r"from {src_if:\S+} {src} \(?{sport}?\)? to {dst_if:\S+} {dst} \(?{dport}?\)?"),
    "419001": msg(DENY, "firewall-rule", r"Dropping TCP packet " + FLOW + r", reason: {reason}",
                  const={"network.transport": "tcp"}),
    "419002": msg(CONN, "firewall-rule", r"Received duplicate TCP SYN " + FLOW,
                  const={"network.transport": "tcp"}),
    "419003": msg(CONN, "firewall-rule", r"Cleared TCP urgent flag " + FLOW,
                  const={"network.transport": "tcp"}),
    "420002": msg(THREAT_DENY, "ips-drop", r"IPS requested to drop {proto} packet from "
                  + SRC_OPT + " to " + DST_OPT, title="IPS module dropped a packet"),
    "420003": msg(THREAT_DENY, "ips-reset", r"IPS requested to reset TCP connection " + FLOW,
                  const={"network.transport": "tcp"}, title="IPS module reset a connection"),
    "421001": msg(DENY, "firewall-rule", r"{proto} flow " + FLOW + r" is dropped because "
                                         r"{reason}"),
    **same(("421002", "421007"), msg(CONN, "firewall-rule", r"{proto} flow " + FLOW
                                     + r" (?:bypassed application checking|is skipped) because "
                                       r"{reason}")),
    "425005": msg(HOST_CHANGE, "interface-switchover", r"Interface {iface} become active"),
    "434002": msg(DENY, "firewall-rule", r"SFR requested to drop {proto} packet " + FLOW),
    "434004": msg(INFO, "bypass", r"SFR requested \S+ to bypass further packet redirection and "
                                  r"process {proto} flow " + FLOW),
    "450001": msg(DENY, "host-limit", r"Deny traffic for protocol {proto} src " + SRC_OPT
                  + " dst " + DST_OPT),

    # --- packet checks, local users (500xxx, 502xxx), inspection (507xxx, 509xxx)
    **same(("500001", "500002"), msg(INFO, "content-modified", r".*?: src {src} dest {dst} on "
                                                               r"interface {src_if}")),
    "500003": msg(DENY, "firewall-rule", r"Bad TCP hdr length \(hdrlen=\d+, pktlen=\d+\) from "
                                         r"{src}/{sport} to {dst}/{dport}, flags: .*?, on "
                                         r"interface {src_if}", const={"network.transport": "tcp"}),
    "500004": msg(DENY, "firewall-rule", r"Invalid transport field for protocol={proto}, from "
                                         r"{src}/{sport} to {dst}/{dport}"),
    "500005": msg(DENY, "firewall-rule", r"connection terminated for {proto} " + FLOW),
    "502101": msg(USER_ADDED, "user-added", r"New user added to local dbase: Uname: {user} Priv: "
                                            r"{priv_new}"),
    "502102": msg(USER_DELETED, "user-deleted", r"User deleted from local dbase: Uname: {user}"),
    "502103": msg(USER_CHANGED, "privilege-level-changed", r"User priv level changed: Uname: "
                                                           r"{admin} From: {priv_old} To: "
                                                           r"{priv_new}"),
    "502111": msg(CONFIG, "group-policy-added", r"New group policy added: name: {policy}"),
    "502112": msg(CONFIG, "group-policy-deleted", r"Group policy deleted: name: {policy}"),
    "507001": msg(DENY, "firewall-rule", r"Terminating TCP-Proxy connection " + FLOW,
                  const={"network.transport": "tcp"}),
    "507003": msg(END, "flow-termination", r"{proto} flow " + FLOW + r" terminated by inspection "
                                           r"engine, reason - {reason}"),
    "509001": msg(DENY, "firewall-rule", r"Connection attempt from " + SRC + SU + " to " + DST
                  + DU + r" was prevented by \"no forward\" command"),

    # --- IPsec SAs, PPTP/L2TP (602xxx, 603xxx)
    "602101": msg(INFO, "pmtu", r"PMTU-D packet \d+ bytes greater than effective mtu \d+, "
                                r"dest_addr={dst}, src_addr={src}, prot={proto}"),
    **same(("602103", "602104"), msg(INFO, "pmtu", r"IPSEC: Received an ICMP Destination "
                                                   r"Unreachable from {src}")),
    "602303": msg(VPN_START, "sa-created", r"IPSEC: An? {dir} .*? SA \(SPI= ?\S+\) between {src} "
                                           r"and {dst} \((?:user= ?)?{user:[^)]*}\) has been "
                                           r"created"),
    "602304": msg(VPN_END, "sa-deleted", r"IPSEC: An? {dir} .*? SA \(SPI= ?\S+\) between {src} "
                                         r"and {dst} \((?:user= ?)?{user:[^)]*}\) has been "
                                         r"deleted"),
    **same(("603104", "603106"), msg(VPN_START, "client-vpn-connected",
                                     r"(?:PPTP|L2TP) Tunnel created, tunnel_id is \d+, "
                                     r"remote_peer_ip is {peer}, ppp_virtual_interface_id is \d+, "
                                     r"client_dynamic_ip is {assigned}, username is "
                                     r"{user:[^,]+}")),
    **same(("603105", "603107"), msg(VPN_END, "client-vpn-disconnected",
                                     r"(?:PPTP|L2TP) Tunnel deleted, tunnel_id = \d+, "
                                     r"remote_peer_ip = {peer}")),
    "603108": msg(VPN_START, "client-vpn-connected",
                  r"Built PPTP Tunnel at {src_if:[^,]+}, tunnel-id = \d+, remote-peer = {peer}, "
                  r"virtual-interface = \d+, client-dynamic-ip = {assigned}, username = "
                  r"{user:[^,]+}"),
    "603109": msg(VPN_END, "client-vpn-disconnected",
                  r"Teardown PPPOE Tunnel at {src_if:[^,]+}, tunnel-id = \d+, remote-peer = "
                  r"{peer}"),

    # --- management logins and sessions (605xxx, 606xxx, 611xxx)
    "605004": msg(LOGIN_FAIL, "logon-failed", r"Login denied from {src}/{sport} to "
                                              r"{dst_if}:{dst}/{service} for user "
                                              r"\"{user:[^\"]*}\""),
    "605005": msg(LOGIN, "logged-in", r"Login permitted from {src}/{sport} to {dst_if}:{dst}/"
                                      r"{service} for user \"{user:[^\"]*}\""),
    **same(("606001", "606003"), msg(SESSION_START, "asdm-session-started",
                                     r"ASDM (?:logging )?session number \d+ (?:id \d+ )?from "
                                     r"{src} started")),
    **same(("606002", "606004"), msg(SESSION_END, "asdm-session-ended",
                                     r"ASDM (?:logging )?session number \d+ (?:id \d+ )?from "
                                     r"{src} ended")),
    "607001": msg(INFO, "firewall-rule", r"Pre-allocate SIP \S+ secondary channel for "
                                         r"{dst_if}:{dst}(?:/{dport})? to {src_if}:{src}",
                  const={"network.protocol": "sip"}),
    "607002": msg(INFO, "firewall-rule", r".*? " + FLOW, const={"network.protocol": "sip"}),
    "608001": msg(INFO, "firewall-rule", r"Pre-allocate Skinny \S+ secondary channel for "
                                         r"{dst_if}:{dst} to {src_if}:{src}"),
    "609001": msg(START, "flow-creation", r"Built local-host {src_if}:{src} *$"),
    "609002": msg(END, "flow-expiration", r"Teardown local-host {src_if}:{src} duration "
                                          r"{duration}"),
    "610001": msg(DENY, "ntp-denied", r"NTP daemon interface {iface:[^:]+}: Packet denied from "
                                      r"{src}"),
    "610002": msg(LOGIN_FAIL, "ntp-authentication-failed",
                  r"NTP daemon interface {iface:[^:]+}: Authentication failed for packet from "
                  r"{src}"),
    "611101": msg(LOGIN, "logged-in", r"User authentication succeeded: (?:IP address: {src}, )?"
                                      r"Uname: {admin:.*}"),
    "611102": msg(LOGIN_FAIL, "logon-failed", r"User authentication failed: (?:IP address: {src}, "
                                              r")?Uname: {admin:.*}"),
    "611103": msg(SESSION_END, "logged-out", r"User logged out: Uname: {admin:.*}"),
    "620001": msg(INFO, "firewall-rule", r"Pre-allocate CTIQBE \S+ secondary channel for "
                                         r"{dst_if}:{dst}(?:/{dport})? to {src_if}:{src}"
                                         r"(?:/{sport})?"),

    # --- access to the device itself (710xxx)
    "710001": msg(CONN, "access-requested", r"TCP access requested from {src}/{sport} to "
                                            r"{dst_if}:{dst}/{service}",
                  const={"network.transport": "tcp"}),
    "710002": msg(ALLOW, "firewall-rule", r"{proto} access permitted from {src}/{sport} to "
                                          r"{dst_if}:{dst}/{service}"),
    "710003": msg(DENY, "firewall-rule", r"{proto} access denied by ACL from {src}/{sport} to "
                                         r"{dst_if}:{dst}/{service}"),
    "710004": msg(DENY, "firewall-rule", r"TCP connection limit exceeded from {src}/{sport} to "
                                         r"{dst_if}:{dst}/{service}",
                  const={"network.transport": "tcp"}),
    "710005": msg(DENY, "firewall-rule", r"{proto} request discarded from {src}/{sport} to "
                                         r"{dst_if}:{dst}/{service}"),
    "710006": msg(DENY, "firewall-rule", r"{proto} request discarded from {src} to "
                                         r"{dst_if}:{dst}"),
    "710007": msg(CONN, "nat-t-keepalive", r"NAT-T keepalive received from {src}/{sport} to "
                  + "{dst_if}:{dst}/{dport}"),

    # --- IKE (713xxx; other ids: the ISAKMP objects only, see GENERIC)
    "713049": msg(VPN_START, "firewall-rule", ISAKMP + r" Security negotiation complete"),
    "713050": msg(VPN_END, "client-vpn-disconnected",
                  ISAKMP + r" Connection terminated for peer .*?\. +Reason: {reason:.*?}(?: "
                           r"Remote Proxy .*)?$"),
    "713119": msg(VPN_INFO, "firewall-rule", ISAKMP + r" PHASE 1 COMPLETED"),
    "713120": msg(VPN_INFO, "firewall-rule", ISAKMP + r" PHASE 2 COMPLETED"),
    "713202": msg(VPN_INFO, "firewall-rule", ISAKMP + r" Duplicate"),
    "713228": msg(VPN_INFO, "address-assigned", ISAKMP + r" Assigned private IP address "
                                                         r"{assigned}"),
    **same(("713901", "713902"), msg(INFO_FAIL, "client-vpn-error",
                                     r"(?:Group = {group:[^,]*}, )?(?:IP = {peer}, )?{reason}")),
    **same(("713903", "713904", "713905", "713906"),
           msg(INFO, "client-vpn-info",
               r"(?:Group = {group:[^,]*}, )?(?:IP = {peer}, )?{reason}")),

    # --- WebVPN (716xxx)
    "716001": msg(VPN_START, "client-vpn-connected", GUI + r" WebVPN session started"),
    "716002": msg(VPN_END, "client-vpn-disconnected", GUI + r" WebVPN session terminated: "
                                                            r"{reason}"),
    "716003": msg(WEB_ALLOW, "webvpn-access", GUI + r" WebVPN access GRANTED: \"?{url:[^\"]+}"),
    "716004": msg(WEB_DENY, "webvpn-access", GUI + r" WebVPN access DENIED to specified "
                                                   r"location: \"?{url:[^\"]+}"),
    **same(("716007", "716009"), msg(VPN_FAIL, "client-vpn-error", GUI)),
    "716038": msg(LOGIN, "logged-in", GUI + r" Authentication: successful, Session Type: "
                                            r"{session_type}"),
    "716039": msg(LOGIN_FAIL, "logon-failed",
                  GUI + r" Authentication: rejected, Session Type: {session_type}",
                  r"Authentication: rejected, group = {group:\S+} user = {user:\S+} , Session "
                  r"Type: {session_type}"),
    "716041": msg(WEB_ALLOW, "webvpn-access", r"access-list {acl} {verdict} url {url}"),
    "716042": msg(ALLOW, "firewall-rule", r"access-list {acl} {verdict} tcp {src_if}/{src}\("
                                          r"{sport}\) ?-?>? ?{dst_if}/{dst}\({dport}\)",
                  const={"network.transport": "tcp"}),
    "716043": msg(VPN_INFO, "webvpn-port-forwarding", r"Group {group:[^,]+}, User "
                                                      r"{user:[^,]+}, IP {peer}:"),
    "716058": msg(VPN_END, "client-vpn-disconnected", GUI + r" AnyConnect session lost"),
    "716059": msg(VPN_START, "client-vpn-resumed",
                  r"Group <?{group:[^<>]*?}>? User(?: <?{user:[^<>]*?}>?)? IP <?{dst}>? "
                  r"AnyConnect session resumed\.? [Cc]onnection from (?:IP )?<?{src}>?"),

    # --- clientless sessions, AnyConnect (721xxx, 722xxx), SSL (725xxx)
    "721016": msg(VPN_START, "client-vpn-connected",
                  r"\([^)]*\) WebVPN session for client user {user:[^,]+}, IP(?:v[46])? {peer} has "
                  r"been created"),
    "721018": msg(VPN_END, "client-vpn-disconnected",
                  r"\([^)]*\) WebVPN session for client user {user:[^,]+}, IP(?:v[46])? {peer} has "
                  r"been deleted"),
    **same(("722010", "722011", "722012", "722013", "722014", "722041"),
           msg(VPN_INFO, "client-vpn-info", GUI)),
    **same(("722022", "722032", "722033", "722034"),
           msg(VPN_START, "client-vpn-connected",
               GUI + r" (?:First |New )?{proto:TCP|UDP} (?:SVC )?connection")),
    "722023": msg(VPN_END, "client-vpn-disconnected",
                  GUI + r" {proto:TCP|UDP} (?:SVC )?connection terminated"),
    "722028": msg(VPN_END, "client-vpn-disconnected", GUI),
    **same(("722037", "722038"), msg(VPN_END, "client-vpn-disconnected",
                                     GUI + r" SVC (?:closing connection|terminating session): "
                                           r"{reason}",
                                     GUI)),
    "722051": msg(VPN_INFO, "address-assigned",
                  GUI + r" IPv4 Address <?{assigned}>?(?: IPv6 address <?{assigned6}>?)? "
                        r"assigned to session",
                  GUI),
    "722055": msg(VPN_INFO, "client-vpn-info", GUI + r" Client Type: {ua}"),
    "725001": msg(START, "tls-handshake-started",
                  r"Starting SSL handshake with {peer_type} " + SRC
                  + r" (?:to {dst}/{dport} )?for {tls} session"),
    "725002": msg(CONN, "tls-handshake-completed",
                  r"Device completed SSL handshake with {peer_type} " + SRC
                  + r"(?: to {dst}/{dport})?(?: for {tls} session)?"),
    "725006": msg(CONN_FAIL, "tls-handshake-failed",
                  r"Device failed SSL handshake with {peer_type} " + SRC
                  + r"(?: to {dst}/{dport})?"),
    "725007": msg(END, "tls-session-ended", r"SSL session with {peer_type} " + SRC
                  + r"(?: to {dst}/{dport})? terminated"),
    "725016": msg(CONN, "tls-trustpoint-selected", r"Device selects trust-point .*? for "
                                                   r"{peer_type} " + SRC
                  + r"(?: to {dst}/{dport})?"),

    # --- threat detection (733xxx), DAP (734xxx), address assignment (737xxx)
    "733100": msg(THREAT, "threat-detected", r"\[ *{object} *\] drop {rate_id} exceeded",
                  title="Threat detection: drop rate exceeded"),
    "733101": msg(THREAT, "threat-detected",
                  r"(?:Host|Subnet) {src} is attacking",
                  r"(?:Host|Subnet) {dst} is targeted",
                  title="Threat detection: host attacking or targeted"),
    "733102": msg(THREAT_DENY, "shun-added", r"Threat-detection adds host {src} to shun list",
                  title="Threat detection: host shunned"),
    "733103": msg(INFO, "shun-deleted", r"Threat-detection removes host {src} from shun list"),
    **same(("733104", "733105"), msg(THREAT, "syn-flood-detected",
                                     r".*?attack detected to (?:host )?{dst}(?:/{dport})?",
                                     title="Threat detection: SYN flood")),
    "734001": msg(LOGIN, "logged-in", r"DAP: User {user:[^,]+}, Addr {peer}, Connection "
                                      r"[^:]+: The following DAP records were selected for this "
                                      r"connection: {dap}"),
    "734002": msg(VPN_FAIL, "client-vpn-error", r"DAP: User {user:[^,]+}, Addr {peer}: "
                                                r"Connection terminated"),
    "734003": msg(VPN_INFO, "dap", r"DAP: User {user:[^,]+}, Addr {peer}"),
    "737003": msg(INFO_FAIL, "address-assignment-failed",
                  r"IPAA: (?:Session={session}, )?DHCP configured, no viable servers found"),
    "737006": msg(VPN_INFO, "address-assigned", r"IPAA: (?:Session={session}, )?Local pool "
                                                r"request succeeded"),
    "737016": msg(VPN_INFO, "address-released", r"IPAA: (?:Session={session}, )?Freeing local "
                                                r"pool {pool} address {assigned}"),
    "737026": msg(VPN_INFO, "address-assigned", r"IPAA: (?:Session={session}, )?Client assigned "
                                                r"{assigned} from local pool {pool}"),
    "746012": msg(AUTH_INFO, "ip-user-mapping-added",
                  r"user-identity: Add IP-User mapping {src} - {user:.+?} Succeeded"),
    "746013": msg(AUTH_INFO, "ip-user-mapping-deleted",
                  r"user-identity: Delete IP-User mapping {src} - {user:.+?} Succeeded"),

    # --- IKEv2 (750xxx, 751xxx; other ids: the IKEv2 objects only, see GENERIC)
    "750002": msg(CONN, "ikev2-init", IKEV2 + r" IKEv2 Received a IKE_INIT_SA request"),
    "750003": msg(VPN_FAIL, "client-vpn-error", IKEV2 + r" IKEv2 Negotiation aborted due to "
                                                        r"ERROR: {reason}"),
    "750006": msg(VPN_START, "client-vpn-connected", IKEV2 + r" IKEv2 SA UP"),
    "750007": msg(VPN_END, "client-vpn-disconnected", IKEV2 + r" IKEv2 SA DOWN\. Reason: "
                                                              r"{reason}"),
    "751025": msg(VPN_INFO, "address-assigned",
                  IKEV2 + r" IKEv2 Group: ?{group:\S+} IPv4 Address=? ?{assigned}"
                          r"(?: IPv6 address=? ?{assigned6})? assigned to session"),

    # --- offloaded flows (805xxx)
    "805001": msg(START, "flow-offload-started", r"Offloaded {proto} Flow for connection {conn} "
                                                 r"from " + SRC + " " + SNAT + " to " + DST + " "
                  + DNAT),
    "805002": msg(END, "flow-offload-ended", r"{proto} Flow is no longer offloaded for connection "
                                             r"{conn} from " + SRC + " " + SNAT + " to " + DST
                  + " " + DNAT),
}

# IPS signatures (the built-in IDS of ASA and PIX): "IPS:2003 ICMP redirect from a to b on
# interface dmz" (PIX: "IDS:").
ASA.update(same((str(i) for i in range(400000, 400051)),
                msg(THREAT, "intrusion-detected",
                    r"I[PD]S:{sig} {signame} from {src} to {dst} on interface {src_if} *$")))
# HTTP inspection (415xxx): "HTTP - matched <what> in policy-map <p>, <action> from a to b".
ASA.update(same((str(i) for i in range(415001, 415021)),
                msg(INFO, "http-inspection", _HTTP_INSPECTION,
                    const={"network.protocol": "http"})))
# The FTD security events (430001-430005) are key: value lists: see .cisco_ftd.

GENERIC = (
    compile_template(GUI),
    compile_template(ISAKMP),
    compile_template(IKEV2),
)
"""Objects many messages begin with (VPN user and peer), tried on any id that has no template
or whose templates do not match."""

GENERIC_PAIRS = (
    compile_template(r"(?:from|src|for|flow) (?:{src_if:[\w.-]+}:)?{src}(?:/{sport})?.{0,80}? "
                     r"(?:to|dst|dest) (?:{dst_if:[\w.-]+}:)?{dst}(?:/{dport})?"),
    compile_template(r"(?:from|src) (?:{src_if:[\w.-]+}:)?{src}(?:/{sport})?"),
)
"""Searched for (not matched at the start) when nothing else read the message: ``from
[if:]address[/port] to [if:]address[/port]`` (or ``for``/``flow`` ... ``to``) and ``src ...
dst ...``, the way most ASA messages name their ends, else a lone ``from``/``src`` (a line cut
short); they count only when the source is an IP address."""
