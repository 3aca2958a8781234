"""`python -m collectors` = `soc-collector`."""

from collectors.cli import main

main()
