"""The reference stores on PostgreSQL: the SQLite reference's operations and
migrations, translated statement by statement (see :mod:`.connection`)."""
