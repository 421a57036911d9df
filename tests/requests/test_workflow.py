"""Duplicates, SLA targets and breaches, the operator workflow and its permissions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from nagar.requests import service
from tests.requests.conftest import LAT, LON, O311, OPS

R = 6_371_008.8  # the IUGG mean Earth radius the haversine uses [m]


def file(world, code="EWASTE", lat=LAT, lon=LON, now=None, **attrs):
    attrs = attrs or ({"ACTIVITY": ["dumping"]} if code == "EWASTE" else {})
    return service.submit(world.store, settings=world.settings, city="dhaka",
                          form={"service_code": code, "lat": str(lat), "long": str(lon)}, attributes=attrs,
                          photo=None, client=None, actor="test", now=now)["request"]


# haversine -------------------------------------------------------------------------------------------
def test_haversine_against_hand_worked_arcs():
    # along a meridian (or the equator) the great circle is an arc of length R * angle:
    # one arc-minute = 6371008.8 m * pi / 10800 = 1853.2513 m
    assert service.haversine_m(0.0, 0.0, 1 / 60, 0.0) == pytest.approx(1853.2513, abs=1e-3)
    assert service.haversine_m(0.0, 10.0, 0.0, 10 + 1 / 60) == pytest.approx(1853.2513, abs=1e-3)
    # 0.0009 deg of latitude = 6371008.8 * 0.0009 * pi / 180 = 100.0756 m; 0.0008 deg = 88.9561 m
    d = service.haversine_m(LAT, LON, [LAT + 0.0009, LAT + 0.0008], [LON, LON])
    assert d == pytest.approx([100.0756, 88.9561], abs=1e-4)
    # along a parallel at 60 deg the arc shrinks by cos 60 = 0.5 (small-angle): 0.001 deg -> 55.6 m
    assert service.haversine_m(60.0, 0.0, 60.0, 0.001) == pytest.approx(R * np.radians(0.001) * 0.5, rel=1e-6)


# duplicates ------------------------------------------------------------------------------------------
def test_a_near_request_of_the_same_service_is_linked_not_lost(world):
    a = file(world)
    b = file(world, lat=LAT + 0.0008)  # 89 m north
    assert b["status"] == "duplicate" and b["duplicate_of"] == a["id"]
    assert b["status_notes"] == f"Duplicate of request {a['id']}." and b["closed_at"] is not None
    assert world.client.get(f"{OPS}/{a['id']}", headers=world.auth("oper")).json()["duplicates"] == [b["id"]]
    docs = world.client.get(f"{O311}/requests.json", params={"jurisdiction_id": "dhaka"}).json()
    assert [(d["service_request_id"], d["status"], d["status_notes"]) for d in docs] == [
        (str(b["id"]), "closed", f"Duplicate of request {a['id']}."), (str(a["id"]), "open", None)]


@pytest.mark.parametrize("case", ["far", "other service", "too old", "original closed"])
def test_no_duplicate_outside_distance_window_service_or_when_closed(world, case):
    now = datetime.now(timezone.utc)
    a = file(world, now=now - (timedelta(hours=25) if case == "too old" else timedelta(hours=1)))
    if case == "original closed":
        service.update_request(world.store, request_id=a["id"], status="resolved", actor="t")
    b = file(world, lat=LAT + (0.0009 if case == "far" else 0.0001),
             code="GARBAGE" if case == "other service" else "EWASTE")
    assert b["status"] == "new" and b["duplicate_of"] is None


def test_duplicate_links_to_the_nearest_original_and_duplicates_do_not_chain(world):
    a = file(world, lat=LAT)
    c = file(world, lat=LAT + 0.0015)  # 167 m from a: an original of its own
    d = file(world, lat=LAT + 0.0012)  # 133 m from a, 33 m from c
    assert c["duplicate_of"] is None and d["duplicate_of"] == c["id"]
    e = file(world, lat=LAT + 0.0012)  # on d, which is itself a duplicate: linked to the original c
    assert e["duplicate_of"] == c["id"] and a["status"] == "new"


# SLA -------------------------------------------------------------------------------------------------
def test_expected_time_comes_from_the_service_sla_and_breaches_are_listed(world):
    now = datetime.now(timezone.utc)
    late = file(world, now=now - timedelta(hours=50))  # EWASTE: 48 h target, 2 h overdue
    fine = file(world, code="GARBAGE", lat=LAT + 0.01, now=now - timedelta(hours=10))  # 24 h target
    assert late["expected_at"] - late["requested_at"] == timedelta(hours=48)
    assert fine["expected_at"] - fine["requested_at"] == timedelta(hours=24)
    r = world.client.get(f"{OPS}/sla-breaches", params={"city": "dhaka"})
    assert r.status_code == 200
    [b] = r.json()["items"]
    assert b["service_request_id"] == late["id"] and b["hours_overdue"] == pytest.approx(2.0, abs=0.05)
    assert set(b) == {"service_request_id", "service_code", "service_name", "status", "department",
                      "requested_datetime", "expected_datetime", "hours_overdue"}
    service.update_request(world.store, request_id=late["id"], status="resolved", actor="t")
    assert world.client.get(f"{OPS}/sla-breaches", params={"city": "dhaka"}).json()["items"] == []
    assert world.client.get(f"{OPS}/sla-breaches", params={"city": "ctg"}).status_code == 404


# workflow --------------------------------------------------------------------------------------------
def test_status_moves_assignment_and_notes(world):
    a = file(world)
    h = world.auth("oper")
    r = world.client.patch(f"{OPS}/{a['id']}", json={"status": "acknowledged", "department": "environment"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged" and r.json()["department"] == "environment"
    r = world.client.patch(f"{OPS}/{a['id']}", json={"note": "Internal: kiln owner known to police"}, headers=h)
    assert r.json()["status_notes"] is None  # a note is private unless published
    r = world.client.patch(f"{OPS}/{a['id']}", json={"status": "in_progress", "note": "A team is on its way.",
                                                      "public": True}, headers=h)
    assert r.json()["status_notes"] == "A team is on its way."
    [doc] = world.client.get(f"{O311}/requests/{a['id']}.json", params={"jurisdiction_id": "dhaka"}).json()
    assert doc["status"] == "open" and doc["status_notes"] == "A team is on its way."
    assert doc["agency_responsible"].startswith("Environment Cell")
    r = world.client.patch(f"{OPS}/{a['id']}", json={"status": "resolved", "note": "Cleared.", "public": True},
                           headers=h)
    out = r.json()
    assert out["closed_at"] is not None and out["open311_status"] == "closed"
    [doc] = world.client.get(f"{O311}/requests/{a['id']}.xml".replace(".xml", ".json"),
                             params={"jurisdiction_id": "dhaka"}).json()
    assert doc["status"] == "closed" and doc["updated_datetime"] >= doc["requested_datetime"]
    assert [(e["from_status"], e["to_status"]) for e in out["events"]] == [
        (None, "new"), ("new", "acknowledged"), ("acknowledged", None), ("acknowledged", "in_progress"),
        ("in_progress", "resolved")]
    # resolved -> rejected is not a move; reopening is
    # "For requests with status=closed, this will be the date the request was closed": a later note
    # does not move it
    closed_at = doc["updated_datetime"]
    service.update_request(world.store, request_id=a["id"], note="Photo of the cleared site filed.", actor="t",
                           now=datetime.now(timezone.utc) + timedelta(hours=1))
    [doc] = world.client.get(f"{O311}/requests/{a['id']}.json", params={"jurisdiction_id": "dhaka"}).json()
    stored = world.store.service_request(a["id"])
    assert stored["updated_at"] - stored["closed_at"] >= timedelta(hours=1)
    assert doc["updated_datetime"] == closed_at == service.format_w3(stored["closed_at"])
    r = world.client.patch(f"{OPS}/{a['id']}", json={"status": "rejected"}, headers=h)
    assert r.status_code == 422 and "cannot go from resolved to rejected" in r.json()["message"]
    r = world.client.patch(f"{OPS}/{a['id']}", json={"status": "in_progress"}, headers=h)
    assert r.status_code == 200 and r.json()["closed_at"] is None
    actions = [e["action"] for e in world.store.audit_entries(city="dhaka")]
    assert actions.count("requests.update") == 6  # four moves, two notes


def test_operator_marks_and_unmarks_a_duplicate(world):
    a, b = file(world), file(world, lat=LAT + 0.05)
    h = world.auth("oper")
    r = world.client.patch(f"{OPS}/{b['id']}", json={"status": "duplicate"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "duplicate_of"
    r = world.client.patch(f"{OPS}/{b['id']}", json={"status": "duplicate", "duplicate_of": a["id"]}, headers=h)
    assert r.json()["duplicate_of"] == a["id"] and r.json()["status_notes"] == f"Duplicate of request {a['id']}."
    r = world.client.patch(f"{OPS}/{b['id']}", json={"status": "acknowledged"}, headers=h)
    assert r.json()["duplicate_of"] is None and r.json()["closed_at"] is None


@pytest.mark.parametrize("body, field", [({}, "status"), ({"department": "police"}, "department"),
                                         ({"status": "done"}, "status"), ({"note": "   "}, "note")])
def test_invalid_updates_are_422_and_change_nothing(world, body, field):
    a = file(world)
    r = world.client.patch(f"{OPS}/{a['id']}", json=body, headers=world.auth("oper"))
    assert r.status_code == 422 and field in r.text
    assert world.store.service_request(a["id"]) == a


def test_operator_api_permissions(world):
    a = file(world)
    assert world.client.patch(f"{OPS}/{a['id']}", json={"status": "acknowledged"}).status_code == 401
    assert world.client.patch(f"{OPS}/{a['id']}", json={"status": "acknowledged"},
                              headers=world.auth("analyst")).status_code == 403
    # Dhaka publishes open data: Chattogram's operator sees the request but may not change it
    r = world.client.patch(f"{OPS}/{a['id']}", json={"status": "acknowledged"}, headers=world.auth("ctg_oper"))
    assert r.status_code == 403
    # Chattogram is private: Dhaka's operator does not even learn that its request exists
    c = world.post(city="ctg", service_code="GARBAGE", lat=22.36, long=91.8).json()[0]["service_request_id"]
    r = world.client.patch(f"{OPS}/{c}", json={"status": "acknowledged"}, headers=world.auth("oper"))
    assert r.status_code == 404
    assert world.client.get(f"{OPS}/{a['id']}", headers=world.auth("analyst")).status_code == 403
    r = world.client.get(OPS, params={"city": "dhaka"}, headers=world.auth("oper"))
    assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [a["id"]]
    assert world.store.service_request(a["id"])["status"] == "new"


def test_open311_keys_are_issued_listed_and_revoked_by_city_admins(world):
    h = world.auth("admin")
    r = world.client.post(f"{OPS}/open311-keys", json={"city": "dhaka", "name": "Citizen app"}, headers=h)
    assert r.status_code == 201 and r.json()["key"].startswith("o311_")
    key = r.json()["key"]
    listed = world.client.get(f"{OPS}/open311-keys", params={"city": "dhaka"}, headers=h).json()["items"]
    assert {k["name"] for k in listed} == {"dhaka app", "Citizen app"}
    assert all("secret_hash" not in k and "key" not in k for k in listed)
    assert world.post(service_code="GARBAGE", lat=LAT, long=LON, api_key=key).status_code == 200
    assert world.client.post(f"{OPS}/open311-keys", json={"city": "dhaka", "name": "x"},
                             headers=world.auth("oper")).status_code == 403
    assert world.client.post(f"{OPS}/open311-keys", json={"city": "ctg", "name": "x"}, headers=h).status_code == 404
    assert json.loads(world.store.audit_entries(city="dhaka")[-2]["details"]) == {"name": "Citizen app"}
