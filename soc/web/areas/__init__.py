"""The analysts' web app, one module per area (alerts, events, incidents, rules, …). Each module
exports `router` with its HTML pages and its JSON API under /api/v1/; soc.web.app includes them."""
