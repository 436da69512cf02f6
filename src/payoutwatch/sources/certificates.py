"""``certificates``: X.509 files (DER ``.cer``, PEM, PKCS#12) -> credential versions.

``notAfter`` is the expiry, ``notBefore`` the creation of the version, the SHA-256 fingerprint is
recorded; Apple Pay payment-processing and merchant-identity certificates are recognised from
their subject. Only the certificate is read: a PKCS#12 private key is never kept or shown.

A file that cannot be read as a certificate is reported by name as a warning of the sync (shown by
``payoutwatch sources``) and the other files are still read and stored; only when no file could be
read at all does the sync fail.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase, Strict
from payoutwatch.sources.base import Page, SourceError

APPLE_PAY_MARKERS = ("apple pay payment processing", "merchant id:", "apple pay merchant identity")


class CertificatePath(Strict):
    path: str  # a file or a glob
    kind: str | None = None  # default: recognised from the subject, else `other`
    owner: str | None = None
    password_env: str | None = None  # PKCS#12 password, read from this environment variable
    credential_id: str | None = None  # default: the file name without its extension


class CertificatesSource(SourceBase):
    type: Literal["certificates"]
    paths: list[CertificatePath | str]
    owner: str | None = None

    def entries(self) -> list[CertificatePath]:
        return [p if isinstance(p, CertificatePath) else CertificatePath(path=p) for p in self.paths]


class UnreadableCertificate(SourceError):
    """One file is not a certificate (or its PKCS#12 password is wrong): a problem of that file only."""


def load_certificate(path: Path, password_env: str | None) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableCertificate(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if path.suffix.lower() in (".p12", ".pfx"):
        password = None
        if password_env:
            if password_env not in os.environ:
                raise SourceError(f"{path}: environment variable {password_env} is not set", permanent=True)
            password = os.environ[password_env].encode()
        try:
            _key, cert, _extra = pkcs12.load_key_and_certificates(data, password)
        except ValueError:
            raise UnreadableCertificate(
                f"{path}: not a PKCS#12 file, or the password is wrong", permanent=True
            ) from None
        if cert is None:
            raise UnreadableCertificate(f"{path}: the PKCS#12 file holds no certificate", permanent=True)
        return cert
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)[0]  # the leaf comes first
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise UnreadableCertificate(f"{path}: not a DER, PEM or PKCS#12 certificate", permanent=True) from None


def describe(cert: x509.Certificate) -> tuple[str, bool]:
    """(a readable name, whether it is an Apple Pay certificate)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(names[0].value) if names else cert.subject.rfc4514_string()
    return name, any(marker in name.lower() for marker in APPLE_PAY_MARKERS)


class Certificates:
    def __init__(self, name: str, config: CertificatesSource, settings: Settings) -> None:
        self.name = name
        self.config = config

    def secrets(self) -> list[str]:
        return [
            os.environ[e.password_env] for e in self.config.entries() if e.password_env and e.password_env in os.environ
        ]

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        page = Page()
        for entry in self.config.entries():
            for path in self._files(entry):
                try:
                    page.add("credentials", self._record(entry, path))
                except UnreadableCertificate as exc:
                    page.warnings.append(str(exc))
        if page.warnings and not page.count():
            raise SourceError("no certificate could be read: " + "; ".join(page.warnings), permanent=True)
        yield page

    def _files(self, entry: CertificatePath) -> list[Path]:
        pattern = os.path.expanduser(entry.path)
        matches = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        if not matches and not glob.has_magic(pattern):
            raise SourceError(f"certificate file {pattern} not found", permanent=True)
        return matches

    def _record(self, entry: CertificatePath, path: Path) -> dict[str, Any]:
        cert = load_certificate(path, entry.password_env)
        name, apple_pay = describe(cert)
        kind = entry.kind or ("apple_pay_certificate" if apple_pay else "other")
        record: dict[str, Any] = {
            "credential_id": entry.credential_id or path.stem,
            "created_at": cert.not_valid_before_utc.isoformat(),
            "expires_at": cert.not_valid_after_utc.isoformat(),
            "kind": kind,
            "name": name[:200],
            "source": self.name,
            "fingerprint": cert.fingerprint(hashes.SHA256()).hex(),
        }
        owner = entry.owner or self.config.owner
        if owner:
            record["owner"] = owner
        return record


SOURCE_TYPES.register(CertificatesSource, Certificates)
