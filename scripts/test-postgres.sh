#!/bin/sh
# Starts Debian's PostgreSQL when it is not running and makes the test
# role and database the case-store tests use (CASES_TEST_POSTGRES_DSN).
set -e
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
  if [ -z "$cluster" ]; then
    echo "no PostgreSQL cluster found (apt-get install postgresql)" >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then pg_ctlcluster $cluster start; else sudo pg_ctlcluster $cluster start; fi
  for i in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
as_postgres psql -q -tc "SELECT 1 FROM pg_roles WHERE rolname = 'sharpeyes_test'" | grep -q 1 ||
  as_postgres psql -q -c "CREATE ROLE sharpeyes_test LOGIN PASSWORD 'sharpeyes_test'"
as_postgres psql -q -tc "SELECT 1 FROM pg_database WHERE datname = 'sharpeyes_test'" | grep -q 1 ||
  as_postgres psql -q -c "CREATE DATABASE sharpeyes_test OWNER sharpeyes_test"
