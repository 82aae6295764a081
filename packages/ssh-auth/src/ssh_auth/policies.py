"""Ready-made server policies: authorized_keys files with every option enforced, trusted user
CAs with principals (sshd's TrustedUserCAKeys / AuthorizedPrincipalsFile), password checks
(a callback or a scrypt :class:`PasswordDatabase`), keyboard-interactive by password, and
required method lists in sshd's AuthenticationMethods syntax.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone

from ssh_keys import (
    AuthorizedKeyOptions,
    AuthorizedKeys,
    Certificate,
    CertificateInvalid,
    CertType,
    PublicKey,
    PublicKeyLine,
    as_public_key,
)

from . import messages as m
from .decisions import AuthContext, Challenge, Decision
from .policy import BasePolicy, KeyboardInteractiveConversation

__all__ = [
    "StandardPolicy",
    "PasswordDatabase",
    "PasswordConversation",
    "authorized_keys_file",
    "parse_authentication_methods",
    "PasswordCheck",
]

#: ``check(username, password) -> bool``. It should cost the same for unknown users.
PasswordCheck = Callable[[str, str], bool]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_authentication_methods(text: str) -> list[list[str]]:
    """sshd_config's AuthenticationMethods: space-separated lists of comma-separated methods
    (``"publickey,password publickey,keyboard-interactive"``). ``"any"`` gives one list per
    method; sshd's ``method:submethod`` suffixes are dropped."""
    if text.strip() == "any":
        return [[m.PUBLICKEY], [m.PASSWORD], [m.KEYBOARD_INTERACTIVE]]
    lists = []
    for group in text.split():
        names = [name.partition(":")[0] for name in group.split(",") if name]
        if not names:
            raise ValueError(f"empty method list in {text!r}")
        lists.append(names)
    if not lists:
        raise ValueError("no method lists")
    return lists


def authorized_keys_file(
    template: str | os.PathLike[str], *, home: Callable[[str], str | None] | None = None
) -> Callable[[str], AuthorizedKeys | None]:
    """A lookup for :class:`StandardPolicy`: ``%u`` is the user name, ``%h`` their home
    (``home(user)``, default from the password database), ``%%`` a percent sign. A missing
    or unreadable file means no keys; bad lines are skipped, as sshd does. ``template``
    may be a path object; a bad one fails here (TypeError, ValueError), not at login,
    where the client would only see the connection end with "internal error"."""
    path = os.fspath(template)
    if not isinstance(path, str):
        raise TypeError(f"authorized_keys_file takes a str path, not {type(path).__name__}")
    _expand(path, "user", lambda user: "/")  # an unknown token fails now, not at login

    def lookup(username: str) -> AuthorizedKeys | None:
        if "/" in username or "\x00" in username or username in (".", ".."):
            return None  # never let a user name walk the file system (or reach open())
        name = _expand(path, username, home or _home)
        if name is None:
            return None
        try:
            return AuthorizedKeys.load(name, strict=False)
        except OSError:
            return None

    return lookup


def _expand(template: str, username: str, home: Callable[[str], str | None]) -> str | None:
    """``template`` with its tokens replaced; None when the user has no home."""
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c == "%" and i + 1 < len(template):
            code = template[i + 1]
            if code == "u":
                out.append(username)
            elif code == "h":
                directory = home(username)
                if directory is None:
                    return None
                out.append(directory)
            elif code == "%":
                out.append("%")
            else:
                raise ValueError(f"unknown token %{code} in {template!r}")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _home(username: str) -> str | None:
    try:
        import pwd
    except ImportError:  # pragma: no cover - not POSIX
        return None
    try:
        return pwd.getpwnam(username).pw_dir
    except KeyError:
        return None


