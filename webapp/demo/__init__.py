"""Demo data for development and tests."""
