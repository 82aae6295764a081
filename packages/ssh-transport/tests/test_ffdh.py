"""Finite-field DH: exponents sized from the group's strength, OpenSSL and pow agreeing."""

from __future__ import annotations

import contextlib
import os
import warnings

import pytest

from ssh_transport.kex import KexFailed, ffdh
from ssh_transport.kex.ffdh import FFDHKey, exponent_bits, private_exponent, strength_bits
from ssh_transport.kex.gex import GexClient
from ssh_transport.kex.groups import dh_agreement, modp_prime


@pytest.fixture(params=[True, False], ids=["openssl", "pow"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param and not ffdh._OPENSSL:
        pytest.skip("cryptography has no FFDH here")
    monkeypatch.setattr(ffdh, "_OPENSSL", request.param)
    return bool(request.param)


@pytest.mark.parametrize(
    ("bits", "strength"), [(1024, 80), (2048, 112), (3072, 128), (4096, 152), (8192, 200)]
)
def test_strength_follows_the_nist_table(bits: int, strength: int) -> None:
    assert strength_bits(bits) == strength


def test_a_group_between_table_sizes_gets_the_stronger_estimate() -> None:
    assert strength_bits(5000) == strength_bits(6144)


@pytest.mark.parametrize(("bits", "exponent"), [(2048, 224), (4096, 304), (8192, 400)])
def test_exponent_is_twice_the_group_strength(bits: int, exponent: int) -> None:
    assert exponent_bits(bits) == exponent


@pytest.mark.parametrize("bits", [4096, 8192])
def test_fixed_groups_use_short_exponents(bits: int) -> None:
    agreement = dh_agreement(bits)(os.urandom)
    assert agreement._key._x.bit_length() == exponent_bits(bits)


def test_group_exchange_uses_short_exponents() -> None:
    from ssh_transport import kex

    spec = kex.kex_spec("diffie-hellman-group-exchange-sha256")
    client = GexClient(spec, None, os.urandom)  # type: ignore[arg-type]
    client.start()
    client._group(modp_prime(4096), 2)
    assert client._key._x.bit_length() == 304


def test_private_exponent_comes_from_the_injected_rng() -> None:
    p = modp_prime(4096)
    first = private_exponent(lambda n: b"\x5a" * n, p)
    assert first == private_exponent(lambda n: b"\x5a" * n, p)
    assert first.bit_length() == 304


@pytest.mark.parametrize("g", [2, 5])
def test_public_and_shared_values_are_the_modular_powers(backend: bool, g: int) -> None:
    p = modp_prime(2048)
    x = private_exponent(os.urandom, p)
    y = private_exponent(os.urandom, p)
    ours, theirs = FFDHKey(p, g, x), FFDHKey(p, g, y)
    assert ours.public == pow(g, x, p)
    assert ours.shared(theirs.public) == theirs.shared(ours.public) == pow(g, x * y, p)


@pytest.mark.parametrize("bad", [0, 1, "p-1", "p", "p+1"])
def test_peer_values_out_of_range_are_refused(backend: bool, bad: int | str) -> None:
    p = modp_prime(2048)
    value = {"p-1": p - 1, "p": p, "p+1": p + 1}.get(bad, bad)  # type: ignore[call-overload]
    with pytest.raises(KexFailed, match="out of range"):
        FFDHKey(p, 2, private_exponent(os.urandom, p)).shared(value)


def test_a_value_outside_the_subgroup_fails_cleanly(backend: bool) -> None:
    p = modp_prime(2048)
    key = FFDHKey(p, 2, private_exponent(os.urandom, p))
    # -2 is a non-residue modulo these p (order 2q): OpenSSL refuses it, pow need not.
    with contextlib.suppress(KexFailed):
        key.shared(p - 2)


def test_cryptography_deprecation_never_reaches_the_application(backend: bool) -> None:
    p = modp_prime(2048)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours, theirs = FFDHKey(p, 2, 12345), FFDHKey(p, 2, 67890)
        ours.shared(theirs.public)
    assert caught == []


@pytest.mark.parametrize("bits", [2048, 3072, 4096, 6144, 8192])
def test_the_rfc3526_groups_go_to_openssl(bits: int) -> None:
    if not ffdh._OPENSSL:
        pytest.skip("cryptography has no FFDH here")
    p = modp_prime(bits)
    assert FFDHKey(p, 2, private_exponent(os.urandom, p))._openssl is not None


@pytest.mark.parametrize(("p", "g"), [(modp_prime(1024), 2), (modp_prime(2048), 5)])
def test_groups_openssl_does_not_know_by_name_use_pow(p: int, g: int) -> None:
    # OpenSSL would run primality tests on such groups at every key load (seconds for a
    # moduli file's 3072-bit group).
    assert FFDHKey(p, g, private_exponent(os.urandom, p))._openssl is None


def test_a_safe_prime_of_a_named_size_is_not_mistaken_for_the_named_group() -> None:
    p = modp_prime(2048)
    assert not ffdh._named_group(p + 2**70, 2)
