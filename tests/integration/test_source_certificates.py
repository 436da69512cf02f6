"""``certificates`` against real files: DER, PEM, PKCS#12; Apple Pay recognised; renewal; bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from sqlalchemy import Engine

from payoutwatch.metrics import compute
from payoutwatch.usecases.syncing import source_listing, sync_source
from tests.certs import make_certificate, write
from tests.conftest import make_settings, utc

NOW = utc(2026, 4, 17, 12)


def test_certificate_files_become_credentials_due_at_not_after(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P12_PASSWORD", "hunter2-p12")
    processing, key = make_certificate(
        "Apple Pay Payment Processing:merchant.com.example", utc(2024, 4, 1), utc(2026, 5, 1)
    )
    write(tmp_path / "apple_pay.cer", processing, key)
    identity, key2 = make_certificate("Merchant ID: merchant.com.example", utc(2025, 1, 1), utc(2027, 2, 1))
    write(tmp_path / "merchant_id.pem", identity, key2)
    tls, key3 = make_certificate("payouts.example.com", utc(2026, 1, 1), utc(2026, 4, 25))
    write(tmp_path / "bundle.p12", tls, key3, password="hunter2-p12")
    settings = make_settings(
        sources={
            "certs": {
                "type": "certificates",
                "owner": "security",
                "paths": [
                    str(tmp_path / "*.cer"),
                    str(tmp_path / "*.pem"),
                    {
                        "path": str(tmp_path / "bundle.p12"),
                        "password_env": "P12_PASSWORD",
                        "owner": "platform",
                        "credential_id": "payouts-tls",
                    },
                ],
            }
        }
    )
    result = sync_source(store, settings, "certs", now=lambda: NOW)
    assert result.ok and result.counts == {"credentials": 3}, result.error
    with store.connect() as conn:
        rows = {c["credential_id"]: c for c in compute("credentials", conn, NOW, settings)["credentials"]}
    assert rows["apple_pay"]["kind"] == "apple_pay_certificate"
    assert (rows["apple_pay"]["due_at"], rows["apple_pay"]["days_left"], rows["apple_pay"]["stage"]) == (
        "2026-05-01T00:00:00Z",
        13,
        "14d",
    )
    assert rows["apple_pay"]["fingerprint"] == processing.fingerprint(hashes.SHA256()).hex()
    assert rows["merchant_id"]["kind"] == "apple_pay_certificate" and rows["merchant_id"]["owner"] == "security"
    assert (rows["payouts-tls"]["kind"], rows["payouts-tls"]["owner"], rows["payouts-tls"]["stage"]) == (
        "other",
        "platform",
        "7d",
    )


def test_a_renewed_file_is_a_new_version_in_force(store: Engine, tmp_path: Path) -> None:
    settings = make_settings(sources={"certs": {"type": "certificates", "paths": [str(tmp_path / "*.cer")]}})
    old, key = make_certificate("Apple Pay Payment Processing:merchant.x", utc(2024, 4, 1), utc(2026, 5, 1))
    write(tmp_path / "apple_pay.cer", old, key)
    assert sync_source(store, settings, "certs", now=lambda: NOW).ok
    new, key = make_certificate("Apple Pay Payment Processing:merchant.x", utc(2026, 4, 16), utc(2028, 5, 16))
    write(tmp_path / "apple_pay.cer", new, key)
    assert sync_source(store, settings, "certs", now=lambda: NOW).ok
    with store.connect() as conn:
        [row] = compute("credentials", conn, NOW, settings)["credentials"]
        [before] = compute("credentials", conn, utc(2026, 4, 10), settings)["credentials"]
    assert (row["due_at"], row["stage"]) == ("2028-05-16T00:00:00Z", "ok")
    assert before["due_at"] == "2026-05-01T00:00:00Z"


def test_bad_files_and_passwords_fail_clearly_without_the_password(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P12_PASSWORD", "wrong-password-value")
    cert, key = make_certificate("x", utc(2026, 1, 1), utc(2027, 1, 1))
    write(tmp_path / "b.p12", cert, key, password="right")
    settings = make_settings(
        sources={
            "certs": {
                "type": "certificates",
                "paths": [{"path": str(tmp_path / "b.p12"), "password_env": "P12_PASSWORD"}],
            }
        }
    )
    result = sync_source(store, settings, "certs", now=lambda: NOW)
    assert "not a PKCS#12 file, or the password is wrong" in str(result.error)
    assert "wrong-password-value" not in str(result.error)
    (tmp_path / "junk.cer").write_bytes(b"not a certificate")
    junk = make_settings(sources={"certs": {"type": "certificates", "paths": [str(tmp_path / "junk.cer")]}})
    assert "not a DER, PEM or PKCS#12 certificate" in str(sync_source(store, junk, "certs", now=lambda: NOW).error)
    missing = make_settings(sources={"certs": {"type": "certificates", "paths": [str(tmp_path / "gone.pem")]}})
    assert "not found" in str(sync_source(store, missing, "certs", now=lambda: NOW).error)


def test_one_unreadable_file_in_a_glob_is_reported_by_name_and_the_others_are_stored(
    store: Engine, tmp_path: Path
) -> None:
    good, key = make_certificate("Apple Pay Payment Processing:merchant.y", utc(2025, 1, 1), utc(2027, 2, 1))
    write(tmp_path / "apple_pay.cer", good, key)
    other, key2 = make_certificate("Merchant ID: merchant.y", utc(2025, 1, 1), utc(2027, 3, 1))
    write(tmp_path / "merchant_id.cer", other, key2)
    (tmp_path / "truncated.cer").write_bytes(b"\x30\x82\x01")  # the start of a DER sequence, cut short
    settings = make_settings(sources={"certs": {"type": "certificates", "paths": [str(tmp_path / "*.cer")]}})
    result = sync_source(store, settings, "certs", now=lambda: NOW)
    assert result.ok and result.counts == {"credentials": 2}, result.error
    assert result.warnings == [f"{tmp_path / 'truncated.cer'}: not a DER, PEM or PKCS#12 certificate"]
    with store.connect() as conn:
        ids = {c["credential_id"] for c in compute("credentials", conn, NOW, settings)["credentials"]}
    assert ids == {"apple_pay", "merchant_id"}
    [listed] = source_listing(store, settings)
    assert listed["state"] == "ok" and listed["warnings"] == result.warnings
    (tmp_path / "truncated.cer").unlink()
    assert sync_source(store, settings, "certs", now=lambda: NOW).warnings == []
    [listed] = source_listing(store, settings)
    assert listed["warnings"] == []  # the warning goes once the file is fixed


def test_sync_and_sources_print_the_unreadable_file(tmp_path: Path) -> None:
    import yaml
    from typer.testing import CliRunner

    from payoutwatch.cli import app

    good, key = make_certificate("Merchant ID: merchant.z", utc(2025, 1, 1), utc(2027, 3, 1))
    write(tmp_path / "merchant_id.cer", good, key)
    (tmp_path / "empty.cer").write_bytes(b"")
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"},
                "schedule": {"start": "2026-03-05"},
                "sources": {"certs": {"type": "certificates", "paths": [str(tmp_path / "*.cer")]}},
            }
        )
    )
    runner = CliRunner()
    synced = runner.invoke(app, ["--config", str(config), "sync"])
    assert synced.exit_code == 0 and "certs: ok, 1 credentials" in synced.output, synced.output
    assert f"certs: warning: {tmp_path / 'empty.cer'}: not a DER" in synced.output
    listed = runner.invoke(app, ["--config", str(config), "sources"])
    assert listed.exit_code == 0 and f"certs: warning: {tmp_path / 'empty.cer'}: not a DER" in listed.output
