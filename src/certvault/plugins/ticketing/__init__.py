"""Help desks (ServiceNow, ServiceDesk Plus, Jira): one module per help desk, sharing `base.py`."""
