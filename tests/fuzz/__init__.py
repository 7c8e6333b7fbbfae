"""The fuzzing harness (hypothesis) over every registered parser and the syslog framing.

``tests/test_fuzz_*.py`` run it briefly (profile ``ci``); ``python benchmarks/fuzz.py`` runs the
same strategies for much longer. See :mod:`tests.fuzz.harness`.
"""
