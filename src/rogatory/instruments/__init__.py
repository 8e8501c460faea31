"""The instrument catalogue: one versioned definition file per legal instrument."""
