"""What the cluster offers, learnt when the store connects, and how the store does without it.

A default Elasticsearch distribution carries modules beside the server's core: index lifecycle
management (``x-pack-ilm``), the data-stream APIs (``data-streams``), ``delete_by_query``
(``reindex``), ``match_only_text`` (``mapper-extras``) and the root endpoint ``GET /``
(``rest-root``). A cluster can lack some of them: ILM disabled or an older or restricted
licence, a trimmed build (Elastic's integration-test distribution carries none of them, and is
what the tests run against). The store then degrades rather than fails:

===================  =============================================================================
missing              what the store does instead
===================  =============================================================================
``x-pack-ilm``       no lifecycle policies; ``soc store retention`` deletes expired days itself
``data-streams``     backing indices are listed through ``GET <stream>`` (the indices API)
``reindex``          ``delete_by_query`` becomes a search for the ids and bulk deletes
``mapper-extras``    ``message``-like fields are ``text`` without norms (positions kept)
``rest-root``        the version comes from ``GET _nodes/_local``
``x-pack-analytics`` a group of several fields is paged with ``composite`` (no ``multi_terms``)
===================  =============================================================================

The modules are read from ``GET _nodes/_local``; an account without the ``monitor`` privilege
(or a proxy passing only the data APIs) cannot read them, and the store then assumes a complete
cluster (what a managed service runs) and reads the version from ``GET /``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from elasticsearch import ApiError

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

ILM = "x-pack-ilm"
DATA_STREAMS = "data-streams"
REINDEX = "reindex"
MAPPER_EXTRAS = "mapper-extras"
REST_ROOT = "rest-root"
ANALYTICS = "x-pack-analytics"

# module -> (what is missing, what the store does instead): the doctor's and the warning's words
DEGRADED: dict[str, tuple[str, str]] = {
    ILM: ("index lifecycle management (ILM)",
          "no lifecycle policies: run `soc store retention` (cron) to delete expired days"),
    DATA_STREAMS: ("the data-stream APIs", "backing indices are read through the indices API"),
    REINDEX: ("delete_by_query (module reindex)", "deletes by search and bulk instead"),
    MAPPER_EXTRAS: ("match_only_text (module mapper-extras)",
                    "text fields are mapped as text without norms"),
    REST_ROOT: ("the root endpoint GET /", "the version is read from GET _nodes/_local"),
    ANALYTICS: ("multi_terms (module x-pack-analytics)",
                "groups of several fields are paged with a composite aggregation"),
}


@dataclass(frozen=True)
class Capabilities:
    """The server's version and modules (``None``: not readable, assume all of them)."""

    version: str = ""
    modules: frozenset[str] | None = None

    def has(self, module: str) -> bool:
        return self.modules is None or module in self.modules

    @property
    def major(self) -> int:
        head = self.version.split(".")[0]
        return int(head) if head.isdigit() else 0

    @property
    def ilm(self) -> bool:
        return self.has(ILM)

    @property
    def data_streams(self) -> bool:
        return self.has(DATA_STREAMS)

    @property
    def delete_by_query(self) -> bool:
        return self.has(REINDEX)

    @property
    def match_only_text(self) -> bool:
        return self.has(MAPPER_EXTRAS)

    @property
    def multi_terms(self) -> bool:
        return self.has(ANALYTICS)

    def missing(self) -> list[tuple[str, str, str]]:
        """``(module, what is missing, what the store does instead)`` for each absent module."""
        return [(m, *DEGRADED[m]) for m in DEGRADED if not self.has(m)]

    def summary(self) -> str:
        """One line for a warning: what this cluster lacks, or '' when nothing."""
        gone = self.missing()
        if not gone:
            return ""
        return (f"Elasticsearch {self.version} lacks " + ", ".join(m[1] for m in gone)
                + " (soc store doctor says what the store does instead)")


FULL = Capabilities()


def probe(client: Elasticsearch) -> Capabilities:
    """Read the version and modules of the node answering; the root endpoint if that is refused.
    Connection errors propagate (the caller spools)."""
    try:
        resp = client.nodes.info(node_id="_local", metric="plugins",
                                 filter_path="nodes.*.version,nodes.*.modules.name")
        nodes = dict(resp.body.get("nodes") or {})
    except ApiError:  # no monitor privilege, or a proxy that only passes the data APIs
        nodes = {}
    if nodes:
        node: dict[str, Any] = next(iter(nodes.values()))
        modules = frozenset(str(m.get("name")) for m in node.get("modules") or ())
        return Capabilities(str(node.get("version", "")), modules or None)
    info = client.info()
    return Capabilities(str(info["version"]["number"]), None)
