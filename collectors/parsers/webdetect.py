"""Detectors of web attack classes on decoded request parts, each signal with a CRS severity.

SQL injection and XSS are libinjection's verdicts (the tokenizer ModSecurity's Core Rule Set
uses, through the ``libinjection-python`` binding); the other classes are written from the classes
OWASP and the CRS rule files describe (930 LFI, 931 RFI, 932 RCE, 934 generic, 944 Java), each
requiring the *shape* of an attack rather than a word: a shell metacharacter followed by a command
word, ``../`` leading to an OS file, a template delimiter around an expression. Words alone (a
search for "select", "passwd", "cat") never fire, so Vietnamese and English text stay quiet.

Every detector reads a decoded value (see :mod:`.webdecode`) and appends :class:`Signal` s; the
callers score them (:mod:`.webattack`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import libinjection

from .webshapes import (
    Literals,
    bare_secret,
    code_shape,
    command_shape,
    file_shape,
    secret_file,
    sqli_shape,
    xss_shape,
)

CRITICAL, ERROR, WARNING, NOTICE = 5, 4, 3, 2
"""CRS severities as anomaly points."""
MAX_SHOWN = 60
"""Characters of a value quoted in evidence."""


class Signal(NamedTuple):
    """One detector's finding: class ("" for none), points, ``where: what``, sqli fingerprint."""

    cls: str
    severity: int
    evidence: str
    fingerprint: str = ""


# A value of word characters, dots and single hyphens (ids, slugs, numbers, words, e-mails
# without spaces): no detector below can fire on it, libinjection included.
_PLAIN = re.compile(r"(?:[\w.@]|-(?!-))*")
# libinjection also reads arithmetic (``(3*4)/2``, ``5 > 3 && 2 < 4``) and function-call text
# (``max(1, 2)``, ``if (a > b) then c``) as SQL. A verdict on a value with no quote, comment or
# statement end, whose fingerprint holds no UNION, statement, string or comment token, is strong
# only when a SQL shape (webshapes) confirms it; otherwise it is a notice.
_ESCAPES = re.compile(r"['\"`;#]|--|/\*")
_STRONG_TOKENS = frozenset("UEsc;T")
_DESERIAL_PLAIN = ("rO0AB", "aced0005", "AAEAAAD")

# --- traversal, LFI, RFI (CRS 930, 931)
_TRAVERSAL = re.compile(r"(?:^|[/\\=])\.{2,}(?:[/\\]|;/)|\.\.[/\\]\.\.")  # ....// too
_OS_FILE = re.compile(
    r"(?:^|[/\\])(?:etc[/\\](?:passwd|shadow|group|hosts|issue|crontab|sudoers|"
    r"ssh/sshd_config|mysql/my\.cnf)|proc[/\\](?:self|\d+)[/\\](?:environ|cmdline|maps|fd)|"
    r"(?:windows|winnt)[/\\](?:win\.ini|system\.ini|system32)|boot\.ini|win\.ini|"
    r"var[/\\]log[/\\]|root[/\\]\.(?:bash_history|ssh)|\.ssh[/\\](?:id_rsa|authorized_keys)|"
    r"web-inf[/\\]web\.xml|inetpub[/\\]|system32[/\\]drivers[/\\]etc)", re.I)
_OS_FILE_LITERALS = Literals("etc", "proc", "windows", "winnt", "boot.ini", "win.ini", "var",
                             "root", ".ssh", "web-inf", "inetpub")  # system32\drivers\etc: etc
_RESTRICTED = re.compile(
    r"(?:^|/)(?:\.env(?:\.\w+)?|\.git|\.svn|\.hg|\.htpasswd|\.htaccess|web\.config|"
    r"wp-config\.php\.(?:bak|old|save|swp|txt|orig)|\.aws/credentials|\.DS_Store)(?=$|/)", re.I)
_RESTRICTED_LITERALS = Literals(".env", ".git", ".svn", ".hg", ".htpasswd", ".htaccess",
                                "web.config", "wp-config.php.", ".aws/credentials", ".ds_store")
_WRAPPER = re.compile(r"^\s*(php|file|expect|data|zip|phar|glob|compress\.zlib|jar|netdoc)://|"
                      r"^\s*data:[\w/+.-]*;base64,", re.I)
