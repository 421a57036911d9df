"""City tenancy: the set of cities a caller may see or change.

A :data:`Scope` is ``None`` for "every city" (platform administrators) or a frozenset of city ids.
The store filters by it inside its queries; nothing is fetched and then filtered afterwards.
"""

from __future__ import annotations

from typing import Optional

Scope = Optional[frozenset[str]]

ALL: Scope = None
NONE: Scope = frozenset()


def allows(scope: Scope, city: str) -> bool:
    return scope is None or city in scope
