"""Audit: what the client controls must not break or weaken the server's policy checks.

- A user name is the client's text: one with a NUL byte must be a failed attempt, not a
  ValueError escaping from the authorized_keys lookup (``open``/``getpwnam`` refuse NULs).
- ``verify-required`` (an authorized_keys option, or a certificate critical option) demands
  a security-key signature with the user-verified flag, as sshd does; a touch-only signature
  (or a key that is no security key) must not log in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from auth_pair import AuthPair, key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ssh_auth import AttemptFailed, AuthenticationSucceeded, StandardPolicy, UserAuthenticated
from ssh_auth.policies import authorized_keys_file
from ssh_keys import AuthorizedKeys, CertType, generate_private_key, sign_certificate
from ssh_keys.public import SKEd25519PublicKey
from ssh_wire import Writer

SK_ALG = "sk-ssh-ed25519@openssh.com"
UP, UV = 0x01, 0x04


class SKSigner:
    """A stand-in for a FIDO authenticator: signs with chosen flags (PROTOCOL.u2f)."""

    def __init__(self, flags: int, application: str = "ssh:") -> None:
        self._private = Ed25519PrivateKey.generate()
        raw = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = SKEd25519PublicKey(raw, application)
        self.application = application
        self.flags = flags
        self.algorithms = (SK_ALG,)

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        counter = 7
        signed = (
            hashlib.sha256(self.application.encode()).digest()
            + bytes([self.flags])
            + counter.to_bytes(4, "big")
            + hashlib.sha256(data).digest()
        )
        sig = self._private.sign(signed)
        w = Writer().string(SK_ALG.encode()).string(sig).byte(self.flags).uint32(counter)
        return w.getvalue()


def login(policy: StandardPolicy, signer: object, user: str = "alice") -> AuthPair:
    pair = AuthPair(policy, user)
    pair.c.try_publickey(signer, query=False)  # type: ignore[arg-type]
    return pair.pump()


def authenticated(pair: AuthPair) -> bool:
    return bool(pair.of(pair.server_events, UserAuthenticated)) and bool(
        pair.of(pair.client_events, AuthenticationSucceeded)
    )


# -- user names with NUL bytes -----------------------------------------------------------


@pytest.mark.parametrize("template", ["{dir}/%u", "%h/.ssh/authorized_keys"])
def test_nul_in_user_name_is_a_failed_attempt(tmp_path: Path, template: str) -> None:
    lookup = authorized_keys_file(template.format(dir=tmp_path))
    pair = login(StandardPolicy(authorized_keys=lookup), key("ed25519"), "root\x00x")
    assert not pair.s.authenticated
    assert not pair.server_t.closed
    assert pair.of(pair.client_events, AttemptFailed)


def test_nul_in_user_name_lookup_gives_no_keys(tmp_path: Path) -> None:
    (tmp_path / "alice").write_text(key("ed25519").public_key.to_line() + "\n")
    lookup = authorized_keys_file(f"{tmp_path}/%u")
    assert lookup("alice") is not None
    assert lookup("alice\x00") is None


# -- verify-required -------------------------------------------------------------------------


def keys_policy(line: str) -> StandardPolicy:
    keys = AuthorizedKeys(line)
    return StandardPolicy(authorized_keys=lambda user: keys if user == "alice" else None)


@pytest.mark.parametrize(("flags", "ok"), [(UP, False), (UP | UV, True)])
def test_verify_required_option_needs_user_verification(flags: int, ok: bool) -> None:
    signer = SKSigner(flags)
    pair = login(keys_policy("verify-required " + signer.public_key.to_line()), signer)
    assert authenticated(pair) is ok
    if not ok:
        assert pair.of(pair.client_events, AttemptFailed)


def test_without_verify_required_touch_is_enough() -> None:
    signer = SKSigner(UP)
    assert authenticated(login(keys_policy(signer.public_key.to_line()), signer))


def test_verify_required_refuses_keys_that_are_no_security_keys() -> None:
    plain = key("ed25519")
    pair = login(keys_policy("verify-required " + plain.public_key.to_line()), plain)
    assert not authenticated(pair)


@pytest.mark.parametrize(("flags", "ok"), [(UP, False), (UP | UV, True)])
def test_verify_required_certificate_option(flags: int, ok: bool) -> None:
    from ssh_auth.runner import CertifiedSigner

    ca = generate_private_key("ed25519")
    signer = SKSigner(flags)
    cert = sign_certificate(
        ca, signer.public_key, cert_type=CertType.USER, key_id="t", principals=["alice"],
        critical_options={"verify-required": b""},
    )  # fmt: skip
    policy = StandardPolicy(trusted_user_ca_keys=[ca.public_key])
    pair = login(policy, CertifiedSigner(signer, cert))  # type: ignore[arg-type]
    assert authenticated(pair) is ok
