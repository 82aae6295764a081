"""ssh-auth: SSH user authentication (RFC 4252, RFC 4256) as sans-I/O cores.

:class:`AuthClient` and :class:`AuthServer` sit on an ``ssh_transport.Transport`` core;
``ssh_auth.sync`` and ``ssh_auth.aio`` drive them over the transport drivers. Agent and
hardware keys arrive as ``ssh_keys.Signer`` objects: this package never talks to an agent.
Importing it never imports asyncio, socket or time.
"""

from __future__ import annotations

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

__version__ = "0.2.1"

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
