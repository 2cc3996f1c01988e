"""A development OpenID Connect issuer: a key pair, its JWKS and tokens for the demo staff.

Not for production (use the company's identity provider): it signs whatever it is asked to.
The key pair is generated once into the git-ignored ``.local/dev-issuer/``; tests generate
their own in memory (``Issuer.generate``). Signing and key handling are PyJWT's and
cryptography's; nothing here is hand-written crypto."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ROOT = Path(__file__).resolve().parents[2]
KEY_FOLDER = ROOT / ".local" / "dev-issuer"
DEFAULT_ISSUER = "http://127.0.0.1:8009"
DEFAULT_AUDIENCE = "complaint-platform"
DEFAULT_PORT = 8009


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """The RFC 7638 key id: SHA-256 over the required members of the JWK, canonical JSON."""
    members = {k: public_jwk[k] for k in ("e", "kty", "n")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


@dataclass
class Issuer:
    private_key: rsa.RSAPrivateKey
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    algorithm: str = "RS256"

    @classmethod
    def generate(cls, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE) -> Issuer:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), issuer, audience)

    @classmethod
    def load_or_create(
        cls,
        folder: Path = KEY_FOLDER,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> Issuer:
        """The key pair in ``folder`` (created on first use, private key readable by the owner
        only); issuer and audience from the arguments, ``AUTH_ISSUER``/``AUTH_AUDIENCE``, or
        the defaults."""
        issuer = issuer or os.environ.get("AUTH_ISSUER") or DEFAULT_ISSUER
        audience = audience or os.environ.get("AUTH_AUDIENCE") or DEFAULT_AUDIENCE
        path = folder / "private.pem"
        if not path.exists():
            found = cls.generate(issuer, audience)
            folder.mkdir(parents=True, exist_ok=True)
            pem = found.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # Written whole under a temporary name, then linked: a concurrent first start
            # never reads half a key, and the first writer wins.
            partial = folder / f".private-{os.getpid()}.pem"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            try:
                os.link(partial, path)
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: not an RSA private key")
        found = cls(key, issuer, audience)
        jwks = folder / "jwks.json"
        if not jwks.exists():
            found.write_jwks(jwks)
        return found

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": thumbprint(jwk), "use": "sig", "alg": self.algorithm}

    @property
    def kid(self) -> str:
        return self.public_jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks(), indent=2) + "\n", encoding="utf-8")
        return path

    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def openid_configuration(self, jwks_url: str) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": jwks_url,
            "id_token_signing_alg_values_supported": [self.algorithm],
            "subject_types_supported": ["public"],
        }

    def mint(
        self,
        subject: str,
        *,
        name: str | None = None,
        roles: Sequence[str] | None = None,
        ttl: timedelta = timedelta(hours=8),
        now: datetime | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token for ``subject``; ``roles`` None leaves the claim out (the
        services then take the person's roles from the staff directory)."""
        now = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "aud": audience or self.audience,
            "sub": subject,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        if name is not None:
            claims["name"] = name
        if roles is not None:
            claims["roles"] = list(roles)
        claims.update(extra or {})
        return jwt.encode(claims, self.private_key, self.algorithm, headers={"kid": self.kid})
