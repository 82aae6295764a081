"""Authentication must never advance without a verified credential, whatever the client sends
in whatever state. In-memory transport pairs; every case checks the server's own verdict
(state, events) and what reached the client (no USERAUTH_SUCCESS)."""

from __future__ import annotations

import pytest
from auth_pair import AuthPair, key

from ssh_auth import (
    AttemptFailed,
    AuthenticationSucceeded,
    ConnectionTerminated,
    Decision,
    KeyboardInteractivePrompt,
    ServerState,
    SignatureRequested,
    StandardPolicy,
    UserAuthenticated,
)
from ssh_auth import messages as m
from ssh_auth.client import ClientState
from ssh_auth.server import ALLOWED_MESSAGES
from ssh_keys import AuthorizedKeys
from ssh_wire import DisconnectReason, MessageNumber, Writer

PASSWORD = "correct horse"


def policy(methods: str | None = None, **kw: object) -> StandardPolicy:
    keys = AuthorizedKeys("\n".join(key(k).public_key.to_line() for k in ("ed25519", "ecdsa256")))
    return StandardPolicy(
        authorized_keys=lambda user: keys if user == "alice" else None,
        password=lambda user, pw: user == "alice" and pw == PASSWORD,
        authentication_methods=methods,
        **kw,  # type: ignore[arg-type]
    )


def assert_not_authenticated(pair: AuthPair) -> None:
    assert not pair.s.authenticated
    assert not pair.of(pair.server_events, UserAuthenticated)
    assert not pair.of(pair.client_events, AuthenticationSucceeded)
    assert all(reply[0] != MessageNumber.USERAUTH_SUCCESS for reply in pair.replies)


def signed_request(
    pair: AuthPair,
    signer_kind: str = "ed25519",
    *,
    user: str = "alice",
    session_id: bytes | None = None,
    method: str = m.PUBLICKEY,
) -> bytes:
    signer = key(signer_kind)
    blob = signer.public_key.blob
    alg = signer.public_key.algorithm
    sid = session_id if session_id is not None else pair.client_t.session_id
    assert sid is not None
    data = m.publickey_signed_data(sid, user, "ssh-connection", method, alg, blob)
    tail = m.PublickeySignedTail(True, alg, blob, signer.sign(data, alg))
    return m.request(user, "ssh-connection", method, tail)


# -- messages a client must never send, at every server state ---------------------------------

WELL_FORMED = {
    MessageNumber.USERAUTH_FAILURE: m.UserauthFailure(("publickey",), True).encode(),
    MessageNumber.USERAUTH_SUCCESS: m.UserauthSuccess().encode(),
    MessageNumber.USERAUTH_BANNER: m.UserauthBanner("hi", "").encode(),
    MessageNumber.USERAUTH_PK_OK: m.UserauthPkOk("ssh-ed25519", b"x").encode(),
    # 60 as INFO_REQUEST, sent by a client
    1060: m.encode_info_request("", "", (("Password: ", False),)),
    MessageNumber.CHANNEL_OPEN: Writer()
    .byte(90)
    .text("session")
    .uint32(0)
    .uint32(1 << 20)
    .uint32(32768)
    .getvalue(),
    MessageNumber.GLOBAL_REQUEST: Writer().byte(80).text("tcpip-forward").boolean(True).getvalue(),
}


def enter_state(name: str) -> AuthPair:
    """A pair whose server is in the named situation."""
    if name == "fresh":
        pair = AuthPair(policy())
    elif name == "after-none":
        pair = AuthPair(policy())
        pair.c.try_none()
        pair.pump()
    elif name == "after-failures":
        pair = AuthPair(policy())
        pair.c.try_password("wrong")
        pair.pump()
    elif name == "kbdint":
        pair = AuthPair(policy())
        pair.auto = False
        pair.c.try_keyboard_interactive()
        pair.pump()
        assert pair.s.state is ServerState.WAITING_FOR_INFO_RESPONSE
    elif name == "after-pk-ok":
        pair = AuthPair(policy())
        pair.auto = False
        pair.c.try_publickey(key("ed25519"))
        pair.pump()
        assert pair.of(pair.client_events, SignatureRequested)
    elif name == "partial":
        pair = AuthPair(policy("publickey,password"))
        pair.c.try_publickey(key("ed25519"))
        pair.pump()
        failure = pair.of(pair.client_events, AttemptFailed)[-1]
        assert failure.partial_success and failure.methods == ("password",)
    else:  # pragma: no cover
        raise AssertionError(name)
    assert_not_authenticated(pair)
    return pair


