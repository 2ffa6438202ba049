"""Data subject rights: what the company holds about a person (export, Art. 15/20), erasing it
(Art. 17) and keeping an erased person out (the suppression list).

Every app contributes its part through :data:`customer360.privacy.registry.subject_data`, the way
apps register panels, so the core never imports a department app and a new app cannot forget to
(tests/privacy/test_registry.py walks the models with a customer key and fails on a gap).
"""
