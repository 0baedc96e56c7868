"""Notifications: outgoing webhooks on job and batch events, from a durable outbox (docs/orchestration.md)."""
