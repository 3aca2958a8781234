"""Notifications: alert groups, on-call routing and escalation, a durable outbox and e-mail.

Detection calls `soc.notify.service.on_new_alerts(session, alert_ids, now)` in the transaction
that wrote the alerts; `soc.notify.service.Notifier.tick()` and the outbox workers do the rest.
"""
