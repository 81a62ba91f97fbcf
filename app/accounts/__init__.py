"""People and organisations: users, roles, API tokens, departments, sign-in and the audit trail."""
