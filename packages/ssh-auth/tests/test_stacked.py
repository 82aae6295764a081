"""The auth cores as stacked byte-stream cores: only the top cores are pumped (no router),
server checks arrive as pause events, and the front ends answer them off the event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest
from auth_pair import host_key, key

from ssh_auth import (
    AuthClient,
    AuthenticationSucceeded,
    AuthServer,
    KeyboardInteractivePrompt,
    MethodRunner,
    PasswordRequested,
    SignatureRequested,
    StandardPolicy,
    UserAuthenticated,
)
from ssh_auth import aio as auth_aio
from ssh_auth import sync as auth_sync
from ssh_auth.decisions import Challenge, Decision
from ssh_auth.events import (
    AuthCheck,
    KeyboardInteractiveReply,
    KeyboardInteractiveStart,
    PasswordCheck,
    PublicKeyCheck,
)
from ssh_auth.policy import BasePolicy, PolicyAnswers
from ssh_keys import AuthorizedKeys
from ssh_transport import (
    ConnectionTerminated,
    Event,
    HostKeyReceived,
    MessageReceived,
    Role,
    Transport,
    TransportConfig,
)
from ssh_transport.aio import AsyncStream, AsyncTransport
from ssh_transport.sync import SocketStream, SyncTransport
from ssh_wire import DisconnectError, LocalProtocolError


class Stack:
    """Client and server transports with auth cores on top; pumps the top cores only."""

    def __init__(self, policy: Any, *, pause: bool = True, **client_kw: Any) -> None:
        self.client_t = Transport(Role.CLIENT)
        self.server_t = Transport(Role.SERVER, TransportConfig(host_keys=(host_key(),)))
        self.client_top: Any = self.client_t
        self.server_top: Any = self.server_t
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []
        self.client_t.request_service("ssh-userauth")
        self.pump()
        self.client = AuthClient(self.client_t, "alice", **client_kw)
        self.server = AuthServer(self.server_t, policy, pause=pause)
        self.client_top, self.server_top = self.client, self.server

    def pump(self) -> None:
        for _ in range(1000):
            moved = False
            for src, dst in (
                (self.client_top, self.server_top),
                (self.server_top, self.client_top),
            ):
                if data := src.data_to_send():
                    dst.receive_data(data, 0.0)
                    moved = True
            for top, events in ((self.client_top, self.client_events),
                                (self.server_top, self.server_events)):  # fmt: skip
                while (event := top.next_event()) is not None:
                    if isinstance(event, HostKeyReceived):
                        event.answer(True)
                        moved = True
                    else:
                        events.append(event)
            if not moved:
                return
        raise AssertionError("the pump did not settle")

    def checks(self) -> list[AuthCheck]:
        return [e for e in self.server_events if isinstance(e, AuthCheck)]


def password_policy(**kw: Any) -> StandardPolicy:
    return StandardPolicy(password=lambda u, p: p == "pw", **kw)


def test_only_the_top_cores_are_pumped_and_a_login_completes() -> None:
    stack = Stack(password_policy(), pause=False)
    stack.client.try_password("pw")
    stack.pump()
    assert any(isinstance(e, AuthenticationSucceeded) for e in stack.client_events)
    assert any(isinstance(e, UserAuthenticated) for e in stack.server_events)


def test_connection_messages_pass_up_after_success() -> None:
    stack = Stack(password_policy(), pause=False)
    stack.client.try_password("pw")
    stack.pump()
    stack.client.send_message(bytes([90]) + b"channel open")
    stack.pump()
    passed = [e for e in stack.server_events if isinstance(e, MessageReceived)]
    assert [e.payload[0] for e in passed] == [90]


def test_a_connection_message_before_success_disconnects() -> None:
    stack = Stack(password_policy(), pause=False)
    stack.client_t.send_message(bytes([90]) + b"too early")
    stack.pump()
    ended = [e for e in stack.server_events if isinstance(e, ConnectionTerminated)]
    assert len(ended) == 1 and ended[0].error is not None  # exactly one end, with its reason
    assert stack.server_top.closed


def test_a_password_check_pauses_until_answered() -> None:
    stack = Stack(password_policy())
    stack.client.try_password("pw")
    stack.pump()
    (check,) = stack.checks()
    assert isinstance(check, PasswordCheck) and check.password == "pw"
    assert not any(isinstance(e, AuthenticationSucceeded) for e in stack.client_events)
    check.answer(Decision.accept())
    stack.pump()
    assert any(isinstance(e, AuthenticationSucceeded) for e in stack.client_events)


def test_a_rejected_check_sends_failure() -> None:
    stack = Stack(password_policy())
    stack.client.try_password("nope")
    stack.pump()
    stack.checks()[0].answer(Decision.reject("wrong"))
    stack.pump()
    assert stack.client.methods is not None and not stack.client.authenticated


def test_a_check_cannot_be_answered_twice() -> None:
    stack = Stack(password_policy())
    stack.client.try_password("pw")
    stack.pump()
    check = stack.checks()[0]
    check.answer(Decision.reject())
    with pytest.raises(LocalProtocolError):
        check.answer(Decision.accept())


def test_a_check_answered_with_the_wrong_type_is_refused() -> None:
    stack = Stack(password_policy())
    stack.client.try_password("pw")
    stack.pump()
    with pytest.raises(LocalProtocolError, match="Decision"):
        stack.checks()[0].answer(True)


def test_an_answer_after_the_connection_ended_is_ignored() -> None:
    stack = Stack(password_policy())
    stack.client.try_password("pw")
    stack.pump()
    stack.server_top.close()
    stack.checks()[0].answer(Decision.accept())  # nothing to do, no error
    assert not stack.server.authenticated


def test_messages_during_a_check_are_held_then_handled_in_order() -> None:
    stack = Stack(password_policy())
    stack.client.try_password("pw")
    stack.pump()
    # A client that does not wait: a second request while the first is being checked.
    stack.client_t.send_message(b"\x32" + b"\x00" * 3)  # malformed, only decoded later
    stack.pump()
    assert not stack.server_top.closed  # held, not decoded yet
    stack.checks()[0].answer(Decision.reject())
    stack.pump()
    assert stack.server_top.closed  # the held message was handled (and was malformed)


def test_a_publickey_check_carries_the_key_and_the_signature_is_still_verified() -> None:
    user = key("ed25519")
    stack = Stack(BasePolicy(), pause=True)
    stack.client.try_publickey(user, query=False)
    stack.pump()
    sign = next(e for e in stack.client_events if isinstance(e, SignatureRequested))
    stack.client.provide_signature(b"not a signature")
    stack.pump()
    check = stack.checks()[0]
    assert isinstance(check, PublicKeyCheck) and check.key == user.public_key
    assert sign.method.startswith("publickey")
    check.answer(Decision.accept())  # the policy says yes, but the signature is bad
    stack.pump()
    assert not stack.server.authenticated


class Kbd(BasePolicy):
    def method_lists(self, username: str) -> list[list[str]]:
        return [["keyboard-interactive"]]

    def keyboard_interactive(self, username: str, submethods: str, context: Any) -> Any:
        policy = self

        class Conversation:
            def start(self) -> Challenge:
                return Challenge(prompts=(("Password: ", False),))

            def respond(self, responses: tuple[str, ...]) -> Decision:
                policy.responses = responses
                return Decision.accept() if responses == ("pw",) else Decision.reject()

        return Conversation()


def test_keyboard_interactive_through_pause_events_and_policy_answers() -> None:
    policy = Kbd()
    answers = PolicyAnswers(policy)
    stack = Stack(policy)
    stack.client.try_keyboard_interactive()
    stack.pump()
    start = stack.checks()[-1]
    assert isinstance(start, KeyboardInteractiveStart)
    start.answer(answers(start))
    stack.pump()
    prompt = next(e for e in stack.client_events if isinstance(e, KeyboardInteractivePrompt))
    assert prompt.prompts == (("Password: ", False),)
    stack.client.answer(["pw"])
    stack.pump()
    reply = stack.checks()[-1]
    assert isinstance(reply, KeyboardInteractiveReply) and reply.responses == ("pw",)
    reply.answer(answers(reply))
    stack.pump()
    assert stack.server.authenticated


def test_client_publickey_algorithms_narrow_the_rsa_signature() -> None:
    rsa = key("rsa")
    policy = StandardPolicy(authorized_keys=lambda u: AuthorizedKeys(rsa.public_key.to_line()))
    stack = Stack(policy, pause=False, publickey_algorithms=["rsa-sha2-256"])
    assert stack.client.signature_algorithm(rsa) == "rsa-sha2-256"
    runner = MethodRunner(stack.client, methods=["publickey"], signers=[rsa])
    runner.start()
    stack.pump()
    for _ in range(5):
        for event in list(stack.client_events):
            stack.client_events.remove(event)
            pause = runner.step(event)
            if isinstance(pause, SignatureRequested):
                assert pause.algorithm == "rsa-sha2-256"
                runner.resume(pause, rsa.sign(pause.data, pause.algorithm))
        stack.pump()
    assert stack.server.authenticated


def test_client_publickey_algorithms_can_rule_a_key_out() -> None:
    stack = Stack(password_policy(), pause=False, publickey_algorithms=["rsa-sha2-256"])
    assert stack.client.signature_algorithm(key("ed25519")) is None


# -- the front ends ---------------------------------------------------------------------------


class ThreadRecordingPolicy(StandardPolicy):
    """Records where checks run: never on the event loop's thread."""

    def __init__(self) -> None:
        super().__init__(password=lambda u, p: p == "pw")
        self.threads: list[threading.Thread] = []

    def check_password(self, username: str, password: str, context: Any) -> Decision:
        self.threads.append(threading.current_thread())
        return super().check_password(username, password, context)


