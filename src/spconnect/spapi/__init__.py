"""Calling the SP-API for ``spconnect api`` (design, "Command contract"; amazon.md section 9):
requests built from flags (request.py), bounded answers (answers.py), pacing from the usage
plan (pacing.py), pagination and restricted data tokens (caller.py)."""
