"""A keystore cannot make the server derive keys for minutes: the work it asks for is capped before any is done.

Each hostile file below is what an attacker uploads; before the caps each one kept a CPU busy for seconds (the
maximum counts for minutes) before the answer came.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import pkcs12
from jks import sun_crypto

from certvault.crypto import pbe
from certvault.crypto.pbe import MAX_ITERATIONS, MAX_TOTAL
from certvault.crypto.readers import read_bundle
from certvault.errors import InvalidInput
from tests.certificates.factory import make_ca, make_leaf
from tests.crypto.asn1 import elements, explicit, integer, octets, oid, pbes2, pbes2_encrypt, pbmac1, seq, tlv, value

CA = make_ca()
LEAF = make_leaf(CA, "www.example.com")
DATA, ENCRYPTED_DATA, SHROUDED_KEY_BAG = "1.2.840.113549.1.7.1", "1.2.840.113549.1.7.6", "1.2.840.113549.1.12.10.1.2"
SPENT: list[int] = []  # the work of every key derivation that actually ran (iterations, or scrypt's N·r·p)


@pytest.fixture(autouse=True)
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record each derivation certvault (or pyjks for it) runs, so a test sees that the refused one never did."""
    SPENT.clear()

    pbkdf2 = pbe.PBKDF2HMAC

    def counted_pbkdf2(algorithm: Any, length: int, salt: bytes, iterations: int) -> Any:
        SPENT.append(iterations)
        return pbkdf2(algorithm, length, salt, iterations)

    def scrypt(*, salt: bytes, length: int, n: int, r: int, p: int) -> object:
        SPENT.append(n * r * p)
        return Scrypt(salt=salt, length=length, n=n, r=r, p=p)

    def counted(function: Any, position: int) -> Any:
        def run(*args: Any) -> Any:
            SPENT.append(args[position])
            return function(*args)
        return run

    monkeypatch.setattr(pbe, "PBKDF2HMAC", counted_pbkdf2)
    monkeypatch.setattr(pbe, "Scrypt", scrypt)
    monkeypatch.setattr(pbe, "pkcs12_kdf", counted(pbe.pkcs12_kdf, 3))
    monkeypatch.setattr(sun_crypto, "jce_pbe_decrypt", counted(sun_crypto.jce_pbe_decrypt, 3))
    return SPENT


def refused(data: bytes, password: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        read_bundle(data, "evil.p12", password)
    assert all(work <= MAX_ITERATIONS for work in SPENT), SPENT  # the capped derivation never started


def openssl_p12(tmp_path: Path, *options: str) -> bytes:
    (tmp_path / "in.pem").write_bytes(LEAF.pem + LEAF.key_pem)
    out = tmp_path / "out.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-in", str(tmp_path / "in.pem"), "-passout", "pass:pw",
                    "-out", str(out), *options], check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def test_mac_iteration_count_of_8_million_is_refused_at_once() -> None:
    """The file from the report: a 3 KB PKCS#12 whose MAC iteration count was set to 8,000,000."""
    good = pkcs12.serialize_key_and_certificates(b"www", LEAF.key, LEAF.cert, None,
                                                 serialization.BestAvailableEncryption(b"pw"))
    version, auth_safe, mac = elements(good)
    digest, salt, _count = elements(mac)
    evil = seq(version, auth_safe, seq(digest, salt, integer(8_000_000)))
    refused(evil, "pw", r"^evil.p12: PKCS#12 MAC iteration count 8,000,000 exceeds the maximum 1,000,000$")


def test_pbkdf2_iterations_of_the_bags_are_capped() -> None:
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(MAX_ITERATIONS + 1)
                  .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
                  .build(b"pw"))
    evil = pkcs12.serialize_key_and_certificates(b"www", LEAF.key, LEAF.cert, None, encryption)
    refused(evil, "pw", r"PBKDF2 iteration count 1,000,001 exceeds the maximum 1,000,000$")


