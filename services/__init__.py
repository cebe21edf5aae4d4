"""The flowsight domain: pure functions and dataclasses over plain data. No I/O."""
