"""commerce."""
