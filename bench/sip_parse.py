"""SIP parser micro-benchmark: our parser against the `sipmessage` library.

Times one typical ~700-byte INVITE (a Yealink-style phone call: Via with rport,
From with display name and tag, SDP body) through:

* ``parse_serialize``        parse_message() + to_bytes()
* ``parse_touch_serialize``  the same, also reading the top Via branch, the From and
                             To tags and the CSeq (what the transaction layer pays)
* ``parse_strict``           parse_message(strict=True) (every header deep-checked)
* ``sipmessage_parse_serialize`` / ``sipmessage_parse_touch_serialize``: the same
  message through sipmessage 0.7.1 (``Message.parse`` + ``bytes()``; sipmessage
  parses headers lazily, so the "touch" row is the fair comparison)

and counts, over the RFC 4475 torture corpus (tests/data/rfc4475), how many valid
messages each parser accepts and how many invalid ones it rejects. sipmessage
documents ``ValueError`` as its only error; any other exception type it raises is
counted as "foreign". A fixed-seed mutation run (byte flips, truncation, inserted
CR/LF/NUL/quotes/brackets) counts foreign exceptions for both parsers too.

Timing uses ``timeit.repeat`` (``time.perf_counter``); each value is per call in
microseconds, the median and the minimum over the repeats.

Run::

    .venv/bin/python bench/sip_parse.py [--quick] [--json bench/results/sip_parse.json]

Sample output (2-core VM, CPython 3.11.7, full run)::

    SIP parser benchmark: 784-byte INVITE, 15 repeats
    case                               median us    min us
    parse_serialize                        17.94     17.79
    parse_touch_serialize                  33.61     32.96
    parse_strict                           63.68     62.62
    sipmessage_parse_serialize             25.84     25.73
    sipmessage_parse_touch_serialize       84.81     83.82

    RFC 4475 corpus                     ours  sipmessage
    valid accepted (of 30)                27          23
    invalid rejected (of 19)              19          12
    foreign exceptions (corpus)            0           1  (KeyError)
    foreign exceptions (3000 mutations)    0         102  (KeyError)

    ours rejects 3 valid messages with their semantic status 400 (insuf, multi01, mcl01)

``--json PATH`` writes the same numbers as flat keys, units in the names
(``parse_serialize_us``, ``parse_serialize_min_us``, ``ours_rfc4475_valid_ok`` …).
``--quick`` uses fewer repeats and mutations and finishes in a few seconds; the full
run takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sipmessage  # noqa: E402
from timing import time_case  # noqa: E402

from switch.sip.errors import SipParseError  # noqa: E402
from switch.sip.message import parse_message  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "rfc4475"

_SDP = (
    "v=0\r\n"
    "o=- 20021 20021 IN IP4 192.168.1.101\r\n"
    "s=-\r\n"
    "c=IN IP4 192.168.1.101\r\n"
    "t=0 0\r\n"
    "m=audio 11780 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
)
INVITE = (
    "INVITE sip:1002@192.168.1.10:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.168.1.101:5062;branch=z9hG4bK1748893206;rport\r\n"
    'From: "Alice Smith" <sip:1001@192.168.1.10:5060>;tag=1203582941\r\n'
    "To: <sip:1002@192.168.1.10:5060>\r\n"
    "Call-ID: 0_3188306327@192.168.1.101\r\n"
    "CSeq: 2 INVITE\r\n"
    "Contact: <sip:1001@192.168.1.101:5062>\r\n"
    "Content-Type: application/sdp\r\n"
    "Allow: INVITE, INFO, PRACK, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REGISTER, SUBSCRIBE,"
    " REFER, PUBLISH, UPDATE, MESSAGE\r\n"
    "Max-Forwards: 70\r\n"
    "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
    "Supported: replaces\r\n"
    f"Content-Length: {len(_SDP)}\r\n"
    "\r\n" + _SDP
).encode()


# -- the cases -------------------------------------------------------------------
def ours_parse_serialize(data: bytes = INVITE) -> bytes:
    return parse_message(data).to_bytes()


def ours_parse_touch_serialize(data: bytes = INVITE) -> bytes:
    msg = parse_message(data)
    msg.vias[0].branch  # noqa: B018
    msg.from_.tag  # noqa: B018
    msg.to.tag  # noqa: B018
    msg.cseq.number  # noqa: B018
    return msg.to_bytes()


def ours_parse_strict(data: bytes = INVITE) -> object:
    return parse_message(data, strict=True)


def sm_parse_serialize(data: bytes = INVITE) -> bytes:
    return bytes(sipmessage.Message.parse(data))


def sm_parse_touch_serialize(data: bytes = INVITE) -> bytes:
    msg = sipmessage.Message.parse(data)
    msg.via[0].parameters.get("branch")
    msg.from_address.parameters.get("tag")
    msg.to_address.parameters.get("tag")
    msg.cseq.sequence  # noqa: B018
    return bytes(msg)


CASES: list[tuple[str, Callable[[], object]]] = [
    ("parse_serialize", ours_parse_serialize),
    ("parse_touch_serialize", ours_parse_touch_serialize),
    ("parse_strict", ours_parse_strict),
    ("sipmessage_parse_serialize", sm_parse_serialize),
    ("sipmessage_parse_touch_serialize", sm_parse_touch_serialize),
]


# -- correctness -----------------------------------------------------------------
def ours_accepts(data: bytes) -> bool:
    """True if accepted; False on SipParseError; other exceptions propagate."""
    try:
        parse_message(data, strict=True)
    except SipParseError:
        return False
    return True


def sm_accepts(data: bytes) -> bool:
    """sipmessage's typed view of the message: parse, then read the core headers."""
    try:
        msg = sipmessage.Message.parse(data)
        msg.via  # noqa: B018
        msg.from_address  # noqa: B018
        msg.to_address  # noqa: B018
        msg.cseq  # noqa: B018
        msg.call_id  # noqa: B018
        msg.contact  # noqa: B018
        msg.max_forwards  # noqa: B018
        msg.content_length  # noqa: B018
        msg.content_type  # noqa: B018
        msg.expires  # noqa: B018
        msg.route  # noqa: B018
        msg.record_route  # noqa: B018
        msg.date  # noqa: B018
    except ValueError:
        return False
    return True


