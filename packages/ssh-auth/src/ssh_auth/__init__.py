"""ssh-auth: SSH user authentication (RFC 4252, RFC 4256) as sans-I/O cores.

:class:`AuthClient` and :class:`AuthServer` sit on an ``ssh_transport.Transport`` core;
``ssh_auth.sync`` and ``ssh_auth.aio`` drive them over the transport drivers. Agent and
hardware keys arrive as ``ssh_keys.Signer`` objects: this package never talks to an agent.
Importing it never imports asyncio, socket or time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time each name is imported on first use: __getattr__
    from .algorithms import choose_signature_algorithm
    from .client import AuthClient, ClientState
    from .decisions import AuthContext, Challenge, Decision
    from .errors import AuthenticationFailed
    from .events import (
        AttemptFailed,
        AttemptRejected,
        AuthenticationSucceeded,
        AuthEvent,
        BannerReceived,
        ConnectionTerminated,
        KeyboardInteractivePrompt,
        PasswordChangeRequested,
        PasswordRequested,
        SignatureRequested,
        UserAuthenticated,
    )
    from .policies import (
        PasswordConversation,
        PasswordDatabase,
        StandardPolicy,
        authorized_keys_file,
        parse_authentication_methods,
    )
    from .policy import AuthPolicy, BasePolicy, KeyboardInteractiveConversation
    from .runner import (
        DEFAULT_METHODS,
        CertifiedSigner,
        HostbasedCredentials,
        MethodRunner,
        key_candidates,
    )
    from .server import AuthServer, ServerState

__version__ = "0.3.0"

__all__ = [
    # cores
    "AuthClient",
    "ClientState",
    "AuthServer",
    "ServerState",
    # client helpers
    "MethodRunner",
    "DEFAULT_METHODS",
    "CertifiedSigner",
    "HostbasedCredentials",
    "key_candidates",
    "choose_signature_algorithm",
    # server policy
    "AuthPolicy",
    "BasePolicy",
    "KeyboardInteractiveConversation",
    "Decision",
    "Challenge",
    "AuthContext",
    "StandardPolicy",
    "PasswordDatabase",
    "PasswordConversation",
    "authorized_keys_file",
    "parse_authentication_methods",
    # events
    "AuthEvent",
    "BannerReceived",
    "PasswordRequested",
    "PasswordChangeRequested",
    "KeyboardInteractivePrompt",
    "SignatureRequested",
    "AttemptFailed",
    "AuthenticationSucceeded",
    "AttemptRejected",
    "UserAuthenticated",
    "ConnectionTerminated",
    # errors
    "AuthenticationFailed",
]

#: Where each public name lives, imported on first use so that importing the package
#: costs little (``sshd-py -i`` starts a process per connection).
_EXPORTS: dict[str, tuple[str, ...]] = {
    ".algorithms": ("choose_signature_algorithm",),
    ".client": ("AuthClient", "ClientState"),
    ".decisions": ("AuthContext", "Challenge", "Decision"),
    ".errors": ("AuthenticationFailed",),
    ".events": (
        "AttemptFailed",
        "AttemptRejected",
        "AuthenticationSucceeded",
        "AuthEvent",
        "BannerReceived",
        "ConnectionTerminated",
        "KeyboardInteractivePrompt",
        "PasswordChangeRequested",
        "PasswordRequested",
        "SignatureRequested",
        "UserAuthenticated",
    ),
    ".policies": (
        "PasswordConversation",
        "PasswordDatabase",
        "StandardPolicy",
        "authorized_keys_file",
        "parse_authentication_methods",
    ),
    ".policy": ("AuthPolicy", "BasePolicy", "KeyboardInteractiveConversation"),
    ".runner": (
        "DEFAULT_METHODS",
        "CertifiedSigner",
        "HostbasedCredentials",
        "MethodRunner",
        "key_candidates",
    ),
    ".server": ("AuthServer", "ServerState"),
}
_ALIASES: dict[str, tuple[str, str]] = {}
_SUBMODULES: frozenset[str] = frozenset()
_WHERE = {name: (module, name) for module, names in _EXPORTS.items() for name in names}
_WHERE.update(_ALIASES)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        value: object = importlib.import_module(f".{name}", __name__)
    else:
        try:
            module, attribute = _WHERE[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
