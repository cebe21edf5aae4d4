"""The read model: current state the worker writes and the API reads (SQLite or PostgreSQL)."""
