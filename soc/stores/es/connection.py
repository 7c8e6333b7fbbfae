"""Connection to the cluster: the ``store:`` options, the client, 8.x/9.x header compatibility.

The 9.x ``elasticsearch`` client marks every request ``compatible-with=9``, which 8.x servers
refuse (``media_type_header_exception``). :class:`CompatTransport` rewrites the marker to the
server's major version once :func:`connect` has asked the server which one it runs. Secrets
(API key, password) are :class:`soc.config.Secret` objects revealed only to build the client;
nothing here logs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import Transport, TransportApiResponse
from elasticsearch import ApiError, Elasticsearch

from soc.config import Secret
from soc.errors import ConfigError, StoreError
from soc.stores.es.capabilities import Capabilities, probe

if TYPE_CHECKING:
    from soc.config import Config

_COMPAT = re.compile(r"compatible-with=\d+")
OPTION_KEYS = frozenset({
    "hosts", "ca_certs", "ssl_assert_fingerprint", "verify_certs", "api_key", "username",
    "password", "index_prefix", "refresh", "request_timeout", "max_retries", "retry_backoff",
    "retry_backoff_max", "spool_dir", "spool_max_mb", "shards", "replicas", "rollover_max_age",
    "rollover_max_size", "kibana_url", "server_major",
})


@dataclass(frozen=True)
class EsOptions:
    """The ``store:`` options of an Elasticsearch store (docs/elasticsearch.md)."""

    hosts: tuple[str, ...] = ("http://localhost:9200",)
    ca_certs: str | None = None
    ssl_assert_fingerprint: str | None = None
    verify_certs: bool = True
    api_key: Secret | str | None = field(default=None, repr=False)
    username: str | None = None
    password: Secret | str | None = field(default=None, repr=False)
    index_prefix: str = ""
    refresh: str | bool = False  # "wait_for" makes writes visible to the next search
    request_timeout: float = 30.0
    max_retries: int = 8  # bulk retries of 429/5xx before the batch goes to the spool
    retry_backoff: float = 0.5  # first pause (s); doubled each retry
    retry_backoff_max: float = 30.0
    spool_dir: Path | None = None
    spool_max_mb: int = 1024
    shards: int = 1
    replicas: int = 1
    rollover_max_age: str = "1d"
    rollover_max_size: str = "50gb"
    kibana_url: str | None = None
    server_major: int | None = None  # None: ask the server

    @classmethod
    def from_config(cls, config: Config) -> EsOptions:
        """Read ``config.store.options``; unknown keys are a configuration error."""
        raw = dict(config.store.options)
        unknown = sorted(set(raw) - OPTION_KEYS)
        if unknown:
            raise ConfigError(f"store: unknown Elasticsearch option(s) {', '.join(unknown)} "
                              f"(allowed: {', '.join(sorted(OPTION_KEYS))})", path=config.path)
        return cls.from_mapping(raw, data_dir=config.data_dir)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, data_dir: Path) -> EsOptions:
        """Options from a plain mapping (tests, tools); the spool defaults into ``data_dir``."""
        values = dict(raw)
        values["hosts"] = _hosts(values.pop("hosts", None) or list(cls.hosts))
        values["spool_dir"] = Path(values.get("spool_dir") or data_dir / "es-spool")
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"store: bad Elasticsearch options: {exc}") from exc


    @property
    def shown_hosts(self) -> str:
        """The hosts for messages and status: credentials in a URL shown as ``***``."""
        return ", ".join(_without_credentials(h) for h in self.hosts)


def _hosts(value: Any) -> tuple[str, ...]:
    """``hosts:`` as URLs: one or a list, each a string or a secret (``{$env: ES_URL}``, for
    a URL that carries credentials)."""
    items = value if isinstance(value, list | tuple) else [value]
    hosts = tuple(_reveal(h) if isinstance(h, Secret) else h for h in items)
    bad = [h for h in hosts if not isinstance(h, str) or not h.strip()]
    if bad or not hosts:
        raise ConfigError("store: hosts must be a URL or a list of URLs "
                          "(e.g. https://es1.example:9200)",
                          hint="A URL with credentials can come from a secret: "
                               "hosts: {$env: ES_URL}")
    return tuple(str(h).strip() for h in hosts)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"//{url}")
    if parts.username is None and parts.password is None:
        return url
    netloc = "***@" + parts.netloc.rsplit("@", 1)[1]
    shown = urlunsplit(parts._replace(netloc=netloc))
    return shown if "://" in url else shown.removeprefix("//")


class CompatTransport(Transport):
    """A transport that can speak ``compatible-with=<server major>`` to an older server."""

    compat_major: int | None = None

    def perform_request(self, method: str, target: str, **kwargs: Any) -> TransportApiResponse:
        headers = kwargs.get("headers")
        major = self.compat_major
        if major is not None and isinstance(headers, Mapping):
            kwargs["headers"] = {k: _COMPAT.sub(f"compatible-with={major}", v)
                                 if isinstance(v, str) else v for k, v in headers.items()}
        return super().perform_request(method, target, **kwargs)


def _reveal(value: Secret | str | None) -> str | None:
    return value.reveal() if isinstance(value, Secret) else value


def _auth(options: EsOptions) -> dict[str, Any]:
    api_key = _reveal(options.api_key)
    if api_key:
        return {"api_key": api_key}
    if options.username:
        return {"basic_auth": (options.username, _reveal(options.password) or "")}
    return {}


def _tls(options: EsOptions) -> dict[str, Any]:
    tls: dict[str, Any] = {"verify_certs": options.verify_certs}
    if options.ca_certs:
        tls["ca_certs"] = options.ca_certs
    if options.ssl_assert_fingerprint:
        tls["ssl_assert_fingerprint"] = options.ssl_assert_fingerprint
    return tls


def build_client(options: EsOptions) -> Elasticsearch:
    """A client for ``options``: status retries are ours (the bulk writer), the transport only
    fails over between hosts on connection errors."""
    return Elasticsearch(
        list(options.hosts), **_auth(options), **_tls(options),
        request_timeout=options.request_timeout, max_retries=max(len(options.hosts) - 1, 0),
        retry_on_status=(), retry_on_timeout=False, transport_class=CompatTransport,
    )


def server_capabilities(client: Elasticsearch) -> Capabilities:
    """The cluster's version and modules, asked with headers every 8.x and 9.x server takes."""
    transport = client.transport
    if isinstance(transport, CompatTransport):
        transport.compat_major = 8
    return probe(client)


