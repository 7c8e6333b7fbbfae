"""Server-side console sessions, in memory: the cookie holds only a random id.

A session is *anonymous* (a visitor of the login page: it only carries the CSRF token of the
login form) until :meth:`Sessions.login` replaces it with a new one under a new id, so an id
planted before login (session fixation) is worthless after it. A session ends when unused for
``idle`` or ``longest`` after it began, measured on the injected clock; a restart of the console
ends them all (log in again), which suits a team of a few analysts.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

MAX_ANONYMOUS = 10_000
"""Anonymous sessions kept at most: a flood of login-page visits evicts the oldest, never a
logged-in analyst's session."""


@dataclass(frozen=True)
class Session:
    """One browser's session: ``user`` is None before login."""

    id: str
    csrf: str
    user: str | None
    created: datetime
    seen: datetime
    via: str = "session"  # "session" (a login) or "proxy" (reverse-proxy header auth)


class Sessions:
    """The live sessions of one console process (thread-safe)."""

    def __init__(self, clock: Callable[[], datetime], *, idle: timedelta,
                 longest: timedelta) -> None:
        self.clock = clock
        self.idle = idle
        self.longest = longest
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (its idle time restarts), None when unknown or
        expired (an expired one is dropped)."""
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            found = self._by_id.get(session_id)
            if found is None:
                return None
            if self._expired(found, now):
                del self._by_id[session_id]
                return None
            found = replace(found, seen=now)
            self._by_id[session_id] = found
            return found

    def anonymous(self) -> Session:
        """A new session for a visitor who has not logged in (it holds a CSRF token)."""
        return self._new(None, "session")

    def login(self, old_id: str | None, user: str, *, via: str = "session") -> Session:
        """The session of a user who just logged in: always a new id and token; the old
        session (``old_id``) is dropped."""
        self.drop(old_id)
        return self._new(user, via)

    def drop(self, session_id: str | None) -> None:
        """End a session (logout, or its replacement at login)."""
        if session_id:
            with self._lock:
                self._by_id.pop(session_id, None)

    def drop_user(self, user: str) -> int:
        """End every session of ``user`` (disabled, or their password changed)."""
        with self._lock:
            gone = [k for k, s in self._by_id.items() if s.user == user]
            for k in gone:
                del self._by_id[k]
        return len(gone)

    def __len__(self) -> int:
        return len(self._by_id)

    def _new(self, user: str | None, via: str) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, now, now,
                          via)
        with self._lock:
            self._sweep(now)
            self._by_id[session.id] = session
        return session

    def _expired(self, session: Session, now: datetime) -> bool:
        return now - session.seen >= self.idle or now - session.created >= self.longest

    def _sweep(self, now: datetime) -> None:
        """Forget expired sessions, and the oldest anonymous ones past MAX_ANONYMOUS."""
        for k in [k for k, s in self._by_id.items() if self._expired(s, now)]:
            del self._by_id[k]
        anonymous = [s for s in self._by_id.values() if s.user is None]
        if len(anonymous) >= MAX_ANONYMOUS:
            anonymous.sort(key=lambda s: s.seen)
            for s in anonymous[:len(anonymous) - MAX_ANONYMOUS + 1]:
                del self._by_id[s.id]
