"""Why a fault's failing case is not fixed yet, for its row in docs/reliability.md (shared by the
tests and the report). Empty: every fault the suite injects is expected to lose nothing and
double nothing, and its test fails when that is not so."""

from __future__ import annotations

#: Reasons by fault name, for the report (none known today).
KNOWN: dict[str, str] = {}
