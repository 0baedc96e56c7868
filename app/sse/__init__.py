"""Live job events: the in-process broker, the PostgreSQL listener, and the wire format of SSE."""