_REMOTE = re.compile(r"^\s*(?:https?|ftps?|smb|webdav)://([^/?#\s]+)", re.I)
_SCRIPT_FILE = re.compile(r"\.(?:txt|php\d?|phtml|inc|sh|pl|py|jsp|aspx?|cgi)(?:$|[?#\s])", re.I)
_IP_HOST = re.compile(r"(?:[^@]*@)?\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?$")
_INCLUDE_NAMES = frozenset((
    "file", "filename", "page", "include", "inc", "template", "tpl", "path", "filepath", "doc",
    "document", "folder", "root", "dir", "module", "mod", "load", "require", "layout", "conf",
    "config", "lang", "language", "style", "skin", "theme", "view", "show", "content", "cat"))

# --- OS command injection (CRS 932): a separator, then a command word, then an end or argument
_UNIX = (r"whoami|uname|id|wget|curl|nc|ncat|netcat|socat|bash|sh|zsh|ksh|dash|python[23]?|"
         r"perl|ruby|php|lua|ping|nslookup|dig|sleep|cat|head|tail|ls|pwd|chmod|chown|rm|mkfifo|"
         r"busybox|telnet|tftp|echo|printf|env|printenv|uptime|ifconfig|netstat|ps|kill|"
         r"base64|xxd|awk|crontab|useradd|passwd|sudo|su|nohup|exec|eval|xterm|gcc|lsof")
_WINDOWS = (r"cmd|cmd\.exe|powershell|pwsh|certutil|bitsadmin|ipconfig|systeminfo|tasklist|"
            r"taskkill|net|net1|netsh|reg|regsvr32|rundll32|mshta|wmic|cscript|wscript|"
            r"whoami\.exe|hostname|nltest|schtasks|ver|dir|type|copy|del|start|findstr")
_CMD_WORD = rf"(?:/?(?:usr/(?:local/)?)?s?bin/)?(?:{_UNIX}|{_WINDOWS})(?:\.exe)?"
_CMDI = re.compile(
    rf"(?:[;|`\n\r]|&&|\|\||\$\(|(?:^|[\s'\"])&|\)\s*;)\s*{_CMD_WORD}(?=$|[\s;|&`)<>'\"$,]|\$\{{IFS)"
    rf"|`[^`]{{0,80}}?\b(?:{_UNIX})\b[^`]{{0,80}}`|\$\(\s*{_CMD_WORD}\b|\$\{{IFS\}}"
    rf"|\{{(?:{_UNIX}),[^}}]{{1,80}}\}}",
    re.I)
_CMDI_MARKS = re.compile(r"[;|`\n\r&${]")
"""Every alternative of :data:`_CMDI` holds one of these characters (a separator, a backtick, a
substitution, a brace): a value with none skips the search."""
_SHELLSHOCK = re.compile(r"\(\s*\)\s*\{[^}]*\}\s*;")

# --- server-side template injection (PayloadsAllTheThings' SSTI classes)
_SSTI_STRONG = re.compile(
    r"\{\{[^}]{0,200}(?:\d\s*[*+]\s*\d|__\w+__|\bconfig\b|\bself\b|\brequest\b|lipsum|cycler|"
    r"joiner|namespace|popen|\bos\.|import|getRuntime|\.exec|_self\.env|registerUndefined)"
    r"[^}]{0,200}\}\}"
    r"|[$#*@]\{[^}]{0,200}(?:\d\s*\*\s*\d|T\s*\(\s*java|getRuntime|\.exec\(|forName|"
    r"ProcessBuilder|new\s+java|freemarker|\.getClass\(|__\w+__)[^}]{0,200}\}"
    r"|<%=?[^%]{0,200}(?:\d\s*\*\s*\d|system|exec|`|File\.|IO\.|eval)[^%]{0,200}%>"
    r"|\{%[-+]?\s*(?:import|include|set|for|if|print|debug|raw|macro|block|extends)\b"
    r"[^%]{0,200}%\}"
    r"|<#(?:assign|import|include)\b|\$\{\{[^}]{0,200}\}\}|\{\{=", re.I)

# --- JNDI / Log4Shell: nested lookups resolved before looking for ${jndi:
_LOOKUP = re.compile(r"\$\{([^${}]*)\}")
_JNDI = re.compile(r"\$\{\s*jndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|https?)\b", re.I)

# --- SSRF to cloud metadata services
_METADATA_NAMES = re.compile(
    r"169\.254\.169\.254|metadata\.google\.internal|100\.100\.100\.200|instance-data\b|"
    r"fd00:ec2::254|::ffff:a9fe:a9fe|::ffff:169\.254\.169\.254|metadata\.azure\.com|"
    r"169\.254\.170\.2\b|192\.0\.0\.192", re.I)
