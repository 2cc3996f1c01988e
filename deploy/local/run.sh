#!/usr/bin/env bash
# `make run`: start the infrastructure (unless given) and every service of the platform in
# the foreground, print where they answer and the credentials to use. Ctrl-C stops all of
# it: the services, then the servers this script started (never ones it found running).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
INFRA=deploy/local/infra.sh
PY=.venv/bin/python
LOGS="$ROOT/.local/logs"
mkdir -p "$LOGS"

# name:port of each service; a service not yet in this checkout is skipped.
ALL_SERVICES=(console:8000 intake:8001 escalation:8002 followup:8003 satisfaction:8004 notify:8005 ledger:8006)
CHANNELS=(web hotline email counter feedback_card callback_visit letter)

secret() { $PY -c 'import secrets; print(secrets.token_urlsafe(18))'; }

# Remember what was already running: Ctrl-C stops only what this command started.
status=$($INFRA status)
started_kafka=0 started_pg=0
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] && [[ $status != *"kafka: running"* ]]; then started_kafka=1; fi
if [[ $status != *"postgres: running"* ]]; then started_pg=1; fi

pids=()
stop_all() {
    trap - INT TERM EXIT
    echo
    echo "stopping..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    ((started_kafka)) && $INFRA kafka-down
    ((started_pg)) && $INFRA pg-down
    echo "stopped."
}
trap stop_all INT TERM EXIT

$INFRA up
set -a
eval "$($INFRA env)"
set +a
$PY -m shared.messaging.admin

if [ -z "${INTAKE_API_KEYS:-}" ]; then
    keys=()
    for channel in "${CHANNELS[@]}"; do keys+=("$channel:dev-$channel-$(secret)"); done
    INTAKE_API_KEYS=$(IFS=,; echo "${keys[*]}")
    export INTAKE_API_KEYS
    generated_keys=1
fi
# Who may use the ops APIs: unless an identity provider is configured, the development issuer
# (python -m shared.dev_issuer: a key pair in .local/dev-issuer/, its JWKS on 127.0.0.1:8009)
# signs tokens for the demo staff of deploy/local/staff.yaml.
# It is also the OpenID Connect provider the console signs staff in with: its sign-in page
# lists the demo staff, and the console is registered with it as a client.
CONSOLE_URL=http://127.0.0.1:${CONSOLE_PORT:-8000}
if [ -z "${AUTH_JWKS_URL:-}${AUTH_PUBLIC_KEY_FILE:-}" ]; then
    ISSUER_PORT=${DEV_ISSUER_PORT:-8009}
    export AUTH_ISSUER=http://127.0.0.1:$ISSUER_PORT AUTH_AUDIENCE=${AUTH_AUDIENCE:-complaint-platform}
    export AUTH_JWKS_URL=http://127.0.0.1:$ISSUER_PORT/.well-known/jwks.json
    export CONSOLE_OIDC_ISSUER=$AUTH_ISSUER CONSOLE_OIDC_CLIENT_ID=console
    export CONSOLE_OIDC_CLIENT_SECRET=${CONSOLE_OIDC_CLIENT_SECRET:-dev-console-$(secret)}
    export CONSOLE_OIDC_REDIRECT_URL=$CONSOLE_URL/auth/callback
    export CONSOLE_OIDC_PROVIDER_NAME=${CONSOLE_OIDC_PROVIDER_NAME:-the development provider}
    $PY -m shared.dev_issuer keys
    DEV_ISSUER_CLIENT_SECRET=$CONSOLE_OIDC_CLIENT_SECRET DEV_ISSUER_REDIRECT_URIS=$CONSOLE_OIDC_REDIRECT_URL \
        $PY -m shared.dev_issuer serve --port "$ISSUER_PORT" >"$LOGS/dev-issuer.log" 2>&1 &
    pids+=($!)
    dev_issuer=1
fi

