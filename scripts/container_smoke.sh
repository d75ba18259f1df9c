#!/usr/bin/env bash
# Container smoke test (`make container-smoke`): build the image, run it read-only and check it,
# then the same through docker-compose, then the "scaled" profile (two replicas behind nginx), then,
# where the engine is podman, deploy/k8s/deployment.yaml through `podman kube play`.
# Prints one line per check and the image size; exits non-zero on the first failed check.
#
# Needs a Docker-compatible engine, docker-compose (1.28+ or Compose v2 as `docker compose`) and
# python3. Where no Docker daemon answers and ../shared/tools/container-env.sh exists (podman set-up
# without registry access), it sources that script and takes the CPU torch wheel from ./wheels.
#
# Settings: IMAGE (default sentiment-rnn:smoke), SMOKE_PORT / SMOKE_COMPOSE_PORT / SMOKE_LB_PORT /
# SMOKE_KUBE_PORT (18000 / 18001 / 18080 / 18002 on 127.0.0.1), SKIP_SCALED=1, SKIP_KUBE=1,
# MAX_IMAGE_BYTES (default 1000000000), KUBE_READY_S (default 10: the pod must be ready within it).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-sentiment-rnn:smoke}
PORT=${SMOKE_PORT:-18000}
COMPOSE_PORT=${SMOKE_COMPOSE_PORT:-18001}
LB_PORT=${SMOKE_LB_PORT:-18080}
KUBE_PORT=${SMOKE_KUBE_PORT:-18002}
KUBE_READY_S=${KUBE_READY_S:-10}
MAX_IMAGE_BYTES=${MAX_IMAGE_BYTES:-1000000000}
PYTHON=${PYTHON:-python3}
PROJECT=sentiment-smoke
CONTAINER=sentiment-smoke-run
POSITIVE='{"text": "A wonderful, moving film with a brilliant cast. I loved every minute of it."}'

step() { printf '\n== %s\n' "$*"; }
ok() { printf '  ok    %s\n' "$*"; }
die() { printf '  FAIL  %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- engine
if ! docker info >/dev/null 2>&1; then
  env_script=${CONTAINER_ENV_SCRIPT:-../shared/tools/container-env.sh}
  [ -f "$env_script" ] || die "no Docker daemon answers and there is no $env_script"
  echo "no Docker daemon answers: preparing podman with $env_script (first run: 2-3 minutes)"
  # shellcheck source=/dev/null
  source "$env_script"
  if ! compgen -G 'wheels/torch-*.whl' >/dev/null; then
    "$env_script" --torch-wheel wheels >/dev/null
  fi
fi
PODMAN=0
engine=$(docker version 2>/dev/null || true)  # (no `| grep -q` here: SIGPIPE under pipefail)
if [[ "$engine" == *Podman* ]] && command -v podman >/dev/null; then PODMAN=1; fi
if command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  die "neither docker-compose nor 'docker compose' is installed"
fi

[ -f model/artifacts/sentiment-rnn.pt ] || die "model/artifacts/sentiment-rnn.pt is missing: train it (make train)"
if [ ! -f model/artifacts/sentiment-rnn-zh.pt ] && [ -z "${SENTIMENT_CHECKPOINT_ZH:-}" ]; then
  echo "note: no model/artifacts/sentiment-rnn-zh.pt: running with SENTIMENT_CHECKPOINT_ZH=none (English only)"
  export SENTIMENT_CHECKPOINT_ZH=none
fi
ZH_ENV=()
[ -n "${SENTIMENT_CHECKPOINT_ZH:-}" ] && ZH_ENV=(-e "SENTIMENT_CHECKPOINT_ZH=$SENTIMENT_CHECKPOINT_ZH")

compose() { SENTIMENT_IMAGE=$IMAGE "${COMPOSE[@]}" -p "$PROJECT" -f docker-compose.yml "$@"; }
KUBE_YAML=$(mktemp)
cleanup() {
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  compose --profile scaled down --remove-orphans >/dev/null 2>&1 || true
  if [ "$PODMAN" = 1 ] && [ -s "$KUBE_YAML" ]; then podman kube down "$KUBE_YAML" >/dev/null 2>&1 || true; fi
  rm -f "$KUBE_YAML"
}
trap cleanup EXIT
cleanup

# HTTP and JSON checks in Python, so the host needs no curl or jq
wait_ready() {  # URL SECONDS
  "$PYTHON" - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"{url} not ready after {sys.argv[2]} s")
    time.sleep(1)
PY
}
check_predict() {  # BASE_URL -> prints the verdict
  "$PYTHON" - "$1" "$POSITIVE" <<'PY'
import json, math, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/predict", sys.argv[2].encode(), {"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=10) as r:
    body = json.load(r)
