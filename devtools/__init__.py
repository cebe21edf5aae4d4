"""Development and demonstration tools: local Kafka and PostgreSQL, the simulated city, benchmarks."""
