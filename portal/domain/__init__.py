"""The core: what the rest of the system is built on. Imports nothing from the layers above
(services, views, jobs, `sla`, `notifications`)."""
