"""HTTP Digest for SIP (RFC 3261 §22, RFC 7616, RFC 8760): challenges and verification.

Sans-I/O: time comes in as `now` (monotonic seconds) from the caller. Nonces are
stateless (HMAC over their issue time) so a challenge costs no memory; only the
highest nonce-count seen per nonce is remembered, for replay protection, until the
nonce expires. Unknown users are verified against a dummy credential so that they
cannot be told apart from a wrong password, by answer or by timing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
from collections import deque
from dataclasses import dataclass
from enum import Enum

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_NONCE_STRUCT = struct.Struct(">dQ")  # issue time, per-process counter
# One `name=value` digest parameter plus the separator after it; quoted strings use the
# unrolled-loop form, which is several times faster than a per-character alternation.
_AUTH_PARAM_RE = re.compile(
    r'[ \t]*([A-Za-z0-9\-]+)[ \t]*=[ \t]*(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([^\s,"]+))[ \t]*(?:,|\Z)'
)


def h(algorithm: str, text: str) -> str:
    # surrogatepass: header text may hold lone surrogates (undecodable octets, decoded
    # with surrogateescape); any str must hash rather than raise inside verify().
    return ALGORITHMS[algorithm](text.encode("utf-8", "surrogatepass")).hexdigest()


def ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    return h(algorithm, f"{username}:{realm}:{password}")


@dataclass(slots=True)  # not frozen: one per request, and frozen init costs ~3 us here
class Credentials:
    """The parsed Authorization / Proxy-Authorization header."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str
    qop: str | None
    nc: str | None
    cnonce: str | None
    opaque: str | None


class AuthParseError(ValueError):
    pass


def parse_credentials(value: str) -> Credentials:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise AuthParseError(f"unsupported authorization scheme {scheme[:20]!r}")
    params: dict[str, str] = {}
    pos, end = 0, len(rest)
    match = _AUTH_PARAM_RE.match
    while pos < end:
        m = match(rest, pos)
        if m is None:
            raise AuthParseError("malformed digest parameters")
        name, quoted, token = m.groups()
        if quoted is None:
            params[name.lower()] = token
        else:
            params[name.lower()] = re.sub(r"\\(.)", r"\1", quoted) if "\\" in quoted else quoted
        pos = m.end()
    try:
        algorithm = params.get("algorithm", "MD5").upper()
        if algorithm not in ALGORITHMS:
            raise AuthParseError(f"unsupported digest algorithm {algorithm[:20]!r}")
        return Credentials(
            username=params["username"],
            realm=params["realm"],
            nonce=params["nonce"],
            uri=params["uri"],
            response=params["response"].lower(),
            algorithm=algorithm,
            qop=params.get("qop"),
            nc=params.get("nc"),
            cnonce=params.get("cnonce"),
            opaque=params.get("opaque"),
        )
    except KeyError as missing:
        raise AuthParseError(f"digest parameter {missing.args[0]} missing") from None


class Verdict(Enum):
    OK = "ok"
    NO_CREDENTIALS = "no-credentials"  # challenge, not a failure
    STALE = "stale"  # expired or unknown nonce: challenge with stale=true, not a failure
    FAILED = "failed"  # wrong password, unknown user, replay: counts as a failure


@dataclass(slots=True)
class AuthResult:
    verdict: Verdict
    username: str | None = None
    reason: str = ""


