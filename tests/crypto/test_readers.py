"""Every supported file format is read, and every kind of bad input is refused with a clear message."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from hypothesis import given, settings
from hypothesis import strategies as st

from certvault.crypto import jks_codec, x509info
from certvault.crypto.readers import MAX_BYTES, read_bundle
from certvault.errors import InvalidInput, TooLarge
from tests.certificates.factory import make_ca, make_leaf

OID_DATA = bytes.fromhex("06092a864886f70d010701")
OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
CA = make_ca()
LEAF = make_leaf(CA, "www.example.com", ["www.example.com", "example.com"])


def fingerprints(bundle) -> list[str]:
    return [x509info.fingerprint(c) for c in bundle.certificates]


def test_pem_bundle_with_chain_and_key() -> None:
    bundle = read_bundle(LEAF.pem + CA.pem + LEAF.key_pem, "full.pem")
    assert bundle.format == "pem"
    assert fingerprints(bundle) == [x509info.fingerprint(LEAF.cert), x509info.fingerprint(CA.cert)]
    assert len(bundle.keys) == 1


def test_encrypted_pem_key_needs_the_right_password() -> None:
    encrypted = LEAF.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(b"s3cret"))
    assert len(read_bundle(LEAF.pem + encrypted, "enc.pem", "s3cret").keys) == 1
    with pytest.raises(InvalidInput, match=r"^enc.pem: the private key is encrypted; give its password"):
        read_bundle(LEAF.pem + encrypted, "enc.pem")
    with pytest.raises(InvalidInput, match=r"^enc.pem: wrong password for the private key"):
        read_bundle(LEAF.pem + encrypted, "enc.pem", "nope")


def test_der_and_pkcs7() -> None:
    assert fingerprints(read_bundle(LEAF.der, "leaf.der")) == [x509info.fingerprint(LEAF.cert)]
    p7_der = pkcs7.serialize_certificates([LEAF.cert, CA.cert], serialization.Encoding.DER)
    p7_pem = pkcs7.serialize_certificates([LEAF.cert, CA.cert], serialization.Encoding.PEM)
    assert read_bundle(p7_der, "chain.p7b").format == "pkcs7"
    assert len(read_bundle(p7_der, "chain.p7b").certificates) == 2
    assert len(read_bundle(p7_pem, "chain.p7c").certificates) == 2


def test_pkcs12_with_and_without_password() -> None:
    enc = serialization.BestAvailableEncryption(b"changeit")
    data = pkcs12.serialize_key_and_certificates(b"www", LEAF.key, LEAF.cert, [CA.cert], enc)
    bundle = read_bundle(data, "store.p12", "changeit")
    assert bundle.format == "pkcs12" and len(bundle.certificates) == 2 and len(bundle.keys) == 1
    with pytest.raises(InvalidInput, match=r"^store.p12: is a PKCS#12 keystore; give its password"):
        read_bundle(data, "store.p12")
    with pytest.raises(InvalidInput, match=r"^store.p12: wrong password for the PKCS#12 keystore"):
        read_bundle(data, "store.p12", "wrong")


@pytest.mark.parametrize("storetype", ["JKS", "JCEKS"])
def test_jks_made_by_java_keytool(tmp_path, storetype: str) -> None:
    """A keystore written by the JDK itself, not by our own codec."""
    p12 = tmp_path / "in.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"www", LEAF.key, LEAF.cert, [CA.cert], serialization.BestAvailableEncryption(b"changeit")))
    jks = tmp_path / "out.jks"
    subprocess.run(["keytool", "-importkeystore", "-noprompt", "-srckeystore", str(p12), "-srcstoretype", "PKCS12",
                    "-srcstorepass", "changeit", "-destkeystore", str(jks), "-deststoretype", storetype,
                    "-deststorepass", "changeit"], check=True, capture_output=True, timeout=120)
    bundle = read_bundle(jks.read_bytes(), "java.jks", "changeit")
    assert bundle.format == "jks"
    assert x509info.fingerprint(LEAF.cert) in fingerprints(bundle)
    assert len(bundle.keys) == 1 and x509info.spki_sha256(bundle.keys[0].public_key()) == \
        x509info.spki_sha256(LEAF.cert.public_key())
    with pytest.raises(InvalidInput, match=r"^java.jks: wrong password for the JKS keystore"):  # JCEKS too
        read_bundle(jks.read_bytes(), "java.jks", "wrong-password")
    with pytest.raises(InvalidInput, match=r"^java.jks: is a JKS keystore; give its password"):
        read_bundle(jks.read_bytes(), "java.jks")


def test_jks_round_trip_through_our_codec() -> None:
    data = jks_codec.export("www", LEAF.key, LEAF.cert, [CA.cert], "changeit")
    store = jks_codec.load(data, "changeit", "x.jks")
    assert len(store.keys) == 1 and len(store.certificates) == 2


@pytest.mark.parametrize(("data", "message"), [
    (b"", "file is empty"),
    (b"   \n", "file is empty"),
    (b"hello world, not a certificate", "not a certificate file"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM certificate #1 is corrupt"),
    (b"-----BEGIN CERTIFICATE-----\nMIIB", "no complete PEM block"),
    (b"0\x82\x01\x00garbage", "not a readable certificate"),
])
def test_corrupt_input_is_named(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        read_bundle(data, "bad.pem")
    assert info.value.message.startswith("bad.pem: ") and message in info.value.message
    assert "\n" not in info.value.message


def test_a_csr_is_not_a_certificate() -> None:
    from cryptography import x509

    csr = (x509.CertificateSigningRequestBuilder().subject_name(LEAF.cert.subject)
           .sign(LEAF.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    with pytest.raises(InvalidInput, match="contains a certificate request, not a certificate"):
        read_bundle(csr, "req.csr")


def test_huge_input_is_refused() -> None:
    with pytest.raises(TooLarge, match=r"^big.pem: file is 10.0 MB; the limit is 10 MB"):
        read_bundle(b"x" * (MAX_BYTES + 1), "big.pem")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2048), password=st.one_of(st.none(), st.text(max_size=8)))
def test_random_bytes_never_crash_any_reader(data: bytes, password: str | None) -> None:
    """Every format's entry point: plain, PEM-looking, DER-looking, PKCS#12-looking and JKS-looking."""
    for candidate in (data, b"-----BEGIN CERTIFICATE-----\n" + data + b"\n-----END CERTIFICATE-----\n",
                      b"-----BEGIN PKCS7-----\n" + data + b"\n-----END PKCS7-----\n",
                      b"0\x82" + data, b"0\x82\x05\x00\x02\x01\x030\x82\x01\x00" + OID_DATA + data,
                      b"0\x82\x05\x00" + OID_SIGNED_DATA + data, b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + data,
                      b"\xce\xce\xce\xce" + data):
        try:
            read_bundle(candidate, "fuzz.bin", password)
        except (InvalidInput, TooLarge) as exc:
            assert exc.message.startswith("fuzz.bin: ")
