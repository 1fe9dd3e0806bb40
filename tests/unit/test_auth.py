"""HTTP Digest (RFC 7616 / RFC 8760) and the brute-force guard, under virtual time.

`now` is a plain float handed in by the test; nothing sleeps. The digest math is
checked against the published RFC 7616 §3.9.1 vectors, then end to end through
`DigestAuthenticator` (challenge → client computes → verify).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switch.auth import (
    ALGORITHMS,
    AuthParseError,
    AuthResult,
    BruteForceGuard,
    DigestAuthenticator,
    Verdict,
    h,
    ha1,
    parse_credentials,
)
from tests.support.sip_client import digest_authorization

# -- RFC 7616 §3.9.1 --------------------------------------------------------------------

RFC_USER = "Mufasa"
RFC_PASSWORD = "Circle of Life"
RFC_REALM = "http-auth@example.org"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_NC = "00000001"
RFC_URI = "/dir/index.html"
RFC_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


def rfc_response(algorithm: str) -> str:
    """The response exactly as `DigestAuthenticator.verify` composes it."""
    secret = ha1(algorithm, RFC_USER, RFC_REALM, RFC_PASSWORD)
    ha2 = h(algorithm, f"GET:{RFC_URI}")
    return h(algorithm, f"{secret}:{RFC_NONCE}:{RFC_NC}:{RFC_CNONCE}:auth:{ha2}")


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_vectors(algorithm: str) -> None:
    assert rfc_response(algorithm) == RFC_RESPONSES[algorithm]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_header_verifies(algorithm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The RFC's own Authorization header passes `verify` once its nonce counts as ours."""
    auth = DigestAuthenticator(RFC_REALM, {RFC_USER: RFC_PASSWORD}, algorithms=(algorithm,))
    monkeypatch.setattr(auth, "_nonce_age", lambda nonce, now: 0.0)
    header = (
        f'Digest username="{RFC_USER}", realm="{RFC_REALM}", uri="{RFC_URI}", '
        f"algorithm={algorithm}, nonce=\"{RFC_NONCE}\", nc={RFC_NC}, "
        f'cnonce="{RFC_CNONCE}", qop=auth, response="{RFC_RESPONSES[algorithm]}", '
        f'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    assert auth.verify(header, "GET", 1.0) == AuthResult(Verdict.OK, RFC_USER)
    # The same header for another method no longer matches.
    assert auth.verify(header, "POST", 1.0).verdict is Verdict.FAILED


def test_h_and_ha1_are_plain_hex_digests() -> None:
    assert h("MD5", "") == "d41d8cd98f00b204e9800998ecf8427e"
    assert h("SHA-256", "") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert ha1("MD5", "u", "r", "p") == h("MD5", "u:r:p")
    assert set(ALGORITHMS) == {"MD5", "SHA-256"}


# -- round trips through DigestAuthenticator --------------------------------------------

REALM = "switch.test"
PASSWORDS = {"alice": "wonderland", "bob": "builder"}
T0 = 1000.0
URI = "sip:switch.test"


def make_auth(**kwargs: object) -> DigestAuthenticator:
    kwargs.setdefault("secret", b"k" * 32)
    return DigestAuthenticator(REALM, dict(PASSWORDS), **kwargs)  # type: ignore[arg-type]


def challenge_for(auth: DigestAuthenticator, algorithm: str, now: float = T0) -> str:
    for challenge in auth.challenges(now):
        if f"algorithm={algorithm}," in challenge:
            return challenge
    raise AssertionError(f"no {algorithm} challenge")


def nonce_of(challenge: str) -> str:
    m = re.search(r'nonce="([^"]+)"', challenge)
    assert m is not None
    return m.group(1)


def test_challenges_one_per_algorithm_in_preference_order() -> None:
    auth = make_auth()
    challenges = auth.challenges(T0)
    assert len(challenges) == 2
    assert "algorithm=SHA-256," in challenges[0]
    assert "algorithm=MD5," in challenges[1]
    for c in challenges:
        assert c.startswith(f'Digest realm="{REALM}", nonce="')
        assert 'qop="auth"' in c
        assert "stale" not in c
    assert nonce_of(challenges[0]) == nonce_of(challenges[1])  # one nonce per challenge set
    assert all(c.endswith(", stale=true") for c in auth.challenges(T0, stale=True))
    assert nonce_of(auth.challenges(T0)[0]) != nonce_of(challenges[0])  # fresh each time


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_round_trip(algorithm: str) -> None:
    auth = make_auth()
    header = digest_authorization(challenge_for(auth, algorithm), "alice", "wonderland",
                                  "REGISTER", URI)
    assert f"algorithm={algorithm}" in header
    assert auth.verify(header, "REGISTER", T0 + 1) == AuthResult(Verdict.OK, "alice")


def test_digest_covers_the_header_uri_not_some_other_uri() -> None:
    """verify() never sees the Request-URI: the hash is over the header's `uri` field."""
    auth = make_auth()
    challenge = challenge_for(auth, "SHA-256")
    # A client (SIPp does this) that puts the server address in `uri`, not the Request-URI.
    header = digest_authorization(challenge, "alice", "wonderland", "REGISTER",
                                  "sip:192.0.2.1:5060")
    assert auth.verify(header, "REGISTER", T0).verdict is Verdict.OK
    # A response computed over one uri but sent with another fails.
    header = digest_authorization(challenge, "alice", "wonderland", "REGISTER",
                                  "sip:192.0.2.1:5060", nc=2)
    forged = header.replace('uri="sip:192.0.2.1:5060"', f'uri="{URI}"')
    assert auth.verify(forged, "REGISTER", T0).verdict is Verdict.FAILED


def test_method_is_part_of_the_digest() -> None:
    auth = make_auth()
    header = digest_authorization(challenge_for(auth, "MD5"), "alice", "wonderland",
                                  "REGISTER", URI)
    assert auth.verify(header, "INVITE", T0).verdict is Verdict.FAILED


def test_no_header_means_no_credentials() -> None:
    assert make_auth().verify(None, "REGISTER", T0) == AuthResult(Verdict.NO_CREDENTIALS)


def test_wrong_password_and_unknown_user_are_indistinguishable() -> None:
    auth = make_auth()
    challenge = challenge_for(auth, "SHA-256")
    wrong = auth.verify(
        digest_authorization(challenge, "alice", "nope", "REGISTER", URI), "REGISTER", T0
    )
    unknown = auth.verify(
        digest_authorization(challenge, "mallory", "nope", "REGISTER", URI), "REGISTER", T0
    )
    assert wrong.verdict is unknown.verdict is Verdict.FAILED
    assert wrong.reason == unknown.reason
    # Only the name the client itself sent differs.
    assert (wrong.username, unknown.username) == ("alice", "mallory")
    # An unknown user with a password that would hash right for a dummy still fails.
    assert auth.verify(
        digest_authorization(challenge, "-", "", "REGISTER", URI), "REGISTER", T0
    ).verdict is Verdict.FAILED


def test_failures_do_not_burn_the_nonce_count() -> None:
    auth = make_auth()
    challenge = challenge_for(auth, "MD5")
    bad = digest_authorization(challenge, "alice", "nope", "REGISTER", URI, nc=1)
    assert auth.verify(bad, "REGISTER", T0).verdict is Verdict.FAILED
    good = digest_authorization(challenge, "alice", "wonderland", "REGISTER", URI, nc=1)
    assert auth.verify(good, "REGISTER", T0).verdict is Verdict.OK


def test_nonce_expires_after_ttl() -> None:
    auth = make_auth(nonce_ttl=300.0)
    challenge = challenge_for(auth, "SHA-256", now=T0)
    for nc, now in ((1, T0 + 299.0), (2, T0 + 300.0)):  # the last valid instant included
        header = digest_authorization(challenge, "alice", "wonderland", "REGISTER", URI, nc=nc)
        assert auth.verify(header, "REGISTER", now).verdict is Verdict.OK
    header = digest_authorization(challenge, "alice", "wonderland", "REGISTER", URI, nc=3)
    result = auth.verify(header, "REGISTER", T0 + 300.5)
    assert result.verdict is Verdict.STALE
    assert result.username == "alice"


def test_nonce_from_the_future_is_stale() -> None:
    auth = make_auth()
    challenge = challenge_for(auth, "SHA-256", now=T0 + 10.0)
    header = digest_authorization(challenge, "alice", "wonderland", "REGISTER", URI)
    assert auth.verify(header, "REGISTER", T0).verdict is Verdict.STALE
    assert auth.verify(header, "REGISTER", T0 + 9.5).verdict is Verdict.OK  # 1 s of skew


def test_nonce_from_another_instance_is_stale() -> None:
    ours = make_auth(secret=b"a" * 32)
    theirs = make_auth(secret=b"b" * 32)
    header = digest_authorization(challenge_for(theirs, "SHA-256"), "alice", "wonderland",
                                  "REGISTER", URI)
    assert theirs.verify(header, "REGISTER", T0).verdict is Verdict.OK
    assert ours.verify(header, "REGISTER", T0).verdict is Verdict.STALE


def test_random_secrets_differ_between_instances() -> None:
    a = DigestAuthenticator(REALM, PASSWORDS)
    b = DigestAuthenticator(REALM, PASSWORDS)
    header = digest_authorization(challenge_for(a, "MD5"), "alice", "wonderland",
                                  "REGISTER", URI)
    assert a.verify(header, "REGISTER", T0).verdict is Verdict.OK
    assert b.verify(header, "REGISTER", T0).verdict is Verdict.STALE


@pytest.mark.parametrize("nonce", ["", "not-base64-!!", "AAAA", "é", "\udcff"])
def test_garbage_nonce_is_stale(nonce: str) -> None:
    header = (f'Digest username="alice", realm="{REALM}", nonce="{nonce}", uri="{URI}", '
              f'response="00", qop=auth, nc=00000001, cnonce="x"')
    assert make_auth().verify(header, "REGISTER", T0).verdict is Verdict.STALE


def test_nonce_count_replay() -> None:
    auth = make_auth()
    challenge = challenge_for(auth, "SHA-256")

    def verify(nc: int, now: float = T0) -> Verdict:
        header = digest_authorization(challenge, "alice", "wonderland", "REGISTER", URI, nc=nc)
        return auth.verify(header, "REGISTER", now).verdict

    assert verify(1) is Verdict.OK
    assert verify(1) is Verdict.STALE  # same nc twice
    assert verify(2) is Verdict.OK
    assert verify(5) is Verdict.OK  # gaps are fine
    assert verify(3) is Verdict.STALE  # lower than the highest seen
    assert verify(5) is Verdict.STALE
    assert verify(6, T0 + 100.0) is Verdict.OK
    # Another nonce has its own count.
    other = digest_authorization(challenge_for(auth, "SHA-256"), "alice", "wonderland",
                                 "REGISTER", URI, nc=1)
    assert auth.verify(other, "REGISTER", T0).verdict is Verdict.OK


def test_nonce_count_memory_is_forgotten_when_the_nonce_expires() -> None:
    auth = make_auth(nonce_ttl=60.0)
    challenge = challenge_for(auth, "MD5", now=T0)
    header = digest_authorization(challenge, "alice", "wonderland", "REGISTER", URI)
    assert auth.verify(header, "REGISTER", T0).verdict is Verdict.OK
    assert len(auth._nc_seen) == 1
    fresh = digest_authorization(challenge_for(auth, "MD5", now=T0 + 100.0), "alice",
                                 "wonderland", "REGISTER", URI)
    assert auth.verify(fresh, "REGISTER", T0 + 100.0).verdict is Verdict.OK
    assert len(auth._nc_seen) == 1  # the first nonce's entry went away
    assert auth.verify(header, "REGISTER", T0 + 100.0).verdict is Verdict.STALE  # by age


def test_missing_qop_fails() -> None:
    auth = make_auth()
    challenge = challenge_for(auth, "MD5")
    nonce = nonce_of(challenge)
    secret = ha1("MD5", "alice", REALM, "wonderland")
    # RFC 2069 style: response = H(HA1:nonce:HA2), no qop/nc/cnonce.
    response = h("MD5", f"{secret}:{nonce}:{h('MD5', f'REGISTER:{URI}')}")
    header = (f'Digest username="alice", realm="{REALM}", nonce="{nonce}", uri="{URI}", '
              f'response="{response}", algorithm=MD5')
    assert auth.verify(header, "REGISTER", T0).verdict is Verdict.FAILED


@pytest.mark.parametrize("qop_part", ["qop=auth-int, nc=00000001, cnonce=\"c\"",
                                      "qop=auth, cnonce=\"c\"",
                                      "qop=auth, nc=00000001"])
def test_unsupported_or_incomplete_qop_fails(qop_part: str) -> None:
    auth = make_auth()
    nonce = nonce_of(challenge_for(auth, "MD5"))
    header = (f'Digest username="alice", realm="{REALM}", nonce="{nonce}", uri="{URI}", '
              f'response="0123", algorithm=MD5, {qop_part}')
    assert auth.verify(header, "REGISTER", T0).verdict is Verdict.FAILED


def test_realm_mismatch_is_a_challenge_not_a_failure() -> None:
    auth = make_auth()
    challenge = challenge_for(auth, "SHA-256").replace(REALM, "elsewhere.test")
    header = digest_authorization(challenge, "alice", "wonderland", "REGISTER", URI)
    result = auth.verify(header, "REGISTER", T0)
    assert result.verdict is Verdict.NO_CREDENTIALS
    assert result.username == "alice"


def test_algorithm_not_offered_is_a_challenge() -> None:
    sha_only = make_auth(algorithms=("SHA-256",))
    both = make_auth()
    header = digest_authorization(challenge_for(both, "MD5"), "alice", "wonderland",
                                  "REGISTER", URI)
    assert both.verify(header, "REGISTER", T0).verdict is Verdict.OK
    assert sha_only.verify(header, "REGISTER", T0).verdict is Verdict.NO_CREDENTIALS


def test_default_algorithm_is_md5() -> None:
    auth = make_auth()
    header = digest_authorization(challenge_for(auth, "MD5"), "alice", "wonderland",
                                  "REGISTER", URI).replace(", algorithm=MD5", "")
    assert "algorithm" not in header
    assert auth.verify(header, "REGISTER", T0).verdict is Verdict.OK


def test_set_passwords_replaces_the_credential_table() -> None:
    auth = make_auth()
    challenge = challenge_for(auth, "SHA-256")
    auth.set_passwords({"alice": "new"})
    old = digest_authorization(challenge, "alice", "wonderland", "REGISTER", URI)
    new = digest_authorization(challenge, "alice", "new", "REGISTER", URI, nc=2)
    bob = digest_authorization(challenge, "bob", "builder", "REGISTER", URI, nc=3)
    assert auth.verify(old, "REGISTER", T0).verdict is Verdict.FAILED
    assert auth.verify(new, "REGISTER", T0).verdict is Verdict.OK
    assert auth.verify(bob, "REGISTER", T0).verdict is Verdict.FAILED


def test_non_ascii_fields_with_a_valid_nonce_fail_cleanly() -> None:
    """Reaching the digest comparison with hostile text must not raise (a real nonce
    is free to obtain: any unauthenticated request gets one)."""
    auth = make_auth()
    nonce = nonce_of(challenge_for(auth, "MD5"))
    base = (f'Digest username="alice", realm="{REALM}", nonce="{nonce}", '
            f'algorithm=MD5, qop=auth, nc=00000001, cnonce="c"')
    for extra in (f'uri="{URI}", response="é"',
                  f'uri="{URI}", response="\udcff"',
                  'uri="sip:\udcff", response="00"',
                  f'uri="{URI}", response="00", username="\udce9"',
                  'uri="sip:\ud800", response="00"'):
        assert auth.verify(f"{base}, {extra}", "REGISTER", T0).verdict is Verdict.FAILED


# -- parse_credentials ---------------------------------------------------------------------


def test_parse_credentials_fields() -> None:
    creds = parse_credentials(
        'Digest username="al\\"ice", realm="r", nonce="n", uri="sip:x", '
        'response="ABCDEF", algorithm=sha-256, qop=auth, nc=0000000a, cnonce="c", '
        'opaque="o"'
    )
    assert creds.username == 'al"ice'
    assert (creds.realm, creds.nonce, creds.uri) == ("r", "n", "sip:x")
    assert creds.response == "abcdef"
    assert creds.algorithm == "SHA-256"
    assert (creds.qop, creds.nc, creds.cnonce, creds.opaque) == ("auth", "0000000a", "c", "o")
    minimal = parse_credentials('digest username=u,realm=r,nonce=n,uri=u,response=r')
    assert minimal.algorithm == "MD5"
    assert minimal.qop is minimal.nc is minimal.cnonce is minimal.opaque is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Basic dXNlcjpwYXNz",
        "Digest",
        'Digest username="unterminated',
        'Digest username="u" realm="r"',  # missing comma
        "Digest username=, realm=r",
        'Digest username="u", realm="r", nonce="n", uri="u"',  # no response
        'Digest username="u", realm="r", nonce="n", uri="u", response="x", algorithm=SHA1',
        'Digest username="u",, realm="r"',
        "Digest =x",
    ],
)
def test_parse_credentials_malformed(value: str) -> None:
    with pytest.raises(AuthParseError):
        parse_credentials(value)


