#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for trying the project's cluster path and for its tests:
# slurmctld and slurmd on localhost, munge for authentication, no cgroups, and accounting (slurmdbd on a MariaDB
# of its own, so `sacct` answers as on a real cluster: submitit reads job states with it). Runs as root: it
# installs Debian's slurm-wlm, slurmdbd, munge and mariadb-server when they are missing. A real cluster needs none of this: only the launcher config
# (docs/distributed.md).
#   scripts/local_slurm.sh start    # install if needed, write /etc/slurm/*.conf, start the daemons
#   scripts/local_slurm.sh status   # the partition and the queue; exit 0 when the node is up
#   scripts/local_slurm.sh stop     # cancel root's jobs, stop the daemons it started, forget their state
set -euo pipefail

STATE=${LOCAL_SLURM_DIR:-/var/tmp/mnist-lightning-slurm}  # daemons' state, logs and pid files
CONF=/etc/slurm/slurm.conf
DBD_CONF=/etc/slurm/slurmdbd.conf
MARK="# written by mnist-lightning scripts/local_slurm.sh"
PARTITION=debug

SOCKET=$STATE/mysqld.sock  # MariaDB of this cluster's own, on a socket of its own: a machine's database is left alone

fail() { echo "local_slurm: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || fail "$1 needs root (the daemons run as root on this one-node cluster)"; }
ours() { [ -f "$CONF" ] && grep -qF "$MARK" "$CONF"; }  # this machine's SLURM is the one this script set up

# The daemons this script started, by their pid files in $STATE (munged's only when it was not running before).
pid_of() { [ -f "$STATE/$1.pid" ] && cat "$STATE/$1.pid"; }
# The pid file names a live process of that daemon (not a pid reused after a reboot).
running() { local pid; pid=$(pid_of "$1") && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$1" ]; }
DAEMONS="slurmd slurmctld slurmdbd mariadbd munged"

install_packages() {
    local missing=0
    for daemon in slurmctld slurmd slurmdbd munged mariadbd; do
        command -v $daemon >/dev/null || missing=1
    done
    [ $missing = 0 ] && return
    echo "installing Debian's slurm-wlm, slurmdbd, munge and mariadb-server ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm slurmdbd munge mariadb-server >/dev/null
}

write_config() {
    # Never overwrite a slurm.conf this script did not write: that machine has a cluster of its own.
    for file in "$CONF" "$DBD_CONF"; do
        if [ -f "$file" ] && ! grep -qF "$MARK" "$file"; then
            fail "$file exists and was not written by this script: this machine has its own SLURM setup"
        fi
    done
    local cpus memory_mb
    cpus=$(nproc --all)
    memory_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d"
    cat > "$CONF" <<CONF
$MARK
# One node on localhost: both daemons run as root; processes tracked through /proc, no cgroups.
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Pending jobs are looked at every 2 s (defaults: 60 s and 30 s), so a requeued job starts soon after it may.
SchedulerParameters=sched_interval=2,bf_interval=2
JobRequeue=1
KillWait=5
# A requeued job waits this long (default 120 s) before it may start again: short here, where jobs are tests.
AuthInfo=cred_expire=10
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=localhost CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    cat > "$DBD_CONF" <<CONF
$MARK
# Accounting in a MariaDB of this cluster's own (its socket in $STATE), reached as root through the socket.
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=0
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/slurmdbd.log
CONF
    chmod 600 "$DBD_CONF"
}

start_munge() {
    [ -S /run/munge/munge.socket.2 ] && pgrep -x munged >/dev/null && return  # the machine's own: used, kept
    [ -f /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    for _ in $(seq 20); do [ -s /run/munge/munged.pid ] && break; sleep 0.2; done
    cp /run/munge/munged.pid "$STATE/munged.pid"
}

start_database() {
    running mariadbd && return
    if [ ! -d "$STATE/mysql" ]; then
        mariadb-install-db --datadir="$STATE/mysql" --user=root --skip-test-db >"$STATE/mariadb-install.log" 2>&1 \
            || fail "mariadb-install-db failed; see $STATE/mariadb-install.log"
    fi
    # Its own socket, no TCP port: nothing outside this machine reaches it, and a database already here is untouched.
    mariadbd --user=root --datadir="$STATE/mysql" --skip-networking --socket="$SOCKET" \
        --pid-file="$STATE/mariadbd.pid" --log-error="$STATE/mariadb.log" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 60); do
        mariadb-admin --socket="$SOCKET" ping >/dev/null 2>&1 && return
        sleep 0.5
    done
    fail "MariaDB did not start within 30 s; see $STATE/mariadb.log"
}

start_accounting() {
    # slurmdbd.conf has no socket setting; MariaDB's client library takes it from MYSQL_UNIX_PORT.
    running slurmdbd || MYSQL_UNIX_PORT="$SOCKET" slurmdbd
    for _ in $(seq 60); do
        sacctmgr -n list cluster >/dev/null 2>&1 && break
        sleep 0.5
    done
    sacctmgr -i add cluster local >/dev/null 2>&1 || true  # the cluster slurmctld reports to (kept on a restart)
}

node_up() { sinfo -h -n localhost -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }

start() {
    need_root start
    install_packages
    write_config
    start_munge
    start_database
    start_accounting
    running slurmctld || slurmctld -c  # -c: no jobs left over from an earlier start
    running slurmd || slurmd -N localhost
    for _ in $(seq 60); do
        if node_up; then
            echo "local SLURM is up: partition '$PARTITION', $(nproc --all) CPUs on localhost (logs in $STATE)"
            return
        fi
        sleep 1
    done
    fail "the node did not come up within 60 s; see $STATE/slurmctld.log and $STATE/slurmd.log"
}

stop() {
    need_root stop
    ours || fail "$CONF was not written by this script: this machine's SLURM is not the local one; nothing stopped"
    if running slurmctld; then
        scancel --full --quiet --user=root 2>/dev/null || true  # the jobs of this cluster (tests and tries run as root)
        scontrol shutdown >/dev/null 2>&1 || true
    fi
    for _ in $(seq 30); do
        running slurmctld || running slurmd || break
        sleep 1
    done
    mariadb-admin --socket="$SOCKET" shutdown >/dev/null 2>&1 || true
    local daemon pid
    for daemon in $DAEMONS; do
        running $daemon && kill "$(pid_of $daemon)" 2>/dev/null || true
    done
    for _ in $(seq 20); do  # gone before this returns, so a start right after begins from nothing
        local left=0
        for daemon in $DAEMONS; do running $daemon && left=1; done
        [ $left = 0 ] && break
        sleep 0.5
    done
    # A slurmd that lost its controller can sit in a retry loop deaf to SIGTERM; job steps outlive it.
    for daemon in $DAEMONS; do
        running $daemon && kill -KILL "$(pid_of $daemon)" 2>/dev/null || true
    done
    pkill -KILL -x slurmstepd 2>/dev/null || true  # this machine's SLURM is ours (checked above)
    rm -rf "$STATE/ctld" "$STATE/d" "$STATE/mysql" "$STATE"/*.pid  # the next start begins with no jobs, no records
    echo "local SLURM stopped"
}

status() {
    if ! running slurmctld; then
        echo "local SLURM is not running"
        exit 3
    fi
    sinfo
    squeue
    node_up
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
