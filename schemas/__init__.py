"""The flowsight event contract v1: typed models, code lists and JSON Schema export. No I/O."""
