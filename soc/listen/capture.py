"""Live capture for ``soc listen``: an interface and a BPF filter → sensor events → durable spool.

The ``network:`` section of soc.yml::

    network:
      max_flows: 100000          # flow table bound; the least recently seen flow is evicted
      idle_timeout: 60s          # a flow without packets this long ends
      dns_timeout: 10s           # a DNS query unanswered this long is reported alone
      inspect_packets: 12        # payload packets per flow read for HTTP/TLS/logins
      capture:
        - interface: ens1f1      # a mirror (SPAN) port
          bpf: "not port 5514"   # libpcap filter syntax (needs libpcap)
          source: capture-ens1f1 # the source the events are drained as (default capture-<if>)
          promiscuous: true

:func:`run_capture` reads frames from an ``AF_PACKET`` socket (root or ``CAP_NET_RAW``), feeds the
sensor (found through the ``netcapture`` collector entry point: ``soc`` never imports
``collectors``) and appends its events to a spool of the same format as the syslog spool; the
``netcapture`` source drains that spool through the pipeline, as ``soc listen`` does for syslog.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from soc import registry
from soc.config import Config, Source, _Reader
from soc.ecs import Event, event_id
from soc.errors import ConfigError, SocError
from soc.listen.spool import SpoolWriter, encode, spool_dir
from soc.timeutil import parse_duration

CAPTURE_TYPE = "netcapture"
"""Source type (collector entry point) of the spool that live capture fills."""
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_STATISTICS = 6
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
ARPHRD_ETHER_LIKE = frozenset((1, 772))  # Ethernet, loopback (Ethernet framing)
LINK_EN10MB, LINK_RAW = 1, 101
SENSOR_KEYS = {"max_flows": int, "inspect_packets": int, "max_pending_dns": int,
               "max_arp": int, "idle_timeout": float, "dns_timeout": float, "linger": float}
SPOOL_SEGMENT = 16 << 20
FLUSH_CHUNK = 5000  # flows ended, and their events spooled, at a time when the capture stops
Sink = Callable[[list[Event]], None]


class CaptureError(SocError):
    """Live capture cannot start (permissions, interface, filter)."""


@dataclass(frozen=True)
class CaptureConfig:
    interface: str
    bpf: str = ""
    source: str = ""
    promiscuous: bool = True
    snaplen: int = 65535


@dataclass(frozen=True)
class NetworkConfig:
    """The ``network:`` section: sensor limits and the interfaces to capture on."""

    sensor: Mapping[str, float | int] = field(default_factory=lambda: MappingProxyType({}))
    captures: tuple[CaptureConfig, ...] = ()


def sensor_limits(reader: _Reader) -> dict[str, float | int]:
    """The sensor settings a mapping holds (``network:`` or a pcap source's ``options``)."""
    out: dict[str, float | int] = {}
    for key, kind in SENSOR_KEYS.items():
        value = reader.data.get(key)
        if value is None:
            continue
        try:
            number = (parse_duration(value).total_seconds() if kind is float
                      else int(value))
        except (TypeError, ValueError) as exc:
            raise reader.error(f"{reader.what}: {key}: {exc}", reader.line_of(key)) from None
        if number <= 0 or isinstance(value, bool):
            raise reader.error(f"{reader.what}: {key} must be positive", reader.line_of(key))
        out[key] = number
    return out


def load_network_config(config: Config) -> NetworkConfig:
    """Read ``config.raw['network']``; a :class:`ConfigError` names the file and line."""
    data = config.raw.get("network")
    root = _Reader(data, config.path, "network", getattr(data, "line", None))
    root.check_keys({*SENSOR_KEYS, "capture"})
    captures = []
    for r in root.items("capture", "network.capture"):
        r.check_keys({"interface", "bpf", "source", "promiscuous", "snaplen"})
        iface = str(r.get("interface", str, required=True))
        captures.append(CaptureConfig(
            interface=iface, bpf=str(r.get("bpf", str, "")),
            source=str(r.get("source", str, f"capture-{iface}")),
            promiscuous=bool(r.get("promiscuous", bool, True)),
            snaplen=int(r.get("snaplen", int, 65535))))
    return NetworkConfig(MappingProxyType(sensor_limits(root)), tuple(captures))


def capture_source(capture: CaptureConfig, config: Config | None = None) -> Source:
    """The source that drains a capture's spool through the pipeline: the one of that name in
    ``config.sources`` (its ``system`` applies), else a default one."""
    name = capture.source or f"capture-{capture.interface}"
    for source in config.sources if config is not None else ():
        if source.name == name:
            return source
    return Source(name=name, type=CAPTURE_TYPE, parser="netevent")


# --- the socket ----------------------------------------------------------------------------------


def open_socket(interface: str, bpf: str = "", promiscuous: bool = True) -> socket.socket:
    """An ``AF_PACKET`` socket on ``interface`` with ``bpf`` attached; :class:`CaptureError`
    with what to do when the process may not capture or the interface does not exist."""
    try:
        # Protocol 0: the socket receives nothing until it is bound to ETH_P_ALL below, after the
        # filter is attached, so no frame the filter rejects slips in while it is compiled.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        raise CaptureError(
            f"capturing on {interface} needs root or the CAP_NET_RAW capability",
            hint="Run 'soc listen' as root, or grant the capability: systemd "
                 "'AmbientCapabilities=CAP_NET_RAW', or 'setcap cap_net_raw+ep' on the "
                 "Python interpreter of the virtualenv.") from None
    try:
        try:  # before compiling a filter for it, the kernel's own word for a missing interface
            socket.if_nametoindex(interface)
        except OSError:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV)) from None
        if bpf:
            _attach_filter(sock, bpf, interface)
        sock.bind((interface, ETH_P_ALL))  # CPython converts to network order
        if promiscuous:
            index = socket.if_nametoindex(interface)
            mreq = struct.pack("IHH8s", index, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    except OSError as exc:
        sock.close()
        raise CaptureError(f"cannot capture on {interface}: {exc.strerror or exc}",
                           hint="Check the interface name with 'ip link'.") from None
    except CaptureError:
        sock.close()
        raise
    return sock


def _attach_filter(sock: socket.socket, bpf: str, interface: str) -> None:
    try:
        from scapy.arch.linux import attach_filter

        attach_filter(sock, bpf, interface)
    except ImportError as exc:
        raise CaptureError(f"cannot compile the BPF filter {bpf!r}: {exc}",
                           hint="Install libpcap (Debian/Ubuntu: apt install libpcap0.8), "
                                "or remove network.capture.bpf.") from None
    except Exception as exc:  # noqa: BLE001 - scapy raises several types for a bad filter
        raise CaptureError(f"invalid BPF filter {bpf!r}: {exc}",
                           hint="Use libpcap filter syntax, e.g. 'not port 5514'.") from None


def kernel_stats(sock: socket.socket) -> tuple[int, int]:
    """``(packets, drops)`` the kernel counted since the last call."""
    with contextlib.suppress(OSError):
        raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        return packets, drops
    return 0, 0


# --- the loop ------------------------------------------------------------------------------------


@dataclass
class CaptureReport:
    """What one run of :func:`run_capture` did (kept up to date while it runs)."""

    interface: str
    frames: int = 0
    events: int = 0
    kernel_drops: int = 0
    sensor: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"interface": self.interface, "frames": self.frames, "events": self.events,
                "kernel_drops": self.kernel_drops, "sensor": dict(self.sensor)}


