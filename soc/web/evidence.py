"""Evidence files through the console: an upload becomes exactly what ``soc incidents
evidence FILE`` makes of a file (:func:`soc.response.incidents.add_evidence`: hashed, copied to
``<data_dir>/evidence/<incident>/<sha256[:12]>-<name>``, read-only, audited), and a stored file
goes back only from that folder.

The upload's name comes from the browser and is not trusted: only its last component is kept,
without control, bidirectional or Windows-reserved characters, leading dots or more than
:data:`MAX_NAME` bytes (:func:`safe_name`). Its bytes are copied in chunks from Starlette's
spooled temporary file into a private folder under ``<data_dir>/evidence/.uploads/``, counted
against ``incidents.max_upload`` (100 MiB unless soc.yml says otherwise), and that folder is
removed whatever happens: a refused upload leaves nothing behind.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile

from soc.config import Config
from soc.errors import ConfigError
from soc.response.records import Evidence, Incident
from soc.textsafe import UNSAFE_CHARS
from soc.web.context import HttpError

DEFAULT_MAX_UPLOAD = 100 << 20
MAX_NAME = 200  # bytes of UTF-8: the stored name adds 13 to it, file systems allow 255
CHUNK = 1 << 20
UPLOADS = ".uploads"
_BAD = re.compile(f'[{UNSAFE_CHARS}\t\n<>:"|?*]')
_SEPARATORS = re.compile(r"[/\\]")


def max_upload(config: Config) -> int:
    """``incidents.max_upload`` of soc.yml in bytes (``100MiB``, ``5GiB``, a number)."""
    from soc.listen.config import parse_size

    section = config.raw.get("incidents") or {}
    value = section.get("max_upload") if isinstance(section, dict) else None
    if value is None:
        return DEFAULT_MAX_UPLOAD
    try:
        size = parse_size(value)
    except ValueError as exc:
        raise ConfigError(f"incidents.max_upload: {exc}", path=config.path) from None
    if size <= 0:
        raise ConfigError("incidents.max_upload must be more than 0", path=config.path)
    return size


def safe_name(raw: str) -> str:
    """A file name that stays inside the folder it is put in: ``../../etc/passwd`` →
    ``passwd``, ``C:\\x\\a.txt`` → ``a.txt``, ``..`` → ``evidence``."""
    name = _SEPARATORS.split(unicodedata.normalize("NFC", raw))[-1]
    name = _BAD.sub("_", name).strip(" .")
    return _fit(name, MAX_NAME) or "evidence"


def _fit(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` bytes of UTF-8, its extension kept when short."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > 16:
        stem, ext = name, ""
    room = limit - len(ext.encode()) - (1 if ext else 0)
    cut = stem.encode()[:room].decode(errors="ignore")
    return f"{cut}.{ext}" if ext else cut


def shown_name(raw: str) -> str:
    """The name as the browser sent it, for the record: control characters made visible."""
    return _BAD.sub(lambda m: f"\\x{ord(m.group()):02x}" if m.group() not in '<>:"|?*'
                    else m.group(), raw)[:1000]


def upload_of(form: Any) -> UploadFile:
    """The ``file`` part of a multipart form, or a 400 saying how to send one."""
    upload = form.get("file") if hasattr(form, "get") else None
    if not isinstance(upload, UploadFile) or not (upload.filename or upload.size):
        raise HttpError(400, "no file: send multipart/form-data with the file in the field "
                             "'file'", hint="Choose a file to upload.")
    return upload


def too_large(limit: int) -> HttpError:
    return HttpError(413, f"the file is larger than incidents.max_upload ({limit} bytes)",
                     hint="Copy it to the server and add it there: soc incidents evidence "
                          "INCIDENT FILE, or raise incidents.max_upload in soc.yml.")


@contextmanager
def received(config: Config, upload: UploadFile) -> Iterator[Path]:
    """The upload as a file named :func:`safe_name` in a private folder, removed on exit."""
    limit = max_upload(config)
    if upload.size is not None and upload.size > limit:
        raise too_large(limit)
    spool = config.data_dir / "evidence" / UPLOADS
    spool.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=spool))
    try:
        target = folder / safe_name(upload.filename or "")
        _copy(upload, target, limit)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy(upload: UploadFile, target: Path, limit: int) -> None:
    size = 0
    upload.file.seek(0)
    with target.open("xb") as out:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            out.write(chunk)


def stored_file(config: Config, inc: Incident, number: str) -> tuple[Evidence, Path]:
    """Evidence ``number`` (1-based) of ``inc`` and its copy, found only in the incident's
    evidence folder (a record naming a path elsewhere gives a 404, not that file)."""
    if not number.isdigit() or not 1 <= int(number) <= len(inc.evidence):
        raise HttpError(404, f"incident {inc.id} has no evidence {number!r}",
                        key="error.not_found")
    item = inc.evidence[int(number) - 1]
    if not item.stored:
        raise HttpError(404, f"only the hash of {item.name!r} was recorded (--reference)",
                        key="incident.evidence_referenced", hint=f"It came from {item.source}.")
    folder = (config.data_dir / "evidence" / inc.id).resolve()
    path = (folder / Path(item.stored).name).resolve()
    if path.parent != folder or not path.is_file():
        raise HttpError(404, f"the copy of {item.name!r} is no longer in {folder}",
                        key="incident.evidence_missing")
    return item, path
