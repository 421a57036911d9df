"""Forecast rows for the permission matrix of ``tests/security/test_matrix.py``: read-only routes,
scoped like every read (a city the caller may not see is a 404)."""

from __future__ import annotations


def forecast_rows(ns: dict) -> dict:
    Route, Perm, reads = ns["Route"], ns["Perm"], ns["reads"]
    return {
        ("GET", "/cities/{city}/forecast"): Route(Perm.READ, reads()),
        ("GET", "/cities/{city}/stations/{station_id}/forecast"): Route(Perm.READ, reads()),
        ("GET", "/cities/{city}/forecast/skill"): Route(Perm.READ, reads()),
    }
