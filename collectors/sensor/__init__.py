"""The network sensor: DNS events, connection summaries and a port-scan indicator from packets.

`capture.events(path)` reads a capture file (`soc-collector pcap FILE`); live capture goes
through `capture.sniff` with its BPF filter validated first; `source` registers both as
collector sources. Nothing is imported here, so a collector without network sources never
loads scapy.
"""
