"""Errors of ssh-auth. Every one derives from :class:`ssh_wire.SSHError`."""

from __future__ import annotations

from ssh_wire import SSHError

__all__ = ["AuthenticationFailed"]


class AuthenticationFailed(SSHError):
    """No configured method got the client in.

    ``methods`` are the methods the server said could still continue (what it would accept),
    ``partial_success`` whether some earlier method of a multi-step sequence did succeed.
    """

    def __init__(
        self, methods: tuple[str, ...] = (), partial_success: bool = False, description: str = ""
    ) -> None:
        self.methods = methods
        self.partial_success = partial_success
        text = description or "authentication failed"
        listed = ",".join(methods) if methods else "none"
        super().__init__(f"{text} (server accepts: {listed})")
