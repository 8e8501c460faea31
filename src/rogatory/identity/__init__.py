"""Identity and access: users, roles, API tokens and the one access policy."""
