"""Tests specific to the real providers: PKCS#11 on SoftHSM2 and TPM 2.0 on swtpm (tests/fixtures/real_parts.py)."""
