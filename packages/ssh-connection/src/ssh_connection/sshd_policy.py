"""sshd-py's authentication policy: an effective sshd_config (after Match, per connection
and user) turned into ``ssh_auth`` decisions, with sshd's log lines.

One :class:`SshdPolicy` serves one connection: it knows the client's address and port, so
``Match Address`` / ``LocalPort`` apply and the log names the peer as sshd does. The
settings that the connection layer enforces (ForceCommand, PermitTTY, AllowTcpForwarding,
PermitOpen, PermitListen, AllowAgentForwarding, X11Forwarding, SetEnv) are folded into
the accepted decision's options, where the server already enforces authorized_keys
options; both must allow a feature for it to be allowed.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ssh_auth import (
    AuthContext,
    BasePolicy,
    Challenge,
    Decision,
    KeyboardInteractiveConversation,
    PasswordConversation,
    StandardPolicy,
    UserAuthenticated,
    parse_authentication_methods,
)
from ssh_keys import (
    AuthorizedKeyOptions,
    AuthorizedKeys,
    Certificate,
    KeyFormatError,
    PermitListen,
    PermitOpen,
    PublicKey,
    RevocationList,
    load_revoked_keys,
    match_glob,
    read_public_key_file,
)

from .sshd_config import SshdConfig, SshdSettings, system_groups
from .sshd_log import log

__all__ = ["SshdPolicy", "Peer", "key_summary", "log_authenticated"]

#: Entries no request can match (ports on the wire are never negative): "none".
_NO_OPEN = PermitOpen("", -1)
_NO_LISTEN = PermitListen("", -1)
PasswordChecker = Callable[[str, str], bool]
#: Banner files are sent whole up to this size (one message must fit in a packet).
_MAX_BANNER = 200_000


@dataclass(frozen=True)
class Peer:
    """Where a connection comes from and arrives (sshd's "from ADDR port N")."""

    address: str = "UNKNOWN"
    port: int = 65535
    local_address: str | None = None
    local_port: int | None = None

    def __str__(self) -> str:
        return f"{self.address} port {self.port}"


def key_summary(key: PublicKey) -> str:
    """``ED25519 SHA256:...`` as sshd logs a key (``ED25519-CERT ... ID x`` for certs)."""
    if isinstance(key, Certificate):
        inner = key.key
        return (
            f"{inner.key_type_label}-CERT {inner.fingerprint()} ID {key.key_id} "
            f"(serial {key.serial}) CA {key.signature_key.key_type_label} "
            f"{key.signature_key.fingerprint()}"
        )
    return f"{key.key_type_label} {key.fingerprint()}"


def log_authenticated(auth: UserAuthenticated, peer: Peer) -> None:
    """sshd's success lines: "Partial ..." for each earlier step, then "Accepted ..."."""
    steps = list(zip(auth.methods, auth.decisions, strict=False))
    for index, (method, decision) in enumerate(steps):
        word = "Accepted" if index == len(steps) - 1 else "Partial"
        what = f": {key_summary(decision.key)}" if decision.key is not None else ""
        log.info("%s %s for %s from %s ssh2%s", word, method, auth.username, peer, what)
    if not steps:
        log.info("Accepted none for %s from %s ssh2", auth.username, peer)


def _running_user() -> pwd.struct_passwd:
    return pwd.getpwuid(os.getuid())


class SshdPolicy(BasePolicy):
    """The decisions sshd would make for one connection, as the current user.

    sshd-py never switches users: a login as anyone but the user running it is refused
    (and logged), whatever the configuration says. Passwords are checked only by a
    ``password`` callable given here (sshd-py itself has none: no PAM, no shadow file).
    """

    def __init__(
        self,
        config: SshdConfig,
        peer: Peer,
        *,
        password: PasswordChecker | None = None,
        user: pwd.struct_passwd | None = None,
    ) -> None:
        self.config = config
        self.peer = peer
        self._password = password
        self._me = user or _running_user()
        self._settings: dict[str, SshdSettings] = {}
        self._refused_logged: set[str] = set()
        self._revoked: dict[str, RevocationList | None] = {}
        self._user_environment = _user_environment_filter(config)

    # -- per-user settings and access ------------------------------------------------------

    def settings_for(self, username: str) -> SshdSettings:
        found = self._settings.get(username)
        if found is None:
            found = self.config.for_connection(
                username,
                None,
                self.peer.address,
                self.peer.local_address,
                self.peer.local_port,
            )
            self._settings[username] = found
        return found

    def _refusal(self, username: str, settings: SshdSettings) -> str | None:
        """Why ``username`` may not log in at all here, or None (logged once)."""
        if username != self._me.pw_name:
            why = (
                f"refusing login as {username!r} from {self.peer}: sshd-py runs as "
                f"{self._me.pw_name!r} and cannot switch users"
            )
        else:
            denied = settings.access_denied(
                username,
                host=None,
                address=self.peer.address,
                groups=system_groups(username) or (),
            )
            why = (
                f"User {username} from {self.peer.address} not allowed: {denied}" if denied else ""
            )
            if not why and username == "root" and settings.text("permitrootlogin") == "no":
                why = f"ROOT LOGIN REFUSED FROM {self.peer.address} port {self.peer.port}"
        if not why:
            return None
        if username not in self._refused_logged:
            self._refused_logged.add(username)
            log.info("%s", why)
        return why

    def _failed(self, method: str, username: str, reason: str, key: PublicKey | None) -> Decision:
        what = f": {key_summary(key)}" if key is not None else ""
        log.info("Failed %s for %s from %s ssh2%s", method, username, self.peer, what)
        log.debug("%s refused: %s", method, reason)
        return Decision.reject(reason)

    # -- method lists and banner -----------------------------------------------------------

    def method_lists(self, username: str) -> Sequence[Sequence[str]]:
        settings = self.settings_for(username)
        methods = settings.words("authenticationmethods")
        if methods != ("any",):
            return parse_authentication_methods(" ".join(methods))
        lists: list[list[str]] = []
        if settings.flag("pubkeyauthentication"):
            lists.append(["publickey"])
        if self._password is not None and settings.flag("passwordauthentication"):
            lists.append(["password"])
        if self._password is not None and settings.flag("kbdinteractiveauthentication"):
            lists.append(["keyboard-interactive"])
        return lists or [["publickey"]]

    def banner(self, username: str) -> str | None:
        path = self.settings_for(username).text("banner")
        if path == "none":
            return None
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read(_MAX_BANNER)
        except OSError as exc:
            log.error("Banner %s: %s", path, exc)
            return None

    # -- passwords (only with a checker) ---------------------------------------------------

    def _password_allowed(self, username: str, keyword: str) -> str | None:
        settings = self.settings_for(username)
        refusal = self._refusal(username, settings)
        if refusal is not None:
            return refusal
        if self._password is None:
            return "sshd-py has no password checker (no PAM)"
        if not settings.flag(keyword):
            return f"{keyword} is off"
        if username == "root" and settings.text("permitrootlogin") != "yes":
            return "root may not log in with a password"
        return None

    def check_password(self, username: str, password: str, context: AuthContext) -> Decision:
        why = self._password_allowed(username, "passwordauthentication")
        if why is None and self._password is not None and self._password(username, password):
            return self._restricted(Decision.accept(), self.settings_for(username))
        return self._failed("password", username, why or "wrong password", None)

    def keyboard_interactive(
        self, username: str, submethods: str, context: AuthContext
    ) -> KeyboardInteractiveConversation | None:
        check = self._password
        if check is None or self._password_allowed(username, "kbdinteractiveauthentication"):
            return None
        settings = self.settings_for(username)
        conversation = PasswordConversation(lambda answer: check(username, answer))
        return _RestrictedConversation(conversation, lambda d: self._restricted(d, settings))

    # -- keys and certificates -------------------------------------------------------------

    def check_publickey(self, username: str, key: PublicKey, context: AuthContext) -> Decision:
        return self._check_key(username, key, context)

    def check_certificate(
        self, username: str, certificate: Certificate, context: AuthContext
    ) -> Decision:
        return self._check_key(username, certificate, context)

    def _check_key(self, username: str, key: PublicKey, context: AuthContext) -> Decision:
        settings = self.settings_for(username)
        why = self._refusal(username, settings)
        if why is None and not settings.flag("pubkeyauthentication"):
            why = "PubkeyAuthentication is off"
        if why is None:
            why = self._key_type_refused(key, settings)
        if why is None:
            why = self._revocation(key, settings)
        if why is not None:
            return self._failed("publickey", username, why, key)
        decision = Decision.reject("key not authorized")
        for standard, lines in self._standard_policies(
            username, settings, isinstance(key, Certificate)
        ):
            if isinstance(key, Certificate):
                decision = standard.check_certificate(username, key, context)
                if decision.allowed and lines is not None:
                    decision = self._with_principal_options(decision, key, lines)
            else:
                decision = standard.check_publickey(username, key, context)
            if decision.allowed:
                break
        if not decision.allowed:
            return self._failed("publickey", username, decision.reason, key)
        if (
            username == "root"
            and settings.text("permitrootlogin") == "forced-commands-only"
            and decision.force_command is None
        ):
            return self._failed("publickey", username, "root needs a forced command", key)
        return self._restricted(decision, settings)

    def _key_type_refused(self, key: PublicKey, settings: SshdSettings) -> str | None:
        accepted = set(settings.algorithms("pubkeyacceptedalgorithms"))
        names = {key.algorithm, *key.signature_algorithms}
        if isinstance(key, Certificate):
            # rsa-sha2-512-cert-v01@openssh.com and friends name an RSA certificate too.
            names = {key.algorithm}
            names |= {f"{a}-cert-v01@openssh.com" for a in key.key.signature_algorithms}
            ca_algorithms = set(settings.algorithms("casignaturealgorithms"))
            if not ca_algorithms & set(key.signature_key.signature_algorithms):
                return f"CA key type {key.signature_key.algorithm} not in CASignatureAlgorithms"
        if not accepted & names:
            return f"key type {key.algorithm} not in PubkeyAcceptedAlgorithms"
        return None

    def _revocation(self, key: PublicKey, settings: SshdSettings) -> str | None:
        path = settings.text("revokedkeys")
        if path == "none":
            return None
        if path not in self._revoked:
            try:
                self._revoked[path] = load_revoked_keys(path)
            except (OSError, KeyFormatError) as exc:
                log.error("Revoked keys file %s is unreadable: %s", path, exc)
                self._revoked[path] = None
        revoked = self._revoked[path]
        if revoked is None:
            return "revoked keys file unreadable: refusing public key authentication"
        ca_revoked = isinstance(key, Certificate) and revoked.is_revoked(key.signature_key)
        if revoked.is_revoked(key) or ca_revoked:
            log.info("Authentication key %s revoked by file %s", key_summary(key), path)
            return "key revoked"
        return None

    def _standard_policies(
        self, username: str, settings: SshdSettings, certificate: bool
    ) -> list[tuple[StandardPolicy, list[tuple[AuthorizedKeyOptions, str]] | None]]:
        """Policies to try in order, each with the AuthorizedPrincipalsFile lines whose
        options apply when it accepts (None: no such file)."""
        home, uid = self._me.pw_dir, self._me.pw_uid
        policies: list[tuple[StandardPolicy, list[tuple[AuthorizedKeyOptions, str]] | None]] = []
        for path in settings.authorized_keys_files(username, home, uid):
            keys = self._authorized_keys(path, settings)
            if keys is not None:
                policies.append((StandardPolicy(authorized_keys=_fixed(keys)), None))
        if certificate:
            ca_path = settings.text("trustedusercakeys")
            if ca_path != "none":
                cas = self._trusted_cas(ca_path)
                principals_file = settings.authorized_principals_file(username, home, uid)
                lines = None if principals_file is None else _principal_lines(principals_file)
                names = None if lines is None else [name for _, name in lines]
                policy = StandardPolicy(
                    trusted_user_ca_keys=cas,
                    authorized_principals=None if names is None else (lambda _u: names),
                )
                policies.append((policy, lines))
        return policies

    def _with_principal_options(
        self,
        decision: Decision,
        cert: Certificate,
        lines: list[tuple[AuthorizedKeyOptions, str]],
    ) -> Decision:
        """The first principals line naming one of the certificate's principals (and
        allowing this client) gives its options, as an authorized_keys line would."""
        for options, name in lines:
            if name in cert.valid_principals and options.allows_from(self.peer.address):
                forced = cert.force_command
                if options.command is not None and forced is not None and forced != options.command:
                    return Decision.reject(
                        "certificate and principals line force different commands"
                    )
                return dataclasses.replace(decision, options=options)
        return Decision.reject("no principals line allows this client")

    def _authorized_keys(self, path: str, settings: SshdSettings) -> AuthorizedKeys | None:
        if settings.flag("strictmodes"):
            bad = _bad_modes(path, self._me)
            if bad is not None:
                log.info("Authentication refused: %s", bad)
                return None
        try:
            return AuthorizedKeys.load(path, strict=False)
        except OSError:
            log.debug("Could not open authorized keys '%s'", path)
            return None

    def _trusted_cas(self, path: str) -> list[PublicKey]:
        keys: list[PublicKey] = []
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read(1 << 20).splitlines()
        except OSError as exc:
            log.error("TrustedUserCAKeys %s: %s", path, exc)
            return keys
        for line in lines:
            if line.strip() and not line.lstrip().startswith("#"):
                try:
                    keys.append(_public_key(line))
                except KeyFormatError as exc:
                    log.error("TrustedUserCAKeys %s: %s", path, exc)
        return keys

    # -- what the connection layer enforces ------------------------------------------------

    def _restricted(self, decision: Decision, settings: SshdSettings) -> Decision:
        options = decision.options or AuthorizedKeyOptions()
        forwarding = settings.text("allowtcpforwarding")
        permitopen = _combine_open(options.permitopen, settings.words("permitopen"))
        permitlisten = _combine_listen(options.permitlisten, settings.words("permitlisten"))
        if forwarding == "local":
            permitlisten = (_NO_LISTEN,)
        elif forwarding == "remote":
            permitopen = (_NO_OPEN,)
        forced = settings.text("forcecommand")
        setenv: dict[str, str] = {}
        for item in settings.words("setenv"):
            name, _, value = item.partition("=")
            setenv.setdefault(name, value)  # the first value of a name wins, as in sshd
        # environment= of the key line only with PermitUserEnvironment; SetEnv wins.
        allowed = self._user_environment
        user_env = [(k, v) for k, v in options.environment if allowed(k)]
        environment = {**dict(user_env), **setenv}
        changed = dataclasses.replace(
            options,
            pty=options.pty and settings.flag("permittty"),
            port_forwarding=options.port_forwarding and forwarding != "no",
            agent_forwarding=options.agent_forwarding and settings.flag("allowagentforwarding"),
            x11_forwarding=options.x11_forwarding and settings.flag("x11forwarding"),
            command=forced if forced != "none" else options.command,
            permitopen=permitopen,
            permitlisten=permitlisten,
            environment=tuple(environment.items()),
        )
        return dataclasses.replace(decision, options=changed)


class _RestrictedConversation:
    """A keyboard-interactive conversation whose final decision gets the restrictions."""

    def __init__(
        self, inner: KeyboardInteractiveConversation, restrict: Callable[[Decision], Decision]
    ) -> None:
        self._inner, self._restrict = inner, restrict

    def _finish(self, step: Challenge | Decision) -> Challenge | Decision:
        if isinstance(step, Decision) and step.allowed:
            return self._restrict(step)
        return step

    def start(self) -> Challenge | Decision:
        return self._finish(self._inner.start())

    def respond(self, responses: tuple[str, ...]) -> Challenge | Decision:
        return self._finish(self._inner.respond(responses))


def _user_environment_filter(config: SshdConfig) -> Callable[[str], bool]:
    """sshd's PermitUserEnvironment (global): no, yes, or patterns of names allowed."""
    value = next(
        (u.value for u in config.unsupported if u.keyword == "permituserenvironment"), "no"
    ).strip()
    if value.lower() == "no":
        return lambda name: False
    if value.lower() == "yes":
        return lambda name: True
    patterns = value.split(",")
    return lambda name: any(match_glob(name, p) for p in patterns)


def _fixed(keys: AuthorizedKeys) -> Callable[[str], AuthorizedKeys | None]:
    return lambda _username: keys


def _public_key(line: str) -> PublicKey:
    from ssh_keys import load_public_key

    return load_public_key(line).key


def _principal_lines(path: str) -> list[tuple[AuthorizedKeyOptions, str]]:
    """AuthorizedPrincipalsFile: one principal a line, after optional key options (as
    sshd: the principal is the last word). Lines with bad options are skipped."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read(1 << 20).splitlines()
    except OSError:
        return []  # sshd: an unreadable principals file allows no principal
    out = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, _, name = line.replace("\t", " ").rpartition(" ")
        try:
            options = AuthorizedKeyOptions.parse(head.strip()) if head.strip() else None
        except KeyFormatError as exc:
            log.info("%s line %d: bad principals options: %s", path, number, exc)
            continue
        out.append((options or AuthorizedKeyOptions(), name))
    return out


def _combine_open(key: tuple[PermitOpen, ...], config: tuple[str, ...]) -> tuple[PermitOpen, ...]:
    if config == ("any",):
        return key
    if config == ("none",):
        return (_NO_OPEN,)
    entries = []
    for text in config:
        host, _, port = text.rpartition(":")
        host = host.strip("[]")
        entries.append(PermitOpen(host, None if port == "*" else int(port)))
    if not key:
        return tuple(entries)
    # Both must allow: keep the key's destinations the configuration allows too.
    kept = tuple(
        k for k in key if k.port is not None and any(e.matches(k.host, k.port) for e in entries)
    )
    return kept or (_NO_OPEN,)


def _combine_listen(
    key: tuple[PermitListen, ...], config: tuple[str, ...]
) -> tuple[PermitListen, ...]:
    if config == ("any",):
        return key
    if config == ("none",):
        return (_NO_LISTEN,)
    entries = []
    for text in config:
        host, _, port = text.rpartition(":")
        host = host.strip("[]")
        entries.append(
            PermitListen(None if host in ("", "*") else host, None if port == "*" else int(port))
        )
    if not key:
        return tuple(entries)
    kept = tuple(
        k for k in key if k.port is not None and any(e.matches(k.host, k.port) for e in entries)
    )
    return kept or (_NO_LISTEN,)


def _bad_modes(path: str, user: pwd.struct_passwd) -> str | None:
    """sshd's StrictModes: the file and each directory up to the home (or /) must be owned
    by the user or root and not writable by group or others."""
    try:
        st = os.stat(path)
    except OSError:
        return None  # a missing file is simply no keys
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    current = os.path.abspath(path)
    home = os.path.abspath(user.pw_dir)
    while True:
        try:
            st = os.stat(current)
        except OSError as exc:
            return f"{current}: {exc}"
        if st.st_uid not in (0, user.pw_uid) or st.st_mode & 0o022:
            return (
                f"bad ownership or modes for {'file' if current == path else 'directory'} {current}"
            )
        if current in (home, "/"):
            return None
        current = os.path.dirname(current)


def public_key_file(path: str) -> PublicKey:
    """A public key (a host certificate) from a file."""
    return read_public_key_file(path).key
