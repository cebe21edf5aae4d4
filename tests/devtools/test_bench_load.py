"""`bench api`'s load client: what it reads from wrk's report, and the script it gives wrk."""

from __future__ import annotations

import pytest

from flowsight.devtools.bench.load import parse_wrk, wrk_script

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:8000/v1/pressure
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.05ms    3.10ms  61.20ms   90.12%
    Req/Sec     1.14k   102.33     1.30k    72.00%
  Latency Distribution
     50%   13.52ms
     75%   15.01ms
     90%   17.33ms
     99%    1.02s
  22800 requests in 10.01s, 98.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 40
Requests/sec:   2277.72
Transfer/sec:      9.80MB
"""


def test_wrk_figures_count_only_successful_answers() -> None:
    measured = parse_wrk(WRK_OUTPUT, "wrk -t2 -c32")
    assert measured.requests == 22_760  # the 40 refused answers are failures, not served
    assert measured.failures == 43
    assert measured.p50_ms == pytest.approx(13.52)
    assert measured.p99_ms == pytest.approx(1020)
    assert measured.rate == pytest.approx(22_760 / 10.01)


def test_wrk_output_without_latency_distribution_is_refused() -> None:
    without = WRK_OUTPUT.replace("     99%    1.02s\n", "")
    with pytest.raises(ValueError, match="99"):
        parse_wrk(without, "wrk")


def test_wrk_script_sends_the_headers_and_stops_at_the_limit() -> None:
    script = wrk_script({"Authorization": 'Bearer k"ey'}, per_thread_limit=25)
    assert 'wrk.headers["Authorization"] = "Bearer k\\"ey"' in script
    assert "answered >= 25 then wrk.thread:stop()" in script
    assert "function response" not in wrk_script({"X-API-Key": "k"}, per_thread_limit=0)
