"""A real OpenID provider for the tests (the certified ``oidc-provider`` npm package under the
machine's Node.js), and the walk through its sign-in pages with plain HTTP.

The provider serves HTTPS with a certificate from a CA of the test run; the portal trusts that CA
through OIDC_CA_BUNDLE, as a bank would configure its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

from issuer_portal.core.pki import issue, make_ca
from tests.processes import free_port

BASE_DIR = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("provider.mjs")
PACKAGE = BASE_DIR / "node_modules" / "oidc-provider"

CARDHOLDER_CLIENT = "card-portal"
CARDHOLDER_JWT_CLIENT = "card-portal-jwt"
STAFF_CLIENT = "staff-admin"
ONLINE_BANK_CLIENT = "online-bank"
SECRET = "a-test-client-secret-that-is-long-enough-for-hs256"


def missing() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "needs Node.js"
    if not PACKAGE.exists():
        return "needs the oidc-provider package (npm ci)"
    return None


def _rsa_jwk(kid: str) -> tuple[dict[str, Any], bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private = json.loads(jwk.JWK.from_pem(pem).export_private())
    private.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return private, pem


class _Browser(requests.Session):
    """Trusts the provider's CA on every request (an environment CA bundle would win over a
    session-wide ``verify``)."""

    def __init__(self, ca_file: str) -> None:
        super().__init__()
        self.ca_file = ca_file

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("verify", self.ca_file)
        return super().request(method, url, *args, **kwargs)


@dataclass
class IdentityProvider:
    """The running provider: its issuer URL, the CA to trust, and the test controls."""

    issuer: str
    ca_file: Path
    cert_file: Path
    client_key_file: Path
    signing_jwk: dict[str, Any]
    process: subprocess.Popen
    portal_url: str
    http: requests.Session = field(default_factory=requests.Session)

    def control(self, name: str, body: Any) -> None:
        response = requests.post(
            f"{self.issuer}/__test__/{name}", json=body, verify=str(self.ca_file), timeout=5
        )
        response.raise_for_status()

    def people(self, **claims_by_login: dict[str, Any]) -> None:
        self.control("accounts", claims_by_login)

    def next_login(
        self,
        *,
        acr: str = "urn:bank:loa:substantial",
        amr: list[str] | None = None,
        ignore_acr_values: bool = False,
    ) -> None:
        self.control(
            "next-login",
            {"acr": acr, "amr": amr or ["pwd"], "ignoreAcrValues": ignore_acr_values},
        )

    def tamper_next_id_token(self, mode: str) -> None:
        self.control("tamper", {"mode": mode})

    def logouts(self) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.issuer}/__test__/logouts", verify=str(self.ca_file), timeout=5
        )
        return response.json()

    def browser_session(self) -> requests.Session:
        """A fresh cookie jar at the provider: a person's browser, as far as the provider sees."""
        return _Browser(str(self.ca_file))

    def walk(self, url: str, *, login: str | None, browser: requests.Session) -> str:
        """Follow the provider's pages from ``url`` (signing in as ``login`` when it asks) until
        it sends the browser back to the portal; returns that URL."""
        for _ in range(15):
            if not url.startswith(self.issuer):
                return url
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            form = re.search(r'action="(/interaction/[^"]+/login)"', response.text)
            if form is None:
                raise AssertionError(f"provider page without a way on: {response.text[:300]}")
            if login is None:
                raise AssertionError("the provider asked for a sign-in")
            response = browser.post(
                urljoin(url, form.group(1)), data={"login": login}, allow_redirects=False
            )
            url = urljoin(url, response.headers["Location"])
        raise AssertionError("too many redirects at the provider")

    def end_session(self, browser: requests.Session, *, client_id: str) -> None:
        """Sign out at the provider through ``client_id`` (the online bank, say): confirms the
        provider's "sign me out" page; back-channel logout calls go out to the other clients."""
        page = browser.get(
            f"{self.issuer}/session/end", params={"client_id": client_id}, timeout=10
        )
        xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text)
        action = re.search(r'action="([^"]+)"', page.text)
        assert xsrf and action, page.text[:300]
        browser.post(
            urljoin(page.url, action.group(1)),
            data={"xsrf": xsrf.group(1), "logout": "yes"},
            allow_redirects=False,
            timeout=10,
        )

    def spki_pin(self) -> str:
        """The base64 SHA-256 of the provider's public key: a browser trusts exactly this key
        (and nothing else it could not verify)."""
        certificate = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        spki = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_provider(directory: Path, portal_url: str) -> IdentityProvider:
    """Start the provider with the portal's clients registered at ``portal_url``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = make_ca("Test identity provider CA")
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.cert_pem())
    cert_file, key_file = issue(ca, "127.0.0.1", server=True).write(directory, "provider")
    signing, _ = _rsa_jwk("provider-key-1")
    client_jwk, client_pem = _rsa_jwk("portal-client-key")
    client_key_file = directory / "portal-client.pem"
    client_key_file.write_bytes(client_pem)
    public_client_jwk = {
        k: v for k, v in client_jwk.items() if k in ("kty", "n", "e", "kid", "use", "alg")
    }
    port = free_port()
    issuer = f"https://127.0.0.1:{port}"
    portal_uris = {
        "redirect_uris": [f"{portal_url}/oidc/callback/"],
        "post_logout_redirect_uris": [f"{portal_url}/accounts/signed-out/"],
        "backchannel_logout_uri": f"{portal_url}/oidc/backchannel-logout/",
        "backchannel_logout_session_required": True,
        "require_auth_time": True,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    config = {
        "issuer": issuer,
        "port": port,
        "certFile": str(cert_file),
        "keyFile": str(key_file),
        "jwks": {"keys": [signing]},
        "clients": [
            {"client_id": CARDHOLDER_CLIENT, "client_secret": SECRET, **portal_uris},
            {
                "client_id": CARDHOLDER_JWT_CLIENT,
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "RS256",
                "jwks": {"keys": [public_client_jwk]},
                **portal_uris,
            },
            {
                "client_id": STAFF_CLIENT,
                "client_secret": SECRET,
                "redirect_uris": [f"{portal_url}/admin/oidc/callback/"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
            {
                "client_id": ONLINE_BANK_CLIENT,
                "client_secret": SECRET,
                "redirect_uris": ["https://online-bank.example/callback"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
        ],
    }
    config_file = directory / "provider.json"
    config_file.write_text(json.dumps(config))
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file), "NODE_ENV": "test"}
    log = (directory / "provider.log").open("w")
    process = subprocess.Popen(
        ["node", str(SCRIPT), str(config_file)],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
        if "listening" in line:
            break
        if process.poll() is not None:
            raise RuntimeError(
                f"identity provider exited: {(directory / 'provider.log').read_text()}"
            )
    else:
        process.kill()
        raise RuntimeError("identity provider did not start")
    return IdentityProvider(
        issuer=issuer,
        ca_file=ca_file,
        cert_file=cert_file,
        client_key_file=client_key_file,
        signing_jwk=signing,
        process=process,
        portal_url=portal_url,
    )


def portal_path(url: str) -> str:
    """The path and query of a portal URL, for Django's test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
