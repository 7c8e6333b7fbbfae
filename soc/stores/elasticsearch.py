"""The Elasticsearch store (entry point ``soc.stores: elasticsearch``); the code lives in
:mod:`soc.stores.es`, one module per responsibility. See docs/elasticsearch.md."""

from __future__ import annotations

from soc.stores.es.store import ElasticsearchStore

__all__ = ["ElasticsearchStore"]
