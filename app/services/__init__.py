"""Storage services, one per domain; each is handed a SQLAlchemy session and never imports Flask."""
