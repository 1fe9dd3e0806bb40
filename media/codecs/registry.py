"""Which codecs the switch can decode and encode, by their SDP encoding name."""

from __future__ import annotations

from media.codecs import g729
from media.codecs.base import Decoder, Encoder
from media.codecs.g711 import G711Decoder, G711Encoder
from media.errors import CodecError

# Encoding names (upper case, as in a=rtpmap) of the voice codecs the media engine can
# convert between, all at 8 kHz.
G711 = ("PCMU", "PCMA")


def transcodable() -> frozenset[str]:
    """Voice codecs the relay can transcode between on this machine."""
    return frozenset((*G711, "G729")) if g729.available() else frozenset(G711)


def encoder(name: str, *, vad: bool = False) -> Encoder:
    key = name.upper()
    if key in G711:
        return G711Encoder(key)
    if key == "G729":
        return g729.G729Encoder(vad=vad)
    raise CodecError(f"no encoder for {name!r}")


def decoder(name: str) -> Decoder:
    key = name.upper()
    if key in G711:
        return G711Decoder(key)
    if key == "G729":
        return g729.G729Decoder()
    raise CodecError(f"no decoder for {name!r}")
