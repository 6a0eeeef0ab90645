#!/usr/bin/env bash
# tornet.sh — a private Tor network on loopback, for the project's Tor integration tests.
#
#   tornet.sh start DIR BASE_PORT   build (or reuse) keys and torrcs in DIR, start the network,
#                                   wait until it is ready, write DIR/network.json
#   tornet.sh stop DIR              stop the tor processes recorded in DIR/tornet.pids
#
# Layout, timings and the reasons behind each setting: test/tor/README.md and
# /work/shared/design/TOR-TESTNET.md. Environment knobs:
#   TORNET_AUTHS (5)      directory authorities, each also a relay (guard + HSDir)
#   TORNET_RELAYS (0)     extra plain relays
#   TORNET_CLIENTS (2)    client tors with SocksPort + ControlPort
#   TORNET_VOTING (10)    V3AuthVotingInterval in seconds
#   TORNET_TIMEOUT (180)  seconds to wait for readiness before giving up
#   TORNET_IP (127.0.0.1) loopback address everything listens on
#   TORNET_OWNER_PID      if set, every tor exits (~15 s) after this process dies
#   TORNET_CONTROL_PASSWORD  use HashedControlPassword instead of cookie authentication
#   TORNET_TOR / TORNET_GENCERT  paths of the tor and tor-gencert binaries
set -euo pipefail
shopt -s nullglob