probs = body["probabilities"]
# a two-label model answers negative/positive; a five-point one negative/neutral/positive
assert set(probs) in ({"negative", "positive"}, {"negative", "neutral", "positive"}), probs
assert body["label"] in probs, body
assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-4), probs
assert math.isclose(body["score"], probs[body["label"]], abs_tol=1e-6), body
assert "hidden_state" in body, body
verdict = "positive, as expected" if body["label"] == "positive" else "NEGATIVE (weak model?) but well-formed"
print(f"POST /predict -> {body['label']} {body['score']:.3f} ({verdict}; model {body['model_version']})")
PY
}

# ---------------------------------------------------------------- build
step "build $IMAGE"
start=$SECONDS
if [ "$PODMAN" = 1 ]; then
  # podman's Docker-compatible build API writes OCI images, which drop HEALTHCHECK
  podman build --format docker -q -t "$IMAGE" . >/dev/null
else
  docker build -q -t "$IMAGE" . >/dev/null
fi
ok "built in $((SECONDS - start)) s"
user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
[[ -n "$user" && "$user" != 0* && "$user" != root* ]] || die "image USER is '$user'"
ok "image USER $user"
# (podman 4's Docker-compatible API leaves Config.Healthcheck out of image inspect: ask podman)
if [ "$PODMAN" = 1 ]; then inspect=(podman image inspect); else inspect=(docker image inspect); fi
healthcheck=$("${inspect[@]}" -f '{{json .Config.Healthcheck}}' "$IMAGE")
[[ "$healthcheck" == */health* ]] || die "image has no HEALTHCHECK on /health"
ok "image HEALTHCHECK on /health"

# ---------------------------------------------------------------- docker run
step "docker run --read-only (127.0.0.1:$PORT)"
docker run -d --name "$CONTAINER" --read-only --tmpfs /tmp --cpus 1 --memory 1g \
  --health-interval 2s -p "127.0.0.1:$PORT:8000" "${ZH_ENV[@]}" "$IMAGE" >/dev/null
start=$SECONDS
wait_ready "http://127.0.0.1:$PORT/ready" 120 || { docker logs "$CONTAINER" | tail -20; die "not ready"; }
ok "/ready 200 after $((SECONDS - start)) s"
ok "$(check_predict "http://127.0.0.1:$PORT")"
uid=$(docker exec "$CONTAINER" id -u)
[ "$uid" != 0 ] || die "the process runs as root"
ok "runs as uid $uid (non-root)"
if docker exec -u 0 "$CONTAINER" touch /app/.probe 2>/dev/null; then die "the root filesystem is writable"; fi
docker exec "$CONTAINER" touch /tmp/.probe || die "/tmp (tmpfs) is not writable"
ok "root filesystem read-only (even root cannot write /app), /tmp writable, service works"
if [ "$PODMAN" = 1 ]; then
  podman healthcheck run "$CONTAINER" >/dev/null || die "HEALTHCHECK failed"
else
  for _ in $(seq 1 30); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$CONTAINER")" = healthy ] && break
    sleep 1
  done
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$CONTAINER")" = healthy ] || die "HEALTHCHECK not healthy"
fi
ok "HEALTHCHECK healthy"
docker stop -t 20 "$CONTAINER" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$CONTAINER")
[ "$code" = 0 ] || { docker logs "$CONTAINER" | tail -20; die "exit code $code after docker stop"; }
ok "graceful stop on SIGTERM (exit code 0)"
docker rm "$CONTAINER" >/dev/null

# ---------------------------------------------------------------- docker-compose
step "${COMPOSE[*]} (127.0.0.1:$COMPOSE_PORT)"
compose config -q || die "docker-compose.yml does not validate"
ok "${COMPOSE[*]} config -q"
SENTIMENT_PUBLISH=127.0.0.1:$COMPOSE_PORT compose up -d --no-build sentiment >/dev/null 2>&1 \
  || die "${COMPOSE[*]} up failed"
