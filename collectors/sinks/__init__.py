"""Where events go: one module per protocol, registered by `type:` name."""

from __future__ import annotations

from collectors.sinks.opensearch import ElasticsearchSink, OpenSearchSink
from collectors.sinks.soc import SocSink

SINKS: dict[str, type[OpenSearchSink] | type[SocSink]] = {
    "opensearch": OpenSearchSink,
    "elasticsearch": ElasticsearchSink,
    "soc": SocSink,
}