def test_malformed_header_is_a_failure() -> None:
    result = make_auth().verify('Digest username="u"', "REGISTER", T0)
    assert result.verdict is Verdict.FAILED
    assert result.username is None


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_credentials_raises_only_its_own_error(value: str) -> None:
    try:
        parse_credentials(value)
    except AuthParseError:
        pass


_PARAM_NAMES = st.sampled_from(["username", "realm", "nonce", "uri", "response", "algorithm",
                                "qop", "nc", "cnonce", "opaque", "x"])
_DIGESTY = st.lists(
    st.tuples(_PARAM_NAMES, st.text(max_size=12), st.booleans()), max_size=10
).map(lambda ps: "Digest " + ", ".join(
    f'{n}="{v}"' if quoted else f"{n}={v}" for n, v, quoted in ps
))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _DIGESTY))
def test_parse_credentials_digest_like_raises_only_its_own_error(value: str) -> None:
    try:
        parse_credentials(value)
    except AuthParseError:
        pass


_VERIFY_AUTH = make_auth()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _DIGESTY), st.sampled_from(["REGISTER", "INVITE", "", "é"]))
def test_verify_never_raises(value: str, method: str) -> None:
    assert isinstance(_VERIFY_AUTH.verify(value, method, T0).verdict, Verdict)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_PARAM_NAMES, st.text(max_size=12)))