STATES = ["fresh", "after-none", "after-failures", "kbdint", "after-pk-ok", "partial"]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("number", range(50, 128))
def test_every_message_number_in_every_state(state: str, number: int) -> None:
    """Any number the state's table lacks disconnects; the rest, malformed, disconnects too.
    Nothing ever authenticates."""
    pair = enter_state(state)
    server_state = pair.s.state
    payload = WELL_FORMED.get(number, bytes([number]) + b"\x00\x00\x00\x01x")
    pair.inject(payload)
    assert_not_authenticated(pair)
    if number not in ALLOWED_MESSAGES[server_state]:
        assert pair.server_terminated
        assert pair.server_error().error is not None
        assert pair.server_error().error.reason == DisconnectReason.PROTOCOL_ERROR  # type: ignore[union-attr]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize(
    "number",
    [51, 52, 53, 60, 1060, 90, 80],
    ids=["FAILURE", "SUCCESS", "BANNER", "PK_OK", "INFO_REQUEST", "CHANNEL_OPEN", "GLOBAL"],
)
def test_server_messages_from_a_client_disconnect(state: str, number: int) -> None:
    pair = enter_state(state)
    pair.inject(WELL_FORMED[number])
    assert_not_authenticated(pair)
    assert pair.server_terminated
    assert pair.s.state is ServerState.CLOSED
    # Nothing more is accepted afterwards, not even a valid credential.
    pair.s.handle_message(signed_request(pair))
    assert_not_authenticated(pair)


def test_channel_open_before_auth_disconnects() -> None:
    pair = AuthPair(policy())
    pair.inject(WELL_FORMED[MessageNumber.CHANNEL_OPEN])
    assert pair.server_terminated
    assert "message 90" in pair.server_error().error.description  # type: ignore[union-attr]


def test_unsupported_service_disconnects() -> None:
    pair = AuthPair(policy())
    pair.inject(m.request("alice", "ssh-evil", m.NONE))
    assert pair.server_terminated
    assert pair.server_error().error.reason == DisconnectReason.SERVICE_NOT_AVAILABLE  # type: ignore[union-attr]
    assert_not_authenticated(pair)


@pytest.mark.parametrize("change", ["user", "service"])
def test_change_of_user_or_service_disconnects(change: str) -> None:
    pair = AuthPair(policy(), services=("ssh-connection", "other"))
    pair.c.try_none()
    pair.pump()
    user, service = ("bob", "ssh-connection") if change == "user" else ("alice", "other")
    pair.inject(m.request(user, service, m.NONE))
    assert pair.server_terminated
    assert_not_authenticated(pair)


def test_signature_with_changed_user_cannot_be_reused() -> None:
    """A signature for bob's request does not log in alice (user is in the signed data)."""
    pair = AuthPair(policy())
    bad = m.UserauthRequest.decode(signed_request(pair, user="bob"))
    pair.inject(m.UserauthRequest("alice", bad.service, bad.method, bad.method_data).encode())
    assert_not_authenticated(pair)
    assert pair.s.failures == 1


def test_max_auth_tries_disconnects() -> None:
    pair = AuthPair(policy())
    pair.auto = False
    for attempt in range(1, 7):
        pair.c.try_password(f"wrong {attempt}")
        pair.pump()
        if attempt < 6:
            assert pair.of(pair.client_events, AttemptFailed)[-1].methods
            assert not pair.server_terminated
    assert pair.server_terminated
    err = pair.server_error().error
    assert err is not None and err.reason == DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE
    assert len(pair.of(pair.client_events, AttemptFailed)) == 5
    assert_not_authenticated(pair)


