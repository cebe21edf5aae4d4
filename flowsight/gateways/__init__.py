"""Ways in besides Kafka: HTTP, HL7 v2 over MLLP, FHIR. Each validates, then publishes to Kafka."""
