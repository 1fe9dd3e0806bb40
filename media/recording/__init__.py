"""Call recording: two legs aligned into a crash-safe WAV, indexed in SQLite, exported.

Modules: `aligner` (sans-I/O leg alignment; read its docstring first), `wavfile`
(append-only WAV, header repair), `writer` (a recording in progress, repair at start),
`index` (SQLite metadata, search, tags, retention), `export` (MP3, ZIP), `policy`
(who is recorded).
"""

from media.recording.aligner import StereoAligner
from media.recording.export import export_mp3, export_zip, mp3_chunks
from media.recording.index import RecordingIndex, RecordingInfo
from media.recording.policy import RecordingConfig, RecordingDecision, RecordingPolicy
from media.recording.wavfile import RecordingError, WavRepair, repair_wav
from media.recording.writer import RecordingWriter, mix_to_mono, repair_recordings

__all__ = [
    "RecordingConfig", "RecordingDecision", "RecordingError", "RecordingIndex",
    "RecordingInfo", "RecordingPolicy", "RecordingWriter", "StereoAligner", "WavRepair",
    "export_mp3", "export_zip", "mix_to_mono", "mp3_chunks", "repair_recordings",
    "repair_wav",
]
