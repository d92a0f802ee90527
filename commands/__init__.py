"""Command messages and their handlers: load aggregates, call domain methods, save once."""