def test_verify_with_a_valid_nonce_never_raises(params: dict[str, str]) -> None:
    """Same, past the nonce check, where the digest is computed and compared."""
    params = {"realm": REALM, "nonce": nonce_of(challenge_for(_VERIFY_AUTH, "MD5")),
              "username": "alice", "uri": URI, "qop": "auth", "nc": "1", "cnonce": "c",
              "response": "0", **{k: v for k, v in params.items()
                                  if k not in ("realm", "nonce", "algorithm")}}
    header = "Digest " + ", ".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in params.items()
    )
    assert isinstance(_VERIFY_AUTH.verify(header, "REGISTER", T0).verdict, Verdict)


# -- BruteForceGuard ---------------------------------------------------------------------

SRC = "192.0.2.66"
OTHER = "192.0.2.77"


def make_guard() -> BruteForceGuard:
    return BruteForceGuard(max_failures=3, window=60.0, cooldown=300.0)


def test_guard_blocks_at_the_nth_failure_not_before() -> None:
    guard = make_guard()
    assert guard.record_failure(SRC, 0.0) is False
    assert guard.record_failure(SRC, 1.0) is False
    assert not guard.is_blocked(SRC, 1.0)
    assert guard.record_failure(SRC, 2.0) is True  # the Nth starts the block
    assert guard.is_blocked(SRC, 2.0)
    assert not guard.is_blocked(OTHER, 2.0)


