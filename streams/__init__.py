"""The Faust app: topics, agents and tables. Agents read, call services/, write."""
