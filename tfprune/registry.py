"""Registries: one per concept (allocations, scorers, schedules, ...), each entry with its facts.

Every consumer -- :func:`tfprune.prune`, :func:`tfprune.prune_at_init`, the command line's
choices, the tuner's search space, the conformance tests -- reads the registry, so adding a
method is one file plus one ``register(...)`` call::

    @tfprune.allocation.register("half", uses_values=False)
    def half(weights, sparsity):
        ...

Built-in entries name their function as ``"module:attribute"`` and are imported on first use,
so listing the names (``tfprune --help``) imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping as MappingABC
from typing import Any, Callable, Iterator, Mapping


_MISSING = object()


def load(spec: Callable[..., Any] | str) -> Callable[..., Any]:
    """A callable itself, or the object a ``"module:attribute"`` string names (imported now)."""
    if callable(spec):
        return spec
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered method: its name, its function (or ``"module:attr"``) and its facts."""

    name: str
    target: Callable[..., Any] | str
    facts: Mapping[str, Any]
    summary: str = ""

    def load(self) -> Callable[..., Any]:
        """The method's function (imported on first use for built-ins)."""
        return load(self.target)

    def __getattr__(self, fact: str) -> Any:
        facts = object.__getattribute__(self, "facts")
        if fact in facts:
            return facts[fact]
        raise AttributeError(f"{type(self).__name__} {self.name!r} has no fact {fact!r}")


class Registry(MappingABC):
    """Named methods of one kind, with the facts every consumer needs about them.

    A read-only mapping ``{name: Entry}`` in registration order.

    Args:
      concept: what the entries are, for messages ("allocation").
      argument: the argument users pass names to, for messages ("allocation").
      facts: every fact an entry carries, with its default ({"adaptive": False}).
    """

    def __init__(self, concept: str, argument: str, facts: Mapping[str, Any]):
        self.concept = concept
        self.argument = argument
        self.defaults = dict(facts)
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, function: Callable[..., Any] | str | None = None, *,
                 summary: str = "", replace: bool = False, **facts: Any):
        """Add ``function`` under ``name`` with ``facts``; usable as a decorator without ``function``.

        Raises ValueError for a name already taken (unless ``replace=True``) or a fact this
        registry does not know.
        """
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"name={name!r}: a {self.concept} name must be a non-empty string without "
                             "surrounding spaces")
        unknown = sorted(set(facts) - set(self.defaults))
        if unknown:
            raise ValueError(f"{unknown}: not facts the {self.concept} registry knows; known facts are "
                             f"{sorted(self.defaults)}")
        if name in self._entries and not replace:
            raise ValueError(f"name={name!r}: the {self.concept} registry has it already; "
                             "pass replace=True to replace it")

        def add(target):
            if not (callable(target) or (isinstance(target, str) and ":" in target)):
                raise TypeError(f"function={target!r}: expected a callable for {self.concept} {name!r}")
            doc = summary or (getattr(target, "__doc__", None) or "").strip().split("\n")[0]
            self._entries[name] = Entry(name, target, {**self.defaults, **facts}, doc)
            return target

        return add if function is None else add(function)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests and plug-ins that clean up after themselves)."""
        self.get(name)
        del self._entries[name]

    def get(self, name: str, default: Any = _MISSING) -> Entry:
        """The entry called ``name``; ``default`` if given, else a ValueError naming the argument
        and the choices."""
        if isinstance(name, str) and name in self._entries:
            return self._entries[name]
        if default is not _MISSING:
            return default
        raise ValueError(f"{self.argument}={name!r}: unknown; choose one of {sorted(self._entries)} (registered {self.concept}s)")

    def resolve(self, method: str | Callable[..., Any]) -> Entry:
        """A registered entry, or an anonymous entry with default facts for a plain callable."""
        if callable(method) and not isinstance(method, str):
            for entry in self._entries.values():
                if entry.target is method:
                    return entry
            return Entry(getattr(method, "__name__", "custom"), method, dict(self.defaults))
        return self.get(method)

    def names(self, **facts: Any) -> list[str]:
        """Registered names in registration order, optionally only those with the given facts."""
        return [e.name for e in self._entries.values() if all(e.facts.get(k) == v for k, v in facts.items())]

    def entries(self) -> list[Entry]:
        """The entries in registration order."""
        return list(self._entries.values())

    def __getitem__(self, name: str) -> Entry:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.concept!r}, {self.names()})"
