"""Kafka: the one producer, topic administration, consumer lag and the dead-letter topic."""
