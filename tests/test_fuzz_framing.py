"""Fuzzing the RFC 6587 framing of syslog streams (``FrameDecoder``), with hypothesis.

The properties: the same byte stream gives the same frames however TCP splits it; messages
framed by octet counting or by LF (mixed, frame by frame) come back as sent; garbage never
raises, and no frame holds more than the limit (an oversize or truncated one names its full
length). Profile ``ci`` of
tests/fuzz/harness.py; ``python benchmarks/fuzz.py`` runs more examples.
"""

from __future__ import annotations

import re
from itertools import pairwise

from hypothesis import example, given
from hypothesis import strategies as st

import tests.fuzz.harness  # noqa: F401 - registers and loads the hypothesis profile
from soc.listen.spool import OVERSIZE, TRUNCATED
from soc.listen.syslog_server import Frame, FrameDecoder

MAX = 64  # max_message_bytes for these tests: small, so that oversize frames come often
_COUNT_LIKE = re.compile(rb"[1-9][0-9]{0,9}( |$)")  # a LF frame that reads as an octet count


def decode(chunks: list[bytes], max_bytes: int = MAX) -> list[Frame]:
    """Feed the chunks to one decoder, then close it: every frame."""
    dec = FrameDecoder(max_bytes)
    frames = [frame for chunk in chunks for frame in dec.feed(chunk)]
    last = dec.close()
    return frames if last is None else [*frames, last]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at ``cuts`` (positions, in any order, repeats allowed)."""
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in pairwise(points)]


def octet(message: bytes) -> bytes:
    return b"%d %s" % (len(message), message)


def lf_safe(message: bytes) -> bool:
    """A message LF framing can carry: no LF, not blank, and not read as an octet count."""
    return b"\n" not in message and bool(message.strip()) and not _COUNT_LIKE.match(message)


messages = st.lists(st.binary(min_size=1, max_size=MAX), max_size=12)
cuts = st.lists(st.integers(min_value=0), max_size=20)
garbage = st.one_of(
    st.binary(max_size=600),
    st.lists(st.sampled_from([b"1", b"9", b"0", b" ", b"\n", b"\r", b"<13>", b"12 ", b"65 ",
                              b"999999999999 ", b"x" * 70, b"1" * 11, b"\x00", b"\xff"]),
             max_size=60).map(b"".join),
)


@given(messages, st.lists(st.booleans(), max_size=12), cuts)
def test_messages_come_back_as_sent_however_split(
        sent: list[bytes], counted: list[bool], at: list[int]) -> None:
    """Octet-counted and LF frames, mixed: the messages as sent, in order, unflagged."""
    framing = [c or not lf_safe(m) for m, c in zip(sent, [*counted, *[True] * len(sent)],
                                                   strict=False)]
    stream = b"".join(octet(m) if c else m + b"\n" for m, c in zip(sent, framing, strict=True))
    assert decode(split(stream, at)) == [(m, 0, len(m)) for m in sent]


@given(garbage, cuts, st.integers(min_value=1, max_value=80))
@example(b"1" * 11 + b" x\n", [10], 64)
@example(b"abc\n 5 hello", [5], 3)
def test_any_stream_frames_the_same_however_split(data: bytes, at: list[int], limit: int) -> None:
    """Garbage never raises; TCP's splits never change the frames; each frame's length covers
    what it kept (an oversize or truncated one names its full length)."""
    whole = decode([data], limit)
    assert decode(split(data, at), limit) == whole
    for message, flags, length in whole:
        assert len(message) <= limit
        assert flags in (0, OVERSIZE, TRUNCATED)
        assert length >= len(message) and (flags or length == len(message))


@given(st.binary(min_size=1, max_size=300), st.integers(min_value=1, max_value=64), cuts)
def test_an_oversize_frame_keeps_its_head_and_full_length(
        message: bytes, limit: int, at: list[int]) -> None:
    """A message longer than the limit: its first ``limit`` bytes, flagged, with its length."""
    flags = OVERSIZE if len(message) > limit else 0
    assert decode(split(octet(message), at), limit) == [(message[:limit], flags, len(message))]
