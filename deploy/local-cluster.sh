#!/usr/bin/env bash
# A workshop's whole deployment on one machine: a Ray head, a second Ray node, two Streamlit replicas training on that
# cluster (CVAE_RAY_ADDRESS), and nginx in front of them with cookie affinity (deploy/nginx.conf.template).
#
#   deploy/local-cluster.sh start [PORT]   # default 8600; prints the URL when every part answers
#   deploy/local-cluster.sh stop           # stops exactly what `start` started, by the process groups it recorded
#
# Each part runs in a process group of its own (setsid), its pid in $CVAE_CLUSTER_RUN (default deploy/.run), so `stop`
# never touches another Ray cluster or nginx on the machine (no host-wide `ray stop`). CVAE_REPLICAS (default 2) and
# CVAE_NODE_CPUS (default: half the cores each) change the shape.
#
# Locked: whoever reaches a Ray port can run code on the machine, so Ray requires a token on every node, replica and
# training process (RAY_AUTH_MODE=token; the token in $RUN/ray-token, readable by this user only, passed by
# RAY_AUTH_TOKEN_PATH), every node's address is loopback (deploy/ray_loopback.py keeps Ray from replacing 127.0.0.1 by
# the machine's network address, so its servers listen on loopback only; RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 does the
# same for the drivers that connect), and the dashboard is off. nginx and the replicas listen on loopback too. Across
# machines: README, "Workshops", the host's checklist.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=$(realpath -m "${CVAE_CLUSTER_RUN:-deploy/.run}")
PY=${PYTHON:-$(pwd)/.venv/bin/python}
RAY=("$PY" -m deploy.ray_loopback)  # Ray's `ray start`, every node kept on 127.0.0.1 (see deploy/ray_loopback.py)
REPLICAS=${CVAE_REPLICAS:-2}
CORES=$(nproc)
NODE_CPUS=${CVAE_NODE_CPUS:-$(( CORES / 2 > 0 ? CORES / 2 : 1 ))}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

launch() {  # name, command...: in a session of its own, pid recorded
  local name=$1; shift
  setsid "$@" > "$RUN/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

wait_for() {  # what, seconds, command...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq $(( seconds * 2 ))); do
    if "$@" > /dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "local-cluster: $what did not come up; logs in $RUN" >&2
  return 1
}

nodes_alive() { "$PY" -c 'import ray,sys; ray.init(address=sys.argv[1], log_to_driver=False); sys.exit(sum(n["Alive"] for n in ray.nodes()) < int(sys.argv[2]))' "$1" "$2"; }
healthy() { [ "$(curl -sf "$1/_stcore/health")" = ok ]; }
healthy_tls() { [ "$(curl -sfk "$1/_stcore/health")" = ok ]; }  # the host's certificate names the venue's address, not loopback

lock_ray() {  # the token and the settings every Ray process of this deployment reads
  ( umask 077; "$PY" -c 'import secrets; print(secrets.token_hex(32))' > "$RUN/ray-token" )
  export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$RUN/ray-token" RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
  unset RAY_AUTH_TOKEN
}

start() {
  local port=${1:-8600}
  if [ -e "$RUN/started" ]; then echo "local-cluster: already started ($RUN); stop it first" >&2; exit 1; fi
  ( umask 077; mkdir -p "$RUN" )
  lock_ray
  local gcs; gcs=$(free_port)
  local temp; temp=$(mktemp -d /tmp/cvae-ray-XXXXXX)  # Ray's sockets live here: a short path
  echo "$temp" > "$RUN/ray-temp"
  touch "$RUN/started"
  RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1 launch ray-head "${RAY[@]}" start --head --block --disable-usage-stats --port="$gcs" --num-cpus="$NODE_CPUS" --num-gpus=0 \
    --node-ip-address=127.0.0.1 --include-dashboard=false --temp-dir="$temp"
  wait_for "the Ray head" 90 nodes_alive "127.0.0.1:$gcs" 1
  echo "127.0.0.1:$gcs" > "$RUN/ray-address"
  RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1 launch ray-node "${RAY[@]}" start --block --disable-usage-stats --address="127.0.0.1:$gcs" --num-cpus="$NODE_CPUS" --num-gpus=0 \
    --node-ip-address=127.0.0.1
  wait_for "the second Ray node" 90 nodes_alive "127.0.0.1:$gcs" 2
  local replica_port
  for i in $(seq "$REPLICAS"); do
    replica_port=$(free_port)
    CVAE_RAY_ADDRESS="127.0.0.1:$gcs" launch "replica-$i" "$PY" -m streamlit run ui/serve.py --server.headless=true \
      --server.address=127.0.0.1 --server.port="$replica_port" --browser.gatherUsageStats=false --server.fileWatcherType=none
    echo "http://127.0.0.1:$replica_port" >> "$RUN/replicas"
  done
  mkdir -p "$RUN"/nginx-{body,proxy,fastcgi,uwsgi,scgi}
  # shellcheck disable=SC2046
  "$PY" -m deploy.nginx_conf "$RUN" "$port" $(cat "$RUN/replicas") > "$RUN/nginx.conf"
  launch nginx nginx -p "$RUN" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf"
  while read -r url; do wait_for "the replica at $url" 120 healthy "$url"; done < "$RUN/replicas"
  local here=${CVAE_LISTEN:-127.0.0.1}
  if [ -n "${CVAE_TLS_CERT:-}" ]; then wait_for "nginx" 30 healthy_tls "https://$here:$port"; else wait_for "nginx" 30 healthy "http://$here:$port"; fi
  local scheme=http; [ -n "${CVAE_TLS_CERT:-}" ] && scheme=https
  echo "$scheme://$here:$port"
}

stop() {
  [ -d "$RUN" ] || return 0
  local name pid
  for name in nginx replica-1 replica-2 replica-3 replica-4 replica-5 replica-6 replica-7 replica-8 ray-node ray-head; do
    [ -f "$RUN/$name.pid" ] || continue
    pid=$(cat "$RUN/$name.pid")
    kill -TERM -- "-$pid" 2> /dev/null || true
    for _ in $(seq 40); do kill -0 "$pid" 2> /dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2> /dev/null || true
    rm -f "$RUN/$name.pid"
  done
  [ -f "$RUN/ray-temp" ] && rm -rf "$(cat "$RUN/ray-temp")"
  rm -rf "$RUN"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start [PORT] | stop" >&2; exit 2 ;;
esac
