"""Local, Docker-free runners for the real services flowsight needs (Kafka, PostgreSQL)."""
