"""Who may do what with intake's API: API keys and their scopes.

``INTAKE_API_KEYS`` lists ``name[scope,scope]:secret`` items, comma-separated. A key named
after a channel (``web:K1``) submits that channel's complaints and reads what that channel
submitted (default scopes ``submit`` and ``read-own``). Anything beyond is granted by name:
``crm[read-all,tier]:K3`` reads every channel's complaints and may change a customer's tier,
and, not being a channel, submits nothing. A name may hold several secrets (key rotation)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr

from shared.events.common import Channel


class Scope(StrEnum):
    SUBMIT = "submit"  # submit complaints, complete the contact data of its own ones
    READ_OWN = "read-own"  # read the complaints its own channel submitted
    READ_ALL = "read-all"  # read every channel's complaints, customers' contact data included
    TIER = "tier"  # change a customer's tier (a CRM's business, not a channel's)


CHANNEL_DEFAULT_SCOPES = frozenset({Scope.SUBMIT, Scope.READ_OWN})
_CHANNELS = {c.value for c in Channel}


@dataclass(frozen=True)
class ApiClient:
    """The caller an API key names."""

    name: str
    scopes: frozenset[Scope]

    @property
    def channel(self) -> Channel | None:
        return Channel(self.name) if self.name in _CHANNELS else None

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    def may_read(self, channel: str) -> bool:
        """Whether a complaint submitted on ``channel`` is this caller's to read."""
        if self.has(Scope.READ_ALL):
            return True
        return self.has(Scope.READ_OWN) and self.channel is not None and channel == self.channel

    def may_complete(self, channel: str) -> bool:
        """Whether this caller may complete the contact data of a complaint of ``channel``."""
        return self.has(Scope.SUBMIT) and self.channel is not None and channel == self.channel


@dataclass(frozen=True)
class ApiKey:
    client: ApiClient
    secret: SecretStr


def parse_api_keys(spec: str) -> list[ApiKey]:
    """Parse ``INTAKE_API_KEYS``; a ValueError names the item that is wrong."""
    keys = []
    for item in _items(spec):
        head, sep, secret = item.partition(":")
        if not sep or not head.strip() or not secret.strip():
            raise ValueError(f"expected name:secret or name[scopes]:secret, got {_hint(item)!r}")
        name, scopes = _name_and_scopes(head.strip())
        keys.append(ApiKey(ApiClient(name, scopes), SecretStr(secret.strip())))
    return keys


def _items(spec: str) -> list[str]:
    """Split on the commas outside brackets."""
    items, depth, current = [], 0, []
    for char in spec:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [i.strip() for i in items if i.strip()]


def _name_and_scopes(head: str) -> tuple[str, frozenset[Scope]]:
    name, bracket, rest = head.partition("[")
    name = name.strip()
    if not name:
        raise ValueError(f"an API key needs a name, got {head!r}")
    if not bracket:
        if name not in _CHANNELS:
            raise ValueError(
                f"unknown channel {name!r}; a key of another client names its scopes, "
                f"e.g. {name}[read-all]:SECRET"
            )
        return name, CHANNEL_DEFAULT_SCOPES
    if not rest.endswith("]"):
        raise ValueError(f"unclosed scope list in {head!r}")
    scopes = set()
    for word in rest[:-1].split(","):
        word = word.strip()
        if not word:
            continue
        try:
            scopes.add(Scope(word))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"unknown scope {word!r} for {name!r} (one of {known})") from None
    if not scopes:
        raise ValueError(f"no scopes listed for {name!r}")
    if name not in _CHANNELS and scopes & {Scope.SUBMIT, Scope.READ_OWN}:
        raise ValueError(f"{name!r} is not a channel: it cannot have submit or read-own")
    return name, frozenset(scopes)


def _hint(item: str) -> str:
    """The item without its secret, for error messages."""
    head, _, _ = item.partition(":")
    return head + ":..."
