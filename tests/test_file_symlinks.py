"""File discovery never leaves a source's folders, never opens a FIFO, and walks a bounded tree.

The cron job's cases run the real CLI in a subprocess with a timeout: a pass that walks the
whole disk or blocks on a FIFO fails the test instead of hanging it.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from collectors.file import FileCollector, Work, _open
from collectors.fileid import Entry
from collectors.fileplan import LOCAL, find_files
from collectors.filewalk import WalkRules, root_of, walk
from collectors.sftp import SftpCollector
from soc.config import Config, Source, load_config
from soc.errors import ConfigError, ExitCode, PartialError
from soc.state import StateStore
from soc.stores.base import open_store
from tests.test_sftp import Server, options, server  # noqa: F401 - the module's sshd fixture

SECRET = "root:$6$Zx9secretsalt$secrethash:19000:0:99999:7:::"
LINE = "Nov 24 08:00:0{n} portal-web01 sshd[4{n}]: Accepted publickey for ops{n}\n"
TIMEOUT = 60  # seconds; the fixed passes take about one


# --- helpers -----------------------------------------------------------------------------------


def project(tmp_path: Path, *globs: str) -> Path:
    """A config with one source ``auth`` over ``globs`` (relative to tmp_path), a log in
    ``logs/`` and a secret file outside it."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "auth.log").write_text(LINE.format(n=1), encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "shadow.log").write_text(SECRET + "\n", encoding="utf-8")
    cfg = tmp_path / "soc.yml"
    paths = ", ".join(f"'{g}'" for g in globs)
    cfg.write_text(f"data_dir: data\nsources:\n  - {{name: auth, paths: [{paths}]}}\n",
                   encoding="utf-8")
    return cfg


def collect(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soc", "-c", str(cfg), "collect", "--json",
                           "--no-detect"], capture_output=True, text=True, timeout=TIMEOUT)


def stored_texts(cfg: Path) -> str:
    """Everything the store holds, events and dead letters, as one text to search."""
    with open_store(load_config(cfg), readonly=True) as store:
        events = [json.dumps(e) for e in store.search("*", limit=None)]
        dead = [d.text() for d in store.dead_letters()]
    return "\n".join(events + dead)


def source_error(done: subprocess.CompletedProcess[str]) -> str:
    (src,) = json.loads(done.stdout)["sources"]
    return str(src["error"])


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(tmp_path / "state" / "state.db")
    yield store
    store.close()


def collector(state: StateStore, *paths: Path | str, **opts: Any) -> FileCollector:
    source = Source(name="logs", type="file", paths=tuple(str(p) for p in paths),
                    options=MappingProxyType(opts))
    return FileCollector(source, state, Config(path=None, data_dir=state.path.parent))


def read_all(c: FileCollector) -> tuple[list[str], str | None]:
    """One committed pass: the lines read, and the partial error's message if any."""
    texts: list[str] = []
    try:
        for batch in c.batches(100):
            texts += [r.text for r in batch.records]
            c.commit(batch)
    except PartialError as exc:
        return texts, exc.message
    return texts, None


# --- finding 4, through the real CLI -----------------------------------------------------------


def test_link_to_a_file_outside_the_root_is_not_read(tmp_path: Path) -> None:
    """`ln -s /etc/shadow logs/x.log` stored the secret file as dead letters."""
    cfg = project(tmp_path, "logs/*.log")
    (tmp_path / "logs" / "x.log").symlink_to(tmp_path / "outside" / "shadow.log")
    done = collect(cfg)
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    assert source_error(done) == (
        f"1 file(s) not read: {tmp_path}/logs/x.log: a symlink to "
        f"{tmp_path}/outside/shadow.log, outside the source's folders ({tmp_path}/logs): "
        "not followed")
    assert "Hint: Point the glob at the real folder, set options.symlinks: follow" in done.stderr
    assert json.loads(done.stdout)["events"] == 1  # auth.log is read all the same
    assert "secrethash" not in stored_texts(cfg)


def test_link_to_root_under_doublestar_does_not_walk_the_disk(tmp_path: Path) -> None:
    """A link to / under a ** glob kept the pass walking the whole disk, lock held; the walk
    reached every *.log file of the machine (this test's secret included)."""
    cfg = project(tmp_path, "logs/**/*.log")
    (tmp_path / "logs" / "root").symlink_to("/")
    done = collect(cfg)  # before the fix: the timeout, or the secret read through logs/root
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    assert source_error(done) == (f"1 file(s) not read: {tmp_path}/logs/root: a symlink to /, "
                                  f"outside the source's folders ({tmp_path}/logs): not followed")
    assert json.loads(done.stdout)["events"] == 1
    assert "secrethash" not in stored_texts(cfg)