# Notify's mail catcher: an SMTP server writing every mail to .local/mail/ as .eml files,
# and a receiver writing webhooks (the demo directory's, on :8026) and texts to .local/mail/hooks/.
MAIL_PORT=${MAIL_CATCHER_PORT:-8025} HOOKS_PORT=${HOOKS_CATCHER_PORT:-8026}
if [ -f services/notify/mailcatcher.py ] && [ -z "${NOTIFY_SMTP_HOST:-}" ]; then
    $PY -m services.notify.mailcatcher --port "$MAIL_PORT" --hooks-port "$HOOKS_PORT" \
        --dir "$ROOT/.local/mail" >"$LOGS/mailcatcher.log" 2>&1 &
    pids+=($!)
    export NOTIFY_SMTP_HOST=127.0.0.1 NOTIFY_SMTP_PORT=$MAIL_PORT
    export NOTIFY_SMS_GATEWAY_URL=${NOTIFY_SMS_GATEWAY_URL:-http://127.0.0.1:$HOOKS_PORT/sms}
    mail_catcher="smtp://127.0.0.1:$MAIL_PORT -> .local/mail/ (one .eml file per mail); webhooks and texts -> .local/mail/hooks/"
fi
export NOTIFY_WEBHOOK_SECRET=${NOTIFY_WEBHOOK_SECRET:-dev-webhook-$(secret)}

# The console (services/console) posts as the web channel and is where survey links lead.
export CONSOLE_INTAKE_API_KEY=${CONSOLE_INTAKE_API_KEY:-$(tr ',' '\n' <<<"$INTAKE_API_KEYS" | sed -n 's/^web://p')}
export NOTIFY_SURVEY_LINK_BASE=${NOTIFY_SURVEY_LINK_BASE:-$CONSOLE_URL/surveys/}
export NOTIFY_CUSTOMER_LINK_BASE=${NOTIFY_CUSTOMER_LINK_BASE:-$CONSOLE_URL/c/}
# ... and calls the services where this command starts them (their ports may be moved).
for entry in "${ALL_SERVICES[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    [ "$name" = console ] && continue
    upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
    port_var="${upper}_PORT" url_var="CONSOLE_${upper}_URL"
    export "$url_var=${!url_var:-http://127.0.0.1:${!port_var:-$port}}"
done
running=()
for entry in "${ALL_SERVICES[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    [ -f "services/$name/__main__.py" ] || continue
    upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
    var="${upper}_PORT"
    port=${!var:-$port}
    export "$var=$port"
    $PY -m "services.$name" >"$LOGS/$name.log" 2>&1 &
    pids+=($!)
    running+=("$name:$port")
done

for entry in "${running[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    for _ in $(seq 1 120); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.5
    done
    if ! curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
        echo "  $name did not start; its log:"
        tail -n 30 "$LOGS/$name.log"
        exit 1
    fi
done

# The console first: that is where a newcomer starts.
if [[ " ${running[*]} " == *" console:"* ]]; then
    echo
    echo "==> The console: $CONSOLE_URL"
    if [ -n "${dev_issuer:-}" ]; then
        echo "    Sign in with the development provider and pick a person of the demo staff: Li Wei"
        echo "    (an agent: the front-line queue, where the sample complaint below lands) or Wang Fang"
        echo "    (a supervisor: the overview)."
    fi
    echo "    The complaint form: $CONSOLE_URL/embed/complaint"
fi
echo
for entry in "${running[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    docs="API docs: /docs, "
    [ "$name" = console ] && docs=""
    printf '  %-13s http://127.0.0.1:%s   (%slog: .local/logs/%s.log)\n' "$name" "$port" "$docs" "$name"
done
[ -n "${dev_issuer:-}" ] && printf '  %-13s http://127.0.0.1:%s   (development identity provider, log: .local/logs/dev-issuer.log)\n' "dev-issuer" "$ISSUER_PORT"

echo
echo "Kafka:      $KAFKA_BOOTSTRAP_SERVERS   topics: complaints.intake.v1, complaints.handling.v1, ..."
echo "PostgreSQL: one database per service (see \`$INFRA env\`)"
[ -n "${mail_catcher:-}" ] && echo "Mail:       $mail_catcher"
echo
if [ -n "${generated_keys:-}" ]; then echo "Development API keys (INTAKE_API_KEYS), one per channel:"; else echo "API keys from INTAKE_API_KEYS:"; fi
tr ',' '\n' <<<"$INTAKE_API_KEYS" | sed 's/^/  /'
if [ -n "${dev_issuer:-}" ]; then
    echo "Ops tokens for the demo staff (valid 12 h; more: $PY -m shared.dev_issuer mint <person>),"
    echo "  use as 'Authorization: Bearer <token>':"
    $PY -m shared.dev_issuer staff --plain | while IFS=$'\t' read -r person roles token; do
        printf '  %-15s %-19s %s\n' "$person" "$roles" "$token"
    done
else
    echo "Ops tokens: from your identity provider ($AUTH_ISSUER)"
fi
if [ -n "${OPS_TOKENS:-}" ]; then echo "Development tokens from OPS_TOKENS (person:token):"; tr ',' '\n' <<<"$OPS_TOKENS" | sed 's/^/  /'; fi
web_key=$(tr ',' '\n' <<<"$INTAKE_API_KEYS" | head -n1 | cut -d: -f2-)
cat <<EOF

Try:
  curl -s -X POST http://127.0.0.1:${INTAKE_PORT:-8001}/complaints -H 'X-API-Key: $web_key' \\
       -H 'Content-Type: application/json' \\
       -d '{"customer":{"id":"c-1","name":"李娜","phone":"+86 138 0013 8000","tier":"A"},"category":"product_quality","description":"洗衣机漏水"}'

The console: $CONSOLE_URL
Press Ctrl-C to stop everything this command started.
EOF
wait -n "${pids[@]}" || true
# Ctrl-C reaches the services too (same process group); a crash ends the wait as well.
echo "a service stopped (logs in .local/logs/); stopping the rest"
