"""Deploy targets (ssh, local, acm, webhook, agent): one module per target kind; files.py and endpoints.py are
what the file-writing targets share."""
