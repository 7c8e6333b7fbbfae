"""Durable file-system steps shared by the spools (syslog, capture, Elasticsearch)."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from soc.errors import ConfigError

GROUP_UMASK = 0o027
"""With ``data_group``: the group reads what soc writes, others nothing."""


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a new, renamed or removed file) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def share_with_group(data_dir: Path, group: str, *, umask: int | None = GROUP_UMASK) -> int:
    """Let ``group`` read the data directory: the directory belongs to the group and is
    set-group-ID (so what is created inside, at any depth, belongs to it too), and this
    process creates files group-readable (``umask``; ``None`` keeps the current one).
    Returns the group's id. Files created before keep their group and mode."""
    gid = _gid(group)
    if umask is not None:
        os.umask(umask)
    data_dir.mkdir(parents=True, exist_ok=True)
    st = data_dir.stat()
    if st.st_gid == gid and st.st_mode & stat.S_ISGID:
        return gid
    try:
        os.chown(data_dir, -1, gid)
        os.chmod(data_dir, stat.S_IMODE(st.st_mode) | stat.S_ISGID | stat.S_IRGRP | stat.S_IXGRP)
    except PermissionError as exc:
        raise ConfigError(f"cannot give {data_dir} to the group {group}: {exc.strerror}",
                          hint=f"Run soc as the owner of {data_dir}, in the group {group}; "
                               f"or as root: chgrp {group} {data_dir} && chmod g+rxs "
                               f"{data_dir}") from exc
    return gid


def _gid(group: str) -> int:
    try:
        return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(f"data_group: no group named {group!r} on this machine",
                          hint=f"Create it (groupadd {group}) or fix data_group in soc.yml."
                          ) from None
