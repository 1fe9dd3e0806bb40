"""The codec interface: numpy int16 frames in, RTP payload bytes out, and back.

One `Encoder` and one `Decoder` per stream direction: G.711 is stateless, but G.729
and packet-loss concealment keep state between packets, so every channel gets its own
objects from `media.codecs.registry`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]  # 8 kHz mono linear samples


class Encoder(Protocol):
    name: str  # the encoding name as in a=rtpmap: "PCMU", "PCMA", "G729"

    def encode(self, pcm: Pcm) -> bytes:
        """Samples (a multiple of the codec's frame: 1 for G.711, 80 for G.729) -> payload."""
        ...


class Decoder(Protocol):
    name: str

    def decode(self, payload: bytes) -> Pcm:
        """One RTP payload -> its samples. Malformed payloads raise `CodecError`."""
        ...

    def conceal(self, samples: int) -> Pcm:
        """Samples to play in place of a lost packet of `samples` (packet-loss
        concealment), continuing from what was decoded last."""
        ...
