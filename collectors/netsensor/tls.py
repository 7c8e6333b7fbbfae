"""TLS ClientHello and ServerHello: SNI, versions, ALPN, JA3 and JA4 fingerprints.

JA3 (Salesforce): ``version,ciphers,extensions,groups,point formats`` in decimal, GREASE values
removed, MD5. JA4 (FoxIO, the ``JA4`` part of the JA4+ suite, TCP): ``t`` + highest offered
version + ``d``/``i`` (SNI or not) + cipher and extension counts + first/last character of the
first ALPN, then the truncated SHA-256 of the sorted ciphers and of the sorted extensions (SNI and
ALPN left out) followed by the signature algorithms in their order.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

U16 = struct.Struct("!H")
VERSIONS = {0x0304: "1.3", 0x0303: "1.2", 0x0302: "1.1", 0x0301: "1.0", 0x0300: "3.0"}
JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
                0x0002: "s2", 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
EXT_SNI, EXT_GROUPS, EXT_POINTS, EXT_SIGALGS, EXT_ALPN, EXT_VERSIONS = 0, 10, 11, 13, 16, 43
MAX_RECORD = 16384 + 5


class TlsError(ValueError):
    """Not a well-formed hello."""


def is_grease(value: int) -> bool:
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


@dataclass(slots=True)
class Hello:
    """What a ClientHello (or ServerHello) offers."""

    version: int = 0  # legacy_version of the handshake
    ciphers: list[int] = field(default_factory=list)
    extensions: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    points: list[int] = field(default_factory=list)
    sigalgs: list[int] = field(default_factory=list)
    alpn: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    sni: str = ""

    @property
    def highest(self) -> int:
        """The highest version offered (supported_versions, else legacy_version)."""
        real = [v for v in self.versions if not is_grease(v)]
        return max(real) if real else self.version


def record_length(data: bytes) -> int | None:
    """Full length of the handshake record that ``data`` starts, or None if it starts none."""
    if len(data) < 5 or data[0] != 0x16 or data[1] != 3:
        return None
    return 5 + (data[3] << 8 | data[4])


def parse_hello(data: bytes) -> tuple[int, Hello]:
    """``(handshake type, hello)`` of a handshake record holding a Client (1) or Server (2)
    Hello; raises :class:`TlsError` for anything else."""
    try:
        kind = data[5]
        if kind not in (1, 2):
            raise TlsError(f"handshake type {kind} is no hello")
        return kind, _hello(data, kind)
    except (IndexError, struct.error) as exc:
        raise TlsError(f"hello cut short ({exc})") from None


def _hello(data: bytes, kind: int) -> Hello:
    hello = Hello(version=U16.unpack_from(data, 9)[0])
    pos = 11 + 32
    pos += 1 + data[pos]  # session id
    if kind == 1:
        n = U16.unpack_from(data, pos)[0]
        hello.ciphers = [U16.unpack_from(data, pos + 2 + i)[0] for i in range(0, n, 2)]
        pos += 2 + n
        pos += 1 + data[pos]  # compression methods
    else:
        hello.ciphers = [U16.unpack_from(data, pos)[0]]
        pos += 3
    if pos + 2 > len(data):
        return hello
    end = pos + 2 + U16.unpack_from(data, pos)[0]
    pos += 2
    while pos + 4 <= end:
        ext, length = struct.unpack_from("!HH", data, pos)
        _extension(hello, ext, data[pos + 4:pos + 4 + length], kind)
        pos += 4 + length
    return hello


def _u16s(body: bytes, start: int) -> list[int]:
    return [U16.unpack_from(body, i)[0] for i in range(start, len(body) - 1, 2)]


def _extension(hello: Hello, ext: int, body: bytes, kind: int) -> None:
    hello.extensions.append(ext)
    if ext == EXT_SNI and len(body) > 5:
        hello.sni = body[5:5 + U16.unpack_from(body, 3)[0]].decode("ascii", "replace")
    elif ext == EXT_GROUPS:
        hello.groups = _u16s(body, 2)
    elif ext == EXT_POINTS and body:
        hello.points = list(body[1:1 + body[0]])
    elif ext == EXT_SIGALGS:
        hello.sigalgs = _u16s(body, 2)
    elif ext == EXT_ALPN:
        pos = 2
        while pos < len(body):
            hello.alpn.append(body[pos + 1:pos + 1 + body[pos]].decode("ascii", "replace"))
            pos += 1 + body[pos]
    elif ext == EXT_VERSIONS:
        hello.versions = _u16s(body, 1) if kind == 1 else _u16s(body, 0)


def ja3_string(hello: Hello) -> str:
    def dec(values: list[int]) -> str:
        return "-".join(str(v) for v in values if not is_grease(v))

    return ",".join((str(hello.version), dec(hello.ciphers), dec(hello.extensions),
                     dec(hello.groups), "-".join(map(str, hello.points))))


def ja3(hello: Hello) -> str:
    """The JA3 hash of a ClientHello."""
    return hashlib.md5(ja3_string(hello).encode(), usedforsecurity=False).hexdigest()


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def _alpn_chars(hello: Hello) -> str:
    if not hello.alpn or not hello.alpn[0]:
        return "00"
    first = hello.alpn[0]
    if first[0].isascii() and first[0].isalnum() and first[-1].isascii() and first[-1].isalnum():
        return first[0] + first[-1]
    raw = first.encode("ascii", "replace").hex()
    return raw[0] + raw[-1]


def ja4(hello: Hello, transport: str = "t") -> str:
    """The JA4 fingerprint of a ClientHello (``t`` TCP, ``q`` QUIC)."""
    ciphers = [c for c in hello.ciphers if not is_grease(c)]
    exts = [e for e in hello.extensions if not is_grease(e)]
    head = (f"{transport}{JA4_VERSIONS.get(hello.highest, '00')}{'d' if hello.sni else 'i'}"
            f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{_alpn_chars(hello)}")
    cipher_part = ",".join(f"{c:04x}" for c in sorted(ciphers))
    ext_part = ",".join(f"{e:04x}" for e in sorted(exts) if e not in (EXT_SNI, EXT_ALPN))
    if hello.sigalgs:
        ext_part += "_" + ",".join(f"{s:04x}" for s in hello.sigalgs)
    return f"{head}_{_hash12(cipher_part)}_{_hash12(ext_part)}"


def version_name(value: int) -> tuple[str, str]:
    """``(tls.version, tls.version_protocol)``: ``("1.2", "tls")``, ``("3.0", "ssl")``."""
    name = VERSIONS.get(value, f"0x{value:04x}")
    return name, "ssl" if value == 0x0300 else "tls"