_METADATA_LITERALS = Literals(
    "169.254.169.254", "metadata.google.internal", "100.100.100.200", "instance-data",
    "fd00:ec2::254", "::ffff:a9fe:a9fe", "::ffff:169.254.169.254", "metadata.azure.com",
    "169.254.170.2", "192.0.0.192")
_URL_HOST = re.compile(r"(?:://|@)\[?([0-9a-fx.:]+)\]?(?=$|[/:?#\]])", re.I)
_METADATA_IPS = frozenset((0xA9FEA9FE, 0x646464C8))
_SSRF_SCHEMES = re.compile(r"^\s*(?:gopher|dict|ldap|tftp|sftp)://", re.I)

# --- deserialisation (CRS 944 Java, 933 PHP)
_PHP_OBJECT = re.compile(r'(?:^|[;{])O:\d+:"[\w\\]+":\d+:\{|^a:\d+:\{(?:i|s):\d+[:;]|'
                         r'C:\d+:"[\w\\]+":\d+:\{')

# --- XSS beyond libinjection's HTML5 contexts: a script URL given as a value
_SCRIPT_URL = re.compile(r"^[\s\x00-\x1f]*(?:javascript|vbscript|livescript)[\s\x00-\x1f]*:",
                         re.I)


def _bare(match: str) -> str:
    return match.lstrip("/\\")


def _show(value: str) -> str:
    return value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "…"


def scan_value(name: str, value: str, out: list[Signal]) -> None:
    """All detectors on one decoded parameter value (``name`` for evidence and RFI's names)."""
    where = f"param {_show(name)}"
    if _PLAIN.fullmatch(value):
        if any(marker in value for marker in _DESERIAL_PLAIN):
            _deserialization(where, value, out)
        elif value[:1] == "." and (secret := bare_secret(value)):
            out.append(Signal("lfi", CRITICAL, f"{where}: secret file {secret}"))
        return
    _injection(where, value, out, CRITICAL)
    _files(where, name, value, out)
    _cmdi(where, value, out)
    _code(where, value, out)
    if "{" in value or "<%" in value or "<#" in value:
        _ssti(where, value, out)
        _jndi(where, value, out)
    _ssrf(where, value, out)
    _deserialization(where, value, out)
    if _SCRIPT_URL.match(value):
        out.append(Signal("xss", CRITICAL, f"{where}: script URL {_show(value)}"))
    if "<" in name:
        _injection(f"name {_show(name)}", name, out, ERROR)


def scan_path(path: str, out: list[Signal]) -> None:
    """The detectors that apply to a decoded path."""
    os_file = _os_file(path)
    if "../" in path or "..;/" in path:
        if os_file:
            out.append(Signal("lfi", CRITICAL, f"path: traversal to {_bare(os_file[0])}"))
        else:  # browsers resolve ../ before sending: only tools send it, deep ones attack
            severity = CRITICAL if path.count("../") >= 3 else ERROR
            out.append(Signal("traversal", severity, "path: ../ in the path"))
    elif os_file is not None and not path.endswith((".html", ".htm")):
        out.append(Signal("lfi", ERROR, f"path: OS file {_bare(os_file[0])}"))
    restricted = None if _RESTRICTED_LITERALS.absent(path) else _RESTRICTED.search(path)
    if restricted:
        out.append(Signal("lfi", ERROR, f"path: restricted file {restricted[0].strip('/')}"))
    if _PLAIN.fullmatch(path.replace("/", "")):
        return
    for segment in path.split("/"):
        if segment and not _PLAIN.fullmatch(segment):
            _injection("path", segment, out, ERROR)
    if "{" in path:
        _ssti("path", path, out)
        _jndi("path", path, out)
    _cmdi("path", path, out)
    _shapes("path", path, out)
    _code("path", path, out)


def scan_header(key: str, value: str, out: list[Signal]) -> None:
    """JNDI lookups and Shellshock in a logged header (user agent, referrer)."""
    where = key.split(".")[0]
    _jndi(where, value.replace("%24%7B", "${").replace("%7D", "}"), out)
    if _SHELLSHOCK.search(value):
        out.append(Signal("cmdi", CRITICAL, f"{where}: shellshock function definition"))


