"""Extension points through which apps contribute to the core without the core importing them.

Apps register in their ``panels.py`` (autodiscovered when the core app is ready):

* ``panels``: blocks of the customer 360 page (key facts of one department);
* ``navigation``: entries of the main menu;
* ``audiences``: which restricted timeline audiences a user belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Panel:
    """A block on the 360 page. ``context(request, customer)`` returns the template context.

    ``order`` sorts panels top to bottom; ``permission`` (optional) hides it from users without it.
    """

    key: str
    title: str
    template: str
    context: Callable
    order: int = 100
    department: str = ""
    permission: str = ""


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    url_name: str
    order: int = 100
    permission: str = ""
    roles: tuple[str, ...] = ()


@dataclass
class _Registry:
    items: dict = field(default_factory=dict)

    def register(self, item) -> None:
        self.items[item.key] = item

    def all(self) -> list:
        return sorted(self.items.values(), key=lambda item: (item.order, item.key))


panels = _Registry()
navigation = _Registry()


class _Audiences:
    """Maps an audience prefix (e.g. "collab.space") to a function listing the user's audiences."""

    def __init__(self) -> None:
        self.resolvers: dict[str, Callable[[object], Iterable[str]]] = {}

    def register(self, prefix: str, resolver: Callable[[object], Iterable[str]]) -> None:
        self.resolvers[prefix] = resolver

    def allowed_for(self, user) -> list[str]:
        allowed: list[str] = []
        for resolver in self.resolvers.values():
            allowed.extend(resolver(user))
        return allowed


audiences = _Audiences()