def test_guard_window_boundary() -> None:
    guard = make_guard()
    guard.record_failure(SRC, 0.0)
    guard.record_failure(SRC, 30.0)
    # Exactly one window after the first failure, it no longer counts.
    assert guard.record_failure(SRC, 60.0) is False
    assert not guard.is_blocked(SRC, 60.0)
    # Failures at 30 and 60 are still inside the window at 89.5: the third blocks.
    assert guard.record_failure(SRC, 89.5) is True
    assert guard.is_blocked(SRC, 89.5)


def test_guard_just_inside_the_window_counts() -> None:
    guard = make_guard()
    guard.record_failure(SRC, 0.0)
    guard.record_failure(SRC, 1.0)
    assert guard.record_failure(SRC, 59.5) is True


def test_guard_failures_older_than_the_window_do_not_count() -> None:
    guard = make_guard()
    guard.record_failure(SRC, 0.0)
    guard.record_failure(SRC, 1.0)
    assert guard.record_failure(SRC, 100.0) is False
    assert guard.record_failure(SRC, 101.0) is False
    assert guard.record_failure(SRC, 102.0) is True


def test_guard_block_lifts_exactly_at_cooldown_end() -> None:
    guard = make_guard()
    for t in (0.0, 1.0, 2.0):
        guard.record_failure(SRC, t)
    assert guard.is_blocked(SRC, 2.0)
    assert guard.is_blocked(SRC, 301.5)
    assert not guard.is_blocked(SRC, 302.0)  # 2 + 300
    assert not guard.is_blocked(SRC, 301.5)  # lifted for good, not a function of time alone
    # The failure count restarted with the block: N-1 new failures do not block again.
    assert guard.record_failure(SRC, 303.0) is False
    assert guard.record_failure(SRC, 304.0) is False
    assert guard.record_failure(SRC, 305.0) is True


