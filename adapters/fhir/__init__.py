"""FHIR R4: Encounters and transaction Bundles mapped to contract events, OperationOutcome."""
