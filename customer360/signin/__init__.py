"""Sign-in and sessions: lockout (django-axes), the TOTP second factor (django-otp) with a policy per
role, password change and reset, and the absolute and idle limits of a session."""
