FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 C360_ENV=production
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gettext curl && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml requirements.lock README.md ./
COPY customer360 customer360
COPY crm crm
COPY marketing marketing
COPY billing billing
COPY collab collab
COPY insights insights
COPY analytics analytics
COPY templates templates
COPY static static
COPY locale locale
COPY manage.py ./
RUN pip install --no-cache-dir -c requirements.lock . \
 && SECRET_KEY=build-only-key-that-is-long-enough-for-the-settings-check-0123456789 \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput
RUN useradd --create-home c360 && mkdir -p /app/var && chown -R c360 /app/var
USER c360
EXPOSE 8000
CMD ["gunicorn", "customer360.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
