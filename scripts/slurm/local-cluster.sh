#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's packages, for trying and
# testing `scripts/slurm/submit.sh`. Idempotent: installs munge + slurmctld + slurmd when
# missing, writes a minimal config (no cgroups, no accounting), starts the daemons, and
# waits until the node takes jobs. Needs root (apt-get, daemons).
#
#   scripts/slurm/local-cluster.sh          # start (or confirm it is running)
#   scripts/slurm/local-cluster.sh stop
set -euo pipefail

log() { printf 'local-cluster: %s\n' "$*" >&2; }

# Stops the named daemons and waits until they are gone (they save state on the way out).
stop() {
    for d in "$@"; do pkill -x "$d" || true; done
    for _ in $(seq 1 100); do
        local alive=0
        for d in "$@"; do pgrep -x "$d" >/dev/null && alive=1; done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    log "still running after 10 s: $*"
    return 1
}

if [ "${1:-}" = stop ]; then
    stop slurmd slurmctld munged
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    log "installing munge, slurmctld, slurmd, slurm-client (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq munge slurmctld slurmd slurm-client >/dev/null
fi

node="$(hostname -s)"
# slurmctld looks its own host up by name.
if ! getent hosts "$node" >/dev/null; then
    log "adding $node to /etc/hosts"
    echo "127.0.1.1 $node" >>/etc/hosts
fi
cpus="$(nproc)"
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
conf=/etc/slurm/slurm.conf
want="$(cat <<CONF
# Written by qa-pipe's scripts/slurm/local-cluster.sh: one node, no cgroups, no accounting.
ClusterName=qapipe
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
# Small jobs in quick succession: look for runnable jobs every second, not every 30-60 s.
SchedulerParameters=bf_interval=1,sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MaxArraySize=10001
NodeName=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
)"
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    log "writing $conf (node $node, $cpus CPUs)"
    mkdir -p /etc/slurm
    printf '%s\n' "$want" >"$conf"
    stop slurmd slurmctld
fi
mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge

if [ ! -s /etc/munge/munge.key ]; then
    log "creating a munge key"
    mungekey --create --force 2>/dev/null \
        || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || { log "starting munged"; runuser -u munge -- munged; }
pgrep -x slurmctld >/dev/null || { log "starting slurmctld"; slurmctld; }
pgrep -x slurmd >/dev/null || { log "starting slurmd"; slurmd; }

for _ in $(seq 1 60); do
    state="$(sinfo -h -n "$node" -o '%t' 2>/dev/null || true)"
    case "$state" in
        idle*|mix*|alloc*) log "node $node is $state"; exit 0 ;;
        drain*|down*) scontrol update NodeName="$node" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 1
done
log "the node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log"
exit 1