start=$SECONDS
wait_ready "http://127.0.0.1:$COMPOSE_PORT/ready" 120 || { compose logs --tail 20; die "not ready"; }
ok "/ready 200 through the published port after $((SECONDS - start)) s"
ok "$(check_predict "http://127.0.0.1:$COMPOSE_PORT")"
cid=$(compose ps -q sentiment)
uid=$(docker exec "$cid" id -u)
[ "$uid" != 0 ] || die "the compose service runs as root"
ok "runs as uid $uid (non-root)"
limits=$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}' "$cid")
[ "$limits" = "true 1000000000 1073741824" ] || die "read_only/cpus/memory not applied: $limits"
ok "read_only, 1 CPU, 1 GiB applied ($limits)"
compose down >/dev/null 2>&1
ok "down"

# ---------------------------------------------------------------- scaled profile
if [ "${SKIP_SCALED:-0}" != 1 ]; then
  step "profile scaled: 2 replicas behind nginx (127.0.0.1:$LB_PORT)"
  NGINX_IMAGE=${NGINX_IMAGE:-nginx:1.27-alpine}
  if ! docker image inspect "$NGINX_IMAGE" >/dev/null 2>&1 && ! docker pull -q "$NGINX_IMAGE" >/dev/null 2>&1; then
    NGINX_IMAGE=sentiment-rnn-nginx:local
    echo "  (cannot pull nginx: building the Debian stand-in deploy/nginx/Dockerfile as $NGINX_IMAGE)"
    if [ "$PODMAN" = 1 ]; then
      podman build --format docker -q -t "$NGINX_IMAGE" deploy/nginx >/dev/null
    else
      docker build -q -t "$NGINX_IMAGE" deploy/nginx >/dev/null
    fi
  fi
  export NGINX_IMAGE
  SENTIMENT_LB_PUBLISH=127.0.0.1:$LB_PORT compose --profile scaled up -d --no-build nginx >/dev/null 2>&1 \
    || die "${COMPOSE[*]} --profile scaled up failed"
  n=$(compose ps -q sentiment-replica | wc -l)
  [ "$n" -ge 2 ] || die "$n sentiment-replica containers running"
  ok "$n sentiment-replica containers + nginx"
  "$PYTHON" - "http://127.0.0.1:$LB_PORT" "$POSITIVE" <<'PY' || { compose logs --tail 10; die "requests did not reach both replicas"; }