def _injection(where: str, value: str, out: list[Signal], severity: int) -> None:
    sqli = libinjection.is_sql_injection(value)
    if sqli["is_sqli"]:
        fp = sqli["fingerprint"]
        if (severity == CRITICAL and not _STRONG_TOKENS.intersection(fp)
                and not _ESCAPES.search(value) and not sqli_shape(value)):
            severity = NOTICE  # arithmetic or a function call in text: see _ESCAPES
        out.append(Signal("sqli", severity, f"{where}: sqli fingerprint {fp}", fp))
    elif severity == CRITICAL and (shape := sqli_shape(value)):
        out.append(Signal("sqli", CRITICAL, f"{where}: sql {shape}"))
    if ("<" in value or "=" in value or "`" in value) and libinjection.is_xss(value)["is_xss"]:
        out.append(Signal("xss", severity, f"{where}: xss {_show(value)}"))
    elif severity == CRITICAL and (shape := xss_shape(value)):
        out.append(Signal("xss", CRITICAL, f"{where}: xss {shape}"))


def _shapes(where: str, value: str, out: list[Signal]) -> None:
    """The SQL and XSS shapes alone (the path: libinjection there is an error, not critical,
    for slugs tokenize oddly; a shape needs syntax no slug has)."""
    if shape := sqli_shape(value):
        out.append(Signal("sqli", CRITICAL, f"{where}: sql {shape}"))
    if shape := xss_shape(value):
        out.append(Signal("xss", CRITICAL, f"{where}: xss {shape}"))


def _code(where: str, value: str, out: list[Signal]) -> None:
    if shape := code_shape(value):
        out.append(Signal("code", CRITICAL, f"{where}: {shape}"))


def _os_file(text: str) -> re.Match[str] | None:
    return None if _OS_FILE_LITERALS.absent(text) else _OS_FILE.search(text)


def _files(where: str, name: str, value: str, out: list[Signal]) -> None:
    traversal = _TRAVERSAL.search(value) if ".." in value else None
    os_file = _os_file(value)
    if os_file and (traversal or value.lstrip()[:1] in "/\\" or value[1:3] in (":\\", ":/")
                    or os_file.start() == 0):
        out.append(Signal("lfi", CRITICAL, f"{where}: OS file {_bare(os_file[0])}"))
    elif traversal and (secret := secret_file(value)):  # ../.htpasswd, ../config.php (930130)
        out.append(Signal("lfi", CRITICAL, f"{where}: traversal to {secret}"))
    elif traversal and (depth := value.count("..")) >= 2:
        severity = CRITICAL if depth >= 3 else ERROR  # ../../../ is no relative link
        out.append(Signal("traversal", severity, f"{where}: traversal {_show(value)}"))
    elif not os_file and (found := file_shape(value)):  # an absolute path (930120)
        critical, what = found
        out.append(Signal("lfi", CRITICAL if critical else ERROR, f"{where}: {what}"))
    elif value[:1] == "." and (secret := bare_secret(value)):
        out.append(Signal("lfi", CRITICAL, f"{where}: secret file {secret}"))
    wrapper = _WRAPPER.match(value)
    if wrapper:
        scheme = (wrapper[1] or "data").lower()
        cls = "rfi" if scheme in ("data", "expect") else "lfi"
        out.append(Signal(cls, CRITICAL, f"{where}: {scheme} wrapper"))
        return
    remote = _REMOTE.match(value)
    if remote:
        _remote(where, name, value, remote[1], out)


def _remote(where: str, name: str, value: str, host: str, out: list[Signal]) -> None:
    include = name.lower().strip("[]") in _INCLUDE_NAMES
    # RFI's tells (CRS 931100-931120): a trailing ? that cuts the appended suffix, a script
    # or text file, an IP address for a host
    tell = (value.rstrip().endswith("?") or _IP_HOST.match(host) is not None
            or _SCRIPT_FILE.search(value) is not None)
    if include and tell:
        out.append(Signal("rfi", CRITICAL, f"{where}: remote file in an include parameter"))
    elif include or value.rstrip().endswith("?"):
        out.append(Signal("rfi", ERROR, f"{where}: remote URL {_show(value)}"))
    elif tell:
        out.append(Signal("rfi", WARNING, f"{where}: remote URL {_show(value)}"))


def _cmdi(where: str, value: str, out: list[Signal]) -> None:
    if "\\n" in value or "\\r" in value:  # escaped newlines some applications unescape
        value = value.replace("\\n", "\n").replace("\\r", "\n")
    m = _CMDI.search(value) if _CMDI_MARKS.search(value) else None
    if m:
        out.append(Signal("cmdi", CRITICAL, f"{where}: command {_show(m[0].strip())}"))
    elif shape := command_shape(value):
        out.append(Signal("cmdi", CRITICAL, f"{where}: {shape}"))


