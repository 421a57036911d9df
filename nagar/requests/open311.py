"""The Open311 GeoReport v2 wire format: the documents the spec defines, as JSON and as XML.

http://wiki.open311.org/GeoReport_v2 . XML is schemaless, without a namespace, preceded by the XML
declaration with ``encoding="utf-8"`` and served as ``text/xml; charset=utf-8``; JSON is the spec's
mapping of the same documents (lists of objects), ``application/json; charset=utf-8``. Empty values are
``null`` in JSON and empty elements in XML, as in the spec's examples. XML is only ever *written* here
(``xml.etree.ElementTree`` builds and escapes it); nothing untrusted is parsed as XML (POST bodies are
form-encoded).

Public documents are built from an explicit list of fields (:data:`REQUEST_FIELDS`): the citizen's
personal data (e-mail, names, phone, device and account ids) is never among them.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from fastapi.responses import Response

from .service import MEDIA_PATH, OPEN311_STATUS, departments, format_w3, service_notice

REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")
"""GeoReport v2 GET Service Request(s): the fields of a ``request``, in the spec's order."""
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
ATTRIBUTE_FIELDS = ("variable", "code", "datatype", "required", "datatype_description", "order", "description")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


def _media_url(url: str | None, base_url: str) -> str | None:
    if url and url.startswith(MEDIA_PATH):
        return base_url.rstrip("/") + url
    return url


def public_request(row: dict, services: dict[str, dict], *, base_url: str) -> dict:
    """One stored request as the GeoReport v2 ``request`` document (public fields only)."""
    svc = services.get(row["service_code"], {})
    return {
        "service_request_id": str(row["id"]),
        "status": OPEN311_STATUS[row["status"]],
        "status_notes": row["status_notes"],
        "service_name": svc.get("service_name", row["service_code"]),
        "service_code": row["service_code"],
        "description": row["description"],
        "agency_responsible": departments().get(row["department"], row["department"]),
        "service_notice": service_notice(svc) if svc else None,
        "requested_datetime": format_w3(row["requested_at"]),
        # "For requests with status=closed, this will be the date the request was closed."
        "updated_datetime": format_w3(row["closed_at"] if OPEN311_STATUS[row["status"]] == "closed"
                                      and row["closed_at"] is not None else row["updated_at"]),
        "expected_datetime": format_w3(row["expected_at"]),
        "address": row["address"],
        "address_id": row["address_id"],
        "zipcode": row["zipcode"],
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": _media_url(row["media_url"], base_url),
    }


def service_doc(s: dict) -> dict:
    return {"service_code": s["service_code"], "service_name": s["service_name"], "description": s["description"],
            "metadata": bool(s["metadata"]), "type": s["type"], "keywords": s["keywords"], "group": s["group"]}


def definition_doc(s: dict) -> dict:
    attrs = []
    for a in sorted(s["attributes"], key=lambda a: a["order"]):
        doc = {"variable": True, "code": a["code"], "datatype": a["datatype"], "required": bool(a["required"]),
               "datatype_description": a.get("datatype_description"), "order": a["order"],
               "description": a["description"]}
        if a["datatype"] in ("singlevaluelist", "multivaluelist"):
            doc["values"] = [{"key": str(v["key"]), "name": v["name"]} for v in a["values"]]
        attrs.append(doc)
    return {"service_code": s["service_code"], "attributes": attrs}


