"""Where spconnect keeps its files.

Import-light on purpose: the ``spconnect token`` fast path calls ``cache_dir()`` and
``config_dir()`` (for the default profile, store/default_profile.py) and must not pay for
importing platformdirs (about 20 ms here, twice the start-up of Python itself). On Linux
and other XDG systems the answers are computed as platformdirs computes them (a test pins
them together); elsewhere platformdirs is asked.
"""

from __future__ import annotations

import os
import sys

APP_NAME = "spconnect"


def _xdg_home(variable: str, fallback: str) -> str:
    # Same rule as platformdirs.unix: the variable unless empty or blank, else ~/<fallback>.
    path = os.environ.get(variable, "")
    if not path.strip():
        path = os.path.expanduser(fallback)
    return path


def _platformdirs_elsewhere() -> bool:
    return sys.platform in ("win32", "darwin", "cygwin")


def cache_dir() -> str:
    override = os.environ.get("SPCONNECT_CACHE_DIR")
    if override:
        return override
    if not _platformdirs_elsewhere():
        return os.path.join(_xdg_home("XDG_CACHE_HOME", "~/.cache"), APP_NAME)
    import platformdirs

    return platformdirs.user_cache_dir(APP_NAME)


def config_dir() -> str:
    override = os.environ.get("SPCONNECT_CONFIG_DIR")
    if override:
        return override
    if not _platformdirs_elsewhere():
        return os.path.join(_xdg_home("XDG_CONFIG_HOME", "~/.config"), APP_NAME)
    import platformdirs

    return platformdirs.user_config_dir(APP_NAME)


def tokens_dir() -> str:
    return os.path.join(cache_dir(), "tokens")