def _run(accepts: Callable[[bytes], bool], data: bytes, foreign: Counter[str]) -> bool:
    try:
        return accepts(data)
    except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
        foreign[type(exc).__name__] += 1
        return False


def corpus_scores() -> dict[str, object]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    out: dict[str, object] = {"rfc4475_valid_total": 0, "rfc4475_invalid_total": 0}
    counts = Counter[str]()
    semantic: list[str] = []
    foreign = {"ours": Counter[str](), "sipmessage": Counter[str]()}
    for entry in manifest:
        data = (CORPUS / f"{entry['name']}.dat").read_bytes()
        valid = entry["valid"]
        out["rfc4475_valid_total" if valid else "rfc4475_invalid_total"] += 1  # type: ignore[operator]
        for who, accepts in (("ours", ours_accepts), ("sipmessage", sm_accepts)):
            ok = _run(accepts, data, foreign[who])
            if valid and ok:
                counts[f"{who}_rfc4475_valid_ok"] += 1
            elif not valid and not ok:
                counts[f"{who}_rfc4475_invalid_rejected"] += 1
        if valid and entry.get("semantic_status") == 400:
            try:
                parse_message(data, strict=True)
            except SipParseError as exc:
                if exc.status == 400:
                    semantic.append(entry["name"])
    for who in ("ours", "sipmessage"):
        out[f"{who}_rfc4475_valid_ok"] = counts[f"{who}_rfc4475_valid_ok"]
        out[f"{who}_rfc4475_invalid_rejected"] = counts[f"{who}_rfc4475_invalid_rejected"]
        out[f"{who}_rfc4475_foreign_exceptions"] = sum(foreign[who].values())
        out[f"{who}_rfc4475_foreign_exception_types"] = ",".join(sorted(foreign[who]))
    out["ours_rfc4475_valid_rejected_with_semantic_400"] = len(semantic)
    out["ours_rfc4475_valid_rejected_with_semantic_400_names"] = ",".join(semantic)
    return out


_INSERTS = [b"\r", b"\n", b"\x00", b'"', b"<", b">", b"\r\n", b" ", b";", b",", b":", b"\xff"]


