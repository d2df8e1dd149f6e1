"""Database edge: engine and session factory, ORM tables, migrations."""
