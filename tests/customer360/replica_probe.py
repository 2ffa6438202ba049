"""Run by test_replica.py in a process of its own, with DATABASE_URL and DATABASE_REPLICA_URL both set.

Opens pages as the given user with Django's test client and prints, per page, its status and how many
SQL statements went to each alias (JSON on stdout). Not a test module itself.
"""

import json
import os
import sys

import django

sys.path.insert(0, os.getcwd())
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402

counts = {"default": 0, "replica": 0}


def counter(alias):
    def wrapper(execute, sql, params, many, context):
        counts[alias] += 1
        return execute(sql, params, many, context)

    return wrapper


def probe(client, url):
    counts.update(default=0, replica=0)
    with (
        connections["default"].execute_wrapper(counter("default")),
        connections["replica"].execute_wrapper(counter("replica")),
    ):
        response = client.get(url, HTTP_HOST="localhost")
    return {"status": response.status_code, **counts}


user = get_user_model().objects.get(username=sys.argv[1])
client = Client()
client.force_login(user)
print(json.dumps({url: probe(client, url) for url in sys.argv[2:]}))
