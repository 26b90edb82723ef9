"""Domain services: plain Python over the DB session. No Flask request objects here."""