def test_guard_success_resets_the_count() -> None:
    guard = make_guard()
    guard.record_failure(SRC, 0.0)
    guard.record_failure(SRC, 1.0)
    guard.record_success(SRC)
    assert guard.record_failure(SRC, 2.0) is False
    assert guard.record_failure(SRC, 3.0) is False
    assert guard.record_failure(SRC, 4.0) is True
    guard.record_success(OTHER)  # unknown source: no-op


def test_guard_prune() -> None:
    guard = make_guard()
    guard.record_failure(SRC, 0.0)
    guard.record_failure(OTHER, 50.0)
    for t in (10.0, 11.0, 12.0):
        guard.record_failure("192.0.2.88", t)
    assert set(guard._failures) == {SRC, OTHER}
    assert set(guard._blocked_until) == {"192.0.2.88"}
    guard.prune(59.5)
    assert set(guard._failures) == {SRC, OTHER}
    guard.prune(60.0)  # SRC's last failure is one window old
    assert set(guard._failures) == {OTHER}
    guard.prune(110.0)
    assert guard._failures == {}
    assert set(guard._blocked_until) == {"192.0.2.88"}
    guard.prune(311.5)
    assert set(guard._blocked_until) == {"192.0.2.88"}
    guard.prune(312.0)
    assert guard._blocked_until == {}
    assert not guard.is_blocked("192.0.2.88", 312.0)