class DigestAuthenticator:
    """Issues challenges and checks credentials for one realm."""

    def __init__(
        self,
        realm: str,
        passwords: dict[str, str],
        *,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        nonce_ttl: float = 300.0,
        secret: bytes | None = None,
    ) -> None:
        self.realm = realm
        self.algorithms = algorithms
        self.nonce_ttl = nonce_ttl
        self._secret = secret or os.urandom(32)
        self._opaque = base64.b16encode(os.urandom(8)).decode().lower()
        self._nonce_counter = int.from_bytes(os.urandom(4), "big")
        self._ha1: dict[tuple[str, str], str] = {}
        self.set_passwords(passwords)
        dummy = base64.b64encode(os.urandom(16)).decode()
        self._dummy_ha1 = {alg: ha1(alg, "-", realm, dummy) for alg in ALGORITHMS}
        self._nc_seen: dict[str, int] = {}
        self._nc_expiry: deque[tuple[float, str]] = deque()

    def set_passwords(self, passwords: dict[str, str]) -> None:
        """Keep only HA1 values in memory, one per algorithm offered."""
        self._ha1 = {
            (user, alg): ha1(alg, user, self.realm, password)
            for user, password in passwords.items()
            for alg in ALGORITHMS
        }

    # -- challenges -----------------------------------------------------------------
    def new_nonce(self, now: float) -> str:
        # Unforgeable through the keyed hash, unique through the counter: no entropy is
        # needed per nonce. Keyed BLAKE2b is a MAC by design and ~3x cheaper than HMAC.
        self._nonce_counter += 1
        head = _NONCE_STRUCT.pack(now, self._nonce_counter)
        tag = self._mac(head)
        return base64.urlsafe_b64encode(head + tag).decode().rstrip("=")

    def _mac(self, data: bytes) -> bytes:
        return hashlib.blake2b(data, key=self._secret, digest_size=12).digest()

    def challenges(self, now: float, *, stale: bool = False) -> list[str]:
        """One challenge per algorithm, in preference order (RFC 8760 §2.4)."""
        nonce = self.new_nonce(now)
        stale_param = ", stale=true" if stale else ""
        return [
            f'Digest realm="{self.realm}", nonce="{nonce}", opaque="{self._opaque}", '
            f'algorithm={alg}, qop="auth"{stale_param}'
            for alg in self.algorithms
        ]

    def _nonce_age(self, nonce: str, now: float) -> float | None:
        """Age of a nonce this process issued, or None if it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != _NONCE_STRUCT.size + 12:
            return None
        head, tag = raw[: _NONCE_STRUCT.size], raw[_NONCE_STRUCT.size :]
        if not hmac.compare_digest(tag, self._mac(head)):
            return None
        issued: float = _NONCE_STRUCT.unpack(head)[0]
        return now - issued

    # -- verification ---------------------------------------------------------------
    def verify(self, header: str | None, method: str, now: float) -> AuthResult:
        if header is None:
            return AuthResult(Verdict.NO_CREDENTIALS)
        try:
            creds = parse_credentials(header)
        except AuthParseError as exc:
            return AuthResult(Verdict.FAILED, reason=str(exc))
        if creds.realm != self.realm:
            return AuthResult(Verdict.NO_CREDENTIALS, creds.username, "another realm")
        if creds.algorithm not in self.algorithms:
            return AuthResult(Verdict.NO_CREDENTIALS, creds.username, "algorithm not offered")
        age = self._nonce_age(creds.nonce, now)
        if age is None or age < -1.0 or age > self.nonce_ttl:
            return AuthResult(Verdict.STALE, creds.username, "nonce expired or unknown")
        known = self._ha1.get((creds.username, creds.algorithm))
        secret_ha1 = known if known is not None else self._dummy_ha1[creds.algorithm]
        # The digest covers the uri the client put in the header (SIPp sends the server
        # address there, not the Request-URI), so it is computed from that field.
        ha2 = h(creds.algorithm, f"{method}:{creds.uri}")
        if creds.qop is not None:
            if creds.qop.lower() != "auth" or not creds.nc or not creds.cnonce:
                return AuthResult(Verdict.FAILED, creds.username, "unsupported qop")
            expected = h(
                creds.algorithm,
                f"{secret_ha1}:{creds.nonce}:{creds.nc}:{creds.cnonce}:{creds.qop}:{ha2}",
            )
        else:
            return AuthResult(Verdict.FAILED, creds.username, "qop=auth required")
        # compare_digest raises TypeError on str holding non-ASCII characters.
        if (not creds.response.isascii() or not hmac.compare_digest(expected, creds.response)
                or known is None):
            return AuthResult(Verdict.FAILED, creds.username, "bad credentials")
        try:
            nc = int(creds.nc, 16)
        except ValueError:
            return AuthResult(Verdict.FAILED, creds.username, "malformed nonce count")
        if not self._accept_nc(creds.nonce, nc, now, age):
            return AuthResult(Verdict.STALE, creds.username, "nonce count replayed")
        return AuthResult(Verdict.OK, creds.username)

    def _accept_nc(self, nonce: str, nc: int, now: float, age: float) -> bool:
        self._expire_nc(now)
        last = self._nc_seen.get(nonce)
        if last is not None and nc <= last:
            return False
        if last is None:
            self._nc_expiry.append((now - age + self.nonce_ttl, nonce))
        self._nc_seen[nonce] = nc
        return True

    def _expire_nc(self, now: float) -> None:
        expiry = self._nc_expiry
        while expiry and expiry[0][0] < now:
            _, nonce = expiry.popleft()
            self._nc_seen.pop(nonce, None)


class BruteForceGuard:
    """Counts authentication failures per source address; blocks noisy sources."""

    def __init__(self, *, max_failures: int, window: float, cooldown: float) -> None:
        self.max_failures = max_failures
        self.window = window
        self.cooldown = cooldown
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def is_blocked(self, source: str, now: float) -> bool:
        until = self._blocked_until.get(source)
        if until is None:
            return False
        if now >= until:
            del self._blocked_until[source]
            return False
        return True

    def record_failure(self, source: str, now: float) -> bool:
        """Count one failure; True when this failure starts a block."""
        times = self._failures.setdefault(source, deque())
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.max_failures:
            del self._failures[source]
            self._blocked_until[source] = now + self.cooldown
            return True
        return False

    def record_success(self, source: str) -> None:
        self._failures.pop(source, None)

    def prune(self, now: float) -> None:
        for source in [s for s, t in self._failures.items() if not t or t[-1] <= now - self.window]:
            del self._failures[source]
        for source in [s for s, until in self._blocked_until.items() if until <= now]:
            del self._blocked_until[source]