def test_symlink_loops_under_doublestar_end(tmp_path: Path) -> None:
    """Two links to their own folder: glob's walk followed logs/a/b/a/b/... 2^40 ways."""
    cfg = project(tmp_path, "logs/**/*.log")
    (tmp_path / "logs" / "a").symlink_to(".")
    (tmp_path / "logs" / "b").symlink_to(tmp_path / "logs")
    done = collect(cfg)
    assert done.returncode == ExitCode.OK, done.stderr  # links inside the folder are fine
    assert json.loads(done.stdout)["events"] == 1  # auth.log once, by one path


def test_fifo_under_the_glob_is_reported_not_opened(tmp_path: Path) -> None:
    """A FIFO matched by the glob is named in the pass report; the pass does not wait on it."""
    cfg = project(tmp_path, "logs/**/*.log")
    (tmp_path / "logs" / "deep").mkdir()
    os.mkfifo(tmp_path / "logs" / "deep" / "pipe.log")
    done = collect(cfg)
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    assert source_error(done) == (f"1 file(s) not read: {tmp_path}/logs/deep/pipe.log: a FIFO "
                                  "(named pipe), not a regular file: skipped, never opened")
    assert "Hint: Only regular files are read; add the path to options.exclude" in done.stderr
    assert json.loads(done.stdout)["events"] == 1


# --- opening -----------------------------------------------------------------------------------


def _opens_without_blocking(fifo: Path, opener: Any) -> BaseException | None:
    """Run ``opener`` on a thread; if it blocks on the FIFO, release it and fail."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            opener()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the writer it waits for
        t.join(10)
        pytest.fail("opening a FIFO blocked the pass")
    return outcome[0]


def test_a_fifo_put_in_a_files_place_does_not_block(tmp_path: Path) -> None:
    """Between planning and reading a log can be replaced by a FIFO: opening it must not wait
    for a writer (the pass would hang with the lock held)."""
    fifo = tmp_path / "auth.log"
    os.mkfifo(fifo)
    err = _opens_without_blocking(fifo, lambda: LOCAL.open(str(fifo)))
    assert str(err) == "[Errno 22] a FIFO (named pipe), not a regular file"
    entry = Entry("f", str(fifo), dev=0, ino=0, fp="", fp_len=0, offset=0, size=0)
    work = Work(str(fifo), entry, False, False, 0, 0, 0)
    assert isinstance(_opens_without_blocking(fifo, lambda: _open(work)), OSError)


# --- the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "texts", "error"), [
    ("inside", ["inner"], "a symlink to {t}/outside/x.log, outside the source's folders "
                          "({t}/logs): not followed"),
    ("never", ["inner"], "a symlink, not followed (symlinks: never)"),
    ("follow", ["inner", "outer"], None),
])
def test_symlinks_option(state: StateStore, tmp_path: Path, mode: str, texts: list[str],
                         error: str | None) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "logs" / "real").mkdir()
    (tmp_path / "logs" / "real" / "in.log").write_text("inner\n")
    (tmp_path / "outside" / "x.log").write_text("outer\n")
    (tmp_path / "logs" / "in").symlink_to(tmp_path / "logs" / "real")  # a folder link, inside
    (tmp_path / "logs" / "out.log").symlink_to(tmp_path / "outside" / "x.log")
    got, message = read_all(collector(state, f"{tmp_path}/logs/**/*.log", symlinks=mode))
    assert sorted(got) == texts
    if error is None:
        assert message is None
    elif mode == "never":
        assert message == (f"2 file(s) not read: {tmp_path}/logs/in: {error}; "
                           f"{tmp_path}/logs/out.log: {error}")
    else:
        assert message == f"1 file(s) not read: {tmp_path}/logs/out.log: " + error.format(
            t=tmp_path)


def test_links_to_files_where_the_glob_wants_folders_are_no_concern(state: StateStore,
                                                                    tmp_path: Path) -> None:
    (tmp_path / "logs" / "web").mkdir(parents=True)
    (tmp_path / "logs" / "web" / "auth.log").write_text("web\n")
    (tmp_path / "shadow").write_text(SECRET + "\n")
    (tmp_path / "logs" / "notes").symlink_to(tmp_path / "shadow")  # matched by * as a folder?
    for pattern in ("logs/*/auth.log", "logs/**/auth.log"):
        assert read_all(collector(state, f"{tmp_path}/{pattern}")) == (["web"], None)
        state.reset("logs")


def test_a_link_into_another_root_of_the_source_is_inside(state: StateStore,
                                                          tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    (tmp_path / "b" / "real.log").write_text("b's line\n")
    (tmp_path / "a" / "link.log").symlink_to(tmp_path / "b" / "real.log")
    c = collector(state, f"{tmp_path}/a/*.log", f"{tmp_path}/b/*.txt")
    assert read_all(c) == (["b's line"], None)


def test_a_root_behind_a_symlink_is_resolved(state: StateStore, tmp_path: Path) -> None:
    """The folder named in the glob may itself be a link (/var/log → /data/log)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.log").write_text("one\n")
    (tmp_path / "var").symlink_to(tmp_path / "data")
    assert read_all(collector(state, f"{tmp_path}/var/*.log")) == (["one"], None)


