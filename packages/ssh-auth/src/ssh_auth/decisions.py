"""What a server policy answers: decisions, keyboard-interactive challenges, and the context
a check runs in."""

from __future__ import annotations

from dataclasses import dataclass, field

from ssh_keys import AuthorizedKeyOptions, Certificate, PublicKey

__all__ = ["Decision", "Challenge", "AuthContext"]


@dataclass(frozen=True)
class Decision:
    """The answer to one credential check.

    An accepted decision carries what the connection layer must enforce: the authorized_keys
    ``options`` of the line that matched and the ``certificate`` used (its ``force-command``
    and ``permit-*`` extensions). ``reason`` is for logs only: it is never sent to the client.
    ``change_prompt`` (password only) asks the client for a new password.
    """

    allowed: bool
    options: AuthorizedKeyOptions | None = None
    certificate: Certificate | None = None
    key: PublicKey | None = None
    reason: str = ""
    change_prompt: str | None = None

    @classmethod
    def accept(
        cls,
        options: AuthorizedKeyOptions | None = None,
        certificate: Certificate | None = None,
        key: PublicKey | None = None,
    ) -> Decision:
        return cls(True, options, certificate, key)

    @classmethod
    def reject(cls, reason: str = "") -> Decision:
        return cls(False, reason=reason)

    @classmethod
    def change_required(cls, prompt: str = "Password expired, please change it") -> Decision:
        """Password: right but must be changed (SSH_MSG_USERAUTH_PASSWD_CHANGEREQ)."""
        return cls(False, reason="password change required", change_prompt=prompt)

    # -- the effective restrictions (authorized_keys options AND certificate extensions) ----

    def _extension(self, name: str) -> bool:
        return self.certificate is None or name in self.certificate.extensions

    @property
    def force_command(self) -> str | None:
        """``command=`` of the key line, else the certificate's ``force-command``."""
        if self.options is not None and self.options.command is not None:
            return self.options.command
        return self.certificate.force_command if self.certificate is not None else None

    @property
    def pty_allowed(self) -> bool:
        return (self.options is None or self.options.pty) and self._extension("permit-pty")

    @property
    def agent_forwarding_allowed(self) -> bool:
        return (self.options is None or self.options.agent_forwarding) and self._extension(
            "permit-agent-forwarding"
        )

    @property
    def port_forwarding_allowed(self) -> bool:
        return (self.options is None or self.options.port_forwarding) and self._extension(
            "permit-port-forwarding"
        )

    @property
    def x11_forwarding_allowed(self) -> bool:
        return (self.options is None or self.options.x11_forwarding) and self._extension(
            "permit-X11-forwarding"
        )

    @property
    def user_rc_allowed(self) -> bool:
        return (self.options is None or self.options.user_rc) and self._extension("permit-user-rc")


@dataclass(frozen=True)
class Challenge:
    """One keyboard-interactive round: prompts are (text, echo) pairs."""

    prompts: tuple[tuple[str, bool], ...] = ()
    name: str = ""
    instruction: str = ""


@dataclass(frozen=True)
class AuthContext:
    """What a policy may want to know besides the user and the credential."""

    session_id: bytes
    client_address: str | None = None
    client_hostname: str | None = None
    #: Methods that already succeeded in this login (multi-step), oldest first.
    completed: tuple[str, ...] = field(default_factory=tuple)
