"""Users, groups, roles, tokens, sessions, IP rules, lockout and the RBAC table."""
