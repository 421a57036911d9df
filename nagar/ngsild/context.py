"""JSON-LD @context handling for NGSI-LD: term expansion and compaction (ETSI GS CIM 009 V1.6.1
clause 5.5.7, "Term to URI expansion or compaction", with clause 5.5.5 for the default @context, and
clause 6.3.5, "JSON-LD @context resolution", for the HTTP binding).

What is implemented, deliberately smaller than a JSON-LD processor (pyld is not used: NGSI-LD only needs
attribute and type *names* expanded and compacted, never full RDF processing):

* the core @context is shipped in the package (``data/ngsi-ld-core-context-v1.6.jsonld``) and never
  fetched; every ``https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context*.jsonld`` URL resolves to it;
* a user @context is a JSON object (inline), a URL, or a list of those. Term definitions may be a string
  IRI, a compact IRI ``prefix:suffix`` (the prefix defined in the same contexts) or an object with
  ``@id``; ``@vocab`` is honoured. The core context is applied last and its terms cannot be redefined;
* a URL other than the core context's is resolved only from local copies: first the operator's
  allow-list (the JSON file named by the environment variable ``NAGAR_NGSILD_CONTEXTS`` maps URL -> local
  file path; an entry there overrides a built-in one), then the Smart Data Models contexts shipped in
  ``data/`` (:data:`BUILTIN_CONTEXTS`; sources, commits and licence in
  ``data/SMART-DATA-MODELS-NOTICE.md``). Any other URL is refused with ``LdContextNotAvailable``, and
  the message says how to add a local copy. Nothing is fetched over the network at run time;
* expansion: a term -> its IRI; ``prefix:suffix`` with a known prefix -> prefix IRI + suffix; an absolute
  IRI (``scheme:...``) stays; anything else -> ``@vocab`` + name (the core ``@vocab`` is
  ``https://uri.etsi.org/ngsi-ld/default-context/``);
* compaction is the inverse: an IRI -> the term that maps to it (user terms first), else a compact IRI
  with a known prefix, else the name under ``@vocab``, else the IRI itself.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import BadRequestData, LdContextNotAvailable

CORE_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"
"""The core @context URL this broker announces (V1.6.1 of the API uses the v1.6 core context)."""
_CORE_URL_RE = re.compile(r"^https?://uri\.etsi\.org/ngsi-ld/v1/ngsi-ld-core-context(-v1\.\d+)?\.jsonld$")
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_KEYWORDS_NOT_TERMS = {"@vocab", "@version", "@base", "@language", "@protected", "@propagate", "@import",
                       "@direction"}


@lru_cache(maxsize=1)
def core_document() -> dict:
    with resources.files("nagar.ngsild").joinpath("data/ngsi-ld-core-context-v1.6.jsonld").open("rb") as f:
        return json.load(f)["@context"]


_SDM_GLOBAL = "sdm-data-models-context.jsonld"
_SDM_ENVIRONMENT = "sdm-dataModel.Environment-context.jsonld"
_SDM_DEVICE = "sdm-dataModel.Device-context.jsonld"

BUILTIN_CONTEXTS: dict[str, str] = {
    # smart-data-models/data-models, context.jsonld @ d95967300a6616f74b32cd9c367c72a88b82a150
    "https://smartdatamodels.org/context.jsonld": _SDM_GLOBAL,
    "https://raw.githubusercontent.com/smart-data-models/data-models/master/context.jsonld": _SDM_GLOBAL,
    "https://smart-data-models.github.io/data-models/context.jsonld": _SDM_GLOBAL,
    # smart-data-models/dataModel.Environment, context.jsonld @ b8a32f70d7e7f69f273448fa86c15697154e90a9
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld":
        _SDM_ENVIRONMENT,
    "https://smart-data-models.github.io/dataModel.Environment/context.jsonld": _SDM_ENVIRONMENT,
    # smart-data-models/dataModel.Device, context.jsonld @ 04c337539dc3b1719eb3ce00752b0bb03eeb481e
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Device/master/context.jsonld": _SDM_DEVICE,
    "https://smart-data-models.github.io/dataModel.Device/context.jsonld": _SDM_DEVICE,
}
"""Remote @context URL -> packaged copy in ``data/`` (Smart Data Models, CC BY 4.0; unmodified copies,
sources and checks in ``data/SMART-DATA-MODELS-NOTICE.md``). These are the URLs FIWARE IoT Agents and the
Smart Data Models examples send (the global context and the per-domain contexts of the types Nagar
maps: AirQualityObserved, WaterQualityObserved and Device)."""


@lru_cache(maxsize=8)
def builtin_document(name: str) -> Any:
    """The ``@context`` member of a packaged context file (parsed once per process)."""
    with resources.files("nagar.ngsild").joinpath("data/" + name).open("rb") as f:
        return json.load(f)["@context"]


def _allow_list() -> dict[str, str]:
    path = os.environ.get("NAGAR_NGSILD_CONTEXTS")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise LdContextNotAvailable(f"NAGAR_NGSILD_CONTEXTS ({path}) cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise LdContextNotAvailable(f"NAGAR_NGSILD_CONTEXTS ({path}) must hold a JSON object mapping each "
                                    "@context URL to the path of its local copy")
    return {str(k): str(v) for k, v in data.items()}


def _load_url(url: str) -> Any:
    """A remote context from a local copy (its ``@context`` member, or the document itself): the operator's
    allow-list first, then the built-in copies. Nothing is fetched."""
    local = _allow_list().get(url)
    if local is None:
        name = BUILTIN_CONTEXTS.get(url)
        if name is not None:
            return builtin_document(name)
        raise LdContextNotAvailable(
            f"@context {url!r} is not available: Nagar never fetches a remote @context. It knows the NGSI-LD "
            "core context, the Smart Data Models contexts it ships (see nagar/ngsild/README.md) and the "
            "contexts its operator lists in NAGAR_NGSILD_CONTEXTS. To add this one, the operator saves a copy "
            "of the document on the server and sets NAGAR_NGSILD_CONTEXTS to a JSON file that maps the URL "
            f"to that copy, e.g. {{{json.dumps(url)}: \"/etc/nagar/contexts/my-context.jsonld\"}}. A client "
            "can instead send the context inline (an object in the body's @context, application/ld+json).",
            field="@context")
    try:
        with open(local, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        raise LdContextNotAvailable(f"allow-listed @context {url!r} cannot be read from {local}: {exc}") from exc
    return doc.get("@context", doc) if isinstance(doc, dict) else doc


class Context:
    """A resolved @context: user terms plus the core context (core terms protected)."""

    __slots__ = ("terms", "vocab", "reverse", "prefixes", "source", "_exp", "_cmp")

    def __init__(self, user_terms: dict[str, str], vocab: str | None, source: Any):
        core = core_document()
        core_terms = _terms(core, {})
        terms = {**user_terms, **core_terms}
        self.terms = terms
        self.vocab = vocab or core["@vocab"]
        self.prefixes = {k: v for k, v in terms.items() if v.endswith(("/", "#", ":")) and ":" not in k}
        reverse: dict[str, str] = {}
        for k, v in core_terms.items():
            reverse.setdefault(v, k)
        for k, v in user_terms.items():  # user terms win in compaction
            if k not in core_terms:
                reverse[v] = k
        self.reverse = reverse
        self.source = source
        self._exp: dict[str, str] = {}
        self._cmp: dict[str, str] = {}

    def expand(self, name: str) -> str:
        """The IRI of an attribute or type name."""
        out = self._exp.get(name)
        if out is not None:
            return out
        if name in self.terms:
            out = self.terms[name]
        elif ":" in name:
            prefix, _, suffix = name.partition(":")
            if prefix in self.terms and not suffix.startswith("//"):
                out = self.terms[prefix] + suffix
            elif _ABSOLUTE.match(name):
                out = name
            else:
                out = self.vocab + name
        else:
            out = self.vocab + name
        if len(self._exp) < 4096:
            self._exp[name] = out
        return out

    def compact(self, iri: str) -> str:
        """The short name of an IRI under this context."""
        out = self._cmp.get(iri)
        if out is not None:
            return out
        out = self.reverse.get(iri)
        if out is None:
            if iri.startswith(self.vocab) and len(iri) > len(self.vocab):
                out = iri[len(self.vocab):]
            else:
                best = ""
                for p, base in self.prefixes.items():
                    if iri.startswith(base) and len(base) > len(best) and len(iri) > len(base):
                        best, out = base, f"{p}:{iri[len(base):]}"
                if out is None:
                    out = iri
        if len(self._cmp) < 4096:
            self._cmp[iri] = out
        return out

    def body_value(self) -> Any:
        """The @context to put in a response body (application/ld+json)."""
        return self.source if self.source is not None else CORE_URL

    def link_url(self) -> str:
        """The URL for a ``Link`` header: the user's (single) context URL, else the core context's."""
        if isinstance(self.source, str):
            return self.source
        return CORE_URL


def _terms(ctx: dict, known: dict[str, str]) -> dict[str, str]:
    """Term -> IRI for one context object (compact IRIs resolved against prefixes seen so far)."""
    raw: dict[str, str] = {}
    for k, v in ctx.items():
        if k in _KEYWORDS_NOT_TERMS or not isinstance(k, str):
            continue
        if isinstance(v, dict):
            v = v.get("@id", k if ":" in k else None)
        if isinstance(v, str) and not v.startswith("@"):
            raw[k] = v
    out: dict[str, str] = {}
    scope = {**known, **raw}
    for k, v in raw.items():
        out[k] = _resolve(v, scope)
    return out


def _resolve(v: str, scope: dict[str, str], depth: int = 0) -> str:
    if ":" in v and depth < 5:
        prefix, _, suffix = v.partition(":")
        if prefix in scope and not suffix.startswith("//") and scope[prefix] != v:
            return _resolve(scope[prefix], scope, depth + 1) + suffix
    return v


def _flatten(spec: Any, out: list, depth: int = 0) -> None:
    if depth > 3:
        raise BadRequestData("@context nests too deeply", field="@context")
    if spec is None:
        return
    if isinstance(spec, str):
        if _CORE_URL_RE.match(spec):
            return
        _flatten(_load_url(spec), out, depth + 1)
    elif isinstance(spec, list):
        for item in spec:
            _flatten(item, out, depth + 1)
    elif isinstance(spec, dict):
        out.append(spec)
    else:
        raise BadRequestData("@context must be a URL, an object or a list of those", field="@context")


def _key(spec: Any) -> str:
    return spec if isinstance(spec, str) else json.dumps(spec, sort_keys=True)


_CACHE: dict[str, Context] = {}


def resolve(spec: Any) -> Context:
    """The :class:`Context` for a user @context (``None``: the core context alone). Cached."""
    key = _key(spec) if spec is not None else ""
    ctx = _CACHE.get(key)
    if ctx is not None:
        return ctx
    parts: list[dict] = []
    _flatten(spec, parts)
    terms: dict[str, str] = {}
    vocab = None
    for p in parts:
        terms.update(_terms(p, terms))
        if isinstance(p.get("@vocab"), str):
            vocab = _resolve(p["@vocab"], terms)
    ctx = Context(terms, vocab, spec)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = ctx
    return ctx


CORE = None  # set below


def parse_link(header: str | None) -> str | None:
    """The @context URL of a ``Link: <url>; rel="http://www.w3.org/ns/json-ld#context"`` header."""
    if not header:
        return None
    for part in header.split(","):
        m = re.match(r'\s*<([^>]*)>\s*(.*)$', part)
        if m and CONTEXT_REL in m.group(2):
            url = m.group(1).strip()
            if not _ABSOLUTE.match(url):
                raise BadRequestData(f"Link header @context {url!r} is not an absolute URL", field="Link")
            return url
    return None


def link_header(ctx: "Context") -> str:
    return f'<{ctx.link_url()}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


CORE = resolve(None)
