"""The rule cache: the built rules (post-pipeline IR, routes, anchors, issues), keyed by content.

The key is a digest of every rule file's path and bytes, the pipelines and placeholders
(:func:`soc.detection.pipelines.fingerprint`) and the code that builds the IR. When nothing
changed, starting an engine is: hash the files, unpickle, compile closures.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from soc.detection.build import BuiltRules

FORMAT = 1
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
    """The cached build for ``key``, or None (missing, unreadable or from other code)."""
    path = cache_path(cache_dir, key)
    try:
        with path.open("rb") as fh:
            data = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return data if isinstance(data, BuiltRules) else None


def write(cache_dir: Path, key: str, built: BuiltRules) -> Path | None:
    """Store ``built`` atomically; older cache files of this directory are removed.

    Correlation rules are kept only if pySigma's objects pickle; otherwise the engine reloads them
    from the files when asked. A cache that cannot be written is not an error.
    """
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        payload = _dumps(built)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".rules-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        target = cache_path(cache_dir, key)
        os.replace(tmp, target)
    except OSError:
        return None
    for old in cache_dir.glob("rules-*.pickle"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def _dumps(built: BuiltRules) -> bytes:
    try:
        return pickle.dumps(built, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        slim = BuiltRules(rules=built.rules, issues=built.issues, correlations_kept=False)
        return pickle.dumps(slim, protocol=pickle.HIGHEST_PROTOCOL)
