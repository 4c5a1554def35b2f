"""The company's network for Supabase Auth calls: which proxy a URL goes through, and which CAs
TLS trusts — read from the environment as the standard library and OpenSSL read it.

* ``proxy_route(url)``: ``urllib.request.getproxies()`` (``HTTPS_PROXY``, ``HTTP_PROXY``,
  ``ALL_PROXY``, either case) and ``urllib.request.proxy_bypass`` (``NO_PROXY``); a
  ``ProxyRoute`` shows itself as ``scheme://host:port`` (never its credentials);
* ``ssl_context()``: ``SSL_CERT_FILE`` and/or ``SSL_CERT_DIR`` when set (they replace the
  default bundle), else certifi's.

``synthadmin.auth.transport`` sends each request accordingly.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import httpx

from synthadmin.exceptions import ConfigurationError


@dataclass(frozen=True)
class ProxyRoute:
    """The proxy one request goes through: its URL (credentials included: never shown) and the
    variable it came from."""

    url: str
    variable: str

    @property
    def shown(self) -> str:
        """The proxy as messages show it: ``scheme://host:port``, never its credentials."""
        parts = urlsplit(self.url)
        host = parts.hostname or "?"
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}"

    def described(self) -> str:
        return f"the proxy {self.shown} ({self.variable})"


def ssl_context() -> ssl.SSLContext:
    """What TLS trusts: ``SSL_CERT_FILE`` and/or ``SSL_CERT_DIR`` when set (the whole trust
    store, as OpenSSL reads them), else certifi's bundle.

    Raises ConfigurationError, naming the variable, for a file or directory that cannot be read.
    """
    cafile = os.environ.get("SSL_CERT_FILE", "").strip() or None
    capath = os.environ.get("SSL_CERT_DIR", "").strip() or None
    if cafile is None and capath is None:
        return ssl.create_default_context(cafile=certifi.where())
    if cafile is not None and not os.path.isfile(cafile):
        raise ConfigurationError(f"SSL_CERT_FILE={cafile}: no such file (a PEM bundle of trusted CAs)")
    if capath is not None and not os.path.isdir(capath):
        raise ConfigurationError(f"SSL_CERT_DIR={capath}: no such directory (hashed CA certificates)")
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except ssl.SSLError:
        variable = "SSL_CERT_FILE" if cafile is not None else "SSL_CERT_DIR"
        raise ConfigurationError(f"{variable}: not a PEM bundle of CA certificates") from None


def proxy_route(url: httpx.URL, proxies: dict[str, str] | None = None) -> ProxyRoute | None:
    """The proxy the standard library would use for ``url`` (None: direct).

    ``proxies`` is ``urllib.request.getproxies()`` (read now when not given): the scheme's own
    variable first, then ``ALL_PROXY``; ``NO_PROXY`` (``urllib.request.proxy_bypass``) wins.
    """
    proxies = urllib.request.getproxies() if proxies is None else proxies
    scheme = url.scheme
    chosen = proxies.get(scheme)
    variable = f"{scheme.upper()}_PROXY"
    if not chosen:
        chosen, variable = proxies.get("all"), "ALL_PROXY"
    if not chosen:
        return None
    host = url.host if url.port is None else f"{url.host}:{url.port}"
    if urllib.request.proxy_bypass(host) or (url.port is not None and urllib.request.proxy_bypass(url.host)):
        return None
    if "://" not in chosen:
        chosen = f"http://{chosen}"
    route = ProxyRoute(url=chosen, variable=variable)
    if urlsplit(chosen).scheme not in ("http", "https"):
        raise ConfigurationError(
            f"{variable}: {route.shown} is not an HTTP proxy; Supabase Auth is reached through "
            "http:// or https:// proxies only"
        )
    return route


__all__ = ["ProxyRoute", "proxy_route", "ssl_context"]