def test_a_key_hidden_inside_an_encrypted_part_is_seen_and_refused() -> None:
    """A shrouded key asking for 8,000,000 rounds inside a cheap encrypted part (no MAC): the library opens the
    part and derives the key's 8,000,000 rounds; certvault opens the part first and looks."""
    key_algorithm = pbes2(8_000_000, os.urandom(16), os.urandom(16))
    bag = seq(oid(SHROUDED_KEY_BAG), explicit(0, seq(key_algorithm, octets(os.urandom(64)))))
    algorithm, ciphertext = pbes2_encrypt(seq(bag), b"pw", 2048)
    content = seq(oid(ENCRYPTED_DATA), explicit(0, seq(integer(0), seq(oid(DATA), algorithm, tlv(0x80, ciphertext)))))
    evil = seq(integer(3), seq(oid(DATA), explicit(0, octets(seq(content)))))
    refused(evil, "pw", r"^evil.p12: PKCS#12 key PBKDF2 iteration count 8,000,000 exceeds the maximum 1,000,000$")


def test_encrypted_pem_keys_are_capped_one_by_one_and_in_all(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(LEAF.key_pem)

    def pkcs8(iterations: int) -> bytes:
        return subprocess.run(["openssl", "pkcs8", "-topk8", "-in", str(tmp_path / "key.pem"), "-v2", "aes256",
                               "-v2prf", "hmacWithSHA256", "-iter", str(iterations), "-passout", "pass:pw"],
                              check=True, capture_output=True, timeout=60).stdout

    one = pkcs8(MAX_ITERATIONS)
    assert len(read_bundle(LEAF.pem + one, "ok.pem", "pw").keys) == 1  # at the cap: still read
    refused(LEAF.pem + pkcs8(2_000_000), "pw", r"encrypted private key PBKDF2 iteration count 2,000,000 exceeds")
    many = LEAF.pem + one * (MAX_TOTAL // MAX_ITERATIONS + 1)  # each allowed, together too much
    refused(many, "pw", r"^evil.p12: the file asks for more than 5,000,000 key-derivation iterations in all$")


def test_scrypt_cost_is_capped(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(LEAF.key_pem)
    pem = subprocess.run(["openssl", "pkcs8", "-topk8", "-in", str(tmp_path / "key.pem"), "-scrypt", "-passout",
                          "pass:pw"], check=True, capture_output=True, timeout=60).stdout
    assert len(read_bundle(LEAF.pem + pem, "scrypt.pem", "pw").keys) == 1  # OpenSSL's N=16384, r=8, p=1
    algorithm, encrypted = elements(base64.b64decode(b"".join(pem.splitlines()[1:-1])))
    pbes2_oid, params = elements(algorithm)
    kdf, scheme = elements(params)
    kdf_oid, kdf_params = elements(kdf)
    salt, _n, r, p, *rest = elements(kdf_params)
    evil = seq(seq(pbes2_oid, seq(seq(kdf_oid, seq(salt, integer(1 << 20), r, p, *rest)), scheme)), encrypted)
    text = base64.b64encode(evil)
    evil_pem = b"\n".join([b"-----BEGIN ENCRYPTED PRIVATE KEY-----", *[text[i:i + 64] for i in range(0, len(text), 64)],
                           b"-----END ENCRYPTED PRIVATE KEY-----", b""])
    refused(LEAF.pem + evil_pem, "pw", r"scrypt cost N·r·p 8,388,608 exceeds the maximum 262,144$")


def test_jceks_key_rounds_are_capped_before_pyjks_spends_them(tmp_path: Path) -> None:
    p12 = tmp_path / "in.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"www", LEAF.key, LEAF.cert, None,
                                                          serialization.BestAvailableEncryption(b"changeit")))
    store = tmp_path / "evil.jceks"
    subprocess.run(["keytool", "-J-Djdk.jceks.iterationCount=2000000", "-importkeystore", "-noprompt",
                    "-srckeystore", str(p12), "-srcstoretype", "PKCS12", "-srcstorepass", "changeit",
                    "-destkeystore", str(store), "-deststoretype", "JCEKS", "-deststorepass", "changeit"],
                   check=True, capture_output=True, timeout=120)
    with pytest.raises(InvalidInput, match=r"^evil.jceks: JCEKS key iteration count 2,000,000 exceeds the max"):
        read_bundle(store.read_bytes(), "evil.jceks", "changeit")
    assert SPENT == []  # pyjks never started on the key
    with pytest.raises(InvalidInput, match=r"wrong password for the JKS keystore"):  # no key work without it
        read_bundle(store.read_bytes(), "evil.jceks", "not-the-password")


@pytest.mark.parametrize("options", [
    (), ("-legacy",), ("-legacy", "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES"),
    ("-legacy", "-certpbe", "PBE-SHA1-RC2-128", "-keypbe", "PBE-SHA1-2DES"),
    ("-legacy", "-certpbe", "PBE-SHA1-RC4-128", "-keypbe", "PBE-SHA1-RC4-40"),
    ("-certpbe", "aes-128-cbc", "-keypbe", "des-ede3-cbc", "-macalg", "sha512"), ("-nomac",),
    ("-certpbe", "NONE"), ("-iter", "100000"),
], ids=lambda o: " ".join(o) or "default")
def test_real_keystores_still_import(tmp_path: Path, options: tuple[str, ...]) -> None:
    """What OpenSSL writes today and wrote before (RC2-40, 3DES, RC4, no MAC ...) opens as before."""
    data = openssl_p12(tmp_path, *options)
    bundle = read_bundle(data, "real.p12", "pw")
    assert len(bundle.certificates) == 1 and len(bundle.keys) == 1
    with pytest.raises(InvalidInput, match=r"^real.p12: wrong password for the PKCS#12 keystore"):
        read_bundle(data, "real.p12", "wrong")
    with pytest.raises(InvalidInput, match=r"^real.p12: is a PKCS#12 keystore; give its password"):
        read_bundle(data, "real.p12")


def test_pbmac1_and_ber_keystores_are_read(tmp_path: Path) -> None:
    """RFC 9579's PBMAC1 (OpenSSL 3.4+), and BER's indefinite lengths and chunked strings (older tools)."""
    version, auth_safe, _mac = elements(openssl_p12(tmp_path))
    _data, wrapped = elements(auth_safe)
    signed = value(elements(wrapped)[0])  # the authenticated safe, what the MAC covers
    assert len(read_bundle(seq(version, auth_safe, pbmac1(signed, b"pw", 2048)), "pbmac1.p12", "pw").keys) == 1
    with pytest.raises(InvalidInput, match=r"^x.p12: wrong password for the PKCS#12 keystore"):
        read_bundle(seq(version, auth_safe, pbmac1(signed, b"other", 2048)), "x.p12", "pw")
    refused(seq(version, auth_safe, pbmac1(signed, b"pw", 1_000_001)), "pw",
            r"^evil.p12: PKCS#12 MAC PBKDF2 iteration count 1,000,001 exceeds the maximum 1,000,000$")
    chunked = tlv(0x24, b"".join(octets(signed[i:i + 100]) for i in range(0, len(signed), 100)))
    eoc = b"\x00\x00"
    ber = b"\x30\x80" + version + b"\x30\x80" + oid(DATA) + b"\xa0\x80" + chunked + eoc + eoc + eoc
    assert len(read_bundle(ber, "ber.p12", "pw").keys) == 1  # (no MAC: opened with the password all the same)


def test_java_pkcs12_and_an_empty_password_still_import(tmp_path: Path) -> None:
    p12 = tmp_path / "in.p12"
    p12.write_bytes(openssl_p12(tmp_path))
    java = tmp_path / "java.p12"
    subprocess.run(["keytool", "-importkeystore", "-noprompt", "-srckeystore", str(p12), "-srcstoretype", "PKCS12",
                    "-srcstorepass", "pw", "-destkeystore", str(java), "-deststoretype", "PKCS12",
                    "-deststorepass", "changeit"], check=True, capture_output=True, timeout=120)
    assert len(read_bundle(java.read_bytes(), "java.p12", "changeit").keys) == 1
    empty = subprocess.run(["openssl", "pkcs12", "-export", "-in", str(tmp_path / "in.pem"), "-passout", "pass:"],
                           check=True, capture_output=True, timeout=60).stdout
    assert len(read_bundle(empty, "empty.p12").keys) == 1
