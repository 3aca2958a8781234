"""The few error types the service raises. Each carries enough to print one clear line."""

from __future__ import annotations


class SocError(Exception):
    """Base for errors the CLI prints as one line and exits non-zero on."""


class ConfigError(SocError):
    """A configuration (settings, rule, playbook) with one or more problems.

    `problems` holds every problem found, each already formatted as `source:line: what`.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class StoreError(SocError):
    """The event store could not do what was asked (engine down, bad query)."""


class QueryError(StoreError):
    """A query that no backend can run as written (for example a wildcard on an IP field)."""


class EngineError(SocError):
    """The local search-engine node could not be resolved, started or stopped."""


class NotifyError(SocError):
    """A notification could not be delivered. `permanent` errors are not retried (dead letter)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
