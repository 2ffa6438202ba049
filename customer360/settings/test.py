"""Settings for the test suite: the same as base, with fast hashing and a private var dir."""

import os
import tempfile

os.environ.setdefault("C360_VAR_DIR", tempfile.mkdtemp(prefix="c360-test-"))

from customer360.settings.base import *  # noqa: E402,F403
from customer360.settings.base import (  # noqa: E402
    CACHES,
    IS_POSTGRES,
    REDIS_URL,
    REST_FRAMEWORK,
    STATIC_ROOT,
)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_STORE_EAGER_RESULT = False
# Tests must not share a cache with a running app; Redis gets a key prefix of its own.
if REDIS_URL:
    CACHES["default"]["KEY_PREFIX"] = "c360test"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The suite sends many API requests as the same user from one address; tests of the rate limits
# set small rates themselves.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "en"
TEST_USES_POSTGRES = IS_POSTGRES

# whitenoise looks for STATIC_ROOT at start; the tests serve static files through the finders.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
