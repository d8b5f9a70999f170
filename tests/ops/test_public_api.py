"""The packages' public names resolve, and the OpenAPI document lists the contract."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["services.workorders", "services.billing"])
def test_all_names_resolve(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert getattr(module, attr) is not None, attr


def test_openapi_lists_contract_paths():
    from services.app import create_app

    paths = create_app().openapi()["paths"]
    assert {"post"} <= set(paths["/api/work-orders"])
    assert "get" in paths["/api/work-orders/{wo_id}"]
    assert "post" in paths["/api/work-orders/{wo_id}/transitions"]
    assert "post" in paths["/api/auth/token"]
    assert "post" in paths["/api/billing/payment-callback"]
