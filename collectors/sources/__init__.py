"""Where records come from: one module per source type, registered by its `type:` name."""

from __future__ import annotations

from collectors.sensor.source import PcapSource, SniffSource
from collectors.sources.file import FileSource
from collectors.sources.syslog import SyslogTcpSource, SyslogUdpSource

Source = FileSource | SyslogUdpSource | SyslogTcpSource | PcapSource | SniffSource
SOURCES: dict[str, type[Source]] = {
    "file": FileSource,
    "syslog_udp": SyslogUdpSource,
    "syslog_tcp": SyslogTcpSource,
    "pcap": PcapSource,
    "sniff": SniffSource,
}