def test_asyncio_serve_runs_policy_checks_off_the_event_loop() -> None:
    policy = ThreadRecordingPolicy()

    async def run() -> tuple[object, object]:
        a, b = socket.socketpair()
        server_t = AsyncTransport(
            AsyncStream(*await asyncio.open_connection(sock=b)),
            Role.SERVER,
            TransportConfig(host_keys=(host_key(),)),
        )
        client_t = AsyncTransport(
            AsyncStream(*await asyncio.open_connection(sock=a)),
            Role.CLIENT,
            host_key_check=lambda k, alg: True,
        )
        results = await asyncio.gather(
            auth_aio.authenticate(client_t, "alice", password="pw", methods=["password"]),
            auth_aio.serve(server_t, policy),
        )
        await client_t.close()
        await server_t.close()
        return results[0], results[1]

    loop_thread = threading.current_thread()
    _, server = asyncio.run(run())
    assert isinstance(server, UserAuthenticated)
    assert policy.threads and all(t is not loop_thread for t in policy.threads)


def kbd_only_sync(password: Any) -> tuple[object, object]:
    a, b = socket.socketpair()
    results: dict[str, object] = {}
    policy = Kbd()

    def serve() -> None:
        t = SyncTransport(SocketStream(b), Role.SERVER, TransportConfig(host_keys=(host_key(),)))
        try:
            results["server"] = auth_sync.serve(t, policy)
        except DisconnectError as exc:
            results["server"] = exc
        finally:
            t.close()

    thread = threading.Thread(target=serve)
    thread.start()
    with SyncTransport(SocketStream(a), Role.CLIENT, host_key_check=lambda k, alg: True) as t:
        try:
            results["client"] = auth_sync.authenticate(t, "alice", password=password, timeout=10)
        except Exception as exc:
            results["client"] = exc
    thread.join(10)
    return results["client"], results["server"]


def test_a_password_callable_answers_a_keyboard_interactive_password_prompt() -> None:
    asked: list[str] = []

    def password() -> str:
        asked.append("asked")
        return "pw"

    client, server = kbd_only_sync(password)
    assert isinstance(client, AuthenticationSucceeded), client
    assert isinstance(server, UserAuthenticated) and server.methods == ("keyboard-interactive",)
    assert asked == ["asked"]


def test_a_password_request_pause_is_not_a_server_check() -> None:
    # The client's pauses stay client events; only server checks are AuthCheck events.
    assert not issubclass(PasswordRequested, AuthCheck)
