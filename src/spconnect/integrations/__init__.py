"""Adapters that let other SP-API libraries take their tokens from spconnect (design,
"Layout": integrations/), each imported only by a program that uses it:

- ``spconnect.integrations.sp_api``: python-amazon-sp-api clients (``connect(Orders)``);
- ``spconnect.integrations.amzn_sp_api``: Amazon's SDK, amzn-sp-api (``api_client()``);
- ``spconnect.integrations.requests_auth``: ``requests`` (``SPAPIAuth``).

The tokens come from the same memory, cache, lock and secret store as ``spconnect
token``; the libraries never see a refresh token or a client secret.
"""
