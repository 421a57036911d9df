"""What a long-running writer starts beside its store so that data is acted on as it arrives: the alert
evaluator (``nagar.alerts``) and the sensor-fault watcher (``nagar.quality``), both fed by
``store.on_write`` and each working on its own thread.

A composition root like ``nagar.api.app`` and ``nagar.cli``: the domains that write observations
(``nagar.ingest``, ``nagar.ngsild``) do not import the domains that react to them; the process that runs
them wires both. Used by the API's lifespan, ``nagar ingest`` (file) and ``nagar ingest-mqtt run``
(subscriber).
"""

from __future__ import annotations

from nagar.core.settings import Settings


class Reactions:
    """The alert worker and the fault watcher attached to ``store``; :meth:`stop` detaches both after
    finishing what is queued. ``background=False`` collects the written spans and examines them at
    :meth:`drain` (a file load: examined once, after the file is in)."""

    def __init__(self, store, settings: Settings, *, background: bool = True, quality: bool = True):
        from nagar.alerts.service import start_worker
        from nagar.quality.service import attach as attach_quality

        self.store = store
        self.alerts = start_worker(store, settings)
        self.quality = attach_quality(store, background=background) \
            if quality and hasattr(store, "add_quality_faults") else None

    def drain(self) -> None:
        """Examine what the fault watcher has collected (and what the alert worker has queued)."""
        if self.quality is not None:
            self.quality.drain()
        if self.alerts is not None:
            self.alerts.drain()

    def stop(self) -> None:
        if self.quality is not None:
            self.store.off_write(self.quality)
            if not self.quality.background:
                self.quality.drain()
            self.quality.stop()  # a background watcher examines what is queued before it ends
            self.quality = None
        if self.alerts is not None:
            self.alerts.stop()
            self.alerts = None
