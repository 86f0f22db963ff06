"""The self-hosted invite server (``spconnect serve``) and what the CLI shares with it.

Kept import-light: the CLI imports :mod:`spconnect.serve.sealing` to open what the
server sealed, and must not pull in the ASGI stack (an optional extra) to do so.
"""
