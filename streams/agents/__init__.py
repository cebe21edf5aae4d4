"""The worker's agents: each reads a topic, calls the domain, writes what changed."""