def test_max_auth_tries_counts_refused_keys_not_accepted_queries() -> None:
    pair = AuthPair(policy(), max_auth_tries=3)
    pair.auto = False
    for _ in range(10):  # an accepted query only earns PK_OK and costs no try
        pair.c.try_publickey(key("ed25519"))
        pair.pump()
        pair.c.cancel()
    assert not pair.server_terminated
    for _ in range(3):
        pair.c.try_publickey(key("rsa"))
        pair.pump()
    assert pair.server_terminated


def test_endless_queries_are_bounded() -> None:
    pair = AuthPair(policy())
    pair.auto = False
    for _ in range(40):
        pair.c.try_publickey(key("ed25519"))
        pair.pump()
        if pair.server_terminated:
            break
        pair.c.cancel()
    assert pair.server_terminated


def test_signature_for_another_session_fails() -> None:
    pair = AuthPair(policy())
    pair.inject(signed_request(pair, session_id=b"\x00" * 32))
    assert_not_authenticated(pair)
    assert pair.s.failures == 1
    pair.inject(signed_request(pair))  # the same key, signing the right session, gets in
    assert pair.s.authenticated


def test_signature_with_mismatched_algorithm_fails() -> None:
    pair = AuthPair(policy())
    signer = key("rsa")
    keys = AuthorizedKeys(signer.public_key.to_line())
    pair = AuthPair(StandardPolicy(authorized_keys=lambda user: keys))
    sid = pair.client_t.session_id
    assert sid is not None
    blob = signer.public_key.blob
    data = m.publickey_signed_data(
        sid, "alice", "ssh-connection", m.PUBLICKEY, "rsa-sha2-512", blob
    )
    # The request says rsa-sha2-512 but carries an rsa-sha2-256 signature over it.
    sig = signer.sign(data, "rsa-sha2-256")
    tail = m.PublickeySignedTail(True, "rsa-sha2-512", blob, sig)
    pair.inject(m.request("alice", "ssh-connection", m.PUBLICKEY, tail))
    assert_not_authenticated(pair)
    # A key blob of another type than the algorithm named is refused too.
    tail = m.PublickeySignedTail(True, "ssh-ed25519", blob, sig)
    pair.inject(m.request("alice", "ssh-connection", m.PUBLICKEY, tail))
    assert_not_authenticated(pair)
    assert pair.s.failures == 2


def test_query_never_authenticates() -> None:
    pair = AuthPair(policy())
    k = key("ed25519")
    query = m.PublickeyQueryTail(False, k.public_key.algorithm, k.public_key.blob)
    pair.inject(m.request("alice", "ssh-connection", m.PUBLICKEY, query))
    assert_not_authenticated(pair)
    assert pair.s.state is ServerState.WAITING_FOR_REQUEST


def test_query_and_signed_request_with_garbage_signature() -> None:
    pair = AuthPair(policy())
    k = key("ed25519")
    for sig in (b"", b"\x00" * 83, Writer().text("ssh-ed25519").string(b"\x00" * 64).getvalue()):
        tail = m.PublickeySignedTail(True, k.public_key.algorithm, k.public_key.blob, sig)
        pair.inject(m.request("alice", "ssh-connection", m.PUBLICKEY, tail))
        assert_not_authenticated(pair)


def test_hostbound_with_another_host_key_fails() -> None:
    pair = AuthPair(policy())
    signer = key("ed25519")
    sid = pair.client_t.session_id
    assert sid is not None
    other_host = key("ecdsa256").public_key.blob
    alg, blob = signer.public_key.algorithm, signer.public_key.blob
    data = m.publickey_signed_data(
        sid, "alice", "ssh-connection", m.PUBLICKEY_HOSTBOUND, alg, blob, other_host
    )
    tail = m.HostboundSignedTail(True, alg, blob, other_host, signer.sign(data, alg))
    pair.inject(m.request("alice", "ssh-connection", m.PUBLICKEY_HOSTBOUND, tail))
    assert_not_authenticated(pair)
    assert pair.s.failures == 1


