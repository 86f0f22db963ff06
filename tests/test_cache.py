"""The access-token cache file, its import-light JSON decoding and the cache paths."""

from __future__ import annotations

import json
import time
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spconnect.store import cache, paths

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_fast_decoder_agrees_with_json_module(value: object) -> None:
    text = json.dumps(value)
    assert cache._decode_json(text) == json.loads(text)
    assert cache._decode_json(f"  {text}\n") == json.loads(text)


@given(st.text())
def test_fast_decoder_rejects_what_json_rejects(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            cache._decode_json(text)
    else:
        assert cache._decode_json(text) == expected


def _entry(**overrides: object) -> dict[str, object]:
    now = time.time()
    entry: dict[str, object] = {
        "version": 1,
        "access_token": "Atza|x",
        "expires_at": now + 3600,
        "refresh_at": now + 3300,
        "key": "k",
        "client_id": "c",
        "region": "na",
    }
    entry.update(overrides)
    return entry


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"version": 1, "access_token": "Atza|x", "expires_at": 1',  # truncated
        b"\xff\xfe",
        b"[]",
        json.dumps(_entry(version=2)).encode(),
        json.dumps(_entry(access_token="")).encode(),
        json.dumps(_entry(expires_at="soon")).encode(),
        json.dumps(_entry(refresh_at=True)).encode(),
        json.dumps(_entry(region=None)).encode(),
        b"[" * 100000,
    ],
)
def test_corrupt_or_foreign_entries_are_misses(raw: bytes) -> None:
    assert cache.parse_entry(raw) is None


def test_usable_respects_refresh_time_and_min_ttl() -> None:
    now = 1000.0
    entry = _entry(expires_at=now + 600, refresh_at=now + 300)
    assert cache.is_usable(entry, 0, now=now)
    assert cache.is_usable(entry, 600, now=now)
    assert not cache.is_usable(entry, 601, now=now)
    assert not cache.is_usable(entry, 0, now=now + 300)


def test_credential_key_changes_with_the_refresh_token() -> None:
    a = cache.credential_key("client", "Atzr|one")
    assert a == cache.credential_key("client", "Atzr|one")
    assert a != cache.credential_key("client", "Atzr|two")
    assert a != cache.credential_key("other", "Atzr|one")
    assert "Atzr" not in a
    assert cache.matches({"key": a}, a) and not cache.matches({"key": a}, "x")


@pytest.mark.parametrize("xdg", [None, "", "   ", "/tmp/xdg-cache"])
def test_cache_dir_matches_platformdirs(monkeypatch: pytest.MonkeyPatch, xdg: str | None) -> None:
    monkeypatch.delenv("SPCONNECT_CACHE_DIR", raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert paths.cache_dir() == platformdirs.user_cache_dir("spconnect")


def test_cache_and_config_dirs_honour_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPCONNECT_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("SPCONNECT_CONFIG_DIR", str(tmp_path / "k"))
    assert cache.cache_path("p") == str(tmp_path / "c" / "tokens" / "p.json")
    assert paths.config_dir() == str(tmp_path / "k")
