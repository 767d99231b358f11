"""A self-signed TLS certificate for ``xtalk-server --tls-self-signed``.

Browsers allow the microphone only on https origins (or localhost), so a phone on the LAN
needs TLS. The certificate is generated once (ECDSA P-256, valid for 397 days) into
``platformdirs.user_data_dir("xtalk")/tls`` and reused across restarts while it is valid
for at least :data:`RENEW_BEFORE` and names every host asked for (``localhost``, the
loopback addresses and the LAN address); otherwise a new one replaces it. Clients verify
it by its SHA-256 fingerprint, which the server prints at start.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

logger = logging.getLogger(__name__)

CERT_FILENAME = "xtalk-self-signed.crt"
KEY_FILENAME = "xtalk-self-signed.key"
VALIDITY = dt.timedelta(days=397)
RENEW_BEFORE = dt.timedelta(days=30)
LOCAL_NAMES = ("localhost",)
LOCAL_ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class SelfSignedCertificate:
    cert_path: Path
    key_path: Path
    fingerprint: str  # SHA-256 of the DER certificate, "AB:CD:..."
    created: bool  # generated now (False: reused)
    hosts: tuple[str, ...]  # the names and addresses it is valid for


def default_directory() -> Path:
    return Path(platformdirs.user_data_dir("xtalk")) / "tls"


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _wanted_hosts(extra_hosts: tuple[str, ...]) -> tuple[str, ...]:
    hosts = [*LOCAL_NAMES, *LOCAL_ADDRESSES]
    for host in extra_hosts:
        host = host.strip().strip("[]").lower()
        if host and host not in ("0.0.0.0", "::") and host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def _san_entries(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return entries


def _covered_hosts(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return ({str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
            | {name.lower() for name in san.get_values_for_type(x509.DNSName)})


def _reusable(cert_path: Path, key_path: Path, hosts: tuple[str, ...]) -> x509.Certificate | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        return None
    if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < RENEW_BEFORE:
        return None
    wanted = {str(ipaddress.ip_address(h)) if _is_ip(h) else h for h in hosts}
    if not wanted <= _covered_hosts(cert):
        return None
    return cert


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _generate(hosts: tuple[str, ...]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Xtalk server (self-signed)")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def ensure_self_signed(directory: Path | None = None, *, hosts: tuple[str, ...] = ()
                       ) -> SelfSignedCertificate:
    """The stored self-signed certificate, generated (or replaced) when needed.

    Args:
        directory: Where the certificate and key live (default :func:`default_directory`).
        hosts: Names / addresses it must be valid for besides localhost and loopback
            (e.g. the LAN address).
    """
    directory = Path(directory) if directory is not None else default_directory()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = directory / CERT_FILENAME, directory / KEY_FILENAME
    wanted = _wanted_hosts(tuple(hosts))
    cert = _reusable(cert_path, key_path, wanted)
    created = cert is None
    if cert is None:
        cert, key = _generate(wanted)
        _write_private(key_path, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        logger.info("generated a self-signed TLS certificate in %s", directory)
    return SelfSignedCertificate(cert_path=cert_path, key_path=key_path,
                                 fingerprint=fingerprint(cert), created=created,
                                 hosts=tuple(sorted(_covered_hosts(cert))))
