"""Escalation alerts: stored with a durable outbox and delivered to every configured route."""
