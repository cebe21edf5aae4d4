"""`flowsight bench`: measured throughput and latency, each against a baseline of the same run.

One module per benchmark; `harness` starts the broker, worker and API they measure.
"""
