"""Open data: a per-city catalogue of published datasets, streamed downloads, a DCAT-AP catalogue."""
