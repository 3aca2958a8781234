"""Detection as part of the running service: load the rules, run them once or on a schedule."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine

from soc.detect import windows
from soc.detect.rules import load_rules
from soc.detect.scheduler import Detector
from soc.errors import ConfigError
from soc.settings import Settings
from soc.store.base import EventStore

log = logging.getLogger(__name__)


def detector_for(settings: Settings, store: EventStore, db: Engine) -> Detector:
    """A Detector over the configured rules; malformed rules refuse start-up with every problem."""
    rules, problems = load_rules([settings.resolved_rules_dir])
    if problems:
        raise ConfigError(problems)
    log.info("loaded %d rules from %s", len(rules), settings.resolved_rules_dir)
    timing = windows.Timing(settle=timedelta(seconds=settings.settle_seconds))
    return Detector(store, db, rules, timing=timing)