class SpoolSink:
    """Appends sensor events to the capture source's spool (one fdatasync per call)."""

    def __init__(self, config: Config, source: str) -> None:
        self.writer = SpoolWriter(spool_dir(config.data_dir, source), SPOOL_SEGMENT)
        self.writer.open()

    def __call__(self, events: list[Event]) -> None:
        if events:
            now = time.time()
            self.writer.write([encode(orjson.dumps(ev), now, (0, 0, b"")) for ev in events])

    def close(self) -> None:
        self.writer.close()


def make_sensor(config: Config, ident: str, observer: dict[str, Any]) -> Any:
    """A sensor from the ``netcapture`` collector plugin, with the ``network:`` limits."""
    cls = registry.load("collector", CAPTURE_TYPE)
    return cls.sensor(ident, dict(load_network_config(config).sensor), observer)


def run_capture(config: Config, interface: str, bpf: str, stop_event: threading.Event, *,
                sink: Sink | None = None, source: str | None = None,
                promiscuous: bool = True, flush_interval: float = 0.5) -> CaptureReport:
    """Capture on ``interface`` until ``stop_event`` is set; events go to ``sink`` (default:
    the spool of ``source``, ``capture-<interface>``) every ``flush_interval`` seconds."""
    sock = open_socket(interface, bpf, promiscuous)
    return _run(config, sock, interface, stop_event, sink, source, flush_interval)


def _run(config: Config, sock: socket.socket, interface: str, stop_event: threading.Event,
         sink: Sink | None, source: str | None, flush_interval: float,
         report: CaptureReport | None = None) -> CaptureReport:
    try:
        out: Sink = sink if sink is not None else SpoolSink(config,
                                                            source or f"capture-{interface}")
    except BaseException:
        sock.close()
        raise
    ident = event_id("capture", socket.gethostname(), interface, time.time_ns(), os.getpid())
    sensor = make_sensor(config, ident, {"observer.ingress.interface.name": interface,
                                         "observer.hostname": socket.gethostname(),
                                         "observer.type": "sensor"})
    report = report or CaptureReport(interface)
    try:
        _loop(sock, sensor, out, stop_event, flush_interval, report, interface == "lo")
        _flush(sensor, out, report)
    finally:
        report.kernel_drops += kernel_stats(sock)[1]
        report.sensor = sensor.stats.to_dict()
        sock.close()
        if sink is None and isinstance(out, SpoolSink):
            out.close()
    return report


