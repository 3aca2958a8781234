"""Start the tests' secured Elasticsearch node twice; print time to healthy and resident memory.

    .venv/bin/python -m bench.elastic_start

Time covers launch, certificates, the file-realm user and the wait for a healthy cluster
(`soc.engine.elastic.start`); memory is the VmRSS sum over the node's process group.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from soc.engine import elastic


def rss_mb(group: int) -> float:
    total = 0
    for pid in subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True).stdout.split():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        total += sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return total / 1024


def main() -> None:
    for run in (1, 2):
        home = Path(tempfile.mkdtemp(prefix="es-start-", dir="/var/tmp"))
        home.chmod(0o755)  # the unprivileged node user must reach it
        began = time.monotonic()
        node = elastic.start(home)
        took = time.monotonic() - began
        try:
            print(
                f"run {run}: healthy in {took:.1f} s, RSS {rss_mb(node.process.pid):.0f} MB "
                f"(heap 512 MB), load average {os.getloadavg()[0]:.1f}"
            )
        finally:
            node.stop()


if __name__ == "__main__":
    main()
