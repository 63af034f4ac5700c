"""The secrets vault: folders, permissions, secrets, check-out, approvals, web-services API."""