def server_major(client: Elasticsearch) -> int:
    """The major version the cluster runs."""
    return server_capabilities(client).major


def connect(options: EsOptions) -> tuple[Elasticsearch, int]:
    """Build the client and agree on the API version with the server."""
    client = build_client(options)
    with es_errors("cannot reach Elasticsearch", options):
        major = options.server_major or server_major(client)
    transport = client.transport
    if isinstance(transport, CompatTransport):
        transport.compat_major = major if major < 9 else None
    return client, major


@contextmanager
def es_errors(action: str, options: EsOptions | None = None) -> Iterator[None]:
    """Turn client errors into :class:`StoreError` naming the hosts and a next step."""
    where = options.shown_hosts if options else "the cluster"
    try:
        yield
    except TransportConnectionError as exc:
        raise StoreError(f"{action}: {where} is unreachable ({exc.message})",
                         hint="Check store.hosts, TLS (ca_certs / ssl_assert_fingerprint) "
                              "and that the cluster is up.") from exc
    except ApiError as exc:
        raise StoreError(f"{action}: {exc.meta.status} {error_reason(exc)}",
                         hint=_hint(exc.meta.status)) from exc


def error_reason(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('type', '')}: {error.get('reason', '')}".strip(": ")
    return str(exc.message)


def _hint(status: int) -> str:
    if status in (401, 403):
        return "Check store.api_key or store.username/password and the role's privileges."
    if status == 404:
        return "Install the templates and policies first: 'soc store init'."
    return "Run 'soc store doctor' to check the cluster."
