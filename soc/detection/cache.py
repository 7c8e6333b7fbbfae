"""The rule cache: the built rules (post-pipeline IR, routes, anchors, issues), keyed by content.

The key is a digest of every rule file's path and bytes, the pipelines and placeholders
(:func:`soc.detection.pipelines.fingerprint`) and the code that builds the IR. When nothing
changed, starting an engine is: hash the files, unpickle, compile closures.

A pickle runs code when read, so a cache file is read only when it carries an HMAC-SHA256 made
with this cache's key (``cache.key``, 32 random bytes, mode 0600) and when the directory is the
process's own and writable by nobody else. A file planted by whoever can write the directory,
or one copied from another installation, is ignored and the rules are built again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
import stat
import tempfile
from pathlib import Path

from soc.detection.build import BuiltRules

FORMAT = 2
MAGIC = b"soc-rules-cache\x02"
KEY_FILE = "cache.key"
_CODE_FILES = ("build.py", "ir.py", "loader.py", "pipelines.py", "routing.py", "cache.py")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/soc`` or ``~/.cache/soc``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "soc"


def code_version() -> str:
    """A digest of the modules whose output the cache holds."""
    here = Path(__file__).resolve().parent
    h = hashlib.blake2b(digest_size=8)
    h.update(str(FORMAT).encode())
    for name in _CODE_FILES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def cache_key(rules_digest: str, pipeline_digest: str) -> str:
    return hashlib.blake2b(f"{rules_digest}:{pipeline_digest}:{code_version()}".encode(),
                           digest_size=16).hexdigest()


def cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"rules-{key}.pickle"


def read(cache_dir: Path, key: str) -> BuiltRules | None:
    """The cached build for ``key``, or None (missing, unreadable, from other code, not signed
    with this cache's key, or in a directory others can write)."""
    secret = _secret(cache_dir)
    if secret is None:
        return None
    try:
        blob = cache_path(cache_dir, key).read_bytes()
    except OSError:
        return None
    head, payload = blob[:len(MAGIC) + 32], blob[len(MAGIC) + 32:]
    if head[:len(MAGIC)] != MAGIC or not hmac.compare_digest(head[len(MAGIC):],
                                                              _sign(secret, payload)):
        return None
    try:
        data = pickle.loads(payload)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
        return None
    return data if isinstance(data, BuiltRules) else None


def write(cache_dir: Path, key: str, built: BuiltRules) -> Path | None:
    """Store ``built`` atomically, signed; older cache files of this directory are removed.

    Correlation rules are kept only if pySigma's objects pickle; otherwise the engine reloads them
    from the files when asked. A cache that cannot be written is not an error.
    """
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = _secret(cache_dir)
        if secret is None:
            return None
        payload = _dumps(built)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".rules-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + _sign(secret, payload) + payload)
        target = cache_path(cache_dir, key)
        os.replace(tmp, target)
    except OSError:
        return None
    for old in cache_dir.glob("rules-*.pickle"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()


def _own(st: os.stat_result, others: int) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & others


def _secret(cache_dir: Path) -> bytes | None:
    """This cache's key, made on first use; None when the directory or the key could be
    written (or the key read) by anyone but this user: then no cache is read or written."""
    path = cache_dir / KEY_FILE
    try:
        if not _own(os.stat(cache_dir), stat.S_IWGRP | stat.S_IWOTH):
            return None
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            secret = fh.read(33)
    except OSError:
        return None
    ok = stat.S_ISREG(st.st_mode) and _own(st, 0o077) and len(secret) == 32
    return secret if ok else None


def _dumps(built: BuiltRules) -> bytes:
    try:
        return pickle.dumps(built, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        slim = BuiltRules(rules=built.rules, issues=built.issues, correlations_kept=False)
        return pickle.dumps(slim, protocol=pickle.HIGHEST_PROTOCOL)
