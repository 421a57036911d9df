"""The catalogue as a DCAT-AP document (JSON-LD), for harvesters such as CKAN's ckanext-dcat.

Classes and properties of DCAT-AP 3.0 (SEMIC, 2023; W3C DCAT 3): a ``dcat:Catalog`` with
``dct:title``, ``dct:description``, ``dct:publisher`` (``foaf:Agent``) and ``dcat:dataset``; each
``dcat:Dataset`` with ``dct:identifier``, ``dct:title``, ``dct:description``, ``dcat:keyword``,
``dcat:theme`` (EU data themes), ``dct:publisher`` (the city), ``dct:spatial`` (a ``dct:Location``
with ``dcat:centroid`` as a GeoSPARQL WKT literal), ``dct:accrualPeriodicity`` (EU frequency
vocabulary URI), ``dct:license`` and ``dcat:distribution``; each ``dcat:Distribution`` with
``dcat:accessURL`` and ``dcat:downloadURL``, ``dct:format`` (EU file-type vocabulary URI),
``dcat:mediaType`` (IANA media type URI) and ``dct:license``.
"""

from __future__ import annotations

from .registry import get_provider
from .service import LICENSES

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}
FREQ = "http://publications.europa.eu/resource/authority/frequency/"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
THEME = "http://publications.europa.eu/resource/authority/data-theme/"
IANA = "https://www.iana.org/assignments/media-types/"
FILE_TYPES = {"csv": "CSV", "geojson": "GEOJSON", "parquet": "PARQUET"}
MEDIA = {"csv": "text/csv", "geojson": "application/geo+json", "parquet": "application/vnd.apache.parquet"}


def _lit(text: str, lang: str = "en") -> dict:
    return {"@value": text, "@language": lang}


def catalog_document(*, base_url: str, cities: list[dict], entries: dict[str, list[dict]]) -> dict:
    """``entries``: city id -> that city's published catalogue entries (nagar.opendata.service.catalogue)."""
    base = base_url.rstrip("/")
    api = f"{base}/api/v1/opendata"
    datasets = []
    for c in cities:
        publisher = {"@id": f"{base}/api/v1/cities/{c['id']}", "@type": "foaf:Agent",
                     "foaf:name": c["name"]}
        spatial = {"@type": "dct:Location",
                   "dcat:centroid": {"@value": f"POINT({c['lon']} {c['lat']})", "@type": "gsp:wktLiteral"}}
        for e in entries.get(c["id"], []):
            p = get_provider(e["id"])
            licence = {"@id": LICENSES[e["license"]][1]}
            dists = []
            for fmt in e["formats"]:
                url = f"{api}/{c['id']}/datasets/{e['id']}.{fmt}"
                dists.append({"@id": url + "#distribution", "@type": "dcat:Distribution",
                              "dct:title": _lit(f"{e['title']} ({FILE_TYPES[fmt]})"),
                              "dcat:accessURL": {"@id": url}, "dcat:downloadURL": {"@id": url},
                              "dct:format": {"@id": FILE_TYPE + FILE_TYPES[fmt]},
                              "dcat:mediaType": {"@id": IANA + MEDIA[fmt]}, "dct:license": licence})
            datasets.append({
                "@id": f"{api}/{c['id']}/datasets/{e['id']}", "@type": "dcat:Dataset",
                "dct:identifier": f"{c['id']}/{e['id']}",
                "dct:title": _lit(f"{e['title']} — {c['name']}"),
                "dct:description": _lit(e["city_description"] or e["description"]),
                "dcat:keyword": [_lit(k) for k in e["keywords"]],
                "dcat:theme": [{"@id": THEME + t} for t in p.themes],
                "dct:publisher": publisher, "dct:spatial": spatial,
                "dct:accrualPeriodicity": {"@id": FREQ + e["frequency"]},
                "dct:license": licence,
                **({"dct:modified": {"@value": e["updated_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                                     "@type": "xsd:dateTime"}} if e.get("updated_at") else {}),
                "dcat:distribution": dists,
            })
    return {
        "@context": CONTEXT,
        "@id": f"{api}/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _lit("Nagar open data"),
        "dct:description": _lit("Open datasets published by the cities of this Nagar installation: air quality, "
                                "sensor observations, greenhouse-gas inventories and citizen service requests."),
        "dct:publisher": {"@id": f"{base}/", "@type": "foaf:Agent", "foaf:name": "Nagar"},
        "foaf:homepage": {"@id": f"{base}/"},
        "dcat:dataset": datasets,
    }
