"""The FastAPI service: routers per resource, auth, the dashboard page. No business rule here."""