# serialisation --------------------------------------------------------------------------------------
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 does not allow (section 2.2, Char); ElementTree would write them as they are."""


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return _NOT_XML.sub("\ufffd", str(v))


def _add(parent: ET.Element, name: str, value) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for k, v in value.items():
            _add(el, k, v)
    elif isinstance(value, list):  # a list field: its items, each named by the singular of the field
        item = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}[name]
        for v in value:
            _add(el, item, v)
    else:
        el.text = _text(value)


def to_xml(root: str, item: str | None, docs) -> bytes:
    """``<root><item>..</item>...</root>`` (a list) or ``<root>..</root>`` (one document, ``item`` None)."""
    top = ET.Element(root)
    if item is None:
        for k, v in docs.items():
            _add(top, k, v)
    else:
        for d in docs:
            _add(top, item, d)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="unicode").encode("utf-8")


ROOTS = {"discovery": ("discovery", None), "services": ("services", "service"), "definition": ("service_definition", None),
         "requests": ("service_requests", "request"), "errors": ("errors", "error")}


def render(fmt: str, kind: str, docs, *, status_code: int = 200, headers: dict | None = None) -> Response:
    """A GeoReport v2 document as a response in ``fmt`` (``json`` or ``xml``)."""
    if fmt == "json":
        body = json.dumps(docs, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Response(body, status_code=status_code, media_type=JSON_TYPE, headers=headers)
    root, item = ROOTS[kind]
    return Response(to_xml(root, item, docs), status_code=status_code, media_type=XML_TYPE, headers=headers)


def errors(fmt: str, status_code: int, *descriptions: str, headers: dict | None = None) -> Response:
    """The GeoReport v2 error document: a list of {code, description}."""
    return render(fmt, "errors", [{"code": status_code, "description": d} for d in descriptions],
                  status_code=status_code, headers=headers)


DISCOVERY_CHANGESET = "2026-11-27T00:00:00Z"
"""When this endpoint's GeoReport v2 behaviour last changed (the discovery document's ``changeset``)."""


def discovery_doc(url: str) -> dict:
    """The Open311 Service Discovery document (http://wiki.open311.org/Service_Discovery) of this endpoint."""
    return {"changeset": DISCOVERY_CHANGESET,
            "contact": "The administrators of the city you report to (jurisdiction_id = the city's Nagar id).",
            "key_service": "A city admin issues an api_key per client app: POST /api/v1/service-requests/open311-keys "
                           "or `nagar requests key --city <id> --name <app>`.",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": url,
                           "changeset": DISCOVERY_CHANGESET, "type": "production",
                           "formats": ["text/xml", "application/json"]}]}


# OpenAPI schemas of the JSON documents (for the document and schemathesis' checks) --------------------
_S = {"type": "string"}
_NS = {"type": ["string", "null"]}
ERRORS_SCHEMA = {"type": "array", "items": {"type": "object", "required": ["code", "description"],
                                            "properties": {"code": {"type": "integer"}, "description": _S}}}
SERVICES_SCHEMA = {"type": "array", "items": {
    "type": "object", "required": list(SERVICE_FIELDS),
    "properties": {"service_code": _S, "service_name": _S, "description": _NS, "metadata": {"type": "boolean"},
                   "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]}, "keywords": _NS,
                   "group": _NS}}}
DEFINITION_SCHEMA = {"type": "object", "required": ["service_code", "attributes"], "properties": {
    "service_code": _S,
    "attributes": {"type": "array", "items": {
        "type": "object", "required": list(ATTRIBUTE_FIELDS),
        "properties": {"variable": {"type": "boolean"}, "code": _S,
                       "datatype": {"type": "string", "enum": ["string", "number", "datetime", "text",
                                                               "singlevaluelist", "multivaluelist"]},
                       "required": {"type": "boolean"}, "datatype_description": _NS, "order": {"type": "integer"},
                       "description": _S,
                       "values": {"type": "array", "items": {"type": "object", "required": ["key", "name"],
                                                             "properties": {"key": _S, "name": _S}}}}}}}}
_NUM = {"type": ["number", "null"]}
REQUESTS_SCHEMA = {"type": "array", "items": {
    "type": "object", "required": list(REQUEST_FIELDS),
    "properties": {**{f: _NS for f in REQUEST_FIELDS}, "service_request_id": _S,
                   "status": {"type": "string", "enum": ["open", "closed"]}, "service_code": _S, "lat": _NUM,
                   "long": _NUM},
    "additionalProperties": False}}
POSTED_SCHEMA = {"type": "array", "items": {
    "type": "object", "required": ["service_request_id", "service_notice", "account_id"],
    "properties": {"service_request_id": _S, "service_notice": _NS, "account_id": {"type": "null"}},
    "additionalProperties": False}}
TOKENS_SCHEMA = {"type": "array", "items": {
    "type": "object", "required": ["service_request_id", "token"],
    "properties": {"service_request_id": _S, "token": _S}, "additionalProperties": False}}
DISCOVERY_SCHEMA = {"type": "object", "required": ["changeset", "contact", "key_service", "endpoints"], "properties": {
    "changeset": _S, "contact": _S, "key_service": _S,
    "endpoints": {"type": "array", "items": {"type": "object", "required": ["specification", "url", "type", "formats"],
                                             "properties": {"specification": _S, "url": _S, "changeset": _S,
                                                            "type": _S, "formats": {"type": "array", "items": _S}}}}}}
