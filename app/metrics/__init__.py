"""Prometheus metrics: what this process measures, and the figures the database holds for the whole deployment."""
