"""Where spconnect keeps its files.

Import-light on purpose: the ``spconnect token`` fast path calls ``cache_dir()`` and must
not pay for importing platformdirs (about 20 ms here, twice the start-up of Python
itself). On Linux and other XDG systems the answer is computed as platformdirs computes
it (a test pins the two together); elsewhere platformdirs is asked.
"""

from __future__ import annotations

import os
import sys

APP_NAME = "spconnect"


def _xdg_cache_home() -> str:
    # Same rule as platformdirs.unix: XDG_CACHE_HOME unless empty or blank, else ~/.cache.
    path = os.environ.get("XDG_CACHE_HOME", "")
    if not path.strip():
        path = os.path.expanduser("~/.cache")
    return path


def cache_dir() -> str:
    override = os.environ.get("SPCONNECT_CACHE_DIR")
    if override:
        return override
    if sys.platform not in ("win32", "darwin", "cygwin"):
        return os.path.join(_xdg_cache_home(), APP_NAME)
    import platformdirs

    return platformdirs.user_cache_dir(APP_NAME)


def config_dir() -> str:
    override = os.environ.get("SPCONNECT_CONFIG_DIR")
    if override:
        return override
    import platformdirs

    return platformdirs.user_config_dir(APP_NAME)


def tokens_dir() -> str:
    return os.path.join(cache_dir(), "tokens")
