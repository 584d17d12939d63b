"""Test support code shared by test folders (imported as ``tests.support``)."""
