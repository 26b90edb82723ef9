"""Reports (background task runners "report:*")."""
