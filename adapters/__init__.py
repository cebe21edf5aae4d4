"""Adapters: the database and read model, Kafka, notification senders, HL7 v2 and FHIR."""
