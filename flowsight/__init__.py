"""flowsight: a streaming patient-flow tracker for health and care systems."""

__version__ = "0.1.0"
