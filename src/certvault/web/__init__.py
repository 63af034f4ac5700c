"""Server-rendered web UI (Jinja2, no JS build step): thin pages over the services."""
