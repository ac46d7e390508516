"""Open redirects (RFC 9700 §4.11): whatever ``return_to`` a sign-in starts with, the place the callback sends the
browser resolves to the site itself — checked with the standard library's URL joining and with httpx's WHATWG-like
parser, which drop tabs and newlines and read a backslash as a slash, as browsers do."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx
from hypothesis import given
from hypothesis import strategies as st

from authhooks.flows.oauth_authorize import safe_return_to

SITE = "https://app.test/auth/oauth/fake/callback?code=x"
tricky = st.text(alphabet="/\\.:@?#%\t\n\r ae-vil0123456789", max_size=24)


@given(value=st.one_of(st.text(max_size=40), tricky, tricky.map(lambda t: "/" + t)))
def test_return_to_never_leaves_the_site(value: str) -> None:
    target = safe_return_to(value)
    assert target.startswith("/") and target.isascii()
    assert urlsplit(urljoin(SITE, target)).netloc == "app.test"
    assert httpx.URL(SITE).join(target).host == "app.test"
    cleaned = target.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    assert not cleaned.startswith("//")
