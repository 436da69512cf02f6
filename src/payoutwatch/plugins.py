"""Plug-in registries: a ``type`` tag -> its settings model and the factory that builds it.

Channels and sources each have one registry (declared in ``config``). A plug-in module defines
its settings model (a pydantic model whose ``type`` field is a ``Literal`` tag) beside its code
and registers both on import::

    CHANNEL_TYPES.register(SlackChannel, Slack)

The configuration validates ``channels.<name>`` / ``sources.<name>`` against the union of the
registered models, discriminated by ``type``. The built-in plug-ins are the modules of the
registry's package, imported the first time the union or a factory is needed (never when
``config`` is imported), so adding one is one new module; heavy client libraries stay lazy
because the plug-in modules import them inside their methods.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, Union, get_args

from pydantic import BaseModel, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema

S = TypeVar("S", bound=BaseModel)
F = TypeVar("F")


@dataclass(frozen=True)
class Plugin(Generic[S, F]):
    tag: str
    settings: type[S]
    factory: F


def type_tag(settings: type[BaseModel]) -> str:
    """The ``Literal`` value of a settings model's ``type`` field."""
    field = settings.model_fields.get("type")
    tags = get_args(field.annotation) if field is not None else ()
    if len(tags) != 1 or not isinstance(tags[0], str):
        raise TypeError(f"{settings.__name__}.type must be a Literal of one string tag")
    return tags[0]


class Registry(Generic[S, F]):
    """The plug-ins of one kind (``channel``, ``source``), keyed by their ``type`` tag.

    Used as a pydantic annotation (``Annotated[Base, registry]``), it validates a value
    against the union of the registered settings models, discriminated by ``type``.
    """

    def __init__(self, kind: str, *, package: str) -> None:
        self.kind = kind
        self.package = package
        self._plugins: dict[str, Plugin[S, F]] = {}
        self._loaded = False
        self._loading = False
        self._listeners: list[Callable[[], None]] = []

    def register(self, settings: type[S], factory: F) -> None:
        tag = type_tag(settings)
        known = self._plugins.get(tag)
        if known is not None and known.settings is not settings:
            raise ValueError(f"{self.kind} type {tag!r} is already registered by {known.settings.__name__}")
        self._plugins[tag] = Plugin(tag, settings, factory)
        self._changed()

    def unregister(self, tag: str) -> None:
        if self._plugins.pop(tag, None) is not None:
            self._changed()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever a type is added or removed after the built-ins were loaded."""
        self._listeners.append(listener)

    def plugins(self) -> list[Plugin[S, F]]:
        self._load_builtins()
        return list(self._plugins.values())

    def lookup(self, tag: str) -> Plugin[S, F]:
        self._load_builtins()
        try:
            return self._plugins[tag]
        except KeyError:
            raise KeyError(f"no {self.kind} type {tag!r} is registered") from None

    def tags(self) -> list[str]:
        return [plugin.tag for plugin in self.plugins()]

    def settings_union(self) -> Any:
        models = tuple(plugin.settings for plugin in self.plugins())
        if len(models) == 1:
            return models[0]
        return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 (a runtime tuple)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler.generate_schema(self.settings_union())

    def _load_builtins(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            package = importlib.import_module(self.package)
            for module in pkgutil.iter_modules(package.__path__):
                if not module.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{module.name}")
            self._loaded = True
        finally:
            self._loading = False

    def _changed(self) -> None:
        if self._loaded:
            for listener in self._listeners:
                listener()
