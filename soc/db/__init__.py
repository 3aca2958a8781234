"""The app database: SQLAlchemy models, sessions and Alembic migrations.

Services: `accounts` (agencies, users, roles), `tokens` (collector and API tokens), `audit`
(append-only, hash-chained log), `passwords` (argon2id). `migrate.upgrade(url)` brings a database
to the current schema; `session.make_engine` and `session.session_scope` give units of work.
"""

# Every model module is imported here so the metadata Alembic compares against is complete.
from soc.db import detection as detection
from soc.db import dossiers as dossiers
from soc.db import enrolment as enrolment
from soc.db import models as models
from soc.db import notify as notify
from soc.db import triage as triage
