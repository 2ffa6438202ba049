"""Typed readers for settings that come from the environment.

Every production value comes from the environment. A value may also come from a file named by
``<NAME>_FILE`` (Docker/Kubernetes secrets). Malformed values raise ``ImproperlyConfigured`` with
one line that names the variable, so a misconfigured deployment fails at start with a clear message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    """Return the variable's value, read from ``NAME_FILE`` when that is set."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}") from None
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"{name} must be set in production (see .env.example)")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None


def env_list(name: str, default: list[str] | None = None, *, required: bool = False) -> list[str]:
    value = env_str(name, required=required)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str:
    """A throttle rate as DRF reads it: ``<number>/<s|m|h|d>`` (``120/min`` and ``5/second`` too)."""
    value = env_str(name, default)
    if not re.fullmatch(r"\d+/[smhd][a-z]*", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate (use e.g. 120/min or 10/second)")
    return value
