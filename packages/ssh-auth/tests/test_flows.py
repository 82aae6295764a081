"""Client and server cores against each other: every method, key type, certificate, banner,
password change, keyboard-interactive rounds, algorithm choice, and the method runner."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from auth_pair import KEY_KINDS, AuthPair, key

from ssh_auth import (
    AttemptFailed,
    AuthContext,
    AuthenticationFailed,
    AuthenticationSucceeded,
    BannerReceived,
    BasePolicy,
    CertifiedSigner,
    Challenge,
    Decision,
    KeyboardInteractivePrompt,
    MethodRunner,
    PasswordChangeRequested,
    SignatureRequested,
    StandardPolicy,
    UserAuthenticated,
    choose_signature_algorithm,
    key_candidates,
)
from ssh_auth import messages as m
from ssh_auth.algorithms import key_type_for, request_algorithm, signature_algorithm_for
from ssh_auth.runner import HostbasedCredentials, password_responses
from ssh_keys import AuthorizedKeys, CertType, PublicKey, generate_private_key, sign_certificate
from ssh_wire import LocalProtocolError


def keys_policy(*kinds: str, **kw: object) -> StandardPolicy:
    ak = AuthorizedKeys("\n".join(key(k).public_key.to_line() for k in kinds))
    return StandardPolicy(authorized_keys=lambda user: ak, **kw)  # type: ignore[arg-type]


def succeeded(pair: AuthPair) -> UserAuthenticated:
    assert pair.of(pair.client_events, AuthenticationSucceeded)
    (done,) = pair.of(pair.server_events, UserAuthenticated)
    return done


@pytest.mark.parametrize("kind", list(KEY_KINDS))
def test_publickey_each_key_type(kind: str) -> None:
    pair = AuthPair(keys_policy(kind))
    pair.c.try_publickey(key(kind))
    pair.pump()
    (sig,) = pair.of(pair.client_events, SignatureRequested)
    assert sig.method == m.PUBLICKEY_HOSTBOUND  # our server announces it
    if kind == "rsa":
        assert sig.algorithm == "rsa-sha2-512"
    assert succeeded(pair).decisions[0].key == key(kind).public_key


def test_plain_publickey_without_the_extension() -> None:
    pair = AuthPair(keys_policy("ed25519"))
    del pair.client_t.peer_extensions[m.HOSTBOUND_EXTENSION]
    pair.c.try_publickey(key("ed25519"))
    pair.pump()
    assert pair.of(pair.client_events, SignatureRequested)[0].method == m.PUBLICKEY
    succeeded(pair)


def test_publickey_without_query() -> None:
    pair = AuthPair(keys_policy("ecdsa384"))
    pair.c.try_publickey(key("ecdsa384"), query=False)
    pair.pump()
    succeeded(pair)


def test_rsa_algorithm_choice_follows_server_sig_algs() -> None:
    rsa = key("rsa")
    assert choose_signature_algorithm(rsa, None) == "rsa-sha2-512"
    assert choose_signature_algorithm(rsa, ["rsa-sha2-256", "ssh-ed25519"]) == "rsa-sha2-256"
    assert choose_signature_algorithm(rsa, ["ssh-rsa"]) is None  # never SHA-1 by default
    assert choose_signature_algorithm(key("ed25519"), ["rsa-sha2-256"]) == "ssh-ed25519"
    from auth_pair import host_key

    from ssh_transport import HostKey, TransportConfig

    cfg = TransportConfig(host_keys=(host_key(),), server_sig_algs=("rsa-sha2-256",))
    pair = AuthPair(keys_policy("rsa"), server_config=cfg)
    pair.c.try_publickey(rsa)
    pair.pump()
    assert pair.of(pair.client_events, SignatureRequested)[0].algorithm == "rsa-sha2-256"
    succeeded(pair)
    assert HostKey  # imported for the config


def test_algorithm_names() -> None:
    assert key_type_for("rsa-sha2-512") == "ssh-rsa"
    assert key_type_for("rsa-sha2-256-cert-v01@openssh.com") == "ssh-rsa-cert-v01@openssh.com"
    assert signature_algorithm_for("rsa-sha2-256-cert-v01@openssh.com") == "rsa-sha2-256"
    assert signature_algorithm_for("sk-ssh-ed25519-cert-v01@openssh.com") == (
        "sk-ssh-ed25519@openssh.com"
    )
    assert signature_algorithm_for("ssh-ed25519") == "ssh-ed25519"


CA = generate_private_key("ed25519")


def cert_for(kind: str, principals: Sequence[str] = ("alice",), **kw: object) -> CertifiedSigner:
    signer = key(kind)
    cert = sign_certificate(CA, signer.public_key, principals=principals, key_id=f"id-{kind}",
                            **kw)  # type: ignore[arg-type]  # fmt: skip
    return CertifiedSigner(signer, cert)


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa256"])
def test_certificate_trusted_ca(kind: str) -> None:
    signer = cert_for(kind)
    pair = AuthPair(StandardPolicy(trusted_user_ca_keys=[CA.public_key]))
    pair.c.try_publickey(signer)
    pair.pump()
    sig = pair.of(pair.client_events, SignatureRequested)[0]
    if kind == "rsa":
        assert sig.algorithm == "rsa-sha2-512"
        assert request_algorithm(signer.public_key, "rsa-sha2-512") == (
            "rsa-sha2-512-cert-v01@openssh.com"
        )
    decision = succeeded(pair).decisions[0]
    assert decision.certificate is not None and decision.certificate.key_id == f"id-{kind}"


def test_certificate_then_plain_key() -> None:
    signer = key("ed25519")
    candidates = key_candidates(signer, cert_for("ed25519", principals=["bob"]).certificate)
    # The CA is trusted but the principal is wrong: the plain key gets in instead.
    policy = keys_policy("ed25519", trusted_user_ca_keys=[CA.public_key])
    pair = AuthPair(policy)
    runner = MethodRunner(pair.c, methods=["publickey"], signers=candidates)
    pair.auto = True
    runner.start()
    drive(pair, runner)
    done = succeeded(pair)
    assert done.decisions[0].certificate is None


def drive(pair: AuthPair, runner: MethodRunner) -> None:
    """Pump the pair, feeding client events through the runner (pauses answered from the
    pair's password and responses)."""
    pair.auto = False
    seen = 0
    for _ in range(100):
        pair.pump()
        if seen == len(pair.client_events):
            return
        while seen < len(pair.client_events):
            event = pair.client_events[seen]
            seen += 1
            outcome = runner.step(event)
            if outcome is None or isinstance(outcome, AuthenticationSucceeded):
                continue
            if isinstance(outcome, SignatureRequested):
                runner.resume(outcome, outcome.signer.sign(outcome.data, outcome.algorithm))
            elif isinstance(outcome, KeyboardInteractivePrompt):
                runner.resume(outcome, pair.responses(outcome) if pair.responses else None)
            else:
                runner.resume(outcome, pair.password)


def test_runner_order_and_failure() -> None:
    pair = AuthPair(keys_policy("ed25519", password=lambda u, p: p == "pw"))
    stranger = generate_private_key("ed25519")
    pair.password = "nope"
    runner = MethodRunner(pair.c, signers=[stranger, stranger], password_tries=2)
    runner.start()
    with pytest.raises(AuthenticationFailed) as info:
        drive(pair, runner)
    assert "publickey" in info.value.methods
    tried = [e.method for e in pair.of(pair.client_events, AttemptFailed)]
    assert tried == ["none", "publickey", "password", "password"]  # each key offered once


def test_runner_multistep_and_banner() -> None:
    policy = keys_policy(
        "ed25519",
        password=lambda u, p: p == "pw",
        authentication_methods="publickey,password",
        banner="Welcome\n",
    )
    pair = AuthPair(policy)
    pair.password = "pw"
    banners: list[str] = []
    runner = MethodRunner(pair.c, signers=[key("ed25519")], password_tries=1,
                          on_banner=banners.append)  # fmt: skip
    runner.start()
    drive(pair, runner)
    assert banners == ["Welcome\n"]
    assert len(pair.of(pair.client_events, BannerReceived)) == 1
    assert succeeded(pair).methods == ("publickey", "password")
    (ok,) = pair.of(pair.client_events, AuthenticationSucceeded)
    assert ok.methods == ("publickey", "password")


def test_runner_keyboard_interactive_with_password() -> None:
    pair = AuthPair(StandardPolicy(password=lambda u, p: p == "pw"))
    pair.responses = lambda prompt: password_responses("pw", prompt) or []
    runner = MethodRunner(pair.c, methods=["keyboard-interactive"], kbdint_tries=1)
    runner.start()
    drive(pair, runner)
    assert succeeded(pair).methods == ("keyboard-interactive",)


class Quiz(BasePolicy):
    """Two keyboard-interactive rounds, then a password change on the password method."""

    def method_lists(self, username: str) -> Sequence[Sequence[str]]:
        return [["keyboard-interactive"], ["password"]]

    def keyboard_interactive(self, username: str, submethods: str, context: AuthContext) -> object:
        class Conversation:
            round = 0

            def start(self) -> Challenge | Decision:
                return Challenge((("Name? ", True), ("PIN: ", False)), "quiz", "two rounds")

            def respond(self, responses: tuple[str, ...]) -> Challenge | Decision:
                self.round += 1
                if self.round == 1 and responses == ("alice", "1234"):
                    return Challenge((("Colour? ", True),))
                if self.round == 2 and responses == ("blue",):
                    return Decision.accept()
                return Decision.reject()

        return Conversation()

    def check_password(self, username: str, password: str, context: AuthContext) -> Decision:
        return Decision.change_required("expired") if password == "old" else Decision.reject()

    def change_password(self, username: str, old: str, new: str, context: AuthContext) -> Decision:
        return Decision.accept() if (old, new) == ("old", "new") else Decision.reject()


def test_keyboard_interactive_rounds() -> None:
    answers = {"Name? ": "alice", "PIN: ": "1234", "Colour? ": "blue"}
    pair = AuthPair(Quiz())  # type: ignore[arg-type]
    pair.responses = lambda p: [answers[text] for text, _ in p.prompts]
    pair.c.try_keyboard_interactive()
    pair.pump()
    prompts = pair.of(pair.client_events, KeyboardInteractivePrompt)
    assert prompts[0] == KeyboardInteractivePrompt(
        "quiz", "two rounds", (("Name? ", True), ("PIN: ", False))
    )
    assert len(prompts) == 2
    assert succeeded(pair).methods == ("keyboard-interactive",)


def test_password_change() -> None:
    pair = AuthPair(Quiz())  # type: ignore[arg-type]
    pair.c.try_password("old")
    pair.pump()
    (change,) = pair.of(pair.client_events, PasswordChangeRequested)
    assert change.prompt == "expired"
    assert not pair.s.authenticated
    pair.c.change_password("old", "new")
    pair.pump()
    assert succeeded(pair).methods == ("password",)


def test_password_requested_pause() -> None:
    pair = AuthPair(StandardPolicy(password=lambda u, p: p == "pw"))
    pair.auto = False
    pair.c.try_password()
    pair.pump()
    assert pair.s.state.name == "WAITING_FOR_REQUEST" and pair.c.state.name == "NEED_PASSWORD"
    pair.c.provide_password("pw")
    pair.pump()
    succeeded(pair)


class HostTrust(BasePolicy):
    def method_lists(self, username: str) -> Sequence[Sequence[str]]:
        return [["hostbased"]]

    def check_hostbased(self, username: str, key: PublicKey, client_host: str,
                        client_user: str, context: AuthContext) -> Decision:  # fmt: skip
        ok = key == HOST.public_key and client_host == "client.example." and client_user == "al"
        return Decision.accept() if ok else Decision.reject()


HOST = generate_private_key("ecdsa", 256)


def test_hostbased() -> None:
    pair = AuthPair(HostTrust())  # type: ignore[arg-type]
    runner = MethodRunner(pair.c, hostbased=HostbasedCredentials(HOST, "client.example.", "al"))
    runner.start()
    drive(pair, runner)
    assert succeeded(pair).methods == ("hostbased",)


def test_hostbased_wrong_client_user() -> None:
    pair = AuthPair(HostTrust())  # type: ignore[arg-type]
    pair.c.try_hostbased(HOST, "client.example.", "mallory")
    pair.pump()
    assert not pair.s.authenticated


def test_client_action_misuse() -> None:
    pair = AuthPair(StandardPolicy(password=lambda u, p: False))
    pair.auto = False
    with pytest.raises(LocalProtocolError):
        pair.c.provide_signature(b"x")
    with pytest.raises(LocalProtocolError):
        pair.c.cancel()
    pair.c.try_none()
    with pytest.raises(LocalProtocolError):
        pair.c.try_password("x")  # one attempt at a time
    dsa_like = CertifiedSigner(key("ed25519"), cert_for("ed25519").certificate)
    pair.pump()
    with pytest.raises(ValueError, match="not for this key"):
        CertifiedSigner(key("ecdsa256"), dsa_like.certificate)


def test_ca_signed_host_cert_is_not_a_user_cert() -> None:
    signer = key("ed25519")
    cert = sign_certificate(CA, signer.public_key, cert_type=CertType.HOST, principals=["alice"])
    pair = AuthPair(StandardPolicy(trusted_user_ca_keys=[CA.public_key]))
    pair.c.try_publickey(CertifiedSigner(signer, cert))
    pair.pump()
    assert not pair.s.authenticated
