"""Security-level dossiers: playbooks (YAML workflows), the working-day calendar, the dossier engine
and service, deadlines and reminders, reports and the demo seed."""
