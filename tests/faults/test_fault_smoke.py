import pytest
import requests

@pytest.mark.slow
def test_stack(stack):
    with stack.gunicorn() as base:
        r = requests.get(base + "/health/?format=json", timeout=10)
        print(r.status_code, r.text)