def test_partial_success_order_is_enforced() -> None:
    """publickey,password: the password alone (even the right one) is not enough, and it is
    refused before publickey."""
    pair = AuthPair(policy("publickey,password"))
    pair.c.try_password(PASSWORD)
    pair.pump()
    assert_not_authenticated(pair)
    failure = pair.of(pair.client_events, AttemptFailed)[-1]
    assert failure.methods == ("publickey",) and not failure.partial_success
    pair.c.try_publickey(key("ed25519"))
    pair.pump()
    assert_not_authenticated(pair)
    failure = pair.of(pair.client_events, AttemptFailed)[-1]
    assert failure.partial_success and failure.methods == ("password",)
    # The second step must still be a real credential: publickey again is not allowed now.
    pair.c.try_publickey(key("ecdsa256"))
    pair.pump()
    assert_not_authenticated(pair)
    pair.c.try_password(PASSWORD)
    pair.pump()
    assert pair.s.authenticated
    (done,) = pair.of(pair.server_events, UserAuthenticated)
    assert done.methods == ("publickey", "password")
    (ok,) = pair.of(pair.client_events, AuthenticationSucceeded)
    assert ok.methods == ("publickey", "password")


def test_two_keys_must_differ() -> None:
    pair = AuthPair(policy("publickey,publickey"))
    pair.c.try_publickey(key("ed25519"))
    pair.pump()
    pair.c.try_publickey(key("ed25519"))
    pair.pump()
    assert_not_authenticated(pair)
    pair.c.try_publickey(key("ecdsa256"))
    pair.pump()
    assert pair.s.authenticated


def test_long_password_refused_without_checking() -> None:
    checked: list[str] = []

    def check(user: str, pw: str) -> bool:
        checked.append(pw)
        return True

    pair = AuthPair(StandardPolicy(password=check))
    pair.c.try_password("x" * 1025)
    pair.pump()
    assert_not_authenticated(pair)
    assert checked == []
    pair.c.try_password("x" * 1024)
    pair.pump()
    assert pair.s.authenticated and checked == ["x" * 1024]


def test_kbdint_response_count_mismatch_disconnects() -> None:
    pair = enter_state("kbdint")
    pair.inject(m.encode_info_response([PASSWORD, "extra"]))
    assert pair.server_terminated
    assert_not_authenticated(pair)


def test_kbdint_abandoned_by_new_request() -> None:
    pair = enter_state("kbdint")
    pair.c.cancel()
    pair.c.try_password(PASSWORD)
    pair.pump()
    assert pair.s.authenticated
    (done,) = pair.of(pair.server_events, UserAuthenticated)
    assert done.methods == ("password",)


def test_none_never_authenticates_unless_no_method_is_required() -> None:
    pair = AuthPair(policy())
    pair.c.try_none()
    pair.pump()
    assert_not_authenticated(pair)
    pair = AuthPair(StandardPolicy(authentication_methods=[[]]))
    pair.c.try_none()
    pair.pump()
    assert pair.s.authenticated


def test_login_grace_time() -> None:
    pair = AuthPair(policy(), login_grace_time=10.0, now=100.0)
    assert pair.s.get_timer() == 110.0
    pair.s.handle_timer(109.9)
    assert not pair.server_terminated
    pair.s.handle_timer(110.0)
    assert pair.server_terminated
    assert pair.s.get_timer() is None
    assert_not_authenticated(pair)


def test_requests_after_success_are_ignored_and_80_goes_up() -> None:
    pair = AuthPair(policy())
    pair.c.try_password(PASSWORD)
    pair.pump()
    assert pair.s.authenticated
    pair.inject(m.request("bob", "ssh-connection", m.NONE))
    assert not pair.server_terminated
    assert len(pair.of(pair.server_events, UserAuthenticated)) == 1
    pair.inject(WELL_FORMED[MessageNumber.CHANNEL_OPEN])
    assert pair.after_auth == [WELL_FORMED[MessageNumber.CHANNEL_OPEN]]
    pair.inject(m.UserauthSuccess().encode())  # still never from a client
    assert pair.server_terminated


# -- unknown and known users get the same answers ---------------------------------------------


