"""Everything that talks to the outside world: the database, clocks, providers."""