class PasswordDatabase:
    """Passwords stored as scrypt hashes; checks take the same time for unknown users.

    Hash format: ``$scrypt$n=<n>,r=<r>,p=<p>$<salt b64>$<hash b64>``.
    """

    def __init__(
        self,
        hashes: Mapping[str, str] | None = None,
        *,
        n: int = 1 << 14,
        r: int = 8,
        p: int = 1,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._hashes = dict(hashes or {})
        self._params = (n, r, p)
        self._rng = rng
        # Unknown users are checked against this, so they cost a real scrypt run.
        self._dummy = self.hash(rng(16).hex(), n=n, r=r, p=p, salt=rng(16))

    @staticmethod
    def hash(
        password: str,
        *,
        n: int = 1 << 14,
        r: int = 8,
        p: int = 1,
        salt: bytes | None = None,
    ) -> str:
        salt = os.urandom(16) if salt is None else salt
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
        enc = base64.b64encode
        return f"$scrypt$n={n},r={r},p={p}${enc(salt).decode()}${enc(digest).decode()}"

    @staticmethod
    def verify(stored: str, password: str) -> bool:
        try:
            _, kind, params, salt_b64, digest_b64 = stored.split("$")
            if kind != "scrypt":
                return False
            values = dict(item.split("=", 1) for item in params.split(","))
            n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
            salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
            if not (1 < n <= 1 << 20 and 0 < r <= 32 and 0 < p <= 16):
                return False
            computed = hashlib.scrypt(
                password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(digest),
                maxmem=256 * n * r + (1 << 20),
            )  # fmt: skip
        except (ValueError, KeyError):
            return False
        return hmac.compare_digest(computed, digest)

    def set_password(self, username: str, password: str) -> None:
        n, r, p = self._params
        self._hashes[username] = self.hash(password, n=n, r=r, p=p, salt=self._rng(16))

    def __call__(self, username: str, password: str) -> bool:
        stored = self._hashes.get(username)
        ok = self.verify(stored if stored is not None else self._dummy, password)
        return ok and stored is not None


class PasswordConversation:
    """Keyboard-interactive that asks for the password once (one hidden prompt)."""

    def __init__(self, check: Callable[[str], bool], prompt: str = "Password: ") -> None:
        self._check = check
        self._prompt = prompt

    def start(self) -> Challenge | Decision:
        return Challenge(((self._prompt, False),))

    def respond(self, responses: tuple[str, ...]) -> Challenge | Decision:
        if len(responses) == 1 and self._check(responses[0]):
            return Decision.accept()
        return Decision.reject("wrong password")


class StandardPolicy(BasePolicy):
    """sshd's usual rules as a policy.

    - ``authorized_keys(user)`` gives the user's :class:`~ssh_keys.AuthorizedKeys` (see
      :func:`authorized_keys_file`). Key lines need ``from=`` to match the client and
      ``expiry-time`` not passed; ``cert-authority`` lines accept user certificates from that
      CA, for the user's name or one of the line's ``principals=`` (a certificate with no
      principals, under a line without ``principals=``, fits any user, as in sshd).
      ``restrict``/``no-*``, ``command=`` and the rest travel up in the decision.
    - ``trusted_user_ca_keys`` accept certificates signed by these CAs when one of the
      certificate's principals is in ``authorized_principals(user)`` (or is the user name
      when that gives None).
    - Certificates must be valid now, user certificates, and pass their critical options
      (``source-address`` against the client address).
    - ``password(user, password)`` checks passwords (use :class:`PasswordDatabase` for the
      same cost whatever the user); keyboard-interactive asks for it too unless
      ``keyboard_interactive_password`` is False.
    - ``authentication_methods``: sshd syntax or lists; default: every configured method
      alone.
    """

    def __init__(
        self,
        *,
        authorized_keys: Callable[[str], AuthorizedKeys | None] | None = None,
        trusted_user_ca_keys: Sequence[PublicKey | PublicKeyLine] = (),
        authorized_principals: Callable[[str], Sequence[str] | None] | None = None,
        password: PasswordCheck | None = None,
        keyboard_interactive_password: bool = True,
        authentication_methods: str | Sequence[Sequence[str]] | None = None,
        banner: str | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self._authorized_keys = authorized_keys
        self._trusted_cas = frozenset(
            as_public_key(k, "a trusted user CA key").blob for k in trusted_user_ca_keys
        )
        self._authorized_principals = authorized_principals
        self._password = password
        self._kbdint_password = keyboard_interactive_password and password is not None
        self._banner = banner
        self._clock = clock
        if isinstance(authentication_methods, str):
            self._lists = parse_authentication_methods(authentication_methods)
        elif authentication_methods is not None:
            self._lists = [list(lst) for lst in authentication_methods]
        else:
            self._lists = []
            if authorized_keys is not None or trusted_user_ca_keys:
                self._lists.append([m.PUBLICKEY])
            if password is not None:
                self._lists.append([m.PASSWORD])
            if self._kbdint_password:
                self._lists.append([m.KEYBOARD_INTERACTIVE])

    def method_lists(self, username: str) -> Sequence[Sequence[str]]:
        return self._lists

    def banner(self, username: str) -> str | None:
        return self._banner

    # -- passwords ---------------------------------------------------------------------

    def check_password(self, username: str, password: str, context: AuthContext) -> Decision:
        if self._password is None:
            return Decision.reject("passwords not accepted")
        if self._password(username, password):
            return Decision.accept()
        return Decision.reject("wrong password")

    def keyboard_interactive(
        self, username: str, submethods: str, context: AuthContext
    ) -> KeyboardInteractiveConversation | None:
        check = self._password
        if not self._kbdint_password or check is None:
            return None
        return PasswordConversation(lambda answer: check(username, answer))

    # -- keys ----------------------------------------------------------------------------

    def _options_ok(self, options: AuthorizedKeyOptions, context: AuthContext) -> str | None:
        """Why a matching line does not apply here, or None when it does."""
        if options.from_patterns is not None and (
            context.client_address is None
            or not options.allows_from(context.client_address, context.client_hostname)
        ):
            return "from= does not match the client"
        if options.expired(self._clock()):
            return "key expired (expiry-time)"
        return None

    def check_publickey(self, username: str, key: PublicKey, context: AuthContext) -> Decision:
        keys = self._authorized_keys(username) if self._authorized_keys is not None else None
        if keys is None:
            return Decision.reject("no authorized keys")
        reason = "key not in authorized_keys"
        for entry in keys.find(key):
            if entry.options.principals is not None:
                reason = "principals= is only for cert-authority lines"
                continue
            why = self._options_ok(entry.options, context)
            if why is None:
                return Decision.accept(entry.options, key=key)
            reason = why
        return Decision.reject(reason)

    def _check_certificate_itself(self, cert: Certificate, context: AuthContext) -> str | None:
        try:
            # Principals are matched by the caller (empty ones only fit a bare cert-authority).
            cert.check(
                self._clock(), None, CertType.USER, context.client_address,
                require_principal=False,
            )  # fmt: skip
        except CertificateInvalid as exc:
            return str(exc)
        return None

    def check_certificate(
        self, username: str, certificate: Certificate, context: AuthContext
    ) -> Decision:
        why = self._check_certificate_itself(certificate, context)
        if why is not None:
            return Decision.reject(why)
        listed = set(certificate.valid_principals)
        reason = "certificate authority not trusted"
        keys = self._authorized_keys(username) if self._authorized_keys is not None else None
        for entry in keys.find(certificate) if keys is not None else ():
            options = entry.options
            wanted = options.principals if options.principals is not None else (username,)
            # As sshd: under a cert-authority line without principals=, a certificate
            # naming no principals is valid for any user (TrustedUserCAKeys, principals=
            # and AuthorizedPrincipalsFile always want a listed name).
            wildcard = not listed and options.principals is None
            if not wildcard and listed.isdisjoint(wanted):
                reason = "no certificate principal is allowed for this user"
                continue
            why = self._options_ok(options, context)
            if why is not None:
                reason = why
                continue
            forced = certificate.force_command
            if options.command is not None and forced is not None and forced != options.command:
                reason = "certificate and key line force different commands"
                continue
            return Decision.accept(options, certificate, certificate)
        if certificate.signature_key.blob in self._trusted_cas:
            allowed = None
            if self._authorized_principals is not None:
                allowed = self._authorized_principals(username)
            if listed.isdisjoint(allowed if allowed is not None else (username,)):
                return Decision.reject("no certificate principal is allowed for this user")
            return Decision.accept(None, certificate, certificate)
        return Decision.reject(reason)
