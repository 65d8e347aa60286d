#!/usr/bin/env bash
# What the cluster tests (tests/curate/test_executors.py, tests/test_slurm.py) need on a clean
# machine: Ray through the alchemist[ray] extra in the project's virtual environment, and Slurm +
# munge from Debian's packages (as root). It starts no daemon: each test brings up its own Ray or
# Slurm cluster on 127.0.0.1 in a temp dir and stops it by pid.
#   make install && bash scripts/ci_clusters.sh        (VENV=... for another environment)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

"$VENV/bin/pip" install -q -e ".[ray]"
"$VENV/bin/python" -c "import ray" 2>/dev/null || {
  echo "ci_clusters: the [ray] extra did not install Ray; is it declared in pyproject.toml?" >&2; exit 1; }

if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
  :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
else
  echo "ci_clusters: Slurm is not installed and this is not root with apt-get: the Slurm tests will skip" >&2
  exit 0
fi
# the package makes the key; a machine that lost it gets a new one (one node: any key will do)
if [ "$(id -u)" = 0 ] && [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
    || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi
echo "ci_clusters: ray $("$VENV/bin/python" -c 'import ray; print(ray.__version__)'), $(slurmctld -V)"
