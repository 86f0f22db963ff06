"""spconnect's version, and the user-agent that tells Amazon of it (amazon.md section 9:
``spconnect/<version> (Language=Python/3.x)``). Free of imports: the fast paths load it."""

import sys

__version__ = "0.1.0"


def user_agent() -> str:
    # sys.version_info rather than platform.python_version(): the same numbers for a
    # released Python, without importing platform (a millisecond on every `api` call).
    python = ".".join(str(part) for part in sys.version_info[:3])
    return f"spconnect/{__version__} (Language=Python/{python})"
