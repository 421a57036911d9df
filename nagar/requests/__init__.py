"""Citizen service requests: the Open311 GeoReport v2 API, a workflow for operators, duplicates, SLAs."""
