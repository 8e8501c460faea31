"""The jurisdiction directory: states, their authorities, and the authority finder."""