class CaptureThread(threading.Thread):
    """One configured capture for ``soc listen``: the socket opens in the constructor (so a
    missing capability or interface is a :class:`CaptureError` at start-up, not in a thread);
    :meth:`start` captures into the spool of :func:`capture_source`; :meth:`finish` stops,
    flushes the open flows and joins. ``report`` (kept up to date) and ``error`` tell how it
    goes; :meth:`status` is both, for ``listen.json``."""

    def __init__(self, config: Config, capture: CaptureConfig, *,
                 sink: Sink | None = None) -> None:
        super().__init__(name=f"soc-capture-{capture.interface}", daemon=True)
        self.config = config
        self.capture = capture
        self.source = capture_source(capture, config)
        self.sink = sink
        self.stop_event = threading.Event()
        self.sock = open_socket(capture.interface, capture.bpf, capture.promiscuous)
        self.report = CaptureReport(capture.interface)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _run(self.config, self.sock, self.capture.interface, self.stop_event, self.sink,
                 self.source.name, 0.5, self.report)
        except Exception as exc:  # noqa: BLE001 - reported to the daemon, which logs it
            self.error = exc

    def finish(self, timeout: float = 10.0) -> CaptureReport:
        """Stop, end and spool the open flows, join; a thread never started closes its
        socket."""
        self.stop_event.set()
        if self.ident is None:
            self.sock.close()
        else:
            self.join(timeout)
        return self.report

    def status(self) -> dict[str, Any]:
        """Counters and state, for ``listen.json``."""
        return {**self.report.to_dict(), "source": self.source.name, "bpf": self.capture.bpf,
                "running": self.is_alive(),
                "error": None if self.error is None else _describe(self.error)}


def open_captures(config: Config, captures: tuple[CaptureConfig, ...]) -> list[CaptureThread]:
    """A :class:`CaptureThread` per capture, not started; the first :class:`CaptureError`
    closes the sockets already open and propagates."""
    threads: list[CaptureThread] = []
    try:
        for capture in captures:
            threads.append(CaptureThread(config, capture))
    except BaseException:
        for thread in threads:
            thread.finish()
        raise
    return threads


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, SocError) else f"{type(exc).__name__}: {exc}"


def _loop(sock: socket.socket, sensor: Any, sink: Sink, stop: threading.Event,
          interval: float, report: CaptureReport, loopback: bool) -> None:
    sock.settimeout(0.1)
    next_flush = time.monotonic() + interval
    while not stop.is_set():
        try:
            data, addr = sock.recvfrom(65535)
        except TimeoutError:
            data, addr = b"", None
        now = time.time()
        if addr is not None and not (loopback and addr[2] == PACKET_OUTGOING):
            report.frames += 1
            sensor.feed(now, data, LINK_EN10MB if addr[3] in ARPHRD_ETHER_LIKE else LINK_RAW)
        if time.monotonic() >= next_flush:
            sensor.expire(now)
            events = sensor.take()
            sink(events)
            report.events += len(events)
            report.kernel_drops += kernel_stats(sock)[1]
            report.sensor = sensor.stats.to_dict()
            next_flush = time.monotonic() + interval


def _flush(sensor: Any, sink: Sink, report: CaptureReport) -> None:
    """End the open flows, :data:`FLUSH_CHUNK` at a time (100k open flows are 100k events)."""
    done = False
    while not done:
        done = sensor.flush(FLUSH_CHUNK)
        events = sensor.take()
        sink(events)
        report.events += len(events)


def check_capture_config(config: Config) -> NetworkConfig:
    """Validate ``network:`` (for ``soc listen --check``); raises :class:`ConfigError`."""
    settings = load_network_config(config)
    names = [c.source for c in settings.captures]
    if len(set(names)) != len(names):
        raise ConfigError("network.capture: two captures drain into the same source",
                          path=config.path)
    for capture in settings.captures:
        source = capture_source(capture, config)
        if source.type != CAPTURE_TYPE:
            raise ConfigError(
                f"network.capture: source '{source.name}' of {capture.interface} is configured "
                f"with type '{source.type}'; a capture needs a '{CAPTURE_TYPE}' source",
                hint="Name another source in network.capture.source.", path=config.path)
    return settings

