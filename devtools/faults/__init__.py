"""Fault injection: every fault flowsight must survive, run on isolated stages and compared with an
uninterrupted run of the same simulated events (tests/reliability, `flowsight soak`)."""