PROG=tornet
TOR=${TORNET_TOR:-tor}
GENCERT=${TORNET_GENCERT:-tor-gencert}
IP=${TORNET_IP:-127.0.0.1}
AUTHS=${TORNET_AUTHS:-5}
RELAYS=${TORNET_RELAYS:-0}
CLIENTS=${TORNET_CLIENTS:-2}
VOTING=${TORNET_VOTING:-10}
TIMEOUT=${TORNET_TIMEOUT:-180}
OWNER_PID=${TORNET_OWNER_PID:-}
PASSWORD=${TORNET_CONTROL_PASSWORD:-}

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() {
  printf 'usage: %s start DIR BASE_PORT | %s stop DIR\n' "$0" "$0" >&2
  exit 2
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# ---------------------------------------------------------------------------------------------
# Node table. Node k (authorities first, then relays, then clients) owns three ports:
#   BASE+3k   ORPort (relays) / unused (clients)
#   BASE+3k+1 DirPort (authorities) / SocksPort (clients)
#   BASE+3k+2 ControlPort
# ---------------------------------------------------------------------------------------------
NAMES=()
ROLES=()
node_table() {
  NAMES=() ROLES=()
  local i
  for ((i = 0; i < AUTHS; i++)); do NAMES+=("auth$i"); ROLES+=(auth); done
  for ((i = 0; i < RELAYS; i++)); do NAMES+=("relay$i"); ROLES+=(relay); done
  for ((i = 0; i < CLIENTS; i++)); do NAMES+=("client$i"); ROLES+=(client); done
}
or_port() { echo $((BASE + 3 * $1)); }
dir_port() { echo $((BASE + 3 * $1 + 1)); }
socks_port() { echo $((BASE + 3 * $1 + 1)); }
ctl_port() { echo $((BASE + 3 * $1 + 2)); }

# Minimal JSON string escaping (DIR comes from the caller; keep the file valid whatever it is).
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# ---------------------------------------------------------------------------------------------
# Control-port queries with bash's /dev/tcp (no nc/python dependency). The credential is only
# ever written with the printf builtin, so it never appears in any process's argv.
# ---------------------------------------------------------------------------------------------
control_credential() {
  local d=$1
  if [[ -n $PASSWORD ]]; then
    local p=${PASSWORD//\\/\\\\}
    printf '"%s"' "${p//\"/\\\"}"
  else
    [[ -s $d/control_auth_cookie ]] || return 1
    od -An -v -tx1 "$d/control_auth_cookie" | tr -d ' \n'
  fi
}

# ctl NODE_INDEX COMMAND... — prints tor's replies (CR stripped); every read is bounded.
ctl() {
  local k=$1
  shift
  local d=$DIR/${NAMES[$k]} port cred
  port=$(ctl_port "$k")
  cred=$(control_credential "$d") || return 1
  (
    exec 3<>"/dev/tcp/$IP/$port" || exit 1
    printf 'AUTHENTICATE %s\r\n' "$cred" >&3
    for c in "$@"; do printf '%s\r\n' "$c" >&3; done
    printf 'QUIT\r\n' >&3
    while IFS= read -r -t 10 line <&3; do printf '%s\n' "${line%$'\r'}"; done
  ) 2>/dev/null
}

# A node is "complete" when its consensus lists every relay, all HSDir-flagged, and it holds a
# microdescriptor for each (pitfalls 3 and 5). Clients must also report PROGRESS=100.
NRELAYS=0
node_status() {
  local k=$1 out r h m p=''
  local cmds=("GETINFO ns/all" "GETINFO md/all" "GETINFO consensus/valid-after")
  [[ ${ROLES[$k]} == client ]] && cmds+=("GETINFO status/bootstrap-phase")
  out=$(ctl "$k" "${cmds[@]}") || { echo "control port not answering"; return 1; }
  # Only a consensus voted by this run counts: a stale cached one would pass the counts below.
  local va
  va=$(sed -n 's/^250-consensus\/valid-after=//p' <<<"$out")
  if [[ -z $va || $va < $START_UTC ]]; then
    echo "no consensus from this run yet"
    return 1
  fi
  r=$(grep -c '^r ' <<<"$out" || true)
  h=$(grep -c '^s .*HSDir' <<<"$out" || true)
  m=$(grep -c '^ntor-onion-key ' <<<"$out" || true)
  if [[ ${ROLES[$k]} == client ]]; then
    p=$(grep -o 'PROGRESS=[0-9]*' <<<"$out" | head -n 1 || true)
    p=" bootstrap ${p#PROGRESS=}%"
  fi
  echo "relays $r/$NRELAYS hsdir $h md $m$p"
  [[ $r -eq $NRELAYS && $h -eq $NRELAYS && $m -ge $NRELAYS ]] || return 1
  [[ ${ROLES[$k]} != client || $p == ' bootstrap 100%' ]]
}

# ---------------------------------------------------------------------------------------------
# Process bookkeeping
# ---------------------------------------------------------------------------------------------
pid_is_ours() { # PID — still a tor process started for this DIR?
  local pid=$1 comm cmd
  is_uint "$pid" || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [[ $comm == tor ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$DIR/"* ]]
}

stop_network() {
  local pidfile=$DIR/tornet.pids pid name pids=() i
  [[ -f $pidfile ]] || return 0
  while read -r pid name; do
    if pid_is_ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done <"$pidfile"
  # ShutdownWaitLength 0: tor exits almost at once on SIGTERM; allow 10 s, then SIGKILL.
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do pid_is_ours "$pid" && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if pid_is_ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -f "$pidfile"
  log "stopped ${#pids[@]} tor process(es) in $DIR"
}

print_log_tail() { # NODE_INDEX
  local d=$DIR/${NAMES[$1]}
  printf -- '--- %s (tail of %s) ---\n' "${NAMES[$1]}" "$d/notice.log" >&2
  tail -n 25 "$d/notice.log" >&2 2>/dev/null || tail -n 25 "$d/stdout.log" >&2 2>/dev/null || true
}

STARTED=0
fail_start() { # MESSAGE [NODE_INDEX...] — print the logs that matter, stop, exit 1
  local msg=$1 k
  shift
  printf '%s: error: %s\n' "$PROG" "$msg" >&2
  for k in "$@"; do print_log_tail "$k"; done
  ((STARTED)) && stop_network >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Keys and torrc files
# ---------------------------------------------------------------------------------------------
gen_auth_keys() { # NODE_INDEX — reuses keys when the certificate was made for the same address
  local k=$1 d=$DIR/${NAMES[$1]}
  local addr="$IP:$(dir_port "$k")"
  mkdir -p "$d/keys"
  chmod 700 "$d"
  if [[ ! -s $d/keys/authority_certificate || $(cat "$d/keys/tornet-address" 2>/dev/null) != "$addr" ]]; then
    rm -f "$d/keys/authority_identity_key" "$d/keys/authority_signing_key" "$d/keys/authority_certificate"
    # Empty passphrase on stdin: nothing to protect in a throwaway test network.
    "$GENCERT" --create-identity-key -m 24 -a "$addr" \
      -i "$d/keys/authority_identity_key" -s "$d/keys/authority_signing_key" \
      -c "$d/keys/authority_certificate" --passphrase-fd 0 </dev/null >"$d/gencert.log" 2>&1 || return 1
    printf '%s\n' "$addr" >"$d/keys/tornet-address"
  fi
  gen_relay_keys "$k"
}

# Directory state from an earlier run (consensuses, descriptors, votes, guard state) would let
# the readiness checks pass on stale data; keep only keys and fingerprints.
clear_state() { # NODE_INDEX
  local d=$DIR/${NAMES[$1]}
  rm -rf "$d"/cached-* "$d"/diff-cache "$d"/v3-status-votes "$d"/sr-state "$d"/state \
    "$d"/router-stability "$d"/consensus-transparency-* "$d"/key-pinning-journal "$d"/hs "$d"/onion_services
}

gen_relay_keys() { # NODE_INDEX — `--ORPort 1` is needed for tor to make and print relay keys
  local d=$DIR/${NAMES[$1]}
  mkdir -p "$d"
  chmod 700 "$d"
  [[ -s $d/fingerprint && -s $d/keys/secret_id_key ]] && return 0
  "$TOR" --defaults-torrc /dev/null -f /dev/null --ignore-missing-torrc --DataDirectory "$d" \
    --ORPort 1 --Nickname "${NAMES[$1]}" --list-fingerprint >"$d/fingerprint.log" 2>&1 || return 1
  [[ -s $d/fingerprint ]]
}

dirauthority_lines() {
  local k v3 fp
  for ((k = 0; k < AUTHS; k++)); do
    local d=$DIR/${NAMES[$k]}
    v3=$(awk '$1 == "fingerprint" { print $2 }' "$d/keys/authority_certificate")
    fp=$(awk '{ print $2 }' "$d/fingerprint")
    [[ -n $v3 && -n $fp ]] || die "missing fingerprints for ${NAMES[$k]}"
    printf 'DirAuthority %s orport=%s no-v2 v3ident=%s %s:%s %s\n' \
      "${NAMES[$k]}" "$(or_port "$k")" "$v3" "$IP" "$(dir_port "$k")" "$fp"
  done
}

write_torrc() { # NODE_INDEX DIRAUTHORITY_LINES HASHED_PASSWORD
  local k=$1 d=$DIR/${NAMES[$1]} role=${ROLES[$1]}
  local delay=$((VOTING / 5 > 0 ? VOTING / 5 : 1))
  {
    echo "# generated by tornet.sh — edits are overwritten on the next start"
    echo "TestingTorNetwork 1"
    echo "DataDirectory $d"
    echo "Nickname ${NAMES[$k]}"
    echo "Log notice file $d/notice.log"
    [[ -z ${TORNET_INFO_LOG:-} ]] || echo "Log info file $d/info.log"
    echo "ShutdownWaitLength 0"
    # Parsing the GeoIP databases costs ~1.7 s CPU and ~35 MB per tor, for nothing here.
    echo 'GeoIPFile ""'
    echo 'GeoIPv6File ""'
    echo "ControlPort $IP:$(ctl_port "$k")"
    if [[ -n $3 ]]; then
      echo "CookieAuthentication 0"
      echo "HashedControlPassword $3"
    else
      echo "CookieAuthentication 1"
    fi
    if [[ $role == client ]]; then
      echo "SocksPort $IP:$(socks_port "$k")"
      # A consensus of a handful of relays never reaches the default path fraction.
      echo "PathsNeededToBuildCircuits 0.67"
    else
      echo "SocksPort 0"
      echo "ORPort $IP:$(or_port "$k")"
      echo "Address $IP"
      echo "AssumeReachable 1"
      echo "ExitRelay 0"
      echo "ContactInfo tornet test network <nobody@localhost>"
      # Without this cap, computing diffs against every kept consensus grows without bound
      # (TOR-TESTNET pitfall 1).
      echo "MaxConsensusAgeForDiffs 2 minutes"
    fi
    if [[ $role == auth ]]; then
      echo "DirPort $IP:$(dir_port "$k")"
      echo "AuthoritativeDirectory 1"
      echo "V3AuthoritativeDirectory 1"
      echo "V3AuthVotingInterval $VOTING"
      echo "V3AuthVoteDelay $delay"
      echo "V3AuthDistDelay $delay"
      echo "TestingV3AuthInitialVotingInterval $VOTING"
      echo "TestingV3AuthInitialVoteDelay $delay"
      echo "TestingV3AuthInitialDistDelay $delay"
      echo "V3AuthNIntervalsValid 2"
      # Otherwise new relays get no Guard/HSDir flag for hours and onion services never publish.
      echo "TestingDirAuthVoteGuard *"
      echo "TestingDirAuthVoteHSDir *"
    fi
    [[ -n $OWNER_PID ]] && echo "__OwningControllerProcess $OWNER_PID"
    printf '%s\n' "$2"
  } >"$d/torrc"
}

start_node() { # NODE_INDEX — foreground tor under setsid, backgrounded: $! is tor's own PID
  local k=$1 d=$DIR/${NAMES[$1]}
  rm -f "$d/notice.log"
  setsid "$TOR" --defaults-torrc /dev/null -f "$d/torrc" </dev/null >"$d/stdout.log" 2>&1 &
  local pid=$!
  printf '%s %s\n' "$pid" "${NAMES[$k]}" >>"$DIR/tornet.pids"
  PIDS[k]=$pid
}

# wait_ready TITLE FIRST LAST DEADLINE — poll nodes FIRST..LAST until all are complete.
wait_ready() {
  local title=$1 first=$2 last=$3 deadline=$4 k st lastprint=0
  local -A done_=()
  while :; do
    local pending=()
    for ((k = first; k <= last; k++)); do
      [[ -n ${done_[$k]:-} ]] && continue
      kill -0 "${PIDS[$k]}" 2>/dev/null || fail_start "${NAMES[$k]} (pid ${PIDS[$k]}) exited" "$k"
      if st=$(node_status "$k"); then
        done_[$k]=1
      else
        pending+=("$k")
        STATUS[k]=$st
      fi
    done
    ((${#pending[@]} == 0)) && return 0
    if (($(date +%s) >= deadline)); then
      for k in "${pending[@]}"; do printf '%s: %s not ready: %s\n' "$PROG" "${NAMES[$k]}" "${STATUS[$k]}" >&2; done
      fail_start "timed out after ${TIMEOUT}s waiting for $title" "${pending[@]}"
    fi
    if (($(date +%s) - lastprint >= 5)); then
      lastprint=$(date +%s)
      log "waiting for $title: $(( last - first + 1 - ${#pending[@]} ))/$(( last - first + 1 )) ready (${NAMES[${pending[0]}]}: ${STATUS[${pending[0]}]})"
    fi
    sleep 0.5
  done
}

cmd_start() {
  local t0 t_keys t_auth k
  t0=$(now)
  START_UTC=$(date -u -d "@${t0%.*}" '+%Y-%m-%d %H:%M:%S')
  for v in AUTHS RELAYS CLIENTS VOTING TIMEOUT BASE; do
    is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
  done
  ((AUTHS >= 1)) || die "TORNET_AUTHS must be at least 1"
  ((CLIENTS >= 1)) || die "TORNET_CLIENTS must be at least 1"
  ((VOTING >= 10)) || die "TORNET_VOTING below 10 s is untested"
  [[ -z $OWNER_PID ]] || is_uint "$OWNER_PID" || die "TORNET_OWNER_PID must be a PID"
  ((AUTHS + RELAYS >= 4)) ||
    log "warning: with fewer than 4 relays onion services cannot build intro circuits"
  command -v "$TOR" >/dev/null || die "'$TOR' not found; install it (Debian: apt-get install tor)"
  command -v "$GENCERT" >/dev/null || die "'$GENCERT' not found (Debian: part of the tor package)"
  node_table
  NRELAYS=$((AUTHS + RELAYS))
  local n=${#NAMES[@]}
  ((BASE >= 1024 && BASE + 3 * n <= 65535)) || die "BASE_PORT must leave room for $((3 * n)) ports in 1024..65535"

  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  if [[ -f $DIR/tornet.pids ]]; then
    while read -r pid _; do
      pid_is_ours "$pid" && die "a network is already running in $DIR; run '$0 stop $DIR' first"
    done <"$DIR/tornet.pids"
    rm -f "$DIR/tornet.pids"
  fi
  rm -f "$DIR/network.json"
  for ((k = 0; k < 3 * n; k++)); do
    if (exec 3<>"/dev/tcp/$IP/$((BASE + k))") 2>/dev/null; then
      die "port $IP:$((BASE + k)) is already in use"
    fi
  done

  # Keys: 3072-bit RSA identity keys take ~1.8 s of CPU each, so generate them in parallel.
  local jobs=()
  for ((k = 0; k < n; k++)); do
    case ${ROLES[$k]} in
      auth) gen_auth_keys "$k" & jobs+=($!) ;;
      relay) gen_relay_keys "$k" & jobs+=($!) ;;
      client) mkdir -p "$DIR/${NAMES[$k]}" && chmod 700 "$DIR/${NAMES[$k]}" ;;
    esac
  done
  for j in "${jobs[@]}"; do wait "$j" || die "key generation failed; see $DIR/*/gencert.log and fingerprint.log"; done
  t_keys=$(since "$t0")

  local hashed='' lines
  if [[ -n $PASSWORD ]]; then
    hashed=$("$TOR" --quiet --hash-password "$PASSWORD" | tail -n 1)
    [[ $hashed == 16:* ]] || die "tor --hash-password failed"
  fi
  lines=$(dirauthority_lines)
  for ((k = 0; k < n; k++)); do
    clear_state "$k"
    write_torrc "$k" "$lines" "$hashed"
    "$TOR" --defaults-torrc /dev/null -f "$DIR/${NAMES[$k]}/torrc" --verify-config \
      >"$DIR/${NAMES[$k]}/verify.log" 2>&1 ||
      { cat "$DIR/${NAMES[$k]}/verify.log" >&2; die "invalid torrc for ${NAMES[$k]}"; }
  done

  trap 'fail_start "interrupted"' INT TERM
  : >"$DIR/tornet.pids"
  STARTED=1
  PIDS=() STATUS=()
  # Authorities and relays first; clients only once those agree on a full consensus, else the
  # clients back off on 404s and start on partial consensuses (TOR-TESTNET pitfall 3).
  for ((k = 0; k < NRELAYS; k++)); do start_node "$k"; done
  local deadline=$(($(date +%s) + TIMEOUT))
  wait_ready "relays to agree on a consensus" 0 $((NRELAYS - 1)) "$deadline"
  t_auth=$(since "$t0")
  for ((k = NRELAYS; k < n; k++)); do start_node "$k"; done
  wait_ready "clients to bootstrap" "$NRELAYS" $((n - 1)) "$deadline"
  local total auth_kind=cookie
  total=$(since "$t0")
  [[ -n $PASSWORD ]] && auth_kind=password

  {
    printf '{\n  "version": 1,\n  "dir": %s,\n  "host": %s,\n  "basePort": %s,\n' \
      "$(json_str "$DIR")" "$(json_str "$IP")" "$BASE"
    printf '  "auth": %s,\n  "bootstrapSeconds": %s,\n' "$(json_str "$auth_kind")" "$total"
    printf '  "relays": %s,\n  "clients": [\n' "$NRELAYS"
    local first=1
    for ((k = NRELAYS; k < n; k++)); do
      ((first)) || printf ',\n'
      first=0
      local d=$DIR/${NAMES[$k]}
      printf '    { "name": %s, "socksPort": %s, "controlPort": %s, "cookieFile": %s, "dataDir": %s, "log": %s, "pid": %s }' \
        "$(json_str "${NAMES[$k]}")" "$(socks_port "$k")" "$(ctl_port "$k")" \
        "$( [[ -n $PASSWORD ]] && echo null || json_str "$d/control_auth_cookie")" \
        "$(json_str "$d")" "$(json_str "$d/notice.log")" "${PIDS[$k]}"
    done
    printf '\n  ]\n}\n'
  } >"$DIR/network.json.tmp"
  mv "$DIR/network.json.tmp" "$DIR/network.json"
  trap - INT TERM
  log "ready in ${total} s (keys ${t_keys} s, relays agreed at ${t_auth} s; $NRELAYS relays, $CLIENTS clients, base port $BASE)"
  log "wrote $DIR/network.json"
}

cmd_stop() {
  [[ -d $DIR ]] || die "no such directory: $DIR"
  DIR=$(cd "$DIR" && pwd -P)
  stop_network
}

case ${1:-} in
  start)
    [[ $# -eq 3 ]] || usage
    DIR=$2 BASE=$3
    cmd_start
    ;;
  stop)
    [[ $# -eq 2 ]] || usage
    DIR=$2
    cmd_stop
    ;;
  *) usage ;;
esac
