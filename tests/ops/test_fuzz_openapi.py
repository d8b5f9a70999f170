"""Schemathesis: generated requests for every operation of /openapi.json never get a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_server_errors(ops):
    from services.workorders.classifier import classify

    classify("warm up")  # train once outside the fuzzing deadline
    schema = schemathesis.openapi.from_dict(ops.client.get("/openapi.json").json())
    auth = ops.headers("admin")
    failures = []
    for result in schema.get_all_operations():
        op = result.ok()

        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=auth)
            kwargs.pop("cookies", None)
            r = ops.client.request(**kwargs)
            if r.status_code >= 500:
                failures.append(f"{op.label} -> {r.status_code}: {kwargs.get('url')} {str(kwargs.get('json'))[:200]}")

        run()
    assert not failures, failures[:5]
