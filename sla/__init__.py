"""Service-level agreement computations: working calendars and deadlines."""