def transcript(user: str, attempts: list[str]) -> list[object]:
    pair = AuthPair(policy(), user)
    pair.auto = False
    out: list[object] = []
    for attempt in attempts:
        if attempt == "none":
            pair.c.try_none()
        elif attempt == "password":
            pair.c.try_password("wrong")
        elif attempt == "unknown-key":
            pair.c.try_publickey(key("rsa"))
        elif attempt == "kbdint":
            pair.c.try_keyboard_interactive()
        pair.pump()
        event = pair.client_events[-1]
        out.append(event)
        if isinstance(event, KeyboardInteractivePrompt):
            pair.c.answer(["wrong"])
            pair.pump()
            out.append(pair.client_events[-1])
    return out


def test_unknown_user_gets_the_same_answers() -> None:
    attempts = ["none", "password", "unknown-key", "kbdint"]
    assert transcript("alice", attempts) == transcript("mallory", attempts)


def test_unknown_user_signature_is_verified_all_the_same() -> None:
    verified: list[bytes] = []
    pair = AuthPair(policy(), "mallory")
    original = pair.s._verify

    def counting(*args: object) -> bool:
        verified.append(b"x")
        return original(*args)  # type: ignore[arg-type]

    pair.s._verify = counting  # type: ignore[method-assign]
    pair.inject(signed_request(pair, user="mallory"))
    assert verified and pair.s.failures == 1
    assert_not_authenticated(pair)


# -- the client refuses what a server must not send --------------------------------------------


@pytest.mark.parametrize("state", ["ready", "pk-ok", "need-signature"])
@pytest.mark.parametrize("number", [52, 51, 60, 61, 90, 50])
def test_client_wrong_state(state: str, number: int) -> None:
    pair = AuthPair(policy())
    pair.auto = False
    if state == "pk-ok":
        pair.c.try_publickey(key("ed25519"))  # not pumped: the PK_OK has not arrived
    elif state == "need-signature":
        pair.c.try_publickey(key("ed25519"))
        pair.pump()
    client_state = pair.c.state
    payload = {
        52: m.UserauthSuccess().encode(),
        51: m.UserauthFailure(("password",), False).encode(),
        60: m.UserauthPkOk("ssh-rsa", b"nope").encode(),
        61: m.encode_info_response([]),
        90: WELL_FORMED[MessageNumber.CHANNEL_OPEN],
        50: m.request("alice", "ssh-connection", m.NONE),
    }[number]
    pair.c.handle_message(payload)
    pair.pump()
    allowed = number in ALLOWED_CLIENT(client_state) and number != 60
    if not allowed:
        assert pair.c.state is ClientState.CLOSED
        assert pair.client_t.closed
        assert pair.of(pair.client_events, ConnectionTerminated)
    assert not (number == 52 and state == "ready" and pair.c.authenticated)


def ALLOWED_CLIENT(state: ClientState) -> set[int]:
    from ssh_auth.client import ALLOWED_MESSAGES as CLIENT_TABLE

    return set(CLIENT_TABLE[state].numbers)


def test_policy_decision_alone_is_not_enough() -> None:
    """A policy that accepts every key still needs a valid signature."""

    class Yes(StandardPolicy):
        def check_publickey(self, username, key, context):  # type: ignore[no-untyped-def]
            return Decision.accept()

    pair = AuthPair(Yes(authorized_keys=lambda user: None))
    k = key("ed25519")
    tail = m.PublickeySignedTail(True, k.public_key.algorithm, k.public_key.blob, b"")
    pair.inject(m.request("alice", "ssh-connection", m.PUBLICKEY, tail))
    assert_not_authenticated(pair)


def test_abandoned_keyboard_interactive_counts_toward_max_tries() -> None:
    pair = AuthPair(policy(), max_auth_tries=3)
    pair.auto = False
    for _ in range(3):
        pair.c.try_keyboard_interactive()
        pair.pump()
        if pair.server_terminated:
            break
        pair.c.cancel()
    pair.c.try_none()
    pair.pump()
    assert pair.server_terminated
    assert_not_authenticated(pair)
