"""Reading and checking the configuration: every mistake found at once, in plain words.

``read_yaml`` turns a file into a mapping (a file that is not UTF-8 text, a binary file, YAML that does
not parse or nests absurdly deep is one clean line naming the file and, where YAML gives one, the line).
``settings_from`` interpolates ``${VAR}`` (every missing variable listed together), validates, and checks
what the models alone cannot (routes naming unknown rules, stages or channels), then raises one
``ConfigError`` listing every problem with its key path and, for a misspelt name, "did you mean …".
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from payoutwatch.config import (
    CHANNEL_TYPES,
    SOURCE_TYPES,
    ConfigError,
    Settings,
)
from payoutwatch.plugins import Registry

MAX_DEPTH = 40  # deeper than any real configuration; a 3,000-deep file is refused cleanly

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so pydantic checks them and names the key of a bad one
    (``start: 2025-13-02`` would otherwise fail inside the YAML library with no key path)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def suggestion(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; every way a file can fail to be YAML is one ``ConfigError`` line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if b"\x00" in data:
        raise ConfigError(f"{path} is a binary file, not a YAML configuration")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 (_Loader is a SafeLoader)
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply (more than {MAX_DEPTH} levels)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(path, exc)) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    if _depth(raw) > MAX_DEPTH:
        raise ConfigError(f"{path}: nested too deeply (more than {MAX_DEPTH} levels)")
    return raw


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        return f"{path}, line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {problem}"
    if isinstance(exc, yaml.reader.ReaderError):
        return f"{path}: not valid YAML: character {exc.character!r} is not allowed (position {exc.position})"
    return f"{path}: not valid YAML: {' '.join(str(exc).split())}"


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_depth(child, level + 1) for child in children), default=level)


def interpolate(value: Any, missing: list[tuple[str, str]], path: str = "") -> Any:
    """Replace ``${NAME}`` (or ``${NAME:-default}``) everywhere; an unset name is appended to ``missing``
    (key path, name) and replaced by nothing, so the rest of the file is still checked."""
    if isinstance(value, dict):
        return {k: interpolate(v, missing, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, missing, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            missing.append((path, name))
            return ""

        return _ENV.sub(lookup, value)
    return value


def settings_from(raw: dict[str, Any], *, origin: str) -> Settings:
    """Validated settings, or one ``ConfigError`` naming every problem of ``raw``."""
    missing: list[tuple[str, str]] = []
    data = interpolate(raw, missing)
    problems = [f"{where}: environment variable {name} is not set" for where, name in missing]
    unset = {where for where, _name in missing}
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = _path(error["loc"])
            if error["type"] == "rules_section":  # unknown ids are named by reference_problems
                problems.extend(_plug_in_problems(error))
                continue
            if not any(where == u or where.startswith(f"{u}.") for u in unset):
                problems.append(f"{where or '(top level)'}: {_plain(error)}")
    problems.extend(reference_problems(data, settings))
    if problems:
        unique = list(dict.fromkeys(problems))
        raise ConfigError(f"{origin} is invalid ({len(unique)} problem(s)):\n" + "\n".join(f"  {p}" for p in unique))
    assert settings is not None  # no problem means validation succeeded
    return settings


_MEMBER_NAMES = {"date", "datetime", "str", "int", "float", "bool", "none"}  # a plain union's members


def _plug_in_problems(error: ErrorDetails) -> list[str]:
    """A plug-in rule's bad settings from the ``rules`` section's error (``<rule>.<key>: <reason>``)."""
    parts = [part for part in str(error["msg"]).split("; ") if not part.startswith("unknown rule")]
    return [f"rules.{re.sub(r': Input should be', ': should be', part)}" for part in parts]


def _path(loc: tuple[int | str, ...]) -> str:
    """The key path of an error: without the union member pydantic names (``channels.pd.pagerduty.x``)."""
    tags = {*CHANNEL_TYPES.tags(), *SOURCE_TYPES.tags()}
    parts = [
        str(part)
        for i, part in enumerate(loc)
        if not (isinstance(part, str) and ((part in tags and _is_tag(loc, i)) or (i > 0 and part in _MEMBER_NAMES)))
    ]
    return ".".join(parts)


def _is_tag(loc: tuple[int | str, ...], index: int) -> bool:
    """Is ``loc[index]`` the discriminator pydantic inserts after ``channels.<name>`` / ``sources.<name>``?"""
    return index == 2 and loc[0] in ("channels", "sources")


def _plain(error: ErrorDetails) -> str:
    """The validation library's message in the words an operator would use."""
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return f"unknown key {key!r}{suggestion(key, _keys_at(loc[:-1]))}"
    if kind == "missing":
        return "required, but not set"
    if kind == "union_tag_invalid":
        tag, known = str(ctx.get("tag")), re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        return f"unknown type {tag!r}{suggestion(tag, known)}; known types: {', '.join(known)}"
    if kind == "union_tag_not_found":
        return "needs a `type`"
    if kind == "literal_error" and isinstance(error.get("input"), str):
        value, known = str(error["input"]), re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{value!r} is not one of {', '.join(known)}{suggestion(value, known)}"
    if kind in ("date_parsing", "date_from_datetime_parsing", "datetime_parsing", "datetime_from_date_parsing"):
        reason = str(ctx.get("error", "not a date"))
        return f"{error.get('input')!r} is not a date that exists ({reason})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return re.sub(r"^Input should be", "should be", message)


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts (for "did you mean"); empty when that is not a model."""
    current: Any = Settings
    for index, part in enumerate(loc):
        current = _step(current, part, is_tag=_is_tag(loc, index))
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _step(annotation: Any, part: int | str, *, is_tag: bool) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        registries = [meta for meta in args[1:] if isinstance(meta, Registry)]
        if registries and is_tag:
            try:
                return registries[0].lookup(str(part)).settings
            except KeyError:
                return None
        return _step(args[0], part, is_tag=is_tag)
    if origin is Union or (origin is not None and type(None) in args):
        for arg in args:
            if arg is not type(None):
                found = _step(arg, part, is_tag=is_tag)
                if found is not None:
                    return found
        return None
    if origin is dict:
        return args[1]
    if origin is list:
        return args[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
    return None


def reference_problems(data: dict[str, Any], settings: Settings | None) -> list[str]:
    """Names that must exist elsewhere: route rules and stages, channels named by routes and reports."""
    from payoutwatch.rules.registry import rules

    problems: list[str] = []
    channels = data.get("channels")
    channel_names = {"log", *(channels if isinstance(channels, dict) else {"log": None})}
    registered = {rule.id.value: rule for rule in rules()}
    stage_settings = settings if settings is not None else _settings_for_stages(data)

    def check_channels(where: str, names: Any) -> None:
        for name in names if isinstance(names, list) else []:
            if isinstance(name, str) and name not in channel_names:
                problems.append(f"{where}: no channel named {name!r}{suggestion(name, channel_names)}")

    rules_section = data.get("rules")
    for rule_id in rules_section if isinstance(rules_section, dict) else {}:
        if str(rule_id) not in registered:
            problems.append(f"rules.{rule_id}: unknown rule {rule_id!r}{suggestion(str(rule_id), registered)}")
    routes = data.get("routes")
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if not isinstance(route, dict):
            continue
        rule_id = route.get("rule")
        if isinstance(rule_id, str) and rule_id not in registered:
            problems.append(f"routes.{i}.rule: unknown rule {rule_id!r}{suggestion(rule_id, registered)}")
        stages = route.get("stages")
        if isinstance(stages, list):
            candidates = [registered[rule_id]] if isinstance(rule_id, str) and rule_id in registered else []
            if rule_id is None:
                candidates = list(registered.values())
            known = [stage.name for rule in candidates for stage in rule.stages(stage_settings)]
            for stage in stages:
                if candidates and isinstance(stage, str) and stage not in known:
                    whose = f"rule {rule_id}" if rule_id else "no rule"
                    listed = f"its stages: {', '.join(known)}" if known else "it has no stages"
                    problems.append(
                        f"routes.{i}.stages: {whose} has no stage {stage!r}{suggestion(stage, known)} ({listed})"
                    )
        check_channels(f"routes.{i}.channels", route.get("channels"))
    notifications = data.get("notifications")
    if isinstance(notifications, dict):
        check_channels("notifications.fallback_channels", notifications.get("fallback_channels"))
    reports = data.get("reports")
    weekly = reports.get("weekly") if isinstance(reports, dict) else None
    if isinstance(weekly, dict):
        check_channels("reports.weekly.channels", weekly.get("channels"))
        if settings is not None:
            problems.extend(_report_carriers(settings))
    return problems


def _report_carriers(settings: Settings) -> list[str]:
    problems = []
    carriers = [p.tag for p in CHANNEL_TYPES.plugins() if p.settings.carries_reports]
    for name in settings.reports.weekly.channels:
        if name in settings.channels or name == "log":
            channel = settings.channel(name)
            if not channel.carries_reports:
                problems.append(
                    f"reports.weekly.channels: {name!r} is a {channel.type} channel; "
                    f"reports go to {', '.join(carriers[:-1])} or {carriers[-1]} channels"
                )
    return problems


def _settings_for_stages(data: dict[str, Any]) -> Settings:
    """Settings whose rules section is the file's if that part is valid (stages depend on it)."""
    from payoutwatch.config import RulesSettings

    try:
        rules_settings = RulesSettings.model_validate(data.get("rules") or {})
    except ValidationError:
        rules_settings = RulesSettings()
    return Settings.model_construct(rules=rules_settings)
