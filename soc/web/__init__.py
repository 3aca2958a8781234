"""Web front end: thin over the service modules; nothing imports it."""
