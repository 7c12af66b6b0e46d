"""Tests that only the software (MbedCrypto) provider can run: its store, config and Mbed-specific rules."""