def _ssti(where: str, value: str, out: list[Signal]) -> None:
    m = _SSTI_STRONG.search(value)
    if m:
        out.append(Signal("ssti", CRITICAL, f"{where}: template expression {_show(m[0])}"))


def resolve_lookups(text: str) -> str:
    """Log4j's nested lookups (``${lower:j}``, ``${::-n}``, ``${env:X:-d}``) replaced by what
    they yield, innermost first, at most 16 times; ``${jndi:...}`` itself is kept."""
    for _ in range(16):
        new = _LOOKUP.sub(_keep_jndi, text)
        if new == text:
            break
        text = new
    return text


def _keep_jndi(m: re.Match[str]) -> str:
    body = m[1].lstrip()
    if body.lower().startswith("jndi:"):
        return "\x01" + body + "\x02"  # kept, in markers the pattern cannot take again
    if ":-" in body:  # ${anything:-default} yields the default
        return body.partition(":-")[2]
    return body.partition(":")[2] or body  # ${lower:x}, ${upper:x}, ${env:NAME}


def _jndi(where: str, value: str, out: list[Signal]) -> None:
    if "${" not in value:
        return
    text = resolve_lookups(value).replace("\x01", "${").replace("\x02", "}")
    if _JNDI.search(text) or _JNDI.search(value):
        out.append(Signal("jndi", CRITICAL, f"{where}: JNDI lookup {_show(value)}"))


def _ssrf(where: str, value: str, out: list[Signal]) -> None:
    m = None if _METADATA_LITERALS.absent(value) else _METADATA_NAMES.search(value)
    if m:
        out.append(Signal("ssrf", CRITICAL, f"{where}: metadata address {m[0]}"))
        return
    if "://" in value or "@" in value:
        for host in _URL_HOST.findall(value):
            if _aton(host) in _METADATA_IPS:
                out.append(Signal("ssrf", CRITICAL, f"{where}: metadata address {host}"))
                return
    if _SSRF_SCHEMES.match(value):
        out.append(Signal("ssrf", CRITICAL, f"{where}: {value.split(':', 1)[0].strip()} URL"))
        return
    target = _URL_TARGET.match(value)
    if target:
        _internal_url(where, target[1].lower(), out)


_URL_TARGET = re.compile(r"^\s*(?:[a-z][\w+.-]{0,15}:)?//(?:[^/?#@\s]*@)?(\[[^\]/]*\]|[^/?#:\s]+)",
                         re.I)
_LOOPBACK_NAMES = frozenset(("localhost", "localhost.localdomain", "ip6-localhost", "[::1]",
                             "[::]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]"))


def _internal_url(where: str, host: str, out: list[Signal]) -> None:
    """A URL given as a value that points back at the server (loopback, ``0.0.0.0``, in any of
    the address forms inet_aton reads): what SSRF payloads ask for (CRS 934110's internal
    targets). A private (RFC 1918) address is left alone: an intranet portal's links carry them."""
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        out.append(Signal("ssrf", CRITICAL, f"{where}: URL to the server itself ({host})"))
        return
    address = _aton(host) if host[:1].isdigit() else None
    if address is None:
        return
    if address >> 24 == 127 or address == 0:
        out.append(Signal("ssrf", CRITICAL, f"{where}: URL to the server itself ({host})"))


def _aton(host: str) -> int | None:
    """An IPv4 address in any of inet_aton's forms (decimal, octal, hex; 1 to 4 parts)."""
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    try:
        nums = [int(p, 16) if p[:2].lower() == "0x" else int(p, 8) if p[:1] == "0" and len(p) > 1
                else int(p) for p in parts]
    except ValueError:
        return None
    *head, last = nums
    if any(n > 255 for n in head) or last >= 1 << (8 * (5 - len(nums))):
        return None
    value = 0
    for n in head:
        value = value << 8 | n
    return value << (8 * (4 - len(head))) | last


def _deserialization(where: str, value: str, out: list[Signal]) -> None:
    if "rO0AB" in value or "aced0005" in value.lower():
        out.append(Signal("deserialization", CRITICAL, f"{where}: Java serialized object"))
    elif "AAEAAAD/////" in value or value.startswith("AAEAAAD"):
        out.append(Signal("deserialization", CRITICAL, f"{where}: .NET BinaryFormatter"))
    elif ":" in value and _PHP_OBJECT.search(value):
        out.append(Signal("deserialization", CRITICAL, f"{where}: PHP serialized object"))
