"""Helpers shared by the timestamp tests: running `openssl ts -verify` on a reply, flipping
bytes, decoding replies."""

from __future__ import annotations

import subprocess
from pathlib import Path

from asn1crypto import tsp

from rogatory.timestamp.authority import TSA
from rogatory.timestamp.rfc3161 import TimeStampResp, load_response


def openssl_verify(folder: Path, reply: bytes, digest: bytes, tsa: TSA
                   ) -> subprocess.CompletedProcess[str]:
    """`openssl ts -verify -digest HEX -in token.tsr -CAfile ca.pem -untrusted tsa.pem`."""
    (folder / "token.tsr").write_bytes(reply)
    (folder / "ca.pem").write_bytes(tsa.ca_pem)
    (folder / "tsa.pem").write_bytes(tsa.cert_pem)
    return subprocess.run(
        ["openssl", "ts", "-verify", "-digest", digest.hex(), "-in", "token.tsr",
         "-CAfile", "ca.pem", "-untrusted", "tsa.pem"],
        cwd=folder, capture_output=True, text=True, timeout=60, check=False)


def flip(blob: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= mask
    return bytes(changed)


def decode(reply: bytes) -> TimeStampResp:
    return load_response(reply)


def tst_info(reply: bytes) -> tsp.TSTInfo:
    token = decode(reply)["time_stamp_token"]
    return tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].contents)