import collections, sys, time, urllib.request
base, body = sys.argv[1], sys.argv[2].encode()
seen = collections.Counter()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:  # until both replicas are ready, then 20 more requests
    try:
        req = urllib.request.Request(base + "/predict", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            upstream = r.headers.get("X-Upstream", "")
            if "," not in upstream:  # answered by the first replica tried
                seen[upstream] += 1
    except OSError:
        time.sleep(1)
        continue
    if len(seen) >= 2 and sum(seen.values()) >= 20:
        break
    if len(seen) < 2:
        time.sleep(0.5)
print("  ok    answers per replica: " + ", ".join(f"{k} x{v}" for k, v in sorted(seen.items())))
sys.exit(0 if len(seen) >= 2 else 1)
PY
  compose --profile scaled down >/dev/null 2>&1
  ok "down"
fi

# ---------------------------------------------------------------- podman kube play
# deploy/k8s/deployment.yaml as it is but for what only a cluster provides: the image is tagged with
# the manifest's name, and the copy played has one replica with a hostPort on 127.0.0.1 (kube play has
# no Service to spread traffic, and podman 4.3 no --publish; two pods would both bind that port).
# kube play ignores the readiness probe and turns the liveness and startup probes into health checks
# that run curl, which the image does not have; this engine runs health checks only on demand, so the
# script checks the probes' endpoints itself, from the host.
if [ "$PODMAN" = 1 ] && [ "${SKIP_KUBE:-0}" != 1 ]; then
  step "podman kube play deploy/k8s/deployment.yaml (127.0.0.1:$KUBE_PORT)"
  image=$(awk '$1 == "image:" { print $2; exit }' deploy/k8s/deployment.yaml)
  podman tag "$IMAGE" "$image"
  sed -E -e "s/^( *)containerPort: 8000$/&\n\1hostPort: $KUBE_PORT\n\1hostIP: 127.0.0.1/" \
    -e 's/^  replicas: [0-9]+$/  replicas: 1/' deploy/k8s/deployment.yaml >"$KUBE_YAML"
  grep -q "hostPort: $KUBE_PORT" "$KUBE_YAML" && grep -q '^  replicas: 1$' "$KUBE_YAML" \
    || die "could not set the hostPort and the replica count in the manifest's copy"
  start=$SECONDS
  # (podman warns that it cannot schedule the health checks without systemd: shown only on failure)
  played=$(podman kube play --replace "$KUBE_YAML" 2>&1) || { echo "$played" | tail -5; die "podman kube play failed"; }
  pod=$(podman pod ps --filter "label=app.kubernetes.io/name=sentiment-rnn" --format '{{.Name}}' | head -1)
  [ -n "$pod" ] || die "no pod labelled app.kubernetes.io/name=sentiment-rnn"
  ctr=$(podman ps --filter "pod=$pod" --format '{{.Names}}' | grep -v -- '-infra$' | head -1)
  ok "pod $pod, container $ctr (image $image)"
  wait_ready "http://127.0.0.1:$KUBE_PORT/ready" 120 || { podman logs "$ctr" | tail -20; die "pod not ready"; }
  took=$((SECONDS - start))
  [ "$took" -le "$KUBE_READY_S" ] || die "pod ready after $took s, goal <= $KUBE_READY_S s"
  ok "readiness endpoint /ready 200 after $took s (goal <= $KUBE_READY_S s)"
  wait_ready "http://127.0.0.1:$KUBE_PORT/health" 5 || die "liveness endpoint /health failed"
  ok "liveness and startup endpoint /health 200"
  ok "$(check_predict "http://127.0.0.1:$KUBE_PORT")"
  uid=$(podman exec "$ctr" id -u)
  [ "$uid" = 10001 ] || die "runs as uid $uid, the manifest says 10001"
  ok "runs as uid 10001 (runAsUser)"
  if podman exec "$ctr" touch /app/.probe 2>/dev/null; then die "readOnlyRootFilesystem not applied"; fi
  podman exec "$ctr" touch /tmp/.probe || die "the emptyDir on /tmp is not writable"
  ok "read-only root filesystem, emptyDir on /tmp writable"
  limits=$(podman inspect -f '{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}' "$ctr")
  [ "$limits" = "1000000000 1073741824" ] || die "cpu/memory limits not applied: $limits"
  ok "limits applied: 1 CPU, 1 GiB ($limits)"
  ok "health check podman made of the probes: $(podman inspect -f '{{json .Config.Healthcheck.Test}}' "$ctr")"
  podman kube down "$KUBE_YAML" >/dev/null 2>&1 || die "podman kube down failed"
  ok "down"
fi

# ---------------------------------------------------------------- size
step "image size"
bytes=$(docker image inspect -f '{{.Size}}' "$IMAGE")
size="$IMAGE: $((bytes / 1000000)) MB ($(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1073741824 }') GiB)"
[ "$bytes" -le "$MAX_IMAGE_BYTES" ] || die "$size is over $MAX_IMAGE_BYTES bytes"
ok "$size, goal <= $((MAX_IMAGE_BYTES / 1000000)) MB"
# ---------------------------------------------------------------- start-up
# Inside the image, as the service starts there: the time from `python -m service` to /ready, on one
# CPU (as `make bench` pins the service on the host), five starts, the median.
step "start to /ready inside the image (one CPU)"
took=$(docker run --rm --cpuset-cpus 0 "${ZH_ENV[@]}" "$IMAGE" python -c '
import os, statistics, subprocess, sys, time, urllib.request
runs = []
for i in range(5):
    port = str(18100 + i)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "service"], env={**os.environ, "SENTIMENT_PORT": port},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.perf_counter() - start < 60:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1).status == 200:
                break
        except OSError:
            time.sleep(0.01)
    else:
        sys.exit("not ready after 60 s")
    runs.append(time.perf_counter() - start)
    proc.terminate()
    proc.wait()
print(f"median {statistics.median(runs):.2f} s (" + ", ".join(f"{r:.2f}" for r in runs) + ")")
') || die "the service did not start inside the image"
ok "$took"

printf '\ncontainer smoke test passed\n'
