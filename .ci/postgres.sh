# PostgreSQL for the parallel grading tests, sourced by .ci/run.
#
# start_postgres installs Debian's postgresql package when no server is
# found, creates a throwaway cluster in a temporary folder, starts it on
# 127.0.0.1 at a free port with a random password, and exports
#   COURSE_TEST_POSTGRES=postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres
# which tests/test_parallel.py uses to create a database per test.
# stop_postgres stops the server and deletes the cluster.

PG_FOLDER=""
PG_BIN=""

find_postgres() {
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
}

install_postgres() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    local install=(env DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends postgresql)
    if ! $sudo "${install[@]}"; then
        $sudo apt-get update
        $sudo "${install[@]}"
    fi
}

# Run a PostgreSQL program as the account that owns the cluster: the
# server refuses to run as root.
as_cluster_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_postgres() {
    find_postgres
    if [ -z "$PG_BIN" ]; then
        echo "Installing PostgreSQL for the parallel grading tests"
        install_postgres
        find_postgres
    fi
    PG_FOLDER="$(mktemp -d /tmp/course-postgres.XXXXXX)"
    local password port
    password="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    printf '%s\n' "$password" > "$PG_FOLDER/password"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres: "$PG_FOLDER"
    fi
    chmod 700 "$PG_FOLDER"
    as_cluster_owner "$PG_BIN/initdb" --pgdata="$PG_FOLDER/data" --username=postgres \
        --pwfile="$PG_FOLDER/password" --auth=scram-sha-256 --encoding=UTF8 >/dev/null
    as_cluster_owner "$PG_BIN/pg_ctl" --pgdata="$PG_FOLDER/data" --wait \
        --log="$PG_FOLDER/server.log" \
        --options="-c listen_addresses=127.0.0.1 -p $port -k $PG_FOLDER -c max_connections=200" \
        start >/dev/null
    export COURSE_TEST_POSTGRES="postgresql://postgres:$password@127.0.0.1:$port/postgres"
    echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') runs on 127.0.0.1:$port for the tests"
}

stop_postgres() {
    if [ -n "$PG_FOLDER" ] && [ -d "$PG_FOLDER/data" ]; then
        as_cluster_owner "$PG_BIN/pg_ctl" --pgdata="$PG_FOLDER/data" --mode=fast \
            stop >/dev/null || true
        rm -rf "$PG_FOLDER"
    fi
    PG_FOLDER=""
}