def mutations(count: int, seed: int = 4475) -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(CORPUS.glob("*.dat"))] + [INVITE]
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 3)):
            pos = rnd.randrange(len(data) + 1)
            op = rnd.random()
            if op < 0.35 and data:
                data[min(pos, len(data) - 1)] = rnd.randrange(256)
            elif op < 0.7:
                data[pos:pos] = rnd.choice(_INSERTS)
            elif op < 0.8:
                del data[pos:]
            else:
                del data[pos : pos + rnd.randint(1, 8)]
        out.append(bytes(data))
    return out


def mutation_scores(count: int) -> dict[str, object]:
    foreign = {"ours": Counter[str](), "sipmessage": Counter[str]()}
    for data in mutations(count):
        _run(ours_accepts, data, foreign["ours"])
        _run(sm_accepts, data, foreign["sipmessage"])
    out: dict[str, object] = {"mutations_count": count}
    for who in ("ours", "sipmessage"):
        out[f"{who}_mutation_foreign_exceptions"] = sum(foreign[who].values())
        out[f"{who}_mutation_foreign_exception_types"] = ",".join(sorted(foreign[who]))
    return out


# -- main ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a few seconds)")
    parser.add_argument("--json", metavar="PATH", help="write flat results to PATH")
    args = parser.parse_args(argv)
    repeat, target, n_mut = (5, 0.05, 500) if args.quick else (15, 0.2, 3000)

    # Sanity: every case must work on the benchmark message before it is timed.
    assert parse_message(ours_parse_serialize()) == parse_message(INVITE)
    assert sipmessage.Message.parse(sm_parse_serialize()).call_id == "0_3188306327@192.168.1.101"

    results: dict[str, object] = {
        "message_bytes": len(INVITE),
        "repeats": repeat,
        "python": sys.version.split()[0],
        "sipmessage_version": sipmessage.__version__,
    }
    print(f"SIP parser benchmark: {len(INVITE)}-byte INVITE, {repeat} repeats")
    print(f"{'case':<34}{'median us':>10}{'min us':>10}")
    for name, func in CASES:
        median, minimum = time_case(func, repeat, target)
        results[f"{name}_us"] = round(median, 3)
        results[f"{name}_min_us"] = round(minimum, 3)
        print(f"{name:<34}{median:>10.2f}{minimum:>10.2f}")

    results.update(corpus_scores())
    results.update(mutation_scores(n_mut))
    r = results

    def row(label: str, ours: object, theirs: object, note: str = "") -> None:
        print(f"{label:<36}{ours!s:>4}{theirs!s:>12}{note}")

    def types(key: str) -> str:
        return f"  ({', '.join(str(r[key]).split(','))})" if r[key] else ""

    print()
    print(f"{'RFC 4475 corpus':<36}{'ours':>4}{'sipmessage':>12}")
    row(
        f"valid accepted (of {r['rfc4475_valid_total']})",
        r["ours_rfc4475_valid_ok"],
        r["sipmessage_rfc4475_valid_ok"],
    )
    row(
        f"invalid rejected (of {r['rfc4475_invalid_total']})",
        r["ours_rfc4475_invalid_rejected"],
        r["sipmessage_rfc4475_invalid_rejected"],
    )
    row(
        "foreign exceptions (corpus)",
        r["ours_rfc4475_foreign_exceptions"],
        r["sipmessage_rfc4475_foreign_exceptions"],
        types("sipmessage_rfc4475_foreign_exception_types"),
    )
    row(
        f"foreign exceptions ({n_mut} mutations)",
        r["ours_mutation_foreign_exceptions"],
        r["sipmessage_mutation_foreign_exceptions"],
        types("sipmessage_mutation_foreign_exception_types"),
    )
    if r["ours_rfc4475_valid_rejected_with_semantic_400"]:
        names = str(r["ours_rfc4475_valid_rejected_with_semantic_400_names"]).replace(",", ", ")
        print(
            f"\nours rejects {r['ours_rfc4475_valid_rejected_with_semantic_400']} valid messages"
            f" with their semantic status 400 ({names})"
        )
    if r["ours_rfc4475_foreign_exceptions"] or r["ours_mutation_foreign_exceptions"]:
        print("WARNING: our parser raised something other than SipParseError", file=sys.stderr)

    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
