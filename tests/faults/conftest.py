from tests.faults.stack import stack  # noqa: F401 - the session fixture of the fault tests
