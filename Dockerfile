# One image for every service; the command picks the service: python -m services.<name>
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
# The demo staff directory; mount the real one and point STAFF_DIRECTORY_FILE at it.
COPY deploy/local/staff.yaml ./deploy/local/staff.yaml
ENV STAFF_DIRECTORY_FILE=/app/deploy/local/staff.yaml
RUN pip install --no-cache-dir . && useradd --system --uid 10001 app
USER app
# Every service binds 0.0.0.0 inside the container; ports: console 8000, intake 8001,
# escalation 8002, followup 8003, satisfaction 8004, notify 8005, ledger 8006.
ENV INTAKE_HOST=0.0.0.0 ESCALATION_HOST=0.0.0.0 FOLLOWUP_HOST=0.0.0.0 SATISFACTION_HOST=0.0.0.0 \
    NOTIFY_HOST=0.0.0.0 LEDGER_HOST=0.0.0.0 CONSOLE_HOST=0.0.0.0
CMD ["python", "-m", "services.intake"]