def test_excluded_paths_are_not_reported(state: StateStore, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.log")
    (tmp_path / "a.log").write_text("one\n")
    assert read_all(collector(state, f"{tmp_path}/*.log", exclude=["pipe.log"])) == (["one"],
                                                                                     None)


def test_walk_is_bounded(state: StateStore, tmp_path: Path) -> None:
    """A tree bigger than max_walk_entries: the pass says so, reads what it found, and takes
    no file it did not reach for gone."""
    for i in range(20):
        (tmp_path / f"d{i:02d}").mkdir()
        (tmp_path / f"d{i:02d}" / "x.log").write_text(f"line {i}\n")
    pattern = f"{tmp_path}/**/*.log"
    assert len(read_all(collector(state, pattern))[0]) == 20
    got, message = read_all(collector(state, pattern, max_walk_entries=15))
    assert message == (f"1 file(s) not read: {pattern}: directory walk stopped after 15 entries "
                       "(max_walk_entries): files further on were not looked for")
    assert got == []  # nothing new in the files it reached
    assert not [k for k, v in state.all("logs").items() if not k.startswith("_") and v["gone"]]


@pytest.mark.parametrize(("options", "message"), [
    ({"symlinks": "sometimes"}, "symlinks must be inside, never, follow, not 'sometimes'"),
    ({"max_walk_entries": 0}, "max_walk_entries must be a positive integer, not 0"),
])
def test_bad_options(state: StateStore, tmp_path: Path, options: dict[str, Any],
                     message: str) -> None:
    with pytest.raises(ConfigError) as info:
        collector(state, tmp_path / "*.log", **options)
    assert info.value.message == f"options: {message}"


# --- glob's matching is kept -------------------------------------------------------------------


def test_root_of() -> None:
    assert root_of("/var/log/*.log") == "/var/log"
    assert root_of("/var/log/auth.log") == "/var/log"
    assert root_of("/srv/*/logs/**/*.log") == "/srv"
    assert root_of("/*.log") == "/"


@pytest.mark.parametrize("pattern", [
    "*.log", "**/*.log", "**", "*/x*.log", "a/**/b/*.log", "[ab]/?.log", ".h*/*.log",
    "a/.hidden.log", "a/**", "a/b/c.log", "missing/*.log", "**/b", "a/**/*",
])
def test_same_matches_as_glob_without_symlinks(tmp_path: Path, pattern: str) -> None:
    for name in ("x.log", "y.txt", ".hidden.log", "a/x.log", "a/.hidden.log", "a/b/c.log",
                 "a/b/d.log", "a/b/e/f.log", "b/b/z.log", ".h/i.log", "a/.h/j.log", "b/k.log"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    full = f"{tmp_path}/{pattern}"
    expected = sorted(p for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    assert walk(LOCAL, [full]).paths == expected
    assert find_files([full], (), LOCAL, WalkRules("never")).paths == expected


# --- the same rules on the remote side ---------------------------------------------------------


def test_remote_links_out_and_fifos_are_not_read(state: StateStore, server: Server,  # noqa: F811
                                                 tmp_path: Path) -> None:
    if server.kind != "openssh":
        pytest.skip("the fallback SFTP server lists with stat, not lstat: symlinks cannot be "
                    "seen (apt-get install openssh-server)")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "auth.log").write_text("remote line\n")
    (tmp_path / "shadow").write_text(SECRET + "\n")
    (tmp_path / "logs" / "x.log").symlink_to(tmp_path / "shadow")
    (tmp_path / "logs" / "root").symlink_to("/")
    os.mkfifo(tmp_path / "logs" / "pipe.log")
    source = Source(name="remote", type="sftp", paths=(f"{tmp_path}/logs/**/*.log",),
                    options=MappingProxyType(options(server)))
    c = SftpCollector(source, state, Config(path=None, data_dir=state.path.parent))
    got, message = read_all(c)
    assert got == ["remote line"]
    logs = f"{tmp_path}/logs"
    assert message == (
        f"3 file(s) not read: {logs}/pipe.log: a FIFO (named pipe), not a regular file: "
        f"skipped, never opened; {logs}/root: a symlink to /, outside the source's folders "
        f"({logs}): not followed; {logs}/x.log: a symlink to {tmp_path}/shadow, outside the "
        f"source's folders ({logs}): not followed")
